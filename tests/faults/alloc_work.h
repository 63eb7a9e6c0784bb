/* One full submit-and-deliver against a relay that may fail any request
 * (the allocation-failure test): PK-NCCIA submits one envelope to DE-BKA,
 * DE-BKA receives and acknowledges it, PK-NCCIA receives the relay's
 * DELIVERED evidence and acknowledges that.  Both sessions receive, on
 * fresh connections.  Nothing here asserts: the relay's answers are
 * recorded, so that a clean refusal and a hang can be told apart. */
#ifndef AM_ALLOC_WORK_H
#define AM_ALLOC_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

typedef enum {
    AW_DONE,    /* every step done */
    AW_REFUSED, /* an error frame, or a connection closed by the relay */
    AW_STALLED, /* neither within the bound: connections open, silent */
    AW_WRONG    /* an answer that must not be: bad evidence, bad frame */
} aw_outcome_t;

extern const char *const aw_outcome_name[];

typedef struct {
    aw_outcome_t outcome;
    uint8_t id[AM_MSG_ID_LEN]; /* the envelope's message id */
    bool accepted;  /* a SubmitResult whose accepted evidence verifies */
    bool delivered; /* DE-BKA was given the envelope */
    bool evidence;  /* PK-NCCIA was given the DELIVERED evidence */
    bool owed_seen; /* DE-BKA was given the earlier envelope owed to it */
    char why[200];  /* what refused, stalled or was wrong */
} aw_result_t;

/* Run it on 127.0.0.1:port with env (sealed by PK-NCCIA for DE-BKA),
 * within bound_ms from the first connection.  owed: the message id of an
 * envelope acknowledged earlier (a SubmitResult) that DE-BKA has not been
 * given yet; the run is done only once it is (NULL: none). */
void aw_run(int port, const uint8_t *env, size_t env_len,
            const uint8_t *owed, int bound_ms, aw_result_t *out);

#endif
