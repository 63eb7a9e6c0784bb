/* UTC times as RFC 3339 text ("2026-12-01T12:00:00Z") and Unix seconds. */
#ifndef AM_TIMEFMT_H
#define AM_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define AM_TIME_TEXT_MAX 32

/* Parse "YYYY-MM-DD", "YYYY-MM-DDTHH:MMZ" or "YYYY-MM-DDTHH:MM:SSZ" (UTC
 * only: a time without its zone is ambiguous across borders, so it is
 * refused), or "@SECONDS".  AM_EINVAL with a sentence otherwise. */
int am_time_parse(const char *text, int64_t *out);

/* The proleptic Gregorian calendar (H. Hinnant's algorithms), shared by
 * this file and the JSON mapping's Timestamp: days since 1970-01-01 of a
 * date and back, and the length of a month. */
int64_t am_days_from_civil(int64_t y, unsigned m, unsigned d);
void am_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
unsigned am_month_days(int64_t y, unsigned m);

/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into buf (AM_TIME_TEXT_MAX). */
int am_time_format(int64_t t, char buf[static AM_TIME_TEXT_MAX]);

#endif
