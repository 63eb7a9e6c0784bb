/* HASH, HMAC-HASH and HKDF of Noise spec 4.3 over libsodium's BLAKE2b-512,
 * SHA-256 and SHA-512.  HMAC is RFC 2104 built on the incremental hash:
 * Noise requires HMAC even for BLAKE2b, not BLAKE2b's keyed mode. */
#include "noise_internal.h"

#include <string.h>

#include "err.h"

size_t am_nh_len(am_noise_hash_id_t id)
{
    return id == AM_NOISE_HASH_SHA256 ? 32 : 64;
}

static size_t nh_blocklen(am_noise_hash_id_t id)
{
    return id == AM_NOISE_HASH_SHA256 ? 64 : 128;
}

int am_nh_init(am_nh_ctx_t *ctx, am_noise_hash_id_t id)
{
    int r = -1;

    ctx->id = id;
    switch (id) {
    case AM_NOISE_HASH_BLAKE2B:
        r = crypto_generichash_init(&ctx->st.b2, NULL, 0, 64);
        break;
    case AM_NOISE_HASH_SHA256:
        r = crypto_hash_sha256_init(&ctx->st.s256);
        break;
    case AM_NOISE_HASH_SHA512:
        r = crypto_hash_sha512_init(&ctx->st.s512);
        break;
    }
    return r == 0 ? 0 : AM_EINVAL;
}

int am_nh_update(am_nh_ctx_t *ctx, const uint8_t *in, size_t len)
{
    int r = -1;

    if (len == 0)
        return 0;
    switch (ctx->id) {
    case AM_NOISE_HASH_BLAKE2B:
        r = crypto_generichash_update(&ctx->st.b2, in, len);
        break;
    case AM_NOISE_HASH_SHA256:
        r = crypto_hash_sha256_update(&ctx->st.s256, in, len);
        break;
    case AM_NOISE_HASH_SHA512:
        r = crypto_hash_sha512_update(&ctx->st.s512, in, len);
        break;
    }
    return r == 0 ? 0 : AM_EINVAL;
}

int am_nh_final(am_nh_ctx_t *ctx, uint8_t out[static AM_NOISE_MAXHASHLEN])
{
    int r = -1;

    switch (ctx->id) {
    case AM_NOISE_HASH_BLAKE2B:
        r = crypto_generichash_final(&ctx->st.b2, out, 64);
        break;
    case AM_NOISE_HASH_SHA256:
        r = crypto_hash_sha256_final(&ctx->st.s256, out);
        break;
    case AM_NOISE_HASH_SHA512:
        r = crypto_hash_sha512_final(&ctx->st.s512, out);
        break;
    }
    sodium_memzero(ctx, sizeof *ctx);
    return r == 0 ? 0 : AM_EINVAL;
}

int am_nh_hash2(am_noise_hash_id_t id, const uint8_t *a, size_t a_len,
                const uint8_t *b, size_t b_len,
                uint8_t out[static AM_NOISE_MAXHASHLEN])
{
    am_nh_ctx_t ctx;
    int rc;

    if ((rc = am_nh_init(&ctx, id)) != 0 ||
        (rc = am_nh_update(&ctx, a, a_len)) != 0 ||
        (rc = am_nh_update(&ctx, b, b_len)) != 0) {
        sodium_memzero(&ctx, sizeof ctx);
        return rc;
    }
    return am_nh_final(&ctx, out);
}

/* HMAC-HASH(key, a || b) with key_len <= HASHLEN (always true in Noise). */
static int nh_hmac(am_noise_hash_id_t id, const uint8_t *key, size_t key_len,
                   const uint8_t *a, size_t a_len, const uint8_t *b,
                   size_t b_len, uint8_t out[static AM_NOISE_MAXHASHLEN])
{
    uint8_t pad[AM_NOISE_MAXBLOCKLEN];
    uint8_t inner[AM_NOISE_MAXHASHLEN];
    size_t block = nh_blocklen(id), hlen = am_nh_len(id);
    am_nh_ctx_t ctx;
    int rc;

    if (key_len > block)
        return AM_EINVAL;
    memset(pad, 0, sizeof pad);
    memcpy(pad, key, key_len);
    for (size_t i = 0; i < block; i++)
        pad[i] ^= 0x36;
    if ((rc = am_nh_init(&ctx, id)) != 0 ||
        (rc = am_nh_update(&ctx, pad, block)) != 0 ||
        (rc = am_nh_update(&ctx, a, a_len)) != 0 ||
        (rc = am_nh_update(&ctx, b, b_len)) != 0 ||
        (rc = am_nh_final(&ctx, inner)) != 0)
        goto out;
    for (size_t i = 0; i < block; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    if ((rc = am_nh_init(&ctx, id)) != 0 ||
        (rc = am_nh_update(&ctx, pad, block)) != 0 ||
        (rc = am_nh_update(&ctx, inner, hlen)) != 0)
        goto out;
    rc = am_nh_final(&ctx, out);
out:
    sodium_memzero(&ctx, sizeof ctx);
    sodium_memzero(pad, sizeof pad);
    sodium_memzero(inner, sizeof inner);
    return rc;
}

int am_nh_hkdf(am_noise_hash_id_t id, const uint8_t *ck,
               const uint8_t *ikm, size_t ikm_len, int n,
               uint8_t *out1, uint8_t *out2, uint8_t *out3)
{
    uint8_t temp_key[AM_NOISE_MAXHASHLEN];
    uint8_t o1[AM_NOISE_MAXHASHLEN], o2[AM_NOISE_MAXHASHLEN];
    uint8_t o3[AM_NOISE_MAXHASHLEN];
    const uint8_t one = 0x01, two = 0x02, three = 0x03;
    size_t hlen = am_nh_len(id);
    int rc;

    if (n != 2 && n != 3)
        return AM_EINVAL;
    if ((rc = nh_hmac(id, ck, hlen, ikm, ikm_len, NULL, 0, temp_key)) != 0 ||
        (rc = nh_hmac(id, temp_key, hlen, &one, 1, NULL, 0, o1)) != 0 ||
        (rc = nh_hmac(id, temp_key, hlen, o1, hlen, &two, 1, o2)) != 0)
        goto out;
    if (n == 3 &&
        (rc = nh_hmac(id, temp_key, hlen, o2, hlen, &three, 1, o3)) != 0)
        goto out;
    /* Copy only after every step succeeded: outputs may alias ck. */
    memcpy(out1, o1, hlen);
    memcpy(out2, o2, hlen);
    if (n == 3)
        memcpy(out3, o3, hlen);
out:
    sodium_memzero(temp_key, sizeof temp_key);
    sodium_memzero(o1, sizeof o1);
    sodium_memzero(o2, sizeof o2);
    sodium_memzero(o3, sizeof o3);
    return rc;
}
