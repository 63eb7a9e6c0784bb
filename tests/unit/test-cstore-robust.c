/* The client's local store refuses what it must: stores of another
 * version or program, damaged rows (reported, never a crash), bad inputs,
 * and every allocation failing in turn (no leak). */
#include "fixture-cstore.h"

static void test_versions(void **state)
{
    char other[160], junk[160];
    am_cstore_t *s = open_store();
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    FILE *f;

    (void)state;
    am_cstore_close(s);
    db_exec(path, "PRAGMA user_version = 7");
    s = NULL;
    assert_int_equal(am_cstore_open(path, &s), AM_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(am_err_detail(), "store version 7; this amanat "
                                            "reads version 1 only"));
    db_exec(path, "PRAGMA user_version = 1");
    s = open_store();
    am_cstore_close(s);

    /* someone else's database is left as it is */
    snprintf(other, sizeof other, "%s/other.db", dir);
    db_exec(other, "CREATE TABLE t (x)");
    s = NULL;
    assert_int_equal(am_cstore_open(other, &s), AM_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(am_err_detail(), "not an amanat store"));
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* not a database at all */
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    f = fopen(junk, "w");
    assert_non_null(f);
    for (int i = 0; i < 64; i++)
        fputs("this is not a database, it is a case file in plain text\n", f);
    fclose(f);
    assert_int_equal(am_cstore_open(junk, &s), AM_EIO);
    assert_non_null(strstr(am_err_detail(), junk));
    assert_null(s);
}

/* Each damage in the file is an AM_EIO naming it, never a crash or an
 * overflow of the fixed fields. */
static void test_damaged_message(void **state)
{
    static const struct {
        const char *sql, *says;
    } get_damage[] = {
        /* each one byte over its field (sender[20], state[16], kind[24]) */
        {"UPDATE messages SET sender = 'DE-BKA-AND-MORE-THAN'",
         "damaged row: sender is 20 bytes"},
        {"UPDATE messages SET in_reply_to = x'0102'",
         "damaged row: in_reply_to is 2 bytes"},
        {"UPDATE messages SET state = 'acknowledged-two'",
         "damaged row: state is 16 bytes"},
        {"UPDATE messages SET kind = 'victimIdentification-lon'",
         "damaged row: kind is 24 bytes"},
        {"UPDATE messages SET envelope = x''",
         "damaged row: envelope is 0 bytes"},
    };
    am_cstore_t *s = open_store();
    am_cmsg_t m = msg('M', false, "emergency", 3, 100);
    am_cmsg_t n = msg('N', false, "disclosure", 1, 100), got;
    uint8_t id[AM_MSG_ID_LEN], *bufs = NULL;
    seen_t seen = {0};

    (void)state;
    put(s, &m);
    put(s, &n);
    /* a 15-byte id: in the lists and in a prefix search */
    db_exec(path, "UPDATE messages SET id = substr(id, 1, 15) "
                  "WHERE kind = 'disclosure'");
    assert_int_equal(am_cstore_list(s, AM_CLIST_INBOX, collect_cb, &seen),
                     AM_EIO);
    assert_non_null(strstr(am_err_detail(), "damaged row: message id is 15 "
                                            "bytes"));
    assert_int_equal(am_cstore_resolve(s, "4e4e4e", id), AM_EIO);
    db_exec(path, "DELETE FROM messages WHERE kind = 'disclosure'");
    expect_list(s, AM_CLIST_INBOX, "M");

    for (size_t i = 0; i < sizeof get_damage / sizeof get_damage[0]; i++) {
        db_exec(path, get_damage[i].sql);
        bufs = NULL;
        assert_int_equal(am_cstore_get(s, m.id, &got, &bufs), AM_EIO);
        assert_non_null(strstr(am_err_detail(), get_damage[i].says));
        assert_null(bufs);
        assert_int_equal(am_cstore_list(s, AM_CLIST_INBOX, collect_cb, &seen),
                         i == 4 ? AM_OK : AM_EIO); /* lists skip bytes */
        /* undo, so each damage is seen alone */
        db_exec(path, "UPDATE messages SET sender = 'DE-BKA', "
                      "in_reply_to = NULL, state = '', kind = 'emergency', "
                      "envelope = x'01'");
    }
    assert_int_equal(am_cstore_get(s, m.id, &got, &bufs), AM_OK);
    am_free(bufs);
    am_cstore_close(s);
}

static void test_damaged_other(void **state)
{
    am_cstore_t *s = open_store();
    am_cevent_t e = event('M', "queued", "relay", 1, 0, "");
    uint8_t *b = NULL, *c = NULL, *p = NULL;
    size_t len = 0, clen = 0, plen = 0;
    uint64_t seq = 0;
    int64_t at = 0;

    (void)state;
    add_event(s, &e);
    assert_int_equal(am_cstore_dir_put(s, "DE-BKA", (const uint8_t *)"c", 1,
                                       NULL, 0, 1), AM_OK);
    assert_int_equal(am_cstore_crl_put(s, 2, (const uint8_t *)"l", 1), AM_OK);
    db_exec(path, "UPDATE events SET source = x'0102'");
    assert_int_equal(am_cstore_events(s, e.message_id, event_cb,
                                      &(events_t){0}), AM_EIO);
    assert_non_null(strstr(am_err_detail(), "event source is 2 bytes"));
    db_exec(path, "UPDATE events SET source = x'', signed = zeroblob(1025)");
    assert_int_equal(am_cstore_events(s, e.message_id, event_cb,
                                      &(events_t){0}), AM_EIO);
    assert_non_null(strstr(am_err_detail(), "signed bytes is 1025 bytes"));

    db_exec(path, "UPDATE dir SET cert = zeroblob(4097)");
    assert_int_equal(am_cstore_dir_get(s, "DE-BKA", &c, &clen, &p, &plen,
                                       &at), AM_EIO);
    assert_null(c);
    db_exec(path, "UPDATE dir SET cert = x'01', prekey = zeroblob(513)");
    assert_int_equal(am_cstore_dir_get(s, "DE-BKA", &c, &clen, &p, &plen,
                                       &at), AM_EIO);
    assert_non_null(strstr(am_err_detail(), "prekey is 513 bytes"));
    assert_null(c);

    db_exec(path, "UPDATE crl SET sequence = -1");
    assert_int_equal(am_cstore_crl_get(s, &seq, &b, &len), AM_EIO);
    db_exec(path, "UPDATE crl SET sequence = 3, bytes = x''");
    assert_int_equal(am_cstore_crl_get(s, &seq, &b, &len), AM_EIO);
    assert_null(b);
    am_cstore_close(s);
}

static void test_bad_input(void **state)
{
    static uint8_t huge_marker[1];
    am_cstore_t *s = open_store(), *none = NULL;
    am_cmsg_t m = msg('B', true, "disclosure", 1, 100), bad;

    (void)state;
    bad = m;
    bad.envelope_len = 0;
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    bad = m;
    bad.envelope = NULL;
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    bad = m;
    bad.envelope = huge_marker; /* never read: refused on its length */
    bad.envelope_len = AM_ENV_MAX + 1;
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    bad = m;
    bad.content = NULL;
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    bad = m;
    memset(bad.sender, 'A', sizeof bad.sender);
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    assert_string_equal(am_err_detail(), "message sender: over 19 bytes");
    bad = m;
    memset(bad.kind, 'k', sizeof bad.kind);
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    bad = m;
    memset(bad.recipients, 'r', sizeof bad.recipients);
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    bad = m;
    memset(bad.case_ref, 'c', sizeof bad.case_ref);
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    bad = m;
    memset(bad.state, 's', sizeof bad.state);
    assert_int_equal(am_cstore_put(s, &bad, NULL), AM_EINVAL);
    expect_list(s, AM_CLIST_UNSENT, ""); /* none of them stored */

    assert_int_equal(am_cstore_put(NULL, &m, NULL), AM_EINVAL);
    assert_int_equal(am_cstore_put(s, NULL, NULL), AM_EINVAL);
    assert_int_equal(am_cstore_resolve(s, NULL, m.id), AM_EINVAL);
    assert_int_equal(am_cstore_open(NULL, &none), AM_EINVAL);
    assert_int_equal(am_cstore_open("", &none), AM_EINVAL);
    assert_int_equal(am_cstore_open("/nonexistent-amanat/store.db", &none),
                     AM_EIO);
    assert_null(none);
    am_cstore_close(NULL);
    am_cstore_close(s);
}

static void test_alloc_failures(void **state)
{
    t_alloc_ctx_t ac = {0};
    am_cstore_t *s = NULL;
    am_cmsg_t m = msg('A', false, "emergency", 3, 100), got;
    uint8_t *bufs = NULL, *c = NULL, *p = NULL, *b = NULL;
    size_t clen = 0, plen = 0, len = 0;
    uint64_t seq = 0;
    int64_t at = 0;
    size_t fail_at;
    int rc;

    (void)state;
    /* each allocation of open in turn */
    for (fail_at = 1; fail_at < 10; fail_at++) {
        ac = (t_alloc_ctx_t){.fail_at = fail_at};
        am_alloc_set_hook(t_alloc_hook, &ac);
        rc = am_cstore_open(path, &s);
        am_alloc_set_hook(NULL, NULL);
        if (rc == AM_OK)
            break;
        assert_int_equal(rc, AM_ENOMEM);
        assert_null(s);
    }
    assert_int_equal(fail_at, 3); /* the store, then its path */
    put(s, &m);
    assert_int_equal(am_cstore_dir_put(s, "DE-BKA", (const uint8_t *)"c", 1,
                                       (const uint8_t *)"p", 1, 1), AM_OK);
    assert_int_equal(am_cstore_crl_put(s, 2, (const uint8_t *)"l", 1), AM_OK);

    ac = (t_alloc_ctx_t){.fail_at = 1};
    am_alloc_set_hook(t_alloc_hook, &ac);
    assert_int_equal(am_cstore_get(s, m.id, &got, &bufs), AM_ENOMEM);
    assert_null(bufs);
    for (size_t i = 1; i <= 2; i++) { /* the certificate, the prekey */
        ac = (t_alloc_ctx_t){.fail_at = i};
        assert_int_equal(am_cstore_dir_get(s, "DE-BKA", &c, &clen, &p, &plen,
                                           &at), AM_ENOMEM);
        assert_null(c);
        assert_null(p);
    }
    ac = (t_alloc_ctx_t){.fail_at = 1};
    assert_int_equal(am_cstore_crl_get(s, &seq, &b, &len), AM_ENOMEM);
    assert_null(b);
    am_alloc_set_hook(NULL, NULL);
    /* and all is well after */
    assert_int_equal(am_cstore_get(s, m.id, &got, &bufs), AM_OK);
    am_free(bufs);
    am_cstore_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_damaged_message, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_damaged_other, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_bad_input, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_alloc_failures, make_dir,
                                        remove_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
