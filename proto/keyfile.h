/* Key files as text a person can inspect (docs/PROTOCOL.md, "Key files"):
 *
 *   # amanat agency secret key of DE-BKA (Ed25519 + X25519), passphrase-sealed
 *   AMANAT-KEY <base64 of the binary form>
 *
 * The binary form names the kind and the owner; a secret may be sealed
 * with a passphrase (Argon2id via crypto_pwhash, then XChaCha20-Poly1305
 * with the binary header as associated data).  This module only converts
 * bytes; reading and writing files with the right modes is the client's.
 */
#ifndef AM_KEYFILE_H
#define AM_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define AM_KEYFILE_MAX 4096
#define AM_KEY_OWNER_MAX 64

typedef enum {
    AM_KEY_ROOT_SECRET = 1,   /* Ed25519 seed, 32 bytes */
    AM_KEY_AGENCY_SECRET = 2, /* Ed25519 seed || X25519 secret, 64 bytes */
    AM_KEY_ROOT_PUBLIC = 3,   /* Ed25519 public key, 32 bytes */
    AM_KEY_AGENCY_PUBLIC = 4, /* Ed25519 pk || X25519 pk, 64 bytes */
    AM_KEY_PREKEY_SECRET = 5, /* X25519 secret of a prekey, 32 bytes */
} am_key_kind_t;

/* Argon2id cost stored in each sealed file.  The default is libsodium's
 * "moderate" level: 3 passes over 256 MiB (about a second here). */
typedef struct {
    unsigned long long opslimit;
    size_t memlimit;
} am_key_cost_t;

#define AM_KEY_COST_DEFAULT                                                 \
    ((am_key_cost_t){crypto_pwhash_OPSLIMIT_MODERATE,                       \
                     crypto_pwhash_MEMLIMIT_MODERATE})

/* A decoded key.  key lives in sodium_malloc'd memory (guarded, locked,
 * wiped on free) when the kind is secret. */
typedef struct {
    am_key_kind_t kind;
    char owner[AM_KEY_OWNER_MAX + 1]; /* agency id, or "root" */
    uint8_t *key;
    size_t key_len;
} am_key_t;

size_t am_key_kind_len(am_key_kind_t kind);
bool am_key_kind_secret(am_key_kind_t kind);

/* New key of kind for owner from the given bytes (copied). */
int am_key_new(am_key_kind_t kind, const char *owner, const uint8_t *key,
               size_t key_len, am_key_t **out);
void am_key_free(am_key_t *k);

/* Encode k as key file text (NUL-terminated; am_free).  With a passphrase
 * the secret is sealed at the given cost; public keys are never sealed. */
int am_keyfile_encode(const am_key_t *k, const char *pass, size_t pass_len,
                      const am_key_cost_t *cost, char **text,
                      size_t *text_len);

/* Decode untrusted key file text.  A sealed file needs pass (AM_EKEY when
 * none is given); a wrong passphrase is AM_ECRYPTO.  Costs over the
 * library's "sensitive" level are refused before any work is done. */
int am_keyfile_decode(const char *text, size_t len, const char *pass,
                      size_t pass_len, am_key_t **out);

/* Lower the Argon2id cost a key file may ask for (default: libsodium's
 * "sensitive" level); files asking for more are refused before any work.
 * For constrained machines and the fuzzer.  Not thread-safe: call first. */
void am_keyfile_cost_ceiling(unsigned long long opslimit, size_t memlimit);

/* What a key file says about itself without its passphrase: kind, owner
 * and whether it is sealed.  Any argument but text may be NULL. */
int am_keyfile_info(const char *text, size_t len, am_key_kind_t *kind,
                    char owner[AM_KEY_OWNER_MAX + 1], bool *sealed);

/* Whether the text is a sealed key file (to know to ask for a passphrase). */
bool am_keyfile_sealed(const char *text, size_t len);

#endif
