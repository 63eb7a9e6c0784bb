/* The store check at every start (docs/PROTOCOL.md section 14, "Store
 * check at start"): before the relay listens, on the thread that opens
 * the store, so the event loop never waits for the disk.
 *
 * 0. The write-ahead log a crash left, read before SQLite opens the
 *    store (store_wal.c): one whose damage would make SQLite's recovery
 *    drop committed transactions is salvaged as below.
 * 1. SQLite's own check of the file's structure: b-trees, free list,
 *    record formats, and (integrity_check, not quick_check) that every
 *    index holds exactly the rows of its table.  A relay finds a
 *    recipient's pending envelopes through the index "pending" alone: an
 *    index entry whose state bit flipped would hide a delivery for good
 *    while quick_check still says ok, so the cheaper check is not enough.
 *    Then the schema against the relay's (store_schema.c): its SQL text is
 *    not covered by that check.
 *    Any problem: the file is salvaged (store_salvage.c): kept as it is,
 *    and what can still be read of it copied into a new store, which is
 *    then checked as below.  The relay never starts on a damaged b-tree,
 *    never with an empty queue in place of a damaged one, and never
 *    deletes the file; when nothing can be read of it, or it cannot be
 *    checked at all (empty, busy, unreadable), it refuses to start,
 *    naming the file and what to do.
 * 2. Every envelope still held: its bytes must hash (BLAKE2b-256) to the
 *    envelope_hash stored with it, parse, and name in their header the
 *    message id and sender of the row; each of its deliveries must have a
 *    known state and an agency id, and a pending delivery to an agency
 *    must be one the envelope is addressed to.  The signature is not
 *    checked again: the certificates are not at hand here, and need not
 *    be.  The relay computed envelope_hash over the bytes whose signature
 *    it verified at submission, so bytes that still hash to it are those
 *    verified bytes (BLAKE2b-256 is collision resistant; a bit flip does
 *    not find a second preimage).  A damaged hash column fails the same
 *    comparison, so nothing damaged passes as verified.
 *    A message that fails is quarantined: its pending deliveries get
 *    state 5 (damaged, never delivered), its sender is owed one DAMAGED
 *    evidence (kind 4) per recipient through the notices table, exactly
 *    as expired evidence is, and its bytes are dropped.  One log line per
 *    message names its id, sender and the reason; never its content. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "sign.h"

bool am_store_check_envelopes = true;

#define CHECK_LINES 20 /* problems of integrity_check logged */
#define STATE_DAMAGED 5
#define KIND_DAMAGED 4

typedef struct {
    int64_t seq;
    uint8_t id[AM_MSG_ID_LEN], hash[AM_HASH_LEN];
    char sender[AM_AGENCY_ID_MAX + 1], owed[AM_AGENCY_ID_MAX + 1];
    bool can_tell; /* id, hash and whom to tell are known */
    const char *why;
} damaged_t;

typedef struct {
    damaged_t *d;
    size_t n, cap;
    uint64_t held; /* envelopes checked */
    uint64_t told; /* evidence owed for them */
} check_t;

const char store_check_advice[] =
    "stop here: keep the folder as it is (do not delete the file) and "
    "restore the store from the last backup (docs/OPERATIONS.md, \"Damaged "
    "store\"); the relay will not start on it";

/* Damage, as opposed to a file that cannot be checked now (busy, out of
 * memory, a read error of the disk): only damage is salvaged. */
static bool damage(int code)
{
    code &= 0xff;
    return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

/* SQLite's words about a damaged file quote its bytes (a damaged schema
 * is SQL text): only printable ASCII goes to the log. */
static const char *printable(const char *in, char *out, size_t cap)
{
    size_t n = 0;

    for (; in != NULL && *in != '\0' && n + 1 < cap; in++)
        out[n++] = *in >= 0x20 && *in < 0x7f ? *in : '?';
    out[n] = '\0';
    return in != NULL ? out : "(no text)";
}

/* PRAGMA integrity_check: the problems it names (the first logged), in
 * *code SQLite's error when it could not run to its end. */
static int sqlite_check(sqlite3 *db, const char *path, int *code)
{
    sqlite3_stmt *st = NULL;
    int step = SQLITE_ERROR, n = 0;
    const char *line;
    char text[512];

    if (sqlite3_busy_timeout(db, 10000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check(100)", -1, &st,
                           NULL) == SQLITE_OK)
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            line = (const char *)sqlite3_column_text(st, 0);
            if (line != NULL && strcmp(line, "ok") == 0)
                continue;
            if (++n <= CHECK_LINES)
                fprintf(stderr, "amanat-relay: store check: %s: %s\n", path,
                        printable(line, text, sizeof text));
        }
    if (step != SQLITE_DONE) {
        *code = sqlite3_extended_errcode(db);
        fprintf(stderr, "amanat-relay: store check: %s: integrity check "
                "impossible: %s\n", path,
                printable(sqlite3_errmsg(db), text, sizeof text));
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

/* SQLite's own check, then the schema's (store_schema.c), on a
 * connection of their own, before the store's connection creates its
 * tables: creating them reads the damaged schema first, and would fail
 * with SQLite's terse reason instead, or make a table anew in place of a
 * renamed one.  Read-only: a connection that may write checkpoints the
 * WAL into the file when it closes, and the file must stay as it was
 * found (it may be salvaged). */
static int integrity(const char *path)
{
    sqlite3 *db = NULL;
    int n = 0, code = SQLITE_OK;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        code = db != NULL ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
    else if ((n = sqlite_check(db, path, &code)) == 0 &&
             (n = store_schema_check(db, path)) < 0)
        code = sqlite3_extended_errcode(db);
    sqlite3_close(db);
    if (n < 0 && code == SQLITE_OK)
        code = SQLITE_NOMEM; /* the relay's own schema could not be made */
    if (n == 0 && code == SQLITE_OK)
        return 0;
    if (code != SQLITE_OK && !damage(code))
        return am_errf(AM_EIO, "store %s cannot be checked (%s): %s", path,
                       sqlite3_errstr(code), store_check_advice);
    n = n > 0 ? n : 1;
    fprintf(stderr, "amanat-relay: store check: %s is DAMAGED: %d problem%s "
            "found by SQLite's integrity check and the schema check\n", path,
            n, n == 1 ? "" : "s");
    return 1;
}

/* A read-only connection creates the -wal and -shm it does not find and
 * cannot remove them when it closes: those it made go again, so that the
 * store's own connection finds the folder as it was (an -shm left behind
 * would let it open read-only after a failed open for writing). */
static int integrity_ro(const char *path)
{
    char wal[4200], shm[4200];
    bool had_wal, had_shm;
    int rc;

    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    had_wal = access(wal, F_OK) == 0;
    had_shm = access(shm, F_OK) == 0;
    rc = integrity(path);
    /* empty, ours, and unused: a failure here only leaves them */
    if (!had_wal)
        (void)unlink(wal);
    if (!had_shm)
        (void)unlink(shm);
    return rc;
}

/* A store file that exists must not be empty (SQLite would take it for a
 * new database, and the relay would start with an empty queue in place
 * of the one it lost), its write-ahead log must not be damaged, and it
 * must pass SQLite's integrity check. */
int store_check_file(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : am_errf(AM_EIO, "store %s: %s", path,
                                             strerror(errno));
    if (st.st_size > 0) {
        /* the log first: SQLite's open would recover it, dropping what
         * follows damage in it (store_wal.c) */
        int rc = store_wal_check(path);

        return rc < 0 ? rc : rc == 1 ? 2 : integrity_ro(path);
    }
    fprintf(stderr, "amanat-relay: store check: %s is EMPTY (0 bytes): it "
            "was truncated (a new store is renamed into place only once "
            "whole)\n", path);
    return am_errf(AM_EIO, "store %s is empty: if this relay never stored "
                   "a message, delete the file; otherwise %s", path,
                   store_check_advice);
}

static int note_damaged(check_t *c, const damaged_t *d)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        damaged_t *p = am_realloc(c->d, cap * sizeof *p);

        if (p == NULL)
            return AM_ENOMEM;
        c->d = p;
        c->cap = cap;
    }
    c->d[c->n++] = *d;
    return 0;
}

bool store_col_agency(sqlite3_stmt *st, int col)
{
    const char *t;

    if (col >= sqlite3_column_count(st) ||
        sqlite3_column_type(st, col) != SQLITE_TEXT ||
        (t = (const char *)sqlite3_column_text(st, col)) == NULL)
        return false;
    return strlen(t) == (size_t)sqlite3_column_bytes(st, col) &&
           strlen(t) <= AM_AGENCY_ID_MAX && am_agency_id_valid(t);
}

static bool text_id(sqlite3_stmt *st, int col, char *out)
{
    out[0] = '\0';
    if (!store_col_agency(st, col))
        return false;
    memcpy(out, sqlite3_column_text(st, col),
           (size_t)sqlite3_column_bytes(st, col) + 1);
    return true;
}

/* The deliveries of a held envelope (env NULL: it did not parse): the
 * first reason one is wrong, or NULL. */
static const char *check_deliveries(am_store_t *s, sqlite3_stmt *q,
                                    int64_t seq, const am_env_t *env,
                                    int *err)
{
    const char *why = NULL;
    char who[AM_AGENCY_ID_MAX + 1];
    size_t n = 0, pending = 0;
    uint32_t pre;
    int step;

    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, seq);
    while (why == NULL && (step = sqlite3_step(q)) == SQLITE_ROW) {
        int state = sqlite3_column_int(q, 1);

        n++;
        if (sqlite3_column_type(q, 1) != SQLITE_INTEGER ||
            sqlite3_column_int64(q, 1) != state ||
            (state != 0 && state != 2 && state != 3 && state != 4 &&
             state != STATE_DAMAGED))
            why = "a delivery's state is unreadable";
        else if (!text_id(q, 0, who))
            why = "a delivery's recipient is not an agency id";
        else if (state == 0 && sqlite3_column_type(q, 2) == SQLITE_NULL &&
                 env != NULL && am_env_wrap_prekey(env, who, &pre) != 0)
            why = "a delivery names an agency the envelope is not for";
        pending += state == 0;
    }
    if (why == NULL && step != SQLITE_DONE)
        *err = store_db_error(s, "store check: deliveries");
    else if (why == NULL && n == 0)
        why = "its deliveries are missing";
    else if (why == NULL && pending == 0)
        why = "held with no delivery pending";
    sqlite3_reset(q);
    return why;
}

/* Bytes that still hash to the row's envelope_hash are the bytes whose
 * signature was verified at submission: their header names the real
 * message id and sender, whatever the row's columns say. */
static bool authentic(sqlite3_stmt *m, damaged_t *d, am_env_t **e)
{
    const uint8_t *env = sqlite3_column_blob(m, 5);
    size_t len = (size_t)sqlite3_column_bytes(m, 5);
    uint8_t h[AM_HASH_LEN];
    const char *snd;

    if (sqlite3_column_bytes(m, 2) != AM_HASH_LEN || env == NULL ||
        len == 0 || len > AM_ENV_MAX || am_hash256(env, len, h) != 0 ||
        memcmp(h, sqlite3_column_blob(m, 2), AM_HASH_LEN) != 0 ||
        am_env_parse(env, len, AM_ENV_MAX, e) != 0)
        return false;
    snd = am_env_sender(*e);
    memcpy(d->id, am_env_claimed_id(*e), AM_MSG_ID_LEN);
    memcpy(d->hash, h, AM_HASH_LEN);
    if (strlen(snd) < sizeof d->sender)
        memcpy(d->sender, snd, strlen(snd) + 1);
    return true;
}

/* Whom to tell: the relay that forwarded it, else its sender. */
static void owed(sqlite3_stmt *m, damaged_t *d, bool known)
{
    char route[AM_AGENCY_ID_MAX + 1];

    if (sqlite3_column_type(m, 4) != SQLITE_NULL) {
        d->can_tell = known && text_id(m, 4, route);
        memcpy(d->owed, route, sizeof route);
    } else {
        d->can_tell = known && am_agency_id_valid(d->sender);
        memcpy(d->owed, d->sender, sizeof d->sender);
    }
}

/* One held envelope (row of the scan): the reason it is damaged, or
 * NULL; d gets what the sender is to be told. */
static const char *check_one(am_store_t *s, sqlite3_stmt *m,
                             sqlite3_stmt *q, damaged_t *d, int *err)
{
    bool id_ok = sqlite3_column_bytes(m, 1) == AM_MSG_ID_LEN,
         hash_ok = sqlite3_column_bytes(m, 2) == AM_HASH_LEN,
         sender_ok = text_id(m, 3, d->sender), real;
    am_env_t *e = NULL;
    const char *why = NULL;

    d->seq = sqlite3_column_int64(m, 0);
    if (id_ok)
        memcpy(d->id, sqlite3_column_blob(m, 1), AM_MSG_ID_LEN);
    if (hash_ok)
        memcpy(d->hash, sqlite3_column_blob(m, 2), AM_HASH_LEN);
    if (!(real = authentic(m, d, &e)))
        why = !id_ok || !hash_ok || !sender_ok
                  ? "its message id, hash or sender is unreadable"
              : sqlite3_column_type(m, 5) == SQLITE_NULL
                  ? "its envelope is gone while a delivery is pending"
              : e == NULL ? "its envelope does not match its hash, or does "
                            "not parse"
                          : "its envelope does not parse";
    else if (!id_ok || !sender_ok ||
             memcmp(sqlite3_column_blob(m, 1), d->id, AM_MSG_ID_LEN) != 0 ||
             strcmp((const char *)sqlite3_column_text(m, 3), d->sender) != 0)
        why = "its row names another message id or sender than its "
              "envelope";
    if (why == NULL)
        why = check_deliveries(s, q, d->seq, e, err);
    am_env_free(e);
    owed(m, d, real || (id_ok && hash_ok && sender_ok));
    return why;
}

static int scan(am_store_t *s, check_t *c)
{
    sqlite3_stmt *m = NULL, *q = NULL;
    damaged_t d;
    int step, rc = 0;

    /* and a message whose bytes are gone while a delivery of it is still
     * pending: the relay drops them only once none is (damage, or an older
     * copy of the delivery's record read back by a salvage); left, that
     * row would stop every delivery to its recipient (store_ops.c) */
    if (sqlite3_prepare_v2(s->db, "SELECT seq, message_id, envelope_hash, "
                           "sender, route, envelope FROM messages WHERE "
                           "envelope IS NOT NULL OR seq IN (SELECT seq FROM "
                           "deliveries WHERE state = 0) ORDER BY seq", -1, &m,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "SELECT recipient, state, agencies FROM "
                           "deliveries WHERE seq = ?1", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = store_db_error(s, "store check");
        goto done;
    }
    while (rc == 0 && (step = sqlite3_step(m)) == SQLITE_ROW) {
        memset(&d, 0, sizeof d);
        c->held += sqlite3_column_type(m, 5) != SQLITE_NULL;
        if ((d.why = check_one(s, m, q, &d, &rc)) != NULL && rc == 0)
            rc = note_damaged(c, &d);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_db_error(s, "store check: messages");
done:
    sqlite3_finalize(m);
    sqlite3_finalize(q);
    return rc;
}

/* The sender is owed DAMAGED evidence for each recipient of a delivery
 * that was still pending (or whose state is unreadable); those
 * deliveries end in state 5.  Recipients of a copy waiting for another
 * relay are the agencies it lists. */
static int tell(am_store_t *s, const damaged_t *d, int64_t now,
                uint64_t *told)
{
    static const char rows[] =
        "SELECT coalesce(j.value, d.recipient) FROM deliveries d LEFT JOIN "
        "json_each(CASE WHEN json_valid(d.agencies) THEN d.agencies END) j "
        "WHERE d.seq = ?1 AND d.state NOT IN (2, 3, 4, 5)";
    static const char ins[] =
        "INSERT OR IGNORE INTO notices (sender, kind, message_id, "
        "envelope_hash, recipient, time, state) VALUES (?1, 4, ?2, ?3, ?4, "
        "?5, 0)";
    sqlite3_stmt *q = NULL, *w = NULL;
    char who[AM_AGENCY_ID_MAX + 1];
    int step = SQLITE_DONE, rc = 0;

    if (sqlite3_prepare_v2(s->db, rows, -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, ins, -1, &w, NULL) != SQLITE_OK) {
        rc = store_db_error(s, "store check: quarantine");
        goto done;
    }
    sqlite3_bind_int64(q, 1, d->seq);
    while (rc == 0 && d->can_tell && (step = sqlite3_step(q)) == SQLITE_ROW) {
        if (!text_id(q, 0, who)) {
            fprintf(stderr, "amanat-relay: store check: seq %lld: a "
                    "recipient's name is unreadable: it cannot be told\n",
                    (long long)d->seq);
            continue;
        }
        sqlite3_reset(w);
        sqlite3_bind_text(w, 1, d->owed, -1, SQLITE_STATIC);
        sqlite3_bind_blob(w, 2, d->id, AM_MSG_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(w, 3, d->hash, AM_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_text(w, 4, who, -1, SQLITE_STATIC);
        sqlite3_bind_int64(w, 5, now);
        if (sqlite3_step(w) != SQLITE_DONE)
            rc = store_db_error(s, "store check: evidence owed");
        else
            *told += (uint64_t)sqlite3_changes(s->db);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_db_error(s, "store check: quarantine");
done:
    sqlite3_finalize(q);
    sqlite3_finalize(w);
    return rc;
}

static int exec_seq(am_store_t *s, const char *sql, int64_t seq)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(s, "store check");
    sqlite3_bind_int64(st, 1, seq);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_db_error(s, "store check");
    sqlite3_finalize(st);
    return rc;
}

/* Quarantine one message: evidence owed, deliveries ended, an audit
 * record (as for any message nobody can receive any more), bytes gone. */
static int quarantine(am_store_t *s, const damaged_t *d, int64_t now,
                      uint64_t *told)
{
    char id[2 * AM_MSG_ID_LEN + 1] = "(unreadable)";
    int rc;

    if (d->can_tell)
        sodium_bin2hex(id, sizeof id, d->id, AM_MSG_ID_LEN);
    fprintf(stderr, "amanat-relay: store check: message %s from %s "
            "(seq %lld) quarantined: %s\n", id,
            d->sender[0] ? d->sender : "(unreadable)", (long long)d->seq,
            d->why);
    if ((rc = tell(s, d, now, told)) != 0 ||
        (rc = exec_seq(s, "UPDATE deliveries SET state = 5 WHERE seq = ?1 "
                       "AND state NOT IN (2, 3, 4, 5)", d->seq)) != 0)
        return rc;
    if (d->can_tell && am_audit_append(s->audit, d->id, now) != 0)
        fprintf(stderr, "amanat-relay: store check: message %s: no audit "
                "record: %s\n", id, am_err_detail());
    return exec_seq(s, "UPDATE messages SET envelope = NULL WHERE seq = ?1",
                    d->seq);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* All of it in one transaction: a check cut short leaves the store as
 * it was, and the next start checks again. */
static int check_rows(am_store_t *s, check_t *c)
{
    int64_t now = (int64_t)time(NULL);
    int rc;

    if ((rc = store_exec(s, "BEGIN IMMEDIATE")) != 0)
        return rc;
    rc = scan(s, c);
    for (size_t i = 0; rc == 0 && i < c->n; i++)
        rc = quarantine(s, &c->d[i], now, &c->told);
    for (int i = 0; i < AM_AUDIT_NSTMT; i++)
        (void)sqlite3_reset(s->audit[i]);
    if (rc == 0 && (rc = store_exec(s, "COMMIT")) == 0)
        return 0;
    if (!sqlite3_get_autocommit(s->db))
        (void)store_exec(s, "ROLLBACK");
    return rc;
}

int store_check(am_store_t *s, const char *path)
{
    check_t c = {0};
    int64_t t0 = now_ms();
    int rc = 0;

    if (am_store_check_envelopes && (rc = check_rows(s, &c)) != 0) {
        char why[256];

        snprintf(why, sizeof why, "%s", am_err_detail());
        fprintf(stderr, "amanat-relay: store check: %s: its messages "
                "cannot be read: %s\n", path, why);
        rc = am_errf(AM_EIO, "store %s is damaged (%s): %s", path, why,
                     store_check_advice);
        goto done;
    }
    fprintf(stderr, "amanat-relay: store check: %llu messages held, %zu "
            "damaged (quarantined, %llu evidence owed), integrity check ok "
            "(%lld ms)\n", (unsigned long long)c.held, c.n,
            (unsigned long long)c.told, (long long)(now_ms() - t0));
done:
    am_free(c.d);
    return rc;
}
