/* Noise engine: the product handshake end to end, and every way a peer or
 * a caller can get it wrong failing closed, with secrets wiped. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "err.h"
#include "noise.h"
#include "noise_internal.h"

#define PRO ((const uint8_t *)AM_NOISE_PROLOGUE)
#define PRO_LEN (sizeof AM_NOISE_PROLOGUE - 1)

typedef struct {
    am_noise_hs_t *hs[2]; /* initiator, responder */
    uint8_t sk[2][32], pk[2][32];
    uint8_t msg[3][512];
    size_t msg_len[3];
} xx_t;

static void xx_new(xx_t *x, const char *pro_i, const char *pro_r)
{
    const char *pro[2] = {pro_i, pro_r};

    memset(x, 0, sizeof *x);
    for (int i = 0; i < 2; i++) {
        randombytes_buf(x->sk[i], 32);
        assert_int_equal(crypto_scalarmult_base(x->pk[i], x->sk[i]), 0);
        assert_int_equal(am_noise_hs_new(&x->hs[i], AM_NOISE_PROTOCOL,
                                         i ? AM_NOISE_RESPONDER
                                           : AM_NOISE_INITIATOR,
                                         (const uint8_t *)pro[i],
                                         strlen(pro[i])),
                         AM_OK);
        assert_int_equal(am_noise_hs_set_local_static(x->hs[i], x->sk[i]),
                         AM_OK);
        assert_int_equal(am_noise_hs_start(x->hs[i]), AM_OK);
    }
}

static void xx_free(xx_t *x)
{
    am_noise_hs_free(x->hs[0]);
    am_noise_hs_free(x->hs[1]);
}

/* Message m (0..2) from its sender; flip bit 'flip' (or -1) in transit;
 * returns the receiver's read result. */
static int xx_step(xx_t *x, int m, long flip)
{
    static const uint8_t payload[] = "certificate";
    am_noise_hs_t *from = x->hs[m % 2], *to = x->hs[1 - m % 2];
    uint8_t got[512];
    size_t got_len = 0;
    int rc;

    assert_int_equal(am_noise_hs_action(from), AM_NOISE_ACTION_WRITE);
    rc = am_noise_hs_write(from, m ? payload : NULL, m ? sizeof payload : 0,
                           x->msg[m], sizeof x->msg[m], &x->msg_len[m]);
    if (rc != 0)
        return rc;
    if (flip >= 0)
        x->msg[m][flip / 8] ^= (uint8_t)(1u << (flip % 8));
    rc = am_noise_hs_read(to, x->msg[m], x->msg_len[m], got, sizeof got,
                          &got_len);
    if (rc == 0 && flip < 0) {
        assert_int_equal(got_len, m ? sizeof payload : 0);
        if (m)
            assert_memory_equal(got, payload, sizeof payload);
    }
    return rc;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static void assert_wiped(const am_noise_hs_t *hs)
{
    assert_int_equal(am_noise_hs_action(hs), AM_NOISE_ACTION_FAILED);
    assert_true(all_zero(hs->s_sk, sizeof hs->s_sk));
    assert_true(all_zero(hs->e_sk, sizeof hs->e_sk));
    assert_true(all_zero(hs->ss.ck, sizeof hs->ss.ck));
    assert_true(all_zero(hs->ss.h, sizeof hs->ss.h));
    assert_true(all_zero(hs->ss.cs.k, sizeof hs->ss.cs.k));
    assert_true(all_zero((const uint8_t *)hs->psk, sizeof hs->psk));
}

static void split_both(xx_t *x, am_noise_cs_t *cs[2][2])
{
    for (int i = 0; i < 2; i++) {
        assert_int_equal(am_noise_hs_action(x->hs[i]), AM_NOISE_ACTION_SPLIT);
        assert_int_equal(am_noise_hs_split(x->hs[i], &cs[i][0], &cs[i][1]),
                         AM_OK);
        assert_non_null(cs[i][0]);
        assert_non_null(cs[i][1]);
    }
}

static void free_cs(am_noise_cs_t *cs[2][2])
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            am_noise_cs_free(cs[i][j]);
}

static void transport_ok(am_noise_cs_t *send, am_noise_cs_t *recv,
                         size_t len)
{
    uint8_t pt[256], ct[256 + AM_NOISE_TAGLEN], back[256];
    size_t ct_len, back_len;

    randombytes_buf(pt, len);
    assert_int_equal(am_noise_cs_encrypt(send, NULL, 0, pt, len, ct,
                                         sizeof ct, &ct_len), AM_OK);
    assert_int_equal(ct_len, len + AM_NOISE_TAGLEN);
    assert_int_equal(am_noise_cs_decrypt(recv, NULL, 0, ct, ct_len, back,
                                         sizeof back, &back_len), AM_OK);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, pt, len);
}

static void test_xx_roundtrip(void **state)
{
    am_noise_cs_t *cs[2][2];
    uint8_t h0[64], h1[64], rs[32];
    size_t l0, l1;
    xx_t x;

    (void)state;
    xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
    for (int m = 0; m < 3; m++)
        assert_int_equal(xx_step(&x, m, -1), AM_OK);
    assert_int_equal(x.msg_len[0], 32); /* e, empty payload, no key yet */
    split_both(&x, cs);
    assert_int_equal(am_noise_hs_action(x.hs[0]), AM_NOISE_ACTION_DONE);
    /* each side learnt the other's real static key */
    assert_int_equal(am_noise_hs_remote_static(x.hs[0], rs), AM_OK);
    assert_memory_equal(rs, x.pk[1], 32);
    assert_int_equal(am_noise_hs_remote_static(x.hs[1], rs), AM_OK);
    assert_memory_equal(rs, x.pk[0], 32);
    assert_int_equal(am_noise_hs_hash(x.hs[0], h0, &l0), AM_OK);
    assert_int_equal(am_noise_hs_hash(x.hs[1], h1, &l1), AM_OK);
    assert_int_equal(l0, 64);
    assert_memory_equal(h0, h1, 64);
    /* the split wiped the handshake's secrets */
    assert_true(all_zero(x.hs[0]->ss.ck, sizeof x.hs[0]->ss.ck));
    assert_true(all_zero(x.hs[0]->e_sk, sizeof x.hs[0]->e_sk));
    for (size_t len = 0; len < 200; len += 37) {
        transport_ok(cs[0][0], cs[1][1], len); /* initiator -> responder */
        transport_ok(cs[1][0], cs[0][1], len); /* responder -> initiator */
    }
    free_cs(cs);
    xx_free(&x);
}

/* One flipped bit anywhere in any handshake message: the handshake fails
 * cleanly at the first authenticated read.  Message 1 (-> e) carries no
 * tag in XX, so its damage is caught when the initiator reads message 2. */
static void test_flip_each_handshake_message(void **state)
{
    (void)state;
    for (int m = 0; m < 3; m++) {
        size_t len;
        xx_t probe;

        xx_new(&probe, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
        for (int k = 0; k <= m; k++)
            assert_int_equal(xx_step(&probe, k, -1), AM_OK);
        len = probe.msg_len[m];
        xx_free(&probe);
        for (size_t byte = 0; byte < len; byte++) {
            long bit = (long)(byte * 8 + byte % 8);
            int rc = AM_OK, k, failed_side;
            xx_t x;

            xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
            for (k = 0; k < 3 && rc == AM_OK; k++)
                rc = xx_step(&x, k, k == m ? bit : -1);
            assert_true(rc == AM_ECRYPTO || rc == AM_EKEY);
            failed_side = 1 - (k - 1) % 2; /* the reader of message k-1 */
            assert_int_equal(k - 1, m == 0 ? 1 : m);
            assert_wiped(x.hs[failed_side]);
            xx_free(&x);
        }
    }
}

static void test_truncated_message(void **state)
{
    (void)state;
    for (size_t cut = 0; cut < 96; cut += 5) {
        uint8_t out[64];
        size_t out_len;
        xx_t x;
        int rc;

        xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
        assert_int_equal(xx_step(&x, 0, -1), AM_OK);
        assert_int_equal(am_noise_hs_write(x.hs[1], NULL, 0, x.msg[1],
                                           sizeof x.msg[1], &x.msg_len[1]),
                         AM_OK);
        assert_int_equal(x.msg_len[1], 96); /* e, s+tag, tag */
        rc = am_noise_hs_read(x.hs[0], x.msg[1], cut, out, sizeof out,
                              &out_len);
        assert_true(rc == AM_EPROTO || rc == AM_ECRYPTO);
        assert_wiped(x.hs[0]);
        /* nothing works on a failed handshake */
        assert_int_equal(am_noise_hs_read(x.hs[0], x.msg[1], x.msg_len[1], out,
                                          sizeof out, &out_len), AM_ESTATE);
        xx_free(&x);
    }
}

static void test_wrong_prologue(void **state)
{
    xx_t x;

    (void)state;
    xx_new(&x, AM_NOISE_PROLOGUE, "amanat/2");
    assert_int_equal(xx_step(&x, 0, -1), AM_OK);
    assert_int_equal(xx_step(&x, 1, -1), AM_ECRYPTO);
    assert_string_equal(am_err_detail(), "handshake message 2: "
                        "authentication tag did not verify (nonce 0)");
    assert_wiped(x.hs[0]);
    xx_free(&x);
}

static void test_low_order_ephemeral(void **state)
{
    uint8_t zero_e[32] = {0}, out[128];
    size_t out_len;
    xx_t x;

    (void)state;
    xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
    assert_int_equal(am_noise_hs_read(x.hs[1], zero_e, 32, out, sizeof out,
                                      &out_len), AM_OK);
    /* ee with an all-zero point yields an all-zero secret: refused */
    assert_int_equal(am_noise_hs_write(x.hs[1], NULL, 0, out, sizeof out,
                                       &out_len), AM_EKEY);
    assert_string_equal(am_err_detail(), "peer public key is a low-order point");
    assert_wiped(x.hs[1]);
    xx_free(&x);
}

static void test_oversized_messages(void **state)
{
    static uint8_t big[AM_NOISE_MSG_MAX + 2], out[AM_NOISE_MSG_MAX + 2];
    am_noise_cs_t *cs[2][2];
    size_t out_len;
    xx_t x;

    (void)state;
    xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
    /* a payload that cannot fit: refused, state unchanged */
    assert_int_equal(am_noise_hs_write(x.hs[0], big, AM_NOISE_MSG_MAX - 31,
                                       out, sizeof out, &out_len),
                     AM_ETOOBIG);
    assert_int_equal(am_noise_hs_action(x.hs[0]), AM_NOISE_ACTION_WRITE);
    assert_int_equal(am_noise_hs_write(x.hs[0], big, AM_NOISE_MSG_MAX - 32,
                                       out, sizeof out, &out_len),
                     AM_OK);
    assert_int_equal(out_len, AM_NOISE_MSG_MAX);
    /* a peer's message over 65535 bytes fails the reader */
    assert_int_equal(am_noise_hs_read(x.hs[1], big, AM_NOISE_MSG_MAX + 1, big,
                                      sizeof big, &out_len), AM_ETOOBIG);
    assert_wiped(x.hs[1]);
    xx_free(&x);

    xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
    for (int m = 0; m < 3; m++)
        assert_int_equal(xx_step(&x, m, -1), AM_OK);
    split_both(&x, cs);
    assert_int_equal(am_noise_cs_encrypt(cs[0][0], NULL, 0, big,
                                         AM_NOISE_PAYLOAD_MAX + 1, big,
                                         sizeof big, &out_len), AM_ETOOBIG);
    assert_int_equal(am_noise_cs_encrypt(cs[0][0], NULL, 0, big,
                                         AM_NOISE_PAYLOAD_MAX, big,
                                         sizeof big, &out_len), AM_OK);
    assert_int_equal(out_len, AM_NOISE_MSG_MAX);
    assert_int_equal(am_noise_cs_decrypt(cs[1][1], NULL, 0, big,
                                         AM_NOISE_MSG_MAX + 1, big,
                                         sizeof big, &out_len), AM_ETOOBIG);
    assert_true(cs[1][1]->failed);
    free_cs(cs);
    xx_free(&x);
}

static void handshake_pair(xx_t *x, am_noise_cs_t *cs[2][2])
{
    xx_new(x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
    for (int m = 0; m < 3; m++)
        assert_int_equal(xx_step(x, m, -1), AM_OK);
    split_both(x, cs);
}

static void test_flip_transport(void **state)
{
    uint8_t pt[24], ct[64], back[64];
    size_t ct_len, back_len;

    (void)state;
    randombytes_buf(pt, sizeof pt);
    for (size_t byte = 0; byte < sizeof pt + AM_NOISE_TAGLEN; byte++) {
        am_noise_cs_t *cs[2][2];
        xx_t x;

        handshake_pair(&x, cs);
        assert_int_equal(am_noise_cs_encrypt(cs[0][0], NULL, 0, pt, sizeof pt,
                                             ct, sizeof ct, &ct_len), AM_OK);
        ct[byte] ^= (uint8_t)(1u << (byte % 8));
        assert_int_equal(am_noise_cs_decrypt(cs[1][1], NULL, 0, ct, ct_len,
                                             back, sizeof back, &back_len),
                         AM_ECRYPTO);
        assert_true(cs[1][1]->failed);
        assert_true(all_zero(cs[1][1]->k, sizeof cs[1][1]->k));
        /* the genuine message no longer opens either: the state is dead */
        ct[byte] ^= (uint8_t)(1u << (byte % 8));
        assert_int_equal(am_noise_cs_decrypt(cs[1][1], NULL, 0, ct, ct_len,
                                             back, sizeof back, &back_len),
                         AM_ESTATE);
        free_cs(cs);
        xx_free(&x);
    }
}

static void test_nonce_exhaustion(void **state)
{
    am_noise_cs_t *cs[2][2];
    uint8_t buf[64];
    size_t n;
    xx_t x;

    (void)state;
    handshake_pair(&x, cs);
    /* 2^64-2 is the last usable nonce; 2^64-1 is reserved and refused */
    assert_int_equal(am_noise_cs_set_nonce(cs[0][0], UINT64_MAX - 1), AM_OK);
    assert_int_equal(am_noise_cs_set_nonce(cs[1][1], UINT64_MAX - 1), AM_OK);
    assert_int_equal(am_noise_cs_encrypt(cs[0][0], NULL, 0, buf, 8, buf,
                                         sizeof buf, &n), AM_OK);
    assert_int_equal(am_noise_cs_decrypt(cs[1][1], NULL, 0, buf, n, buf,
                                         sizeof buf, &n), AM_OK);
    assert_int_equal(am_noise_cs_encrypt(cs[0][0], NULL, 0, buf, 8, buf,
                                         sizeof buf, &n), AM_ENONCE);
    assert_true(cs[0][0]->failed);
    assert_true(all_zero(cs[0][0]->k, sizeof cs[0][0]->k));
    /* going back would reuse a nonce */
    assert_int_equal(am_noise_cs_set_nonce(cs[1][0], 5), AM_OK);
    assert_int_equal(am_noise_cs_set_nonce(cs[1][0], 4), AM_EINVAL);
    assert_int_equal(am_noise_cs_set_nonce(cs[0][1], UINT64_MAX), AM_OK);
    assert_int_equal(am_noise_cs_decrypt(cs[0][1], NULL, 0, buf, 24, buf,
                                         sizeof buf, &n), AM_ENONCE);
    free_cs(cs);
    xx_free(&x);
}

static void test_rekey(void **state)
{
    am_noise_cs_t *cs[2][2];
    uint8_t buf[64];
    size_t n;
    xx_t x;

    (void)state;
    handshake_pair(&x, cs);
    assert_int_equal(am_noise_cs_rekey(cs[0][0]), AM_OK);
    assert_int_equal(am_noise_cs_rekey(cs[1][1]), AM_OK);
    transport_ok(cs[0][0], cs[1][1], 40);
    /* only one side rekeys: the next message no longer opens */
    assert_int_equal(am_noise_cs_rekey(cs[1][0]), AM_OK);
    assert_int_equal(am_noise_cs_encrypt(cs[1][0], NULL, 0, buf, 8, buf,
                                         sizeof buf, &n), AM_OK);
    assert_int_equal(am_noise_cs_decrypt(cs[0][1], NULL, 0, buf, n, buf,
                                         sizeof buf, &n), AM_ECRYPTO);
    free_cs(cs);
    xx_free(&x);
}

static void test_missing_keys(void **state)
{
    uint8_t k[32];
    am_noise_hs_t *hs;

    (void)state;
    randombytes_buf(k, sizeof k);
    /* XX responder must have a static key */
    assert_int_equal(am_noise_hs_new(&hs, AM_NOISE_PROTOCOL,
                                     AM_NOISE_RESPONDER, PRO, PRO_LEN), AM_OK);
    assert_int_equal(am_noise_hs_start(hs), AM_EKEY);
    /* XX transmits the remote static: pinning one beforehand is refused */
    assert_int_equal(am_noise_hs_set_local_static(hs, k), AM_OK);
    assert_int_equal(am_noise_hs_set_remote_static(hs, k), AM_OK);
    assert_int_equal(am_noise_hs_start(hs), AM_EKEY);
    am_noise_hs_free(hs);
    /* IK initiator needs the responder's static key in advance */
    assert_int_equal(am_noise_hs_new(&hs, "Noise_IK_25519_ChaChaPoly_SHA256",
                                     AM_NOISE_INITIATOR, NULL, 0), AM_OK);
    assert_int_equal(am_noise_hs_set_local_static(hs, k), AM_OK);
    assert_int_equal(am_noise_hs_start(hs), AM_EKEY);
    am_noise_hs_free(hs);
    /* a psk pattern without its PSK */
    assert_int_equal(am_noise_hs_new(&hs, "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b",
                                     AM_NOISE_INITIATOR, NULL, 0), AM_OK);
    assert_int_equal(am_noise_hs_start(hs), AM_EKEY);
    assert_int_equal(am_noise_hs_add_psk(hs, k), AM_OK);
    assert_int_equal(am_noise_hs_start(hs), AM_OK);
    assert_int_equal(am_noise_hs_add_psk(hs, k), AM_ESTATE);
    am_noise_hs_free(hs);
}

/* A responder given its key pair (public half derived once by the caller)
 * completes the handshake like one given only the secret; a public half
 * that is not the secret's fails the handshake at the initiator. */
static void test_local_keypair(void **state)
{
    uint8_t wrong[32];
    xx_t x;

    (void)state;
    for (int bad = 0; bad < 2; bad++) {
        xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
        am_noise_hs_free(x.hs[1]);
        assert_int_equal(am_noise_hs_new(&x.hs[1], AM_NOISE_PROTOCOL,
                                         AM_NOISE_RESPONDER, PRO, PRO_LEN),
                         AM_OK);
        memcpy(wrong, x.pk[1], 32);
        wrong[5] ^= 0x10;
        assert_int_equal(am_noise_hs_set_local_keypair(
                             x.hs[1], x.sk[1], bad ? wrong : x.pk[1]),
                         AM_OK);
        assert_int_equal(am_noise_hs_start(x.hs[1]), AM_OK);
        assert_int_equal(am_noise_hs_set_local_keypair(x.hs[1], x.sk[1],
                                                       x.pk[1]), AM_ESTATE);
        assert_int_equal(xx_step(&x, 0, -1), AM_OK);
        if (bad) {
            assert_int_equal(xx_step(&x, 1, -1), AM_ECRYPTO);
            assert_wiped(x.hs[0]);
        } else {
            for (int m = 1; m < 3; m++)
                assert_int_equal(xx_step(&x, m, -1), AM_OK);
        }
        xx_free(&x);
    }
}

static void test_unsupported_names(void **state)
{
    static const char *bad[] = {
        "Noise_XX_448_ChaChaPoly_BLAKE2b", "Noise_XX_25519_AESGCM_SHA256",
        "Noise_XX_25519_ChaChaPoly_BLAKE2s", "Noise_ZZ_25519_ChaChaPoly_SHA256",
        "Noise_XXfallback_25519_ChaChaPoly_SHA256",
        "Noise_NNpsk3_25519_ChaChaPoly_SHA256", /* NN has 2 messages */
        "Noise_XXpsk0+_25519_ChaChaPoly_SHA256", "Noise_XX_25519_ChaChaPoly_",
        "Noise__25519_ChaChaPoly_SHA256", "", "Noise_XX",
    };
    char long_name[300];
    am_noise_hs_t *hs = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(am_noise_hs_new(&hs, bad[i], AM_NOISE_INITIATOR,
                                         NULL, 0), AM_EUNSUPPORTED);
    memset(long_name, 'X', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    memcpy(long_name, "Noise_", 6);
    assert_int_equal(am_noise_hs_new(&hs, long_name, AM_NOISE_INITIATOR, NULL,
                                     0), AM_EUNSUPPORTED);
    assert_null(hs);
}

static void test_short_buffers_leave_state_usable(void **state)
{
    uint8_t out[128], payload[4];
    size_t out_len, plen;
    xx_t x;

    (void)state;
    xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
    assert_int_equal(am_noise_hs_write(x.hs[0], NULL, 0, out, 31, &out_len),
                     AM_ESHORT);
    assert_int_equal(am_noise_hs_write(x.hs[0], payload, sizeof payload, out,
                                       sizeof out, &out_len), AM_OK);
    assert_int_equal(am_noise_hs_read(x.hs[1], out, out_len, payload, 3,
                                      &plen), AM_ESHORT);
    assert_int_equal(am_noise_hs_read(x.hs[1], out, out_len, payload,
                                      sizeof payload, &plen), AM_OK);
    assert_int_equal(plen, sizeof payload);
    xx_free(&x);
}

static void test_alloc_failure(void **state)
{
    t_alloc_ctx_t ctx = {0, 1, 0};
    am_noise_cs_t *cs[2][2] = {{NULL, NULL}, {NULL, NULL}};
    am_noise_hs_t *hs = NULL;
    xx_t x;

    (void)state;
    am_alloc_set_hook(t_alloc_hook, &ctx);
    assert_int_equal(am_noise_hs_new(&hs, AM_NOISE_PROTOCOL,
                                     AM_NOISE_INITIATOR, PRO, PRO_LEN),
                     AM_ENOMEM);
    am_alloc_set_hook(NULL, NULL);
    assert_null(hs);
    xx_new(&x, AM_NOISE_PROLOGUE, AM_NOISE_PROLOGUE);
    for (int m = 0; m < 3; m++)
        assert_int_equal(xx_step(&x, m, -1), AM_OK);
    ctx = (t_alloc_ctx_t){0, 2, 0}; /* the second CipherState */
    am_alloc_set_hook(t_alloc_hook, &ctx);
    assert_int_equal(am_noise_hs_split(x.hs[0], &cs[0][0], &cs[0][1]),
                     AM_ENOMEM);
    am_alloc_set_hook(NULL, NULL);
    assert_null(cs[0][0]);
    assert_wiped(x.hs[0]);
    xx_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xx_roundtrip),
        cmocka_unit_test(test_flip_each_handshake_message),
        cmocka_unit_test(test_truncated_message),
        cmocka_unit_test(test_wrong_prologue),
        cmocka_unit_test(test_low_order_ephemeral),
        cmocka_unit_test(test_oversized_messages),
        cmocka_unit_test(test_flip_transport),
        cmocka_unit_test(test_nonce_exhaustion),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_local_keypair),
        cmocka_unit_test(test_unsupported_names),
        cmocka_unit_test(test_short_buffers_leave_state_usable),
        cmocka_unit_test(test_alloc_failure),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
