/* Internals shared by the store's two files: store_sqlite.c (the store
 * thread, its queue, opening and closing) and store_ops.c (the SQL of each
 * request).  Nothing outside relay/store_*.c includes this. */
#ifndef AM_STORE_INTERNAL_H
#define AM_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <sqlite3.h>

#include "audit.h"
#include "store.h"

typedef enum { REQ_PUT, REQ_NEXT, REQ_ACK, REQ_NOTICES, REQ_NOTICE_ACK,
               REQ_EXPIRE, REQ_PREKEY_PUT, REQ_PREKEYS,
               REQ_NOTICE_PUT, REQ_FOLD } req_kind_t;

/* What a REQ_ACK records (kind2): an agency's acknowledgement, a peer
 * relay's accepted evidence (notices[0]), or a peer relay's refusal. */
enum { ACK_AGENCY, ACK_FORWARDED, ACK_REFUSED };

#define EXPIRED_SENDERS 64

typedef struct req {
    struct req *next;
    req_kind_t kind;
    int rc;
    void *ctx;
    am_store_put_cb put_cb;
    am_store_next_cb next_cb;
    am_store_done_cb done_cb;
    am_store_notices_cb notices_cb;
    int kind2;                      /* notice kind; REQ_ACK: ACK_* */
    char other[AM_AGENCY_ID_MAX + 1]; /* notice recipient */
    am_store_notice_t *notices;
    am_store_expired_cb expired_cb;
    char senders[EXPIRED_SENDERS][AM_AGENCY_ID_MAX + 1];
    size_t n_senders, n_senders_all;
    int64_t now, accepted_at;
    am_store_put_t put; /* put.envelope points into env_copy */
    uint8_t *env_copy;
    char recipient[AM_AGENCY_ID_MAX + 1];
    uint8_t id[AM_MSG_ID_LEN];
    size_t max, n_items, n_bytes;
    am_store_cursor_t after; /* REQ_NEXT: seq 0 from the start */
    am_store_item_t *items;
    am_store_prekeys_cb prekeys_cb;
    am_store_prekey_t *prekeys; /* REQ_PREKEY_PUT: one; REQ_PREKEYS: max */
} req_t;

enum { ST_FIND, ST_INSERT_MSG, ST_INSERT_DLV, ST_NEXT, ST_NEXT_SAME,
       ST_NEXT_LOWER, ST_ACK, ST_ACK_LOG, ST_ACK_SEEN, ST_FOLD_LIST,
       ST_FOLD_DEL, ST_ACKED,
       ST_REMAINING, ST_DROP_BODY, ST_NOTE, ST_NOTICES, ST_NOTICE_ACK,
       ST_FORWARDED_TO, ST_HASH,
       ST_USAGE, ST_PREKEY_GET, ST_PREKEY_SET, ST_SAVEPOINT, ST_RELEASE,
       ST_ROLLBACK_TO, ST_COUNT };


struct am_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *audit[AM_AUDIT_NSTMT]; /* audit.h */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    req_t *pending, **pending_tail;
    req_t *done, **done_tail;
    bool stopping, failed, started, held;
    am_store_notify_cb notify;
    void *notify_ctx;
    am_store_route_cb route; /* for a salvage only (store.h) */
    void *route_ctx;
    am_store_stats_t stats;
    /* store_fold.c; unfolded: the store thread's count of logged
     * acknowledgements (may run over, never under); fold_at: when the
     * last fold ran or the log last became non-empty (store_ms_now);
     * folding: the store went idle and folds on until the log is empty;
     * fold_failing: the last fold failed (logged once) */
    uint64_t unfolded, fold_at;
    bool folding, fold_held, fold_failing;
    am_store_expired_cb folded_cb;
    void *folded_ctx;
};

extern const char *const am_store_sql[ST_COUNT];
extern const char am_store_schema[];

int store_db_error(am_store_t *s, const char *what);
req_t *store_new_req(req_kind_t kind, void *ctx, int64_t now);
int store_enqueue(am_store_t *s, req_t *r);
void store_req_free(req_t *r);
/* store_fed.c: columns added since the first schema */
int store_migrate(am_store_t *s);
int store_exec(am_store_t *s, const char *q);
/* Run prepared statement ST_* that returns no rows. */
int store_run(am_store_t *s, int which);
/* Prepared statement ST_*, reset, with no bindings. */
sqlite3_stmt *store_stmt(am_store_t *s, int which);

/* store_sqlite.c: the atomic creation of a new store, in two steps so
 * that a salvage can fill it between them: begin opens tmp on s->db with
 * the schema; finish checkpoints, closes, syncs and renames it to path;
 * abort closes and removes it. */
int store_create_begin(am_store_t *s, const char *tmp);
int store_create_finish(am_store_t *s, const char *tmp, const char *path);
void store_create_abort(am_store_t *s, const char *tmp);
/* Remove base and its -wal, -shm and -journal (ENOENT is fine). */
int store_remove_files(const char *base);
int store_sync_dir(const char *dir);

/* store_check.c: before the store thread starts and the relay listens.
 * store_check_file: 0 when path passes SQLite's integrity check, 1 when
 * it does not (its problems logged: salvage it), 2 when its write-ahead
 * log is damaged (store_wal_check, logged: salvage it), AM_EIO when it
 * cannot be checked (empty, unreadable, busy) with a sentence saying what
 * to do.
 * store_check: every held envelope checked against its hash, damaged ones
 * quarantined (state 5) with DAMAGED evidence owed to their senders. */
int store_check_file(const char *path);
/* Whether column col of st's row is an agency id, whole: text with no zero
 * byte inside (a cell cut short by a truncation reads as zeros past the
 * cut, and "PK-NCCIA" cut after its seventh byte would read as the valid
 * "PK-NCCI"), of at most AM_AGENCY_ID_MAX bytes and valid syntax; false
 * for a column past the row's last (a store from before a migration). */
bool store_col_agency(sqlite3_stmt *st, int col);
int store_check(am_store_t *s, const char *path);
/* store_wal.c: the write-ahead log a crash left, read before SQLite opens
 * the store (opening runs SQLite's recovery, which may rewrite it).  What
 * one read of it found: */
typedef struct {
    uint64_t frames;      /* whole frames in the file */
    uint32_t page_size;   /* 0: no frame of any generation recognised */
    bool header_damaged;  /* SQLite's recovery would ignore the whole log */
    uint64_t sqlite_end;  /* SQLite's recovery keeps frames 1..sqlite_end */
    uint64_t stop;        /* the first frame it rejects (0: none) */
    const char *why;      /* why it rejects that one (static text) */
    uint64_t last_commit; /* the generation's last commit frame, read
                             through the damage (store_wal.c DESIGN) */
    uint64_t gen_end;     /* its last frame (after it: none of its) */
    uint32_t pages;       /* the database's size at that commit */
    /* damaged frames up to there: one bit flipped (located and
     * corrected), salt, checksum, page as found */
    uint64_t bits, salts, sums, as_found;
    /* the last transaction held a frame taken as found, which nothing
     * after it vouches for (a write torn by a power cut before the sync
     * looks the same): left to SQLite, which drops it (store_wal.c) */
    bool unvouched;
} store_wal_t;

/* The log is damaged when last_commit > sqlite_end: SQLite's recovery
 * would drop committed (acknowledged) transactions.  store_wal_scan reads
 * the log open on fd (nothing changed); store_wal_repair reads it and,
 * when damaged, rewrites header and frames 1..gen_end so that SQLite
 * applies them all up to last_commit (for a salvage's working copy only;
 * the frames after last_commit too, so that a second scan of the
 * repaired log reads them as the first did); both 0, AM_EIO
 * (a read or write failed), AM_ENOMEM.  out: what the scan found.
 * store_wal_check: path's log (path "-wal") scanned: 0 when it is absent
 * or not damaged, 1 when damaged (logged: salvage the store), AM_EIO with
 * the reason.  store_wal_repair_copy: the log of path (a working copy)
 * repaired, logged; 0 or AM_EIO. */
int store_wal_scan(int fd, store_wal_t *out);
int store_wal_repair(int fd, store_wal_t *out);
int store_wal_check(const char *path);
int store_wal_repair_copy(const char *path);
/* store_schema.c: the schema of a store file (db, read-only) against the
 * relay's: the problems found (each logged), or -1 when the comparison
 * could not be made. */
int store_schema_check(sqlite3 *db, const char *path);
/* What the operator is told when the relay refuses its store. */
extern const char store_check_advice[];

/* store_salvage.c: before the store is opened (open_db).  A salvage that
 * was cut short is done again from the files it kept; a store file that
 * fails the integrity check is kept aside and replaced by a new store
 * holding what could be read of it.  0 when path may be opened (or does
 * not exist); AM_EIO, with the reason, when the relay must not start. */
int store_salvage_check(am_store_t *s, const char *dir, const char *path);

/* store_ops.c: one request's work, inside the batch's transaction */
int store_do_put(am_store_t *s, req_t *r);
int store_do_next(am_store_t *s, req_t *r);
int store_do_ack(am_store_t *s, req_t *r);
/* The whole of an acknowledgement made at now (kind2 ACK_*, ev for
 * ACK_FORWARDED): the delivery ends, evidence is owed, a message every
 * recipient has loses its bytes and gets its audit record, completed at
 * done_at.  *done: it ended now (not before). */
int store_ack_now(am_store_t *s, const char *recipient,
                  const uint8_t id[AM_MSG_ID_LEN], int64_t now,
                  int64_t done_at, int kind2, const am_store_notice_t *ev,
                  bool *done);

/* store_fold.c: an agency's acknowledgement is an append to the log
 * (table acked); the store thread folds the log into the tables, with
 * store_ack_now, when it is idle or the log is long. */
int store_ack_log(am_store_t *s, req_t *r);
int store_do_fold(am_store_t *s, req_t *r);
/* With s->mu held: a fold request when one is due (NULL if none).  idle:
 * nothing is queued, and *waited says whether it waited on s->cv. */
req_t *store_fold_due(am_store_t *s, bool idle, bool *waited);
void store_fold_done(am_store_t *s, const req_t *r, bool committed);
/* At open, before the store check: everything a stop or crash left. */
int store_fold_open(am_store_t *s);
uint64_t store_ms_now(void);
int store_do_notices(am_store_t *s, req_t *r);
int store_do_expire(am_store_t *s, req_t *r);
int store_do_notice_ack(am_store_t *s, req_t *r);
int store_do_prekey_put(am_store_t *s, req_t *r);
int store_do_prekeys(am_store_t *s, req_t *r);
int store_do_notice_put(am_store_t *s, req_t *r);

#endif
