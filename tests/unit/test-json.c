/* The proto3 JSON mapping (proto/json.h) on tests/unit/jsontest.proto:
 * exact canonical output, the accepted spellings, a table of refusals
 * with the path each must name, and the size and depth limits.  Random
 * round trips and allocation failures are in test-json-robust.c. */
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
