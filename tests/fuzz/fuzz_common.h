/* Helpers shared by the fuzz targets and their seed generator: fixed Noise
 * keys, so that every run of a target on the same input is the same run
 * (a crash found once replays), a complete in-process XX handshake, an
 * invariant check that aborts with the failed condition, and a small PRNG
 * for deriving chunk sizes from input bytes.
 *
 * The fixed ephemerals make these handshakes worthless as cryptography;
 * they exist only so that a seed transcript stays valid across runs.
 */
#ifndef AM_FUZZ_COMMON_H
#define AM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "noise.h"

/* libFuzzer's entry point; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test failed: abort, so that libFuzzer
 * records the input as a crash. */
#define AM_FZ_CHECK(cond)                                                    \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

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

#endif
