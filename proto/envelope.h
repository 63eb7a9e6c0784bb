/* Sealed envelopes (docs/PROTOCOL.md, "Envelopes").
 *
 * One random content key per message encrypts the content with
 * XChaCha20-Poly1305, the exact header bytes as associated data.  The key
 * is wrapped for each recipient with an ephemeral X25519 exchange against
 * the recipient's prekey (or certificate key).  The sender signs the header
 * bytes and the hash of the ciphertext with Ed25519.
 *
 * Opening follows the order the relay needs too: am_env_parse bounds every
 * size and reads the header (nothing is acted on yet); am_env_verify checks
 * the signature against the sender's certificate; only a verified envelope
 * can be routed (accessors) or opened (am_env_open).
 */
#ifndef AM_ENVELOPE_H
#define AM_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"

#define AM_MSG_ID_LEN 16u
#define AM_ENV_NONCE_LEN 24u
#define AM_ENV_KEY_LEN 32u
#define AM_ENV_WRAPPED_LEN 48u                 /* key + tag */
#define AM_ENV_HEADER_MAX 16384                /* serialized header */
#define AM_ENV_MAX ((size_t)16 << 20)          /* serialized envelope */
#define AM_ENV_BODY_MAX (AM_ENV_MAX - 2 * AM_ENV_HEADER_MAX)
#define AM_ENV_MAX_RECIPIENTS 32

enum {
    AM_PRIORITY_ROUTINE = 1,
    AM_PRIORITY_URGENT = 2,
    AM_PRIORITY_EMERGENCY = 3,
};

typedef struct {
    const char *agency_id;
    const uint8_t *dh_pk;  /* 32 bytes: the prekey, or the certificate key */
    uint32_t prekey_id;    /* 0 when dh_pk is the certificate's key */
} am_env_recipient_t;

/* Randomness source, for test vectors only; NULL means libsodium's. */
typedef void (*am_env_rng_cb)(void *ctx, uint8_t *buf, size_t n);

typedef struct {
    const char *sender_id;
    uint64_t sender_serial;  /* serial of the sender's certificate */
    const uint8_t *sign_sk;  /* the sender's Ed25519 secret key, 64 bytes */
    int64_t created_at, expires_at;
    int priority;            /* AM_PRIORITY_* */
    am_env_rng_cb rng;       /* NULL in production */
    void *rng_ctx;
} am_env_params_t;

typedef struct am_env am_env_t;

/* Seal plain for the recipients; *out is a serialized Envelope (am_free).
 * AM_EINVAL with a sentence naming the bad parameter (duplicate or invalid
 * recipient, expiry not after creation, ...). */
int am_env_seal(const am_env_params_t *p, const am_env_recipient_t *rcpt,
                size_t n_rcpt, const uint8_t *plain, size_t plain_len,
                uint8_t **out, size_t *out_len);

/* Bound sizes (len <= max, max <= AM_ENV_MAX) and parse the envelope and
 * its header from untrusted bytes; check the header's syntax (version,
 * lengths, ids, no duplicate recipients, one wrap per recipient).  Nothing
 * in it is trusted yet.  in is not kept. */
int am_env_parse(const uint8_t *in, size_t len, size_t max, am_env_t **out);

/* The claimed sender (unverified until am_env_verify), to look up its
 * certificate. */
const char *am_env_sender(const am_env_t *env);

/* Verify the signature with the sender's certificate: its agency id must
 * equal the header's sender_id and its serial the header's
 * sender_serial.  Check the certificate itself (am_cert_verify) first. */
int am_env_verify(am_env_t *env, const am_cert_t *sender);

/* The message id the header claims (16 bytes, syntax checked by
 * am_env_parse, NOT authenticated): only to name an envelope that failed
 * verification, e.g. to acknowledge and set it aside. */
const uint8_t *am_env_claimed_id(const am_env_t *env);

/* The header's recipients, priority and expiry as parsed, NOT
 * authenticated (NULL past the last recipient): for bytes authenticated
 * otherwise, as the relay's store does with the hash it kept of the
 * bytes it verified (relay/store_salvage.c). */
size_t am_env_claimed_recipient_count(const am_env_t *env);
const char *am_env_claimed_recipient(const am_env_t *env, size_t i);
int am_env_claimed_priority(const am_env_t *env);
int64_t am_env_claimed_expires_at(const am_env_t *env);

/* Accessors; valid only after a successful am_env_verify (else NULL/0). */
const uint8_t *am_env_message_id(const am_env_t *env);
int am_env_priority(const am_env_t *env);
int64_t am_env_created_at(const am_env_t *env);
int64_t am_env_expires_at(const am_env_t *env);
size_t am_env_recipient_count(const am_env_t *env);
const char *am_env_recipient(const am_env_t *env, size_t i);
/* BLAKE2b-256 of the serialized envelope: what evidence and receipts name. */
const uint8_t *am_env_hash(const am_env_t *env);

/* The prekey id under which the content key is wrapped for agency_id
 * (0: the certificate key).  AM_EKEY when the envelope is not addressed to
 * it. */
int am_env_wrap_prekey(const am_env_t *env, const char *agency_id,
                       uint32_t *prekey_id);

/* Unwrap with dh_sk (the secret of that prekey or certificate key) and
 * decrypt.  AM_ESTATE before am_env_verify; AM_EKEY when not addressed to
 * agency_id; AM_ECRYPTO when the wrap or the content does not open.
 * *plain is owned by the caller (am_free; wipe it first if it matters). */
int am_env_open(const am_env_t *env, const char *agency_id,
                const uint8_t dh_sk[static 32], uint8_t **plain,
                size_t *plain_len);

void am_env_free(am_env_t *env);

#endif
