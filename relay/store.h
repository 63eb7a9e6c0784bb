/* The relay's durable mailbox store, behind a small interface.
 *
 * DESIGN.  One store thread owns the SQLite connection (WAL mode,
 * synchronous=FULL: a commit returns only after the write-ahead log is
 * fsync'd).  Callers on the event loop enqueue requests and return at once;
 * the store thread takes everything queued, runs it in one transaction
 * (group commit: one fsync for the whole batch, each request in its own
 * savepoint so one refusal does not undo the others), commits, then calls
 * notify (the relay passes uv_async_send) and the loop runs
 * am_store_drain(), which calls each request's callback.  So an ack built
 * in a put callback is sent only after the data is on disk.  A failed
 * commit is fatal: the store fails every later request (AM_EIO) and the
 * relay must stop; it is never retried, since after a failed fsync the
 * kernel may have dropped the dirty pages (the fsyncgate lesson).  Out of
 * memory is not: SQLite then rolls the batch back, its requests fail
 * (AM_EIO, nothing of it acknowledged) and the next batch goes on.
 */
#ifndef AM_STORE_H
#define AM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "country.h"
#include "envelope.h"
#include "evidence.h"
#include "prekey.h"

typedef struct am_store am_store_t;

/* Called on the store thread when callbacks are ready to run; must only
 * wake the owning thread (uv_async_send is safe). */
typedef void (*am_store_notify_cb)(void *ctx);

/* Open (creating if needed) the store in folder dir.  Starts the store
 * thread.  Errors name the file and SQLite's reason.  A store file that
 * fails SQLite's integrity check is salvaged first (store_salvage.c,
 * docs/OPERATIONS.md 4.1): kept aside, and what can still be read of it
 * copied into a new store; AM_EIO when nothing could be read. */
int am_store_open(const char *dir, am_store_notify_cb notify, void *ctx,
                  am_store_t **out);

/* Where the copies for an agency go now, as a Submit would route them:
 * AM_STORE_HERE when this relay serves it, AM_STORE_VIA when it is homed
 * at peer relay `via` (filled), AM_STORE_NOWHERE otherwise.  Asked only
 * by a salvage, on the thread that opens the store, before it returns,
 * for an envelope whose delivery records were lost. */
enum { AM_STORE_NOWHERE, AM_STORE_HERE, AM_STORE_VIA };
typedef int (*am_store_route_cb)(void *ctx, const char *agency,
                                 char via[static AM_AGENCY_ID_MAX + 1]);

/* am_store_open with the routing a salvage needs (route NULL: none, as
 * am_store_open: lost deliveries are then reported, never recreated). */
int am_store_open_routed(const char *dir, am_store_notify_cb notify,
                         void *ctx, am_store_route_cb route, void *route_ctx,
                         am_store_t **out);

/* Run the callbacks of finished requests, on the calling thread. */
void am_store_drain(am_store_t *s);

/* Finish queued requests, run their callbacks, stop the thread, close.
 * AM_EIO when a commit failed, before or while closing (the relay must
 * then exit non-zero); 0 otherwise, and for s NULL. */
int am_store_close(am_store_t *s);

#define AM_STORE_EVCACHE_LEN 80

/* A verified envelope to store for its recipients. */
typedef struct {
    uint8_t message_id[AM_MSG_ID_LEN];
    uint8_t envelope_hash[AM_HASH_LEN];
    char sender[AM_AGENCY_ID_MAX + 1];
    size_t n_recipients;
    char recipients[AM_ENV_MAX_RECIPIENTS][AM_AGENCY_ID_MAX + 1];
    int priority; /* AM_PRIORITY_* */
    int64_t expires_at;
    /* federation (docs/PROTOCOL.md section 18): via[i] is the home relay
     * of recipients[i] when it is another relay ("" when it is this one):
     * such recipients get one delivery per relay, to that relay.  route
     * is the relay that forwarded the envelope here ("" when its sender
     * submitted it here): evidence about it is owed to that relay. */
    char via[AM_ENV_MAX_RECIPIENTS][AM_AGENCY_ID_MAX + 1];
    char route[AM_AGENCY_ID_MAX + 1];
    const uint8_t *envelope; /* copied by am_store_put */
    size_t envelope_len;
    /* the sender's quota: what it may have stored and undelivered */
    uint64_t quota_messages, quota_bytes;
    /* What the relay keeps of its accepted evidence's signature, so that
     * delivering the envelope costs no signature (relay/evcache.h): kept
     * with the envelope and given back as it is, opaque to the store. */
    bool has_evcache;
    uint8_t evcache[AM_STORE_EVCACHE_LEN];
} am_store_put_t;

/* rc 0: stored durably (or was already, with the same hash: idempotent);
 * accepted_at is the time of the first store.  AM_EDUP: the message id is
 * already stored with different content.  AM_ELIMIT: the sender's quota
 * is full (am_err_detail() is not kept across threads: the callback
 * says it again).  AM_EIO: storage failed. */
typedef void (*am_store_put_cb)(void *ctx, int rc, int64_t accepted_at);

int am_store_put(am_store_t *s, const am_store_put_t *m, int64_t now,
                 am_store_put_cb cb, void *ctx);

/* A place in a recipient's delivery order (priority, then arrival). */
typedef struct {
    int priority;
    int64_t seq; /* 0: before everything */
} am_store_cursor_t;

typedef struct {
    uint8_t message_id[AM_MSG_ID_LEN];
    uint8_t envelope_hash[AM_HASH_LEN];
    int64_t accepted_at;
    char sender[AM_AGENCY_ID_MAX + 1];
    char owed[AM_AGENCY_ID_MAX + 1]; /* who is owed evidence: the sender,
                                        or the relay that forwarded it */
    int priority;
    am_store_cursor_t at; /* its place in the delivery order */
    /* am_store_put_t.evcache as put, when one was (the caller checks it) */
    bool has_evcache;
    uint8_t evcache[AM_STORE_EVCACHE_LEN];
    uint8_t *envelope;
    size_t envelope_len;
} am_store_item_t;

/* Envelopes one am_store_next answer holds beyond its first, in bytes. */
#define AM_STORE_NEXT_BYTES ((size_t)1 << 20)

/* Up to max pending envelopes for recipient that have not expired at now,
 * emergency before urgent before routine, then first in first out,
 * starting after *after (NULL: from the start), and stopping once they
 * hold AM_STORE_NEXT_BYTES.  A caller that keeps envelopes unacknowledged
 * on the wire pages on with the last item's place instead of being sent
 * them again.  items live until the callback returns. */
typedef void (*am_store_next_cb)(void *ctx, int rc,
                                 const am_store_item_t *items, size_t n);

int am_store_next(am_store_t *s, const char *recipient, size_t max,
                  int64_t now, const am_store_cursor_t *after,
                  am_store_next_cb cb, void *ctx);

/* The recipient acknowledged message id: it is no longer pending for it
 * (rc 0: durably).  The rest follows when the store folds its log of
 * acknowledgements (store_fold.c), oldest first: once idle for 10 ms,
 * and within about 200 ms while busy: the sender is owed delivered
 * evidence (am_store_on_folded names it), and when every recipient has
 * acknowledged, the envelope bytes are deleted (the metadata row stays)
 * and the sender's quota is freed.  rc AM_EKEY when no such delivery
 * exists. */
typedef void (*am_store_done_cb)(void *ctx, int rc);

int am_store_ack(am_store_t *s, const char *recipient,
                 const uint8_t id[static AM_MSG_ID_LEN], int64_t now,
                 am_store_done_cb cb, void *ctx);

/* Evidence the relay owes a sender: kind 2 (delivered) when a recipient
 * acknowledged.  Kept until the sender acknowledges it.  Evidence signed
 * by another relay is kept as signed (evidence_len > 0) and passed on as
 * is; the relay signs the rest when it sends them.  For accepted evidence
 * of another relay, recipient names that relay. */
typedef struct {
    int kind;
    uint8_t message_id[AM_MSG_ID_LEN];
    uint8_t envelope_hash[AM_HASH_LEN];
    char recipient[AM_AGENCY_ID_MAX + 1];
    int64_t time;
    uint8_t evidence[AM_EVIDENCE_MAX]; /* a serialized Evidence */
    size_t evidence_len;
} am_store_notice_t;

/* Peer relay `relay` stored message id, forwarded to it: ev (kind 1,
 * accepted, signed by that relay and checked by the caller) names its
 * envelope hash, which must be the one stored here.  The delivery to that
 * relay is done, and the sender is owed ev.  rc AM_EKEY: no such delivery;
 * AM_ECRYPTO: ev names another envelope. */
int am_store_forwarded(am_store_t *s, const char *relay,
                       const uint8_t id[static AM_MSG_ID_LEN],
                       const am_store_notice_t *ev, int64_t now,
                       am_store_done_cb cb, void *ctx);

/* Peer relay `relay` refused message id for good: its delivery there
 * ends (state refused), with nothing owed to the sender. */
int am_store_refused(am_store_t *s, const char *relay,
                     const uint8_t id[static AM_MSG_ID_LEN], int64_t now,
                     am_store_done_cb cb, void *ctx);

/* Evidence from peer relay `relay` (delivered or expired, signed by it
 * and checked by the caller) about message id that this relay forwarded
 * to it for ev->recipient: kept for the message's sender.  rc AM_EKEY: no
 * such message forwarded there for that recipient; AM_ECRYPTO: another
 * envelope hash. */
int am_store_notice_put(am_store_t *s, const char *relay,
                        const am_store_notice_t *ev, am_store_done_cb cb,
                        void *ctx);

typedef void (*am_store_notices_cb)(void *ctx, int rc,
                                    const am_store_notice_t *notices,
                                    size_t n);

/* Up to max notices not yet acknowledged by sender, oldest first. */
int am_store_notices(am_store_t *s, const char *sender, size_t max,
                     am_store_notices_cb cb, void *ctx);

/* The sender has stored one notice; rc AM_EKEY when there is none such. */
int am_store_notice_ack(am_store_t *s, const char *sender, int kind,
                        const uint8_t id[static AM_MSG_ID_LEN],
                        const char *recipient, am_store_done_cb cb,
                        void *ctx);

/* Expire what is still pending past its expires_at (at now): each such
 * delivery is owed to its sender as kind 3 (expired) evidence, and an
 * envelope nobody can receive any more loses its bytes and gets its audit
 * record (as when every recipient acknowledged).  The callback
 * gets up to 64 distinct senders that are now owed evidence (n may be
 * more than were listed: then kick them all). */
typedef void (*am_store_expired_cb)(
    void *ctx, int rc, const char (*senders)[AM_AGENCY_ID_MAX + 1],
    size_t n_listed, size_t n);

int am_store_expire(am_store_t *s, int64_t now, am_store_expired_cb cb,
                    void *ctx);

/* An agency's signed prekey, verified by the caller before it is put. */
typedef struct {
    char agency[AM_AGENCY_ID_MAX + 1];
    uint32_t prekey_id;
    int64_t created_at, not_after;
    uint64_t cert_serial; /* of the certificate it was verified under */
    uint8_t signed_prekey[AM_PREKEY_MAX]; /* the SignedPrekey as uploaded */
    size_t len;                           /* 0: none current */
} am_store_prekey_t;

/* Keep p as its agency's prekey.  rc 0: kept (or the very same was held);
 * AM_ESTALE: the one held was created later or at the same time. */
int am_store_prekey_put(am_store_t *s, const am_store_prekey_t *p,
                        am_store_done_cb cb, void *ctx);

/* The current prekey (not expired at now) of each of n agencies, in the
 * same order; len 0 where there is none.  found lives until the callback
 * returns. */
typedef void (*am_store_prekeys_cb)(void *ctx, int rc,
                                    const am_store_prekey_t *found, size_t n);

#define AM_STORE_LOOKUP_MAX 32

int am_store_prekeys(am_store_t *s, const char *const *agencies, size_t n,
                     int64_t now, am_store_prekeys_cb cb, void *ctx);

/* cb runs (in am_store_drain) after each fold of acknowledgements with
 * the senders now owed delivered evidence, as am_store_expire's does. */
void am_store_on_folded(am_store_t *s, am_store_expired_cb cb, void *ctx);

/* True once a commit failed: the relay must stop (and restart clean). */
bool am_store_failed(am_store_t *s);

/* Tests only: while held, requests wait in the queue, so the next batch
 * deterministically holds all of them. */
void am_store_hold(am_store_t *s, int hold);

/* Tests only: while held, logged acknowledgements are not folded (the
 * store open folds what it finds all the same). */
void am_store_hold_folding(am_store_t *s, int hold);

/* Tests only: the store's unit tests hold bytes that are not envelopes;
 * false skips the start check of each held envelope (store_check.c), not
 * SQLite's integrity check.  True in the relay. */
extern bool am_store_check_envelopes;

/* Counters, for tests and metrics. */
typedef struct {
    uint64_t requests; /* finished */
    uint64_t commits;  /* transactions committed (one fsync each) */
    uint64_t folded;   /* acknowledgements folded from the log */
    uint64_t unfolded; /* logged, not yet folded (may count over) */
} am_store_stats_t;

void am_store_stats(am_store_t *s, am_store_stats_t *out);

#endif
