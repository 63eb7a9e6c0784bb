/* json_bench [--seconds S] [FILE.json]: what a case message costs to read
 * and write as JSON, on one core.
 *
 * DESIGN.  One thread.  Setup, untimed: the request (default: the
 * emergency disclosure request of docs/examples, about 4 KiB) is read and
 * parsed once; its binary and canonical JSON forms are kept.  Measured,
 * each with a checked untimed operation before and after (bench_run_for):
 *
 *   parse+validate  am_json_parse -> am_validate_case (0 problems checked
 *                   when checked) -> free: what `amanat send` does first;
 *   encode          am_json_print (the text compared when checked);
 *   binary          protobuf unpack of the binary form, for comparison.
 *
 * Figures are printed, never judged (STYLE.md, Tests).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bench.h"
#include "case.pb-c.h"
#include "err.h"
#include "fsutil.h"
#include "json.h"
#include "pb.h"
#include "validate.h"

#define PROG "json_bench"
#define CASE (&amanat__v1__case_message__descriptor)
#define NOW ((int64_t)1795435200) /* 2026-11-23T12:00:00Z, as the examples */

typedef struct {
    char *json;       /* as read */
    size_t json_len;
    char *canon;      /* canonical, compact */
    size_t canon_len;
    uint8_t *bin;
    size_t bin_len;
} input_t;

static int parse_validate_op(void *ctx, bool checked)
{
    input_t *in = ctx;
    ProtobufCMessage *m = NULL;
    am_problems_t p = AM_PROBLEMS_INIT;
    am_json_error_t err;
    int n, rc;

    if ((rc = am_json_parse(CASE, in->json, in->json_len, &m, &err)) != 0)
        return bench_fail(PROG, "parse", rc);
    n = am_validate_case((const Amanat__V1__CaseMessage *)m, NOW, &p);
    protobuf_c_message_free_unpacked(m, NULL);
    am_problems_free(&p);
    if (n < 0)
        return bench_fail(PROG, "validate", n);
    return checked && n != 0 ? bench_fail(PROG, "problems in the input", 1)
                             : 0;
}

static int encode_op(void *ctx, bool checked)
{
    input_t *in = ctx;
    ProtobufCMessage *m = NULL;
    char *text;
    size_t len;
    int rc;

    if ((rc = am_pb_unpack(CASE, "case", in->bin, in->bin_len, 1u << 20,
                           &m)) != 0)
        return bench_fail(PROG, "unpack", rc);
    rc = am_json_print(m, false, &text, &len);
    am_pb_free(m);
    if (rc != 0)
        return bench_fail(PROG, "print", rc);
    rc = checked && (len != in->canon_len || memcmp(text, in->canon, len))
             ? bench_fail(PROG, "printed text differs", 1)
             : 0;
    am_free(text);
    return rc;
}

static int unpack_op(void *ctx, bool checked)
{
    input_t *in = ctx;
    ProtobufCMessage *m = NULL;
    int rc;

    (void)checked;
    if ((rc = am_pb_unpack(CASE, "case", in->bin, in->bin_len, 1u << 20,
                           &m)) != 0)
        return bench_fail(PROG, "unpack", rc);
    am_pb_free(m);
    return 0;
}

static int setup(const char *path, input_t *in)
{
    ProtobufCMessage *m = NULL;
    am_json_error_t err;
    uint8_t *b;
    int rc;

    if ((rc = am_file_read(path, AM_JSON_MAX, &b, &in->json_len, NULL)) != 0)
        return bench_fail(PROG, path, rc);
    in->json = (char *)b;
    if ((rc = am_json_parse(CASE, in->json, in->json_len, &m, &err)) != 0)
        return bench_fail(PROG, err.message, rc);
    in->bin_len = protobuf_c_message_get_packed_size(m);
    if ((in->bin = am_malloc(in->bin_len + 1)) == NULL ||
        (rc = am_json_print(m, false, &in->canon, &in->canon_len)) != 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        return bench_fail(PROG, "setup", in->bin ? rc : AM_ENOMEM);
    }
    protobuf_c_message_pack(m, in->bin);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

static void row(const char *what, const bench_run_t *r, size_t bytes)
{
    double ops = (double)r->ops / r->secs;

    printf("%-18s %12.0f %9.2f %9.1f\n", what, ops, 1e6 / ops,
           ops * (double)bytes / 1e6);
}

int main(int argc, char **argv)
{
    double seconds = 2.0;
    const char *path = AM_SOURCE_DIR "/docs/examples/emergency.json";
    input_t in = {0};
    bench_run_t pv, enc, un;
    int rc;

    if (argc > 1 && argv[argc - 1][0] != '-' &&
        (argc < 3 || strcmp(argv[argc - 2], "--seconds") != 0))
        path = argv[--argc];
    if (bench_parse_seconds(PROG, argc, argv, &seconds) != 0)
        return 2;
    if (setup(path, &in) != 0 ||
        (rc = bench_run_for(PROG, parse_validate_op, &in, seconds, &pv)) ||
        (rc = bench_run_for(PROG, encode_op, &in, seconds, &enc)) ||
        (rc = bench_run_for(PROG, unpack_op, &in, seconds, &un)))
        return 1;
    printf("json_bench: a case message as JSON (%s)\n", path);
    bench_print_host(seconds);
    printf("size:  %zu bytes of JSON as given, %zu canonical, %zu binary\n\n",
           in.json_len, in.canon_len, in.bin_len);
    printf("%-18s %12s %9s %9s\n", "operation", "per second", "us each",
           "MB/s");
    row("parse+validate", &pv, in.json_len);
    row("encode (print)", &enc, in.canon_len);
    row("binary unpack", &un, in.bin_len);
    am_free(in.json);
    am_free(in.canon);
    am_free(in.bin);
    return 0;
}
