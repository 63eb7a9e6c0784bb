/* The write-ahead log a crash leaves (relay/store_wal*.c, docs/PROTOCOL.md
 * section 14): a child process writes real envelopes through the store,
 * one transaction each, and exits without closing it, so that the store's
 * -wal holds every committed transaction; then one kind of damage to that
 * log per test, and the store opened again.  SQLite's recovery alone
 * would drop every transaction from the damaged frame on; the store must
 * find the damage, salvage (the damaged files kept as found), and bring
 * back every message, or report the one whose own row was damaged
 * (DAMAGED evidence owed to its sender).  Not damage, so no salvage: a
 * crash's log as it is, and damage to frames of an older generation left
 * past the end of the current one. */
#include "fixture-store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "store_internal.h"

#define N_MSGS 40

static uint8_t sign_sk[64], dh_pk[32];
static am_store_put_t msgs[N_MSGS];
static uint8_t *envs[N_MSGS];

/* The log as the test reads it: page size, the header's salts, whole
 * frames, how many lead with those salts (the current generation), its
 * last commit frame. */
typedef struct {
    uint32_t ps, salt[2];
    long frames, gen, last_commit;
} layout_t;

static void seal_all(void)
{
    am_env_params_t p = {"PK-NCCIA", 7, sign_sk, 1000, 2000000000,
                         AM_PRIORITY_URGENT, NULL, NULL};
    am_env_recipient_t r = {"DE-BKA", dh_pk, 0};
    char text[64];
    am_env_t *e;
    size_t len;

    for (int i = 0; i < N_MSGS; i++) {
        am_store_put_t m = msg(0, AM_PRIORITY_URGENT, "DE-BKA", NULL);

        snprintf(text, sizeof text, "message %d of the log test", i);
        assert_int_equal(am_env_seal(&p, &r, 1, (const uint8_t *)text,
                                     strlen(text), &envs[i], &len), AM_OK);
        assert_int_equal(am_env_parse(envs[i], len, AM_ENV_MAX, &e), AM_OK);
        memcpy(m.message_id, am_env_claimed_id(e), AM_MSG_ID_LEN);
        assert_int_equal(am_hash256(envs[i], len, m.envelope_hash), AM_OK);
        am_env_free(e);
        m.envelope = envs[i];
        m.envelope_len = len;
        msgs[i] = m;
    }
}

static int setup(void **state)
{
    uint8_t pk[32];

    if (sodium_init() < 0 || make_dir(state) != 0)
        return -1;
    am_store_check_envelopes = true; /* these envelopes are real */
    crypto_sign_keypair(pk, sign_sk);
    randombytes_buf(dh_pk, sizeof dh_pk);
    seal_all();
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < N_MSGS; i++) {
        am_free(envs[i]);
        envs[i] = NULL;
    }
    return remove_tree(state);
}

static int route(void *ctx, const char *agency,
                 char via[static AM_AGENCY_ID_MAX + 1])
{
    (void)ctx;
    (void)via;
    return strcmp(agency, "DE-BKA") == 0 || strcmp(agency, "PK-NCCIA") == 0
               ? AM_STORE_HERE
               : AM_STORE_NOWHERE;
}

static void path_of(char *out, size_t cap, const char *name)
{
    assert_true(snprintf(out, cap, "%s/%s", dir, name) < (int)cap);
}

/* In the child: no cmocka (its failure would unwind into the parent's
 * test), an exit code instead. */
static int child_put(am_store_t *s, const am_store_put_t *m)
{
    result_t r = {0};

    if (am_store_put(s, m, 1000, put_cb, &r) != AM_OK)
        return -1;
    for (int i = 0; i < 10000 && r.calls == 0; i++) {
        am_store_drain(s);
        if (r.calls == 0)
            pause_1ms();
    }
    return r.calls == 1 ? r.rc : -1;
}

/* Everything committed so far copied back into the file, and the log
 * started again by the store's next transaction (a new generation, new
 * salts): the older frames stay past its end. */
static int restart_log(void)
{
    char db[128];
    sqlite3 *h = NULL;
    int rc;

    path_of(db, sizeof db, "store.sqlite");
    rc = sqlite3_open(db, &h) != SQLITE_OK ||
         sqlite3_busy_timeout(h, 5000) != SQLITE_OK ||
         sqlite3_exec(h, "PRAGMA wal_checkpoint(RESTART)", NULL, NULL,
                      NULL) != SQLITE_OK;
    sqlite3_close(h);
    return rc ? -1 : 0;
}

/* The messages written by a process that then dies without closing the
 * store (restart_at >= 0: the log restarted before that message). */
static void crash_fill(int restart_at)
{
    char wal[128];
    struct stat st;
    int status = -1;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        am_store_t *s = NULL;

        if (am_store_open_routed(dir, NULL, NULL, route, NULL, &s) != AM_OK)
            _exit(1);
        for (int i = 0; i < N_MSGS; i++)
            if ((i == restart_at && restart_log() != 0) ||
                child_put(s, &msgs[i]) != AM_OK)
                _exit(2);
        _exit(0); /* a crash: no checkpoint, no close */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    path_of(wal, sizeof wal, "store.sqlite-wal");
    assert_int_equal(stat(wal, &st), 0);
    assert_true(st.st_size > 0);
}

static long file_read(const char *name, uint8_t *buf, size_t cap)
{
    char path[128];
    long n;
    int fd;

    path_of(path, sizeof path, name);
    assert_true((fd = open(path, O_RDONLY)) >= 0);
    n = (long)read(fd, buf, cap);
    assert_int_equal(close(fd), 0);
    assert_true(n >= 0 && (size_t)n < cap);
    return n;
}

static void file_write(const char *name, const uint8_t *buf, long n)
{
    char path[128];
    int fd;

    path_of(path, sizeof path, name);
    assert_true((fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600)) >= 0);
    assert_int_equal(write(fd, buf, (size_t)n), n);
    assert_int_equal(close(fd), 0);
}

static uint8_t wal_buf[1 << 22];

static layout_t layout(void)
{
    long n = file_read("store.sqlite-wal", wal_buf, sizeof wal_buf);
    layout_t l = {0};
    const uint8_t *f;

    assert_true(n > 32);
    l.ps = am_load_be32(wal_buf + 8);
    l.salt[0] = am_load_be32(wal_buf + 16);
    l.salt[1] = am_load_be32(wal_buf + 20);
    l.frames = (n - 32) / (long)(24 + l.ps);
    for (l.gen = 0; l.gen < l.frames; l.gen++) {
        f = wal_buf + 32 + l.gen * (long)(24 + l.ps);
        if (am_load_be32(f + 8) != l.salt[0] ||
            am_load_be32(f + 12) != l.salt[1])
            break;
        if (am_load_be32(f + 4) != 0)
            l.last_commit = l.gen + 1;
    }
    return l;
}

static long frame_at(const layout_t *l, long k)
{
    return 32 + (k - 1) * (long)(24 + l->ps);
}

static void flip(const char *name, long off, int bit)
{
    char path[128];
    uint8_t b;
    int fd;

    path_of(path, sizeof path, name);
    assert_true((fd = open(path, O_RDWR)) >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= (uint8_t)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    assert_int_equal(close(fd), 0);
}


/* How many of the messages the opened store holds for DE-BKA (each at
 * most once, no other); got[i] for each. */
static int recovered(am_store_t *s, bool got[N_MSGS])
{
    am_store_cursor_t at = {0};
    result_t r;
    int n = 0;

    memset(got, 0, N_MSGS * sizeof *got);
    do {
        r = next_after(s, "DE-BKA", 16, &at);
        for (size_t k = 0; k < r.n; k++) {
            int i = 0;

            while (i < N_MSGS && memcmp(msgs[i].message_id, r.ids[k],
                                        AM_MSG_ID_LEN) != 0)
                i++;
            assert_true(i < N_MSGS);
            assert_false(got[i]);
            got[i] = true;
            n++;
        }
        at = r.last;
    } while (r.n > 0);
    return n;
}

/* The damaged-* folders a salvage kept (the one named into out). */
static int kept(char *out, size_t cap)
{
    struct dirent *e;
    DIR *d = opendir(dir);
    int n = 0;

    assert_non_null(d);
    out[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "damaged-", 8) == 0 && n++ == 0)
            assert_true(snprintf(out, cap, "%s", e->d_name) < (int)cap);
    closedir(d);
    return n;
}

/* The store opened on the damaged log: salvaged, the log kept as the
 * test left it, and how many messages came back (got). */
static int open_salvaged(bool got[N_MSGS], am_store_t **out)
{
    char k[128], cmd[400];
    am_store_t *s = NULL;
    int n;

    assert_int_equal(
        t_sh("cp '%s/store.sqlite-wal' '%s/damaged.wal'", dir, dir), 0);
    assert_int_equal(am_store_open_routed(dir, NULL, NULL, route, NULL, &s),
                     AM_OK);
    n = recovered(s, got);
    assert_int_equal(kept(k, sizeof k), 1);
    assert_true(snprintf(cmd, sizeof cmd, "cmp -s '%s/damaged.wal' "
                         "'%s/%s/store.sqlite-wal'", dir, dir, k) <
                (int)sizeof cmd);
    assert_int_equal(system(cmd), 0);
    *out = s;
    return n;
}

/* A repair of the damaged log restores every byte the crash left (the
 * header and frames up to the last commit): one bit flipped is found
 * and corrected, not just stepped over. */
static void repair_exact(const layout_t *l)
{
    char path[128];
    uint8_t *before = wal_buf + sizeof wal_buf / 2;
    store_wal_t r;
    long end = frame_at(l, l->last_commit + 1);
    int fd;

    path_of(path, sizeof path, "repaired.wal");
    assert_true((fd = open(path, O_RDWR)) >= 0);
    assert_int_equal(store_wal_repair(fd, &r), AM_OK);
    assert_int_equal(close(fd), 0);
    assert_true(r.last_commit > r.sqlite_end);
    assert_int_equal(r.last_commit, l->last_commit);
    file_read("pristine.wal", before, sizeof wal_buf / 2);
    file_read("repaired.wal", wal_buf, sizeof wal_buf / 2);
    assert_memory_equal(wal_buf, before, (size_t)end);
}

/* One bit of the log at off flipped: salvaged, every message back, and
 * the damaged bit itself put right. */
static void one_bit_case(long off, int bit)
{
    bool got[N_MSGS];
    am_store_t *s;
    layout_t l;

    crash_fill(-1);
    l = layout();
    assert_int_equal(
        t_sh("cp '%s/store.sqlite-wal' '%s/pristine.wal'", dir, dir), 0);
    flip("store.sqlite-wal", off < 0 ? frame_at(&l, l.gen / 3) - off : off,
         bit);
    assert_int_equal(
        t_sh("cp '%s/store.sqlite-wal' '%s/repaired.wal'", dir, dir), 0);
    repair_exact(&l);
    assert_int_equal(open_salvaged(got, &s), N_MSGS);
    assert_int_equal(am_store_close(s), AM_OK);
}

/* A crash's log as it is: no salvage, every message. */
static void test_crash_clean(void **state)
{
    char k[128];
    bool got[N_MSGS];
    am_store_t *s = NULL;

    (void)state;
    crash_fill(-1);
    assert_true(layout().last_commit > 3 * N_MSGS);
    assert_int_equal(am_store_open_routed(dir, NULL, NULL, route, NULL, &s),
                     AM_OK);
    assert_int_equal(recovered(s, got), N_MSGS);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(kept(k, sizeof k), 0);
}

/* A bit of a page a third of the way in (negative offsets: into the
 * frame at a third of the generation). */
static void test_page_bit(void **state)
{
    (void)state;
    one_bit_case(-(24 + 100), 0);
}

static void test_salt_bit(void **state)
{
    (void)state;
    one_bit_case(-(8 + 1), 3);
}

static void test_checksum_bit(void **state)
{
    (void)state;
    one_bit_case(-(16 + 2), 5);
}

/* The page size in the log's header: SQLite would read no frame. */
static void test_header_bit(void **state)
{
    (void)state;
    one_bit_case(10, 4);
}

/* The last copy of message i's envelope in the log: its offset. */
static long last_copy(int i, const layout_t *l)
{
    long n = frame_at(l, l->gen + 1), at = -1;

    for (long p = 32; p + (long)msgs[i].envelope_len <= n; p++)
        if (memcmp(wal_buf + p, msgs[i].envelope, msgs[i].envelope_len) == 0)
            at = p;
    return at;
}

/* Eight bytes of one envelope's last copy destroyed (no single bit
 * explains them): the frame is applied as found, every later transaction
 * comes back, and that message is quarantined, its sender owed DAMAGED
 * evidence. */
static void test_page_as_found(void **state)
{
    const int victim = 2;
    bool got[N_MSGS];
    am_store_t *s;
    notices_t n;
    layout_t l;
    long at;

    (void)state;
    crash_fill(-1);
    l = layout();
    at = last_copy(victim, &l);
    assert_true(at > 0);
    assert_true((at - 32) / (long)(24 + l.ps) + 1 < l.last_commit);
    for (int b = 0; b < 8; b++)
        flip("store.sqlite-wal", at + 40 + b, b);
    assert_int_equal(open_salvaged(got, &s), N_MSGS - 1);
    assert_false(got[victim]);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 1);
    assert_int_equal(n.got[0].kind, 4);
    assert_memory_equal(n.got[0].message_id, msgs[victim].message_id,
                        AM_MSG_ID_LEN);
    assert_int_equal(am_store_close(s), AM_OK);
}

/* A log restarted after 30 messages: the older generation's frames past
 * the end of the current one are not damage, a flipped bit there
 * changes nothing; one in the current generation is damage. */
static void test_restarted(void **state)
{
    char k[128];
    bool got[N_MSGS];
    am_store_t *s = NULL;
    layout_t l;

    (void)state;
    crash_fill(30);
    l = layout();
    assert_true(l.frames > l.gen + 2);
    assert_int_equal(t_sh("cp -a '%s' '%s.copy'", dir, dir), 0);
    flip("store.sqlite-wal", frame_at(&l, l.gen + 2) + 24 + 300, 2);
    assert_int_equal(am_store_open_routed(dir, NULL, NULL, route, NULL, &s),
                     AM_OK);
    assert_int_equal(recovered(s, got), N_MSGS);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(kept(k, sizeof k), 0);
    assert_int_equal(
        t_sh("rm -rf '%s' && mv '%s.copy' '%s'", dir, dir, dir), 0);
    flip("store.sqlite-wal", frame_at(&l, l.gen / 2) + 24 + 64, 1);
    assert_int_equal(open_salvaged(got, &s), N_MSGS);
    assert_int_equal(am_store_close(s), AM_OK);
}

/* SQLite's checksum, from the file format's description, for the test's
 * own rewrite of the log in the other byte order. */
static void wsum(bool be, const uint8_t *p, size_t n, uint32_t s[2])
{
    for (size_t i = 0; i < n; i += 8) {
        uint32_t a = be ? am_load_be32(p + i)
                        : (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 |
                              (uint32_t)p[i + 2] << 16 |
                              (uint32_t)p[i + 3] << 24;
        uint32_t b = be ? am_load_be32(p + i + 4)
                        : (uint32_t)p[i + 4] | (uint32_t)p[i + 5] << 8 |
                              (uint32_t)p[i + 6] << 16 |
                              (uint32_t)p[i + 7] << 24;

        s[0] += a + s[1];
        s[1] += b + s[0];
    }
}

/* The current generation summed big-endian, as a big-endian machine
 * writes it (magic 0x377f0683). */
static void to_big_endian(const layout_t *l)
{
    long n = file_read("store.sqlite-wal", wal_buf, sizeof wal_buf);
    uint32_t s[2] = {0, 0};

    am_store_be32(wal_buf, 0x377f0683u);
    wsum(true, wal_buf, 24, s);
    am_store_be32(wal_buf + 24, s[0]);
    am_store_be32(wal_buf + 28, s[1]);
    for (long k = 1; k <= l->gen; k++) {
        uint8_t *f = wal_buf + frame_at(l, k);

        wsum(true, f, 8, s);
        wsum(true, f + 24, l->ps, s);
        am_store_be32(f + 16, s[0]);
        am_store_be32(f + 20, s[1]);
    }
    file_write("store.sqlite-wal", wal_buf, n);
}

/* A log summed big-endian: SQLite reads it, the scan finds it whole;
 * damaged, it is found and repaired as the other. */
static void test_big_endian(void **state)
{
    char wal[128];
    bool got[N_MSGS];
    am_store_t *s;
    store_wal_t r;
    layout_t l;
    int fd;

    (void)state;
    crash_fill(-1);
    l = layout();
    to_big_endian(&l);
    path_of(wal, sizeof wal, "store.sqlite-wal");
    assert_true((fd = open(wal, O_RDONLY)) >= 0);
    assert_int_equal(store_wal_scan(fd, &r), AM_OK);
    assert_int_equal(close(fd), 0);
    assert_false(r.header_damaged);
    assert_int_equal(r.sqlite_end, l.last_commit);
    assert_int_equal(r.last_commit, l.last_commit);
    assert_int_equal(
        t_sh("cp '%s/store.sqlite-wal' '%s/pristine.wal'", dir, dir), 0);
    /* the low byte of a big-endian word: a bit the checksum locates */
    flip("store.sqlite-wal", frame_at(&l, l.gen / 2) + 24 + 1003, 6);
    assert_int_equal(
        t_sh("cp '%s/store.sqlite-wal' '%s/repaired.wal'", dir, dir), 0);
    repair_exact(&l);
    assert_int_equal(open_salvaged(got, &s), N_MSGS);
    assert_int_equal(am_store_close(s), AM_OK);
}

/* How many rows of table t below 1000 the database at db holds (SQLite's
 * own recovery of its log), or -1 when it cannot be read. */
static int first_rows(const char *db)
{
    sqlite3 *h;
    sqlite3_stmt *st = NULL;
    int n = -1;

    if (sqlite3_open(db, &h) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT count(*) FROM t WHERE x < 1000", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* A power cut before a transaction's frames were synced can leave one
 * torn (here the second half of the leaf it rewrites, where the cells
 * are) and the frames after it whole.  That transaction was never
 * acknowledged: not damage, left to SQLite, which drops it; taking the
 * torn page as found would lay it over the committed one (the 30 rows of
 * the first transaction gone).  From a review's reproduction. */
static void test_torn_last(void **state)
{
    char db[200], copy[200];
    uint8_t fh[24], zero[2048] = {0};
    sqlite3 *h;
    long frames, torn = 0, first = 0;
    int fd;

    (void)state;
    path_of(db, sizeof db, "a.sqlite");
    path_of(copy, sizeof copy, "b.sqlite");
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA journal_mode = WAL; PRAGMA "
        "wal_autocheckpoint = 0; CREATE TABLE t (x INTEGER, pad BLOB); "
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
        "WHERE i < 30) INSERT INTO t SELECT i, randomblob(60) FROM c; "
        "BEGIN; UPDATE t SET pad = randomblob(60) WHERE x = 30; INSERT INTO "
        "t VALUES (5000, randomblob(20000)); COMMIT", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(t_sh("cd '%s' && cp a.sqlite b.sqlite && cp "
                          "a.sqlite-wal b.sqlite-wal", dir), 0);
    sqlite3_close(h);
    path_of(db, sizeof db, "b.sqlite-wal");
    assert_true((fd = open(db, O_RDWR)) >= 0);
    frames = (lseek(fd, 0, SEEK_END) - 32) / (24 + 4096);
    for (long k = 1; k <= frames && torn == 0; k++) {
        assert_int_equal(pread(fd, fh, 24, 32 + (k - 1) * 4120), 24);
        if (first == 0 && am_load_be32(fh + 4) != 0)
            first = k; /* the first transaction's commit */
        else if (first != 0 && am_load_be32(fh) == 2 &&
                 am_load_be32(fh + 4) == 0)
            torn = k;
    }
    assert_true(torn > first && first > 0);
    assert_int_equal(pwrite(fd, zero, sizeof zero,
                            32 + (torn - 1) * 4120 + 24 + 2048),
                     (ssize_t)sizeof zero);
    assert_int_equal(close(fd), 0);
    assert_int_equal(store_wal_check(copy), 0);
    assert_int_equal(store_wal_repair_copy(copy), 0);
    assert_int_equal(first_rows(copy), 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salt_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_as_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_endian, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
