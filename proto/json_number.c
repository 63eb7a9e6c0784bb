/* JSON numbers for the reader (json_read.c): integers of every width from
 * JSON numbers or strings, exactly or not at all, and float and double
 * from numbers, strings and "NaN"/"Infinity"/"-Infinity". */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "err.h"
#include "json_int.h"

/* Integers above this lose precision in a double, which is what most JSON
 * readers turn numbers into: 64-bit values beyond it must be strings. */
#define EXACT_MAX (UINT64_C(1) << 53)

/* Doubles at or above this round to infinity as a float (half an ulp above
 * FLT_MAX, which rounds up because FLT_MAX's last bit is odd). */
#define FLOAT_LIMIT 0x1.ffffffp127

typedef struct {
    bool neg;
    uint64_t mag;
} integer_t;

/* True when s is a JSON number (RFC 8259, section 6); *plain when it has
 * neither fraction nor exponent. */
static bool number_text(const char *s, size_t n, bool *plain)
{
    size_t i = 0, start;

    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    *plain = i == n;
    if (i < n && s[i] == '.') {
        for (start = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == start)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (start = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == start)
            return false;
    }
    return i == n;
}

/* A number given as a string, read by jansson so that the C locale's
 * decimal point never matters; "e0" appended makes jansson read it as a
 * double even when it is all digits (its integers stop at 64 bits). */
static int string_double(am_jreader_t *r, const char *s, size_t n, double *out)
{
    bool exp = memchr(s, 'e', n) != NULL || memchr(s, 'E', n) != NULL;
    char *buf = am_malloc(n + 2);
    json_error_t e;
    json_t *v;

    if (buf == NULL)
        return am_jr_no_memory(r);
    memcpy(buf, s, n);
    if (!exp)
        memcpy(buf + n, "e0", 2);
    v = json_loadb(buf, exp ? n : n + 2, JSON_DECODE_ANY, &e);
    am_free(buf);
    if (v == NULL)
        return json_error_code(&e) == json_error_out_of_memory
                   ? am_jr_no_memory(r)
                   : am_jr_fail(r, AM_EPROTO, "\"%.40s\" is out of range", s);
    *out = json_number_value(v);
    json_decref(v);
    return 0;
}

/* No libm here (amanat_proto does not link it): within 2^53 a double is
 * an integer exactly when it survives the trip through int64_t. */
static int real_integer(am_jreader_t *r, double d, integer_t *out)
{
    double mag = d < 0 ? -d : d;

    if (mag <= (double)EXACT_MAX && (double)(int64_t)d != d)
        return am_jr_fail(r, AM_EPROTO, "%.17g is not an integer", d);
    if (!(mag <= (double)EXACT_MAX))
        return am_jr_fail(r, AM_EPROTO, "%.17g is beyond 2^53, where JSON "
                          "numbers lose precision: give the digits in a "
                          "string", d);
    out->neg = d < 0;
    out->mag = (uint64_t)mag;
    return 0;
}

/* Digits only ("-12"), read exactly up to 2^64 - 1. */
static int digits_integer(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                          const char *s, size_t n, integer_t *out)
{
    uint64_t v = 0;

    for (size_t i = s[0] == '-'; i < n; i++) {
        unsigned digit = (unsigned)(s[i] - '0');

        if (v > (UINT64_MAX - digit) / 10)
            return am_jr_fail(r, AM_EPROTO, "%.40s is out of range for %s", s,
                              am_jr_type_name(f));
        v = v * 10 + digit;
    }
    out->neg = s[0] == '-';
    out->mag = v;
    return 0;
}

static int read_integer(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                        const json_t *v, integer_t *out)
{
    const char *s;
    size_t n;
    bool plain;
    double d;
    int rc;

    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        out->neg = i < 0;
        out->mag = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
        if (out->mag > EXACT_MAX)
            return am_jr_fail(r, AM_EPROTO, "%lld is beyond 2^53, where "
                              "JSON numbers lose precision: give it as a "
                              "string", (long long)i);
        return 0;
    }
    if (json_is_real(v))
        return real_integer(r, json_real_value(v), out);
    if (!json_is_string(v))
        return am_jr_fail(r, AM_EPROTO,
                          "expected %s as a number or a string, got %s",
                          am_jr_type_name(f), am_jr_kind(v));
    if ((rc = am_jr_string(r, v, &s, &n)) != 0)
        return rc;
    if (!number_text(s, n, &plain))
        return am_jr_fail(r, AM_EPROTO, "\"%.40s\" is not a number", s);
    if (plain)
        return digits_integer(r, f, s, n, out);
    if ((rc = string_double(r, s, n, &d)) != 0)
        return rc;
    return real_integer(r, d, out);
}

/* Range-check x for f's type and store it at dst. */
static int store_integer(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                         integer_t x, void *dst)
{
    bool wide = am_json_elem_size(f->type) == sizeof(int64_t);
    bool is_signed = f->type == PROTOBUF_C_TYPE_INT32 ||
                     f->type == PROTOBUF_C_TYPE_SINT32 ||
                     f->type == PROTOBUF_C_TYPE_SFIXED32 ||
                     f->type == PROTOBUF_C_TYPE_INT64 ||
                     f->type == PROTOBUF_C_TYPE_SINT64 ||
                     f->type == PROTOBUF_C_TYPE_SFIXED64;
    uint64_t max = wide ? (is_signed ? INT64_MAX : UINT64_MAX)
                        : (is_signed ? INT32_MAX : UINT32_MAX);
    int64_t sv;

    if (x.mag == 0)
        x.neg = false;
    if ((x.neg && !is_signed) || x.mag > max + x.neg)
        return am_jr_fail(r, AM_EPROTO, "%s%llu is out of range for %s",
                          x.neg ? "-" : "", (unsigned long long)x.mag,
                          am_jr_type_name(f));
    /* -(mag - 1) - 1 reaches INT64_MIN without overflowing */
    sv = x.neg ? -(int64_t)(x.mag - 1) - 1 : (int64_t)(x.mag & INT64_MAX);
    if (wide && is_signed)
        *(int64_t *)dst = sv;
    else if (wide)
        *(uint64_t *)dst = x.mag;
    else if (is_signed)
        *(int32_t *)dst = (int32_t)sv;
    else
        *(uint32_t *)dst = (uint32_t)x.mag;
    return 0;
}

static int read_double(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                       const json_t *v, double *out)
{
    const char *s;
    size_t n;
    bool plain;
    int rc;

    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return am_jr_fail(r, AM_EPROTO,
                          "expected %s as a number or a string, got %s",
                          am_jr_type_name(f), am_jr_kind(v));
    if ((rc = am_jr_string(r, v, &s, &n)) != 0)
        return rc;
    if (n == 3 && memcmp(s, "NaN", 3) == 0)
        *out = NAN;
    else if (n == 8 && memcmp(s, "Infinity", 8) == 0)
        *out = INFINITY;
    else if (n == 9 && memcmp(s, "-Infinity", 9) == 0)
        *out = -INFINITY;
    else if (!number_text(s, n, &plain))
        return am_jr_fail(r, AM_EPROTO, "\"%.40s\" is not a number", s);
    else
        return string_double(r, s, n, out);
    return 0;
}

static int store_double(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                        double d, void *dst)
{
    if (f->type == PROTOBUF_C_TYPE_DOUBLE) {
        *(double *)dst = d;
        return 0;
    }
    if (isfinite(d) && (d >= FLOAT_LIMIT || d <= -FLOAT_LIMIT))
        return am_jr_fail(r, AM_EPROTO, "%.17g is out of range for float", d);
    *(float *)dst = (float)d;
    return 0;
}

int am_jr_integer(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                  const json_t *v, void *dst)
{
    integer_t x = {0};
    int rc = read_integer(r, f, v, &x);

    return rc != 0 ? rc : store_integer(r, f, x, dst);
}

int am_jr_real(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
               const json_t *v, void *dst)
{
    double d;
    int rc = read_double(r, f, v, &d);

    return rc != 0 ? rc : store_double(r, f, d, dst);
}
