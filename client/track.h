/* Where a request stands, derived from its events in the local store
 * (cstore.h): for each recipient the furthest step signed so far; for the
 * request, while some recipient is not done (answered, refused, expired),
 * the step the slowest of those has reached, and once all are done,
 * refused if one refused, else damaged if the relay's copy for one was
 * damaged, else expired if one expired, else answered;
 * failed when the relay refused the message itself.  Overdue when its
 * deadline passed before every recipient answered or refused. */
#ifndef AM_TRACK_H
#define AM_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "cstore.h"

/* In the order a request advances; refused, expired and damaged end it
 * (damaged: the relay's stored copy was damaged, never delivered to that
 * recipient; the sender must send again). */
enum { AM_T_QUEUED, AM_T_ACCEPTED, AM_T_DELIVERED, AM_T_RECEIVED,
       AM_T_ACKNOWLEDGED, AM_T_IN_PROGRESS, AM_T_ANSWERED, AM_T_REFUSED,
       AM_T_EXPIRED, AM_T_FAILED, AM_T_DAMAGED };

typedef struct {
    char agency[AM_AGENCY_ID_MAX + 1];
    int state;
    char reason[320]; /* of a refusal */
} am_track_rcpt_t;

typedef struct {
    uint8_t id[AM_MSG_ID_LEN];
    char kind[24];
    char case_ref[96];
    char to[AM_CSTORE_RCPTS_MAX];
    int priority;
    int64_t created_at, deadline;
    size_t n;
    am_track_rcpt_t r[AM_ENV_MAX_RECIPIENTS];
    int state;    /* the request's: see above */
    bool overdue;
} am_track_t;

/* The track of message m (an outgoing request) at now. */
int am_track_of(am_cstore_t *s, const am_cmsg_t *m, int64_t now,
                am_track_t *out);
const char *am_track_state_name(int state);
/* Overdue first (earliest deadline first), then by deadline (none last),
 * then oldest first. */
int am_track_cmp(const void *a, const void *b);

#endif
