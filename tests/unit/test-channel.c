/* Channel: frames of any size cross a real XX session in any chunking;
 * tampering, oversize frames and bad transport lengths end the channel. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "channel.h"
#include "err.h"
#include "frame.h"

#define PRO ((const uint8_t *)AM_NOISE_PROLOGUE)
#define PRO_LEN (sizeof AM_NOISE_PROLOGUE - 1)

/* A real handshake; send[0] and recv[0] are the initiator's. */
static void handshake(am_noise_cs_t *send[2], am_noise_cs_t *recv[2])
{
    am_noise_hs_t *hs[2];
    uint8_t sk[32], msg[256], pl[64];
    size_t len, plen;

    for (int i = 0; i < 2; i++) {
        randombytes_buf(sk, sizeof sk);
        assert_int_equal(am_noise_hs_new(&hs[i], AM_NOISE_PROTOCOL,
                                         i ? AM_NOISE_RESPONDER
                                           : AM_NOISE_INITIATOR,
                                         PRO, PRO_LEN), AM_OK);
        assert_int_equal(am_noise_hs_set_local_static(hs[i], sk), AM_OK);
        assert_int_equal(am_noise_hs_start(hs[i]), AM_OK);
    }
    for (int m = 0; m < 3; m++) {
        assert_int_equal(am_noise_hs_write(hs[m % 2], NULL, 0, msg,
                                           sizeof msg, &len), AM_OK);
        assert_int_equal(am_noise_hs_read(hs[1 - m % 2], msg, len, pl,
                                          sizeof pl, &plen), AM_OK);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(am_noise_hs_split(hs[i], &send[i], &recv[i]), AM_OK);
        am_noise_hs_free(hs[i]);
    }
}

/* A channel per side: c[0] initiator. */
static void chan_pair(am_chan_t *c[2], size_t frame_max)
{
    am_noise_cs_t *send[2], *recv[2];

    handshake(send, recv);
    for (int i = 0; i < 2; i++)
        assert_int_equal(am_chan_new(&c[i], send[i], recv[i], frame_max),
                         AM_OK);
}

static uint8_t *seal(am_chan_t *c, const uint8_t *body, size_t len,
                     size_t *wire_len)
{
    size_t cap = am_chan_sealed_len(len);
    uint8_t *wire = am_malloc(cap);

    assert_non_null(wire);
    assert_int_equal(am_chan_seal(c, body, len, wire, cap, wire_len), AM_OK);
    assert_int_equal(*wire_len, cap);
    return wire;
}

/* Feed wire to c in random chunks; expect exactly one frame equal to body. */
static void receive_one(am_chan_t *c, const uint8_t *wire, size_t wire_len,
                        const uint8_t *body, size_t len, uint64_t *rng)
{
    size_t pos = 0, frames = 0;

    while (pos < wire_len) {
        size_t chunk = 1 + t_uniform(rng, wire_len - pos), off = 0;

        if (t_uniform(rng, 8) == 0)
            chunk = 1;
        while (off < chunk) {
            size_t used;
            int rc = am_chan_feed(c, wire + pos + off, chunk - off, &used);

            assert_true(rc == 0 || rc == 1);
            off += used;
            if (rc == 1) {
                uint8_t *got;
                size_t got_len;

                assert_int_equal(am_chan_take(c, &got, &got_len), AM_OK);
                assert_int_equal(got_len, len);
                assert_memory_equal(got, body, len);
                am_free(got);
                frames++;
            }
        }
        pos += chunk;
    }
    assert_int_equal(frames, 1);
}

static void test_frames_cross_transport_messages(void **state)
{
    static const size_t sizes[] = {1, 2, 100, 65514, 65515, 65516, 65519,
                                   65520, 131038, 131039, 200000,
                                   AM_FRAME_MAX_DEFAULT};
    uint64_t rng = t_seed();
    am_chan_t *c[2];

    (void)state;
    chan_pair(c, AM_FRAME_MAX_DEFAULT);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *body = am_malloc(sizes[i]), *wire;
        size_t wire_len;

        assert_non_null(body);
        randombytes_buf(body, sizes[i]);
        for (int dir = 0; dir < 2; dir++) {
            wire = seal(c[dir], body, sizes[i], &wire_len);
            receive_one(c[1 - dir], wire, wire_len, body, sizes[i], &rng);
            am_free(wire);
        }
        am_free(body);
    }
    am_chan_free(c[0]);
    am_chan_free(c[1]);
}

static void test_many_frames_in_one_feed(void **state)
{
    uint8_t *wire = NULL, body[300], *got;
    size_t total = 0, used, pos = 0, got_len, n = 0;
    am_chan_t *c[2];

    (void)state;
    chan_pair(c, 4096);
    for (size_t i = 1; i <= 20; i++) {
        size_t len;
        uint8_t *one;

        memset(body, (int)i, sizeof body);
        one = seal(c[0], body, i * 10, &len);
        wire = realloc(wire, total + len);
        assert_non_null(wire);
        memcpy(wire + total, one, len);
        total += len;
        am_free(one);
    }
    while (pos < total || n < 20) {
        int rc = am_chan_feed(c[1], wire + pos, total - pos, &used);

        pos += used;
        if (rc == 0)
            break;
        assert_int_equal(rc, 1);
        assert_int_equal(am_chan_take(c[1], &got, &got_len), AM_OK);
        n++;
        assert_int_equal(got_len, n * 10);
        assert_int_equal(got[0], n);
        am_free(got);
    }
    assert_int_equal(n, 20);
    free(wire);
    am_chan_free(c[0]);
    am_chan_free(c[1]);
}

static void test_tampered_wire_fails(void **state)
{
    uint8_t body[100] = {7}, *wire;
    size_t wire_len, used;

    (void)state;
    for (size_t at = 0; at < 2 + 4 + 100 + 16; at += 3) {
        am_chan_t *c[2];
        int rc;

        chan_pair(c, 4096);
        wire = seal(c[0], body, sizeof body, &wire_len);
        wire[at] ^= 0x10;
        rc = am_chan_feed(c[1], wire, wire_len, &used);
        if (at < 2) {
            /* a damaged length: either too short to be a message, or the
             * message is cut at the wrong place and fails its tag later */
            assert_true(rc == AM_EPROTO || rc == AM_ECRYPTO || rc == 0);
        } else {
            assert_int_equal(rc, AM_ECRYPTO);
        }
        if (rc < 0)
            assert_int_equal(am_chan_feed(c[1], wire, 1, &used), AM_ESTATE);
        am_free(wire);
        am_chan_free(c[0]);
        am_chan_free(c[1]);
    }
}

static void test_oversize_frame_refused(void **state)
{
    uint8_t body[2000] = {0}, *wire, *big;
    size_t wire_len, used, big_len;
    t_alloc_ctx_t ctx = {0, 0, 0};
    am_chan_t *c[2];

    (void)state;
    chan_pair(c, 1000);
    /* the sender has a larger limit than the receiver */
    wire = seal(c[0], body, sizeof body, &wire_len);
    am_alloc_set_hook(t_alloc_hook, &ctx);
    assert_int_equal(am_chan_feed(c[1], wire, wire_len, &used), AM_ETOOBIG);
    am_alloc_set_hook(NULL, NULL);
    /* one allocation: the transport message; the frame body never was */
    assert_int_equal(ctx.calls, 1);
    am_free(wire);
    /* a transport length below the tag size */
    big_len = 2;
    big = am_malloc(big_len);
    assert_non_null(big);
    am_store_be16(big, 15);
    assert_int_equal(am_chan_feed(c[0], big, big_len, &used), AM_EPROTO);
    am_free(big);
    am_chan_free(c[0]);
    am_chan_free(c[1]);
}

/* Another implementation may pack several frames into one transport
 * message; each is returned by its own call, the last ones with no input. */
static void test_packed_frames_in_one_message(void **state)
{
    static const uint8_t stream[] = {0, 0, 0, 2, 0x4a, 0x00, /* ping */
                                     0, 0, 0, 2, 0x52, 0x00, /* pong */
                                     0, 0, 0, 1, 0x7f};      /* 1 byte */
    am_noise_cs_t *send[2], *recv[2];
    uint8_t wire[2 + sizeof stream + AM_NOISE_TAGLEN], *body;
    size_t ct_len, used, body_len, frames = 0, pos = 0;
    am_chan_t *rx;
    int rc;

    (void)state;
    handshake(send, recv);
    assert_int_equal(am_noise_cs_encrypt(send[0], NULL, 0, stream,
                                         sizeof stream, wire + 2,
                                         sizeof wire - 2, &ct_len), AM_OK);
    am_store_be16(wire, (uint16_t)ct_len);
    assert_int_equal(am_chan_new(&rx, NULL, recv[1], 64), AM_OK);
    while ((rc = am_chan_feed(rx, wire + pos, sizeof wire - pos, &used)) == 1) {
        pos += used;
        assert_int_equal(am_chan_take(rx, &body, &body_len), AM_OK);
        assert_int_equal(body_len, frames == 2 ? 1 : 2);
        assert_int_equal(body[0], frames == 0 ? 0x4a : frames == 1 ? 0x52 : 0x7f);
        am_free(body);
        frames++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(frames, 3);
    am_chan_free(rx);
    am_noise_cs_free(send[0]);
    am_noise_cs_free(send[1]);
    am_noise_cs_free(recv[0]);
}

static void test_channel_arguments(void **state)
{
    am_noise_cs_t *send[2], *recv[2];
    am_chan_t *c = NULL;

    (void)state;
    handshake(send, recv);
    assert_int_equal(am_chan_new(&c, send[0], send[0], 64), AM_EINVAL);
    assert_int_equal(am_chan_new(&c, NULL, NULL, 64), AM_EINVAL);
    assert_int_equal(am_chan_new(&c, send[0], recv[0], 0), AM_EINVAL);
    assert_int_equal(am_chan_new(&c, send[0], recv[0],
                                 AM_FRAME_MAX_CEILING + 1), AM_EINVAL);
    assert_null(c);
    assert_int_equal(am_chan_sealed_len(AM_FRAME_MAX_CEILING + 1), SIZE_MAX);
    assert_int_equal(am_chan_sealed_len(SIZE_MAX - 2), SIZE_MAX);
    assert_int_equal(am_chan_sealed_len(65515), 65519 + 18);
    assert_int_equal(am_chan_sealed_len(65516), 65520 + 36);
    for (int i = 0; i < 2; i++) {
        am_noise_cs_free(send[i]);
        am_noise_cs_free(recv[i]);
    }
}

static void test_seal_frame(void **state)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *back;
    Amanat__V1__Error err = AMANAT__V1__ERROR__INIT;
    uint8_t *wire, *body;
    size_t wire_len, used, body_len;
    am_chan_t *c[2];

    (void)state;
    chan_pair(c, AM_FRAME_MAX_DEFAULT);
    err.code = AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT;
    err.message = "recipient \"DE-BKA1\": unknown agency";
    f.op_case = AMANAT__V1__FRAME__OP_ERROR;
    f.error = &err;
    assert_int_equal(am_chan_seal_frame(c[1], &f, AM_FRAME_MAX_DEFAULT, &wire,
                                        &wire_len), AM_OK);
    assert_int_equal(am_chan_feed(c[0], wire, wire_len, &used), 1);
    assert_int_equal(used, wire_len);
    assert_int_equal(am_chan_take(c[0], &body, &body_len), AM_OK);
    assert_int_equal(am_frame_parse(body, body_len, AM_FRAME_MAX_DEFAULT,
                                    &back), AM_OK);
    assert_int_equal(back->op_case, AMANAT__V1__FRAME__OP_ERROR);
    assert_string_equal(back->error->message, err.message);
    am_frame_free(back);
    am_free(body);
    am_free(wire);
    am_chan_free(c[0]);
    am_chan_free(c[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_cross_transport_messages),
        cmocka_unit_test(test_many_frames_in_one_feed),
        cmocka_unit_test(test_tampered_wire_fails),
        cmocka_unit_test(test_oversize_frame_refused),
        cmocka_unit_test(test_packed_frames_in_one_message),
        cmocka_unit_test(test_channel_arguments),
        cmocka_unit_test(test_seal_frame),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
