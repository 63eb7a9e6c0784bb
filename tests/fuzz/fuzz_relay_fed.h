/* What the federation targets share (fuzz_relay_link: the relay's own
 * link, which it dials to the harness; to come, a target for the
 * session of a peer relay that dials the relay): the peer relay
 * AM_FZR_PEER_ID, whose keys the harness holds, and envelopes, evidence
 * and revocation lists made as a federation's members would make them.
 *
 * They run the relay with am_fzr_federate (fuzz_relay.h): PK-NCCIA homed
 * at the relay, DE-BKA at the peer, PH-NBI at a relay not linked.
 */
#ifndef AM_FUZZ_RELAY_FED_H
#define AM_FUZZ_RELAY_FED_H

#include "envelope.h"
#include "evidence.h"
#include "fuzz_relay.h"

typedef struct {
    uint8_t sign_pk[32], sign_sk[64], dh_pk[32], dh_sk[32];
    uint8_t *cert; /* SignedCertificate: AM_FZR_PEER_ID, role relay */
    size_t cert_len;
    am_cert_t parsed;
} am_fzl_peer_t;

/* Made on first use (aborts on a harness error). */
const am_fzl_peer_t *am_fzl_peer(void);

/* A certificate as the peer's but with another id, roles, DH key (other_key)
 * or issuer (foreign: not the root); *out: am_free. */
void am_fzl_cert(const char *id, unsigned roles, bool other_key, bool foreign,
                 uint8_t **out, size_t *len);

/* Recipients of am_fzl_seal: bits (1u << agency index). */
#define AM_FZL_TO(i) (1u << (i))

/* An envelope from agency `from` (fuzz_common's index) to the agencies of
 * rcpts, created today (UTC midnight) and expiring expires seconds after
 * now, with text_len bytes of text; wrong_serial names another serial of
 * the sender's certificate.  Returns am_env_seal's code (*out: am_free). */
int am_fzl_seal(int from, unsigned rcpts, int priority, uint32_t seed,
                int64_t expires, size_t text_len, bool wrong_serial,
                uint8_t **out, size_t *len);

/* Evidence as relay_id would sign it with sign_sk (*out: am_free); aborts
 * when am_evidence_sign refuses the fields. */
void am_fzl_evidence(int kind, const uint8_t id[AM_MSG_ID_LEN],
                     const uint8_t hash[AM_HASH_LEN], const char *relay_id,
                     const char *rcpt, int64_t at, const uint8_t *sign_sk,
                     uint8_t **out, size_t *len);

/* A revocation list of sequence seq listing fuzz_common's two revoked
 * serials and, when not 0, extra (never one in use); signed by the root,
 * or by fuzz_common's foreign key.  *out: am_free. */
void am_fzl_crl(uint64_t seq, uint64_t extra, bool foreign, uint8_t **out,
                size_t *len);

/* Unpacked copies for frames (free_unpacked); abort when bytes do not
 * parse, which the harness never gives them. */
Amanat__V1__SignedCertificate *am_fzl_cert_msg(const uint8_t *b, size_t n);
Amanat__V1__Evidence *am_fzl_evidence_msg(const uint8_t *b, size_t n);
Amanat__V1__RevocationList *am_fzl_crl_msg(const uint8_t *b, size_t n);

/* The fields of a serialized AgencyCertificate signed by the root (checked
 * with libsodium, not proto/'s verifier): false when it is not. */
bool am_fzl_root_cert(const uint8_t *b, size_t n,
                      char id[AM_AGENCY_ID_MAX + 1],
                      char home[AM_AGENCY_ID_MAX + 1], bool *agency);

#endif
