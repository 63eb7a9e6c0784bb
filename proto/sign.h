/* Ed25519 signatures with domain separation, and the hashes that name
 * things.
 *
 * The signed message is always the domain tag's ASCII bytes, one zero
 * byte, then the body: a signature made for one purpose never verifies
 * for another (docs/PROTOCOL.md, "Signatures").
 */
#ifndef AM_SIGN_H
#define AM_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define AM_SIGN_PK_LEN 32u
#define AM_SIGN_SK_LEN 64u /* libsodium layout: seed || public key */
#define AM_SIGN_SEED_LEN 32u
#define AM_SIG_LEN 64u
#define AM_HASH_LEN 32u    /* BLAKE2b-256 */
#define AM_SIGNED_BODY_MAX ((size_t)1 << 20)

#define AM_TAG_CERT "amanat/1 certificate"
#define AM_TAG_CRL "amanat/1 revocation list"
#define AM_TAG_PREKEY "amanat/1 prekey"
#define AM_TAG_ENVELOPE "amanat/1 envelope"
#define AM_TAG_RECEIPT "amanat/1 receipt"
#define AM_TAG_EVIDENCE "amanat/1 evidence"
#define AM_TAG_WRAP "amanat/1 key wrap"

/* sig = Ed25519(sk, tag || 0x00 || body).  AM_ETOOBIG over
 * AM_SIGNED_BODY_MAX. */
int am_sign(const char *tag, const uint8_t *body, size_t len,
            const uint8_t sk[static AM_SIGN_SK_LEN],
            uint8_t sig[static AM_SIG_LEN]);

/* 0 when sig (sig_len bytes, from the wire) is pk's signature of tag and
 * body; AM_ECRYPTO otherwise (including a wrong signature length). */
int am_sign_verify(const char *tag, const uint8_t *body, size_t len,
                   const uint8_t *sig, size_t sig_len,
                   const uint8_t pk[static AM_SIGN_PK_LEN]);

/* BLAKE2b-256 of in. */
int am_hash256(const uint8_t *in, size_t len, uint8_t out[static AM_HASH_LEN]);

#endif
