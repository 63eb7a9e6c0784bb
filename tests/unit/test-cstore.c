/* The client's local store: every field round trips, a message is never
 * stored twice, the file is private, everything survives a reopen, the
 * three lists' orders, id prefixes, events, the directory cache, the
 * revocation list and transactions.  Refusals: test-cstore-robust.c. */
#include "fixture-cstore.h"

static void test_round_trip(void **state)
{
    am_cstore_t *s = open_store();
    am_cmsg_t m = msg('R', true, "reply", AM_PRIORITY_URGENT, 1700000000);
    am_cmsg_t got;
    uint8_t *bufs = NULL;

    (void)state;
    m.sent = true;
    m.deadline = 1700086400;
    m.has_reply_to = true;
    memset(m.in_reply_to, 0x5a, sizeof m.in_reply_to);
    snprintf(m.case_ref, sizeof m.case_ref, "%s", "BKA-2024-117/3");
    m.read_at = 1700000500;
    snprintf(m.state, sizeof m.state, "%s", "answered");
    put(s, &m);
    assert_int_equal(am_cstore_get(s, m.id, &got, &bufs), AM_OK);
    assert_memory_equal(got.id, m.id, AM_MSG_ID_LEN);
    assert_true(got.outgoing);
    assert_true(got.sent);
    assert_string_equal(got.sender, "PK-NCCIA");
    assert_string_equal(got.recipients, "DE-BKA,PH-NBI");
    assert_string_equal(got.kind, "reply");
    assert_int_equal(got.priority, AM_PRIORITY_URGENT);
    assert_int_equal(got.created_at, 1700000000);
    assert_int_equal(got.expires_at, 1700000000 + 86400);
    assert_int_equal(got.deadline, 1700086400);
    assert_true(got.has_reply_to);
    assert_memory_equal(got.in_reply_to, m.in_reply_to, AM_MSG_ID_LEN);
    assert_string_equal(got.case_ref, "BKA-2024-117/3");
    assert_int_equal(got.envelope_len, sizeof env_bytes);
    assert_memory_equal(got.envelope, env_bytes, sizeof env_bytes);
    assert_int_equal(got.content_len, sizeof content_bytes);
    assert_memory_equal(got.content, content_bytes, sizeof content_bytes);
    assert_int_equal(got.stored_at, 1700000001);
    assert_int_equal(got.read_at, 1700000500);
    assert_string_equal(got.state, "answered");
    /* one buffer: envelope then content */
    assert_ptr_equal(got.envelope, bufs);
    assert_ptr_equal(got.content, bufs + got.envelope_len);
    am_free(bufs);
    am_cstore_close(s);
}

/* The other way round: incoming, unsent, unread, no reply-to, no content
 * bytes; and a message that is not there. */
static void test_round_trip_empty(void **state)
{
    am_cstore_t *s = open_store();
    am_cmsg_t got, in = msg('I', false, "emergency", AM_PRIORITY_EMERGENCY,
                            1700000100);
    uint8_t *bufs = NULL, none[AM_MSG_ID_LEN];

    (void)state;
    in.content = NULL;
    in.content_len = 0;
    put(s, &in);
    bufs = NULL;
    assert_int_equal(am_cstore_get(s, in.id, &got, &bufs), AM_OK);
    assert_false(got.outgoing);
    assert_false(got.sent);
    assert_false(got.has_reply_to);
    assert_int_equal(got.priority, AM_PRIORITY_EMERGENCY);
    assert_int_equal(got.read_at, 0);
    assert_int_equal(got.deadline, 0);
    assert_string_equal(got.state, "");
    assert_string_equal(got.case_ref, "");
    assert_int_equal(got.content_len, 0);
    assert_memory_equal(got.envelope, env_bytes, sizeof env_bytes);
    am_free(bufs);

    memset(none, 0xee, sizeof none);
    bufs = NULL;
    assert_int_equal(am_cstore_get(s, none, &got, &bufs), AM_EKEY);
    assert_string_equal(am_err_detail(),
                        "no message eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    assert_null(bufs);
    am_cstore_close(s);
}

static void test_put_twice(void **state)
{
    static const uint8_t other[] = "other content";
    am_cstore_t *s = open_store();
    am_cmsg_t m = msg('D', false, "disclosure", 1, 100), again = m, got;
    uint8_t *bufs = NULL;
    bool existed = false;

    (void)state;
    put(s, &m);
    again.content = other;
    again.content_len = sizeof other;
    again.priority = AM_PRIORITY_EMERGENCY;
    snprintf(again.state, sizeof again.state, "%s", "refused");
    assert_int_equal(am_cstore_put(s, &again, &existed), AM_OK);
    assert_true(existed);
    assert_int_equal(am_cstore_put(s, &again, NULL), AM_OK);
    assert_int_equal(am_cstore_get(s, m.id, &got, &bufs), AM_OK);
    assert_int_equal(got.content_len, sizeof content_bytes);
    assert_memory_equal(got.content, content_bytes, sizeof content_bytes);
    assert_int_equal(got.priority, 1);
    assert_string_equal(got.state, "");
    am_free(bufs);
    expect_list(s, AM_CLIST_INBOX, "D");
    am_cstore_close(s);
}

static void test_file_mode(void **state)
{
    /* with this umask SQLite alone would make the file 0644 */
    mode_t old = umask(022);
    am_cstore_t *s = open_store();
    am_cmsg_t m = msg('F', true, "preservation", 1, 100);
    char wal[160];
    struct stat st;

    (void)state;
    put(s, &m);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(wal, sizeof wal, "%s-wal", path);
    assert_int_equal(stat(wal, &st), 0); /* WAL mode */
    assert_int_equal(st.st_mode & 0777, 0600);
    am_cstore_close(s);
    umask(old);
}

static void test_reopen(void **state)
{
    static const uint8_t cert[] = "cert of DE-BKA", crl[] = "crl seven";
    am_cstore_t *s = open_store();
    am_cmsg_t a = msg('A', false, "emergency", 3, 100);
    am_cmsg_t b = msg('B', true, "disclosure", 1, 200), got;
    am_cevent_t e = event('B', "queued", "relay", 201, 0, "");
    uint8_t *bufs = NULL, *c = NULL, *p = NULL, *l = NULL;
    size_t clen = 0, plen = 0, llen = 0;
    uint64_t seq = 0;
    int64_t at = 0;

    (void)state;
    put(s, &a);
    put(s, &b);
    assert_int_equal(am_cstore_mark_read(s, a.id, 150), AM_OK);
    e.signed_bytes = evidence_queued;
    e.signed_len = sizeof evidence_queued;
    add_event(s, &e);
    assert_int_equal(am_cstore_dir_put(s, "DE-BKA", cert, sizeof cert, NULL,
                                       0, 300), AM_OK);
    assert_int_equal(am_cstore_crl_put(s, 7, crl, sizeof crl), AM_OK);
    am_cstore_close(s);

    s = open_store();
    assert_int_equal(am_cstore_get(s, a.id, &got, &bufs), AM_OK);
    assert_int_equal(got.read_at, 150);
    assert_memory_equal(got.content, content_bytes, sizeof content_bytes);
    am_free(bufs);
    expect_list(s, AM_CLIST_INBOX, "A");
    expect_list(s, AM_CLIST_SENT, "B");
    expect_list(s, AM_CLIST_UNSENT, "B");
    expect_events(s, 'B', "queued/relay/201/-/;");
    assert_int_equal(am_cstore_dir_get(s, "DE-BKA", &c, &clen, &p, &plen,
                                       &at), AM_OK);
    assert_int_equal(clen, sizeof cert);
    assert_memory_equal(c, cert, sizeof cert);
    assert_int_equal(at, 300);
    assert_int_equal(am_cstore_crl_get(s, &seq, &l, &llen), AM_OK);
    assert_int_equal(seq, 7);
    assert_int_equal(llen, sizeof crl);
    assert_memory_equal(l, crl, sizeof crl);
    am_free(c);
    am_free(p);
    am_free(l);
    am_cstore_close(s);
}

typedef struct {
    am_cstore_t *s;
    int same_list, other_list, get;
    size_t n;
} nest_t;

/* A callback may read the store, but not restart its own walk. */
static int nest_cb(void *ctx, const am_cmsg_t *m)
{
    nest_t *r = ctx;
    seen_t inner = {0};
    am_cmsg_t got;
    uint8_t *bufs = NULL;

    /* once: without the guard the inner walk would reset the outer one,
     * which would then start over (6 calls, not 5) */
    if (r->n++ == 0) {
        r->same_list = am_cstore_list(r->s, AM_CLIST_INBOX, collect_cb,
                                      &inner);
        r->other_list = am_cstore_list(r->s, AM_CLIST_SENT, collect_cb,
                                       &inner);
    }
    r->get = am_cstore_get(r->s, m->id, &got, &bufs);
    am_free(bufs);
    return 0;
}

static void test_list_orders(void **state)
{
    am_cstore_t *s = open_store();
    am_cmsg_t m[] = {
        /* incoming */
        msg('A', false, "emergency", 3, 100),       /* read */
        msg('B', false, "disclosure", 1, 300),      /* unread */
        msg('C', false, "preservation", 3, 200),    /* unread */
        msg('D', false, "emergency", 3, 250),       /* unread */
        msg('E', false, "reply", 3, 900),           /* not listed */
        msg('F', false, "receipt", 3, 901),         /* not listed */
        msg('G', false, "notification", 1, 400),    /* read */
        /* outgoing */
        msg('S', true, "disclosure", 1, 500),       /* sent */
        msg('T', true, "preservation", 2, 100),     /* unsent */
        msg('U', true, "emergency", 3, 300),        /* sent */
        msg('V', true, "reply", 1, 50),             /* unsent, not in sent */
        msg('W', true, "victimIdentification", 1, 100), /* unsent */
    };
    seen_t stop = {.stop_after = 2};
    nest_t nest = {0};

    (void)state;
    m[0].read_at = 110;
    m[6].read_at = 410;
    m[7].sent = true;
    m[9].sent = true;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        put(s, &m[i]);
    /* unread first, then priority, then newest */
    expect_list(s, AM_CLIST_INBOX, "DCBAG");
    /* oldest first; the same created_at in stored order */
    expect_list(s, AM_CLIST_SENT, "TWUS");
    /* stored order, any kind */
    expect_list(s, AM_CLIST_UNSENT, "TVW");

    assert_int_equal(am_cstore_mark_read(s, m[1].id, 1000), AM_OK);
    expect_list(s, AM_CLIST_INBOX, "DCAGB");
    assert_int_equal(am_cstore_mark_sent(s, m[8].id), AM_OK);
    expect_list(s, AM_CLIST_UNSENT, "VW");

    /* the callback's non-zero return stops the walk and is returned */
    assert_int_equal(am_cstore_list(s, AM_CLIST_INBOX, collect_cb, &stop), 7);
    assert_string_equal(stop.tags, "DC");

    nest.s = s;
    assert_int_equal(am_cstore_list(s, AM_CLIST_INBOX, nest_cb, &nest), AM_OK);
    assert_int_equal(nest.n, 5);
    assert_int_equal(nest.same_list, AM_ESTATE);
    assert_int_equal(nest.other_list, AM_OK);
    assert_int_equal(nest.get, AM_OK);
    /* and the walk is usable again afterwards */
    expect_list(s, AM_CLIST_INBOX, "DCAGB");

    assert_int_equal(am_cstore_list(s, 3, collect_cb, &stop), AM_EINVAL);
    assert_int_equal(am_cstore_list(s, -1, collect_cb, &stop), AM_EINVAL);
    assert_int_equal(am_cstore_list(s, AM_CLIST_SENT, NULL, NULL), AM_EINVAL);
    am_cstore_close(s);
}

static void test_marks(void **state)
{
    am_cstore_t *s = open_store();
    am_cmsg_t m = msg('M', false, "disclosure", 1, 100), got;
    uint8_t *bufs = NULL, none[AM_MSG_ID_LEN];

    (void)state;
    put(s, &m);
    assert_int_equal(am_cstore_mark_read(s, m.id, 1000), AM_OK);
    /* read once: the first time stays */
    assert_int_equal(am_cstore_mark_read(s, m.id, 2000), AM_OK);
    assert_int_equal(am_cstore_mark_sent(s, m.id), AM_OK);
    assert_int_equal(am_cstore_set_state(s, m.id, "acknowledged"), AM_OK);
    assert_int_equal(am_cstore_set_state(s, m.id, "refused"), AM_OK);
    assert_int_equal(am_cstore_get(s, m.id, &got, &bufs), AM_OK);
    assert_int_equal(got.read_at, 1000);
    assert_true(got.sent);
    assert_string_equal(got.state, "refused");
    am_free(bufs);

    id_of('Z', none);
    assert_int_equal(am_cstore_mark_read(s, none, 5), AM_EKEY);
    assert_int_equal(am_cstore_mark_sent(s, none), AM_EKEY);
    assert_int_equal(am_cstore_set_state(s, none, "answered"), AM_EKEY);
    assert_string_equal(am_err_detail(),
                        "no message 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
    assert_int_equal(am_cstore_set_state(s, m.id, "0123456789abcdef"),
                     AM_EINVAL);
    assert_int_equal(am_cstore_mark_read(s, m.id, 0), AM_EINVAL);
    am_cstore_close(s);
}

static void hex_id(const char *hex, uint8_t id[AM_MSG_ID_LEN])
{
    for (size_t i = 0; i < AM_MSG_ID_LEN; i++) {
        unsigned v = 0;

        for (size_t j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        id[i] = (uint8_t)v;
    }
}

static void test_resolve(void **state)
{
    static const char *const ids[] = {
        "abcdef01000000000000000000000000", "abcdef02000000000000000000000000",
        "abcdf000000000000000000000000000", "abcdeeffffffffffffffffffffffffff",
        "12345600000000000000000000000000", "ffffffffffffffffffffffffffffffff",
        /* a prefix ending in f: its range ends at 123460, not 12346f */
        "12345f01000000000000000000000000", "12346e00000000000000000000000000",
    };
    am_cstore_t *s = open_store();
    uint8_t want[8][AM_MSG_ID_LEN], id[AM_MSG_ID_LEN];
    static const struct {
        const char *hex;
        int which;
    } found[] = {
        {"abcdef01", 0}, {"ABCDEF02", 1}, {"abcdf0", 2}, {"abcdee", 3},
        {"123456", 4},   {"ffffff", 5},   {"12345f", 6},
        {"12346e", 7},   {"AbCdEf01000000000000000000000000", 0},
    };
    static const struct {
        const char *hex;
        int rc;
        const char *says;
    } refused[] = {
        {"abcdef", AM_EINVAL, "message id abcdef is ambiguous: give more "
                              "digits"},
        {"abcdef0", AM_EINVAL, "message id abcdef0 is ambiguous: give more "
                               "digits"},
        {"999999", AM_EKEY, "no message starts with 999999"},
        {"abcde", AM_EINVAL, "message id \"abcde\": give 6 to 32 hex digits"},
        {"", AM_EINVAL, "message id \"\": give 6 to 32 hex digits"},
        {"abcdeg", AM_EINVAL, "message id \"abcdeg\": character 6 is not a "
                              "hex digit"},
        {"abcdef01 ", AM_EINVAL, "message id \"abcdef01 \": character 9 is "
                                 "not a hex digit"},
        {"abcdef010000000000000000000000000", AM_EINVAL,
         "message id \"abcdef010000000000000000000000000\": give 6 to 32 "
         "hex digits"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        am_cmsg_t m = msg('x', false, "disclosure", 1, 100);

        hex_id(ids[i], want[i]);
        memcpy(m.id, want[i], AM_MSG_ID_LEN);
        put(s, &m);
    }
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++) {
        memset(id, 0, sizeof id);
        if (am_cstore_resolve(s, found[i].hex, id) != AM_OK)
            fail_msg("resolve %s: %s", found[i].hex, am_err_detail());
        assert_memory_equal(id, want[found[i].which], AM_MSG_ID_LEN);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        memset(id, 0x33, sizeof id);
        assert_int_equal(am_cstore_resolve(s, refused[i].hex, id),
                         refused[i].rc);
        assert_string_equal(am_err_detail(), refused[i].says);
        assert_int_equal(id[0], 0x33); /* untouched */
    }
    am_cstore_close(s);
}

static void test_events(void **state)
{
    am_cstore_t *s = open_store();
    am_cevent_t q = event('X', "queued", "relay", 10, 0, "");
    am_cevent_t dup_q = event('X', "queued", "relay", 99, 0, "dup");
    am_cevent_t dup_s = event('X', "answered", "DE-BKA", 5, 'S', "dup");
    am_cevent_t big = event('X', "received", "DE-BKA", 1, 0, "");
    events_t stop = {.stop_after = 2};
    uint8_t x[AM_MSG_ID_LEN];

    (void)state;
    q.signed_bytes = evidence_queued;
    q.signed_len = sizeof evidence_queued;
    add_event(s, &q);
    /* no source, twice: x'' is one value, so the second is a duplicate */
    add_event(s, &(am_cevent_t){0});
    add_event(s, &(am_cevent_t){0});
    {
        am_cevent_t d = event('X', "delivered", "DE-BKA", 20, 0, "");
        am_cevent_t a1 = event('X', "answered", "DE-BKA", 30, 'S', "see S");
        am_cevent_t a2 = event('X', "answered", "DE-BKA", 30, 'T', "");
        am_cevent_t first = event('X', "accepted", "relay", 5, 0, "");
        am_cevent_t other = event('Y', "queued", "relay", 1, 0, "");

        add_event(s, &d);
        add_event(s, &a1);
        add_event(s, &a2); /* another source: kept */
        add_event(s, &dup_q); /* same message, kind, party, no source */
        add_event(s, &dup_s); /* same source */
        add_event(s, &first);
        add_event(s, &other);
    }
    /* by time, then in the order recorded */
    expect_events(s, 'X', "accepted/relay/5/-/;queued/relay/10/-/;"
                          "delivered/DE-BKA/20/-/;answered/DE-BKA/30/S/see S;"
                          "answered/DE-BKA/30/T/;");
    expect_events(s, 'Y', "queued/relay/1/-/;");
    expect_events(s, 'N', "");
    expect_events(s, 0, "//0/-/;");
    {
        events_t r = {0};

        id_of('X', x);
        assert_int_equal(am_cstore_events(s, x, event_cb, &r), AM_OK);
        assert_int_equal(r.signed_seen, 1);
        assert_int_equal(am_cstore_events(s, x, event_cb, &stop), 9);
        assert_int_equal(stop.n, 2);
    }
    big.signed_bytes = evidence_queued;
    big.signed_len = 1025; /* over a SignedReceipt's AM_RECEIPT_MAX */
    assert_int_equal(am_cstore_event(s, &big), AM_EINVAL);
    big.signed_len = 0;
    memset(big.party, 'P', sizeof big.party);
    assert_int_equal(am_cstore_event(s, &big), AM_EINVAL);
    expect_events(s, 'X', "accepted/relay/5/-/;queued/relay/10/-/;"
                          "delivered/DE-BKA/20/-/;answered/DE-BKA/30/S/see S;"
                          "answered/DE-BKA/30/T/;");
    am_cstore_close(s);
}

static void test_dir(void **state)
{
    static const uint8_t one[] = "certificate one", two[] = "certificate 2";
    static const uint8_t pk[] = "signed prekey";
    static uint8_t large[AM_CERT_MAX + 1];
    am_cstore_t *s = open_store();
    uint8_t *c = NULL, *p = NULL;
    size_t clen = 0, plen = 99;
    int64_t at = 0;

    (void)state;
    assert_int_equal(am_cstore_dir_put(s, "DE-BKA", one, sizeof one, NULL, 0,
                                       100), AM_OK);
    assert_int_equal(am_cstore_dir_get(s, "DE-BKA", &c, &clen, &p, &plen,
                                       &at), AM_OK);
    assert_int_equal(clen, sizeof one);
    assert_memory_equal(c, one, sizeof one);
    assert_null(p);
    assert_int_equal(plen, 0);
    assert_int_equal(at, 100);
    am_free(c);

    assert_int_equal(am_cstore_dir_put(s, "DE-BKA", two, sizeof two, pk,
                                       sizeof pk, 200), AM_OK);
    assert_int_equal(am_cstore_dir_get(s, "DE-BKA", &c, &clen, &p, &plen,
                                       &at), AM_OK);
    assert_int_equal(clen, sizeof two);
    assert_memory_equal(c, two, sizeof two);
    assert_int_equal(plen, sizeof pk);
    assert_memory_equal(p, pk, sizeof pk);
    assert_int_equal(at, 200);
    am_free(c);
    am_free(p);

    /* the largest of each fits */
    assert_int_equal(am_cstore_dir_put(s, "PH-NBI", large, AM_CERT_MAX, large,
                                       AM_PREKEY_MAX, 300), AM_OK);
    assert_int_equal(am_cstore_dir_get(s, "PH-NBI", &c, &clen, &p, &plen,
                                       &at), AM_OK);
    assert_int_equal(clen, AM_CERT_MAX);
    assert_int_equal(plen, AM_PREKEY_MAX);
    am_free(c);
    am_free(p);

    c = p = NULL;
    assert_int_equal(am_cstore_dir_get(s, "GB-NCA", &c, &clen, &p, &plen,
                                       &at), AM_EKEY);
    assert_string_equal(am_err_detail(), "no certificate of GB-NCA cached");
    assert_null(c);
    assert_int_equal(am_cstore_dir_put(s, "GB-NCA", one, 0, NULL, 0, 1),
                     AM_EINVAL);
    assert_int_equal(am_cstore_dir_put(s, "GB-NCA", large, AM_CERT_MAX + 1,
                                       NULL, 0, 1), AM_EINVAL);
    assert_int_equal(am_cstore_dir_put(s, "GB-NCA", one, sizeof one, large,
                                       AM_PREKEY_MAX + 1, 1), AM_EINVAL);
    assert_int_equal(am_cstore_dir_put(s, "GB-NCA", one, sizeof one, NULL, 5,
                                       1), AM_EINVAL);
    assert_int_equal(am_cstore_dir_put(s, "nope", one, sizeof one, NULL, 0, 1),
                     AM_EINVAL);
    assert_int_equal(am_cstore_dir_get(s, "GB-NCA", &c, &clen, &p, &plen,
                                       &at), AM_EKEY);
    am_cstore_close(s);
}

static void expect_crl(am_cstore_t *s, uint64_t seq, const char *bytes)
{
    uint8_t marker, *b = &marker;
    uint64_t got = 12345;
    size_t len = 99;

    assert_int_equal(am_cstore_crl_get(s, &got, &b, &len), AM_OK);
    assert_int_equal(got, seq);
    if (bytes == NULL) {
        assert_null(b);
        assert_int_equal(len, 0);
        return;
    }
    assert_int_equal(len, strlen(bytes));
    assert_memory_equal(b, bytes, len);
    am_free(b);
}

static void test_crl(void **state)
{
    am_cstore_t *s = open_store();

    (void)state;
    expect_crl(s, 0, NULL);
    assert_int_equal(am_cstore_crl_put(s, 5, (const uint8_t *)"five", 4),
                     AM_OK);
    expect_crl(s, 5, "five");
    /* older and equal ones are ignored */
    assert_int_equal(am_cstore_crl_put(s, 3, (const uint8_t *)"three", 5),
                     AM_OK);
    assert_int_equal(am_cstore_crl_put(s, 5, (const uint8_t *)"again", 5),
                     AM_OK);
    expect_crl(s, 5, "five");
    assert_int_equal(am_cstore_crl_put(s, 6, (const uint8_t *)"six", 3),
                     AM_OK);
    expect_crl(s, 6, "six");
    assert_int_equal(am_cstore_crl_put(s, 0, (const uint8_t *)"z", 1),
                     AM_EINVAL);
    assert_int_equal(am_cstore_crl_put(s, (uint64_t)INT64_MAX + 1,
                                       (const uint8_t *)"z", 1), AM_EINVAL);
    assert_int_equal(am_cstore_crl_put(s, 9, (const uint8_t *)"z", 0),
                     AM_EINVAL);
    assert_int_equal(am_cstore_crl_put(s, 9, NULL, 1), AM_EINVAL);
    assert_int_equal(am_cstore_crl_put(s, INT64_MAX, (const uint8_t *)"max",
                                       3), AM_OK);
    expect_crl(s, INT64_MAX, "max");
    am_cstore_close(s);
}

static void test_transaction(void **state)
{
    am_cstore_t *s = open_store();
    am_cmsg_t a = msg('A', true, "disclosure", 1, 100);
    am_cmsg_t b = msg('B', false, "disclosure", 1, 100);
    am_cmsg_t c = msg('C', true, "emergency", 3, 100), got;
    am_cevent_t e = event('A', "queued", "relay", 1, 0, "");
    uint8_t *bufs = NULL;

    (void)state;
    assert_int_equal(am_cstore_begin(s), AM_OK);
    put(s, &a);
    put(s, &b);
    add_event(s, &e);
    assert_int_equal(am_cstore_crl_put(s, 4, (const uint8_t *)"four", 4),
                     AM_OK);
    assert_int_equal(am_cstore_begin(s), AM_ESTATE); /* no nesting */
    am_cstore_rollback(s);
    assert_int_equal(am_cstore_get(s, a.id, &got, &bufs), AM_EKEY);
    assert_int_equal(am_cstore_get(s, b.id, &got, &bufs), AM_EKEY);
    expect_list(s, AM_CLIST_SENT, "");
    expect_list(s, AM_CLIST_INBOX, "");
    expect_events(s, 'A', "");
    expect_crl(s, 0, NULL);

    assert_int_equal(am_cstore_commit(s), AM_ESTATE); /* none open */
    am_cstore_rollback(s);                            /* none: no-op */
    am_cstore_rollback(NULL);

    assert_int_equal(am_cstore_begin(s), AM_OK);
    put(s, &c);
    put(s, &b);
    assert_int_equal(am_cstore_commit(s), AM_OK);
    am_cstore_close(s);
    s = open_store();
    expect_list(s, AM_CLIST_SENT, "C");
    expect_list(s, AM_CLIST_INBOX, "B");
    /* the put of a put twice, inside a transaction, is still seen */
    assert_int_equal(am_cstore_begin(s), AM_OK);
    {
        bool existed = false;

        assert_int_equal(am_cstore_put(s, &c, &existed), AM_OK);
        assert_true(existed);
    }
    assert_int_equal(am_cstore_commit(s), AM_OK);
    am_cstore_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_round_trip_empty, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_put_twice, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_file_mode, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_reopen, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_list_orders, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_marks, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_resolve, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_events, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_dir, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_crl, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_transaction, make_dir,
                                        remove_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
