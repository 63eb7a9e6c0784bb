/* The proto3 JSON mapping (proto/json.h), robustness: parse(print(m))
 * == m (as encoded bytes) on random messages of every field type of
 * tests/unit/jsontest.proto, every allocation failing in turn in the
 * parser, jansson and the printer, and what the printer refuses. */
#include "test-util.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "err.h"
#include "json.h"
#include "json_int.h"
#include "json-check.h"

/* ---- random messages: parse(print(m)) encodes as m does ---- */

static ProtobufCMessage *rand_message(uint64_t *rng,
                                      const ProtobufCMessageDescriptor *d,
                                      int depth);

static uint64_t rand_int(uint64_t *rng)
{
    uint64_t v = t_rand(rng) >> t_uniform(rng, 64);

    return t_rand(rng) & 1 ? v : 0 - v;
}

static double rand_double(uint64_t *rng, bool single)
{
    static const double special[] = {0.0, -0.0, 1.0, 0.1, 100, 1e30, -2.5,
                                     1e-300, DBL_MAX, FLT_MAX, FLT_MIN,
                                     5e-324, INFINITY, -INFINITY};
    uint64_t bits = t_rand(rng);
    double d;
    float f;

    switch (t_uniform(rng, 4)) {
    case 0:
        return special[t_uniform(rng, sizeof special / sizeof special[0])];
    case 1:
        return NAN;
    case 2:
        return (double)(int64_t)rand_int(rng);
    default:
        if (single) {
            uint32_t b32 = (uint32_t)bits;
            memcpy(&f, &b32, sizeof f);
            return isnan(f) ? 1.5 : f;
        }
        memcpy(&d, &bits, sizeof d);
        return isnan(d) ? 1.5 : d;
    }
}

/* Valid UTF-8 mixing what JSON must escape with multi-byte characters. */
static char *rand_string(uint64_t *rng)
{
    static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/",
                                         "\n", "\t", "\x01", "\x1f", "\x7f",
                                         "\xc3\xa9", "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80", "\xe2\x80\xa8"};
    size_t n = t_uniform(rng, 8), len = 0;
    char *s = malloc(4 * n + 1);

    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[t_uniform(rng, sizeof pieces / sizeof *pieces)];

        memcpy(s + len, p, strlen(p));
        len += strlen(p);
    }
    s[len] = '\0';
    return s;
}

static void rand_bytes(uint64_t *rng, ProtobufCBinaryData *b)
{
    b->len = t_uniform(rng, 12);
    b->data = b->len > 0 ? malloc(b->len) : NULL;
    for (size_t i = 0; i < b->len; i++)
        b->data[i] = (uint8_t)t_rand(rng);
}

static int rand_enum(uint64_t *rng, const ProtobufCEnumDescriptor *ed)
{
    static const int unnamed[] = {77, -5, INT32_MAX, INT32_MIN};

    if (t_uniform(rng, 4) == 0)
        return unnamed[t_uniform(rng, 4)];
    return ed->values[t_uniform(rng, ed->n_values)].value;
}

static void rand_value(uint64_t *rng, const ProtobufCFieldDescriptor *f,
                       void *dst, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT: {
        double d = rand_double(rng, true);

        if (isfinite(d) && fabs(d) > FLT_MAX)
            d = FLT_MAX;
        *(float *)dst = (float)d;
        break;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)dst = rand_double(rng, false);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)dst = (protobuf_c_boolean)(t_rand(rng) & 1);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        *(int *)dst = rand_enum(rng, f->descriptor);
        break;
    case PROTOBUF_C_TYPE_STRING:
        *(char **)dst = rand_string(rng);
        break;
    case PROTOBUF_C_TYPE_BYTES:
        rand_bytes(rng, dst);
        break;
    case PROTOBUF_C_TYPE_MESSAGE:
        *(ProtobufCMessage **)dst = rand_message(rng, f->descriptor, depth);
        break;
    default: {
        uint64_t v = rand_int(rng);

        if (am_json_elem_size(f->type) == 8)
            memcpy(dst, &v, 8);
        else
            *(uint32_t *)dst = (uint32_t)v;
    }
    }
}

static ProtobufCMessage *rand_timestamp(uint64_t *rng,
                                        const ProtobufCMessageDescriptor *d)
{
    static const int32_t scale[] = {1000000000, 1000000, 1000, 1};
    Google__Protobuf__Timestamp *ts = malloc(d->sizeof_message);
    uint64_t span = (uint64_t)(AM_JSON_TS_MAX - AM_JSON_TS_MIN) + 1;

    assert_non_null(ts);
    protobuf_c_message_init(d, ts);
    ts->seconds = AM_JSON_TS_MIN + (int64_t)(t_rand(rng) % span);
    ts->nanos = (int32_t)(t_rand(rng) % 1000000000u);
    ts->nanos -= ts->nanos % scale[t_uniform(rng, 4)];
    return &ts->base;
}

static void rand_repeated(uint64_t *rng, ProtobufCMessage *m,
                          const ProtobufCFieldDescriptor *f, int depth)
{
    size_t n = t_uniform(rng, 4), size = am_json_elem_size(f->type);
    char *arr;

    if (n == 0 || (f->type == PROTOBUF_C_TYPE_MESSAGE && depth > 3))
        return;
    arr = calloc(n, size);
    assert_non_null(arr);
    for (size_t i = 0; i < n; i++)
        rand_value(rng, f, arr + i * size, depth + 1);
    *(void **)((char *)m + f->offset) = arr;
    *(size_t *)((char *)m + f->quantifier_offset) = n;
}

/* Every field set with probability 1/2, one oneof member in four. */
static ProtobufCMessage *rand_message(uint64_t *rng,
                                      const ProtobufCMessageDescriptor *d,
                                      int depth)
{
    ProtobufCMessage *m;

    if (am_json_is_timestamp(d))
        return rand_timestamp(rng, d);
    m = malloc(d->sizeof_message);
    assert_non_null(m);
    protobuf_c_message_init(d, m);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *base = (char *)m;
        uint32_t *which = (uint32_t *)(base + f->quantifier_offset);

        if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth > 3)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            rand_repeated(rng, m, f, depth);
        else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
            if (*which == 0 && t_uniform(rng, 4) == 0) {
                rand_value(rng, f, base + f->offset, depth + 1);
                *which = f->id;
            }
        } else if (t_rand(rng) & 1) {
            rand_value(rng, f, base + f->offset, depth + 1);
        }
    }
    return m;
}

static void check_round_trip(const ProtobufCMessage *m, bool pretty)
{
    ProtobufCMessage *back = NULL;
    am_json_error_t err;
    char *text = print_ok(m, pretty), *again;

    if (am_json_parse(m->descriptor, text, strlen(text), &back, &err) != 0)
        fail_msg("%s: %s: %s", text, err.path, err.message);
    assert_same_message(m, back);
    again = print_ok(back, pretty);
    assert_string_equal(text, again);
    am_free(again);
    am_free(text);
    protobuf_c_message_free_unpacked(back, NULL);
}

static void test_round_trip_random(void **state)
{
    uint64_t rng = t_seed();

    (void)state;
    for (int i = 0; i < 3000; i++) {
        ProtobufCMessage *m = rand_message(&rng, ALL, 0);

        check_round_trip(m, i & 1);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    for (int i = 0; i < 300; i++) {
        ProtobufCMessage *ts = rand_timestamp(
            &rng, &google__protobuf__timestamp__descriptor);

        check_round_trip(ts, false);
        protobuf_c_message_free_unpacked(ts, NULL);
    }
}

/* ---- allocation failures and printer refusals ---- */

static size_t json_fail_at, json_calls;

static void *failing_malloc(size_t n)
{
    return ++json_calls == json_fail_at ? NULL : malloc(n);
}

static const char rich[] =
    "{\"singleString\":\"x\",\"singleBytes\":\"AAEC\",\"singleMessage\":"
    "{\"name\":\"n\",\"seenAt\":\"2024-01-01T00:00:00Z\",\"accounts\":"
    "[\"a\",\"b\"]},\"repeatedString\":[\"p\",\"q\"],\"repeatedBytes\":"
    "[\"AA==\"],\"repeatedMessage\":[{},{\"name\":\"m\"}],"
    "\"repeatedTimestamp\":[\"2024-01-01T00:00:00Z\"],\"singleDouble\":"
    "\"1.5\",\"singleInt64\":\"1e3\",\"oneofMessage\":{\"name\":\"o\"},"
    "\"child\":{\"child\":{\"singleString\":\"deep\"}}}";

static void test_parse_alloc_failures(void **state)
{
    ProtobufCMessage *m;
    int rc;

    (void)state;
    /* ours: each am_malloc made to fail in turn */
    for (size_t at = 1;; at++) {
        t_alloc_ctx_t ctx = {0, at, 0};

        m = NULL;
        am_alloc_set_hook(t_alloc_hook, &ctx);
        rc = am_json_parse(ALL, rich, sizeof rich - 1, &m, NULL);
        am_alloc_set_hook(NULL, NULL);
        if (rc == 0) {
            assert_true(at > 20);
            break;
        }
        assert_int_equal(rc, AM_ENOMEM);
        assert_null(m);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    /* jansson's: refused, never half-built (leaks show under ASan) */
    for (json_fail_at = 1;; json_fail_at++) {
        json_calls = 0;
        m = NULL;
        json_set_alloc_funcs(failing_malloc, free);
        rc = am_json_parse(ALL, rich, sizeof rich - 1, &m, NULL);
        json_set_alloc_funcs(malloc, free);
        if (rc == 0)
            break;
        assert_true(rc == AM_ENOMEM || rc == AM_EPROTO);
        assert_null(m);
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_print_alloc_failures(void **state)
{
    all_t *m = parse_ok(rich);
    char *out;
    size_t len;
    int rc;

    (void)state;
    for (size_t at = 1;; at++) {
        t_alloc_ctx_t ctx = {0, at, 0};

        out = NULL;
        am_alloc_set_hook(t_alloc_hook, &ctx);
        rc = am_json_print(&m->base, true, &out, &len);
        am_alloc_set_hook(NULL, NULL);
        if (rc == 0)
            break;
        assert_int_equal(rc, AM_ENOMEM);
        assert_null(out);
    }
    am_free(out);
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_print_refusals(void **state)
{
    static char bad_utf8[] = "ok\xc0\xaf";
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Amanat__Jsontest__Provider p = AMANAT__JSONTEST__PROVIDER__INIT;
    all_t m = AMANAT__JSONTEST__ALL_TYPES__INIT;
    char *out = NULL;
    size_t len;

    (void)state;
    p.name = bad_utf8;
    m.single_message = &p;
    assert_int_equal(am_json_print(&m.base, false, &out, &len), AM_EINVAL);
    assert_non_null(strstr(am_err_detail(), "$.singleMessage.name"));
    assert_null(out);
    m.single_message = NULL;
    m.single_timestamp = &ts;
    ts.seconds = AM_JSON_TS_MAX + 1;
    assert_int_equal(am_json_print(&m.base, false, &out, &len), AM_EINVAL);
    assert_non_null(strstr(am_err_detail(), "$.singleTimestamp"));
    ts.seconds = 0;
    ts.nanos = -1;
    assert_int_equal(am_json_print(&m.base, false, &out, &len), AM_EINVAL);
    ts.nanos = 1000000000;
    assert_int_equal(am_json_print(&m.base, false, &out, &len), AM_EINVAL);
    assert_null(out);
    assert_int_equal(am_json_print(NULL, false, &out, &len), AM_EINVAL);
    assert_int_equal(am_json_parse(NULL, "{}", 2, (ProtobufCMessage **)&out,
                                   NULL),
                     AM_EINVAL);
}

static void test_print_depth(void **state)
{
    all_t *levels = calloc(AM_JSON_MAX_DEPTH + 1, sizeof *levels);
    char *out = NULL;
    size_t len;

    (void)state;
    assert_non_null(levels);
    for (int i = 0; i <= AM_JSON_MAX_DEPTH; i++) {
        amanat__jsontest__all_types__init(&levels[i]);
        if (i > 0)
            levels[i - 1].child = &levels[i];
    }
    /* 65 objects could not be read back */
    assert_int_equal(am_json_print(&levels[0].base, false, &out, &len),
                     AM_ETOOBIG);
    levels[AM_JSON_MAX_DEPTH - 1].child = NULL;
    assert_int_equal(am_json_print(&levels[0].base, false, &out, &len),
                     AM_OK);
    am_free(out);
    free(levels);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_parse_alloc_failures),
        cmocka_unit_test(test_print_alloc_failures),
        cmocka_unit_test(test_print_refusals),
        cmocka_unit_test(test_print_depth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
