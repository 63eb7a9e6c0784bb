/* The kept signature of the accepted evidence: see evcache.h. */
#include "evcache.h"

#include <string.h>

#include <sodium.h>

#define CHECK_LEN (AM_STORE_EVCACHE_LEN - AM_SIG_LEN)

static void check(const uint8_t pk[AM_SIGN_PK_LEN],
                  const uint8_t id[AM_MSG_ID_LEN],
                  const uint8_t hash[AM_HASH_LEN], int64_t t,
                  const uint8_t sig[AM_SIG_LEN], uint8_t out[CHECK_LEN])
{
    crypto_generichash_state h;
    uint8_t le[8];

    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)t >> (8 * i));
    /* BLAKE2b cannot fail with these lengths */
    (void)crypto_generichash_init(&h, NULL, 0, CHECK_LEN);
    (void)crypto_generichash_update(&h, pk, AM_SIGN_PK_LEN);
    (void)crypto_generichash_update(&h, id, AM_MSG_ID_LEN);
    (void)crypto_generichash_update(&h, hash, AM_HASH_LEN);
    (void)crypto_generichash_update(&h, le, sizeof le);
    (void)crypto_generichash_update(&h, sig, AM_SIG_LEN);
    (void)crypto_generichash_final(&h, out, CHECK_LEN);
}

void am_evcache_make(const uint8_t sign_pk[AM_SIGN_PK_LEN],
                     const uint8_t id[AM_MSG_ID_LEN],
                     const uint8_t hash[AM_HASH_LEN], int64_t t,
                     const uint8_t sig[AM_SIG_LEN],
                     uint8_t out[AM_STORE_EVCACHE_LEN])
{
    memcpy(out, sig, AM_SIG_LEN);
    check(sign_pk, id, hash, t, sig, out + AM_SIG_LEN);
}

const uint8_t *am_evcache_sig(const uint8_t sign_pk[AM_SIGN_PK_LEN],
                              const uint8_t id[AM_MSG_ID_LEN],
                              const uint8_t hash[AM_HASH_LEN], int64_t t,
                              const uint8_t cache[AM_STORE_EVCACHE_LEN])
{
    uint8_t c[CHECK_LEN];

    check(sign_pk, id, hash, t, cache, c);
    return sodium_memcmp(c, cache + AM_SIG_LEN, CHECK_LEN) == 0 ? cache
                                                                  : NULL;
}
