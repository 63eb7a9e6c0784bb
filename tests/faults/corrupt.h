/* Shared by test-corrupt.c (the trials and their accounting) and
 * corrupt_run.c (damaging a file, a relay that may refuse to start, and
 * the two clients that collect what it still delivers and reports). */
#ifndef AM_CORRUPT_H
#define AM_CORRUPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "envelope.h"

#define CR_MAX_MSGS 1000

/* What happened to each message of the pristine store in one trial. */
enum { CR_NONE, CR_DELIVERED, CR_DAMAGED, CR_EXPIRED };

typedef struct {
    size_t m;
    uint8_t id[CR_MAX_MSGS][AM_MSG_ID_LEN];
    uint8_t hash[CR_MAX_MSGS][AM_HASH_LEN];
} cr_msgs_t;

typedef struct {
    int fate[CR_MAX_MSGS];
    size_t bad_deliveries;  /* did not verify, open, or match its text */
    size_t bad_evidence;    /* signature, kind, or another envelope hash */
    size_t contradictions;  /* delivered and reported not delivered */
    size_t other_hash;      /* DAMAGED naming the damaged hash column */
} cr_seen_t;

/* The text of message i (some long enough for overflow pages). */
size_t cr_text(size_t i, char *out, size_t cap);
/* Flip bit `bit` of the byte at off, or (bit < 0) truncate at off. */
void cr_damage(const char *path, long off, int bit);
/* Start the relay on the test folder's configuration, its standard error
 * to log.  *port > 0 when it listens; else it exited (reaped). */
pid_t cr_start(const char *log, int *port);
/* SIGTERM, then reap (SIGKILL after 10 s); whether it exited 0. */
bool cr_stop(pid_t pid);
/* PK-NCCIA collects the relay's evidence, DE-BKA every delivery. */
void cr_collect(int port, const cr_msgs_t *msgs, cr_seen_t *seen);
/* Whether the log file holds s. */
bool cr_log_has(const char *log, const char *s);
/* Print the log's lines that hold s. */
void cr_log_print(const char *log, const char *s);

#endif
