/* What the relay keeps of the signature of its accepted evidence, beside
 * the envelope in the store, so that delivering an envelope signs nothing
 * (docs/PERFORMANCE.md section 1: re-signing it was a fifth of the event
 * loop's time per delivery).
 *
 * 64 bytes of Ed25519 signature, then 16 of BLAKE2b over the relay's
 * signing key, what the evidence body says (message id, envelope hash,
 * time) and the signature.  Read back, it is used only when that check
 * holds for the relay's key of the moment: a damaged column (a bit flip
 * on the disk) or a signature made under an earlier key is signed again,
 * never handed to a recipient as evidence that does not verify.  Not a
 * MAC: a store that can be rewritten at will is outside what the relay
 * defends. */
#ifndef AM_EVCACHE_H
#define AM_EVCACHE_H

#include <stdint.h>

#include "envelope.h"
#include "sign.h"
#include "store.h"

/* Kept for signature sig, made by sign_pk's key over the accepted
 * evidence of (id, hash, t). */
void am_evcache_make(const uint8_t sign_pk[AM_SIGN_PK_LEN],
                     const uint8_t id[AM_MSG_ID_LEN],
                     const uint8_t hash[AM_HASH_LEN], int64_t t,
                     const uint8_t sig[AM_SIG_LEN],
                     uint8_t out[AM_STORE_EVCACHE_LEN]);

/* The signature kept in cache when its check holds for sign_pk and
 * (id, hash, t); NULL otherwise (the caller signs again). */
const uint8_t *am_evcache_sig(const uint8_t sign_pk[AM_SIGN_PK_LEN],
                              const uint8_t id[AM_MSG_ID_LEN],
                              const uint8_t hash[AM_HASH_LEN], int64_t t,
                              const uint8_t cache[AM_STORE_EVCACHE_LEN]);

#endif
