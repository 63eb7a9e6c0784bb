/* fuzz_relay_peer's session, shared by its two files: the operations of the
 * input (fuzz_relay_peer.c) and the peer relay's session itself
 * (fuzz_relay_peer_rx.c): the handshake as DE-RELAY, Hello and AuthResult,
 * the frames sent, followed, and the checks of everything the relay sends.
 *
 * The harness follows every envelope it submitted for DE-BKA (homed at the
 * peer), so held by the relay for DE-RELAY, with two states: across
 * sessions (pending: to be delivered to every new session; ended: never
 * again) and in the current session (not delivered yet, in its window,
 * leaving it, out of it).  Every frame sent goes through pr_send_body,
 * which parses it as the relay will (am_frame_parse, same limit) and says
 * what the relay must do with it: a ForwardResult moves its envelope, a
 * frame a relay session may not send dooms the session with the Error
 * code it must get, a DirectoryLookup or a Ping is owed an answer.
 *
 * The store answers in order (one thread, one queue), so a
 * DirectoryLookup's DirectoryResult comes after every store request made
 * before it was read: the barrier of pr_sync, after which an envelope
 * answered for the store (accepted, refused for good, evidence over
 * another hash) is out of the window.
 */
#ifndef AM_FUZZ_RELAY_PEER_H
#define AM_FUZZ_RELAY_PEER_H

#include "envelope.h"
#include "fuzz_relay_fed.h"
#include "store.h" /* AM_STORE_LOOKUP_MAX */

#define PR_MSGS 256   /* envelopes followed */
#define PR_PENDING 40 /* at most pending at once: all fit one fetch */
#define PR_REQS 64

enum { PM_PENDING, PM_ENDED, PM_UNKNOWN };            /* across sessions */
enum { PW_NONE, PW_IN, PW_LEAVING, PW_MAYBE, PW_OUT }; /* this session */

typedef struct {
    uint8_t id[AM_MSG_ID_LEN], hash[AM_HASH_LEN];
    int state;  /* PM_* */
    int win;    /* PW_* */
    int after;  /* PW_OUT or PW_MAYBE: where a leaving one goes */
    bool seen;  /* delivered in this session */
    bool live;  /* submitted while the session was up: delivered soon */
    int late;   /* barriers passed while live and not yet delivered */
} pr_msg_t;

/* A DirectoryLookup owed an answer: an Error when it is not well formed
 * (error), else the ids in order. */
typedef struct {
    uint64_t id;
    bool error;
    size_t n;
    char ids[AM_STORE_LOOKUP_MAX][AM_AGENCY_ID_MAX + 1];
} pr_look_t;

typedef struct {
    int hold_fd;        /* the peer's port: bound, never listening */
    am_fzr_conn_t conn; /* DE-RELAY's session with the relay */
    bool up;            /* a session to use */
    bool receive;       /* its Hello asked for deliveries */
    bool doomed;        /* a frame the relay ends the session on was sent */
    int want;           /* ... and the code of its Error; -1: any, or none */
    bool desync;        /* plaintext sent as it is: frames not followed */
    bool unsure;        /* an answer whose effect depends on timing */
    bool fatal;         /* a fatal Error arrived */
    uint64_t pings[PR_REQS];
    size_t n_pings;
    pr_look_t look[PR_REQS];
    size_t n_look;
    bool lost;          /* more requests than the arrays hold */
    uint64_t barrier_id; /* the request id of the harness's lookup */
    bool barrier_done;
    unsigned delivers;  /* Delivers in this session */
    pr_msg_t msgs[PR_MSGS];
    size_t n_msgs;
} pr_sess_t;

extern pr_sess_t PR;

/* Before the relay starts: hold a port, federate the relay with it. */
void pr_init(void);
/* A session of DE-RELAY: handshake with its certificate, Hello, AuthResult
 * (checked), then everything the store holds for it is read, and every
 * envelope pending must have been delivered (when receive). */
void pr_open(bool receive);
/* End it: the relay closes once it read everything; frames meanwhile are
 * read and checked. */
void pr_end(void);
/* A frame body, sealed with its prefix, followed. */
void pr_send_body(const uint8_t *body, size_t len);
void pr_send_frame(const Amanat__V1__Frame *f);
/* Transport plaintext as it is: no longer followed. */
void pr_send_stream(const uint8_t *p, size_t n);
/* Until the relay has answered everything owed (a lookup of the harness's
 * answered last), or ended the session. */
void pr_sync(void);

/* The envelopes followed. */
pr_msg_t *pr_find(const uint8_t id[AM_MSG_ID_LEN]);
/* Room for one more (forgetting the oldest ended one when full); NULL when
 * PR_PENDING are pending already. */
pr_msg_t *pr_new_msg(void);

#endif
