/* Country codes and agency ids.
 *
 * An agency id is "CC-NAME": an ISO 3166-1 alpha-2 code that exists (a
 * table, not a pattern: "XX-POLICE" is refused), a dash, then 2 to 16 of
 * A-Z and 0-9.  Example: "PK-NCCIA", "DE-BKA".
 */
#ifndef AM_COUNTRY_H
#define AM_COUNTRY_H

#include <stdbool.h>
#include <stddef.h>

#define AM_AGENCY_ID_MAX 19 /* "CC-" + 16 */

/* True when cc is exactly two upper-case letters of an assigned code. */
bool am_country_valid(const char *cc);
bool am_agency_id_valid(const char *id);

/* The table, for tests and listings. */
size_t am_country_count(void);
const char *am_country_at(size_t i);

#endif
