/* Framing: the incremental decoder gives the same records for any
 * chunking, refuses bad lengths before allocating, and the Frame codec
 * refuses what is not a frame. */
#include "test-util.h"

#include <string.h>

#include "bytes.h"
#include "err.h"
#include "frame.h"

#define MAX_RECORDS 16

typedef struct {
    uint8_t *rec[MAX_RECORDS];
    size_t len[MAX_RECORDS];
    size_t n;
} records_t;

static void records_free(records_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        am_free(r->rec[i]);
    r->n = 0;
}

/* Build a stream of n records with random bodies of random lengths. */
static uint8_t *make_stream(uint64_t *rng, size_t prefix, size_t min,
                            size_t max, records_t *want, size_t *stream_len)
{
    size_t n = 1 + t_uniform(rng, MAX_RECORDS), total = 0, pos = 0;
    uint8_t *s;

    for (size_t i = 0; i < n; i++) {
        /* mostly small records, sometimes one near the limit */
        size_t span = t_uniform(rng, 4) == 0 ? max - min + 1
                                             : (max - min + 1 < 300
                                                    ? max - min + 1 : 300);
        want->len[i] = min + t_uniform(rng, span);
        want->rec[i] = am_malloc(want->len[i]);
        assert_non_null(want->rec[i]);
        for (size_t j = 0; j < want->len[i]; j++)
            want->rec[i][j] = (uint8_t)t_rand(rng);
        total += prefix + want->len[i];
    }
    want->n = n;
    s = am_malloc(total);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        if (prefix == 2)
            am_store_be16(s + pos, (uint16_t)want->len[i]);
        else
            am_store_be32(s + pos, (uint32_t)want->len[i]);
        memcpy(s + pos + prefix, want->rec[i], want->len[i]);
        pos += prefix + want->len[i];
    }
    *stream_len = total;
    return s;
}

enum { WHOLE, ONE_BYTE, RANDOM };

static void decode(am_framedec_t *d, const uint8_t *s, size_t len, int mode,
                   uint64_t *rng, records_t *got)
{
    size_t pos = 0;

    while (pos < len) {
        size_t chunk = mode == WHOLE ? len - pos
                       : mode == ONE_BYTE
                           ? 1
                           : 1 + t_uniform(rng, len - pos < 70000
                                                    ? len - pos : 70000);
        size_t off = 0;

        while (off < chunk) {
            size_t used;
            int rc = am_framedec_feed(d, s + pos + off, chunk - off, &used);

            assert_true(rc == 0 || rc == 1);
            assert_true(used <= chunk - off);
            off += used;
            if (rc == 1) {
                assert_true(got->n < MAX_RECORDS);
                assert_int_equal(am_framedec_take(d, &got->rec[got->n],
                                                  &got->len[got->n]), AM_OK);
                got->n++;
            }
        }
        pos += chunk;
    }
}

static void check_chunking(size_t prefix, size_t min, size_t max, int rounds)
{
    uint64_t rng = t_seed();

    for (int r = 0; r < rounds; r++) {
        records_t want = {0};
        size_t len;
        uint8_t *s = make_stream(&rng, prefix, min, max, &want, &len);

        for (int mode = WHOLE; mode <= RANDOM; mode++) {
            records_t got = {0};
            am_framedec_t *d;

            if (mode == ONE_BYTE && len > 300000)
                continue; /* keep the run short; other rounds cover it */
            assert_int_equal(am_framedec_new(&d, prefix, min, max), AM_OK);
            decode(d, s, len, mode, &rng, &got);
            assert_int_equal(got.n, want.n);
            for (size_t i = 0; i < want.n; i++) {
                assert_int_equal(got.len[i], want.len[i]);
                assert_memory_equal(got.rec[i], want.rec[i], want.len[i]);
            }
            records_free(&got);
            am_framedec_free(d);
        }
        records_free(&want);
        am_free(s);
    }
}

static void test_app_frames_any_chunking(void **state)
{
    (void)state;
    check_chunking(AM_FRAME_PREFIX, 1, AM_FRAME_MAX_DEFAULT, 60);
}

static void test_transport_messages_any_chunking(void **state)
{
    (void)state;
    check_chunking(AM_TRANSPORT_PREFIX, 16, 65535, 100);
}

/* Feed an announced length; the hook proves nothing was allocated. */
static int feed_header(am_framedec_t *d, const uint8_t *hdr, size_t len,
                       t_alloc_ctx_t *ctx)
{
    size_t used;
    int rc;

    am_alloc_set_hook(t_alloc_hook, ctx);
    rc = am_framedec_feed(d, hdr, len, &used);
    am_alloc_set_hook(NULL, NULL);
    return rc;
}

static void test_oversize_refused_before_allocation(void **state)
{
    static const struct {
        size_t prefix, min, max;
        uint32_t announced;
        int rc;
    } cases[] = {
        {4, 1, AM_FRAME_MAX_DEFAULT, AM_FRAME_MAX_DEFAULT + 1, AM_ETOOBIG},
        {4, 1, AM_FRAME_MAX_DEFAULT, 0xffffffffu, AM_ETOOBIG},
        {4, 1, AM_FRAME_MAX_CEILING, AM_FRAME_MAX_CEILING + 1, AM_ETOOBIG},
        {4, 1, 64, 0, AM_EPROTO},
        {2, 16, 1000, 1001, AM_ETOOBIG},
        {2, 16, 65535, 15, AM_EPROTO},
    };
    uint8_t hdr[4], more = 0;
    size_t used;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_alloc_ctx_t ctx = {0, 0, 0};
        am_framedec_t *d;

        assert_int_equal(am_framedec_new(&d, cases[i].prefix, cases[i].min,
                                         cases[i].max), AM_OK);
        if (cases[i].prefix == 2)
            am_store_be16(hdr, (uint16_t)cases[i].announced);
        else
            am_store_be32(hdr, cases[i].announced);
        assert_int_equal(feed_header(d, hdr, cases[i].prefix, &ctx),
                         cases[i].rc);
        /* the message names the length and the bound it broke */
        assert_non_null(strstr(am_err_detail(),
                               cases[i].rc == AM_ETOOBIG ? "over limit"
                                                         : "under minimum"));
        assert_int_equal(ctx.calls, 0);
        /* a failed decoder stays failed */
        assert_int_equal(am_framedec_feed(d, &more, 1, &used), AM_ESTATE);
        am_framedec_free(d);
    }
}

static void test_memory_follows_received_bytes(void **state)
{
    uint8_t buf[4 + 100] = {0};
    t_alloc_ctx_t ctx = {0, 0, 0};
    am_framedec_t *d;

    (void)state;
    /* announce the full 1 MiB, send only 100 bytes of it */
    am_store_be32(buf, (uint32_t)AM_FRAME_MAX_DEFAULT);
    assert_int_equal(am_framedec_new(&d, 4, 1, AM_FRAME_MAX_DEFAULT), AM_OK);
    assert_int_equal(feed_header(d, buf, sizeof buf, &ctx), 0);
    assert_true(ctx.largest <= 4096);
    am_framedec_free(d);
}

static void test_decoder_arguments(void **state)
{
    am_framedec_t *d = NULL;
    uint8_t *out;
    size_t len;

    (void)state;
    assert_int_equal(am_framedec_new(&d, 3, 1, 100), AM_EINVAL);
    assert_int_equal(am_framedec_new(&d, 2, 1, 65536), AM_EINVAL);
    assert_int_equal(am_framedec_new(&d, 4, 1, AM_FRAME_MAX_CEILING + 1),
                     AM_EINVAL);
    assert_int_equal(am_framedec_new(&d, 4, 0, 100), AM_EINVAL);
    assert_null(d);
    assert_int_equal(am_framedec_new(&d, 4, 1, 100), AM_OK);
    assert_int_equal(am_framedec_take(d, &out, &len), AM_ESTATE);
    assert_int_equal(am_framedec_set_max(d, AM_FRAME_MAX_CEILING + 1),
                     AM_EINVAL);
    assert_int_equal(am_framedec_set_max(d, 10), AM_OK);
    am_framedec_free(d);
}

static void test_frame_codec(void **state)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *back = NULL;
    Amanat__V1__Ping ping = AMANAT__V1__PING__INIT;
    /* field 99 (unknown), varint 1: a message with no operation set */
    static const uint8_t no_op[] = {0x98, 0x06, 0x01};
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    t_alloc_ctx_t ctx = {0, 0, 0};
    uint8_t *wire;
    size_t len;

    (void)state;
    assert_int_equal(am_frame_encode(&f, AM_FRAME_MAX_DEFAULT, &wire, &len),
                     AM_EPROTO);
    ping.nonce = 0x0123456789abcdefull;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &ping;
    assert_int_equal(am_frame_encode(&f, 4, &wire, &len), AM_ETOOBIG);
    assert_int_equal(am_frame_encode(&f, AM_FRAME_MAX_DEFAULT, &wire, &len),
                     AM_OK);
    assert_int_equal(am_load_be32(wire), len - 4);
    assert_int_equal(am_frame_parse(wire + 4, len - 4, AM_FRAME_MAX_DEFAULT,
                                    &back), AM_OK);
    assert_int_equal(back->op_case, AMANAT__V1__FRAME__OP_PING);
    assert_int_equal(back->ping->nonce, ping.nonce);
    am_frame_free(back);
    /* over the limit: refused before protobuf-c allocates anything */
    am_alloc_set_hook(t_alloc_hook, &ctx);
    assert_int_equal(am_frame_parse(wire + 4, len - 4, len - 5, &back),
                     AM_ETOOBIG);
    am_alloc_set_hook(NULL, NULL);
    assert_int_equal(ctx.calls, 0);
    am_free(wire);
    assert_int_equal(am_frame_parse(garbage, 0, 100, &back), AM_EPROTO);
    assert_int_equal(am_frame_parse(garbage, sizeof garbage, 100, &back),
                     AM_EPROTO);
    assert_int_equal(am_frame_parse(no_op, sizeof no_op, 100, &back),
                     AM_EPROTO);
    assert_string_equal(am_err_detail(), "frame has no known operation set");
}

/* A frame of 2-byte repeated entries decodes into far more memory than
 * its size: refused by the decode budget, not by the wire limit. */
static void test_decode_budget(void **state)
{
    size_t entries = 100000, inner = 2 * entries, len;
    uint8_t *buf = am_malloc(1 + 4 + inner), *p;
    Amanat__V1__Frame *f = NULL;

    (void)state;
    assert_non_null(buf);
    p = buf;
    *p++ = 0x3a; /* field 7 (receipt_relay), length-delimited */
    for (size_t v = inner; ; v >>= 7) { /* varint length */
        *p++ = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    for (size_t i = 0; i < entries; i++) {
        *p++ = 0x0a; /* evidence: empty message */
        *p++ = 0x00;
    }
    len = (size_t)(p - buf);
    assert_int_equal(am_frame_parse(buf, len, AM_FRAME_MAX_DEFAULT, &f),
                     AM_ETOOBIG);
    assert_null(f);
    assert_non_null(strstr(am_err_detail(), "decodes to over"));
    /* the same shape with few entries is an ordinary frame */
    buf[1] = 20;
    for (size_t i = 0; i < 20; i += 2) {
        buf[2 + i] = 0x0a;
        buf[3 + i] = 0x00;
    }
    assert_int_equal(am_frame_parse(buf, 2 + 20, AM_FRAME_MAX_DEFAULT, &f),
                     AM_OK);
    assert_int_equal(f->receipt_relay->n_evidence, 10);
    am_frame_free(f);
    am_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_frames_any_chunking),
        cmocka_unit_test(test_transport_messages_any_chunking),
        cmocka_unit_test(test_oversize_refused_before_allocation),
        cmocka_unit_test(test_memory_follows_received_bytes),
        cmocka_unit_test(test_decoder_arguments),
        cmocka_unit_test(test_frame_codec),
        cmocka_unit_test(test_decode_budget),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
