/* Inside the client library: the state client*.c share. */
#ifndef AM_CLIENT_INT_H
#define AM_CLIENT_INT_H

#include "client.h"
#include "evidence.h"
#include "prekey.h"
#include "validate.h"

/* Frames that arrived while an answer to a request was awaited. */
typedef struct stash {
    struct stash *next;
    Amanat__V1__Frame *f;
} stash_t;

struct am_client {
    am_profile_t prof;
    am_cstore_t *store;
    am_session_t *sess;
    bool receiving;
    stash_t *stash, **stash_tail;
    size_t n_stash;
    uint64_t next_req;
    int timeout_ms;
    am_crl_t *crl;          /* the newest held, verified */
    uint64_t crl_seq;
    am_problems_t problems;
    int relay_error;        /* ErrorCode of the last refused request, 0 */
};

/* Whether the relay's refusal of a request is for good (the message is
 * wrong) rather than for now (quota, storage, load). */
bool cl_refused_for_good(const am_client_t *c);

/* What a sender needs of a peer agency: its verified certificate, and the
 * key to seal to (its current prekey, else the certificate's). */
typedef struct {
    am_cert_t cert;
    uint8_t *cert_bytes;
    size_t cert_len;
    uint32_t prekey_id;
    uint8_t dh_pk[32];
} peer_t;

/* client.c */
int cl_connect(am_client_t *c, bool receive);
void cl_disconnect(am_client_t *c);
/* Send f (its request_id set by the caller from cl_req_id) and wait for
 * the frame of op want answering it, or an Error for it; other frames go
 * to the stash.  A refusal comes back as an error with the relay's
 * sentence. */
uint64_t cl_req_id(am_client_t *c);
int cl_call(am_client_t *c, const Amanat__V1__Frame *f, int want,
            uint64_t req, Amanat__V1__Frame **answer);
/* The next frame: from the stash first, then the relay. */
int cl_next_frame(am_client_t *c, int timeout_ms, Amanat__V1__Frame **out);
/* The peer's certificate (cached, else -- or when the cached one does not
 * verify, or force -- from the relay's directory). */
int cl_peer(am_client_t *c, const char *agency, bool need_prekey,
            bool force, peer_t *out);
/* Another relay's certificate (role relay; its prekey fields unused), as
 * cl_peer gets an agency's: cached while it verifies, else from the
 * session relay's directory. */
int cl_relay_peer(am_client_t *c, const char *relay, peer_t *out);
void cl_peer_free(peer_t *p);
/* Take a newer revocation list (verified under the root). */
int cl_take_crl(am_client_t *c, const uint8_t *b, size_t len);
/* Drop the frames kept while waiting for an answer. */
void cl_stash_clear(am_client_t *c);
int64_t cl_now(void);

/* client_send.c */
/* A stored message's kind (left as it is when the message has no body),
 * case reference, deadline (its own, else the legal clock's) and the
 * request a reply answers, from its case message. */
void cl_describe_case(am_cmsg_t *m, const Amanat__V1__CaseMessage *cm);
/* A message of ours being sent: content in, sealed envelope out. */
typedef struct {
    const uint8_t *content;
    size_t content_len;
    const Amanat__V1__CaseMessage *cm;
    int priority;
    uint8_t id[AM_MSG_ID_LEN];
    uint8_t *sealed;
    size_t sealed_len;
    char to[AM_CSTORE_RCPTS_MAX];
    int64_t expires_at;
} outgoing_t;
/* Look up the recipients and seal o->content to them. */
int cl_seal(am_client_t *c, const char *const *to, size_t n_to,
            int64_t expires_in, outgoing_t *o);
/* Store o as queued, in the caller's transaction. */
int cl_store_outgoing(am_client_t *c, const outgoing_t *o);
void cl_outgoing_free(outgoing_t *o);
/* Seal content for the recipients, store it as queued, submit it.  Used
 * for case messages and for receipts. */
int cl_seal_store_submit(am_client_t *c, const uint8_t *content, size_t len,
                         const Amanat__V1__CaseMessage *m, const char *const *to,
                         size_t n_to, int priority, int64_t expires_in,
                         uint8_t id[AM_MSG_ID_LEN]);
/* After a submit of id failed with rc: refused for good, it is marked
 * failed (with the relay's reason as an event); otherwise it stays
 * queued.  Returns the error to report. */
int cl_not_accepted(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN], int rc);
/* Submit a stored outgoing envelope and record the relay's evidence. */
int cl_submit(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
              const uint8_t *env, size_t env_len);
/* Send every outgoing message the relay has not accepted yet. */
int cl_flush_unsent(am_client_t *c);
/* A relay Evidence checked with am_evidence_verify under the certificate
 * of the relay its body names (relay_id): the session's relay, or, only
 * when any_relay, another relay of the federation (cl_relay_peer: may ask
 * the directory, a round trip); and, when id/hash are given, naming them.
 * Its fields and its exact bytes (what the store keeps as signed). */
typedef struct {
    am_evidence_t ev;
    uint8_t bytes[AM_EVIDENCE_MAX];
    size_t len;
} cl_evidence_t;
int cl_check_evidence(am_client_t *c, const Amanat__V1__Evidence *e,
                      bool any_relay, const uint8_t id[AM_MSG_ID_LEN],
                      const uint8_t *hash, cl_evidence_t *out);
/* Record checked evidence as an event of message id. */
int cl_evidence_event(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                      const cl_evidence_t *e, const char *kind,
                      const char *party);

/* client_loop.c: a signed receipt about verified env, as the content of
 * a case message (*content am_free, *cm am_pb_free). */
int cl_receipt_content(am_client_t *c, const am_env_t *env, int status,
                       const char *reason, uint8_t **content, size_t *len,
                       Amanat__V1__CaseMessage **cm);

/* client_sync.c */
bool cl_listed(const char *list, const char *agency);
int cl_on_deliver(am_client_t *c, const Amanat__V1__Deliver *d, bool *fresh);
int cl_on_receipt_relay(am_client_t *c, const Amanat__V1__ReceiptRelay *r);

#endif
