/* Noise Protocol Framework engine on libsodium.
 *
 * A generic handshake-pattern interpreter (fundamental, one-way and deferred
 * patterns, pskN modifiers) with DH 25519, cipher ChaChaPoly and hashes
 * BLAKE2b, SHA256 and SHA512.  Amanat itself speaks only AM_NOISE_PROTOCOL
 * with AM_NOISE_PROLOGUE; the other names exist so that third-party test
 * vectors can check the same code.
 *
 * Life of a handshake:
 *   am_noise_hs_new() -> am_noise_hs_set_*() keys -> am_noise_hs_start()
 *   -> am_noise_hs_write()/am_noise_hs_read() as am_noise_hs_action() says
 *   -> am_noise_hs_split() -> transport with am_noise_cs_*().
 *
 * Errors caused by the peer's bytes or by the cryptography (AM_EPROTO,
 * AM_ECRYPTO, AM_EKEY from a DH, AM_ENONCE, and AM_ETOOBIG on read) leave
 * the object failed: its secrets are wiped at once and every later call
 * returns AM_ESTATE.  Errors in the caller's use (AM_EINVAL, AM_ESTATE,
 * AM_ESHORT, AM_ETOOBIG on write, AM_EKEY or AM_ELIMIT from a setter or
 * from am_noise_hs_start) change nothing.  Nonces never wrap: the nonce
 * 2^64-1 is reserved (spec 5.1) and refused.  Buffers passed in and out of
 * one call must not overlap, except where a function says so.
 */
#ifndef AM_NOISE_H
#define AM_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define AM_NOISE_PROTOCOL "Noise_XX_25519_ChaChaPoly_BLAKE2b"
/* Fixed prologue: binds the handshake to this protocol version, so a peer
 * speaking another version fails at the first authenticated message. */
#define AM_NOISE_PROLOGUE "amanat/1"

#define AM_NOISE_KEYLEN 32u
#define AM_NOISE_DHLEN 32u
#define AM_NOISE_TAGLEN 16u
#define AM_NOISE_MSG_MAX 65535u  /* spec 3: every Noise message */
#define AM_NOISE_PAYLOAD_MAX (AM_NOISE_MSG_MAX - AM_NOISE_TAGLEN)
#define AM_NOISE_MAX_PSKS 4

typedef struct am_noise_hs am_noise_hs_t;
typedef struct am_noise_cs am_noise_cs_t;

typedef enum {
    AM_NOISE_INITIATOR,
    AM_NOISE_RESPONDER,
} am_noise_role_t;

typedef enum {
    AM_NOISE_ACTION_WRITE,  /* call am_noise_hs_write() */
    AM_NOISE_ACTION_READ,   /* call am_noise_hs_read() */
    AM_NOISE_ACTION_SPLIT,  /* handshake done: call am_noise_hs_split() */
    AM_NOISE_ACTION_DONE,   /* split already called */
    AM_NOISE_ACTION_FAILED, /* an error ended the handshake */
} am_noise_action_t;

/* Create a handshake state for protocol name (e.g. AM_NOISE_PROTOCOL) and
 * mix in the prologue.  Errors: AM_EUNSUPPORTED for an unknown pattern, DH,
 * cipher or hash; AM_ENOMEM.  *out is set only on success and owned by the
 * caller (free with am_noise_hs_free). */
int am_noise_hs_new(am_noise_hs_t **out, const char *protocol,
                    am_noise_role_t role, const uint8_t *prologue,
                    size_t prologue_len);

/* Keys, set before am_noise_hs_start().  Private keys are X25519 scalars;
 * the public key is derived.  AM_ESTATE after start. */
int am_noise_hs_set_local_static(am_noise_hs_t *hs,
                                 const uint8_t sk[static AM_NOISE_DHLEN]);
/* The same with the public half given, for a side that makes many
 * handshakes with one static key: it derives pk once (an X25519 base
 * multiplication, as costly as a DH) instead of per handshake.  pk must be
 * X25519(sk); the caller checked that when it loaded the key.  A pk that
 * is not makes every handshake fail at the peer (its es or se differs),
 * never succeed under the wrong key. */
int am_noise_hs_set_local_keypair(am_noise_hs_t *hs,
                                  const uint8_t sk[static AM_NOISE_DHLEN],
                                  const uint8_t pk[static AM_NOISE_DHLEN]);
int am_noise_hs_set_remote_static(am_noise_hs_t *hs,
                                  const uint8_t pk[static AM_NOISE_DHLEN]);
/* PSKs in the order the pattern's psk tokens use them. */
int am_noise_hs_add_psk(am_noise_hs_t *hs,
                        const uint8_t psk[static AM_NOISE_KEYLEN]);
/* Check that every key the pattern needs is present and mix the
 * pre-messages.  AM_EKEY when a key or PSK is missing. */
int am_noise_hs_start(am_noise_hs_t *hs);

am_noise_action_t am_noise_hs_action(const am_noise_hs_t *hs);

/* Write the next handshake message carrying payload into out (capacity
 * out_cap).  AM_ESHORT (state unchanged) when out_cap is too small;
 * AM_ETOOBIG when the message would exceed AM_NOISE_MSG_MAX. */
int am_noise_hs_write(am_noise_hs_t *hs, const uint8_t *payload,
                      size_t payload_len, uint8_t *out, size_t out_cap,
                      size_t *out_len);

/* Read the next handshake message (untrusted bytes) and put its payload
 * into payload (capacity payload_cap).  AM_ESHORT (state unchanged) when
 * payload_cap is too small; AM_ETOOBIG for a message over AM_NOISE_MSG_MAX,
 * AM_EPROTO for a truncated one, AM_ECRYPTO for a failed tag, AM_EKEY for a
 * rejected public key. */
int am_noise_hs_read(am_noise_hs_t *hs, const uint8_t *msg, size_t msg_len,
                     uint8_t *payload, size_t payload_cap,
                     size_t *payload_len);

/* After the last message: the transport CipherStates.  For the initiator
 * *send encrypts initiator->responder; for one-way patterns the side that
 * never sends gets *send = NULL (and the initiator *recv = NULL).  Both
 * outputs are owned by the caller.  The handshake state wipes its keys. */
int am_noise_hs_split(am_noise_hs_t *hs, am_noise_cs_t **send,
                      am_noise_cs_t **recv);

/* The handshake hash h (channel binding), valid once split; *len is 32 or
 * 64 by hash.  AM_ESTATE before the handshake is complete. */
int am_noise_hs_hash(const am_noise_hs_t *hs, uint8_t out[static 64],
                     size_t *len);

/* The peer's static public key, once received or given. AM_EKEY if none. */
int am_noise_hs_remote_static(const am_noise_hs_t *hs,
                              uint8_t pk[static AM_NOISE_DHLEN]);

/* Wipes and frees; NULL is a no-op. */
void am_noise_hs_free(am_noise_hs_t *hs);

/* Transport.  Ciphertext is plaintext + AM_NOISE_TAGLEN bytes, at most
 * AM_NOISE_MSG_MAX.  out may equal in.  A failed decrypt, or the nonce
 * reaching 2^64-1, fails the CipherState for good (AM_ECRYPTO/AM_ENONCE). */
int am_noise_cs_encrypt(am_noise_cs_t *cs, const uint8_t *ad, size_t ad_len,
                        const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_cap, size_t *out_len);
int am_noise_cs_decrypt(am_noise_cs_t *cs, const uint8_t *ad, size_t ad_len,
                        const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_cap, size_t *out_len);
/* Rekey() of spec 4.2: k = first 32 bytes of ENCRYPT(k, 2^64-1, "", 0^32). */
int am_noise_cs_rekey(am_noise_cs_t *cs);
/* SetNonce() of spec 5.1, forward only (AM_EINVAL for a smaller n, which
 * would reuse a nonce); for tests. */
int am_noise_cs_set_nonce(am_noise_cs_t *cs, uint64_t n);
void am_noise_cs_free(am_noise_cs_t *cs);

#endif
