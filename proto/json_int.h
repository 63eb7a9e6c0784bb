/* Internals of the JSON mapping (json.h), shared by the reader
 * (json_read.c, json_number.c) and the printer (json_write.c): JSON paths
 * for error sentences, field names, UTF-8, and google.protobuf.Timestamp
 * as RFC 3339 text (json_util.c). */
#ifndef AM_JSON_INT_H
#define AM_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "json.h"

/* A JSON path being walked: "$" then ".key" and "[i]" pushed and popped. */
typedef struct {
    char s[AM_JSON_PATH_MAX];
    size_t len;
} am_jpath_t;

void am_jpath_init(am_jpath_t *p);
/* Append ".key" (bytes outside printable ASCII shown as '?') or "[i]";
 * return the length to give am_jpath_pop afterwards.  A path that does not
 * fit ends with "..." and further pushes are dropped. */
size_t am_jpath_key(am_jpath_t *p, const char *key, size_t n);
size_t am_jpath_index(am_jpath_t *p, size_t i);
void am_jpath_pop(am_jpath_t *p, size_t len);

/* The lowerCamelCase JSON name of a .proto field name, as protoc derives
 * json_name: each '_' dropped and the letter after it upper-cased. */
bool am_json_name_is(const char *proto_name, const char *key, size_t n);
/* Its length, and the name written to out (which holds that many bytes). */
size_t am_json_name_len(const char *proto_name);
void am_json_name_write(const char *proto_name, char *out);

/* True when s[0..n) is well-formed UTF-8 (no overlong forms, surrogates
 * or code points above U+10FFFF). */
bool am_json_utf8_ok(const char *s, size_t n);

/* google.protobuf.Timestamp: seconds from 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59Z, nanos 0..999999999. */
#define AM_JSON_TS_MIN INT64_C(-62135596800)
#define AM_JSON_TS_MAX INT64_C(253402300799)
#define AM_JSON_TS_TEXT_MAX 40

bool am_json_is_timestamp(const ProtobufCMessageDescriptor *d);
/* Parse RFC 3339 "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" into UTC
 * seconds and nanos; on failure *why says what is wrong, and -1. */
int am_json_ts_parse(const char *s, size_t n, int64_t *secs, int32_t *nanos,
                     const char **why);
/* Format as "YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z"; -1 when out
 * of the range above. */
int am_json_ts_format(int64_t secs, int32_t nanos,
                      char out[static AM_JSON_TS_TEXT_MAX]);

/* Size of one element of a repeated field of type t in protobuf-c's C
 * layout. */
size_t am_json_elem_size(ProtobufCType t);

/* ---- the reader's state and helpers (json_read.c) ---- */

typedef struct {
    am_jpath_t path;
    am_json_error_t *err; /* may be NULL */
    unsigned depth;
} am_jreader_t;

/* Fill r->err with the path and the sentence, am_errf "path: sentence",
 * and return code. */
int am_jr_fail(am_jreader_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int am_jr_no_memory(am_jreader_t *r);
/* "a string", "an object"...: what v is, for sentences. */
const char *am_jr_kind(const json_t *v);
/* "int32", "fixed64"...: f's .proto type. */
const char *am_jr_type_name(const ProtobufCFieldDescriptor *f);
/* The bytes of JSON string v (the caller checked its type); refuses NUL
 * and malformed UTF-8. */
int am_jr_string(am_jreader_t *r, const json_t *v, const char **s, size_t *n);

/* An integer field's value from v, range-checked and stored at dst in
 * protobuf-c's layout; a float or double field's (json_number.c). */
int am_jr_integer(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                  const json_t *v, void *dst);
int am_jr_real(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
               const json_t *v, void *dst);

#endif
