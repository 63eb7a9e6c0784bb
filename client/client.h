/* The client library: what an officer's tools (the amanat command, or any
 * other program) use to speak for an agency through its home relay.
 *
 * Sending: the case message is sealed to each recipient's current prekey
 * (or certificate key), fetched from the relay and cached; stored locally
 * as queued; submitted; the relay's signed *accepted* evidence is checked
 * and recorded.  Receiving (am_client_sync): each envelope is verified,
 * opened and stored with its events in one durable transaction, and only
 * then acknowledged to the relay; a signed *received* receipt goes back to
 * its sender automatically.  Relay evidence (delivered, expired) and the
 * recipients' receipts and replies become events of the request they name
 * (track.h derives its state from them).  Every wait is bounded. */
#ifndef AM_CLIENT_H
#define AM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "case.pb-c.h"
#include "cstore.h"
#include "prekeys.h"
#include "profile.h"
#include "session.h"
#include "validate.h"

typedef struct am_client am_client_t;

/* Open the profile in home (NULL: the default), unlock its key with src,
 * open its store. */
int am_client_open(const char *home, const am_pass_source_t *src,
                   am_client_t **out);
void am_client_close(am_client_t *c);

const am_profile_t *am_client_profile(const am_client_t *c);
am_cstore_t *am_client_store(am_client_t *c);

/* Per-wait limit for relay answers (default 10 s). */
void am_client_set_timeout(am_client_t *c, int ms);

typedef struct {
    const char *const *to;   /* recipients' agency ids */
    size_t n_to;
    int priority;            /* AM_PRIORITY_*; 0: from the message's kind */
    int64_t expires_in;      /* seconds the relay may hold it; 0: 14 days */
} am_send_opts_t;

/* Validate m (nothing leaves on a problem: AM_EINVAL, with the problems
 * printed by the caller from am_client_problems), seal, store, submit.
 * id: the new message id.  m's created_at is set when unset. */
int am_client_send(am_client_t *c, Amanat__V1__CaseMessage *m,
                   const am_send_opts_t *o, uint8_t id[AM_MSG_ID_LEN]);

/* The problems found by the last send that refused its message. */
const am_problems_t *am_client_problems(const am_client_t *c);

/* Connect receiving; send what is queued; store and acknowledge every
 * envelope and piece of evidence the relay has; return after idle_ms
 * without a frame (watch: never, reconnecting with backoff until *stop).
 * *received counts new messages. */
int am_client_sync(am_client_t *c, int idle_ms, bool watch,
                   volatile int *stop, size_t *received);

/* Send the sender of received message id a signed receipt: status
 * AM_RECEIPT_ACKNOWLEDGED or AM_RECEIPT_REFUSED (reason required). */
int am_client_receipt(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                      int status, const char *reason);

/* An evidence bundle (proto/bundle.h) of message id, sent or received,
 * from what the store holds: *out is am_free'd by the caller. */
int am_client_bundle(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                     uint8_t **out, size_t *out_len);

/* Make a new prekey when the current one is older than pol->period,
 * delete secrets replaced more than pol->grace ago, and upload the current
 * one to the relay (again, if it holds it already). */
int am_client_prekeys_rotate(am_client_t *c, const am_prekey_policy_t *pol,
                             am_prekey_rotation_t *out);

/* Hex of a message id (33 bytes with the NUL). */
void am_client_hex(const uint8_t id[AM_MSG_ID_LEN], char out[33]);

#endif
