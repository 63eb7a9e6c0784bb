/* A protobuf-c message to canonical JSON text (json.h).
 *
 * Written directly into one growing buffer rather than through a jansson
 * tree: jansson prints every double with 17 digits and a ".0", where
 * protobuf prints the shortest text that reads back (0.1, 100, 1e+30).
 * Which fields count as set follows protobuf-c 1.4's encoder exactly, so
 * that a message and its JSON read back encode to the same bytes.
 */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "json_int.h"

typedef struct {
    char *buf;
    size_t len, cap;
    bool pretty;
    unsigned depth;
    am_jpath_t path;
} writer_t;

static int write_message(writer_t *w, const ProtobufCMessage *m);

__attribute__((format(printf, 3, 4)))
static int fail(writer_t *w, int code, const char *fmt, ...)
{
    char msg[AM_JSON_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return am_errf(code, "%s: %s", w->path.s, msg);
}

/* Room for more bytes and the final NUL. */
static int reserve(writer_t *w, size_t more)
{
    size_t need, cap = w->cap != 0 ? w->cap : 256;
    char *p;

    if (more > SIZE_MAX / 2 - w->len)
        return fail(w, AM_ENOMEM, "output over %zu bytes", SIZE_MAX / 2);
    need = w->len + more + 1;
    if (need <= w->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if ((p = am_realloc(w->buf, cap)) == NULL)
        return fail(w, AM_ENOMEM, "out of memory");
    w->buf = p;
    w->cap = cap;
    return 0;
}

static int put(writer_t *w, const char *s, size_t n)
{
    int rc = reserve(w, n);

    if (rc == 0 && n > 0) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
    }
    return rc;
}

static int put_str(writer_t *w, const char *s)
{
    return put(w, s, strlen(s));
}

/* Before a member or element: a new line at the current depth. */
static int newline(writer_t *w)
{
    size_t n = 1 + 2 * (size_t)w->depth;
    int rc;

    if (!w->pretty)
        return 0;
    if ((rc = reserve(w, n)) != 0)
        return rc;
    w->buf[w->len] = '\n';
    memset(w->buf + w->len + 1, ' ', n - 1);
    w->len += n;
    return 0;
}

static int write_string(writer_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    int rc;

    if (!am_json_utf8_ok(s, n))
        return fail(w, AM_EINVAL, "string is not valid UTF-8");
    if ((rc = put(w, "\"", 1)) != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t esc_len = 6;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (c != 0 && strchr("\"\\\n\t\r\b\f", c) != NULL) {
            esc[1] = (char)(c == '\n'   ? 'n'
                            : c == '\t' ? 't'
                            : c == '\r' ? 'r'
                            : c == '\b' ? 'b'
                            : c == '\f' ? 'f'
                                        : c);
            esc_len = 2;
        }
        if ((rc = put(w, s + start, i - start)) == 0)
            rc = put(w, esc, esc_len);
        start = i + 1;
    }
    if (rc == 0)
        rc = put(w, s + start, n - start);
    return rc != 0 ? rc : put(w, "\"", 1);
}

static int write_bytes(writer_t *w, const ProtobufCBinaryData *b)
{
    size_t n;
    int rc;

    if (b->len == 0)
        return put(w, "\"\"", 2);
    if (b->len > SIZE_MAX / 2)
        return fail(w, AM_ENOMEM, "bytes too long to print");
    n = sodium_base64_ENCODED_LEN(b->len, sodium_base64_VARIANT_ORIGINAL);
    if ((rc = reserve(w, n + 2)) != 0)
        return rc;
    w->buf[w->len++] = '"';
    sodium_bin2base64(w->buf + w->len, n, b->data, b->len,
                      sodium_base64_VARIANT_ORIGINAL);
    w->len += n - 1; /* n counted the NUL */
    w->buf[w->len++] = '"';
    return 0;
}

/* In a locale whose decimal point is ',' printf writes "1,5". */
static void delocalize(char *s)
{
    for (; *s != '\0'; s++)
        if (*s == ',')
            *s = '.';
}

/* protobuf's SimpleDtoa/SimpleFtoa: the shorter of 15 (6) and 17 (9)
 * significant digits that reads back to the same value.  A negative zero
 * is "-0.0": jansson reads "-0" as the integer 0. */
static void format_real(double d, bool single, char *buf, size_t cap)
{
    if (isnan(d))
        snprintf(buf, cap, "\"NaN\"");
    else if (isinf(d))
        snprintf(buf, cap, "%s", d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else if (d == 0 && signbit(d))
        snprintf(buf, cap, "-0.0");
    else if (single) {
        snprintf(buf, cap, "%.6g", d);
        if (strtof(buf, NULL) != (float)d)
            snprintf(buf, cap, "%.9g", d);
    } else {
        snprintf(buf, cap, "%.15g", d);
        if (strtod(buf, NULL) != d)
            snprintf(buf, cap, "%.17g", d);
    }
    delocalize(buf);
}

static int write_number(writer_t *w, const ProtobufCFieldDescriptor *f,
                        const void *p)
{
    char buf[64];

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof buf, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof buf, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "\"%" PRId64 "\"", *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        format_real(*(const float *)p, true, buf, sizeof buf);
        break;
    default:
        format_real(*(const double *)p, false, buf, sizeof buf);
        break;
    }
    return put_str(w, buf);
}

static int write_enum(writer_t *w, const ProtobufCFieldDescriptor *f,
                      int value)
{
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(f->descriptor, value);
    char buf[16];

    /* proto3 enums are open: a value without a name prints as a number */
    if (ev == NULL) {
        snprintf(buf, sizeof buf, "%d", value);
        return put_str(w, buf);
    }
    return write_string(w, ev->name, strlen(ev->name));
}

static int write_timestamp(writer_t *w, const ProtobufCMessage *m)
{
    const Google__Protobuf__Timestamp *ts = (const void *)m;
    char text[AM_JSON_TS_TEXT_MAX];

    if (am_json_ts_format(ts->seconds, ts->nanos, text) != 0)
        return fail(w, AM_EINVAL, "timestamp %lld s %d ns: outside years "
                    "0001 to 9999 or nanos outside 0 to 999999999",
                    (long long)ts->seconds, (int)ts->nanos);
    return write_string(w, text, strlen(text));
}

/* One value of field f (a singular field or one element) found at p. */
static int write_value(writer_t *w, const ProtobufCFieldDescriptor *f,
                       const void *p)
{
    const char *s;
    const ProtobufCMessage *sub;

    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return put_str(w, *(const protobuf_c_boolean *)p ? "true" : "false");
    case PROTOBUF_C_TYPE_ENUM:
        return write_enum(w, f, *(const int *)p);
    case PROTOBUF_C_TYPE_STRING:
        s = *(char *const *)p;
        return write_string(w, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
    case PROTOBUF_C_TYPE_BYTES:
        return write_bytes(w, p);
    case PROTOBUF_C_TYPE_MESSAGE:
        if ((sub = *(ProtobufCMessage *const *)p) == NULL)
            return fail(w, AM_EINVAL, "NULL message in a repeated field");
        return write_message(w, sub);
    default:
        return write_number(w, f, p);
    }
}

static int write_array(writer_t *w, const ProtobufCFieldDescriptor *f,
                       const char *arr, size_t n)
{
    size_t size = am_json_elem_size(f->type);
    int rc;

    if (w->depth >= AM_JSON_MAX_DEPTH)
        return fail(w, AM_ETOOBIG, "nested deeper than %d levels",
                    AM_JSON_MAX_DEPTH);
    if ((rc = put(w, "[", 1)) != 0)
        return rc;
    w->depth++;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t saved = am_jpath_index(&w->path, i);

        if ((rc = put(w, ",", i > 0)) == 0 && (rc = newline(w)) == 0)
            rc = write_value(w, f, arr + i * size);
        am_jpath_pop(&w->path, saved);
    }
    w->depth--;
    if (rc == 0)
        rc = newline(w);
    return rc != 0 ? rc : put(w, "]", 1);
}

/* The count of a repeated field, the selected member of a oneof. */
static const void *quantifier(const ProtobufCMessage *m,
                              const ProtobufCFieldDescriptor *f)
{
    return (const char *)m + f->quantifier_offset;
}

/* Whether f is set in m, as protobuf-c 1.4 decides what to encode: a
 * proto3 scalar when not zero (so -0.0 is not), a oneof member when
 * selected (and, for a string or message, not NULL or the default). */
static bool present(const ProtobufCMessage *m,
                    const ProtobufCFieldDescriptor *f)
{
    const void *p = (const char *)m + f->offset;
    const void *ptr = NULL;

    if (f->type == PROTOBUF_C_TYPE_STRING ||
        f->type == PROTOBUF_C_TYPE_MESSAGE)
        ptr = *(const void *const *)p;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *)quantifier(m, f) > 0;
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0)
        return *(const uint32_t *)quantifier(m, f) == f->id &&
               ((f->type != PROTOBUF_C_TYPE_STRING &&
                 f->type != PROTOBUF_C_TYPE_MESSAGE) ||
                (ptr != NULL && ptr != f->default_value));
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0;
    case PROTOBUF_C_TYPE_STRING:
        return ptr != NULL && *(const char *)ptr != '\0';
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return ptr != NULL;
    default:
        return am_json_elem_size(f->type) == sizeof(uint64_t)
                   ? *(const uint64_t *)p != 0
                   : *(const uint32_t *)p != 0;
    }
}

/* "name": value, after a ',' unless first. */
static int write_member(writer_t *w, const ProtobufCMessage *m,
                        const ProtobufCFieldDescriptor *f, bool first)
{
    const char *p = (const char *)m + f->offset;
    size_t n = am_json_name_len(f->name), saved;
    int rc;

    if ((rc = put(w, ",", !first)) != 0 || (rc = newline(w)) != 0 ||
        (rc = reserve(w, n + 4)) != 0)
        return rc;
    w->buf[w->len++] = '"';
    am_json_name_write(f->name, w->buf + w->len);
    saved = am_jpath_key(&w->path, w->buf + w->len, n);
    w->len += n;
    memcpy(w->buf + w->len, w->pretty ? "\": " : "\":", w->pretty ? 3 : 2);
    w->len += w->pretty ? 3 : 2;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        rc = write_array(w, f, *(const char *const *)(const void *)p,
                         *(const size_t *)quantifier(m, f));
    else
        rc = write_value(w, f, p);
    am_jpath_pop(&w->path, saved);
    return rc;
}

static int write_message(writer_t *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    bool first = true;
    int rc;

    if (am_json_is_timestamp(d))
        return write_timestamp(w, m);
    if (w->depth >= AM_JSON_MAX_DEPTH)
        return fail(w, AM_ETOOBIG, "nested deeper than %d levels",
                    AM_JSON_MAX_DEPTH);
    if ((rc = put(w, "{", 1)) != 0)
        return rc;
    w->depth++;
    for (unsigned i = 0; i < d->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];

        if (f->label == PROTOBUF_C_LABEL_REQUIRED ||
            f->label == PROTOBUF_C_LABEL_OPTIONAL)
            rc = fail(w, AM_EUNSUPPORTED, "field %s is proto2 (required or "
                      "optional): not supported", f->name);
        else if (present(m, f)) {
            rc = write_member(w, m, f, first);
            first = false;
        }
    }
    w->depth--;
    if (rc == 0 && !first)
        rc = newline(w);
    return rc != 0 ? rc : put(w, "}", 1);
}

int am_json_print(const ProtobufCMessage *m, bool pretty, char **out,
                  size_t *len)
{
    writer_t w = {.pretty = pretty};
    int rc;

    am_jpath_init(&w.path);
    if (m == NULL || m->descriptor == NULL || out == NULL || len == NULL)
        return am_errf(AM_EINVAL, "am_json_print: NULL argument");
    if ((rc = write_message(&w, m)) == 0)
        rc = reserve(&w, 0);
    if (rc != 0) {
        am_free(w.buf);
        return rc;
    }
    w.buf[w.len] = '\0';
    *out = w.buf;
    *len = w.len;
    return 0;
}
