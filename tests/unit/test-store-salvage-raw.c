/* What only the salvage's raw reader (relay/store_salvage_raw.c) gets
 * back: rows whose pages are whole but out of reach of SQLite's b-trees.
 * The first page destroyed (header and schema: SQLite reads nothing);
 * the messages table's root destroyed; an interior page under its root
 * destroyed; and stale copies of rows on pages SQLite freed, skipped when
 * the freelist can be read, and otherwise never kept over a live row
 * that keeps a message alive, whichever comes first in the file.  And
 * the reader itself on a store whose rows are still in its -wal. */
#include "fixture-salvage.h"

#include "store_salvage.h"

#define PAGE 4096

/* Every pending delivery to who, in batches. */
static size_t pending(am_store_t *s, const char *who)
{
    result_t r = next(s, who);
    size_t n = r.n;

    while (r.n == 16) {
        am_store_cursor_t at = r.last;

        r = next_after(s, who, 16, &at);
        n += r.n;
    }
    return n;
}

/* The lines of the salvage's lost.txt that name a message. */
static int lost_lines(void)
{
    char k[256], path[320], line[512];
    int n = 0;
    FILE *f;

    assert_int_equal(kept(k, sizeof k), 1);
    snprintf(path, sizeof path, "%s/lost.txt", k);
    assert_non_null(f = fopen(path, "r"));
    while (fgets(line, sizeof line, f) != NULL)
        n += line[0] != '#';
    fclose(f);
    return n;
}

static sqlite3 *open_file(const char *name, int flags)
{
    char db[128];
    sqlite3 *h;

    file_path(db, sizeof db, name);
    assert_int_equal(sqlite3_open_v2(db, &h, flags, NULL), SQLITE_OK);
    return h;
}

/* One integer a query of the closed store gives. */
static int64_t query(const char *name, const char *sql)
{
    sqlite3 *h = open_file(name, SQLITE_OPEN_READONLY);
    sqlite3_stmt *st;
    int64_t n;

    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static void page_io(const char *name, int64_t page, uint8_t *buf, bool write)
{
    char db[128];
    int fd;

    file_path(db, sizeof db, name);
    assert_true((fd = open(db, write ? O_WRONLY : O_RDONLY)) >= 0);
    if (write)
        assert_int_equal(pwrite(fd, buf, PAGE, (off_t)(page - 1) * PAGE),
                         PAGE);
    else
        assert_int_equal(pread(fd, buf, PAGE, (off_t)(page - 1) * PAGE),
                         PAGE);
    assert_int_equal(close(fd), 0);
}

static void zero_at(int64_t page)
{
    uint8_t zero[PAGE] = {0};

    page_io("store.sqlite", page, zero, true);
}

static int64_t root_of(const char *table)
{
    char sql[128];

    snprintf(sql, sizeof sql, "SELECT rootpage FROM sqlite_schema WHERE "
             "name = '%s'", table);
    return query("store.sqlite", sql);
}

/* The first page gone: SQLite cannot read the header or the schema, so
 * nothing at all through it; every row is read from the pages, and every
 * delivery is as it was (none recreated, none ended damaged). */
static void test_first_page_zeroed(void **state)
{
    static const char *const both[] = {"DE-BKA", "DE-LKA"};
    static const char *const gb[] = {"GB-NCA"}, *const de[] = {"DE-BKA"};
    char copy[128], k[256], path[320];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);

    (void)state;
    put_real(s, both, 2);
    put_real(s, gb, 1);
    put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    zero_at(1);
    file_path(copy, sizeof copy, "damaged.copy");
    copy_store(copy);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(pending(s, "DE-BKA"), 2);
    assert_int_equal(pending(s, "DE-RELAY"), 1);
    assert_int_equal(pending(s, "GB-NCA"), 1);
    assert_int_equal(owed(s, "PK-NCCIA").n, 0);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(lost_lines(), 0);
    assert_int_equal(kept(k, sizeof k), 1);
    snprintf(path, sizeof path, "%s/store.sqlite", k);
    assert_true(same_bytes(path, copy));
    /* and the next start is an ordinary one */
    s = open_routed(&asked, AM_OK);
    assert_int_equal(pending(s, "DE-BKA"), 2);
    assert_int_equal(am_store_close(s), AM_OK);
}

/* The messages table's root gone (found through sqlite_schema before):
 * every message is on a leaf that survived, and every one is read. */
static void test_messages_root_zeroed(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);

    (void)state;
    for (int i = 0; i < 40; i++)
        put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_true(query("store.sqlite", "SELECT count(*) FROM dbstat WHERE "
                      "name = 'messages' AND pagetype = 'leaf'") > 1);
    zero_at(root_of("messages"));
    s = open_routed(&asked, AM_OK);
    assert_int_equal(pending(s, "DE-BKA"), 40);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(lost_lines(), 0);
}

/* n messages to DE-BKA written into the closed store in one transaction,
 * each too big to share a leaf: the table's b-tree then has interior
 * pages under its root. */
static void bulk(int n)
{
    char sql[1024];
    sqlite3 *h = open_file("store.sqlite", SQLITE_OPEN_READWRITE);

    snprintf(sql, sizeof sql, "BEGIN; WITH RECURSIVE k(i) AS (SELECT 1 "
             "UNION ALL SELECT i + 1 FROM k WHERE i < %d) INSERT INTO "
             "messages (message_id, envelope_hash, sender, priority, "
             "expires_at, accepted_at, envelope) SELECT randomblob(16), "
             "randomblob(32), 'PK-NCCIA', 1, 2000000000, 1000, "
             "randomblob(3500) FROM k; INSERT INTO deliveries (seq, "
             "recipient, state, priority) SELECT seq, 'DE-BKA', 0, 1 FROM "
             "messages; COMMIT", n);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

/* An interior page below the root gone: the leaves under it are whole,
 * and every message on them is read. */
static void test_interior_zeroed(void **state)
{
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);

    (void)state;
    am_store_check_envelopes = false; /* bulk() makes no real envelopes */
    assert_int_equal(am_store_close(s), AM_OK);
    bulk(1100);
    zero_at(query("store.sqlite", "SELECT pageno FROM dbstat WHERE name = "
                  "'messages' AND pagetype = 'internal' AND path != '/' "
                  "ORDER BY path LIMIT 1"));
    s = open_routed(&asked, AM_OK);
    assert_int_equal(pending(s, "DE-BKA"), 1100);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(lost_lines(), 0);
    am_store_check_envelopes = true;
}

/* Old copies of the rows of messages and deliveries left on pages SQLite
 * freed (tables of the same rows dropped; secure_delete off, as in a
 * SQLite built without it: Debian's zeroes freed pages), then every
 * message delivered (envelope dropped, deliveries done), then the roots
 * of both tables destroyed.  The freelist can be read: its pages are
 * skipped, and no finished message is held or delivered again. */
static void test_freelist_skipped(void **state)
{
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    sqlite3 *h;

    (void)state;
    am_store_check_envelopes = false; /* bulk() makes no real envelopes */
    assert_int_equal(am_store_close(s), AM_OK);
    bulk(300);
    h = open_file("store.sqlite", SQLITE_OPEN_READWRITE);
    assert_int_equal(sqlite3_exec(h, "PRAGMA secure_delete = OFF; "
                                  "CREATE TABLE old (seq INTEGER PRIMARY "
                                  "KEY, a, b, c, d, e, f, g, h, i); INSERT "
                                  "INTO old SELECT * FROM messages; CREATE "
                                  "TABLE old_d (a, b, c, d, e, f); INSERT "
                                  "INTO old_d SELECT * FROM deliveries; "
                                  "UPDATE messages SET envelope = NULL; "
                                  "UPDATE deliveries SET state = 2, "
                                  "acked_at = 100; DROP TABLE old; DROP "
                                  "TABLE old_d", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    assert_true(query("store.sqlite", "PRAGMA freelist_count") > 300);
    zero_at(root_of("messages"));
    zero_at(root_of("deliveries"));
    s = open_routed(&asked, AM_OK);
    assert_int_equal(pending(s, "DE-BKA"), 0);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(query("store.sqlite", "SELECT count(*) FROM messages"),
                     300);
    assert_int_equal(query("store.sqlite", "SELECT count(*) FROM messages "
                           "WHERE envelope IS NOT NULL"), 0);
    assert_int_equal(lost_lines(), 0);
    am_store_check_envelopes = true;
}

/* The file cannot say which pages are free (its first page gone) and
 * holds two copies of the messages' leaf: the live one, whose envelopes
 * are held, and one of the same rows finished (envelopes dropped), before
 * or after it.  The copy that keeps the messages alive is kept either
 * way: delivered again at worst, never lost. */
static void stale_copy(bool dead_first)
{
    static const char *const de[] = {"DE-BKA"};
    uint8_t live[PAGE], dead[PAGE];
    char copy[128];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    int64_t leaf, end;
    sqlite3 *h;

    for (int i = 0; i < 8; i++)
        put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    leaf = root_of("messages");
    end = query("store.sqlite", "PRAGMA page_count") + 1;
    /* the same leaf with the messages finished, from a copy */
    file_path(copy, sizeof copy, "finished.sqlite");
    copy_store(copy);
    h = open_file("finished.sqlite", SQLITE_OPEN_READWRITE);
    assert_int_equal(sqlite3_exec(h, "UPDATE messages SET envelope = NULL",
                                  NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    assert_int_equal(query("finished.sqlite", "SELECT rootpage FROM "
                           "sqlite_schema WHERE name = 'messages'"), leaf);
    page_io("finished.sqlite", leaf, dead, false);
    page_io("store.sqlite", leaf, live, false);
    page_io("store.sqlite", leaf, dead_first ? dead : live, true);
    page_io("store.sqlite", end, dead_first ? live : dead, true);
    zero_at(1);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(pending(s, "DE-BKA"), 8);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(lost_lines(), 0);
}

static void test_stale_copy_first(void **state)
{
    (void)state;
    stale_copy(true);
}

static void test_stale_copy_last(void **state)
{
    (void)state;
    stale_copy(false);
}

/* The raw reader's messages and message ids in the files snap.sqlite
 * (and -wal): -1 when it fails. */
static int64_t raw_messages(int64_t *ids, uint64_t *frames)
{
    char db[128];
    sqlite3 *raw = NULL;
    sqlite3_stmt *st;
    sv_raw_stats_t stats;
    int64_t n;

    file_path(db, sizeof db, "snap.sqlite");
    if (sv_raw_read(db, &raw, &stats) != 0)
        return -1;
    assert_int_equal(sqlite3_prepare_v2(raw, "SELECT (SELECT count(*) FROM "
                                        "messages WHERE envelope IS NOT "
                                        "NULL), (SELECT count(*) FROM "
                                        "message_ids)", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    *ids = sqlite3_column_int64(st, 1);
    *frames = stats.frames;
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return n;
}

/* A store copied while open: its rows are in its -wal, the main file
 * holds the schema only.  The -wal's committed frames are read over the
 * main file; a -wal cut in its last frame loses that transaction (the
 * last message) only; without it, nothing. */
static void test_wal_read(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    char cmd[600], wal[128];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    int64_t ids;
    uint64_t frames;

    (void)state;
    for (int i = 0; i < 8; i++)
        put_real(s, de, 1);
    snprintf(cmd, sizeof cmd, "cp '%s/store.sqlite' '%s/snap.sqlite' && cp "
             "'%s/store.sqlite-wal' '%s/snap.sqlite-wal'", dir, dir, dir,
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(raw_messages(&ids, &frames), 8);
    assert_int_equal(ids, 8);
    assert_true(frames > 0);
    file_path(wal, sizeof wal, "snap.sqlite-wal");
    snprintf(cmd, sizeof cmd, "truncate -s -100 '%s'", wal);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(raw_messages(&ids, &frames), 7);
    assert_int_equal(unlink(wal), 0);
    assert_int_equal(raw_messages(&ids, &frames), 0);
    assert_int_equal(frames, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_page_zeroed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_messages_root_zeroed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interior_zeroed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_freelist_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_copy_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_copy_last, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wal_read, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
