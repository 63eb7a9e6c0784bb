/* JSON text to a protobuf-c message (json.h).
 *
 * jansson parses the text (duplicate keys and bad UTF-8 refused there);
 * the walk below then builds the message field by field from the
 * descriptors, writing straight into the new message so that one
 * protobuf_c_message_free_unpacked() releases a half-built message on any
 * error.  Each value is stored only once it has been fully read, and a
 * repeated field's count grows with each element stored, so the message
 * is always freeable.
 */
#include "json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "json_int.h"

static int read_message(am_jreader_t *r, const ProtobufCMessageDescriptor *d,
                        json_t *v, ProtobufCMessage **out);

const char *am_jr_type_name(const ProtobufCFieldDescriptor *f)
{
    static const char *const names[] = {
        "int32",  "sint32",  "sfixed32", "int64",   "sint64", "sfixed64",
        "uint32", "fixed32", "uint64",   "fixed64", "float",  "double",
        "bool",   "enum",    "string",   "bytes",   "message"};

    return (unsigned)f->type < sizeof names / sizeof names[0] ? names[f->type]
                                                              : "?";
}

const char *am_jr_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

int am_jr_fail(am_jreader_t *r, int code, const char *fmt, ...)
{
    char msg[AM_JSON_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->err != NULL) {
        memcpy(r->err->path, r->path.s, r->path.len + 1);
        memcpy(r->err->message, msg, sizeof msg);
    }
    return am_errf(code, "%s: %s", r->path.s, msg);
}

int am_jr_no_memory(am_jreader_t *r)
{
    return am_jr_fail(r, AM_ENOMEM, "out of memory");
}

/* Entering an object or array. */
static int enter(am_jreader_t *r)
{
    if (r->depth >= AM_JSON_MAX_DEPTH)
        return am_jr_fail(r, AM_ETOOBIG, "nested deeper than %d levels",
                          AM_JSON_MAX_DEPTH);
    r->depth++;
    return 0;
}

/* jansson checks UTF-8 already; checking again keeps the promise if
 * jansson is ever built or called otherwise. */
int am_jr_string(am_jreader_t *r, const json_t *v, const char **s, size_t *n)
{
    *s = json_string_value(v);
    *n = json_string_length(v);
    if (memchr(*s, '\0', *n) != NULL)
        return am_jr_fail(r, AM_EPROTO, "string contains NUL (\\u0000)");
    if (!am_json_utf8_ok(*s, *n))
        return am_jr_fail(r, AM_EPROTO, "string is not valid UTF-8");
    return 0;
}

static int read_enum(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                     const json_t *v, int *out)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    const ProtobufCEnumValue *ev;
    const char *s;
    size_t n;
    int rc;

    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        /* proto3 enums are open: any int32 is a value */
        if (i < INT32_MIN || i > INT32_MAX)
            return am_jr_fail(r, AM_EPROTO, "%lld is out of range for an enum",
                              (long long)i);
        *out = (int)i;
        return 0;
    }
    if (!json_is_string(v))
        return am_jr_fail(r, AM_EPROTO, "expected a name of %s, got %s",
                          ed->name, am_jr_kind(v));
    if ((rc = am_jr_string(r, v, &s, &n)) != 0)
        return rc;
    if ((ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s)) == NULL)
        return am_jr_fail(r, AM_EPROTO, "\"%.40s\" is not a value of %s", s,
                          ed->name);
    *out = ev->value;
    return 0;
}

static int read_string(am_jreader_t *r, const json_t *v, char **out)
{
    const char *s;
    size_t n;
    char *copy;
    int rc;

    if (!json_is_string(v))
        return am_jr_fail(r, AM_EPROTO, "expected a string, got %s",
                          am_jr_kind(v));
    if ((rc = am_jr_string(r, v, &s, &n)) != 0)
        return rc;
    if ((copy = am_malloc(n + 1)) == NULL)
        return am_jr_no_memory(r);
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = copy;
    return 0;
}

/* Standard or URL-safe alphabet, with or without padding. */
static int read_bytes(am_jreader_t *r, const json_t *v,
                      ProtobufCBinaryData *out)
{
    const char *s, *end;
    size_t n, cap, len;
    uint8_t *bin;
    int variant, rc;

    if (!json_is_string(v))
        return am_jr_fail(r, AM_EPROTO, "expected base64 text, got %s",
                          am_jr_kind(v));
    if ((rc = am_jr_string(r, v, &s, &n)) != 0)
        return rc;
    if (n == 0) {
        out->data = NULL;
        out->len = 0;
        return 0;
    }
    variant = memchr(s, '-', n) != NULL || memchr(s, '_', n) != NULL
                  ? sodium_base64_VARIANT_URLSAFE
                  : sodium_base64_VARIANT_ORIGINAL;
    if (memchr(s, '=', n) == NULL)
        variant |= sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    cap = n / 4 * 3 + 3;
    if ((bin = am_malloc(cap)) == NULL)
        return am_jr_no_memory(r);
    if (sodium_base642bin(bin, cap, s, n, NULL, &len, &end, variant) != 0 ||
        end != s + n) {
        am_free(bin);
        return am_jr_fail(r, AM_EPROTO, "\"%.40s\" is not base64", s);
    }
    if (len == 0) {
        am_free(bin);
        bin = NULL;
    }
    out->data = bin;
    out->len = len;
    return 0;
}

static int read_timestamp(am_jreader_t *r, const ProtobufCMessageDescriptor *d,
                          const json_t *v, ProtobufCMessage **out)
{
    Google__Protobuf__Timestamp *ts;
    const char *s, *why = "";
    size_t n;
    int64_t secs;
    int32_t nanos;
    int rc;

    if (!json_is_string(v))
        return am_jr_fail(r, AM_EPROTO,
                          "expected an RFC 3339 time as a string, got %s",
                          am_jr_kind(v));
    if ((rc = am_jr_string(r, v, &s, &n)) != 0)
        return rc;
    if (am_json_ts_parse(s, n, &secs, &nanos, &why) != 0)
        return am_jr_fail(r, AM_EPROTO, "time \"%.40s\": %s", s, why);
    if ((ts = am_malloc(d->sizeof_message)) == NULL)
        return am_jr_no_memory(r);
    protobuf_c_message_init(d, ts);
    ts->seconds = secs;
    ts->nanos = nanos;
    *out = &ts->base;
    return 0;
}

/* One value of field f (a whole singular field, or one element of a
 * repeated one) stored at dst in protobuf-c's layout. */
static int read_value(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                      json_t *v, void *dst)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return am_jr_real(r, f, v, dst);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return am_jr_fail(r, AM_EPROTO, "expected true or false, got %s",
                              am_jr_kind(v));
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return read_enum(r, f, v, dst);
    case PROTOBUF_C_TYPE_STRING:
        return read_string(r, v, dst);
    case PROTOBUF_C_TYPE_BYTES:
        return read_bytes(r, v, dst);
    case PROTOBUF_C_TYPE_MESSAGE:
        return read_message(r, f->descriptor, v, dst);
    default:
        return am_jr_integer(r, f, v, dst);
    }
}

static int read_repeated(am_jreader_t *r, const ProtobufCFieldDescriptor *f,
                         json_t *v, ProtobufCMessage *m)
{
    char *base = (char *)m, *arr;
    size_t n, size = am_json_elem_size(f->type);
    size_t *count = (size_t *)(void *)(base + f->quantifier_offset);
    int rc = 0;

    if (!json_is_array(v))
        return am_jr_fail(r, AM_EPROTO, "expected an array, got %s",
                          am_jr_kind(v));
    if ((n = json_array_size(v)) == 0)
        return 0;
    if ((rc = enter(r)) != 0)
        return rc;
    if ((arr = am_calloc(n, size)) == NULL) {
        r->depth--;
        return am_jr_no_memory(r);
    }
    *(void **)(void *)(base + f->offset) = arr;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *e = json_array_get(v, i);
        size_t saved = am_jpath_index(&r->path, i);

        rc = json_is_null(e)
                 ? am_jr_fail(r, AM_EPROTO, "null in a repeated field")
                 : read_value(r, f, e, arr + i * size);
        am_jpath_pop(&r->path, saved);
        if (rc == 0)
            (*count)++;
    }
    r->depth--;
    return rc;
}

/* A member of a oneof: refused when another member is already set. */
static int read_oneof(am_jreader_t *r, ProtobufCMessage *m,
                      const ProtobufCFieldDescriptor *f, json_t *v)
{
    char *base = (char *)m;
    uint32_t *which = (uint32_t *)(void *)(base + f->quantifier_offset);
    const ProtobufCFieldDescriptor *other;
    int rc;

    if (*which != 0) {
        other = protobuf_c_message_descriptor_get_field(m->descriptor,
                                                        (unsigned)*which);
        return am_jr_fail(r, AM_EPROTO,
                          "%s and %s are in the same oneof: give only one",
                          other != NULL ? other->name : "?", f->name);
    }
    if ((rc = read_value(r, f, v, base + f->offset)) == 0)
        *which = f->id;
    return rc;
}

static int read_field(am_jreader_t *r, ProtobufCMessage *m,
                      const ProtobufCFieldDescriptor *f, json_t *v)
{
    if (f->label == PROTOBUF_C_LABEL_REQUIRED ||
        f->label == PROTOBUF_C_LABEL_OPTIONAL)
        return am_jr_fail(r, AM_EUNSUPPORTED,
                          "field %s is proto2 (required or optional): not "
                          "supported", f->name);
    if (json_is_null(v))
        return 0; /* proto3: null is the default value */
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return read_repeated(r, f, v, m);
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0)
        return read_oneof(r, m, f, v);
    return read_value(r, f, v, (char *)m + f->offset);
}

/* The field named key: its .proto name or its lowerCamelCase name. */
static const ProtobufCFieldDescriptor *find_field(
    const ProtobufCMessageDescriptor *d, const char *key, size_t n)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        const char *name = d->fields[i].name;

        if ((strlen(name) == n && memcmp(name, key, n) == 0) ||
            am_json_name_is(name, key, n))
            return &d->fields[i];
    }
    return NULL;
}

/* The members of object v into m; seen[i] marks field i as given, so
 * that one field named both ways is refused (and not stored twice). */
static int read_members(am_jreader_t *r, ProtobufCMessage *m, json_t *v,
                        unsigned char *seen)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int rc = 0;

    for (void *it = json_object_iter(v); it != NULL && rc == 0;
         it = json_object_iter_next(v, it)) {
        const char *key = json_object_iter_key(it);
        size_t n = json_object_iter_key_len(it);
        const ProtobufCFieldDescriptor *f = find_field(d, key, n);
        size_t saved = am_jpath_key(&r->path, key, n);

        if (f == NULL)
            rc = am_jr_fail(r, AM_EPROTO, "unknown field \"%.*s\" in %s",
                            n > 64 ? 64 : (int)n, key, d->name);
        else if (seen[f - d->fields])
            rc = am_jr_fail(r, AM_EPROTO, "field %s given twice (under its "
                            ".proto and its JSON name)", f->name);
        else {
            seen[f - d->fields] = 1;
            rc = read_field(r, m, f, json_object_iter_value(it));
        }
        am_jpath_pop(&r->path, saved);
    }
    return rc;
}

static int read_message(am_jreader_t *r, const ProtobufCMessageDescriptor *d,
                        json_t *v, ProtobufCMessage **out)
{
    ProtobufCMessage *m;
    unsigned char *seen = NULL;
    int rc;

    if (am_json_is_timestamp(d))
        return read_timestamp(r, d, v, out);
    if (!json_is_object(v))
        return am_jr_fail(r, AM_EPROTO, "expected an object (%s), got %s",
                          d->name, am_jr_kind(v));
    if ((rc = enter(r)) != 0)
        return rc;
    if ((m = am_malloc(d->sizeof_message)) == NULL ||
        (d->n_fields > 0 && (seen = am_calloc(d->n_fields, 1)) == NULL)) {
        am_free(m);
        r->depth--;
        return am_jr_no_memory(r);
    }
    protobuf_c_message_init(d, m);
    rc = json_object_size(v) > 0 ? read_members(r, m, v, seen) : 0;
    r->depth--;
    am_free(seen);
    if (rc != 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    *out = m;
    return 0;
}

/* An upper bound on the values of a text, counted before jansson builds
 * them: each value past the first follows a '{', '[' or ','. */
static size_t count_values(const char *s, size_t n)
{
    size_t count = 1;
    bool in_string = false, escaped = false;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[' || c == ',') {
            count++;
        }
    }
    return count;
}

static int syntax_error(am_jreader_t *r, const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_out_of_memory:
        return am_jr_no_memory(r);
    case json_error_stack_overflow:
        return am_jr_fail(r, AM_ETOOBIG, "nested deeper than %d levels",
                          AM_JSON_MAX_DEPTH);
    default:
        return am_jr_fail(r, AM_EPROTO,
                          "invalid JSON at line %d, column %d: %s", e->line,
                          e->column, e->text);
    }
}

int am_json_parse(const ProtobufCMessageDescriptor *d, const char *json,
                  size_t len, ProtobufCMessage **out, am_json_error_t *err)
{
    am_jreader_t r = {.err = err};
    ProtobufCMessage *m = NULL;
    json_error_t e;
    json_t *root;
    int rc;

    am_jpath_init(&r.path);
    if (err != NULL)
        err->path[0] = err->message[0] = '\0';
    if (d == NULL || out == NULL || (json == NULL && len > 0))
        return am_jr_fail(&r, AM_EINVAL, "am_json_parse: NULL argument");
    if (len > AM_JSON_MAX)
        return am_jr_fail(&r, AM_ETOOBIG,
                          "%zu bytes of JSON, over the limit of %u",
                          len, AM_JSON_MAX);
    if (count_values(json, len) > AM_JSON_MAX_VALUES)
        return am_jr_fail(&r, AM_ETOOBIG, "more than %u JSON values",
                          AM_JSON_MAX_VALUES);
    /* NUL is let through jansson to be refused below with its path */
    root = json_loadb(
        json != NULL ? json : "", len,
        JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
    if (root == NULL)
        return syntax_error(&r, &e);
    rc = read_message(&r, d, root, &m);
    json_decref(root);
    if (rc == 0)
        *out = m;
    return rc;
}
