/* The client's local store (store.db in the profile): every message the
 * agency sent or received, keyed by message id, with the exact signed
 * envelope and the case message it carried; the events that tell where
 * each request stands (relay evidence and signed receipts kept as signed
 * bytes); the certificates, prekeys and revocation list fetched from the
 * relay.  SQLite in WAL mode with synchronous=FULL: a call (or a
 * transaction between am_cstore_begin and am_cstore_commit) has returned
 * only once it is on disk, so a received message is stored before the
 * relay is told it arrived. */
#ifndef AM_CSTORE_H
#define AM_CSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "country.h"
#include "envelope.h"

typedef struct am_cstore am_cstore_t;

#define AM_CSTORE_RCPTS_MAX (AM_ENV_MAX_RECIPIENTS * (AM_AGENCY_ID_MAX + 1))

typedef struct {
    uint8_t id[AM_MSG_ID_LEN];
    bool outgoing;  /* sent by this agency */
    bool sent;      /* outgoing: the relay accepted it */
    char sender[AM_AGENCY_ID_MAX + 1];
    char recipients[AM_CSTORE_RCPTS_MAX]; /* "DE-BKA,PH-NBI" */
    char kind[24];  /* am_case_kind(): "emergency", "reply", "receipt"... */
    int priority;   /* AM_PRIORITY_* */
    int64_t created_at, expires_at;
    int64_t deadline;                 /* 0: none */
    bool has_reply_to;                /* replies and receipts */
    uint8_t in_reply_to[AM_MSG_ID_LEN];
    char case_ref[96];                /* for lists: the case's reference */
    const uint8_t *envelope;          /* exact signed bytes */
    size_t envelope_len;
    const uint8_t *content;           /* serialized CaseMessage */
    size_t content_len;
    int64_t stored_at, read_at;       /* read_at 0: unread */
    char state[16];                   /* incoming: "", "acknowledged",
                                         "refused", "answered"... */
} am_cmsg_t;

typedef struct {
    uint8_t message_id[AM_MSG_ID_LEN]; /* the request it is about */
    char kind[24];      /* queued accepted delivered expired received
                           acknowledged refused in_progress answered
                           more_information partially_answered */
    char party[AM_AGENCY_ID_MAX + 1]; /* who signed it (agency or relay) */
    int64_t time;
    const uint8_t *signed_bytes;      /* Evidence or SignedReceipt; may be 0 */
    size_t signed_len;
    bool has_source;                  /* the reply or receipt carrying it */
    uint8_t source[AM_MSG_ID_LEN];
    char detail[320];                 /* a refusal's reason... */
} am_cevent_t;

int am_cstore_open(const char *path, am_cstore_t **out);
void am_cstore_close(am_cstore_t *s);

/* Group writes into one transaction (one fsync). */
int am_cstore_begin(am_cstore_t *s);
int am_cstore_commit(am_cstore_t *s);
void am_cstore_rollback(am_cstore_t *s);

/* Store m unless its id is there already (*existed then true, nothing
 * changed: a message is never stored twice). */
int am_cstore_put(am_cstore_t *s, const am_cmsg_t *m, bool *existed);

/* The message id; envelope and content point into *bufs (am_free).
 * AM_EKEY when there is none. */
int am_cstore_get(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                  am_cmsg_t *m, uint8_t **bufs);

/* An id from the hex the officer typed (at least 6 digits): AM_EKEY when
 * no message starts so, AM_EINVAL when several do. */
int am_cstore_resolve(am_cstore_t *s, const char *hex,
                      uint8_t id[AM_MSG_ID_LEN]);

enum { AM_CLIST_INBOX, AM_CLIST_SENT, AM_CLIST_UNSENT };

/* Messages without their bytes (envelope, content NULL), in the order of
 * the list: inbox (received requests and notifications) unread first,
 * then emergency first, newest first; sent (this agency's requests and
 * notifications) oldest first; unsent (outgoing not yet accepted, any
 * kind) oldest first.  cb returns non-zero to stop. */
typedef int (*am_cmsg_cb)(void *ctx, const am_cmsg_t *m);
int am_cstore_list(am_cstore_t *s, int which, am_cmsg_cb cb, void *ctx);

int am_cstore_mark_sent(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN]);
int am_cstore_mark_read(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                        int64_t at);
int am_cstore_set_state(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                        const char *state);

/* Record e unless the same (message, kind, party, source) is there. */
int am_cstore_event(am_cstore_t *s, const am_cevent_t *e);
/* The events of one message, oldest first. */
typedef int (*am_cevent_cb)(void *ctx, const am_cevent_t *e);
int am_cstore_events(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                     am_cevent_cb cb, void *ctx);

/* Directory cache: an agency's certificate and current prekey (plen 0:
 * none), as fetched from the relay at fetched_at. */
int am_cstore_dir_put(am_cstore_t *s, const char *agency, const uint8_t *cert,
                      size_t clen, const uint8_t *prekey, size_t plen,
                      int64_t fetched_at);
/* AM_EKEY when not cached; buffers are am_free'd by the caller. */
int am_cstore_dir_get(am_cstore_t *s, const char *agency, uint8_t **cert,
                      size_t *clen, uint8_t **prekey, size_t *plen,
                      int64_t *fetched_at);

/* The newest revocation list held (sequence 0, NULL when none). */
int am_cstore_crl_put(am_cstore_t *s, uint64_t sequence, const uint8_t *b,
                      size_t len);
int am_cstore_crl_get(am_cstore_t *s, uint64_t *sequence, uint8_t **b,
                      size_t *len);

#endif
