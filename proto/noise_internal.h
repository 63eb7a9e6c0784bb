/* Internal pieces of the Noise engine (Noise Protocol Framework, revision 34):
 * the hash functions with HMAC and HKDF (spec section 4.3), the CipherState
 * (5.1), the SymmetricState (5.2) and handshake patterns (7, 9).  Only files
 * in proto/ and white-box tests include this header.
 */
#ifndef AM_NOISE_INTERNAL_H
#define AM_NOISE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "noise.h"

#define AM_NOISE_MAXHASHLEN 64
#define AM_NOISE_MAXBLOCKLEN 128
#define AM_NOISE_NAME_MAX 255 /* spec 8: protocol names are at most 255 bytes */

typedef enum {
    AM_NOISE_HASH_BLAKE2B,
    AM_NOISE_HASH_SHA256,
    AM_NOISE_HASH_SHA512,
} am_noise_hash_id_t;

typedef struct {
    am_noise_hash_id_t id;
    union {
        crypto_generichash_state b2;
        crypto_hash_sha256_state s256;
        crypto_hash_sha512_state s512;
    } st;
} am_nh_ctx_t;

size_t am_nh_len(am_noise_hash_id_t id);
int am_nh_init(am_nh_ctx_t *ctx, am_noise_hash_id_t id);
int am_nh_update(am_nh_ctx_t *ctx, const uint8_t *in, size_t len);
int am_nh_final(am_nh_ctx_t *ctx, uint8_t out[static AM_NOISE_MAXHASHLEN]);
/* HASH(a || b); b may be NULL when b_len is 0. */
int am_nh_hash2(am_noise_hash_id_t id, const uint8_t *a, size_t a_len,
                const uint8_t *b, size_t b_len,
                uint8_t out[static AM_NOISE_MAXHASHLEN]);
/* HKDF(chaining_key, ikm, n) of spec 4.3 for n in {2, 3}; out3 may be NULL
 * when n is 2.  Each output is am_nh_len(id) bytes. */
int am_nh_hkdf(am_noise_hash_id_t id, const uint8_t *ck,
               const uint8_t *ikm, size_t ikm_len, int n,
               uint8_t *out1, uint8_t *out2, uint8_t *out3);

/* CipherState, spec 5.1.  'failed' is ours: once a decrypt fails or the
 * nonce is exhausted, the key is wiped and every later call is refused. */
struct am_noise_cs {
    uint8_t k[AM_NOISE_KEYLEN];
    uint64_t n;
    bool has_key;
    bool failed;
};

void am_cs_init_key(struct am_noise_cs *cs, const uint8_t *k);
void am_cs_wipe(struct am_noise_cs *cs);
/* Encrypt or decrypt with associated data.  With no key the bytes are
 * copied.  out may equal in.  Lengths are bounded by the caller. */
int am_cs_encrypt_ad(struct am_noise_cs *cs, const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t in_len, uint8_t *out);
int am_cs_decrypt_ad(struct am_noise_cs *cs, const uint8_t *ad, size_t ad_len,
                     const uint8_t *in, size_t in_len, uint8_t *out);

/* SymmetricState, spec 5.2. */
typedef struct {
    am_noise_hash_id_t hash;
    size_t hash_len;
    uint8_t ck[AM_NOISE_MAXHASHLEN];
    uint8_t h[AM_NOISE_MAXHASHLEN];
    struct am_noise_cs cs;
} am_noise_ss_t;

int am_ss_init(am_noise_ss_t *ss, am_noise_hash_id_t hash, const char *name);
int am_ss_mix_key(am_noise_ss_t *ss, const uint8_t *ikm, size_t len);
int am_ss_mix_hash(am_noise_ss_t *ss, const uint8_t *data, size_t len);
int am_ss_mix_key_and_hash(am_noise_ss_t *ss, const uint8_t *ikm, size_t len);
/* out receives len bytes, plus AM_NOISE_TAGLEN when a key is set. */
int am_ss_encrypt_and_hash(am_noise_ss_t *ss, const uint8_t *in, size_t len,
                           uint8_t *out);
/* in_len includes the tag when a key is set; out gets the plaintext. */
int am_ss_decrypt_and_hash(am_noise_ss_t *ss, const uint8_t *in,
                           size_t in_len, uint8_t *out);
int am_ss_split(am_noise_ss_t *ss, struct am_noise_cs *c1,
                struct am_noise_cs *c2);
void am_ss_wipe(am_noise_ss_t *ss);

/* Handshake patterns (spec 7 and 9).  Messages alternate initiator,
 * responder, ... from message 0; a one-way pattern has a single message. */
enum {
    AM_TOK_E = 1,
    AM_TOK_S,
    AM_TOK_EE,
    AM_TOK_ES,
    AM_TOK_SE,
    AM_TOK_SS,
    AM_TOK_PSK,
};

#define AM_NOISE_MAX_MSGS 6
#define AM_NOISE_MAX_TOKENS 10

typedef struct {
    uint8_t pre_i[2], pre_r[2]; /* pre-message tokens (e, s) */
    uint8_t n_pre_i, n_pre_r;
    uint8_t n_msgs;
    uint8_t n_tok[AM_NOISE_MAX_MSGS];
    uint8_t tok[AM_NOISE_MAX_MSGS][AM_NOISE_MAX_TOKENS];
    uint8_t n_psk;  /* psk tokens in all messages */
    bool one_way;
    bool psk_mode;  /* any psk modifier: 'e' also calls MixKey (spec 9.2) */
} am_noise_pattern_t;

/* Parse a pattern name with its modifiers ("XX", "IKpsk2", "XXpsk0+psk3"). */
int am_noise_pattern_parse(const char *name, size_t len,
                           am_noise_pattern_t *out);

/* Test vectors and fuzzing only (hence not in noise.h): use this ephemeral instead of a random one.
 * A fixed ephemeral in production destroys forward secrecy. */
int am_noise_hs_set_fixed_ephemeral(am_noise_hs_t *hs,
                                    const uint8_t sk[static AM_NOISE_DHLEN]);

/* HandshakeState, spec 5.3; here so white-box tests can check wiping. */
struct am_noise_hs {
    am_noise_pattern_t pat;
    am_noise_ss_t ss;
    bool initiator, started, failed, split_done;
    uint8_t msg_i;
    uint8_t s_sk[AM_NOISE_DHLEN], s_pk[AM_NOISE_DHLEN];
    uint8_t e_sk[AM_NOISE_DHLEN], e_pk[AM_NOISE_DHLEN];
    uint8_t rs[AM_NOISE_DHLEN], re[AM_NOISE_DHLEN];
    bool has_s, has_e, has_rs, has_re;
    uint8_t psk[AM_NOISE_MAX_PSKS][AM_NOISE_KEYLEN];
    uint8_t n_psk, psk_used;
};

#endif
