/* ISO 639-1 two-letter language codes ("en", "de", "ur", "tl"), for the
 * languages a contact speaks and an answer may be in.  A table, not a
 * pattern: "xx" is refused. */
#ifndef AM_LANGUAGE_H
#define AM_LANGUAGE_H

#include <stdbool.h>
#include <stddef.h>

/* True when code is exactly two lower-case letters of an assigned code. */
bool am_language_valid(const char *code);

/* The table, sorted, for tests and listings. */
size_t am_language_count(void);
const char *am_language_at(size_t i);

#endif
