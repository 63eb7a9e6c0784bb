/* fuzz_relay_link's session, shared by its two files: the operations of the
 * input (fuzz_relay_link.c) and the link itself (fuzz_relay_link_rx.c):
 * accepting the relay's dial, the responder's handshake, Hello, AuthResult,
 * what the relay owes for each frame sent, and the checks of what it
 * sends.
 *
 * Every frame the harness sends goes through lk_send_body, which parses it
 * as the relay will (am_frame_parse, same limit) and notes what the relay
 * owes for it: a ForwardResult for each Deliver whose envelope parses, a
 * ReceiptAck for each ReceiptRelay naming at least one message, or the
 * end of the link (a frame it refuses fatally, a bad AuthResult).
 */
#ifndef AM_FUZZ_RELAY_LINK_H
#define AM_FUZZ_RELAY_LINK_H

#include "fuzz_relay_fed.h"
#include "link.h" /* AM_NOTICE_BATCH, am_link_t */

#define LK_MAX 64

/* A ForwardResult owed: the Deliver's claimed id, the code expected (-1
 * unknown, 0 stored, else the refusal's), and what the relay may accept. */
typedef struct {
    uint8_t id[AM_MSG_ID_LEN];
    int want;
    bool may_accept; /* hops 1, a sender homed at the peer, one here... */
    uint8_t hash[AM_HASH_LEN];
} lk_fwd_t;

/* A ReceiptAck owed: the references, in order. */
typedef struct {
    size_t n;
    int kinds[AM_NOTICE_BATCH];
    uint8_t ids[AM_NOTICE_BATCH][AM_MSG_ID_LEN];
} lk_ack_t;

typedef struct {
    int lfd;            /* where the relay dials */
    am_fzr_conn_t conn; /* its link */
    bool up;            /* a link to use */
    bool ready;         /* an accepted AuthResult was sent */
    bool doomed;        /* a frame the relay ends the link on was sent */
    unsigned pings;     /* Pings sent that the relay owes a Pong for */
    bool quiet;         /* it may end it without an Error */
    bool desync;        /* plaintext sent as it is: frames not followed */
    bool fatal;         /* a fatal Error arrived */
    uint64_t crl_seq;   /* the newest revocation list sent */
    lk_fwd_t fwd[LK_MAX];
    size_t n_fwd;
    bool fwd_lost; /* more than fwd[] holds: matching is off */
    lk_ack_t acks[LK_MAX];
    size_t n_acks;
    bool acks_lost;
    int want_next; /* the expected code of the next Deliver sent */
} lk_sess_t;

extern lk_sess_t L;

/* Before the relay starts: listen, and federate the relay with it. */
void lk_init(void);
/* Accept the relay's next dial and complete the handshake with message 2's
 * certificate choice (0 the peer's; else one the relay must refuse, and
 * false returns: no link).  Then Hello, checked. */
bool lk_connect(unsigned cert_choice);
/* AuthResult: honest, or from three bytes of the input. */
void lk_auth(bool fuzzed, am_fz_in_t *in);
/* A frame body, sealed with its prefix, followed. */
void lk_send_body(const uint8_t *body, size_t len);
void lk_send_frame(const Amanat__V1__Frame *f);
/* Transport plaintext as it is: no longer followed. */
void lk_send_stream(const uint8_t *p, size_t n);
/* Until the relay has answered everything owed, or ended the link. */
void lk_sync(void);
/* End the link (after lk_sync). */
void lk_drop(void);

#endif
