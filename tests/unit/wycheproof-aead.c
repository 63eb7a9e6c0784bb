/* Wycheproof ChaCha20-Poly1305 and XChaCha20-Poly1305 (the IETF
 * constructions) against the project's calls, both directions:
 * encryption of a "valid" case must give exactly ct || tag, its
 * decryption the exact plaintext; an "invalid" case must not decrypt.
 *
 * ChaCha20-Poly1305, 12-byte nonce: the Noise CipherState
 * (proto/noise_cipher.c) calls crypto_aead_chacha20poly1305_ietf_encrypt/
 * _decrypt(out, NULL, [NULL,] in, in_len, ad, ad_len, [NULL,] nonce, k)
 * with nonce = 4 zero bytes || little-endian 64-bit counter (Noise spec
 * 12.3).  A case whose nonce has that form (first 4 bytes zero, counter
 * below 2^64 - 1, which the project never uses) runs through the
 * project's own am_noise_cs_encrypt/_decrypt after am_noise_cs_set_nonce;
 * every 12-byte case also runs through that exact libsodium call.
 *
 * XChaCha20-Poly1305, 24-byte nonce: envelope contents and key wraps
 * (proto/envelope.c) and key files (proto/keyfile.c) call
 * crypto_aead_xchacha20poly1305_ietf_encrypt/_decrypt on keys they
 * derive, so no project function takes a raw key and nonce: the cases
 * run through that exact call, after the project's check that a
 * ciphertext is at least its 16-byte tag (am_env_open, key files).
 *
 * Cases with another nonce, key or tag size are not applicable: the
 * project only uses 12-byte (ChaCha) and 24-byte (XChaCha) nonces,
 * 32-byte keys and 16-byte tags, and the IETF API takes nothing else. */
#include "wycheproof.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "noise_internal.h"

typedef struct {
    uint8_t *key, *iv, *aad, *msg, *ct, *tag;
    size_t key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
    uint8_t *sealed; /* ct || tag */
    uint8_t *out;    /* room for msg_len + 16 */
} a_case_t;

static void a_free(a_case_t *a)
{
    free(a->key);
    free(a->iv);
    free(a->aad);
    free(a->msg);
    free(a->ct);
    free(a->tag);
    free(a->sealed);
    free(a->out);
    memset(a, 0, sizeof *a);
}

static int a_load(const json_t *tc, a_case_t *a)
{
    memset(a, 0, sizeof *a);
    if (wp_hex(tc, "key", &a->key, &a->key_len) != 0 ||
        wp_hex(tc, "iv", &a->iv, &a->iv_len) != 0 ||
        wp_hex(tc, "aad", &a->aad, &a->aad_len) != 0 ||
        wp_hex(tc, "msg", &a->msg, &a->msg_len) != 0 ||
        wp_hex(tc, "ct", &a->ct, &a->ct_len) != 0 ||
        wp_hex(tc, "tag", &a->tag, &a->tag_len) != 0)
        return -1;
    a->sealed = malloc(a->ct_len + a->tag_len + 1);
    a->out = malloc(a->msg_len + a->ct_len + 16 + 1);
    if (a->sealed == NULL || a->out == NULL)
        return -1;
    memcpy(a->sealed, a->ct, a->ct_len);
    memcpy(a->sealed + a->ct_len, a->tag, a->tag_len);
    return 0;
}

/* The Noise counter when the nonce has the CipherState's form. */
static bool a_noise_nonce(const a_case_t *a, uint64_t *n)
{
    uint64_t v = 0;

    if (a->iv_len != 12 || !sodium_is_zero(a->iv, 4))
        return false;
    for (int i = 11; i >= 4; i--)
        v = v << 8 | a->iv[i];
    *n = v;
    return v != UINT64_MAX;
}

/* The project's CipherState; 0 or its error code. */
static int a_noise_cs(const a_case_t *a, uint64_t n, bool enc,
                      size_t *out_len)
{
    struct am_noise_cs cs;
    size_t in_len = a->ct_len + a->tag_len;
    int rc;

    am_cs_init_key(&cs, a->key);
    if ((rc = am_noise_cs_set_nonce(&cs, n)) == 0)
        rc = enc ? am_noise_cs_encrypt(&cs, a->aad, a->aad_len, a->msg,
                                       a->msg_len, a->out, a->msg_len + 16,
                                       out_len)
                 : am_noise_cs_decrypt(&cs, a->aad, a->aad_len, a->sealed,
                                       in_len, a->out, in_len, out_len);
    am_cs_wipe(&cs);
    return rc;
}

static int a_sodium_enc(const a_case_t *a, bool x, size_t *out_len)
{
    unsigned long long n = 0;
    int rc = x ? crypto_aead_xchacha20poly1305_ietf_encrypt(
                     a->out, &n, a->msg, a->msg_len, a->aad, a->aad_len,
                     NULL, a->iv, a->key)
               : crypto_aead_chacha20poly1305_ietf_encrypt(
                     a->out, &n, a->msg, a->msg_len, a->aad, a->aad_len,
                     NULL, a->iv, a->key);

    *out_len = (size_t)n;
    return rc;
}

static int a_sodium_dec(const a_case_t *a, bool x, size_t *out_len)
{
    size_t in_len = a->ct_len + a->tag_len;
    unsigned long long n = 0;
    int rc;

    /* the project's own check before it decrypts */
    if (in_len < 16)
        return AM_EPROTO;
    rc = x ? crypto_aead_xchacha20poly1305_ietf_decrypt(
                 a->out, &n, NULL, a->sealed, in_len, a->aad, a->aad_len,
                 a->iv, a->key)
           : crypto_aead_chacha20poly1305_ietf_decrypt(
                 a->out, &n, NULL, a->sealed, in_len, a->aad, a->aad_len,
                 a->iv, a->key);
    *out_len = (size_t)n;
    return rc;
}

/* One direction through one path (project or libsodium); NULL when the
 * result is what the case's verdict asks. */
static const char *a_check(const a_case_t *a, bool valid, bool enc, int rc,
                           size_t out_len)
{
    if (enc) {
        if (rc != 0)
            return "encryption failed";
        if (valid && (out_len != a->ct_len + a->tag_len ||
                      memcmp(a->out, a->sealed, out_len) != 0))
            return "encryption differs from ct || tag";
        return NULL;
    }
    if (!valid)
        return rc != 0 ? NULL : "invalid case decrypted";
    if (rc != 0)
        return "valid case did not decrypt";
    if (out_len != a->msg_len || memcmp(a->out, a->msg, out_len) != 0)
        return "decryption differs from msg";
    return NULL;
}

/* Every path and direction; *via set when the project's CipherState ran. */
static const char *a_paths(const a_case_t *a, bool x, bool valid, bool *via)
{
    const char *why = NULL;
    size_t out_len = 0;
    uint64_t n;
    int rc;

    *via = !x && a_noise_nonce(a, &n);
    if (*via) {
        rc = a_noise_cs(a, n, true, &out_len);
        if ((why = a_check(a, valid, true, rc, out_len)) != NULL)
            return why;
        rc = a_noise_cs(a, n, false, &out_len);
        if (!valid && rc != AM_ECRYPTO)
            return "CipherState did not refuse with AM_ECRYPTO";
        if ((why = a_check(a, valid, false, rc, out_len)) != NULL)
            return why;
    }
    rc = a_sodium_enc(a, x, &out_len);
    if ((why = a_check(a, valid, true, rc, out_len)) != NULL)
        return why;
    rc = a_sodium_dec(a, x, &out_len);
    return a_check(a, valid, false, rc, out_len);
}

static void a_case(const json_t *tc, bool x, wp_counts_t *c)
{
    const char *res = wp_str(tc, "result"), *why;
    bool valid, via = false;
    a_case_t a;

    memset(&a, 0, sizeof a);
    c->total++;
    if (res == NULL || a_load(tc, &a) != 0) {
        wp_mismatch(c, tc, "key/iv/aad/msg/ct/tag missing or not hex");
        goto out;
    }
    valid = strcmp(res, "valid") == 0;
    if (a.iv_len != (x ? 24u : 12u) || a.key_len != 32 || a.tag_len != 16) {
        c->not_applicable++;
        goto out;
    }
    if (!valid && strcmp(res, "invalid") != 0) {
        wp_mismatch(c, tc, "verdict neither valid nor invalid");
        goto out;
    }
    if ((why = a_paths(&a, x, valid, &via)) != NULL) {
        wp_mismatch(c, tc, why);
        goto out;
    }
    c->via_project += via;
    *(valid ? &c->valid_ok : &c->invalid_refused) += 1;
out:
    a_free(&a);
}

int wp_run_aead(const json_t *root, bool xchacha, wp_counts_t *c)
{
    const json_t *groups = json_object_get(root, "testGroups");
    json_t *g, *tc;
    size_t gi, ti;

    if (!json_is_array(groups))
        return -1;
    json_array_foreach(groups, gi, g) {
        const json_t *tests = json_object_get(g, "tests");

        if (!json_is_array(tests))
            return -1;
        json_array_foreach(tests, ti, tc)
            a_case(tc, xchacha, c);
    }
    return 0;
}
