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

/* What happened to each message of the pristine store in one trial;
 * CR_LOST: named in the lost.txt of a salvage. */
enum { CR_NONE, CR_DELIVERED, CR_DAMAGED, CR_EXPIRED, CR_LOST };

typedef struct {
    size_t m;
    uint8_t id[CR_MAX_MSGS][AM_MSG_ID_LEN];
    uint8_t hash[CR_MAX_MSGS][AM_HASH_LEN];
    int64_t seq[CR_MAX_MSGS]; /* in the pristine store */
} cr_msgs_t;

typedef struct {
    int fate[CR_MAX_MSGS];
    size_t bad_deliveries;  /* did not verify, open, or match its text */
    size_t bad_evidence;    /* signature, kind, or another envelope hash */
    size_t contradictions;  /* delivered and reported not delivered, or
                               listed as lost */
    size_t other_hash;      /* DAMAGED naming the damaged hash column */
    size_t lost_by_id, lost_by_seq; /* how lost.txt named them */
    size_t lost_unknown;    /* lost.txt naming no message of ours */
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

/* corrupt_db.c: msgs->seq from the pristine store; the messages whose
 * pages (leaf, the interior pages above it, overflow) all lie before a
 * cut of the file at byte cut (whole[i]; returns how many); the folder
 * a salvage kept (damaged-*) under data; the messages lost.txt names
 * (CR_LOST); whether two files hold the same bytes. */
void cr_seqs(const char *db, cr_msgs_t *msgs);
size_t cr_before_cut(const char *db, long cut, const cr_msgs_t *msgs,
                     bool *whole);
bool cr_kept_dir(const char *data, char *out, size_t cap);
void cr_lost(const char *path, const cr_msgs_t *msgs, cr_seen_t *seen);
bool cr_same_file(const char *a, const char *b);

#endif
