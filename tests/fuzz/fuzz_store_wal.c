/* The write-ahead log a crash left, read by the store's start check
 * (relay/store_wal*.c): the scan, and the repair a salvage makes of its
 * working copy.  The input is the log, in one of two layouts:
 *   'W', then (offset u24, xor u8)*: a log made here (a small database
 *       in WAL mode, 512-byte pages, twelve transactions, restarted once
 *       so that an older generation's frames lie past the current one's
 *       end, one transaction left uncommitted), each byte at offset
 *       (modulo its size) xored;
 *   anything else: the log as it is, beside the same database.
 * Invariants: the scan returns (no crash, no read past the frames, no
 * allocation sized by the file); what it says SQLite's recovery keeps is
 * what SQLite keeps (the wal-index header's mxFrame after SQLite opened
 * the database read-only), before and after a repair; after a repair
 * SQLite keeps at least every frame up to the last commit the first scan
 * found; a second repair changes none of the bytes the first one owns
 * (the header and the generation's frames).  Not that it keeps exactly
 * that much: frames past the generation are judged against the chain
 * before them, which a repair rewrites, and libFuzzer, steered by the
 * comparisons, shapes such a frame to fit the new chain (damage that
 * anticipates its repair is no damage a disk makes). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alloc.h"
#include "err.h"
#include "fuzz_common.h"
#include "store_internal.h"

static char dir[64], db_path[96], wal_path[96], shm_path[96];
static uint8_t *tmpl_db, *tmpl_wal;
static size_t tmpl_db_len, tmpl_wal_len;

static uint8_t *read_all(const char *path, size_t *len)
{
    struct stat st;
    uint8_t *b;
    int fd = open(path, O_RDONLY);

    AM_FZ_CHECK(fd >= 0 && fstat(fd, &st) == 0);
    AM_FZ_CHECK((b = am_malloc((size_t)st.st_size + 1)) != NULL);
    AM_FZ_CHECK(read(fd, b, (size_t)st.st_size) == st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static void write_all(const char *path, const uint8_t *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    AM_FZ_CHECK(fd >= 0 && (len == 0 || write(fd, b, len) == (ssize_t)len));
    AM_FZ_CHECK(close(fd) == 0);
}

static void exec(sqlite3 *h, const char *sql)
{
    AM_FZ_CHECK(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
}

/* The log and its database, copied while the connection that wrote them
 * is still open (as a crash leaves them); the same bytes every run
 * (SQLite's salts come from its generator, seeded). */
static void make_template(void)
{
    sqlite3 *h = NULL;

    AM_FZ_CHECK(sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, 7, NULL) ==
                SQLITE_OK);
    AM_FZ_CHECK(sqlite3_open(db_path, &h) == SQLITE_OK);
    exec(h, "PRAGMA page_size = 512; PRAGMA journal_mode = WAL; "
            "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = 2; "
            "CREATE TABLE t (x INTEGER PRIMARY KEY, y BLOB)");
    for (int i = 0; i < 12; i++) {
        if (i == 8)
            exec(h, "PRAGMA wal_checkpoint(RESTART)");
        exec(h, "INSERT INTO t (y) VALUES (zeroblob(300))");
    }
    /* spilled pages of a transaction never committed */
    exec(h, "BEGIN; INSERT INTO t (y) VALUES (zeroblob(900)); "
            "INSERT INTO t (y) VALUES (zeroblob(900))");
    tmpl_db = read_all(db_path, &tmpl_db_len);
    tmpl_wal = read_all(wal_path, &tmpl_wal_len);
    exec(h, "ROLLBACK");
    AM_FZ_CHECK(sqlite3_close(h) == SQLITE_OK);
    (void)unlink(wal_path);
    (void)unlink(shm_path);
}

static uint32_t u24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* The log the input stands for (the caller's, am_free). */
static uint8_t *log_of(const uint8_t *data, size_t size, size_t *len)
{
    uint8_t *f;

    if (size == 0 || data[0] != 'W') {
        AM_FZ_CHECK((f = am_malloc(size + 1)) != NULL);
        if (size > 0)
            memcpy(f, data, size);
        *len = size;
        return f;
    }
    AM_FZ_CHECK((f = am_malloc(tmpl_wal_len)) != NULL);
    memcpy(f, tmpl_wal, tmpl_wal_len);
    for (size_t i = 1; i + 4 <= size; i += 4)
        f[u24(data + i) % tmpl_wal_len] ^= data[i + 3];
    *len = tmpl_wal_len;
    return f;
}

/* The frames SQLite's recovery keeps: mxFrame of the wal-index header it
 * writes (native byte order, offset 16); -1 when it refuses the log (a
 * version it does not know, under a valid checksum). */
static long sqlite_keeps(void)
{
    sqlite3 *h = NULL;
    uint32_t mx = 0;
    int rc, fd;

    (void)unlink(shm_path); /* a crash's: rebuilt by the first connection */
    AM_FZ_CHECK(sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) ==
                SQLITE_OK);
    rc = sqlite3_exec(h, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
                      NULL);
    if ((rc & 0xff) == SQLITE_CANTOPEN) {
        sqlite3_close(h);
        return -1;
    }
    fd = open(shm_path, O_RDONLY);
    AM_FZ_CHECK(fd >= 0 && pread(fd, &mx, sizeof mx, 16) == sizeof mx);
    close(fd);
    AM_FZ_CHECK(sqlite3_close(h) == SQLITE_OK);
    return (long)mx;
}

static store_wal_t scan(void)
{
    store_wal_t r;
    int fd = open(wal_path, O_RDONLY);

    AM_FZ_CHECK(fd >= 0 && store_wal_scan(fd, &r) == 0);
    close(fd);
    AM_FZ_CHECK(r.sqlite_end <= r.last_commit && r.last_commit <= r.frames);
    AM_FZ_CHECK(r.page_size != 0 || r.frames == 0);
    return r;
}

static store_wal_t repair(void)
{
    store_wal_t r;
    int fd = open(wal_path, O_RDWR);

    AM_FZ_CHECK(fd >= 0 && store_wal_repair(fd, &r) == 0);
    AM_FZ_CHECK(close(fd) == 0);
    return r;
}

static void remove_dir(void)
{
    (void)unlink(db_path);
    (void)unlink(wal_path);
    (void)unlink(shm_path);
    (void)rmdir(dir);
}

static void once(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(dir, sizeof dir, "%s/amanat-fuzz-wal-XXXXXX", base);
    AM_FZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    snprintf(wal_path, sizeof wal_path, "%s/t.db-wal", dir);
    snprintf(shm_path, sizeof shm_path, "%s/t.db-shm", dir);
    make_template();
    AM_FZ_CHECK(atexit(remove_dir) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    store_wal_t a, b, c;
    uint8_t *log, *back;
    size_t len, back_len;
    uint64_t own;
    long kept;

    if (!ready) {
        once();
        ready = true;
    }
    log = log_of(data, size, &len);
    write_all(db_path, tmpl_db, tmpl_db_len);
    write_all(wal_path, log, len);
    a = scan();
    kept = sqlite_keeps();
    AM_FZ_CHECK(kept < 0 || (uint64_t)kept == a.sqlite_end);
    b = repair();
    AM_FZ_CHECK(b.sqlite_end == a.sqlite_end &&
                b.last_commit == a.last_commit && b.frames == a.frames);
    c = scan();
    AM_FZ_CHECK(c.sqlite_end >= a.last_commit);
    kept = sqlite_keeps();
    AM_FZ_CHECK(kept < 0 || (uint64_t)kept == c.sqlite_end);
    /* the bytes the first repair owns, left by a second one */
    back = read_all(wal_path, &back_len);
    (void)repair();
    am_free(log);
    log = read_all(wal_path, &len);
    own = a.page_size == 0 ? 0 : 32 + a.gen_end * (24 + (uint64_t)a.page_size);
    AM_FZ_CHECK(len == back_len && own <= len &&
                memcmp(log, back, (size_t)own) == 0);
    am_free(back);
    am_free(log);
    return 0;
}
