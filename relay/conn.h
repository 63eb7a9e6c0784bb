/* One client connection: handshake, authentication, then frames. */
#ifndef AM_CONN_H
#define AM_CONN_H

#include <stdbool.h>

#include "channel.h"
#include "frame.h"
#include "noise.h"
#include "server.h"

enum { CONN_HS1, CONN_HS3, CONN_HELLO, CONN_READY };

/* A receiving session keeps up to AM_DELIVER_WINDOW envelopes on the wire
 * unacknowledged and fetches AM_DELIVER_BATCH more from the store whenever
 * that many places are free, so the store's work on acknowledgements
 * overlaps the network's; AM_NOTICE_BATCH pieces of evidence go in one
 * ReceiptRelay. */
#define AM_DELIVER_WINDOW 256
#define AM_DELIVER_BATCH 64
#define AM_NOTICE_BATCH 16

/* What a receiving session has delivered and not yet seen acknowledged
 * (allocated at its first delivery: idle sessions stay small). */
typedef struct {
    uint8_t ids[AM_DELIVER_WINDOW][AM_MSG_ID_LEN];
    char senders[AM_DELIVER_WINDOW][AM_AGENCY_ID_MAX + 1];
} conn_inflight_t;

struct am_link;

typedef struct conn {
    uv_tcp_t tcp; /* first: handles point back to the connection */
    struct am_link *link;  /* this relay's link to a peer relay (link.h) */
    bool relay_peer;       /* a peer relay's session with this relay */
    uv_timer_t timer;
    am_server_t *srv;
    struct conn *next, **prevp;        /* srv->conns, every connection */
    struct conn *snext, **sprevp;      /* one chain of srv->sess */
    int sess_kind;                     /* AM_SESS_* */
    int state;
    am_noise_hs_t *hs;     /* a thread-pool worker's while hs_job */
    am_framedec_t *hsdec;
    bool hs_job;           /* handshake work queued (conn_hs.c) */
    uint8_t *stash;        /* bytes read behind that message, unread */
    size_t stash_len;
    am_chan_t *chan;
    am_cert_t peer;
    char addr[64], ip[48];
    bool receive, fetching, closing, paused;
    bool refetch;          /* page from the start: an earlier one arrived */
    bool fetch_deferred;   /* waiting for the socket to take the last batch */
    bool kicked;           /* stored for it while a fetch was out: that
                              fetch may not see it, so another follows */
    unsigned inflight;     /* delivered, not yet acknowledged */
    am_store_cursor_t cursor; /* the last envelope fetched */
    conn_inflight_t *fl;
    bool noticing;          /* a notices request or unacked batch is out */
    unsigned notices_owed;  /* sent in the last ReceiptRelay, not acked */
    unsigned store_pending; /* verifications and store requests in flight */
    unsigned prekey_uploads; /* in this session: each costs a signature */
    int refs;          /* open handles and store requests in flight */
} conn_t;

/* sessions.c: connections by address (before authentication) or by
 * agency id (after).  A connection is in at most one chain; add moves it. */
void am_sess_init(am_server_t *srv);
void am_sess_add(conn_t *c, int kind);
void am_sess_remove(conn_t *c);
conn_t *am_sess_first(am_server_t *srv, int kind, const char *key);
conn_t *am_sess_next(const conn_t *c, const char *key);
size_t am_sess_count(am_server_t *srv, int kind, const char *key);

/* conn_io.c: writing and closing */
void conn_ref(conn_t *c);
void conn_unref(conn_t *c);
void conn_close(conn_t *c, const char *why);
int conn_send_raw(conn_t *c, const uint8_t *msg, size_t len);
int conn_send_frame(conn_t *c, const Amanat__V1__Frame *f);
void conn_send_error(conn_t *c, Amanat__V1__ErrorCode code, uint64_t req,
                     bool fatal, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void conn_log(const conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* server.c: a connection in srv->conns with its handles made (two
 * references: its TCP handle and its timer); the timer's callback */
conn_t *conn_new(am_server_t *srv);
void conn_on_timeout(uv_timer_t *t);
/* server.c: reading again once a paused connection's writes drained */
void conn_resume(conn_t *c);
/* Bytes from the peer, as read (or taken back from c->stash). */
void conn_input(conn_t *c, const uint8_t *p, size_t len);
/* Pause reading while writes or store requests pile up; resume after. */
void conn_flow(conn_t *c);

/* conn_hs.c: the Noise handshake and the peer's certificate.  A message
 * may be handed to a thread-pool worker (c->hs_job): what is read behind
 * it waits in c->stash until the worker's answer has been acted on, and
 * is then fed back.  Beyond AM_STASH_MAX bytes reading stops meanwhile
 * (an honest client sends at most Hello before it hears back). */
#define AM_STASH_MAX ((size_t)64 << 10)
int conn_hs_start(conn_t *c);
/* The handshake state (this relay's static key, the prologue) and the
 * record decoder, for either role: a link dials as the initiator. */
int conn_hs_new(conn_t *c, am_noise_role_t role);
void conn_hs_message(conn_t *c, const uint8_t *msg, size_t len);

/* conn_submit.c: Submit, and the relay's signed evidence */
#define AM_MAX_EXPIRY (30 * 86400) /* an envelope lives at most 30 days here */
/* Room for the Deliver frame's evidence around an envelope, so whatever
 * was accepted can always be delivered within the same frame limit. */
#define AM_DELIVER_OVERHEAD 1024
#define AM_EVIDENCE_BODY_MAX 512
void conn_submit(conn_t *c, const Amanat__V1__Submit *sub);
/* The relay's evidence: its body, signed into sig; conn_evidence_cached
 * copies instead the signature kept in evcache (relay/evcache.h) when it
 * is there and holds for the relay's current key (evcache NULL: none). */
int conn_evidence(conn_t *c, Amanat__V1__EvidenceKind kind,
                  const uint8_t id[AM_MSG_ID_LEN],
                  const uint8_t hash[AM_HASH_LEN], const char *recipient,
                  int64_t t, uint8_t *body, size_t *body_len,
                  uint8_t sig[AM_SIG_LEN]);
int conn_evidence_cached(conn_t *c, const uint8_t id[AM_MSG_ID_LEN],
                         const uint8_t hash[AM_HASH_LEN], int64_t t,
                         const uint8_t *evcache, uint8_t *body,
                         size_t *body_len, uint8_t sig[AM_SIG_LEN]);
/* Signs p's accepted evidence for time now before p is stored, so that
 * the store keeps the signature with the envelope (p->evcache) and
 * delivering it signs nothing (a failure only leaves it to be signed
 * when needed). */
void conn_presign(conn_t *c, am_store_put_t *p, int64_t now);
/* The accepted evidence of p, stored at accepted_at: the signature made
 * by conn_presign at signed_at when the times agree (the first store of
 * that id was this one, or in the same second). */
int conn_accepted(conn_t *c, const am_store_put_t *p, int64_t signed_at,
                  int64_t accepted_at, uint8_t *body, size_t *body_len,
                  uint8_t sig[AM_SIG_LEN]);

/* conn_dir.c: certificates learned at authentication, prekey upload and
 * directory lookups */
void conn_learn(conn_t *c, const uint8_t *cert, size_t len);
void conn_prekey_upload(conn_t *c, const Amanat__V1__PrekeyUpload *u);
void conn_lookup(conn_t *c, const Amanat__V1__DirectoryLookup *l);

/* conn_ops.c: frames after authentication */
/* The store answered an acknowledgement of id (rc): it leaves the window,
 * its sender (or the relay owed the evidence) hears of it, more follows. */
void conn_acked(conn_t *c, const uint8_t id[AM_MSG_ID_LEN], int rc,
                bool refused);
/* An acknowledgement on its way to the store (conn_on_acked frees it,
 * drops the reference and the store_pending the caller took). */
typedef struct {
    conn_t *c;
    uint8_t id[AM_MSG_ID_LEN];
    bool refused; /* a peer relay's refusal, not an acknowledgement */
} conn_ackreq_t;
conn_ackreq_t *conn_ackreq(conn_t *c, const uint8_t id[AM_MSG_ID_LEN]);
void conn_on_acked(void *ctx, int rc);
bool conn_in_flight(const conn_t *c, const uint8_t id[AM_MSG_ID_LEN]);
/* Answer a Ping with its nonce. */
void conn_pong(conn_t *c, const Amanat__V1__Ping *ping);
void conn_frame(conn_t *c, const uint8_t *body, size_t len);
/* An envelope of that priority was stored for agency_id: deliver it. */
void conn_kick(am_server_t *srv, const char *agency_id, int priority);
/* The socket took what was queued: fetch more if that was waiting. */
void conn_wrote(conn_t *c);
void conn_kick_notices(am_server_t *srv, const char *sender);
void conn_kick_notices_all(am_server_t *srv);

/* conn_peer.c: a peer relay's session with this relay (docs/PROTOCOL.md
 * section 18): it pulls what is stored for its agencies and answers each
 * with ForwardResult; it is sent this relay's agencies' certificates and
 * prekeys, and newer revocation lists. */
void conn_forward_result(conn_t *c, const Amanat__V1__ForwardResult *r);
/* The fields a Deliver to a peer relay adds; free with
 * conn_peer_deliver_free. */
int conn_peer_deliver(conn_t *c, const am_store_item_t *it,
                      Amanat__V1__Deliver *d);
void conn_peer_deliver_free(Amanat__V1__Deliver *d);
void conn_peer_ready(conn_t *c);
/* Tell every peer relay's session about agency's certificate and prekey. */
void conn_push_agency(am_server_t *srv, const char *agency);
/* Send every peer relay's session the revocation list now held. */
void conn_push_crl(am_server_t *srv);

/* conn_dir.c: the DirectoryEntry of each of n agencies (found: their
 * prekeys from the store); free with conn_dir_entries_free. */
void conn_dir_entries(am_server_t *srv, const am_store_prekey_t *found,
                      size_t n, Amanat__V1__DirectoryEntry *e,
                      Amanat__V1__DirectoryEntry **ep);
void conn_dir_entries_free(Amanat__V1__DirectoryEntry *e, size_t n);
/* Keep a root-verified certificate (of an agency that authenticated, or
 * of a peer relay's agency): in memory at once, on disk off the loop. */
void conn_learn_cert(am_server_t *srv, const uint8_t *cert, size_t len,
                     const am_cert_t *verified);

#endif
