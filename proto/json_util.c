/* Helpers of the JSON mapping (json_int.h): paths for error sentences,
 * lowerCamelCase names, UTF-8 validation, and RFC 3339 timestamps, which
 * the reader and the printer both need. */
#include "json_int.h"

#include <stdio.h>
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "timefmt.h"

/* ---- paths ---- */

/* Room kept at the end of the buffer for "..." and the NUL. */
#define PATH_ROOM (AM_JSON_PATH_MAX - 4)

void am_jpath_init(am_jpath_t *p)
{
    p->s[0] = '$';
    p->s[1] = '\0';
    p->len = 1;
}

static void path_put(am_jpath_t *p, const char *text, size_t n)
{
    for (size_t i = 0; i < n && p->len <= PATH_ROOM; i++) {
        unsigned char c = (unsigned char)text[i];

        if (p->len == PATH_ROOM) {
            memcpy(p->s + p->len, "...", 3);
            p->len += 3;
            break;
        }
        p->s[p->len++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    p->s[p->len] = '\0';
}

size_t am_jpath_key(am_jpath_t *p, const char *key, size_t n)
{
    size_t old = p->len;

    path_put(p, ".", 1);
    path_put(p, key, n);
    return old;
}

size_t am_jpath_index(am_jpath_t *p, size_t i)
{
    char buf[32];
    size_t old = p->len;
    int n = snprintf(buf, sizeof buf, "[%zu]", i);

    if (n > 0)
        path_put(p, buf, (size_t)n);
    return old;
}

void am_jpath_pop(am_jpath_t *p, size_t len)
{
    p->len = len;
    p->s[len] = '\0';
}

/* ---- names ---- */

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

bool am_json_name_is(const char *proto_name, const char *key, size_t n)
{
    bool cap = false;
    size_t i = 0;

    for (const char *c = proto_name; *c != '\0'; c++) {
        if (*c == '_') {
            cap = true;
            continue;
        }
        if (i == n || key[i] != (cap ? upper(*c) : *c))
            return false;
        cap = false;
        i++;
    }
    return i == n;
}

size_t am_json_name_len(const char *proto_name)
{
    size_t n = 0;

    for (const char *c = proto_name; *c != '\0'; c++)
        n += *c != '_';
    return n;
}

void am_json_name_write(const char *proto_name, char *out)
{
    bool cap = false;

    for (const char *c = proto_name; *c != '\0'; c++) {
        if (*c == '_') {
            cap = true;
            continue;
        }
        *out++ = cap ? upper(*c) : *c;
        cap = false;
    }
}

/* ---- UTF-8 (RFC 3629, section 4) ---- */

/* Length of the sequence starting at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

bool am_json_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    while (n > 0) {
        size_t k = utf8_seq(p, n);

        if (k == 0)
            return false;
        p += k;
        n -= k;
    }
    return true;
}

/* ---- timestamps ---- */

bool am_json_is_timestamp(const ProtobufCMessageDescriptor *d)
{
    /* by name too: another compilation of timestamp.proto has the same
     * C layout */
    return d == &google__protobuf__timestamp__descriptor ||
           (strcmp(d->name, "google.protobuf.Timestamp") == 0 &&
            d->sizeof_message == sizeof(Google__Protobuf__Timestamp));
}

/* n decimal digits at s; false if any is not a digit. */
static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS" at s (19 bytes, already length-checked). */
static int ts_fields(const char *s, unsigned f[6], const char **why)
{
    static const size_t at[6] = {0, 5, 8, 11, 14, 17};
    static const size_t width[6] = {4, 2, 2, 2, 2, 2};

    if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') {
        *why = "not YYYY-MM-DDTHH:MM:SS";
        return -1;
    }
    if (s[10] != 'T') {
        *why = "no 'T' between date and time";
        return -1;
    }
    for (int i = 0; i < 6; i++)
        if (!digits(s + at[i], width[i], &f[i])) {
            *why = "not YYYY-MM-DDTHH:MM:SS";
            return -1;
        }
    if (f[0] < 1 || f[1] < 1 || f[1] > 12 || f[2] < 1 ||
        f[2] > am_month_days(f[0], f[1]) || f[3] > 23 || f[4] > 59 ||
        f[5] > 59) {
        *why = "no such date or time (years 0001 to 9999)";
        return -1;
    }
    return 0;
}

/* The fraction and zone after the seconds: ".123" then "Z" or "+01:00". */
static int ts_tail(const char *s, size_t n, int32_t *nanos, int64_t *offset,
                   const char **why)
{
    size_t i = 0;
    unsigned v = 0, oh, om;

    *nanos = 0;
    if (i < n && s[i] == '.') {
        unsigned scale = 1000000000;

        for (i = 1; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (i > 9) {
                *why = "more than 9 fractional digits";
                return -1;
            }
            v = v * 10 + (unsigned)(s[i] - '0');
            scale /= 10;
        }
        if (i == 1) {
            *why = "no digit after '.'";
            return -1;
        }
        *nanos = (int32_t)(v * scale);
    }
    if (n - i == 1 && s[i] == 'Z') {
        *offset = 0;
        return 0;
    }
    if (n - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':' ||
        !digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) ||
        oh > 23 || om > 59) {
        *why = "no zone: end with Z or +HH:MM";
        return -1;
    }
    *offset = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
    return 0;
}

int am_json_ts_parse(const char *s, size_t n, int64_t *secs, int32_t *nanos,
                     const char **why)
{
    unsigned f[6];
    int64_t t, offset;
    int32_t ns;

    if (n < 19) {
        *why = "too short for YYYY-MM-DDTHH:MM:SSZ";
        return -1;
    }
    if (ts_fields(s, f, why) != 0 ||
        ts_tail(s + 19, n - 19, &ns, &offset, why) != 0)
        return -1;
    t = am_days_from_civil(f[0], f[1], f[2]) * 86400 + f[3] * 3600 +
        f[4] * 60 + f[5] - offset;
    if (t < AM_JSON_TS_MIN || t > AM_JSON_TS_MAX) {
        *why = "outside years 0001 to 9999 in UTC";
        return -1;
    }
    *secs = t;
    *nanos = ns;
    return 0;
}

int am_json_ts_format(int64_t secs, int32_t nanos,
                      char out[static AM_JSON_TS_TEXT_MAX])
{
    int64_t days, rem, y;
    unsigned m, d;
    char frac[12] = "";

    if (secs < AM_JSON_TS_MIN || secs > AM_JSON_TS_MAX || nanos < 0 ||
        nanos > 999999999)
        return -1;
    days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    rem = secs - days * 86400;
    am_civil_from_days(days, &y, &m, &d);
    /* 0, 3, 6 or 9 digits, as protobuf prints them */
    if (nanos % 1000000 == 0 && nanos != 0)
        snprintf(frac, sizeof frac, ".%03d", (int)(nanos / 1000000));
    else if (nanos % 1000 == 0 && nanos != 0)
        snprintf(frac, sizeof frac, ".%06d", (int)(nanos / 1000));
    else if (nanos != 0)
        snprintf(frac, sizeof frac, ".%09d", (int)nanos);
    /* the % keep the compiler's idea of the widths within the buffer */
    snprintf(out, AM_JSON_TS_TEXT_MAX, "%04d-%02u-%02uT%02d:%02d:%02d%sZ",
             (int)(y % 10000), m % 100, d % 100, (int)(rem / 3600 % 100),
             (int)(rem % 3600 / 60), (int)(rem % 60), frac);
    return 0;
}

/* ---- protobuf-c layout ---- */

size_t am_json_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(int32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(int64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}
