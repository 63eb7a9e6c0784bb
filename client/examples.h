/* The files of docs/examples, built into the amanat binary for
 * `amanat example TYPE` (cmake/embed_files.cmake writes the table). */
#ifndef AM_EXAMPLES_H
#define AM_EXAMPLES_H

#include <stddef.h>

typedef struct {
    const char *name; /* "emergency", "victim-identification"... */
    const char *text; /* the JSON, NUL-terminated */
    size_t len;
} am_embedded_t;

/* Ends with an entry whose name is NULL. */
extern const am_embedded_t am_examples[];

#endif
