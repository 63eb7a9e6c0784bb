#include "timefmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil algorithm). */
int64_t am_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void am_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

unsigned am_month_days(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int am_time_parse(const char *text, int64_t *out)
{
    unsigned y, mo, d, h = 0, mi = 0, s = 0;
    long long secs;
    int n = 0;
    size_t len;

    if (text == NULL || out == NULL)
        return AM_EINVAL;
    len = strlen(text);
    if (text[0] == '@' && sscanf(text + 1, "%lld%n", &secs, &n) == 1 &&
        (size_t)n == len - 1) {
        *out = secs;
        return 0;
    }
    if (!((len == 10 && sscanf(text, "%4u-%2u-%2u%n", &y, &mo, &d, &n) == 3) ||
          (len == 17 && sscanf(text, "%4u-%2u-%2uT%2u:%2uZ%n", &y, &mo, &d, &h,
                               &mi, &n) == 5) ||
          (len == 20 && sscanf(text, "%4u-%2u-%2uT%2u:%2u:%2uZ%n", &y, &mo, &d,
                               &h, &mi, &s, &n) == 6)) ||
        (size_t)n != len)
        return am_errf(AM_EINVAL, "time \"%.40s\": use 2026-12-01, "
                       "2026-12-01T12:00Z or 2026-12-01T12:00:00Z (UTC)", text);
    if (mo < 1 || mo > 12 || d < 1 || d > am_month_days(y, mo) || h > 23 ||
        mi > 59 || s > 59)
        return am_errf(AM_EINVAL, "time \"%.40s\": no such date or time",
                       text);
    *out = am_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return 0;
}

int am_time_format(int64_t t, char buf[static AM_TIME_TEXT_MAX])
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t rem = t - days * 86400, y;
    unsigned m, d;

    am_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return am_errf(AM_EINVAL, "time %lld out of range", (long long)t);
    snprintf(buf, AM_TIME_TEXT_MAX, "%04lld-%02u-%02uT%02u:%02u:%02uZ",
             (long long)y, m, d, (unsigned)(rem / 3600),
             (unsigned)(rem % 3600 / 60), (unsigned)(rem % 60));
    return 0;
}
