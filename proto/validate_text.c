/* Text predicates for proto/validate.c: the shapes of phone numbers,
 * e-mail addresses, amounts, hashes, time zone names and dates.  Pure and
 * locale-free: <ctype.h> would let a locale widen "digit" or "space". */
#include "validate_internal.h"

#include <string.h>

#include "timefmt.h"

static bool digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool alpha(unsigned char c)
{
    return upper(c) || (c >= 'a' && c <= 'z');
}

bool am_v_blank(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s != '\0'; s++)
        if (strchr(" \t\r\n\v\f", *s) == NULL)
            return false;
    return true;
}

/* ITU-T E.164: a country code that never starts with 0, at most 15
 * digits in all; 7 is the shortest complete international number. */
bool am_v_e164(const char *s)
{
    size_t n = 0;

    if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    for (s++; digit((unsigned char)*s); s++)
        n++;
    return *s == '\0' && n >= 7 && n <= 15;
}

/* Plausible, not RFC 5322: one '@', a local part of at most 64 bytes, a
 * domain with a dot and no empty label; no space, control character or
 * the specials that only quoted local parts may hold.  Bytes >= 0x80 pass
 * (internationalised addresses). */
bool am_v_email(const char *s)
{
    const char *at, *dom, *dot;
    size_t len;

    if (s == NULL || (at = strchr(s, '@')) == NULL || at == s ||
        strchr(at + 1, '@') != NULL)
        return false;
    len = strlen(s);
    if (len > 254 || (size_t)(at - s) > 64)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f || strchr("<>()[],;:\\\"", c) != NULL)
            return false;
    }
    dom = at + 1;
    dot = strrchr(dom, '.');
    return dot != NULL && dom[0] != '.' && dom[0] != '-' &&
           strstr(dom, "..") == NULL && strlen(dot + 1) >= 2;
}

bool am_v_hex(const char *s, size_t n, bool lower_only)
{
    size_t i;

    if (s == NULL)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(digit(c) || (c >= 'a' && c <= 'f') ||
              (!lower_only && c >= 'A' && c <= 'F')))
            return false;
    }
    return s[n] == '\0';
}

/* Standard base64 (RFC 4648 section 4, not the URL alphabet) of exactly
 * bytes bytes, padded. */
bool am_v_base64(const char *s, size_t bytes)
{
    size_t len = 4 * ((bytes + 2) / 3), pad = (3 - bytes % 3) % 3, i;

    if (s == NULL || strnlen(s, len + 1) != len)
        return false;
    for (i = 0; i < len - pad; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(alpha(c) || digit(c) || c == '+' || c == '/'))
            return false;
    }
    for (; i < len; i++)
        if (s[i] != '=')
            return false;
    return true;
}

/* The tz database's areas (its fixed top-level names) and "UTC": enough
 * to refuse "PKT", "GMT+5" or "+05:00" without carrying the database. */
bool am_v_time_zone(const char *s)
{
    static const char *const areas[] = {
        "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic",
        "Australia", "Etc", "Europe", "Indian", "Pacific",
    };
    const char *slash, *p;
    bool area = false;

    if (s == NULL || strnlen(s, 65) > 64)
        return false;
    if (strcmp(s, "UTC") == 0)
        return true;
    if ((slash = strchr(s, '/')) == NULL)
        return false;
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        if (strlen(areas[i]) == (size_t)(slash - s) &&
            memcmp(areas[i], s, (size_t)(slash - s)) == 0)
            area = true;
    if (!area)
        return false;
    for (p = slash; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/') {
            if (!upper((unsigned char)p[1]))
                return false; /* each part starts with a capital */
        } else if (!(alpha(c) || digit(c) || c == '_' || c == '-' ||
                     c == '+')) {
            return false;
        }
    }
    return true;
}

/* 14 digits (no check digit), 15 (with the Luhn check digit of GSMA
 * TS.06) or 16 (IMEISV, whose last two digits are a software version). */
bool am_v_imei(const char *s)
{
    size_t n = 0, sum = 0;

    if (s == NULL)
        return false;
    while (digit((unsigned char)s[n]))
        n++;
    if (s[n] != '\0' || (n != 14 && n != 15 && n != 16))
        return false;
    if (n != 15)
        return true;
    for (size_t i = 0; i < 15; i++) {
        unsigned d = (unsigned)(s[14 - i] - '0');
        if (i % 2 == 1)
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return sum % 10 == 0;
}

/* 15 integer digits is a quadrillion: more than any payment that exists,
 * so longer is a typing accident.  8 decimals cover satoshi-sized units. */
int am_v_amount(const char *s)
{
    size_t i = 0, ints, frac = 0;

    if (s == NULL)
        return 1;
    while (digit((unsigned char)s[i]))
        i++;
    if ((ints = i) == 0)
        return 1;
    if (s[i] == '.') {
        for (i++; digit((unsigned char)s[i]); i++)
            frac++;
        if (frac == 0 || frac > 8)
            return 1;
    }
    if (s[i] != '\0')
        return 1;
    return ints > 15 ? 2 : 0;
}

int am_v_date(const char *s, int64_t *t)
{
    if (s == NULL || strnlen(s, 11) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !digit((unsigned char)s[i]))
            return -1;
    return am_time_parse(s, t) == 0 ? 0 : -1;
}

am_shown_t am_v_show(const char *s)
{
    am_shown_t r;
    size_t n = s == NULL ? 0 : strnlen(s, 41), o = 0;
    bool cut = n > 40;

    if (cut) {
        n = 40;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* never split a UTF-8 sequence */
    }
    r.s[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        r.s[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (cut) {
        memcpy(r.s + o, "...", 3);
        o += 3;
    }
    r.s[o++] = '"';
    r.s[o] = '\0';
    return r;
}

/* A crypto-asset ticker: 2 to 10 capitals or digits ("BTC", "USDT"). */
bool am_v_ticker(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
            return false;
    return n >= 2 && n <= 10;
}
