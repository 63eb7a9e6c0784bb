#include "json-check.h"

#include "test-util.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"

all_t *parse_ok(const char *json)
{
    ProtobufCMessage *m = NULL;
    am_json_error_t err;
    int rc = am_json_parse(ALL, json, strlen(json), &m, &err);

    if (rc != 0)
        fail_msg("refused %s: %s: %s", json, err.path, err.message);
    assert_string_equal(err.path, "");
    return (all_t *)m;
}

char *print_ok(const ProtobufCMessage *m, bool pretty)
{
    char *out = NULL;
    size_t len = 0;

    if (am_json_print(m, pretty, &out, &len) != 0)
        fail_msg("print: %s", am_err_detail());
    assert_int_equal(strlen(out), len);
    return out;
}

uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(m);
    buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(m, buf), *len);
    return buf;
}

void assert_same_message(const ProtobufCMessage *a,
                                const ProtobufCMessage *b)
{
    size_t na, nb;
    uint8_t *pa = pack(a, &na), *pb = pack(b, &nb);

    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na);
    free(pa);
    free(pb);
}
