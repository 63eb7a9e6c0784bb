/* The SQLite store: priority order, idempotent puts, acknowledgements,
 * deletion of bodies, persistence across reopen, group commit, and the
 * WAL checkpointed while it runs. */
#include "fixture-store.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "evcache.h"

static void test_priority_then_fifo(void **state)
{
    am_store_put_t m1 = msg(1, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_put_t m2 = msg(2, AM_PRIORITY_EMERGENCY, "DE-BKA", NULL);
    am_store_put_t m3 = msg(3, AM_PRIORITY_URGENT, "DE-BKA", NULL);
    am_store_put_t m4 = msg(4, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_t *s;
    result_t r;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m1, 10, AM_OK);
    put(s, &m2, 11, AM_OK);
    put(s, &m3, 12, AM_OK);
    put(s, &m4, 13, AM_OK);
    r = next(s, "DE-BKA");
    assert_int_equal(r.n, 4);
    assert_int_equal(r.ids[0][0], 2); /* emergency */
    assert_int_equal(r.ids[1][0], 3); /* urgent */
    assert_int_equal(r.ids[2][0], 1); /* routine, first in */
    assert_int_equal(r.ids[3][0], 4);
    assert_int_equal(next(s, "PH-NBI").n, 0);
    /* an envelope past its expiry is not delivered */
    m1 = msg(5, AM_PRIORITY_EMERGENCY, "PH-NBI", NULL);
    m1.expires_at = 999;
    put(s, &m1, 14, AM_OK);
    assert_int_equal(next(s, "PH-NBI").n, 0);
    am_store_close(s);
}

/* Paging on from an item's place: the rest of its priority, then the
 * lower ones, never one already listed; a later emergency sorts before
 * the place, so only a fetch from the start finds it. */
static void test_paging(void **state)
{
    static const int prio[] = {AM_PRIORITY_ROUTINE, AM_PRIORITY_URGENT,
                               AM_PRIORITY_ROUTINE, AM_PRIORITY_EMERGENCY,
                               AM_PRIORITY_URGENT, AM_PRIORITY_ROUTINE};
    static const uint8_t order[] = {4, 2, 5, 1, 3, 6};
    am_store_t *s;
    am_store_put_t m;
    result_t r;
    am_store_cursor_t at = {0, 0};

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    for (uint8_t i = 0; i < 6; i++) {
        m = msg((uint8_t)(i + 1), prio[i], "DE-BKA", NULL);
        put(s, &m, 10 + i, AM_OK);
    }
    for (size_t k = 0; k < 6; k++) {
        r = next_after(s, "DE-BKA", 1, k == 0 ? NULL : &at);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.ids[0][0], order[k]);
        at = r.last;
    }
    assert_int_equal(next_after(s, "DE-BKA", 4, &at).n, 0);
    m = msg(7, AM_PRIORITY_EMERGENCY, "DE-BKA", NULL);
    put(s, &m, 20, AM_OK);
    assert_int_equal(next_after(s, "DE-BKA", 4, &at).n, 0);
    r = next_after(s, "DE-BKA", 2, NULL);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ids[0][0], 4);
    assert_int_equal(r.ids[1][0], 7);
    /* two pages cover the five left, in order */
    r = next_after(s, "DE-BKA", 3, &r.last);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ids[0][0], 2);
    assert_int_equal(r.ids[2][0], 1);
    r = next_after(s, "DE-BKA", 3, &r.last);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ids[0][0], 3);
    assert_int_equal(r.ids[1][0], 6);
    am_store_close(s);
}

static void test_idempotent_and_duplicate(void **state)
{
    am_store_put_t m = msg(7, AM_PRIORITY_URGENT, "DE-BKA", NULL);
    am_store_t *s;
    result_t r = {0};

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 50, AM_OK);
    /* the same envelope again: the same answer, the first time */
    assert_int_equal(am_store_put(s, &m, 60, put_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, AM_OK);
    assert_int_equal(r.accepted_at, 50);
    assert_int_equal(next(s, "DE-BKA").n, 1);
    /* the same id with other content */
    m.envelope_hash[0] ^= 1;
    put(s, &m, 70, AM_EDUP);
    assert_int_equal(next(s, "DE-BKA").n, 1);
    am_store_close(s);
}

/* Runs one statement on the stopped store's file. */
static void exec_on_file(const char *q)
{
    char path[128];
    sqlite3 *db;

    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* What the relay keeps of its accepted evidence's signature comes back
 * with the envelope as it was put; a column cut short does not, nor does
 * one never put. */
static void test_evcache_kept(void **state)
{
    am_store_put_t m1 = msg(1, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_put_t m2 = msg(2, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_put_t m3 = msg(3, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_t *s;
    result_t r;

    (void)state;
    m1.has_evcache = m2.has_evcache = true;
    memset(m1.evcache, 0xa1, AM_STORE_EVCACHE_LEN);
    memset(m2.evcache, 0xa2, AM_STORE_EVCACHE_LEN);
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m1, 10, AM_OK);
    put(s, &m2, 11, AM_OK);
    put(s, &m3, 12, AM_OK);
    r = next(s, "DE-BKA");
    assert_int_equal(r.n, 3);
    assert_true(r.kept[0] && r.kept[1] && !r.kept[2]);
    assert_memory_equal(r.evcache[0], m1.evcache, AM_STORE_EVCACHE_LEN);
    assert_memory_equal(r.evcache[1], m2.evcache, AM_STORE_EVCACHE_LEN);
    am_store_close(s);
    exec_on_file("UPDATE messages SET accepted_sig = "
                 "substr(accepted_sig, 2) WHERE seq = 2");
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    r = next(s, "DE-BKA");
    assert_int_equal(r.n, 3);
    assert_true(r.kept[0] && !r.kept[1] && !r.kept[2]);
    am_store_close(s);
}

/* The kept signature is given back only for the key, message, hash and
 * time it was made for, and only whole. */
static void test_evcache_check(void **state)
{
    uint8_t pk[AM_SIGN_PK_LEN], pk2[AM_SIGN_PK_LEN], id[AM_MSG_ID_LEN],
        hash[AM_HASH_LEN], sig[AM_SIG_LEN], c[AM_STORE_EVCACHE_LEN];

    (void)state;
    memset(pk, 1, sizeof pk);
    memset(pk2, 1, sizeof pk2);
    pk2[31] ^= 0x80;
    memset(id, 2, sizeof id);
    memset(hash, 3, sizeof hash);
    memset(sig, 4, sizeof sig);
    am_evcache_make(pk, id, hash, 77, sig, c);
    assert_ptr_equal(am_evcache_sig(pk, id, hash, 77, c), c);
    assert_memory_equal(c, sig, AM_SIG_LEN);
    assert_null(am_evcache_sig(pk2, id, hash, 77, c)); /* another key */
    assert_null(am_evcache_sig(pk, id, hash, 78, c));  /* another time */
    hash[0] ^= 1;
    assert_null(am_evcache_sig(pk, id, hash, 77, c));
    hash[0] ^= 1;
    for (size_t bit = 0; bit < 8 * AM_STORE_EVCACHE_LEN; bit += 37) {
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8)); /* any bit flipped */
        assert_null(am_evcache_sig(pk, id, hash, 77, c));
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_non_null(am_evcache_sig(pk, id, hash, 77, c));
}

/* 1 when message id's envelope bytes are still stored, 0 when deleted. */
static int body_stored(uint8_t id)
{
    char path[128];
    uint8_t mid[AM_MSG_ID_LEN];
    sqlite3 *db;
    sqlite3_stmt *st;
    int stored;

    memset(mid, id, sizeof mid);
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT envelope IS NOT NULL "
                                        "FROM messages WHERE message_id = ?",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_blob(st, 1, mid, sizeof mid, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    stored = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return stored;
}

/* The text of audit record seq (a static buffer). */
static const char *audit_record(int seq)
{
    static char text[2048];
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;

    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT record FROM audit "
                                        "WHERE seq = ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(st, 1, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(text, sizeof text, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return text;
}

static void test_ack_and_persistence(void **state)
{
    am_store_put_t both = msg(9, AM_PRIORITY_ROUTINE, "DE-BKA", "PH-NBI");
    am_store_t *s;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &both, 10, AM_OK);
    assert_int_equal(ack(s, "DE-BKA", 9), AM_OK);
    assert_int_equal(ack(s, "DE-BKA", 9), AM_OK); /* again: idempotent */
    assert_int_equal(ack(s, "DE-BKA", 8), AM_EKEY);
    assert_int_equal(next(s, "DE-BKA").n, 0);
    am_store_close(s);
    /* what was acknowledged durably survives a reopen */
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    assert_int_equal(next(s, "DE-BKA").n, 0);
    assert_int_equal(next(s, "PH-NBI").n, 1);
    assert_int_equal(body_stored(9), 1);
    assert_int_equal(ack(s, "PH-NBI", 9), AM_OK);
    assert_int_equal(next(s, "PH-NBI").n, 0);
    /* every recipient acknowledged: once folded, the sealed bytes are
     * gone */
    settle(s);
    assert_int_equal(body_stored(9), 0);
    am_store_close(s);
}

static void test_group_commit(void **state)
{
    enum { N = 500 };
    static result_t r[N];
    am_store_stats_t before, after;
    am_store_t *s;
    int done = 0;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    am_store_stats(s, &before);
    am_store_hold(s, 1);
    for (int i = 0; i < N; i++) {
        am_store_put_t m = msg((uint8_t)i, AM_PRIORITY_ROUTINE, "DE-BKA",
                               NULL);
        m.message_id[15] = (uint8_t)(i >> 8);
        m.envelope_hash[31] = (uint8_t)(i >> 8);
        memset(&r[i], 0, sizeof r[i]);
        assert_int_equal(am_store_put(s, &m, 1, put_cb, &r[i]), AM_OK);
    }
    am_store_drain(s);
    assert_int_equal(r[0].calls, 0); /* nothing is answered before commit */
    am_store_hold(s, 0);
    for (int i = 0; i < 10000 && done < N; i++) {
        am_store_drain(s);
        done = 0;
        for (int j = 0; j < N; j++)
            done += r[j].calls;
        if (done < N)
            pause_1ms();
    }
    assert_int_equal(done, N);
    am_store_stats(s, &after);
    /* all 500 in one transaction: one fsync */
    assert_int_equal(after.commits - before.commits, 1);
    assert_int_equal(after.requests - before.requests, N);
    am_store_close(s);
}

static long file_size(const char *name)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* SQLite checkpoints the WAL into the database after a commit once it
 * holds 1000 pages, but only if no statement of the connection is left
 * on a row (its read transaction outlives the COMMIT): then the WAL
 * grows without end while the relay runs.  1000 commits of a 3000-byte
 * envelope each write over 20 MB of WAL without checkpoints. */
static void test_wal_checkpointed(void **state)
{
    static uint8_t body[3000];
    am_store_put_t m = msg(0, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_t *s;
    long wal, db;

    (void)state;
    m.envelope = body;
    m.envelope_len = sizeof body;
    m.quota_messages = 100000;
    m.quota_bytes = 100 << 20;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    for (int i = 0; i < 1000; i++) {
        m.message_id[0] = m.envelope_hash[0] = (uint8_t)i;
        m.message_id[1] = m.envelope_hash[1] = (uint8_t)(i >> 8);
        put(s, &m, 10, AM_OK); /* one commit each */
    }
    wal = file_size("store.sqlite-wal");
    db = file_size("store.sqlite");
    printf("# after 1000 commits: WAL %ld bytes, database %ld bytes\n", wal,
           db);
    assert_true(wal > 0 && wal < 8 << 20);
    assert_true(db > 1 << 20); /* the pages went back to the database */
    am_store_close(s);
}

static void expired_cb(void *ctx, int rc,
                       const char (*senders)[AM_AGENCY_ID_MAX + 1],
                       size_t n_listed, size_t n)
{
    result_t *r = ctx;
    r->calls++;
    r->rc = rc;
    r->n = n;
    assert_int_equal(n_listed, n);
    if (n > 0)
        assert_string_equal(senders[0], "PK-NCCIA");
}

static void folded_cb(void *ctx, int rc,
                      const char (*senders)[AM_AGENCY_ID_MAX + 1],
                      size_t n_listed, size_t n)
{
    result_t *r = ctx;

    r->calls++;
    r->rc = rc;
    for (size_t i = 0; i < n_listed && i < n; i++)
        if (strcmp(senders[i], "PK-NCCIA") == 0)
            r->n++;
}

/* Acknowledgements logged and not folded when the relay stopped (a crash
 * may leave them so) are folded by the next open, before anything else,
 * with the times they came at, each owing delivered evidence. */
static void test_fold_at_open(void **state)
{
    am_store_put_t m;
    am_store_t *s;
    am_store_stats_t st;
    notices_t n;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    for (uint8_t id = 51; id <= 53; id++) {
        m = msg(id, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
        put(s, &m, 10, AM_OK);
    }
    am_store_close(s);
    exec_on_file("INSERT INTO acked (recipient, seq, time) VALUES "
                 "('DE-BKA', 2, 78), ('DE-BKA', 1, 77)");
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    am_store_stats(s, &st);
    assert_int_equal(st.folded, 2);
    assert_int_equal(st.unfolded, 0);
    assert_int_equal(next(s, "DE-BKA").n, 1);
    assert_int_equal(next(s, "DE-BKA").ids[0][0], 53);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 2);
    /* oldest logged first, at the times logged */
    assert_int_equal(n.got[0].kind, 2);
    assert_int_equal(n.got[0].message_id[0], 52);
    assert_int_equal(n.got[0].time, 78);
    assert_int_equal(n.got[1].message_id[0], 51);
    assert_int_equal(n.got[1].time, 77);
    am_store_close(s);
    assert_int_equal(body_stored(51), 0);
    assert_int_equal(body_stored(52), 0);
    assert_int_equal(body_stored(53), 1);
}

/* Logged and not yet folded, a delivery is no longer pending: never
 * listed again, never expired; once folded, its sender is owed delivered
 * evidence at the acknowledgement's time, and the audit record says it
 * was delivered. */
static void test_logged_not_pending(void **state)
{
    am_store_put_t m = msg(61, AM_PRIORITY_URGENT, "DE-BKA", "PH-NBI");
    am_store_t *s;
    am_store_stats_t st;
    result_t r = {0};
    notices_t n;

    (void)state;
    m.expires_at = 1500;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    am_store_hold_folding(s, 1);
    put(s, &m, 10, AM_OK);
    assert_int_equal(ack(s, "DE-BKA", 61), AM_OK); /* at 100 */
    assert_int_equal(ack(s, "DE-BKA", 61), AM_OK); /* again: same answer */
    am_store_stats(s, &st);
    assert_int_equal(st.unfolded, 1);
    assert_int_equal(next(s, "DE-BKA").n, 0);
    assert_int_equal(next(s, "PH-NBI").n, 1);
    assert_int_equal(owed(s, "PK-NCCIA").n, 0); /* not folded yet */
    assert_int_equal(am_store_expire(s, 1600, expired_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 1); /* PH-NBI's expiry, not DE-BKA's */
    assert_int_equal(n.got[0].kind, 3);
    assert_string_equal(n.got[0].recipient, "PH-NBI");
    assert_int_equal(body_stored(61), 1); /* DE-BKA's still logged */
    am_store_hold_folding(s, 0);
    settle(s);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 2);
    assert_int_equal(n.got[1].kind, 2);
    assert_string_equal(n.got[1].recipient, "DE-BKA");
    assert_int_equal(n.got[1].time, 100);
    am_store_close(s);
    assert_int_equal(body_stored(61), 0);
    assert_non_null(strstr(audit_record(1), "DE-BKA:delivered"));
    assert_non_null(strstr(audit_record(1), "PH-NBI:expired"));
}

/* A store never idle for long (a request every 2 ms) still folds, within
 * a few hundred ms, and names the sender to the loop. */
static void test_fold_under_steady_traffic(void **state)
{
    am_store_put_t m = msg(71, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_stats_t st = {0};
    am_store_t *s;
    result_t f = {0};
    int i;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    am_store_on_folded(s, folded_cb, &f);
    put(s, &m, 10, AM_OK);
    assert_int_equal(ack(s, "DE-BKA", 71), AM_OK);
    for (i = 0; i < 1500; i++) { /* at most 3 s of requests */
        (void)next(s, "PH-NBI");
        pause_1ms();
        am_store_stats(s, &st);
        if (st.unfolded == 0)
            break;
        pause_1ms();
    }
    printf("# folded after %d requests 2 ms apart\n", i + 1);
    assert_int_equal(st.unfolded, 0);
    assert_int_equal(st.folded, 1);
    am_store_drain(s);
    assert_true(f.calls >= 1 && f.n == 1);
    am_store_close(s);
}

static void test_expiry(void **state)
{
    am_store_put_t m = msg(31, AM_PRIORITY_URGENT, "DE-BKA", "PH-NBI");
    am_store_t *s;
    result_t r = {0};

    (void)state;
    m.expires_at = 1500;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 10, AM_OK);
    assert_int_equal(ack(s, "DE-BKA", 31), AM_OK);
    assert_int_equal(am_store_expire(s, 1400, expired_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.n, 0); /* not yet */
    memset(&r, 0, sizeof r);
    assert_int_equal(am_store_expire(s, 1600, expired_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, AM_OK);
    assert_int_equal(r.n, 1); /* PK-NCCIA is owed PH-NBI's expiry */
    settle(s); /* DE-BKA's acknowledgement: the message is done */
    assert_int_equal(body_stored(31), 0);
    am_store_close(s);
    /* the envelope's end is in the audit log, with each outcome */
    assert_non_null(strstr(audit_record(1), "DE-BKA:delivered"));
    assert_non_null(strstr(audit_record(1), "PH-NBI:expired"));
}

/* A sender's stored, undelivered envelopes are bounded in count and bytes;
 * what is delivered or expired stops counting. */
static void test_quota(void **state)
{
    am_store_put_t m = msg(41, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
    am_store_t *s;

    (void)state;
    m.quota_messages = 2;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 10, AM_OK);
    m.message_id[0] = m.envelope_hash[0] = 42;
    put(s, &m, 10, AM_OK);
    put(s, &m, 10, AM_OK); /* the same envelope again: idempotent */
    m.message_id[0] = m.envelope_hash[0] = 43;
    put(s, &m, 10, AM_ELIMIT);
    assert_int_equal(ack(s, "DE-BKA", 41), AM_OK);
    settle(s); /* the quota is freed when the acknowledgement is folded */
    put(s, &m, 10, AM_OK); /* room again */
    /* bytes: 2 envelopes stored; room for one more byte-wise? no */
    m.quota_messages = 100;
    m.quota_bytes = 2 * m.envelope_len + m.envelope_len - 1;
    m.message_id[0] = m.envelope_hash[0] = 44;
    put(s, &m, 10, AM_ELIMIT);
    m.quota_bytes = 3 * m.envelope_len;
    put(s, &m, 10, AM_OK);
    am_store_close(s);
    /* the counts survive a reopen (they are in the store) */
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    m.message_id[0] = m.envelope_hash[0] = 45;
    put(s, &m, 10, AM_ELIMIT);
    am_store_close(s);
}

static void test_audit_chain(void **state)
{
    am_store_put_t a = msg(21, AM_PRIORITY_ROUTINE, "DE-BKA", "PH-NBI");
    am_store_put_t b = msg(22, AM_PRIORITY_URGENT, "DE-BKA", NULL);
    uint64_t records, bad;
    char path[128];
    sqlite3 *db;
    am_store_t *s;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &a, 10, AM_OK);
    put(s, &b, 11, AM_OK);
    assert_int_equal(ack(s, "DE-BKA", 21), AM_OK); /* PH-NBI still to ack */
    assert_int_equal(ack(s, "DE-BKA", 22), AM_OK); /* record 1 */
    assert_int_equal(ack(s, "PH-NBI", 21), AM_OK); /* record 2 */
    settle(s);
    am_store_close(s);
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(am_audit_verify(db, &records, &bad), AM_OK);
    assert_int_equal(records, 2);
    /* the first record names message 22, sent to DE-BKA alone */
    {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT record FROM audit "
                                            "WHERE seq = 1", -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_non_null(strstr((const char *)sqlite3_column_text(st, 0),
                               "|PK-NCCIA|DE-BKA:delivered|"));
        sqlite3_finalize(st);
    }
    /* someone edits the first record: the chain breaks there */
    assert_int_equal(sqlite3_exec(db, "UPDATE audit SET record = "
                                  "replace(record, 'DE-BKA', 'GB-NCA') "
                                  "WHERE seq = 1", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(am_audit_verify(db, &records, &bad), AM_ECRYPTO);
    assert_int_equal(bad, 1);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_priority_then_fifo, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_paging, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_evcache_kept, make_dir,
                                        remove_dir),
        cmocka_unit_test(test_evcache_check),
        cmocka_unit_test_setup_teardown(test_fold_at_open, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_logged_not_pending, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_fold_under_steady_traffic,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_idempotent_and_duplicate,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_ack_and_persistence, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_group_commit, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_audit_chain, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_expiry, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_quota, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_wal_checkpointed, make_dir,
                                        remove_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
