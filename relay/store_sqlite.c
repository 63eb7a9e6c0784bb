/* The embedded store: SQLite in WAL mode, one store thread, group commit.
 * See store.h for the design; this file is its only implementation. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alloc.h"
#include "audit.h"
#include "err.h"

typedef enum { REQ_PUT, REQ_NEXT, REQ_ACK, REQ_NOTICES, REQ_NOTICE_ACK,
               REQ_EXPIRE } req_kind_t;

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
    int kind2;                      /* notice kind */
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
    size_t max, n_items;
    am_store_item_t *items;
} req_t;

enum { ST_FIND, ST_INSERT_MSG, ST_INSERT_DLV, ST_NEXT, ST_ACK, ST_ACKED,
       ST_REMAINING, ST_DROP_BODY, ST_NOTE, ST_NOTICES, ST_NOTICE_ACK,
       ST_COUNT };

static const char *const sql[ST_COUNT] = {
    [ST_FIND] = "SELECT envelope_hash, accepted_at FROM messages "
                "WHERE message_id = ?1",
    [ST_INSERT_MSG] = "INSERT INTO messages (message_id, envelope_hash, "
                      "sender, priority, expires_at, accepted_at, envelope) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_INSERT_DLV] = "INSERT INTO deliveries (seq, recipient, state) "
                      "VALUES (?1, ?2, 0)",
    [ST_NEXT] = "SELECT m.message_id, m.priority, m.envelope, "
                "m.envelope_hash, m.accepted_at, m.sender "
                "FROM deliveries d JOIN messages m ON m.seq = d.seq "
                "WHERE d.recipient = ?1 AND d.state = 0 AND m.expires_at > ?3 "
                "ORDER BY m.priority DESC, m.seq ASC LIMIT ?2",
    [ST_ACK] = "UPDATE deliveries SET state = 2, acked_at = ?3 "
               "WHERE recipient = ?1 AND state = 0 AND seq = "
               "(SELECT seq FROM messages WHERE message_id = ?2)",
    [ST_ACKED] = "SELECT d.seq FROM deliveries d JOIN messages m "
                 "ON m.seq = d.seq WHERE d.recipient = ?1 "
                 "AND m.message_id = ?2 AND d.state = 2",
    [ST_REMAINING] = "SELECT count(*) FROM deliveries d JOIN messages m "
                     "ON m.seq = d.seq WHERE m.message_id = ?1 "
                     "AND d.state <> 2",
    [ST_DROP_BODY] = "UPDATE messages SET envelope = NULL "
                     "WHERE message_id = ?1",
    [ST_NOTE] = "INSERT OR IGNORE INTO notices (sender, kind, message_id, "
                "envelope_hash, recipient, time, state) SELECT sender, 2, "
                "message_id, envelope_hash, ?1, ?3, 0 FROM messages "
                "WHERE message_id = ?2",
    [ST_NOTICES] = "SELECT kind, message_id, envelope_hash, recipient, time "
                   "FROM notices WHERE sender = ?1 AND state = 0 "
                   "ORDER BY id LIMIT ?2",
    [ST_NOTICE_ACK] = "UPDATE notices SET state = 1 WHERE sender = ?1 AND "
                      "kind = ?2 AND message_id = ?3 AND recipient = ?4",
};

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;"
    "CREATE TABLE IF NOT EXISTS messages ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT," /* arrival order, never reused */
    "  message_id BLOB NOT NULL UNIQUE,"
    "  envelope_hash BLOB NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  priority INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  accepted_at INTEGER NOT NULL,"
    "  envelope BLOB);" /* NULL once every recipient acknowledged */
    "CREATE TABLE IF NOT EXISTS deliveries ("
    "  seq INTEGER NOT NULL REFERENCES messages(seq),"
    "  recipient TEXT NOT NULL,"
    "  state INTEGER NOT NULL," /* 0 pending, 2 acknowledged */
    "  acked_at INTEGER,"
    "  PRIMARY KEY (recipient, seq));"
    "CREATE INDEX IF NOT EXISTS pending ON deliveries (recipient, state, seq);"
    "CREATE TABLE IF NOT EXISTS notices ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sender TEXT NOT NULL, kind INTEGER NOT NULL,"
    "  message_id BLOB NOT NULL, envelope_hash BLOB NOT NULL,"
    "  recipient TEXT NOT NULL, time INTEGER NOT NULL,"
    "  state INTEGER NOT NULL," /* 0 owed, 1 acknowledged by the sender */
    "  UNIQUE (kind, message_id, recipient));"
    "CREATE INDEX IF NOT EXISTS notices_owed ON notices (sender, state, id);"
    "CREATE TABLE IF NOT EXISTS audit ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT," /* 1, 2, 3... */
    "  record TEXT NOT NULL,"
    "  hash BLOB NOT NULL);"; /* see audit.h */

struct am_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    req_t *pending, **pending_tail;
    req_t *done, **done_tail;
    bool stopping, failed, started, held;
    am_store_notify_cb notify;
    void *notify_ctx;
    am_store_stats_t stats;
};

static int db_error(am_store_t *s, const char *what)
{
    return am_errf(AM_EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(am_store_t *s, const char *q)
{
    return sqlite3_exec(s->db, q, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : db_error(s, q);
}

static sqlite3_stmt *stmt(am_store_t *s, int which)
{
    sqlite3_stmt *st = s->st[which];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Step a statement that returns no rows. */
static int run(am_store_t *s, sqlite3_stmt *st)
{
    return sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(s, "write");
}

static int do_put(am_store_t *s, req_t *r)
{
    const am_store_put_t *m = &r->put;
    sqlite3_stmt *st = stmt(s, ST_FIND);
    sqlite3_int64 seq;
    int rc;

    sqlite3_bind_blob(st, 1, m->message_id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* seen before: the same envelope is the same answer */
        bool same = sqlite3_column_bytes(st, 0) == AM_HASH_LEN &&
                    memcmp(sqlite3_column_blob(st, 0), m->envelope_hash,
                           AM_HASH_LEN) == 0;
        r->accepted_at = sqlite3_column_int64(st, 1);
        return same ? 0 : am_errf(AM_EDUP, "message id already stored with "
                                  "other content");
    }
    if (rc != SQLITE_DONE)
        return db_error(s, "find");
    st = stmt(s, ST_INSERT_MSG);
    sqlite3_bind_blob(st, 1, m->message_id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, m->envelope_hash, AM_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, m->priority);
    sqlite3_bind_int64(st, 5, m->expires_at);
    sqlite3_bind_int64(st, 6, r->now);
    sqlite3_bind_blob64(st, 7, m->envelope, m->envelope_len, SQLITE_STATIC);
    if ((rc = run(s, st)) != 0)
        return rc;
    seq = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < m->n_recipients; i++) {
        st = stmt(s, ST_INSERT_DLV);
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_text(st, 2, m->recipients[i], -1, SQLITE_STATIC);
        if ((rc = run(s, st)) != 0)
            return rc;
    }
    r->accepted_at = r->now;
    return 0;
}

static int do_next(am_store_t *s, req_t *r)
{
    sqlite3_stmt *st = stmt(s, ST_NEXT);
    int rc;

    if ((r->items = am_calloc(r->max, sizeof *r->items)) == NULL)
        return AM_ENOMEM;
    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->max);
    sqlite3_bind_int64(st, 3, r->now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && r->n_items < r->max) {
        am_store_item_t *it = &r->items[r->n_items];
        size_t n = (size_t)sqlite3_column_bytes(st, 2);

        if (sqlite3_column_bytes(st, 0) != AM_MSG_ID_LEN || n == 0 ||
            sqlite3_column_bytes(st, 3) != AM_HASH_LEN)
            return am_errf(AM_EIO, "store: damaged row for %s", r->recipient);
        memcpy(it->message_id, sqlite3_column_blob(st, 0), AM_MSG_ID_LEN);
        memcpy(it->envelope_hash, sqlite3_column_blob(st, 3), AM_HASH_LEN);
        it->accepted_at = sqlite3_column_int64(st, 4);
        snprintf(it->sender, sizeof it->sender, "%s",
                 (const char *)sqlite3_column_text(st, 5));
        it->priority = sqlite3_column_int(st, 1);
        if ((it->envelope = am_malloc(n)) == NULL)
            return AM_ENOMEM;
        memcpy(it->envelope, sqlite3_column_blob(st, 2), n);
        it->envelope_len = n;
        r->n_items++;
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(s, "next");
}

static int do_ack(am_store_t *s, req_t *r)
{
    sqlite3_stmt *st = stmt(s, ST_ACK);
    int rc;

    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->now);
    if ((rc = run(s, st)) != 0)
        return rc;
    if (sqlite3_changes(s->db) == 0) {
        /* acknowledged before (at-least-once delivery): same answer */
        st = stmt(s, ST_ACKED);
        sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
        return sqlite3_step(st) == SQLITE_ROW
                   ? 0
                   : am_errf(AM_EKEY, "no delivery of that message to %s",
                             r->recipient);
    }
    /* the sender is owed the relay's "delivered" evidence */
    st = stmt(s, ST_NOTE);
    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->now);
    if ((rc = run(s, st)) != 0)
        return rc;
    st = stmt(s, ST_REMAINING);
    sqlite3_bind_blob(st, 1, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_error(s, "remaining");
    if (sqlite3_column_int64(st, 0) > 0)
        return 0;
    /* every recipient has it: keep the record, drop the sealed bytes */
    if ((rc = am_audit_append(s->db, r->id, r->now)) != 0)
        return rc;
    st = stmt(s, ST_DROP_BODY);
    sqlite3_bind_blob(st, 1, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    return run(s, st);
}

static int do_notices(am_store_t *s, req_t *r)
{
    sqlite3_stmt *st = stmt(s, ST_NOTICES);
    int rc;

    if ((r->notices = am_calloc(r->max, sizeof *r->notices)) == NULL)
        return AM_ENOMEM;
    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && r->n_items < r->max) {
        am_store_notice_t *n = &r->notices[r->n_items];
        const char *who = (const char *)sqlite3_column_text(st, 3);

        if (sqlite3_column_bytes(st, 1) != AM_MSG_ID_LEN ||
            sqlite3_column_bytes(st, 2) != AM_HASH_LEN || who == NULL ||
            strlen(who) > AM_AGENCY_ID_MAX)
            return am_errf(AM_EIO, "store: damaged notice for %s",
                           r->recipient);
        n->kind = sqlite3_column_int(st, 0);
        memcpy(n->message_id, sqlite3_column_blob(st, 1), AM_MSG_ID_LEN);
        memcpy(n->envelope_hash, sqlite3_column_blob(st, 2), AM_HASH_LEN);
        memcpy(n->recipient, who, strlen(who) + 1);
        n->time = sqlite3_column_int64(st, 4);
        r->n_items++;
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(s, "notices");
}

static int do_expire(am_store_t *s, req_t *r)
{
    static const char *const q[] = {
        "SELECT DISTINCT m.sender FROM deliveries d JOIN messages m "
        "ON m.seq = d.seq WHERE d.state = 0 AND m.expires_at <= ?1",
        "INSERT OR IGNORE INTO notices (sender, kind, message_id, "
        "envelope_hash, recipient, time, state) SELECT m.sender, 3, "
        "m.message_id, m.envelope_hash, d.recipient, ?1, 0 FROM deliveries d "
        "JOIN messages m ON m.seq = d.seq WHERE d.state = 0 AND "
        "m.expires_at <= ?1",
        "UPDATE deliveries SET state = 3 WHERE state = 0 AND seq IN "
        "(SELECT seq FROM messages WHERE expires_at <= ?1)",
        "UPDATE messages SET envelope = NULL WHERE expires_at <= ?1 AND "
        "envelope IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.seq = messages.seq AND d.state = 0)",
    };
    int rc = 0;

    for (size_t i = 0; i < sizeof q / sizeof q[0] && rc == 0; i++) {
        sqlite3_stmt *st;
        int step;

        if (sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL) != SQLITE_OK)
            return db_error(s, "expire");
        sqlite3_bind_int64(st, 1, r->now);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *who = (const char *)sqlite3_column_text(st, 0);
            if (r->n_senders < EXPIRED_SENDERS && who != NULL &&
                strlen(who) <= AM_AGENCY_ID_MAX)
                memcpy(r->senders[r->n_senders++], who, strlen(who) + 1);
            r->n_senders_all++;
        }
        if (step != SQLITE_DONE)
            rc = db_error(s, "expire");
        sqlite3_finalize(st);
    }
    return rc;
}

static int do_notice_ack(am_store_t *s, req_t *r)
{
    sqlite3_stmt *st = stmt(s, ST_NOTICE_ACK);
    int rc;

    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, r->kind2);
    sqlite3_bind_blob(st, 3, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->other, -1, SQLITE_STATIC);
    if ((rc = run(s, st)) != 0)
        return rc;
    return sqlite3_changes(s->db) > 0
               ? 0
               : am_errf(AM_EKEY, "no such notice for %s", r->recipient);
}

/* Each request in its own savepoint: a refused put leaves no rows, and
 * does not undo the rest of the batch. */
static void run_one(am_store_t *s, req_t *r)
{
    if (exec(s, "SAVEPOINT r") != 0) {
        r->rc = AM_EIO;
        return;
    }
    switch (r->kind) {
    case REQ_PUT: r->rc = do_put(s, r); break;
    case REQ_NEXT: r->rc = do_next(s, r); break;
    case REQ_ACK: r->rc = do_ack(s, r); break;
    case REQ_NOTICES: r->rc = do_notices(s, r); break;
    case REQ_NOTICE_ACK: r->rc = do_notice_ack(s, r); break;
    case REQ_EXPIRE: r->rc = do_expire(s, r); break;
    }
    if (r->rc != 0 && exec(s, "ROLLBACK TO r") != 0)
        r->rc = AM_EIO;
    if (exec(s, "RELEASE r") != 0)
        r->rc = AM_EIO;
}

static void fail_all(req_t *batch)
{
    for (req_t *r = batch; r != NULL; r = r->next)
        r->rc = AM_EIO;
}

/* One transaction, one fsync, for everything that was waiting.  Returns
 * whether it committed.  A BEGIN that fails (another process holds the
 * database past the busy timeout) fails this batch only; a COMMIT that
 * fails fails the store for good. */
static bool run_batch(am_store_t *s, req_t *batch)
{
    if (s->failed || exec(s, "BEGIN IMMEDIATE") != 0) {
        fail_all(batch);
        return false;
    }
    for (req_t *r = batch; r != NULL; r = r->next)
        run_one(s, r);
    if (exec(s, "COMMIT") != 0) {
        /* never retried: after a failed fsync the data may be gone */
        fprintf(stderr, "amanat-relay: store: %s\n", am_err_detail());
        pthread_mutex_lock(&s->mu);
        s->failed = true;
        pthread_mutex_unlock(&s->mu);
        fail_all(batch);
        return false;
    }
    return true;
}

static void *store_thread(void *arg)
{
    am_store_t *s = arg;

    for (;;) {
        req_t *batch;
        uint64_t n = 0;
        bool committed;

        pthread_mutex_lock(&s->mu);
        while ((s->pending == NULL || s->held) && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        batch = s->pending;
        s->pending = NULL;
        s->pending_tail = &s->pending;
        pthread_mutex_unlock(&s->mu);
        if (batch == NULL)
            break; /* stopping, and nothing left */
        committed = run_batch(s, batch);
        pthread_mutex_lock(&s->mu);
        s->stats.commits += committed;
        *s->done_tail = batch;
        for (req_t *r = batch; r != NULL; r = r->next) {
            s->done_tail = &r->next;
            n++;
        }
        s->stats.requests += n;
        pthread_mutex_unlock(&s->mu);
        if (s->notify != NULL)
            s->notify(s->notify_ctx);
    }
    return NULL;
}

static int enqueue(am_store_t *s, req_t *r)
{
    bool stopping;

    pthread_mutex_lock(&s->mu);
    stopping = s->stopping;
    if (!stopping) {
        *s->pending_tail = r;
        s->pending_tail = &r->next;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return stopping ? am_errf(AM_ESTATE, "store is closing") : 0;
}

static void req_free(req_t *r)
{
    am_free(r->notices);
    for (size_t i = 0; r->items != NULL && i < r->n_items; i++)
        am_free(r->items[i].envelope);
    am_free(r->items);
    am_free(r->env_copy);
    am_free(r);
}

void am_store_drain(am_store_t *s)
{
    req_t *r;

    pthread_mutex_lock(&s->mu);
    r = s->done;
    s->done = NULL;
    s->done_tail = &s->done;
    pthread_mutex_unlock(&s->mu);
    while (r != NULL) {
        req_t *next = r->next;

        if (r->kind == REQ_PUT)
            r->put_cb(r->ctx, r->rc, r->accepted_at);
        else if (r->kind == REQ_NEXT)
            r->next_cb(r->ctx, r->rc, r->items, r->n_items);
        else if (r->kind == REQ_NOTICES)
            r->notices_cb(r->ctx, r->rc, r->notices, r->n_items);
        else if (r->kind == REQ_EXPIRE)
            r->expired_cb(r->ctx, r->rc, (const char(*)[AM_AGENCY_ID_MAX + 1])
                                             r->senders,
                          r->n_senders, r->n_senders_all);
        else
            r->done_cb(r->ctx, r->rc);
        req_free(r);
        r = next;
    }
}

void am_store_hold(am_store_t *s, int hold)
{
    pthread_mutex_lock(&s->mu);
    s->held = hold != 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

bool am_store_failed(am_store_t *s)
{
    bool failed;

    pthread_mutex_lock(&s->mu);
    failed = s->failed;
    pthread_mutex_unlock(&s->mu);
    return failed;
}

void am_store_stats(am_store_t *s, am_store_stats_t *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

/* The database file is new: make its directory entry durable too. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY), rc = 0;

    if (fd < 0 || fsync(fd) != 0)
        rc = am_errf(AM_EIO, "store: cannot sync %s: %s", dir,
                     strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

static int open_db(am_store_t *s, const char *dir)
{
    char path[4096];
    bool existed;

    if (snprintf(path, sizeof path, "%s/store.sqlite", dir) >= (int)sizeof path)
        return am_errf(AM_EINVAL, "store: folder name too long");
    existed = access(path, F_OK) == 0;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return am_errf(AM_EIO, "store: cannot open %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
    /* another process (a backup, an operator's sqlite3) may hold the
     * database briefly: wait for it rather than fail */
    if (sqlite3_busy_timeout(s->db, 10000) != SQLITE_OK || exec(s, schema) != 0)
        return am_err_wrap(AM_EIO, "store %s", path);
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK)
            return db_error(s, sql[i]);
    return existed ? 0 : sync_dir(dir);
}

int am_store_open(const char *dir, am_store_notify_cb notify, void *ctx,
                  am_store_t **out)
{
    am_store_t *s;
    int rc;

    if (dir == NULL || out == NULL)
        return AM_EINVAL;
    if ((s = am_calloc(1, sizeof *s)) == NULL)
        return AM_ENOMEM;
    s->pending_tail = &s->pending;
    s->done_tail = &s->done;
    s->notify = notify;
    s->notify_ctx = ctx;
    if (pthread_mutex_init(&s->mu, NULL) != 0 ||
        pthread_cond_init(&s->cv, NULL) != 0) {
        am_free(s);
        return AM_ENOMEM;
    }
    if ((rc = open_db(s, dir)) != 0)
        goto fail;
    if (pthread_create(&s->thread, NULL, store_thread, s) != 0) {
        rc = am_errf(AM_ENOMEM, "store: cannot start its thread");
        goto fail;
    }
    s->started = true;
    *out = s;
    return 0;
fail:
    am_store_close(s);
    return rc;
}

void am_store_close(am_store_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->thread, NULL);
    am_store_drain(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    am_free(s);
}

static req_t *new_req(req_kind_t kind, void *ctx, int64_t now)
{
    req_t *r = am_calloc(1, sizeof *r);

    if (r != NULL) {
        r->kind = kind;
        r->ctx = ctx;
        r->now = now;
    }
    return r;
}

static int copy_recipient(char dst[AM_AGENCY_ID_MAX + 1], const char *id)
{
    if (!am_agency_id_valid(id))
        return am_errf(AM_EINVAL, "store: not an agency id");
    memcpy(dst, id, strlen(id) + 1);
    return 0;
}

int am_store_put(am_store_t *s, const am_store_put_t *m, int64_t now,
                 am_store_put_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || m == NULL || cb == NULL || m->envelope == NULL ||
        m->envelope_len == 0 || m->n_recipients == 0 ||
        m->n_recipients > AM_ENV_MAX_RECIPIENTS)
        return AM_EINVAL;
    for (size_t i = 0; i < m->n_recipients; i++)
        if (!am_agency_id_valid(m->recipients[i]))
            return am_errf(AM_EINVAL, "store: recipient %zu is not an id", i);
    if ((r = new_req(REQ_PUT, ctx, now)) == NULL ||
        (r->env_copy = am_malloc(m->envelope_len)) == NULL) {
        am_free(r);
        return AM_ENOMEM;
    }
    r->put = *m;
    memcpy(r->env_copy, m->envelope, m->envelope_len);
    r->put.envelope = r->env_copy;
    r->put_cb = cb;
    if ((rc = enqueue(s, r)) != 0)
        req_free(r);
    return rc;
}

int am_store_next(am_store_t *s, const char *recipient, size_t max,
                  int64_t now, am_store_next_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL || max == 0 || max > 1024)
        return AM_EINVAL;
    if ((r = new_req(REQ_NEXT, ctx, now)) == NULL)
        return AM_ENOMEM;
    r->max = max;
    r->next_cb = cb;
    if ((rc = copy_recipient(r->recipient, recipient)) != 0 ||
        (rc = enqueue(s, r)) != 0)
        req_free(r);
    return rc;
}

int am_store_ack(am_store_t *s, const char *recipient,
                 const uint8_t id[static AM_MSG_ID_LEN], int64_t now,
                 am_store_done_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL)
        return AM_EINVAL;
    if ((r = new_req(REQ_ACK, ctx, now)) == NULL)
        return AM_ENOMEM;
    memcpy(r->id, id, AM_MSG_ID_LEN);
    r->done_cb = cb;
    if ((rc = copy_recipient(r->recipient, recipient)) != 0 ||
        (rc = enqueue(s, r)) != 0)
        req_free(r);
    return rc;
}

int am_store_notices(am_store_t *s, const char *sender, size_t max,
                     am_store_notices_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL || max == 0 || max > 1024)
        return AM_EINVAL;
    if ((r = new_req(REQ_NOTICES, ctx, 0)) == NULL)
        return AM_ENOMEM;
    r->max = max;
    r->notices_cb = cb;
    if ((rc = copy_recipient(r->recipient, sender)) != 0 ||
        (rc = enqueue(s, r)) != 0)
        req_free(r);
    return rc;
}

int am_store_notice_ack(am_store_t *s, const char *sender, int kind,
                        const uint8_t id[static AM_MSG_ID_LEN],
                        const char *recipient, am_store_done_cb cb,
                        void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL)
        return AM_EINVAL;
    if ((r = new_req(REQ_NOTICE_ACK, ctx, 0)) == NULL)
        return AM_ENOMEM;
    r->kind2 = kind;
    memcpy(r->id, id, AM_MSG_ID_LEN);
    r->done_cb = cb;
    if ((rc = copy_recipient(r->recipient, sender)) != 0 ||
        (rc = copy_recipient(r->other, recipient)) != 0 ||
        (rc = enqueue(s, r)) != 0)
        req_free(r);
    return rc;
}

int am_store_expire(am_store_t *s, int64_t now, am_store_expired_cb cb,
                    void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL)
        return AM_EINVAL;
    if ((r = new_req(REQ_EXPIRE, ctx, now)) == NULL)
        return AM_ENOMEM;
    r->expired_cb = cb;
    if ((rc = enqueue(s, r)) != 0)
        req_free(r);
    return rc;
}
