/* What the client targets (fuzz_client_receive, fuzz_client_ini) and
 * their seeds share.
 *
 * The client under test speaks for DE-BKA, fuzz_common's AM_FZ_RCPT: the
 * agency PK-NCCIA (AM_FZ_SENDER) and PH-NBI (AM_FZ_THIRD) seal to.  Its
 * home relay is DE-RELAY, with keys from constant seeds here; PH-RELAY,
 * PH-NBI's home relay, is a peer relay whose evidence DE-RELAY passes on
 * and whose certificate its directory serves.  Every
 * certificate is reissued for 2020-2100, since the client checks them
 * against the real clock, not AM_FZ_NOW.  The store of the client always
 * holds one message DE-BKA sent (to PK-NCCIA and PH-NBI), sealed with a
 * fixed rng: the message the seeds' receipts, replies and relay evidence
 * are about.  So the same bytes are made on every run, and seeds stay
 * valid.
 *
 * fuzz_client_fed.c holds the fixed parts (proto/ only, so that the seed
 * generator can use them), fuzz_client_home.c the profile folder,
 * fuzz_client_session.c the relay session the receiving target gives the
 * client.
 */
#ifndef AM_FUZZ_CLIENT_H
#define AM_FUZZ_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "envelope.h"
#include "fuzz_common.h"
#include "wire.pb-c.h"

#define AM_FZC_NOT_BEFORE ((int64_t)1577836800) /* 2020-01-01 */
#define AM_FZC_NOT_AFTER ((int64_t)4102444800)  /* 2100-01-01 */
#define AM_FZC_RELAY_ID "DE-RELAY"
#define AM_FZC_RELAY2_ID "PH-RELAY"
#define AM_FZC_ME AM_FZ_RCPT
#define AM_FZC_SENT_RNG 4242u /* the rng seed of the stored sent message */

typedef struct {
    /* DE-RELAY: role relay */
    uint8_t relay_sign_pk[AM_SIGN_PK_LEN], relay_sign_sk[AM_SIGN_SK_LEN];
    uint8_t relay_dh_pk[32];
    uint8_t *relay_cert;
    size_t relay_cert_len;
    am_cert_t relay;
    /* PH-RELAY: role relay, a peer of DE-RELAY */
    uint8_t relay2_sign_pk[AM_SIGN_PK_LEN], relay2_sign_sk[AM_SIGN_SK_LEN];
    uint8_t relay2_dh_pk[32];
    uint8_t *relay2_cert;
    size_t relay2_cert_len;
    am_cert_t relay2;
    /* fuzz_common's agencies, reissued */
    uint8_t *cert[AM_FZ_N_AGENCIES];
    size_t cert_len[AM_FZ_N_AGENCIES];
    /* the message DE-BKA sent: its envelope, id, hash and content */
    uint8_t *sent;
    size_t sent_len;
    uint8_t sent_id[AM_MSG_ID_LEN], sent_hash[AM_HASH_LEN];
    uint8_t *sent_content;
    size_t sent_content_len;
} am_fzc_fix_t;

/* Made on first use (aborts if that fails: a harness bug); kept for the
 * life of the process. */
const am_fzc_fix_t *am_fzc_fix(void);

/* Harness failure: say what and abort (through am_fz_fail). */
_Noreturn void am_fzc_die(const char *what, int rc);

/* A serialized EvidenceBody with these fields (recipient may be NULL);
 * *out is the caller's (am_free). */
int am_fzc_evidence_body(int kind, const uint8_t id[AM_MSG_ID_LEN],
                         const uint8_t hash[AM_HASH_LEN],
                         const char *relay_id, const char *recipient,
                         int64_t time, uint8_t **out, size_t *out_len);

/* Evidence whose body is body (not copied: it must outlive e), signed
 * under the evidence tag with sk into sig. */
void am_fzc_evidence(Amanat__V1__Evidence *e, const uint8_t *body,
                     size_t len, const uint8_t sk[AM_SIGN_SK_LEN],
                     uint8_t sig[AM_SIG_LEN]);

/* A serialized Frame, without its length prefix (am_free). */
int am_fzc_frame_bytes(const Amanat__V1__Frame *f, uint8_t **out,
                       size_t *out_len);

/* The seeds of both targets, into DIR/<target> (gen_seeds_client.c). */
void am_fzc_write_seeds(void);

/* --- fuzz_client_home.c: the profile folder --- */

#define AM_FZC_PATH 256

/* A new folder under /dev/shm (else /tmp): DE-BKA's profile with root.pub,
 * agency.cert, client.ini (id DE-BKA, a relay on 127.0.0.1), the agency
 * key unsealed (no passphrase), and the secret of prekey AM_FZ_PREKEY_ID.
 * Removed at exit.  Aborts on failure. */
void am_fzc_home_make(char home[AM_FZC_PATH]);

/* Replace a file of the profile with these bytes (no fsync: a test
 * folder).  0, or AM_EIO. */
int am_fzc_home_write(const char *home, const char *name, const void *data,
                      size_t len);

/* --- fuzz_client_session.c: the relay's side of the session --- */

/* The session to give the client (its c->sess). */
struct am_session *am_fzc_session(void);

/* What the client sent during one input. */
typedef struct {
    size_t acks, receipt_acks, submits, lookups, others;
    uint8_t ack_id[AM_MSG_ID_LEN]; /* of the last DeliveryAck */
} am_fzc_log_t;

/* Called with each frame the client sends, as the relay would read it. */
typedef void (*am_fzc_sent_cb)(void *ctx, const Amanat__V1__Frame *f);

/* Start of an input: forget what was sent; the relay will answer the
 * client's first request with script (a Frame body: NULL for none: then
 * every request gets the honest answer) and later requests with nothing
 * (the client's wait ends at once, as a timeout). */
void am_fzc_session_begin(const uint8_t *script, size_t script_len,
                          am_fzc_sent_cb cb, void *ctx);
const am_fzc_log_t *am_fzc_session_log(void);

#endif
