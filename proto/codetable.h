/* Sorted tables of fixed-length codes (ISO 3166, 4217, 639-1): one
 * lookup for all of them. */
#ifndef AM_CODETABLE_H
#define AM_CODETABLE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether code is exactly len characters long and one of the n entries
 * of table, each stride bytes apart (a char[][stride] sorted by memcmp). */
bool am_code_listed(const char *table, size_t n, size_t stride,
                    const char *code, size_t len);

#endif
