/* The embedded store: SQLite in WAL mode, one store thread, group commit.
 * See store.h for the design; the SQL of each request is in store_ops.c. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alloc.h"
#include "audit.h"
#include "err.h"
#include "fsutil.h"

/* SQLite's error for a call that failed, never SQLITE_OK. */
static int db_err(am_store_t *s)
{
    int e = sqlite3_errcode(s->db);

    return e != SQLITE_OK ? e : SQLITE_ERROR;
}

/* Each request in its own savepoint: a refused put leaves no rows, and
 * does not undo the rest of the batch.  Returns 0, or SQLite's error when
 * the batch cannot go on: the transaction is gone (SQLite rolls it back
 * by itself on some errors, out of memory among them, and later requests
 * would then commit one by one) or the savepoint could not be undone or
 * released (a commit would keep part of a refused request). */
static int run_one(am_store_t *s, req_t *r)
{
    if (store_run(s, ST_SAVEPOINT) != 0) {
        r->rc = AM_EIO;
        return sqlite3_get_autocommit(s->db) ? db_err(s) : 0;
    }
    switch (r->kind) {
    case REQ_PUT: r->rc = store_do_put(s, r); break;
    case REQ_NEXT: r->rc = store_do_next(s, r); break;
    case REQ_ACK: r->rc = store_do_ack(s, r); break;
    case REQ_NOTICES: r->rc = store_do_notices(s, r); break;
    case REQ_NOTICE_ACK: r->rc = store_do_notice_ack(s, r); break;
    case REQ_EXPIRE: r->rc = store_do_expire(s, r); break;
    case REQ_PREKEY_PUT: r->rc = store_do_prekey_put(s, r); break;
    case REQ_PREKEYS: r->rc = store_do_prekeys(s, r); break;
    case REQ_NOTICE_PUT: r->rc = store_do_notice_put(s, r); break;
    case REQ_FOLD: r->rc = store_do_fold(s, r); break;
    }
    if (sqlite3_get_autocommit(s->db) ||
        (r->rc != 0 && store_run(s, ST_ROLLBACK_TO) != 0) ||
        store_run(s, ST_RELEASE) != 0) {
        r->rc = AM_EIO;
        return db_err(s);
    }
    return 0;
}

/* A statement left on a row (a lookup that found one, a page of rows cut
 * at its limit) keeps the connection's read transaction open past the
 * COMMIT, and SQLite's checkpoint after the commit can then copy nothing
 * back from the WAL: it grows without end while the relay runs.  Every
 * request has copied what it read, so all can be reset.  sqlite3_reset
 * only repeats the error of a step, which its request has handled. */
static void reset_statements(am_store_t *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        (void)sqlite3_reset(s->st[i]);
    for (int i = 0; i < AM_AUDIT_NSTMT; i++)
        (void)sqlite3_reset(s->audit[i]);
}

static void fail_all(req_t *batch)
{
    for (req_t *r = batch; r != NULL; r = r->next)
        r->rc = AM_EIO;
}

/* A batch that did not commit: none of it is kept and every request in
 * it fails (none was acknowledged).  Out of memory does not stop the
 * store: nothing was written, and the next batch commits or fails on its
 * own.  Any other error fails the store for good, never retried: after a
 * failed fsync the data may be gone. */
static void abandon(am_store_t *s, req_t *batch, int err)
{
    fail_all(batch);
    if (!sqlite3_get_autocommit(s->db))
        (void)store_exec(s, "ROLLBACK");
    if ((err & 0xff) == SQLITE_NOMEM && sqlite3_get_autocommit(s->db)) {
        fprintf(stderr, "amanat-relay: store: out of memory: a batch of "
                "requests failed\n");
        return;
    }
    fprintf(stderr, "amanat-relay: %s\n", am_err_detail());
    pthread_mutex_lock(&s->mu);
    s->failed = true;
    pthread_mutex_unlock(&s->mu);
}

/* One transaction, one fsync, for everything that was waiting.  Returns
 * whether it committed.  A BEGIN that fails (another process holds the
 * database past the busy timeout) fails this batch only. */
static bool run_batch(am_store_t *s, req_t *batch)
{
    int err = 0;

    if (s->failed || store_exec(s, "BEGIN IMMEDIATE") != 0) {
        fail_all(batch);
        return false;
    }
    for (req_t *r = batch; r != NULL && err == 0; r = r->next)
        err = run_one(s, r);
    reset_statements(s);
    if (err == 0 && store_exec(s, "COMMIT") != 0)
        err = db_err(s);
    if (err != 0) {
        abandon(s, batch, err);
        return false;
    }
    return true;
}

/* With s->mu held: everything queued, with a fold of the acknowledgement
 * log ahead of it when the log is long (store_fold.c); or, the store
 * being idle, a fold alone.  NULL when stopping with nothing left. */
static req_t *take_batch(am_store_t *s)
{
    req_t *batch, *fold;
    bool waited;

    for (;;) {
        if ((s->pending != NULL && !s->held) || s->stopping)
            break;
        if ((fold = store_fold_due(s, true, &waited)) != NULL)
            return fold;
        if (!waited)
            pthread_cond_wait(&s->cv, &s->mu);
    }
    if ((batch = s->pending) == NULL)
        return NULL;
    s->pending = NULL;
    s->pending_tail = &s->pending;
    if (!s->stopping && (fold = store_fold_due(s, false, &waited)) != NULL) {
        fold->next = batch;
        batch = fold;
    }
    return batch;
}

static void *store_thread(void *arg)
{
    am_store_t *s = arg;

    for (;;) {
        req_t *batch;
        uint64_t n = 0;
        bool committed;

        pthread_mutex_lock(&s->mu);
        batch = take_batch(s);
        pthread_mutex_unlock(&s->mu);
        if (batch == NULL)
            break; /* stopping, and nothing left */
        committed = run_batch(s, batch);
        pthread_mutex_lock(&s->mu);
        s->stats.commits += committed;
        *s->done_tail = batch;
        for (req_t *r = batch; r != NULL; r = r->next) {
            if (r->kind == REQ_FOLD)
                store_fold_done(s, r, committed);
            s->done_tail = &r->next;
            n++;
        }
        s->stats.requests += n;
        s->stats.unfolded = s->unfolded;
        pthread_mutex_unlock(&s->mu);
        if (s->notify != NULL)
            s->notify(s->notify_ctx);
    }
    return NULL;
}

int store_enqueue(am_store_t *s, req_t *r)
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

void store_req_free(req_t *r)
{
    am_free(r->notices);
    for (size_t i = 0; r->items != NULL && i < r->n_items; i++)
        am_free(r->items[i].envelope);
    am_free(r->items);
    am_free(r->env_copy);
    am_free(r->prekeys);
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
        else if (r->kind == REQ_PREKEYS)
            r->prekeys_cb(r->ctx, r->rc, r->prekeys, r->n_items);
        else if (r->kind == REQ_EXPIRE)
            r->expired_cb(r->ctx, r->rc, (const char(*)[AM_AGENCY_ID_MAX + 1])
                                             r->senders,
                          r->n_senders, r->n_senders_all);
        else if (r->kind == REQ_FOLD) {
            if (s->folded_cb != NULL)
                s->folded_cb(s->folded_ctx, r->rc,
                             (const char(*)[AM_AGENCY_ID_MAX + 1])r->senders,
                             r->n_senders, r->n_senders_all);
        }
        else
            r->done_cb(r->ctx, r->rc);
        store_req_free(r);
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

void am_store_hold_folding(am_store_t *s, int hold)
{
    pthread_mutex_lock(&s->mu);
    s->fold_held = hold != 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void am_store_on_folded(am_store_t *s, am_store_expired_cb cb, void *ctx)
{
    s->folded_cb = cb;
    s->folded_ctx = ctx;
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

/* Make the names in the store's folder durable, checked.  At every open,
 * not only when the database is new: a clean close deletes the
 * write-ahead log and the next open creates it again, and SQLite ignores
 * a failed fsync of the folder (os_unix.c, "a failed directory sync is
 * not a big deal"), so the log's name would be durable only by luck. */
int store_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY), rc = 0;

    if (fd < 0 || fsync(fd) != 0)
        rc = am_errf(AM_EIO, "store: cannot sync %s: %s", dir,
                     strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Remove a database and its companions (what a creation cut short left
 * under the temporary name; a salvage's working copy). */
int store_remove_files(const char *tmp)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char name[4200];

    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(name, sizeof name, "%s%s", tmp, ext[i]);
        if (unlink(name) != 0 && errno != ENOENT)
            return am_errf(AM_EIO, "store: cannot remove %s: %s", name,
                           strerror(errno));
    }
    return 0;
}

/* A new store is made whole under a temporary name (schema, WAL mode,
 * checkpointed and synced when its connection closes) and only then
 * renamed into place, so that a store.sqlite that exists always holds its
 * schema: an empty or cut one is damage (store_check.c), never a
 * creation that a crash, a full disk or an I/O error cut short.  A
 * salvage (store_salvage.c) fills the new store between the two steps. */
int store_create_begin(am_store_t *s, const char *tmp)
{
    int rc;

    if ((rc = store_remove_files(tmp)) != 0)
        return rc;
    if (sqlite3_open_v2(tmp, &s->db, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        store_exec(s, am_store_schema) != 0 || store_migrate(s) != 0)
        rc = am_errf(AM_EIO, "store: cannot create %s: %s", tmp,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
    if (rc != 0)
        store_create_abort(s, tmp);
    return rc;
}

void store_create_abort(am_store_t *s, const char *tmp)
{
    sqlite3_close(s->db);
    s->db = NULL;
    (void)store_remove_files(tmp);
}

int store_create_finish(am_store_t *s, const char *tmp, const char *path)
{
    int rc = 0, fd;

    /* everything into the file itself: the WAL keeps its own name */
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                  NULL, NULL) != SQLITE_OK)
        rc = am_errf(AM_EIO, "store: cannot create %s: %s", tmp,
                     sqlite3_errmsg(s->db));
    if (sqlite3_close(s->db) != SQLITE_OK && rc == 0)
        rc = am_errf(AM_EIO, "store: cannot close %s: %s", tmp,
                     sqlite3_errmsg(s->db));
    s->db = NULL;
    if (rc == 0 && ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0 ||
                    fsync(fd) != 0 || close(fd) != 0))
        rc = am_errf(AM_EIO, "store: cannot sync %s: %s", tmp,
                     strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = am_errf(AM_EIO, "store: cannot rename %s: %s", tmp,
                     strerror(errno));
    return rc;
}

static int create_db(am_store_t *s, const char *path)
{
    char tmp[4200];
    int rc;

    snprintf(tmp, sizeof tmp, "%s.new", path);
    if ((rc = store_create_begin(s, tmp)) != 0)
        return rc;
    return store_create_finish(s, tmp, path);
}

static int open_db(am_store_t *s, const char *dir)
{
    char path[4096];
    bool existed;

    if (snprintf(path, sizeof path, "%s/store.sqlite", dir) >= (int)sizeof path)
        return am_errf(AM_EINVAL, "store: folder name too long");
    if (am_dir_make(dir, 0700) != 0)
        return am_err_wrap(AM_EIO, "store");
    /* an interrupted salvage is done again; a damaged file salvaged */
    if (store_salvage_check(s, dir, path) != 0) /* store_salvage.c */
        return AM_EIO;
    existed = access(path, F_OK) == 0;
    if (!existed && create_db(s, path) != 0)
        return AM_EIO;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return am_errf(AM_EIO, "store: cannot open %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
    /* when the file does not open for writing (EIO, ENOSPC, its mode),
     * SQLite opens it read-only instead: say that, not "attempt to write
     * a readonly database" from the schema */
    if (sqlite3_db_readonly(s->db, "main") != 0)
        return am_errf(AM_EIO, "store: cannot open %s for writing (SQLite "
                       "could only read it)", path);
    /* another process (a backup, an operator's sqlite3) may hold the
     * database briefly: wait for it rather than fail */
    if (sqlite3_busy_timeout(s->db, 10000) != SQLITE_OK ||
        store_exec(s, am_store_schema) != 0 || store_migrate(s) != 0)
        return am_err_wrap(AM_EIO, "store %s", path);
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, am_store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK)
            return store_db_error(s, am_store_sql[i]);
    for (int i = 0; i < AM_AUDIT_NSTMT; i++)
        if (sqlite3_prepare_v3(s->db, am_audit_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &s->audit[i],
                               NULL) != SQLITE_OK)
            return store_db_error(s, am_audit_sql[i]);
    /* the folder at every open: the schema opened (created) the log */
    if (store_sync_dir(dir) != 0 || store_fold_open(s) != 0)
        return AM_EIO;
    return existed ? store_check(s, path) : 0;
}

/* The store thread's timed waits (store_fold.c) on the monotonic clock:
 * a step of the wall clock neither stretches nor cuts them. */
static int cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc;

    if (pthread_condattr_init(&a) != 0)
        return -1;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) != 0 ||
         pthread_cond_init(cv, &a) != 0;
    pthread_condattr_destroy(&a);
    return rc ? -1 : 0;
}

int am_store_open(const char *dir, am_store_notify_cb notify, void *ctx,
                  am_store_t **out)
{
    return am_store_open_routed(dir, notify, ctx, NULL, NULL, out);
}

int am_store_open_routed(const char *dir, am_store_notify_cb notify,
                         void *ctx, am_store_route_cb route, void *route_ctx,
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
    s->route = route;
    s->route_ctx = route_ctx;
    if (pthread_mutex_init(&s->mu, NULL) != 0 || cond_init(&s->cv) != 0) {
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

int am_store_close(am_store_t *s)
{
    bool failed;

    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->started)
        pthread_join(s->thread, NULL);
    failed = s->failed; /* the thread is gone: no lock needed */
    am_store_drain(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i < AM_AUDIT_NSTMT; i++)
        sqlite3_finalize(s->audit[i]);
    sqlite3_close(s->db);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    am_free(s);
    return failed ? AM_EIO : 0;
}

req_t *store_new_req(req_kind_t kind, void *ctx, int64_t now)
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
    if ((r = store_new_req(REQ_PUT, ctx, now)) == NULL ||
        (r->env_copy = am_malloc(m->envelope_len)) == NULL) {
        am_free(r);
        return AM_ENOMEM;
    }
    r->put = *m;
    memcpy(r->env_copy, m->envelope, m->envelope_len);
    r->put.envelope = r->env_copy;
    r->put_cb = cb;
    if ((rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}

int am_store_next(am_store_t *s, const char *recipient, size_t max,
                  int64_t now, const am_store_cursor_t *after,
                  am_store_next_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL || max == 0 || max > 1024)
        return AM_EINVAL;
    if ((r = store_new_req(REQ_NEXT, ctx, now)) == NULL)
        return AM_ENOMEM;
    r->max = max;
    if (after != NULL)
        r->after = *after;
    r->next_cb = cb;
    if ((rc = copy_recipient(r->recipient, recipient)) != 0 ||
        (rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
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
    if ((r = store_new_req(REQ_ACK, ctx, now)) == NULL)
        return AM_ENOMEM;
    memcpy(r->id, id, AM_MSG_ID_LEN);
    r->done_cb = cb;
    if ((rc = copy_recipient(r->recipient, recipient)) != 0 ||
        (rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}

int am_store_notices(am_store_t *s, const char *sender, size_t max,
                     am_store_notices_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL || max == 0 || max > 1024)
        return AM_EINVAL;
    if ((r = store_new_req(REQ_NOTICES, ctx, 0)) == NULL)
        return AM_ENOMEM;
    r->max = max;
    r->notices_cb = cb;
    if ((rc = copy_recipient(r->recipient, sender)) != 0 ||
        (rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
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
    if ((r = store_new_req(REQ_NOTICE_ACK, ctx, 0)) == NULL)
        return AM_ENOMEM;
    r->kind2 = kind;
    memcpy(r->id, id, AM_MSG_ID_LEN);
    r->done_cb = cb;
    if ((rc = copy_recipient(r->recipient, sender)) != 0 ||
        (rc = copy_recipient(r->other, recipient)) != 0 ||
        (rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}

int am_store_expire(am_store_t *s, int64_t now, am_store_expired_cb cb,
                    void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL)
        return AM_EINVAL;
    if ((r = store_new_req(REQ_EXPIRE, ctx, now)) == NULL)
        return AM_ENOMEM;
    r->expired_cb = cb;
    if ((rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}

int am_store_prekey_put(am_store_t *s, const am_store_prekey_t *p,
                        am_store_done_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || p == NULL || cb == NULL || p->len == 0 ||
        p->len > sizeof p->signed_prekey || !am_agency_id_valid(p->agency))
        return AM_EINVAL;
    if ((r = store_new_req(REQ_PREKEY_PUT, ctx, 0)) == NULL ||
        (r->prekeys = am_malloc(sizeof *r->prekeys)) == NULL) {
        am_free(r);
        return AM_ENOMEM;
    }
    r->prekeys[0] = *p;
    r->done_cb = cb;
    if ((rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}

int am_store_prekeys(am_store_t *s, const char *const *agencies, size_t n,
                     int64_t now, am_store_prekeys_cb cb, void *ctx)
{
    req_t *r;
    int rc = 0;

    if (s == NULL || cb == NULL || n == 0 || n > AM_STORE_LOOKUP_MAX)
        return AM_EINVAL;
    if ((r = store_new_req(REQ_PREKEYS, ctx, now)) == NULL ||
        (r->prekeys = am_calloc(n, sizeof *r->prekeys)) == NULL) {
        am_free(r);
        return AM_ENOMEM;
    }
    r->prekeys_cb = cb;
    r->n_items = n;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = copy_recipient(r->prekeys[i].agency, agencies[i]);
    if (rc != 0 || (rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}
