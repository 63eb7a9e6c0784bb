/* Helpers shared by the fuzz targets and their seed generator: fixed Noise
 * keys, so that every run of a target on the same input is the same run
 * (a crash found once replays), a complete in-process XX handshake, an
 * invariant check that aborts with the failed condition, a small PRNG
 * for deriving chunk sizes from input bytes, and a fixed federation (root,
 * agencies, certificates, revocation list) for the identity targets.
 *
 * The fixed ephemerals make these handshakes worthless as cryptography;
 * they exist only so that a seed transcript stays valid across runs.  The
 * same holds for the federation keys, derived from constant seeds.
 */
#ifndef AM_FUZZ_COMMON_H
#define AM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cert.h"
#include "noise.h"

/* libFuzzer's entry point; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test failed: abort, so that libFuzzer
 * records the input as a crash. */
#define AM_FZ_CHECK(cond)                                                    \
    do {                                                                     \
        if (!(cond))                                                         \
            am_fz_fail(__FILE__, __LINE__, #cond);                           \
    } while (0)

/* Says which invariant failed, on stderr and through the sanitizers'
 * report descriptor (which libFuzzer keeps when -close_fd_mask=2 closes
 * stderr, as the relay targets' tests do), then aborts. */
_Noreturn void am_fz_fail(const char *file, int line, const char *cond);

extern const uint8_t am_fz_ini_static[AM_NOISE_DHLEN];
extern const uint8_t am_fz_ini_ephemeral[AM_NOISE_DHLEN];
extern const uint8_t am_fz_resp_static[AM_NOISE_DHLEN];
extern const uint8_t am_fz_resp_ephemeral[AM_NOISE_DHLEN];

/* A started AM_NOISE_PROTOCOL handshake for role, with the fixed static
 * and ephemeral keys of that role.  *out is the caller's (am_noise_hs_free).
 * Any error here is a bug of the harness or the engine, not of the input. */
int am_fz_hs_new(am_noise_hs_t **out, am_noise_role_t role);

/* The three XX messages between two fixed-key sides, with empty payloads
 * except msg3_payload (may be NULL when msg3_payload_len is 0), written
 * into the caller's buffers (AM_NOISE_MSG_MAX bytes each).  The transport
 * CipherStates of both sides are returned when the out pointers are not
 * NULL (caller frees), otherwise freed here. */
typedef struct {
    uint8_t msg1[AM_NOISE_MSG_MAX], msg2[AM_NOISE_MSG_MAX];
    uint8_t msg3[AM_NOISE_MSG_MAX];
    size_t msg1_len, msg2_len, msg3_len;
} am_fz_transcript_t;

int am_fz_handshake(am_fz_transcript_t *t, const uint8_t *msg3_payload,
                    size_t msg3_payload_len, am_noise_cs_t **ini_send,
                    am_noise_cs_t **ini_recv, am_noise_cs_t **resp_send,
                    am_noise_cs_t **resp_recv);

/* xorshift32 over a non-zero state: chunk sizes and split points. */
static inline uint32_t am_fz_rand(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static inline uint32_t am_fz_seed(uint32_t raw)
{
    return raw * 2654435761u | 1u;
}

/* A cursor over the input; reads past the end give zeros. */
typedef struct {
    const uint8_t *p, *end;
} am_fz_in_t;

static inline unsigned am_fz_u8(am_fz_in_t *in)
{
    return in->p < in->end ? *in->p++ : 0u;
}

static inline uint64_t am_fz_be64(am_fz_in_t *in)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | am_fz_u8(in);
    return v;
}

static inline size_t am_fz_left(const am_fz_in_t *in)
{
    return (size_t)(in->end - in->p);
}

/* A length: u16 big-endian, capped at what is left of the input. */
static inline size_t am_fz_len16(am_fz_in_t *in)
{
    size_t n = (size_t)am_fz_u8(in) << 8;

    n |= am_fz_u8(in);
    return n < am_fz_left(in) ? n : am_fz_left(in);
}

/* The identity targets' clock: every certificate below is valid at it. */
#define AM_FZ_NOW ((int64_t)1790000000)
#define AM_FZ_PREKEY_ID 5u
#define AM_FZ_CRL_SEQUENCE 3u
/* Serials on the federation's revocation list; no fixed agency has one. */
#define AM_FZ_REVOKED_A 13u
#define AM_FZ_REVOKED_B 77u

typedef struct {
    const char *id;
    uint64_t serial;
    uint8_t sign_pk[AM_SIGN_PK_LEN], sign_sk[AM_SIGN_SK_LEN];
    uint8_t dh_pk[32], dh_sk[32];   /* the certificate's X25519 key */
    uint8_t pre_pk[32], pre_sk[32]; /* prekey AM_FZ_PREKEY_ID */
    uint8_t *cert_bytes;            /* SignedCertificate by the root */
    size_t cert_len;
    am_cert_t cert;                 /* cert_bytes as am_cert_verify read it */
} am_fz_agency_t;

/* Index of the agencies in am_fz_fed_t.ag: the envelope target sends
 * from SENDER to RCPT, THIRD being a second recipient or another sender. */
enum { AM_FZ_SENDER, AM_FZ_RCPT, AM_FZ_THIRD, AM_FZ_N_AGENCIES };

typedef struct {
    uint8_t root_pk[AM_SIGN_PK_LEN], root_sk[AM_SIGN_SK_LEN];
    uint8_t root_id[AM_KEY_ID_LEN];
    uint8_t other_pk[AM_SIGN_PK_LEN], other_sk[AM_SIGN_SK_LEN]; /* foreign */
    am_fz_agency_t ag[AM_FZ_N_AGENCIES]; /* PK-NCCIA, DE-BKA, PH-NBI */
    uint8_t *crl_bytes; /* AM_FZ_CRL_SEQUENCE, revoking A and B */
    size_t crl_len;
    am_crl_t *crl;
} am_fz_fed_t;

/* The federation, made on first use (aborts if that fails: a harness
 * bug).  Kept for the life of the process. */
const am_fz_fed_t *am_fz_fed(void);

/* The agency of the federation whose id is id, or NULL. */
const am_fz_agency_t *am_fz_agency(const char *id);

/* The fields of a fixed agency's certificate, valid at AM_FZ_NOW. */
void am_fz_cert_fields(const am_fz_agency_t *a, am_cert_t *c);

/* The certificate of a fixed agency with another validity: its fields,
 * not_before and not_after as given, issued by the root (*out: am_free). */
int am_fz_cert_issue_span(const am_fz_agency_t *a, int64_t not_before,
                          int64_t not_after, uint8_t **out, size_t *out_len);

/* True when in is a {body = 1, signature = 2} message (SignedCertificate,
 * RevocationList) whose signature verifies as pk's over tag || 0 || body:
 * an oracle for the verifiers that shares no code with proto/. */
bool am_fz_signed_by(const char *tag, const uint8_t *in, size_t len,
                     const uint8_t pk[AM_SIGN_PK_LEN]);

/* Deterministic am_env_rng_cb: the same seed gives the same envelope. */
typedef struct {
    uint8_t seed[32];
    uint64_t calls;
} am_fz_rng_t;

void am_fz_rng_init(am_fz_rng_t *r, uint32_t seed);
void am_fz_rng_cb(void *ctx, uint8_t *buf, size_t n);

/* How am_fz_seal builds an envelope (bits of one input byte). */
enum {
    AM_FZ_SEAL_PREKEY = 1u << 0,  /* RCPT's wrap uses its prekey */
    AM_FZ_SEAL_TWO = 1u << 1,     /* THIRD is a recipient too */
    AM_FZ_SEAL_SWAP = 1u << 2,    /* ... listed before RCPT */
    AM_FZ_SEAL_PRIO_SHIFT = 3,    /* two bits: the priority, 0 invalid */
    AM_FZ_SEAL_FROM_THIRD = 1u << 5, /* THIRD sends, not SENDER */
    AM_FZ_SEAL_BAD_SERIAL = 1u << 6, /* header names another serial */
};

/* Seal plain (may be NULL when plain_len is 0) as am_env_seal does, with
 * the parameters how selects and am_fz_rng_cb seeded with rng_seed.
 * Returns am_env_seal's code; *out is the caller's (am_free). */
int am_fz_seal(unsigned how, uint32_t rng_seed, const uint8_t *plain,
               size_t plain_len, uint8_t **out, size_t *out_len);

/* As am_fz_seal, created at created_at and expiring at expires_at instead
 * of AM_FZ_NOW and a week later: the relay targets need envelopes that a
 * relay running on the real clock accepts. */
int am_fz_seal_at(unsigned how, uint32_t rng_seed, int64_t created_at,
                  int64_t expires_at, const uint8_t *plain, size_t plain_len,
                  uint8_t **out, size_t *out_len);

#endif
