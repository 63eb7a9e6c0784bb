/* The salvage's raw reader (relay/store_salvage_raw.c and
 * store_salvage_wal.c): a damaged store file, and maybe its -wal, read
 * page by page without SQLite's b-trees.  The input is, by its first
 * byte:
 *   'P', then fuzz_store_tmpl.h's patch layout: the closed store made
 *       there, cut and xored (no -wal);
 *   'W', then the same layout applied to the -wal of that store while it
 *       was still open, beside its main file then (its rows are in the
 *       -wal: checksums, salts, commit frames);
 *   'M', then a u24 length n: the next n bytes as the main file and the
 *       rest as its -wal (both made up);
 *   anything else: the main file as it is, no -wal.
 * Invariants: the reader returns 0 or AM_EIO (never out of memory on a
 * file this small), with a database whose rows have the shapes it
 * promises (ids and hashes of their length, an agency's text), and it
 * never reads, writes or allocates out of bounds (ASan, UBSan). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "fuzz_common.h"
#include "fuzz_store_tmpl.h"
#include "store_salvage.h"

static char dir[64], main_path[128], wal_path[140];

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    AM_FZ_CHECK(fd >= 0 && (n == 0 || write(fd, b, n) == (ssize_t)n));
    AM_FZ_CHECK(close(fd) == 0);
}

/* The main file and the -wal (NULL: none) the input stands for. */
static void files_of(const uint8_t *data, size_t size)
{
    const am_fzs_tmpl_t *t = am_fzs_template();
    am_fz_in_t in = {data + 1, data + size};
    uint8_t *f;
    size_t len, n;

    (void)unlink(wal_path);
    if (size > 0 && data[0] == 'P') {
        f = am_fzs_patched(&in, t->file, t->len, &len);
        write_file(main_path, f, len);
        am_free(f);
    } else if (size > 0 && data[0] == 'W') {
        write_file(main_path, t->open_main, t->open_main_len);
        f = am_fzs_patched(&in, t->open_wal, t->open_wal_len, &len);
        write_file(wal_path, f, len);
        am_free(f);
    } else if (size > 0 && data[0] == 'M') {
        n = am_fz_u8(&in) << 16;
        n |= am_fz_u8(&in) << 8;
        n |= am_fz_u8(&in);
        n = n < am_fz_left(&in) ? n : am_fz_left(&in);
        write_file(main_path, in.p, n);
        write_file(wal_path, in.p + n, am_fz_left(&in) - n);
    } else {
        write_file(main_path, data, size);
    }
}

/* Every row has the shape its table promises. */
static void check_rows(sqlite3 *db)
{
    static const char *const q[] = {
        "SELECT count(*) FROM messages WHERE length(message_id) != 16 OR "
        "length(envelope_hash) != 32 OR typeof(sender) != 'text' OR "
        "typeof(priority) != 'integer' OR seq != rowid",
        "SELECT count(*) FROM deliveries WHERE typeof(seq) != 'integer' OR "
        "typeof(recipient) != 'text' OR typeof(state) != 'integer'",
        "SELECT count(*) FROM notices WHERE length(message_id) != 16 OR "
        "length(envelope_hash) != 32 OR id != rowid",
        "SELECT count(*) FROM audit WHERE length(hash) != 32 OR seq != rowid",
        "SELECT count(*) FROM acked WHERE typeof(seq) != 'integer'",
        "SELECT count(*) FROM message_ids WHERE length(message_id) != 16 OR "
        "typeof(seq) != 'integer'",
        "SELECT count(*) FROM sequence WHERE name NOT IN ('messages', "
        "'notices', 'audit')",
    };

    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        sqlite3_stmt *st = NULL;

        AM_FZ_CHECK(sqlite3_prepare_v2(db, q[i], -1, &st, NULL) ==
                    SQLITE_OK);
        AM_FZ_CHECK(sqlite3_step(st) == SQLITE_ROW &&
                    sqlite3_column_int64(st, 0) == 0);
        sqlite3_finalize(st);
    }
}

static void remove_dir(void)
{
    (void)unlink(main_path);
    (void)unlink(wal_path);
    (void)rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    sqlite3 *db = NULL;
    sv_raw_stats_t stats;
    int rc;

    if (!ready) {
        AM_FZ_CHECK(sodium_init() >= 0);
        (void)am_fzs_template();
        am_fzs_make_dir(dir, sizeof dir);
        snprintf(main_path, sizeof main_path, "%s/store.sqlite", dir);
        snprintf(wal_path, sizeof wal_path, "%s-wal", main_path);
        AM_FZ_CHECK(atexit(remove_dir) == 0);
        ready = true;
    }
    files_of(data, size);
    rc = sv_raw_read(main_path, &db, &stats);
    AM_FZ_CHECK(rc == 0 || rc == AM_EIO);
    if (rc == 0) {
        check_rows(db);
        AM_FZ_CHECK(sqlite3_close(db) == SQLITE_OK);
    }
    return 0;
}
