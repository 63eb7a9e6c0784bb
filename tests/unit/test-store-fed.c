/* The store's part in federation (relay/store_fed.c, docs/PROTOCOL.md
 * section 18): one copy per peer relay whatever the number of its
 * agencies, a peer's accepted evidence ending that copy (only when it
 * names the envelope stored), evidence from a peer kept for the sender
 * only about a copy forwarded there for that agency, evidence owed to the
 * relay an envelope came from, expiry of a copy still waiting per agency,
 * and a store made before federation opened and extended. */
#include "fixture-store.h"

/* Message id from PK-NCCIA to DE-BKA and DE-LKA (homed at DE-RELAY) and
 * PK-FIA (homed here). */
static am_store_put_t three(uint8_t id, int64_t expires_at)
{
    am_store_put_t m = msg(id, AM_PRIORITY_URGENT, "DE-BKA", "DE-LKA");

    snprintf(m.recipients[2], sizeof m.recipients[2], "%s", "PK-FIA");
    m.n_recipients = 3;
    snprintf(m.via[0], sizeof m.via[0], "%s", "DE-RELAY");
    snprintf(m.via[1], sizeof m.via[1], "%s", "DE-RELAY");
    m.expires_at = expires_at;
    return m;
}

/* Evidence of kind from a peer relay about id (the bytes stand for the
 * signed Evidence; the store keeps them as they are). */
static am_store_notice_t evidence(int kind, uint8_t id, uint8_t hash,
                                  const char *recipient)
{
    am_store_notice_t n = {0};

    n.kind = kind;
    memset(n.message_id, id, sizeof n.message_id);
    memset(n.envelope_hash, hash, sizeof n.envelope_hash);
    snprintf(n.recipient, sizeof n.recipient, "%s", recipient);
    n.time = 150;
    n.evidence_len = 40;
    memset(n.evidence, 0xE0 + kind, n.evidence_len);
    return n;
}

static int forwarded(am_store_t *s, uint8_t id, const am_store_notice_t *n)
{
    result_t r = {0};
    uint8_t mid[AM_MSG_ID_LEN];

    memset(mid, id, sizeof mid);
    assert_int_equal(am_store_forwarded(s, "DE-RELAY", mid, n, 120, done_cb,
                                        &r), AM_OK);
    wait_for(s, &r, 1);
    return r.rc;
}

static int noted(am_store_t *s, const char *relay, const am_store_notice_t *n)
{
    result_t r = {0};

    assert_int_equal(am_store_notice_put(s, relay, n, done_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    return r.rc;
}

static void test_one_copy_per_relay(void **state)
{
    am_store_put_t m = three(1, 2000000000);
    am_store_notice_t acc = evidence(1, 1, 1, "DE-RELAY");
    am_store_notice_t wrong = evidence(1, 1, 9, "DE-RELAY");
    am_store_t *s;
    notices_t n;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 100, AM_OK);
    assert_int_equal(next(s, "DE-RELAY").n, 1); /* one copy for two */
    assert_int_equal(next(s, "DE-BKA").n, 0);
    assert_int_equal(next(s, "PK-FIA").n, 1);
    /* accepted evidence naming another envelope ends nothing */
    assert_int_equal(forwarded(s, 1, &wrong), AM_ECRYPTO);
    assert_int_equal(next(s, "DE-RELAY").n, 1);
    assert_int_equal(owed(s, "PK-NCCIA").n, 0);
    assert_int_equal(forwarded(s, 1, &acc), AM_OK);
    assert_int_equal(forwarded(s, 1, &acc), AM_OK); /* answered twice */
    assert_int_equal(next(s, "DE-RELAY").n, 0);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 1);
    assert_int_equal(n.got[0].kind, 1);
    assert_string_equal(n.got[0].recipient, "DE-RELAY");
    assert_int_equal(n.got[0].evidence_len, acc.evidence_len);
    assert_memory_equal(n.got[0].evidence, acc.evidence, acc.evidence_len);
    /* the local recipient still has it; the body stays until then */
    assert_int_equal(ack(s, "PK-FIA", 1), AM_OK);
    settle(s);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 2);
    assert_int_equal(n.got[1].kind, 2);
    assert_int_equal(n.got[1].evidence_len, 0); /* signed when sent */
    am_store_close(s);
}

static void test_evidence_from_peer(void **state)
{
    am_store_put_t m = three(2, 2000000000);
    am_store_notice_t del = evidence(2, 2, 2, "DE-BKA");
    am_store_notice_t other = evidence(2, 2, 2, "PH-NBI");
    am_store_notice_t bad = evidence(2, 2, 7, "DE-LKA");
    am_store_notice_t none = evidence(2, 9, 9, "DE-BKA");
    am_store_t *s;
    notices_t n;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 100, AM_OK);
    assert_int_equal(noted(s, "DE-RELAY", &del), AM_OK);
    assert_int_equal(noted(s, "PH-RELAY", &del), AM_EKEY); /* not sent there */
    assert_int_equal(noted(s, "DE-RELAY", &other), AM_EKEY); /* not for it */
    assert_int_equal(noted(s, "DE-RELAY", &bad), AM_ECRYPTO);
    assert_int_equal(noted(s, "DE-RELAY", &none), AM_EKEY);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 1);
    assert_int_equal(n.got[0].kind, 2);
    assert_string_equal(n.got[0].recipient, "DE-BKA");
    assert_memory_equal(n.got[0].evidence, del.evidence, del.evidence_len);
    am_store_close(s);
}

static void test_refused_and_routed(void **state)
{
    am_store_put_t m = three(3, 2000000000);
    am_store_put_t in = msg(4, AM_PRIORITY_ROUTINE, "PK-FIA", NULL);
    result_t r = {0};
    uint8_t mid[AM_MSG_ID_LEN];
    am_store_t *s;
    notices_t n;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 100, AM_OK);
    memset(mid, 3, sizeof mid);
    assert_int_equal(am_store_refused(s, "DE-RELAY", mid, 120, done_cb, &r),
                     AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, AM_OK);
    assert_int_equal(next(s, "DE-RELAY").n, 0);
    assert_int_equal(owed(s, "PK-NCCIA").n, 0); /* nothing to prove */
    /* forwarded here by DE-RELAY: what PK-FIA does is owed to that relay */
    snprintf(in.sender, sizeof in.sender, "%s", "DE-BKA");
    snprintf(in.route, sizeof in.route, "%s", "DE-RELAY");
    put(s, &in, 100, AM_OK);
    assert_int_equal(ack(s, "PK-FIA", 4), AM_OK);
    settle(s);
    assert_int_equal(owed(s, "DE-BKA").n, 0);
    n = owed(s, "DE-RELAY");
    assert_int_equal(n.n, 1);
    assert_string_equal(n.got[0].recipient, "PK-FIA");
    am_store_close(s);
}

static void expired_cb(void *ctx, int rc,
                       const char (*senders)[AM_AGENCY_ID_MAX + 1],
                       size_t n_listed, size_t n)
{
    result_t *r = ctx;

    (void)senders;
    (void)n_listed;
    r->calls++;
    r->rc = rc;
    r->n = n;
}

static void test_copy_expires_per_agency(void **state)
{
    am_store_put_t m = three(5, 1500);
    result_t r = {0};
    am_store_t *s;
    notices_t n;

    (void)state;
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 100, AM_OK);
    assert_int_equal(am_store_expire(s, 1600, expired_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, AM_OK);
    n = owed(s, "PK-NCCIA");
    assert_int_equal(n.n, 3); /* DE-BKA, DE-LKA (the copy), PK-FIA */
    for (size_t i = 0; i < n.n; i++) {
        assert_int_equal(n.got[i].kind, 3);
        assert_string_not_equal(n.got[i].recipient, "DE-RELAY");
    }
    am_store_close(s);
}

/* The schema before federation: the store opens and gains the columns. */
static void test_store_from_before(void **state)
{
    char path[128];
    sqlite3 *db;
    am_store_t *s;
    am_store_put_t m = three(6, 2000000000);

    (void)state;
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " message_id BLOB NOT NULL UNIQUE, envelope_hash BLOB NOT NULL,"
        " sender TEXT NOT NULL, priority INTEGER NOT NULL,"
        " expires_at INTEGER NOT NULL, accepted_at INTEGER NOT NULL,"
        " envelope BLOB);"
        "CREATE TABLE deliveries (seq INTEGER NOT NULL, recipient TEXT NOT NULL,"
        " state INTEGER NOT NULL, priority INTEGER NOT NULL, acked_at INTEGER,"
        " PRIMARY KEY (recipient, seq));"
        "CREATE TABLE notices (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " sender TEXT NOT NULL, kind INTEGER NOT NULL, message_id BLOB NOT NULL,"
        " envelope_hash BLOB NOT NULL, recipient TEXT NOT NULL,"
        " time INTEGER NOT NULL, state INTEGER NOT NULL,"
        " UNIQUE (kind, message_id, recipient));", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(am_store_open(dir, NULL, NULL, &s), AM_OK);
    put(s, &m, 100, AM_OK);
    assert_int_equal(next(s, "DE-RELAY").n, 1);
    am_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_copy_per_relay, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_evidence_from_peer, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_refused_and_routed, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_copy_expires_per_agency,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_store_from_before, make_dir,
                                        remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
