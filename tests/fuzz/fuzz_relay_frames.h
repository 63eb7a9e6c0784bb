/* fuzz_relay_frames' session, shared by its two files: the operations of
 * the input (fuzz_relay_frames.c) and the stream both ways with the checks
 * of what the relay answers (fuzz_relay_frames_rx.c).
 *
 * Every plaintext byte the client sends goes through fr_send_stream, which
 * follows the frame boundaries and parses each complete frame as the relay
 * will (am_frame_parse, same limit).  So the harness knows the first
 * frame's Hello, and every request (Submit, PrekeyUpload,
 * DirectoryLookup) the relay owes an answer to, fuzzed or not: fr_sync
 * waits for all of them, so nothing of one input is left for the next,
 * and an answer to a request never made, or a second answer, is a bug.
 */
#ifndef AM_FUZZ_RELAY_FRAMES_H
#define AM_FUZZ_RELAY_FRAMES_H

#include "envelope.h"
#include "fuzz_relay.h"

#define F_RECEIVE 0x04
#define F_NO_HELLO 0x08
#define F_BIG_FRAME 0x10
#define F_AUTO_ACK 0x20
#define F_RESET 0x40

#define FR_MAX_SEEN 64
#define FR_MAX_PENDING 64

typedef struct {
    int kind;
    uint8_t id[AM_MSG_ID_LEN];
    char rcpt[AM_AGENCY_ID_MAX + 1];
} fr_ref_t;

typedef struct {
    uint64_t id;
    Amanat__V1__Frame__OpCase op;
    bool ours; /* the harness's own, whose answer is predicted */
} fr_req_t;

typedef struct {
    am_fzr_conn_t conn;
    unsigned flags;
    const am_fz_agency_t *ag;
    bool ready;   /* AuthResult seen */
    bool receive; /* the accepted Hello asked for pushes */
    bool desync;  /* the relay will close: no answers to wait for */
    bool broken;  /* bytes outside the encryption: stream not followed */
    bool over;    /* fatal Error seen or the relay closed */
    bool fatal;   /* a fatal Error was seen */
    /* the plaintext stream sent: prefix, body of the current frame */
    uint8_t pfx[4];
    size_t pfx_have;
    uint8_t *body;
    size_t body_len, body_have;
    uint64_t frames_sent;
    bool next_ours; /* the next request sent is the harness's own */
    fr_req_t pending[FR_MAX_PENDING];
    size_t n_pending;
    bool lost; /* more requests than pending[] holds: matching is off */
    uint64_t pings[FR_MAX_PENDING]; /* nonces of the Pings sent, in order */
    size_t n_pings;
    bool pings_lost; /* more than pings[] holds: order not checked */
    uint64_t pong, nonces;
    uint8_t ids[FR_MAX_SEEN][AM_MSG_ID_LEN]; /* delivered */
    size_t n_ids;
    fr_ref_t refs[FR_MAX_SEEN]; /* receipts received */
    size_t n_refs;
    /* the harness's own request and what came back */
    bool answered, accepted, ambiguous;
    Amanat__V1__ErrorCode code;
    const uint8_t *env; /* a submit's envelope */
    size_t env_len;
    uint32_t prekey_id; /* an upload's */
    char **lookup;      /* a lookup's ids */
    size_t n_lookup;
} fr_sess_t;

extern fr_sess_t FR;

/* Plaintext into the channel (followed, parsed, sent). */
void fr_send_stream(const uint8_t *p, size_t n);
void fr_send_frame(const Amanat__V1__Frame *f);
/* The harness's own request f: sent, then its answer awaited. */
void fr_request(const Amanat__V1__Frame *f);
/* One frame from the relay, checked; false once it closed. */
bool fr_read_one(void);
/* Until the relay has dealt with everything sent: the first frame's
 * answer, a Ping's Pong when at a frame boundary, every request's answer. */
void fr_sync(void);

#endif
