/* The proto3 JSON mapping (proto/json.h) on tests/unit/jsontest.proto:
 * exact canonical output, the accepted spellings, a table of refusals
 * with the path each must name, the size and depth limits, allocation
 * failures, and parse(print(m)) == m (as encoded bytes) on random
 * messages of every field type. */
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
#include "jsontest.pb-c.h"

#define ALL (&amanat__jsontest__all_types__descriptor)

typedef Amanat__Jsontest__AllTypes all_t;

/* ---- helpers ---- */

static all_t *parse_ok(const char *json)
{
    ProtobufCMessage *m = NULL;
    am_json_error_t err;
    int rc = am_json_parse(ALL, json, strlen(json), &m, &err);

    if (rc != 0)
        fail_msg("refused %s: %s: %s", json, err.path, err.message);
    assert_string_equal(err.path, "");
    return (all_t *)m;
}

static char *print_ok(const ProtobufCMessage *m, bool pretty)
{
    char *out = NULL;
    size_t len = 0;

    if (am_json_print(m, pretty, &out, &len) != 0)
        fail_msg("print: %s", am_err_detail());
    assert_int_equal(strlen(out), len);
    return out;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(m);
    buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(m, buf), *len);
    return buf;
}

static void assert_same_message(const ProtobufCMessage *a,
                                const ProtobufCMessage *b)
{
    size_t na, nb;
    uint8_t *pa = pack(a, &na), *pb = pack(b, &nb);

    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na);
    free(pa);
    free(pb);
}

/* ---- exact output ---- */

/* What test_canonical_output's message must print as. */
static const char canonical[] =
    "{\"singleInt32\":-5,\"singleInt64\":\"9007199254740993\","
    "\"singleUint32\":4000000000,"
    "\"singleUint64\":\"18446744073709551615\",\"singleSint32\":-1,"
    "\"singleSint64\":\"-9223372036854775808\",\"singleFixed32\":7,"
    "\"singleFixed64\":\"8\",\"singleSfixed32\":-9,"
    "\"singleSfixed64\":\"-10\",\"singleBool\":true,"
    "\"singleString\":\"tab\\there \\\"q\\\" \xc3\xa9 \\\\ \\u0001\","
    "\"singleBytes\":\"+/8=\",\"singleFloat\":0.1,"
    "\"singleDouble\":1e+30,\"singleEnum\":\"COLOUR_BLUE\","
    "\"singleMessage\":{\"name\":\"p\","
    "\"seenAt\":\"1972-01-01T10:00:20.021Z\"},"
    "\"repeatedInt32\":[0,1],\"repeatedDouble\":[100,-0.0,0.5],"
    "\"repeatedEnum\":[\"COLOUR_UNSPECIFIED\",77],"
    "\"repeatedTimestamp\":[\"1970-01-01T00:00:00Z\"],"
    "\"oneofUint64\":\"0\"}";

static void test_canonical_output(void **state)
{
    static uint8_t bytes[] = {0xfb, 0xff};
    static double doubles[] = {100, -0.0, 0.5};
    static int32_t ints[] = {0, 1};
    static Amanat__Jsontest__Colour colours[] = {0, 77};
    static char text[] = "tab\there \"q\" \xc3\xa9 \\ \x01";
    Google__Protobuf__Timestamp seen = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Timestamp epoch = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Timestamp *times[] = {&epoch};
    Amanat__Jsontest__Provider p = AMANAT__JSONTEST__PROVIDER__INIT;
    all_t m = AMANAT__JSONTEST__ALL_TYPES__INIT;
    char *out;

    (void)state;
    seen.seconds = 63108020;
    seen.nanos = 21000000;
    p.name = "p";
    p.seen_at = &seen;
    m.single_int32 = -5;
    m.single_int64 = 9007199254740993;
    m.single_uint32 = 4000000000u;
    m.single_uint64 = UINT64_MAX;
    m.single_sint32 = -1;
    m.single_sint64 = INT64_MIN;
    m.single_fixed32 = 7;
    m.single_fixed64 = 8;
    m.single_sfixed32 = -9;
    m.single_sfixed64 = -10;
    m.single_bool = 1;
    m.single_string = text;
    m.single_bytes = (ProtobufCBinaryData){sizeof bytes, bytes};
    m.single_float = 0.1f;
    m.single_double = 1e30;
    m.single_enum = AMANAT__JSONTEST__COLOUR__COLOUR_BLUE;
    m.single_message = &p;
    m.n_repeated_int32 = 2;
    m.repeated_int32 = ints;
    m.n_repeated_double = 3;
    m.repeated_double = doubles;
    m.n_repeated_enum = 2;
    m.repeated_enum = colours;
    m.n_repeated_timestamp = 1;
    m.repeated_timestamp = times;
    m.choice_case = AMANAT__JSONTEST__ALL_TYPES__CHOICE_ONEOF_UINT64;
    m.oneof_uint64 = 0; /* a oneof member prints even when 0 */
    out = print_ok(&m.base, false);
    assert_string_equal(out, canonical);
    am_free(out);
}

static void test_pretty_and_defaults(void **state)
{
    static int32_t one[] = {1};
    Amanat__Jsontest__Provider empty = AMANAT__JSONTEST__PROVIDER__INIT;
    all_t m = AMANAT__JSONTEST__ALL_TYPES__INIT;
    char *out;

    (void)state;
    out = print_ok(&m.base, true);
    assert_string_equal(out, "{}");
    am_free(out);
    m.single_float = -0.0f; /* protobuf-c does not encode it either */
    m.single_string = "";
    m.single_message = &empty;
    m.n_repeated_int32 = 1;
    m.repeated_int32 = one;
    out = print_ok(&m.base, true);
    assert_string_equal(out, "{\n  \"singleMessage\": {},\n"
                             "  \"repeatedInt32\": [\n    1\n  ]\n}");
    am_free(out);
}

static void test_float_text(void **state)
{
    static const struct {
        double d;
        const char *text;
    } doubles[] = {{0.1, "0.1"}, {1.0 / 3, "0.33333333333333331"},
                   {123456789, "123456789"}, {1e-7, "1e-07"},
                   {DBL_MAX, "1.7976931348623157e+308"},
                   {NAN, "\"NaN\""}, {-INFINITY, "\"-Infinity\""}};
    all_t m = AMANAT__JSONTEST__ALL_TYPES__INIT;
    char want[96], *out;

    (void)state;
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        m.single_double = doubles[i].d;
        out = print_ok(&m.base, false);
        snprintf(want, sizeof want, "{\"singleDouble\":%s}", doubles[i].text);
        assert_string_equal(out, want);
        am_free(out);
    }
    m.single_double = 0;
    m.single_float = FLT_MAX;
    out = print_ok(&m.base, false);
    assert_string_equal(out, "{\"singleFloat\":3.40282347e+38}");
    am_free(out);
    m.single_float = 16777216.0f;
    out = print_ok(&m.base, false);
    assert_string_equal(out, "{\"singleFloat\":16777216}");
    am_free(out);
}

static void test_timestamp_text(void **state)
{
    static const struct {
        int64_t s;
        int32_t ns;
        const char *text;
    } cases[] = {
        {0, 0, "1970-01-01T00:00:00Z"},
        {63108020, 21000000, "1972-01-01T10:00:20.021Z"},
        {63108020, 21000, "1972-01-01T10:00:20.000021Z"},
        {63108020, 21, "1972-01-01T10:00:20.000000021Z"},
        {-62135596800, 0, "0001-01-01T00:00:00Z"},
        {253402300799, 999999999, "9999-12-31T23:59:59.999999999Z"},
        {-1, 500000000, "1969-12-31T23:59:59.500Z"}};
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    all_t m = AMANAT__JSONTEST__ALL_TYPES__INIT;
    char want[96], *out;

    (void)state;
    m.single_timestamp = &ts;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ts.seconds = cases[i].s;
        ts.nanos = cases[i].ns;
        out = print_ok(&m.base, false);
        snprintf(want, sizeof want, "{\"singleTimestamp\":\"%s\"}",
                 cases[i].text);
        assert_string_equal(out, want);
        am_free(out);
        /* and the top-level Timestamp is a bare string */
        out = print_ok(&ts.base, false);
        snprintf(want, sizeof want, "\"%s\"", cases[i].text);
        assert_string_equal(out, want);
        am_free(out);
    }
}

/* ---- accepted forms ---- */

static void test_accepted_forms(void **state)
{
    all_t *m;

    (void)state;
    m = parse_ok(
        "{\"single_int32\": \"12\", \"singleInt64\": "
        "\"-9223372036854775808\", \"single_uint64\": "
        "\"18446744073709551615\", \"singleUint32\": \"4294967295\", "
        "\"singleSint32\": 1e2, \"singleSint64\": \"-3.5e1\", "
        "\"singleFixed64\": 9007199254740992, \"singleSfixed32\": "
        "-2147483648, \"singleFixed32\": 7.0, \"singleFloat\": \"NaN\", "
        "\"singleDouble\": \"-Infinity\", \"singleString\": null, "
        "\"singleEnum\": 2, \"repeatedEnum\": [\"COLOUR_RED\", -1, 77], "
        "\"singleBytes\": \"-_8\", \"repeatedBytes\": [\"+/8=\", \"+/8\", "
        "\"\"], \"singleTimestamp\": \"1972-01-01T11:00:20.021+01:00\", "
        "\"repeatedDouble\": [\"1.5\", 2, \"1e-3\", \"-0\"], "
        "\"repeatedFloat\": [\"Infinity\", 3.4028235e38], "
        "\"child\": {}, \"preservation\": null, \"oneofMessage\": {}}");
    assert_int_equal(m->single_int32, 12);
    assert_true(m->single_int64 == INT64_MIN);
    assert_true(m->single_uint64 == UINT64_MAX);
    assert_int_equal(m->single_uint32, 4294967295u);
    assert_int_equal(m->single_sint32, 100);
    assert_int_equal(m->single_sint64, -35);
    assert_true(m->single_fixed64 == 9007199254740992u);
    assert_int_equal(m->single_sfixed32, INT32_MIN);
    assert_int_equal(m->single_fixed32, 7);
    assert_true(isnan(m->single_float));
    assert_true(isinf(m->single_double) && m->single_double < 0);
    assert_string_equal(m->single_string, "");
    assert_int_equal(m->single_enum, AMANAT__JSONTEST__COLOUR__COLOUR_GREEN);
    assert_int_equal(m->n_repeated_enum, 3);
    assert_int_equal(m->repeated_enum[1], -1);
    assert_int_equal(m->repeated_enum[2], 77);
    assert_int_equal(m->single_bytes.len, 2);
    assert_memory_equal(m->single_bytes.data, "\xfb\xff", 2);
    assert_int_equal(m->n_repeated_bytes, 3);
    assert_int_equal(m->repeated_bytes[1].len, 2);
    assert_int_equal(m->repeated_bytes[2].len, 0);
    assert_true(m->single_timestamp->seconds == 63108020);
    assert_int_equal(m->single_timestamp->nanos, 21000000);
    assert_int_equal(m->n_repeated_double, 4);
    assert_true(m->repeated_double[2] == 1e-3);
    assert_true(m->repeated_double[3] == 0 && signbit(m->repeated_double[3]));
    assert_true(m->repeated_float[1] == FLT_MAX);
    assert_non_null(m->child);
    assert_null(m->preservation);
    assert_int_equal(m->choice_case,
                     AMANAT__JSONTEST__ALL_TYPES__CHOICE_ONEOF_MESSAGE);
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_accepted_edges(void **state)
{
    ProtobufCMessage *ts = NULL;
    all_t *m;

    (void)state;
    /* an empty string in a oneof is set, and prints back */
    m = parse_ok("{\"oneofString\": \"\", \"oneofBool\": null}");
    assert_int_equal(m->choice_case,
                     AMANAT__JSONTEST__ALL_TYPES__CHOICE_ONEOF_STRING);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    m = parse_ok("{\"singleTimestamp\": \"9999-12-31T23:59:59.999999999Z\","
                 " \"repeatedTimestamp\": [\"0001-01-01T00:00:00Z\", "
                 "\"2000-02-29T23:30:00-00:30\", "
                 "\"2024-06-01T12:00:00.5Z\"]}");
    assert_true(m->repeated_timestamp[0]->seconds == -62135596800);
    assert_true(m->repeated_timestamp[1]->seconds == 951868800);
    assert_int_equal(m->repeated_timestamp[2]->nanos, 500000000);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    assert_int_equal(am_json_parse(&google__protobuf__timestamp__descriptor,
                                   "\"1970-01-01T00:00:01Z\"", 22, &ts, NULL),
                     AM_OK);
    assert_true(((Google__Protobuf__Timestamp *)ts)->seconds == 1);
    protobuf_c_message_free_unpacked(ts, NULL);
    /* 2^53 + 1 as a string; spaces and line breaks anywhere */
    m = parse_ok(" {\n\t\"singleInt64\" :\r\n\"9007199254740993\" } ");
    assert_true(m->single_int64 == 9007199254740993);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    /* not NUL-terminated: only len bytes are read */
    m = parse_ok("{}");
    protobuf_c_message_free_unpacked(&m->base, NULL);
    assert_int_equal(am_json_parse(ALL, "{}garbage", 2, &ts, NULL), AM_OK);
    protobuf_c_message_free_unpacked(ts, NULL);
}

/* ---- refusals ---- */

typedef struct {
    const char *json;
    const char *path; /* err.path must contain it */
    int code;
    const char *why; /* err.message must contain it */
} bad_t;

static const bad_t bad[] = {
    {"{\"singleInt32\": }", "$", AM_EPROTO, "invalid JSON"},
    {"{\"singleInt32\": 1", "$", AM_EPROTO, "invalid JSON"},
    {"", "$", AM_EPROTO, "invalid JSON"},
    {"{\"nope\": 1}", "$.nope", AM_EPROTO, "unknown field"},
    {"{\"preservation\": {\"dataToPreserve\": [{}, {}, {\"provider\": 1}]}}",
     "$.preservation.dataToPreserve[2].provider", AM_EPROTO, "unknown"},
    {"{\"SingleInt32\": 1}", "$.SingleInt32", AM_EPROTO, "unknown field"},
    {"{\"singleInt32\": 1, \"singleInt32\": 2}", "$", AM_EPROTO,
     "duplicate"},
    {"{\"singleInt32\": 1, \"single_int32\": 2}", "$.single_int32",
     AM_EPROTO, "twice"},
    {"{\"singleString\": \"\xff\"}", "$", AM_EPROTO, "unable to decode"},
    {"{\"singleString\": \"\xed\xa0\x80\"}", "$", AM_EPROTO, ""},
    {"{\"singleString\": \"a\\u0000b\"}", "$.singleString", AM_EPROTO,
     "NUL"},
    {"{\"repeatedString\": [\"ok\", \"\\u0000\"]}", "$.repeatedString[1]",
     AM_EPROTO, "NUL"},
    {"{\"singleInt64\": 9007199254740993}", "$.singleInt64", AM_EPROTO,
     "2^53"},
    {"{\"repeatedUint64\": [1, 9007199254740993]}", "$.repeatedUint64[1]",
     AM_EPROTO, "2^53"},
    {"{\"singleFixed64\": 1e300}", "$.singleFixed64", AM_EPROTO, "2^53"},
    {"{\"singleInt32\": 3000000000}", "$.singleInt32", AM_EPROTO,
     "out of range for int32"},
    {"{\"singleInt32\": -2147483649}", "$.singleInt32", AM_EPROTO,
     "out of range"},
    {"{\"singleSfixed32\": \"2147483648\"}", "$.singleSfixed32", AM_EPROTO,
     "out of range"},
    {"{\"singleUint32\": -1}", "$.singleUint32", AM_EPROTO,
     "-1 is out of range for uint32"},
    {"{\"singleUint32\": 4294967296}", "$.singleUint32", AM_EPROTO,
     "out of range"},
    {"{\"singleUint64\": \"-1\"}", "$.singleUint64", AM_EPROTO,
     "out of range"},
    {"{\"singleUint64\": \"18446744073709551616\"}", "$.singleUint64",
     AM_EPROTO, "out of range"},
    {"{\"singleInt64\": \"9223372036854775808\"}", "$.singleInt64",
     AM_EPROTO, "out of range"},
    {"{\"singleInt32\": 1.5}", "$.singleInt32", AM_EPROTO, "not an integer"},
    {"{\"singleInt32\": \"abc\"}", "$.singleInt32", AM_EPROTO, "not a number"},
    {"{\"singleInt32\": \" 1\"}", "$.singleInt32", AM_EPROTO, "not a number"},
    {"{\"singleInt32\": \"+1\"}", "$.singleInt32", AM_EPROTO, "not a number"},
    {"{\"singleInt32\": \"01\"}", "$.singleInt32", AM_EPROTO, "not a number"},
    {"{\"singleInt32\": \"\"}", "$.singleInt32", AM_EPROTO, "not a number"},
    {"{\"singleInt32\": true}", "$.singleInt32", AM_EPROTO, "got a boolean"},
    {"{\"singleInt32\": [1]}", "$.singleInt32", AM_EPROTO, "got an array"},
    {"{\"singleString\": 1}", "$.singleString", AM_EPROTO, "got a number"},
    {"{\"singleBool\": \"true\"}", "$.singleBool", AM_EPROTO, "true or false"},
    {"{\"singleBool\": 1}", "$.singleBool", AM_EPROTO, "true or false"},
    {"{\"singleFloat\": 1e39}", "$.singleFloat", AM_EPROTO,
     "out of range for float"},
    {"{\"singleDouble\": \"1e400\"}", "$.singleDouble", AM_EPROTO,
     "out of range"},
    {"{\"singleDouble\": 1e400}", "$", AM_EPROTO, "invalid JSON"},
    {"{\"singleDouble\": NaN}", "$", AM_EPROTO, "invalid JSON"},
    {"{\"singleDouble\": \"nan\"}", "$.singleDouble", AM_EPROTO,
     "not a number"},
    {"{\"singleDouble\": {}}", "$.singleDouble", AM_EPROTO, "got an object"},
    {"{\"singleEnum\": \"COLOUR_PINK\"}", "$.singleEnum", AM_EPROTO,
     "not a value of amanat.jsontest.Colour"},
    {"{\"repeatedEnum\": [\"COLOUR_RED\", \"colour_red\"]}",
     "$.repeatedEnum[1]", AM_EPROTO, "not a value"},
    {"{\"singleEnum\": 2147483648}", "$.singleEnum", AM_EPROTO,
     "out of range"},
    {"{\"singleEnum\": 1.0}", "$.singleEnum", AM_EPROTO, "got a number"},
    {"{\"oneofString\": \"a\", \"oneofBool\": true}", "$.oneofBool",
     AM_EPROTO, "same oneof"},
    {"{\"oneofMessage\": {}, \"oneof_double\": 0}", "$.oneof_double",
     AM_EPROTO, "same oneof"},
    {"{\"singleMessage\": []}", "$.singleMessage", AM_EPROTO,
     "expected an object"},
    {"{\"singleMessage\": {\"rank\": \"x\"}}", "$.singleMessage.rank",
     AM_EPROTO, "not a number"},
    {"{\"repeatedInt32\": 1}", "$.repeatedInt32", AM_EPROTO,
     "expected an array"},
    {"{\"repeatedInt32\": [1, null]}", "$.repeatedInt32[1]", AM_EPROTO,
     "null"},
    {"{\"repeatedMessage\": [{}, {\"accounts\": [1]}]}",
     "$.repeatedMessage[1].accounts[0]", AM_EPROTO, "expected a string"},
    {"{\"singleBytes\": \"@@@@\"}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleBytes\": \"QQ=\"}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleBytes\": \"Q\"}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleBytes\": \"+-8=\"}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleBytes\": \"QQ==QQ==\"}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleBytes\": \"QR==\"}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleBytes\": \"QQ ==\"}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleBytes\": 1}", "$.singleBytes", AM_EPROTO, "base64"},
    {"{\"singleTimestamp\": \"2024-13-01T00:00:00Z\"}", "$.singleTimestamp",
     AM_EPROTO, "no such date"},
    {"{\"singleTimestamp\": \"2024-01-01 00:00:00Z\"}", "$.singleTimestamp",
     AM_EPROTO, "'T'"},
    {"{\"singleTimestamp\": \"0000-01-01T00:00:00Z\"}", "$.singleTimestamp",
     AM_EPROTO, "no such date"},
    {"{\"singleTimestamp\": \"2024-01-01T00:00:00.0123456789Z\"}",
     "$.singleTimestamp", AM_EPROTO, "more than 9"},
    {"{\"singleTimestamp\": \"2024-01-01T00:00:00\"}", "$.singleTimestamp",
     AM_EPROTO, "zone"},
    {"{\"singleTimestamp\": \"2024-01-01T00:00:00.Z\"}", "$.singleTimestamp",
     AM_EPROTO, "digit"},
    {"{\"singleTimestamp\": \"2023-02-29T00:00:00Z\"}", "$.singleTimestamp",
     AM_EPROTO, "no such date"},
    {"{\"singleTimestamp\": \"2024-01-01T24:00:00Z\"}", "$.singleTimestamp",
     AM_EPROTO, "no such date"},
    {"{\"singleTimestamp\": \"2024-01-01T23:59:60Z\"}", "$.singleTimestamp",
     AM_EPROTO, "no such date"},
    {"{\"singleTimestamp\": \"2024-01-01T00:00:00+24:00\"}",
     "$.singleTimestamp", AM_EPROTO, "zone"},
    {"{\"singleTimestamp\": \"2024-01-01T00:00:00z\"}", "$.singleTimestamp",
     AM_EPROTO, "zone"},
    {"{\"singleTimestamp\": \"0001-01-01T00:00:00+01:00\"}",
     "$.singleTimestamp", AM_EPROTO, "outside years"},
    {"{\"singleTimestamp\": \"2024-1-01T00:00:00Z\"}", "$.singleTimestamp",
     AM_EPROTO, ""},
    {"{\"singleTimestamp\": 0}", "$.singleTimestamp", AM_EPROTO,
     "RFC 3339"},
    {"{\"repeatedTimestamp\": [\"1972-01-01T10:00:20.021Z\", \"x\"]}",
     "$.repeatedTimestamp[1]", AM_EPROTO, "too short"},
    {"[]", "$", AM_EPROTO, "expected an object"},
    {"\"1970-01-01T00:00:00Z\"", "$", AM_EPROTO, "expected an object"},
    {"null", "$", AM_EPROTO, "expected an object"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ProtobufCMessage *const sentinel = (ProtobufCMessage *)&bad[i];
        ProtobufCMessage *m = sentinel;
        am_json_error_t err;
        int rc;

        am_err_clear();
        rc = am_json_parse(ALL, bad[i].json, strlen(bad[i].json), &m, &err);
        if (rc != bad[i].code || strstr(err.path, bad[i].path) == NULL ||
            strstr(err.message, bad[i].why) == NULL || m != sentinel)
            fail_msg("%s: rc %d, path \"%s\", message \"%s\"", bad[i].json,
                     rc, err.path, err.message);
        assert_non_null(strstr(am_err_detail(), err.path));
    }
}

/* ---- limits ---- */

/* "{\"child\":" depth times, then "{}", then the closing braces. */
static char *nested(size_t depth, size_t *len)
{
    static const char open[] = "{\"child\":";
    size_t n = depth * (sizeof open - 1) + 2 + depth;
    char *s = malloc(n + 1), *p = s;

    assert_non_null(s);
    for (size_t i = 0; i < depth; i++, p += sizeof open - 1)
        memcpy(p, open, sizeof open - 1);
    *p++ = '{';
    memset(p, '}', depth + 1);
    s[n] = '\0';
    *len = n;
    return s;
}

static void test_depth(void **state)
{
    ProtobufCMessage *m = NULL;
    am_json_error_t err;
    size_t len;
    char *s;

    (void)state;
    /* 64 objects: the top one and 63 children */
    s = nested(AM_JSON_MAX_DEPTH - 1, &len);
    assert_int_equal(am_json_parse(ALL, s, len, &m, &err), AM_OK);
    free(s);
    s = print_ok(m, true); /* and it prints */
    free(s);
    protobuf_c_message_free_unpacked(m, NULL);
    s = nested(AM_JSON_MAX_DEPTH, &len);
    assert_int_equal(am_json_parse(ALL, s, len, &m, &err), AM_ETOOBIG);
    assert_non_null(strstr(err.path, "$.child.child.child"));
    free(s);
    s = nested(1000, &len);
    assert_int_equal(am_json_parse(ALL, s, len, &m, &err), AM_ETOOBIG);
    assert_non_null(strstr(err.path, "$.child.child.child"));
    assert_non_null(strstr(err.message, "deeper than 64"));
    assert_true(strlen(err.path) < AM_JSON_PATH_MAX);
    free(s);
    /* beyond jansson's own limit of 2048 */
    s = nested(5000, &len);
    assert_int_equal(am_json_parse(ALL, s, len, &m, &err), AM_ETOOBIG);
    free(s);
}

static size_t json_allocs;

static void *counting_malloc(size_t n)
{
    json_allocs++;
    return malloc(n);
}

static long max_rss_kb(void)
{
    struct rusage ru;

    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

static double now(void)
{
    struct timespec ts;

    assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 100 MiB of '[': refused from its length alone, before any allocation. */
static void test_size_limit(void **state)
{
    size_t big = 100u << 20;
    char *s = malloc(big);
    t_alloc_ctx_t ctx = {0};
    ProtobufCMessage *m = NULL;
    am_json_error_t err;
    double t0;
    long rss0;
    int rc;

    (void)state;
    assert_non_null(s);
    memset(s, '[', big);
    rss0 = max_rss_kb();
    json_allocs = 0;
    json_set_alloc_funcs(counting_malloc, free);
    am_alloc_set_hook(t_alloc_hook, &ctx);
    t0 = now();
    rc = am_json_parse(ALL, s, big, &m, &err);
    t0 = now() - t0;
    am_alloc_set_hook(NULL, NULL);
    json_set_alloc_funcs(malloc, free);
    assert_int_equal(rc, AM_ETOOBIG);
    assert_string_equal(err.path, "$");
    assert_non_null(strstr(err.message, "over the limit"));
    assert_int_equal(ctx.calls, 0);
    assert_int_equal(json_allocs, 0);
    assert_true(t0 < 0.1);
    assert_true(max_rss_kb() - rss0 < 1024);
    assert_null(m);
    /* one byte over the limit; the values limit below it */
    assert_int_equal(am_json_parse(ALL, s, AM_JSON_MAX + 1, &m, &err),
                     AM_ETOOBIG);
    free(s);
}

static void test_values_limit(void **state)
{
    static const char head[] = "{\"repeatedBool\":[";
    size_t n = AM_JSON_MAX_VALUES + 1, len = sizeof head - 1;
    char *s = malloc(len + 5 * n + 8);
    ProtobufCMessage *m = NULL;
    am_json_error_t err;
    all_t *ok;

    (void)state;
    assert_non_null(s);
    memcpy(s, head, len);
    for (size_t i = 0; i < n; i++, len += 5)
        memcpy(s + len, "true,", 5);
    memcpy(s + len - 1, "]}", 2);
    len++;
    json_allocs = 0;
    json_set_alloc_funcs(counting_malloc, free);
    assert_int_equal(am_json_parse(ALL, s, len, &m, &err), AM_ETOOBIG);
    json_set_alloc_funcs(malloc, free);
    assert_int_equal(json_allocs, 0);
    assert_non_null(strstr(err.message, "JSON values"));
    /* commas, brackets and escaped quotes inside a string are no values */
    memcpy(s, "{\"singleString\":\"\\\"", 19);
    for (len = 19; len < 19 + 3 * n; len++)
        s[len] = ",[{"[len % 3];
    memcpy(s + len, "\"}", 3);
    ok = parse_ok(s);
    assert_int_equal(strlen(ok->single_string), 1 + 3 * n);
    protobuf_c_message_free_unpacked(&ok->base, NULL);
    free(s);
}

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
        cmocka_unit_test(test_canonical_output),
        cmocka_unit_test(test_pretty_and_defaults),
        cmocka_unit_test(test_float_text),
        cmocka_unit_test(test_timestamp_text),
        cmocka_unit_test(test_accepted_forms),
        cmocka_unit_test(test_accepted_edges),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_values_limit),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_parse_alloc_failures),
        cmocka_unit_test(test_print_alloc_failures),
        cmocka_unit_test(test_print_refusals),
        cmocka_unit_test(test_print_depth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
