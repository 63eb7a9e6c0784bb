/* CipherState (Noise spec 5.1) with ChaChaPoly (spec 12.3): the 96-bit
 * nonce is 32 zero bits then the 64-bit counter, little-endian. */
#include "noise_internal.h"

#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"

static void nonce_bytes(uint8_t out[static 12], uint64_t n)
{
    memset(out, 0, 4);
    am_store_le64(out + 4, n);
}

void am_cs_init_key(struct am_noise_cs *cs, const uint8_t *k)
{
    memcpy(cs->k, k, AM_NOISE_KEYLEN);
    cs->n = 0;
    cs->has_key = true;
    cs->failed = false;
}

void am_cs_wipe(struct am_noise_cs *cs)
{
    sodium_memzero(cs->k, sizeof cs->k);
    cs->has_key = false;
}

static int cs_fail(struct am_noise_cs *cs, int rc)
{
    am_cs_wipe(cs);
    cs->failed = true;
    return rc;
}

/* What encrypt and decrypt share: 1 when there is no key (bytes copied,
 * spec 5.1), 0 with the nonce ready, or an error.  2^64-1 is reserved for
 * rekey: never used, never wrapped. */
static int cs_begin(struct am_noise_cs *cs, const uint8_t *in, size_t in_len,
                    uint8_t *out, uint8_t nonce[static 12])
{
    if (cs->failed)
        return AM_ESTATE;
    if (!cs->has_key) {
        if (in_len > 0)
            memmove(out, in, in_len);
        return 1;
    }
    if (cs->n == UINT64_MAX)
        return cs_fail(cs, am_errf(AM_ENONCE, "nonce space exhausted"));
    nonce_bytes(nonce, cs->n);
    return 0;
}

int am_cs_encrypt_ad(struct am_noise_cs *cs, const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t in_len, uint8_t *out)
{
    uint8_t nonce[12];
    int rc;

    if ((rc = cs_begin(cs, in, in_len, out, nonce)) != 0)
        return rc < 0 ? rc : 0;
    if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, in_len, ad,
                                                  ad_len, NULL, nonce,
                                                  cs->k) != 0)
        return cs_fail(cs, am_errf(AM_ECRYPTO, "encryption failed"));
    cs->n++;
    return 0;
}

int am_cs_decrypt_ad(struct am_noise_cs *cs, const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t in_len, uint8_t *out)
{
    uint8_t nonce[12];
    int rc;

    if (cs->has_key && !cs->failed && in_len < AM_NOISE_TAGLEN)
        return cs_fail(cs, am_errf(AM_EPROTO, "ciphertext of %zu bytes is "
                                   "shorter than its tag", in_len));
    if ((rc = cs_begin(cs, in, in_len, out, nonce)) != 0)
        return rc < 0 ? rc : 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, in_len,
                                                  ad, ad_len, nonce,
                                                  cs->k) != 0) {
        /* libsodium zeroes out on failure: no unauthenticated plaintext */
        return cs_fail(cs, am_errf(AM_ECRYPTO, "authentication tag did not "
                                   "verify (nonce %llu)",
                                   (unsigned long long)cs->n));
    }
    cs->n++;
    return 0;
}

int am_noise_cs_encrypt(am_noise_cs_t *cs, const uint8_t *ad, size_t ad_len,
                        const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_cap, size_t *out_len)
{
    int rc;

    if (cs == NULL || (in == NULL && in_len > 0) || out == NULL ||
        (ad == NULL && ad_len > 0) || out_len == NULL)
        return AM_EINVAL;
    if (cs->failed || !cs->has_key)
        return AM_ESTATE;
    if (in_len > AM_NOISE_PAYLOAD_MAX)
        return AM_ETOOBIG;
    if (out_cap < in_len + AM_NOISE_TAGLEN)
        return AM_ESHORT;
    if ((rc = am_cs_encrypt_ad(cs, ad, ad_len, in, in_len, out)) != 0)
        return rc;
    *out_len = in_len + AM_NOISE_TAGLEN;
    return 0;
}

int am_noise_cs_decrypt(am_noise_cs_t *cs, const uint8_t *ad, size_t ad_len,
                        const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_cap, size_t *out_len)
{
    int rc;

    if (cs == NULL || in == NULL || out == NULL ||
        (ad == NULL && ad_len > 0) || out_len == NULL)
        return AM_EINVAL;
    if (cs->failed || !cs->has_key)
        return AM_ESTATE;
    /* An oversized or truncated message is the peer's doing: fail the
     * state, as for a bad tag. */
    if (in_len > AM_NOISE_MSG_MAX)
        return cs_fail(cs, am_errf(AM_ETOOBIG, "transport message of %zu "
                                   "bytes over 65535", in_len));
    if (in_len < AM_NOISE_TAGLEN)
        return cs_fail(cs, am_errf(AM_EPROTO, "transport message of %zu "
                                   "bytes shorter than its tag", in_len));
    if (out_cap < in_len - AM_NOISE_TAGLEN)
        return AM_ESHORT;
    if ((rc = am_cs_decrypt_ad(cs, ad, ad_len, in, in_len, out)) != 0)
        return rc;
    *out_len = in_len - AM_NOISE_TAGLEN;
    return 0;
}

int am_noise_cs_rekey(am_noise_cs_t *cs)
{
    uint8_t zeros[AM_NOISE_KEYLEN] = {0};
    uint8_t out[AM_NOISE_KEYLEN + AM_NOISE_TAGLEN];
    uint8_t nonce[12];

    if (cs == NULL)
        return AM_EINVAL;
    if (cs->failed || !cs->has_key)
        return AM_ESTATE;
    nonce_bytes(nonce, UINT64_MAX);
    if (crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros,
                                                  sizeof zeros, NULL, 0, NULL,
                                                  nonce, cs->k) != 0) {
        sodium_memzero(out, sizeof out);
        return cs_fail(cs, AM_ECRYPTO);
    }
    memcpy(cs->k, out, AM_NOISE_KEYLEN);
    sodium_memzero(out, sizeof out);
    return 0;
}

int am_noise_cs_set_nonce(am_noise_cs_t *cs, uint64_t n)
{
    if (cs == NULL)
        return AM_EINVAL;
    if (cs->failed || !cs->has_key)
        return AM_ESTATE;
    /* Going back would reuse a (key, nonce) pair: only forward. */
    if (n < cs->n)
        return AM_EINVAL;
    cs->n = n;
    return 0;
}

void am_noise_cs_free(am_noise_cs_t *cs)
{
    if (cs == NULL)
        return;
    sodium_memzero(cs, sizeof *cs);
    am_free(cs);
}
