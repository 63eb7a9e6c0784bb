/* Acknowledgements as an append (docs/PROTOCOL.md section 14,
 * "Acknowledgements").
 *
 * DESIGN.  What an agency's acknowledgement changes is many rows: its
 * delivery ends, the sender is owed delivered evidence, and when it was
 * the last recipient the message gets its hash-chained audit record and
 * loses its bytes (quota and indexes follow): about 55 us of SQL on the
 * store thread, which capped draining a backlog at some 12,000 envelopes
 * a second.  So an acknowledgement is first a row appended to the log
 * `acked` (recipient, delivery, time), committed like every request
 * before its callback runs: it is as durable as before, and from then on
 * that delivery is no longer pending for delivery or expiry (the NEXT and
 * expiry statements pass over logged ones).  The store thread folds the
 * log, oldest first, into the tables with the very statements of a direct
 * acknowledgement (store_ack_now), the logged time for the evidence and
 * the fold's for the audit record's completion, FOLD_CHUNK at a time:
 * once the store has been idle for FOLD_IDLE_MS, and then on between
 * requests until the log is empty; while it is busy, one chunk ahead of
 * a batch whenever FOLD_AGE_MS went by since the last fold, so light but
 * steady traffic (never 10 ms idle) does not hold the log back; and while
 * the log holds more than FOLD_LOG_MAX (a burst, or load that leaves the
 * store no idle moment), ahead of every batch as many as bring it back
 * under, at the old cost per acknowledgement.
 * The senders owed evidence by a fold are handed to the loop
 * (am_store_on_folded), which tells those connected.  What this costs:
 * delivered evidence, the audit record and the freed quota come after
 * the fold, not with the acknowledgement.  A restart folds the whole log
 * before the store check (which would take a logged delivery for a
 * pending one, and quarantine an envelope its recipient already has);
 * the log is a table like the others: nothing in it is lost. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"

#define FOLD_IDLE_MS 10   /* idle that long: fold */
#define FOLD_AGE_MS 200   /* busy: fold a chunk that often */
#define FOLD_CHUNK 128    /* a few ms of SQL */
#define FOLD_LOG_MAX 65536
#define FOLD_BIG 4096     /* at most, per batch or transaction at open */

typedef struct {
    int64_t id, time;
    char recipient[AM_AGENCY_ID_MAX + 1];
    char owed[AM_AGENCY_ID_MAX + 1];
    uint8_t message_id[AM_MSG_ID_LEN];
    bool known; /* the row's message is there (it always should be) */
} logged_t;

int store_ack_log(am_store_t *s, req_t *r)
{
    sqlite3_stmt *st = store_stmt(s, ST_ACK_LOG);
    int step;

    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->now);
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_db_error(s, "acknowledge");
    if (sqlite3_changes(s->db) > 0) {
        if (s->unfolded++ == 0)
            s->fold_at = store_ms_now(); /* the oldest waits from now */
        return 0;
    }
    /* logged or stored before (at-least-once delivery): same answer */
    st = store_stmt(s, ST_ACK_SEEN);
    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if ((step = sqlite3_step(st)) == SQLITE_ROW)
        return 0;
    return step == SQLITE_DONE
               ? am_errf(AM_EKEY, "no delivery of that message to %s",
                         r->recipient)
               : store_db_error(s, "acknowledged");
}

/* The oldest r->max logged acknowledgements, copied out (the fold then
 * deletes from the table the statement reads). */
static int read_log(am_store_t *s, req_t *r, logged_t *l, size_t *n)
{
    sqlite3_stmt *st = store_stmt(s, ST_FOLD_LIST);
    int step;

    *n = 0;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->max);
    while (*n < r->max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        logged_t *e = &l[*n];
        const char *who = (const char *)sqlite3_column_text(st, 1);
        const char *owed = (const char *)sqlite3_column_text(st, 4);

        e->id = sqlite3_column_int64(st, 0);
        e->time = sqlite3_column_int64(st, 2);
        if (who == NULL || strlen(who) > AM_AGENCY_ID_MAX)
            return am_errf(AM_EIO, "store: damaged acknowledgement %lld",
                           (long long)e->id);
        memcpy(e->recipient, who, strlen(who) + 1);
        e->known = sqlite3_column_bytes(st, 3) == AM_MSG_ID_LEN &&
                   owed != NULL && strlen(owed) <= AM_AGENCY_ID_MAX;
        if (e->known) {
            memcpy(e->message_id, sqlite3_column_blob(st, 3), AM_MSG_ID_LEN);
            memcpy(e->owed, owed, strlen(owed) + 1);
        }
        (*n)++;
    }
    if (*n < r->max && step != SQLITE_DONE)
        return store_db_error(s, "fold");
    sqlite3_reset(st);
    return 0;
}

/* Who is owed evidence now: listed once, counted always. */
static void owe(req_t *r, const char *who)
{
    for (size_t i = 0; i < r->n_senders; i++)
        if (strcmp(r->senders[i], who) == 0)
            return;
    if (r->n_senders < EXPIRED_SENDERS)
        memcpy(r->senders[r->n_senders++], who, strlen(who) + 1);
    r->n_senders_all++;
}

int store_do_fold(am_store_t *s, req_t *r)
{
    logged_t *l = am_calloc(r->max, sizeof *l);
    sqlite3_stmt *st;
    size_t n = 0;
    bool done;
    int rc;

    if (l == NULL)
        return AM_ENOMEM;
    if ((rc = read_log(s, r, l, &n)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        /* the audit record: completed at the fold, never before the
         * acknowledgement; AM_EKEY: no longer pending (quarantined) */
        int64_t at = l[i].time > r->now ? l[i].time : r->now;

        if (l[i].known &&
            (rc = store_ack_now(s, l[i].recipient, l[i].message_id,
                                l[i].time, at, ACK_AGENCY, NULL, &done)) !=
                0 &&
            rc != AM_EKEY)
            goto out;
        if (l[i].known && rc == 0 && done)
            owe(r, l[i].owed);
        st = store_stmt(s, ST_FOLD_DEL);
        sqlite3_bind_int64(st, 1, l[i].id);
        if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
            rc = store_db_error(s, "fold");
            goto out;
        }
        rc = 0;
    }
    /* here, not after the batch: it may log more after this request;
     * a short read means the log is now empty */
    r->n_items = n;
    s->unfolded = n < r->max || n > s->unfolded ? 0 : s->unfolded - n;
    s->fold_at = store_ms_now();
out:
    am_free(l);
    return rc;
}

uint64_t store_ms_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static req_t *fold_req(size_t max)
{
    req_t *r = store_new_req(REQ_FOLD, NULL, (int64_t)time(NULL));

    if (r != NULL)
        r->max = max;
    return r;
}

/* Waits FOLD_IDLE_MS on s->cv (whose clock is CLOCK_MONOTONIC); true when
 * it went by with nothing new. */
static bool idle_for_a_while(am_store_t *s)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_nsec += FOLD_IDLE_MS * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(&s->cv, &s->mu, &t) == ETIMEDOUT &&
           s->pending == NULL && !s->stopping;
}

/* Busy: a chunk when the oldest logged has waited FOLD_AGE_MS, and
 * enough to come back under FOLD_LOG_MAX when the log is long. */
static req_t *fold_busy(am_store_t *s)
{
    uint64_t n;

    if (s->unfolded > FOLD_LOG_MAX) {
        n = s->unfolded - FOLD_LOG_MAX + FOLD_CHUNK;
        return fold_req(n < FOLD_BIG ? (size_t)n : FOLD_BIG);
    }
    return store_ms_now() - s->fold_at >= FOLD_AGE_MS ? fold_req(FOLD_CHUNK)
                                                       : NULL;
}

req_t *store_fold_due(am_store_t *s, bool idle, bool *waited)
{
    req_t *r;

    *waited = false;
    if (s->unfolded == 0 || s->held || s->fold_held) {
        s->folding = false;
        return NULL;
    }
    if (!idle)
        return fold_busy(s);
    /* idle: at once when it was folding already, else after a while */
    if (!s->folding) {
        *waited = true;
        if (!idle_for_a_while(s))
            return NULL;
    }
    r = fold_req(FOLD_CHUNK);
    s->folding = r != NULL; /* out of memory: wait again */
    return r;
}

void store_fold_done(am_store_t *s, const req_t *r, bool committed)
{
    if (!committed || r->rc != 0) {
        /* its rows are back in the log; not again at once */
        s->unfolded += r->n_items;
        s->folding = false;
        if (!s->fold_failing)
            fprintf(stderr, "amanat-relay: store: folding acknowledgements "
                    "failed (%s): delivered evidence waits until it "
                    "succeeds\n", r->rc != 0 ? am_err_detail()
                                              : "the batch did not commit");
        s->fold_failing = true;
        return;
    }
    if (s->fold_failing)
        fprintf(stderr, "amanat-relay: store: folding acknowledgements "
                "works again\n");
    s->fold_failing = false;
    s->stats.folded += r->n_items;
}

/* At open: what a stop or a crash left in the log, all of it, before the
 * store check (which would take a logged delivery for a pending one). */
int store_fold_open(am_store_t *s)
{
    uint64_t total = 0;
    req_t *r;
    int rc = 0;

    for (;;) {
        if ((r = fold_req(FOLD_BIG)) == NULL)
            return AM_ENOMEM;
        if ((rc = store_exec(s, "BEGIN IMMEDIATE")) == 0 &&
            (rc = store_do_fold(s, r)) == 0)
            rc = store_exec(s, "COMMIT");
        if (rc != 0 && !sqlite3_get_autocommit(s->db))
            (void)store_exec(s, "ROLLBACK");
        total += r->n_items;
        if (rc != 0 || r->n_items < r->max)
            break;
        store_req_free(r);
    }
    store_req_free(r);
    s->stats.folded = total;
    s->unfolded = 0;
    if (rc == 0 && total > 0)
        fprintf(stderr, "amanat-relay: store: %llu acknowledgements logged "
                "before the stop folded\n", (unsigned long long)total);
    return rc != 0 ? am_err_wrap(AM_EIO, "store: folding acknowledgements")
                   : 0;
}
