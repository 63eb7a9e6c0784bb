/* fuzz_json: am_json_parse on untrusted JSON text, read as the top-level
 * message of tests/unit/jsontest.proto (every proto3 field type), and the
 * round trip of whatever it accepts.
 *
 * Input: the JSON text itself.  On a refusal the output is untouched, the
 * code is one json.h allows, and the error names a path from "$" and a
 * reason.  On success the message prints, compact and pretty; the text
 * reads back to a message that encodes to the same protobuf bytes; and
 * printing that one gives the same text again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "fuzz_common.h"
#include "json.h"
#include "jsontest.pb-c.h"

#define ALL (&amanat__jsontest__all_types__descriptor)

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(m);
    buf = malloc(*len + 1);
    AM_FZ_CHECK(buf != NULL);
    AM_FZ_CHECK(protobuf_c_message_pack(m, buf) == *len);
    return buf;
}

static void round_trip(const ProtobufCMessage *m, bool pretty)
{
    ProtobufCMessage *back = NULL;
    am_json_error_t err;
    char *text = NULL, *again = NULL;
    size_t len, again_len, na, nb;
    uint8_t *pa, *pb;

    AM_FZ_CHECK(am_json_print(m, pretty, &text, &len) == 0);
    AM_FZ_CHECK(text != NULL && strlen(text) == len);
    if (len > AM_JSON_MAX) {
        am_free(text);
        return;
    }
    if (am_json_parse(ALL, text, len, &back, &err) != 0) {
        fprintf(stderr, "printed text refused at %s: %s\n%s\n", err.path,
                err.message, text);
        abort();
    }
    pa = pack(m, &na);
    pb = pack(back, &nb);
    AM_FZ_CHECK(na == nb && memcmp(pa, pb, na) == 0);
    AM_FZ_CHECK(am_json_print(back, pretty, &again, &again_len) == 0);
    AM_FZ_CHECK(again_len == len && memcmp(again, text, len) == 0);
    free(pa);
    free(pb);
    am_free(again);
    am_free(text);
    protobuf_c_message_free_unpacked(back, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *const sentinel = (ProtobufCMessage *)(uintptr_t)0x5a5a;
    ProtobufCMessage *m = sentinel;
    am_json_error_t err;
    int rc;

    am_err_clear();
    rc = am_json_parse(ALL, (const char *)data, size, &m, &err);
    if (rc != 0) {
        AM_FZ_CHECK(rc == AM_EPROTO || rc == AM_ETOOBIG || rc == AM_ENOMEM);
        AM_FZ_CHECK(m == sentinel);
        AM_FZ_CHECK(err.path[0] == '$' && err.message[0] != '\0');
        AM_FZ_CHECK(strlen(err.path) < AM_JSON_PATH_MAX);
        AM_FZ_CHECK(am_err_detail()[0] == '$');
        return 0;
    }
    AM_FZ_CHECK(m != sentinel && m != NULL && m->descriptor == ALL);
    AM_FZ_CHECK(err.path[0] == '\0' && err.message[0] == '\0');
    round_trip(m, false);
    round_trip(m, true);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
