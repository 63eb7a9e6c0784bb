/* The salvage of a damaged store at open (relay/store_salvage*.c,
 * docs/OPERATIONS.md 4.1), one page of the file destroyed at a time:
 * the deliveries table (each delivery recreated as the directory routes
 * its recipient: here, to a peer relay, or ended damaged with the sender
 * told), every page (nothing readable: refused, nothing moved), an audit
 * page (the chain reports the break), a salvage cut short (done again
 * from the kept files), and the schema's text changed (a column renamed,
 * which SQLite's integrity check does not see: salvaged; the messages
 * table renamed: read from the pages, never an empty queue in its place).
 * What only the raw reader recovers: test-store-salvage-raw.c. */
#include "fixture-salvage.h"

/* Every delivery row lost: each is recreated as the directory routes its
 * recipient now. */
static void test_deliveries_recreated(void **state)
{
    static const char *const both[] = {"DE-BKA", "DE-LKA"};
    static const char *const gb[] = {"GB-NCA"}, *const de[] = {"DE-BKA"};
    char copy[128], k[256], path[320];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    notices_t n;

    (void)state;
    put_real(s, both, 2);
    put_real(s, gb, 1);
    put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    zero_page("deliveries", -1);
    file_path(copy, sizeof copy, "damaged.copy");
    copy_store(copy);
    s = open_routed(&asked, AM_OK);
    assert_true(asked >= 4);
    assert_int_equal(next(s, "DE-BKA").n, 2);
    assert_int_equal(next(s, "DE-RELAY").n, 1);
    assert_int_equal(next(s, "GB-NCA").n, 0);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 1);
    assert_int_equal(n.got[0].kind, 4);
    assert_string_equal(n.got[0].recipient, "GB-NCA");
    assert_int_equal(am_store_close(s), AM_OK);
    /* the damaged file kept as it was; no salvage under way any more */
    assert_int_equal(kept(k, sizeof k), 1);
    snprintf(path, sizeof path, "%s/store.sqlite", k);
    assert_true(same_bytes(path, copy));
    file_path(path, sizeof path, "store.salvage");
    assert_int_equal(access(path, F_OK), -1);
    /* and the next start is an ordinary one */
    s = open_routed(&asked, AM_OK);
    assert_int_equal(next(s, "DE-BKA").n, 2);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(kept(k, sizeof k), 1);
}

/* Every page gone (the file all zeros): nothing can be read, not even
 * from its pages directly; refused, nothing moved. */
static void test_nothing_readable(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    char copy[128], path[128], k[256], cmd[400];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);

    (void)state;
    put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    file_path(path, sizeof path, "store.sqlite");
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of='%s' bs=4096 count=$(( "
             "$(stat -c %%s '%s') / 4096 )) conv=notrunc 2>/dev/null", path,
             path);
    assert_int_equal(system(cmd), 0);
    file_path(copy, sizeof copy, "damaged.copy");
    copy_store(copy);
    assert_null(open_routed(&asked, AM_EIO));
    assert_non_null(strstr(am_err_detail(), "nothing could be salvaged"));
    assert_int_equal(kept(k, sizeof k), 0);
    assert_true(same_bytes(path, copy));
    /* and again at the next start: never an empty queue in its place */
    assert_null(open_routed(&asked, AM_EIO));
}

/* An audit page gone: the chain verifies up to the first record lost. */
static void test_audit_gap(void **state)
{
    char db[128];
    uint64_t records, bad;
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    sqlite3 *h;

    (void)state;
    am_store_check_envelopes = false; /* msg() makes no real envelopes */
    for (uint8_t i = 1; i <= 150; i++) {
        am_store_put_t m = msg(i, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);

        put(s, &m, 10, AM_OK);
        assert_int_equal(ack(s, "DE-BKA", i), AM_OK);
    }
    assert_int_equal(am_store_close(s), AM_OK);
    zero_page("audit", 3);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(am_store_close(s), AM_OK);
    file_path(db, sizeof db, "store.sqlite");
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(am_audit_verify(h, &records, &bad), AM_ECRYPTO);
    assert_true(bad > 1 && bad < 150);
    assert_int_equal(records, bad - 1);
    sqlite3_close(h);
    am_store_check_envelopes = true;
}

/* A salvage cut short once it had kept the damaged files (here even the
 * store file gone): the next start salvages again from the kept ones. */
static void test_salvage_resumed(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    char cmd[600], path[320], k[256];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);

    (void)state;
    put_real(s, de, 1);
    put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    zero_page("deliveries", -1);
    snprintf(cmd, sizeof cmd, "mkdir '%s/damaged-19700101T000000Z' && mv "
             "'%s/store.sqlite' '%s/damaged-19700101T000000Z/' && printf "
             "damaged-19700101T000000Z > '%s/store.salvage'", dir, dir, dir,
             dir);
    assert_int_equal(system(cmd), 0);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(next(s, "DE-BKA").n, 2);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(kept(k, sizeof k), 1);
    snprintf(path, sizeof path, "%s/lost.txt", k);
    assert_int_equal(access(path, F_OK), 0);
    file_path(path, sizeof path, "store.salvage");
    assert_int_equal(access(path, F_OK), -1);
}

/* One byte of the schema's text changed in the closed store: the first
 * place the file holds `text`, its byte `at` set to c. */
static void change_schema(const char *text, size_t at, char c)
{
    char db[128];
    uint8_t page[4096];
    const uint8_t *hit = NULL;
    size_t n = strlen(text);
    int fd;

    file_path(db, sizeof db, "store.sqlite");
    fd = open(db, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, page, sizeof page, 0), (ssize_t)sizeof page);
    for (size_t i = 0; hit == NULL && i + n <= sizeof page; i++)
        if (memcmp(page + i, text, n) == 0)
            hit = page + i;
    assert_non_null(hit);
    assert_int_equal(pwrite(fd, &c, 1, (off_t)(hit - page + (long)at)), 1);
    assert_int_equal(close(fd), 0);
}

/* Two messages stored, then one byte of the schema's text changed: the
 * store is salvaged and both are still delivered. */
static void schema_changed(const char *text, size_t at, char c)
{
    static const char *const de[] = {"DE-BKA"};
    char k[256];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);

    put_real(s, de, 1);
    put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    change_schema(text, at, c);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(next(s, "DE-BKA").n, 2);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(kept(k, sizeof k), 1);
}

/* A column's name changed in the schema's text: SQLite's integrity check
 * passes, the schema check does not; the rows are read by position. */
static void test_schema_column_renamed(void **state)
{
    (void)state;
    schema_changed("envelope_hash BLOB NOT NULL,  sender", 12, 'i');
}

/* The messages table's name changed in its text: SQLite finds the schema
 * malformed and reads nothing; the rows are read from the file's pages
 * (store_salvage_raw.c), and a new store made, never an empty one in
 * place of the queue. */
static void test_schema_table_renamed(void **state)
{
    (void)state;
    schema_changed("TABLE messages", 13, 't');
}

/* The lost.txt of the one salvage names message id. */
static void lost_lists(const uint8_t id[AM_MSG_ID_LEN])
{
    char k[256], path[320], hexid[2 * AM_MSG_ID_LEN + 1], text[8192];
    FILE *f;
    size_t n;

    assert_int_equal(kept(k, sizeof k), 1);
    snprintf(path, sizeof path, "%s/lost.txt", k);
    assert_non_null(f = fopen(path, "r"));
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    for (size_t i = 0; i < AM_MSG_ID_LEN; i++)
        snprintf(hexid + 2 * i, 3, "%02x", id[i]);
    if (strstr(text, hexid) == NULL)
        fail_msg("message %s is not in lost.txt:\n%s", hexid, text);
}

/* The offset of the first key_n bytes `key` in buf, or -1. */
static long find_bytes(const uint8_t *buf, size_t n, const uint8_t *key,
                       size_t key_n)
{
    for (size_t i = 0; i + key_n <= n; i++)
        if (memcmp(buf + i, key, key_n) == 0)
            return (long)i;
    return -1;
}

/* The newest message's row as it sits in the closed store: the offset of
 * its cell's message_id (followed there by its envelope_hash), its id. */
static long newest_cell(uint8_t id[AM_MSG_ID_LEN])
{
    char db[128];
    uint8_t buf[1 << 17], key[AM_MSG_ID_LEN + AM_HASH_LEN];
    sqlite3 *h;
    sqlite3_stmt *st;
    ssize_t n;
    int fd;

    file_path(db, sizeof db, "store.sqlite");
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT message_id, "
                     "envelope_hash FROM messages ORDER BY seq DESC LIMIT 1",
                     -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    memcpy(key, sqlite3_column_blob(st, 0), AM_MSG_ID_LEN);
    memcpy(key + AM_MSG_ID_LEN, sqlite3_column_blob(st, 1), AM_HASH_LEN);
    memcpy(id, key, AM_MSG_ID_LEN);
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_true((fd = open(db, O_RDONLY)) >= 0);
    n = read(fd, buf, sizeof buf);
    assert_int_equal(close(fd), 0);
    assert_true(n > 0 && n < (ssize_t)sizeof buf);
    return find_bytes(buf, (size_t)n, key, sizeof key);
}

/* What a truncation does to the page it cuts: SQLite reads the part past
 * the end of the file as zeros.  Cut inside the newest row's sender
 * ("PK-NCCIA" reads as "PK-NCCI" and seven bytes): that row must not be
 * taken for a message of a sender "PK-NCCI", whom DAMAGED evidence would
 * be owed to while PK-NCCIA never heard; it is listed in lost.txt. */
static void test_row_cut_in_sender(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    uint8_t id[AM_MSG_ID_LEN], zero[4096] = {0};
    char path[320];
    int asked = 0, fd;
    am_store_t *s = open_routed(&asked, AM_OK);
    long at;

    (void)state;
    for (int i = 0; i < 60; i++) /* a few leaf pages */
        put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    at = newest_cell(id);
    assert_true(at >= 0);
    at += AM_MSG_ID_LEN + AM_HASH_LEN + 7;
    file_path(path, sizeof path, "store.sqlite");
    assert_true((fd = open(path, O_WRONLY)) >= 0);
    assert_int_equal(pwrite(fd, zero, (size_t)(4096 - at % 4096), at),
                     4096 - at % 4096);
    assert_int_equal(close(fd), 0);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(owed(s, "PK-NCCI").n, 0);
    assert_int_equal(am_store_close(s), AM_OK);
    lost_lists(id);
}

/* A row whose envelope is damaged and whose sender column names another
 * valid agency, one not served here: DAMAGED evidence would go to it, and
 * the real sender would never hear.  Listed in lost.txt instead. */
static void test_row_sender_unknown(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    uint8_t id[AM_MSG_ID_LEN];
    char db[128];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    sqlite3 *h;

    (void)state;
    put_real(s, de, 1);
    put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    (void)newest_cell(id);
    file_path(db, sizeof db, "store.sqlite");
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "UPDATE messages SET sender = 'GB-NCA', "
                                  "envelope = x'00' WHERE seq = 2", NULL,
                                  NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    zero_page("notices", -1); /* and the file fails the check */
    s = open_routed(&asked, AM_OK);
    assert_int_equal(owed(s, "GB-NCA").n, 0);
    assert_int_equal(next(s, "DE-BKA").n, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    lost_lists(id);
}

/* The state of message seq's delivery to DE-BKA in the closed store. */
static int dlv_state(int64_t seq)
{
    char db[128];
    sqlite3 *h;
    sqlite3_stmt *st;
    int state;

    file_path(db, sizeof db, "store.sqlite");
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT state FROM deliveries "
                     "WHERE seq = ?1 AND recipient = 'DE-BKA'", -1, &st,
                     NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    state = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return state;
}

/* An acknowledgement not yet folded, its cell cut inside its two-byte seq
 * (260, 0x0104): the rest reads as zeros, seq 256 and time 0.  It must not
 * end the delivery of message 256, which nobody received; 260's own is
 * made again (at least once). */
static void test_ack_cut_in_seq(void **state)
{
    static const uint8_t cell[] = "DE-BKA\x01\x04\x64"; /* seq 260, time 100 */
    static uint8_t buf[1 << 20];
    uint8_t zero[4096] = {0};
    char db[128];
    int asked = 0, fd;
    am_store_t *s = open_routed(&asked, AM_OK);
    result_t r = {0};
    am_store_put_t m;
    ssize_t n;
    long at;

    (void)state;
    am_store_check_envelopes = false; /* msg() makes no real envelopes */
    for (int i = 1; i <= 260; i++) {
        m = msg((uint8_t)i, AM_PRIORITY_ROUTINE, "DE-BKA", NULL);
        m.message_id[1] = (uint8_t)(i >> 8);
        put(s, &m, 10, AM_OK);
    }
    am_store_hold_folding(s, 1);
    m.message_id[1] = 1; /* m: message 260 */
    assert_int_equal(am_store_ack(s, "DE-BKA", m.message_id, 100, done_cb,
                                  &r), AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, AM_OK);
    assert_int_equal(am_store_close(s), AM_OK);
    file_path(db, sizeof db, "store.sqlite");
    assert_true((fd = open(db, O_RDWR)) >= 0);
    n = read(fd, buf, sizeof buf);
    assert_true(n > 0 && n < (ssize_t)sizeof buf);
    at = find_bytes(buf, (size_t)n, cell, sizeof cell - 1);
    assert_true(at >= 0);
    at += 7; /* the seq's second byte */
    assert_int_equal(pwrite(fd, zero, (size_t)(4096 - at % 4096), at),
                     4096 - at % 4096);
    assert_int_equal(close(fd), 0);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(dlv_state(256), 0);
    assert_int_equal(dlv_state(260), 0);
    am_store_check_envelopes = true;
}

/* A message whose bytes are gone while its delivery is still pending (the
 * relay drops them only once none is): quarantined at start, its sender
 * told DAMAGED, and the recipient's other messages still delivered (that
 * row used to stop every delivery to DE-BKA). */
static void test_pending_without_bytes(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    char db[128];
    int asked = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    notices_t n;
    sqlite3 *h;

    (void)state;
    put_real(s, de, 1);
    put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    file_path(db, sizeof db, "store.sqlite");
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "UPDATE messages SET envelope = NULL "
                                  "WHERE seq = 1", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(next(s, "DE-BKA").n, 1);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 1);
    assert_int_equal(n.got[0].kind, 4);
    assert_string_equal(n.got[0].recipient, "DE-BKA");
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(dlv_state(1), 5);
}

/* A bit flipped in the seq of a message_id index entry (2 -> 66): the
 * message is whole and delivered; lost.txt must neither list it nor the
 * seqs 4..65 that never were. */
static void test_index_seq_flipped(void **state)
{
    static const char *const de[] = {"DE-BKA"};
    static uint8_t buf[1 << 20];
    uint8_t key[AM_MSG_ID_LEN + 1], flip = 0x42;
    char db[128], k[256], path[320], line[512];
    int asked = 0, fd, lines = 0;
    am_store_t *s = open_routed(&asked, AM_OK);
    sqlite3 *h;
    sqlite3_stmt *st;
    ssize_t n;
    long at;
    FILE *f;

    (void)state;
    for (int i = 0; i < 3; i++)
        put_real(s, de, 1);
    assert_int_equal(am_store_close(s), AM_OK);
    file_path(db, sizeof db, "store.sqlite");
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT message_id FROM messages "
                                        "WHERE seq = 2", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    memcpy(key, sqlite3_column_blob(st, 0), AM_MSG_ID_LEN);
    key[AM_MSG_ID_LEN] = 2; /* the index entry: id, then seq */
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_true((fd = open(db, O_RDWR)) >= 0);
    n = read(fd, buf, sizeof buf);
    assert_true(n > 0 && n < (ssize_t)sizeof buf);
    at = find_bytes(buf, (size_t)n, key, sizeof key);
    assert_true(at >= 0);
    assert_int_equal(pwrite(fd, &flip, 1, at + AM_MSG_ID_LEN), 1);
    assert_int_equal(close(fd), 0);
    s = open_routed(&asked, AM_OK);
    assert_int_equal(next(s, "DE-BKA").n, 3);
    assert_int_equal(am_store_close(s), AM_OK);
    assert_int_equal(kept(k, sizeof k), 1);
    snprintf(path, sizeof path, "%s/lost.txt", k);
    assert_non_null(f = fopen(path, "r"));
    while (fgets(line, sizeof line, f) != NULL)
        if (line[0] != '#' && ++lines == 1)
            printf("lost.txt: %s", line);
    fclose(f);
    assert_int_equal(lines, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deliveries_recreated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nothing_readable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salvage_resumed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_schema_column_renamed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_schema_table_renamed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_row_cut_in_sender, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_row_sender_unknown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ack_cut_in_seq, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pending_without_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_seq_flipped, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
