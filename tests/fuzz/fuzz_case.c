/* fuzz_case: what `amanat validate` and `amanat send` do with a file an
 * officer (or another system) hands them: JSON text -> CaseMessage ->
 * validation, and the binary form a recipient opens -> CaseMessage ->
 * validation.
 *
 * Input: first byte even: the rest is JSON text; odd: the rest is a
 * serialized CaseMessage (as it comes out of an envelope).  Invariants:
 * the validator never crashes, returns a count that matches its list, and
 * every problem has a path starting at "$" and a non-empty sentence; a
 * message that parses from JSON prints to JSON that parses back to the
 * same binary; validation is a pure function of the message (twice, the
 * same problems).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "case.pb-c.h"
#include "err.h"
#include "fuzz_common.h"
#include "json.h"
#include "pb.h"
#include "validate.h"

#define CASE (&amanat__v1__case_message__descriptor)
#define NOW ((int64_t)1795435200) /* 2026-11-23T12:00:00Z */

static void check_problems(const Amanat__V1__CaseMessage *m)
{
    am_problems_t a = AM_PROBLEMS_INIT, b = AM_PROBLEMS_INIT;
    int n = am_validate_case(m, NOW, &a);

    if (n == AM_ENOMEM)
        goto out;
    AM_FZ_CHECK(n >= 0 && (size_t)n == a.n + a.more);
    for (size_t i = 0; i < a.n; i++) {
        AM_FZ_CHECK(a.items[i].path[0] == '$');
        AM_FZ_CHECK(a.items[i].message[0] != '\0');
    }
    AM_FZ_CHECK(am_validate_case(m, NOW, &b) == n && b.n == a.n);
    for (size_t i = 0; i < a.n; i++)
        AM_FZ_CHECK(strcmp(a.items[i].path, b.items[i].path) == 0 &&
                    strcmp(a.items[i].message, b.items[i].message) == 0);
out:
    am_problems_free(&a);
    am_problems_free(&b);
}

/* JSON printed from m parses back to the same binary (exact: m came from
 * JSON, so it has no unknown fields, which JSON cannot carry); otherwise
 * the re-read message must round-trip exactly. */
static void check_round_trip(const ProtobufCMessage *m, bool exact)
{
    ProtobufCMessage *back = NULL;
    am_json_error_t err;
    char *text = NULL;
    size_t len, na, nb;
    uint8_t *pa, *pb;

    if (am_json_print(m, false, &text, &len) != 0)
        return; /* out of memory, or deeper than the limit */
    if (len <= AM_JSON_MAX) {
        AM_FZ_CHECK(am_json_parse(CASE, text, len, &back, &err) == 0);
        if (!exact) {
            check_round_trip(back, true);
            protobuf_c_message_free_unpacked(back, NULL);
            am_free(text);
            return;
        }
        na = protobuf_c_message_get_packed_size(m);
        nb = protobuf_c_message_get_packed_size(back);
        AM_FZ_CHECK(na == nb);
        pa = malloc(na + 1);
        pb = malloc(nb + 1);
        AM_FZ_CHECK(pa != NULL && pb != NULL);
        protobuf_c_message_pack(m, pa);
        protobuf_c_message_pack(back, pb);
        AM_FZ_CHECK(memcmp(pa, pb, na) == 0);
        free(pa);
        free(pb);
        protobuf_c_message_free_unpacked(back, NULL);
    }
    am_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = NULL;
    am_json_error_t err;

    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0) {
        if (am_json_parse(CASE, (const char *)data + 1, size - 1, &m,
                          &err) != 0) {
            AM_FZ_CHECK(err.path[0] == '$');
            return 0;
        }
        check_problems((const Amanat__V1__CaseMessage *)m);
        check_round_trip(m, true);
        protobuf_c_message_free_unpacked(m, NULL);
        return 0;
    }
    if (am_pb_unpack(CASE, "case message", data + 1, size - 1, 1u << 20,
                     &m) != 0)
        return 0;
    check_problems((const Amanat__V1__CaseMessage *)m);
    check_round_trip(m, false);
    am_pb_free(m);
    return 0;
}
