/* One run of test-ioerr: a short submit-and-deliver workload against a
 * relay whose file calls may fail (the ioerr shim), then a restart
 * without the shim that must open the store and deliver everything;
 * each submit and delivery accounted for. */
#ifndef AM_IOERR_RUN_H
#define AM_IOERR_RUN_H

#include <stdbool.h>

#include "ioerr_relay.h"

/* The workload: two senders (FR-DGSI and PH-NBI, both learned by the
 * relay at their handshake, so their certificates are written: a rename
 * each) submit IO_PER_SENDER envelopes each, one at a time and in turn,
 * to DE-BKA, who receives and acknowledges them on a session opened
 * first; then a marker (routine, so delivered last) ends the deliveries. */
#define IO_PER_SENDER 4
#define IO_SENDERS 2
/* An existing store: what a relay without faults stored before, from
 * PK-NCCIA (whose certificate is in certs/, so nothing is learned). */
#define IO_BEFORE 3

typedef enum {
    IO_START_LISTENED,  /* the relay started */
    IO_START_REFUSED,   /* it exited before listening */
} io_start_t;

typedef struct {
    /* the faulted relay */
    io_start_t start;
    int status;             /* its waitpid status */
    bool fault_logged;      /* a log line of the relay names the failure */
    bool commit_failed;     /* ... and says that a commit failed */
    bool injected;          /* the shim's line: the fault happened */
    bool during;            /* ... before the test stopped the relay */
    bool folder;            /* ... on a folder (fsync of a directory) */
    bool store_file;        /* ... on a file in data/ */
    char where[160];        /* the shim's line, for messages */
    char said[200];         /* the relay's line naming the failure */
    bool closed;            /* signs that the relay was stopping */
    unsigned long counts[IO_NOPS]; /* calls the relay made, in all */
    unsigned before;        /* acknowledged before the faulted relay */
    /* submits of the workload, markers included */
    unsigned acked, errors, unavailable, lost_conn, hung;
    /* deliveries, after the clean restart too */
    unsigned delivered, redelivered, stored_unacked, error_stored;
    unsigned lost, duplicated, stray;
    unsigned rx_ended;      /* receiving sessions the relay ended (fatal
                             * ERROR_UNAVAILABLE: an ack it could not store) */
    bool restarted;         /* the clean restart opened the store */
    /* what must hold in every run and did not: how often, the first */
    unsigned violations;
    char violation[320];
} io_result_t;

/* One run with fault f in a fresh p->io: on a new store, or (existing)
 * on one that a relay without faults made and filled first.  out gets
 * what happened, and what broke the rules every run must keep (a relay
 * killed by a signal, a non-zero exit that names no failure, a failed
 * fsync of the store the relay went on after, a restart that does not
 * serve, an acknowledged envelope lost, one delivered twice in a session
 * or never submitted, a submit unanswered on an open connection) in
 * out->violations.  Only broken test set-up fails the test at once. */
void io_run(const io_paths_t *p, const io_fault_t *f, bool existing,
            io_result_t *out);

/* Make p->io afresh: certs/ with DE-BKA's and PK-NCCIA's certificates,
 * no data/ (the relay makes it, and syncs io/ for it). */
void io_fresh(const io_paths_t *p);

#endif
