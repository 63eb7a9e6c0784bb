/* The load and the bookkeeping shared by the crash tests (tests/crash)
 * and the power-cut test (tests/faults): clients that submit continuously
 * to a relay until it dies, recording every message id the relay
 * acknowledged (only a SubmitResult counts), then the final drain of the
 * recipient's mailbox and the count of what was lost or duplicated. */
#ifndef AM_CRASH_LOAD_H
#define AM_CRASH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_fixture.h"

/* A growable list of message ids (a long run acknowledges hundreds of
 * thousands).  Zero-initialised is empty. */
typedef struct {
    uint8_t (*id)[AM_MSG_ID_LEN];
    size_t n, cap;
} cl_ids_t;

void cl_ids_add(cl_ids_t *s, const uint8_t id[static AM_MSG_ID_LEN]);
void cl_ids_free(cl_ids_t *s);

/* Flags for a relay under a long run's load: nothing is delivered before
 * the end, and 1000 rounds acknowledge some 200000 envelopes from one
 * sender, past the default quota of 100000 (the rest would be refused,
 * and the rounds after it would test nothing). */
extern const char *const cl_relay_args[];

/* One round's clients. */
typedef struct cl_load cl_load_t;

/* Seal the round's envelopes, from PK-NCCIA to agency `to`, before the
 * relay starts, so that its whole life is spent under load. */
cl_load_t *cl_load_new(const char *to);
/* Start the submitters against port; acknowledged ids go to acked. */
void cl_load_start(cl_load_t *l, int port, cl_ids_t *acked);
/* Wait until every submitter stopped (the relay died, or all its
 * envelopes were submitted), then free l. */
void cl_load_join(cl_load_t *l);

void cl_sleep_ms(long ms);
/* SIGKILL r after ms, then reap it; fails the test if it had died of
 * something else first. */
void cl_kill_after(relay_t *r, long ms);
/* Wait at most ms for r to die of a SIGKILL of its own (a crash point),
 * then SIGKILL it; reap it.  Whether it died by itself. */
bool cl_wait_or_kill(relay_t *r, long ms);

/* Receive everything pending for `to` (acking each) into got, until
 * quiet_ms pass without a delivery; every envelope must verify as
 * PK-NCCIA's.  Returns how many arrived. */
size_t cl_drain(int port, const party_t *to, int quiet_ms, cl_ids_t *got);
/* Acknowledged ids never delivered, and deliveries of an id already
 * delivered.  Sorts both lists. */
void cl_count(cl_ids_t *acked, cl_ids_t *got, size_t *lost, size_t *dup);

#endif
