/* SymmetricState of Noise spec 5.2: chaining key ck, handshake hash h and
 * the handshake's CipherState.  Cipher keys are the first 32 bytes of an
 * HKDF output when HASHLEN is 64 (spec 5.2, MixKey). */
#include "noise_internal.h"

#include <string.h>

#include "err.h"

int am_ss_init(am_noise_ss_t *ss, am_noise_hash_id_t hash, const char *name)
{
    size_t len = strlen(name);
    int rc;

    memset(ss, 0, sizeof *ss);
    ss->hash = hash;
    ss->hash_len = am_nh_len(hash);
    if (len <= ss->hash_len) {
        memcpy(ss->h, name, len);
    } else if ((rc = am_nh_hash2(hash, (const uint8_t *)name, len, NULL, 0,
                                 ss->h)) != 0) {
        return rc;
    }
    memcpy(ss->ck, ss->h, ss->hash_len);
    return 0;
}

int am_ss_mix_key(am_noise_ss_t *ss, const uint8_t *ikm, size_t len)
{
    uint8_t temp_k[AM_NOISE_MAXHASHLEN];
    int rc;

    rc = am_nh_hkdf(ss->hash, ss->ck, ikm, len, 2, ss->ck, temp_k, NULL);
    if (rc == 0)
        am_cs_init_key(&ss->cs, temp_k);
    sodium_memzero(temp_k, sizeof temp_k);
    return rc;
}

int am_ss_mix_hash(am_noise_ss_t *ss, const uint8_t *data, size_t len)
{
    return am_nh_hash2(ss->hash, ss->h, ss->hash_len, data, len, ss->h);
}

int am_ss_mix_key_and_hash(am_noise_ss_t *ss, const uint8_t *ikm, size_t len)
{
    uint8_t temp_h[AM_NOISE_MAXHASHLEN], temp_k[AM_NOISE_MAXHASHLEN];
    int rc;

    rc = am_nh_hkdf(ss->hash, ss->ck, ikm, len, 3, ss->ck, temp_h, temp_k);
    if (rc == 0)
        rc = am_ss_mix_hash(ss, temp_h, ss->hash_len);
    if (rc == 0)
        am_cs_init_key(&ss->cs, temp_k);
    sodium_memzero(temp_h, sizeof temp_h);
    sodium_memzero(temp_k, sizeof temp_k);
    return rc;
}

int am_ss_encrypt_and_hash(am_noise_ss_t *ss, const uint8_t *in, size_t len,
                           uint8_t *out)
{
    size_t out_len = len + (ss->cs.has_key ? AM_NOISE_TAGLEN : 0);
    int rc;

    if ((rc = am_cs_encrypt_ad(&ss->cs, ss->h, ss->hash_len, in, len,
                               out)) != 0)
        return rc;
    return am_ss_mix_hash(ss, out, out_len);
}

int am_ss_decrypt_and_hash(am_noise_ss_t *ss, const uint8_t *in,
                           size_t in_len, uint8_t *out)
{
    uint8_t h_next[AM_NOISE_MAXHASHLEN];
    int rc;

    /* h must absorb the ciphertext, which out may overwrite: hash first. */
    if ((rc = am_nh_hash2(ss->hash, ss->h, ss->hash_len, in, in_len,
                          h_next)) != 0)
        return rc;
    if ((rc = am_cs_decrypt_ad(&ss->cs, ss->h, ss->hash_len, in, in_len,
                               out)) != 0)
        return rc;
    memcpy(ss->h, h_next, ss->hash_len);
    return 0;
}

int am_ss_split(am_noise_ss_t *ss, struct am_noise_cs *c1,
                struct am_noise_cs *c2)
{
    uint8_t k1[AM_NOISE_MAXHASHLEN], k2[AM_NOISE_MAXHASHLEN];
    int rc;

    rc = am_nh_hkdf(ss->hash, ss->ck, NULL, 0, 2, k1, k2, NULL);
    if (rc == 0) {
        am_cs_init_key(c1, k1);
        am_cs_init_key(c2, k2);
    }
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    return rc;
}

void am_ss_wipe(am_noise_ss_t *ss)
{
    sodium_memzero(ss->ck, sizeof ss->ck);
    am_cs_wipe(&ss->cs);
}
