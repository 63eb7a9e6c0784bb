/* Wycheproof X25519 (x25519_test.json) against the project's three uses of
 * the function, each case through all three:
 *
 *  1. The exact calls: crypto_scalarmult_curve25519() of dh() in
 *     proto/noise.c and crypto_scalarmult() of make_wrap()/unwrap() in
 *     proto/envelope.c.  Output must equal "shared"; a call that fails
 *     (libsodium refuses an all-zero result) counts as refused.
 *  2. The handshake the relay and client run (AM_NOISE_PROTOCOL, XX, with
 *     AM_NOISE_PROLOGUE), on the project's engine: the initiator's
 *     ephemeral is the vector's private key and the responder's ephemeral
 *     in message 2 is the vector's public key, so the "ee" token computes
 *     the vector's DH in dh().  Message 2 is built here with the
 *     SymmetricState functions keyed with the expected "shared": the
 *     engine reads it without error only if its DH gave exactly that
 *     secret, and must fail with AM_EKEY when the secret is all-zero.
 *  3. am_env_seal() with the vector's private key as the wrap ephemeral
 *     (through the params' rng) and its public key as the recipient key:
 *     AM_EKEY exactly when the secret is all-zero, success otherwise.
 *
 * "acceptable" cases: an all-zero shared secret (flag ZeroSharedSecret:
 * low-order public keys) must be REFUSED -- the project's rule.  Every
 * other acceptable case (public keys on the twist, non-canonical encodings
 * with the top bit set) is accepted by libsodium, which masks the top bit
 * as RFC 7748 says, and must give exactly "shared". */
#include "wycheproof.h"

#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "envelope.h"
#include "err.h"
#include "noise_internal.h"

#define X_PROLOGUE ((const uint8_t *)AM_NOISE_PROLOGUE)
#define X_PROLOGUE_LEN (sizeof AM_NOISE_PROLOGUE - 1)
#define X_MSG2_LEN (32 + 32 + AM_NOISE_TAGLEN + AM_NOISE_TAGLEN)

typedef struct {
    uint8_t pub[32], priv[32], shared[32];
    bool zero; /* the expected shared secret is all-zero */
} x_case_t;

/* The keys of the sides that are not the vector's: fixed, made once. */
typedef struct {
    uint8_t ini_s_sk[32], ini_s_pk[32]; /* the engine's static */
    uint8_t rsp_s_sk[32], rsp_s_pk[32]; /* the built responder's static */
    uint8_t sign_pk[32], sign_sk[64];   /* the envelope's sender */
} x_keys_t;

static int x_keys(x_keys_t *k)
{
    uint8_t seed[32];

    memset(k->ini_s_sk, 0x11, sizeof k->ini_s_sk);
    memset(k->rsp_s_sk, 0x22, sizeof k->rsp_s_sk);
    memset(seed, 0x33, sizeof seed);
    if (crypto_scalarmult_curve25519_base(k->ini_s_pk, k->ini_s_sk) != 0 ||
        crypto_scalarmult_curve25519_base(k->rsp_s_pk, k->rsp_s_sk) != 0 ||
        crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed) != 0)
        return -1;
    return 0;
}

/* 1: the two libsodium calls, which must agree with each other. */
static int x_direct(const x_case_t *x, bool *refused, const char **why)
{
    uint8_t a[32], b[32];
    int ra = crypto_scalarmult_curve25519(a, x->priv, x->pub);
    int rb = crypto_scalarmult(b, x->priv, x->pub);

    *refused = ra != 0;
    if ((ra == 0) != (rb == 0))
        *why = "crypto_scalarmult and crypto_scalarmult_curve25519 disagree";
    else if (ra == 0 && (memcmp(a, x->shared, 32) != 0 ||
                         memcmp(b, x->shared, 32) != 0))
        *why = "libsodium's X25519 output differs from \"shared\"";
    else
        return 0;
    return -1;
}

/* XX message 2 (<- e, ee, s, es) from a responder whose ephemeral is the
 * vector's public key, keyed with the vector's "shared"; msg1 is the
 * engine's message 1 (-> e, with an empty payload). */
static int x_message2(const x_keys_t *k, const x_case_t *x,
                      const uint8_t *msg1, size_t msg1_len,
                      uint8_t msg2[static X_MSG2_LEN])
{
    am_noise_ss_t ss;
    uint8_t es[32], none[1];
    int rc = -1;

    if (msg1_len != 32)
        return -1;
    if (am_ss_init(&ss, AM_NOISE_HASH_BLAKE2B, AM_NOISE_PROTOCOL) != 0 ||
        am_ss_mix_hash(&ss, X_PROLOGUE, X_PROLOGUE_LEN) != 0 ||
        am_ss_mix_hash(&ss, msg1, 32) != 0 ||
        am_ss_decrypt_and_hash(&ss, msg1 + 32, 0, none) != 0 ||
        am_ss_mix_hash(&ss, x->pub, 32) != 0 ||
        am_ss_mix_key(&ss, x->shared, 32) != 0 ||
        am_ss_encrypt_and_hash(&ss, k->rsp_s_pk, 32, msg2 + 32) != 0 ||
        crypto_scalarmult_curve25519(es, k->rsp_s_sk, msg1) != 0 ||
        am_ss_mix_key(&ss, es, 32) != 0 ||
        am_ss_encrypt_and_hash(&ss, none, 0, msg2 + 80) != 0)
        goto out;
    memcpy(msg2, x->pub, 32);
    rc = 0;
out:
    am_ss_wipe(&ss);
    sodium_memzero(es, sizeof es);
    return rc;
}

/* 2: the engine as initiator reads that message 2; *read_rc is its
 * answer.  -1 when the handshake could not be set up. */
static int x_noise(const x_keys_t *k, const x_case_t *x, int *read_rc)
{
    am_noise_hs_t *hs = NULL;
    uint8_t msg1[64], msg2[X_MSG2_LEN], payload[16];
    size_t msg1_len = 0, payload_len = 0;
    int rc = -1;

    if (am_noise_hs_new(&hs, AM_NOISE_PROTOCOL, AM_NOISE_INITIATOR,
                        X_PROLOGUE, X_PROLOGUE_LEN) != 0)
        return -1;
    if (am_noise_hs_set_local_keypair(hs, k->ini_s_sk, k->ini_s_pk) != 0 ||
        am_noise_hs_set_fixed_ephemeral(hs, x->priv) != 0 ||
        am_noise_hs_start(hs) != 0 ||
        am_noise_hs_write(hs, NULL, 0, msg1, sizeof msg1, &msg1_len) != 0 ||
        x_message2(k, x, msg1, msg1_len, msg2) != 0)
        goto out;
    *read_rc = am_noise_hs_read(hs, msg2, sizeof msg2, payload,
                                sizeof payload, &payload_len);
    rc = 0;
out:
    am_noise_hs_free(hs);
    return rc;
}

/* am_env_seal() draws the message id, the nonce and the content key, then
 * one ephemeral per recipient: the second 32-byte draw is the ephemeral. */
typedef struct {
    const uint8_t *eph;
    unsigned draws32;
} x_rng_t;

static void x_rng(void *ctx, uint8_t *buf, size_t n)
{
    x_rng_t *r = ctx;

    if (n == 32 && r->draws32++ == 1)
        memcpy(buf, r->eph, 32);
    else
        memset(buf, 0x5a, n);
}

/* 3: one sealed envelope to the vector's public key; *seal_rc. */
static void x_envelope(const x_keys_t *k, const x_case_t *x, int *seal_rc)
{
    static const uint8_t body[] = "wycheproof";
    x_rng_t r = {x->priv, 0};
    am_env_recipient_t rcpt = {"DE-BKA", x->pub, 0};
    am_env_params_t p = {"PK-NCCIA", 1, k->sign_sk, 1700000000, 1700003600,
                         AM_PRIORITY_ROUTINE, x_rng, &r};
    uint8_t *out = NULL;
    size_t out_len = 0;

    *seal_rc = am_env_seal(&p, &rcpt, 1, body, sizeof body, &out, &out_len);
    am_free(out);
}

static int x_load(const json_t *tc, x_case_t *x)
{
    if (wp_hex_fixed(tc, "public", x->pub, 32) != 0 ||
        wp_hex_fixed(tc, "private", x->priv, 32) != 0 ||
        wp_hex_fixed(tc, "shared", x->shared, 32) != 0)
        return -1;
    x->zero = sodium_is_zero(x->shared, 32) == 1;
    return 0;
}

/* The three paths of one case; 0 when they agree with the vector's
 * shared secret and with the all-zero rule. */
static int x_paths(const x_keys_t *k, const x_case_t *x, bool *refused,
                   const char **why)
{
    int want = x->zero ? AM_EKEY : 0, got = 1;

    if (x_direct(x, refused, why) != 0)
        return -1;
    if (*refused != x->zero) {
        *why = x->zero ? "all-zero shared secret not refused by libsodium"
                       : "libsodium refused a non-zero shared secret";
        return -1;
    }
    if (x_noise(k, x, &got) != 0) {
        *why = "Noise XX handshake could not be set up";
        return -1;
    }
    if (got != want) {
        *why = x->zero ? "Noise XX read did not refuse with AM_EKEY"
                       : "Noise XX read failed: the engine's ee DH differs "
                         "from \"shared\"";
        return -1;
    }
    x_envelope(k, x, &got);
    if (got != want) {
        *why = x->zero ? "am_env_seal did not refuse with AM_EKEY"
                       : "am_env_seal refused a usable public key";
        return -1;
    }
    return 0;
}

static void x_case(const x_keys_t *k, const json_t *tc, wp_counts_t *c)
{
    const char *res = wp_str(tc, "result"), *why = NULL;
    bool refused = false;
    x_case_t x;

    c->total++;
    if (res == NULL || x_load(tc, &x) != 0) {
        wp_mismatch(c, tc, "public/private/shared missing or not 32 bytes");
        return;
    }
    if (x.zero != wp_has_flag(tc, "ZeroSharedSecret")) {
        wp_mismatch(c, tc, "flag ZeroSharedSecret disagrees with \"shared\"");
        return;
    }
    if (x_paths(k, &x, &refused, &why) != 0) {
        wp_mismatch(c, tc, why);
        return;
    }
    c->via_project++;
    if (strcmp(res, "valid") == 0 && !refused)
        c->valid_ok++;
    else if (strcmp(res, "invalid") == 0 && refused)
        c->invalid_refused++;
    else if (strcmp(res, "acceptable") == 0)
        *(refused ? &c->acc_refused : &c->acc_accepted) += 1;
    else
        wp_mismatch(c, tc, refused ? "valid case refused"
                                   : "invalid case accepted");
}

int wp_run_x25519(const json_t *root, wp_counts_t *c)
{
    const json_t *groups = json_object_get(root, "testGroups");
    json_t *g, *tc;
    size_t gi, ti;
    x_keys_t k;
    int rc = -1;

    if (!json_is_array(groups) || x_keys(&k) != 0)
        goto out;
    json_array_foreach(groups, gi, g) {
        const json_t *tests = json_object_get(g, "tests");
        const char *curve = wp_str(g, "curve");

        if (curve == NULL || strcmp(curve, "curve25519") != 0 ||
            !json_is_array(tests))
            goto out;
        json_array_foreach(tests, ti, tc)
            x_case(&k, tc, c);
    }
    rc = 0;
out:
    sodium_memzero(&k, sizeof k);
    return rc;
}
