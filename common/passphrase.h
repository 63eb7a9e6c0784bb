/* Where a passphrase comes from: the terminal without echo (the default),
 * or, for automation, a file descriptor or an environment variable named
 * on the command line.  Never from a command-line argument: those are
 * visible to every user in the process list. */
#ifndef AM_PASSPHRASE_H
#define AM_PASSPHRASE_H

#include <stddef.h>

#define AM_PASS_MAX 1024

typedef struct {
    int fd;          /* >= 0: read one line from this descriptor */
    const char *env; /* non-NULL: the value of this variable */
    int none;        /* non-zero: no passphrase (keys stored unsealed) */
} am_pass_source_t;

#define AM_PASS_SOURCE_TTY ((am_pass_source_t){-1, NULL, 0})

/* Get a passphrase into buf (sodium_malloc'd, caller frees with
 * sodium_free).  confirm: ask twice on a terminal (for new keys).
 * AM_EKEY with a sentence when none can be had. */
int am_pass_get(const am_pass_source_t *src, const char *prompt, int confirm,
                char **buf, size_t *len);

#endif
