/* ISO 4217 currency codes ("EUR", "PKR", "PHP"), for payments in case
 * messages.  A table, not a pattern: "EUX" is refused. */
#ifndef AM_CURRENCY_H
#define AM_CURRENCY_H

#include <stdbool.h>
#include <stddef.h>

/* True when code is exactly three upper-case letters of an assigned code
 * that names money (not XTS or XXX). */
bool am_currency_valid(const char *code);

/* The table, sorted, for tests and listings. */
size_t am_currency_count(void);
const char *am_currency_at(size_t i);

#endif
