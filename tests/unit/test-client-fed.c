/* Relay evidence in a federation, as the client receives it: a
 * ReceiptRelay from DE-BKA's own relay (DE-RELAY) may carry evidence that
 * a peer relay (PH-RELAY, PH-NBI's home) signed, checked under that
 * relay's certificate from the directory (role relay, under the root and
 * the revocation list) and recorded; evidence signed with another key
 * than the named relay's is refused; accepted evidence is acknowledged
 * under the relay that signed it; an evidence bundle carries both relays'
 * certificates and verifies; the track of the request reads the peer
 * relay's delivered evidence.
 *
 * The client is the real library on a profile folder, with the fuzz
 * targets' stand-in for the relay session (tests/fuzz/fuzz_client.h):
 * it answers directory lookups honestly (PH-RELAY's certificate among
 * them) or with a scripted frame, and shows the test every frame the
 * client sends. */
#include "test-util.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "bundle.h"
#include "client_int.h"
#include "err.h"
#include "fuzz_client_store.h"
#include "track.h"

#define T0 (AM_FZ_NOW + 100) /* evidence times: after the sent message */
#define REFS_MAX 16

typedef struct {
    int kind;
    uint8_t id[AM_MSG_ID_LEN];
    char who[AM_AGENCY_ID_MAX + 1];
} ref_t;

static struct {
    char home[AM_FZC_PATH];
    am_client_t *c;
    ref_t refs[REFS_MAX]; /* of the ReceiptAcks sent */
    size_t n_refs;
} T;

/* A piece of evidence about DE-BKA's sent message. */
typedef struct {
    Amanat__V1__Evidence e;
    uint8_t *body;
    uint8_t sig[AM_SIG_LEN];
} piece_t;

static void on_sent(void *ctx, const Amanat__V1__Frame *f)
{
    (void)ctx;
    if (f->op_case != AMANAT__V1__FRAME__OP_RECEIPT_ACK)
        return;
    for (size_t i = 0; i < f->receipt_ack->n_refs; i++) {
        const Amanat__V1__EvidenceRef *r = f->receipt_ack->refs[i];
        ref_t *t = &T.refs[T.n_refs++];

        assert_true(T.n_refs <= REFS_MAX);
        assert_int_equal(r->message_id.len, AM_MSG_ID_LEN);
        t->kind = (int)r->kind;
        memcpy(t->id, r->message_id.data, AM_MSG_ID_LEN);
        snprintf(t->who, sizeof t->who, "%s", r->recipient_id);
    }
}

/* What fuzz_client_receive's store holds: the revocation list, the
 * message DE-BKA sent to PK-NCCIA and PH-NBI, their certificates and
 * DE-RELAY's (cl_connect keeps it); not PH-RELAY's. */
static void store_setup(am_client_t *c)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    const am_fz_fed_t *f = am_fz_fed();
    am_cmsg_t m = {0};

    am_fzc_sent_record(&m);
    assert_int_equal(cl_take_crl(c, f->crl_bytes, f->crl_len), 0);
    assert_int_equal(am_cstore_put(c->store, &m, NULL), 0);
    for (int i = AM_FZ_SENDER; i <= AM_FZ_THIRD; i += 2)
        assert_int_equal(am_cstore_dir_put(c->store, f->ag[i].id, x->cert[i],
                                           x->cert_len[i], NULL, 0,
                                           cl_now()), 0);
    assert_int_equal(am_cstore_dir_put(c->store, AM_FZC_RELAY_ID,
                                       x->relay_cert, x->relay_cert_len, NULL,
                                       0, cl_now()), 0);
}

static int group_setup(void **state)
{
    (void)state;
    am_fzc_home_make(T.home);
    return 0;
}

/* Each test: a new store, the stand-in session answering honestly. */
static int open_client(void **state)
{
    static const char *const files[] = {"store.db", "store.db-wal",
                                        "store.db-shm"};
    am_pass_source_t none = {-1, NULL, 1};
    char path[AM_FZC_PATH + 16];

    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", T.home, files[i]);
        (void)unlink(path);
    }
    if (am_client_open(T.home, &none, &T.c) != 0)
        return -1;
    store_setup(T.c);
    T.c->sess = am_fzc_session();
    T.c->receiving = true;
    return 0;
}

static int close_client(void **state)
{
    (void)state;
    am_fzc_session_begin(NULL, 0, NULL, NULL);
    T.c->sess = NULL; /* the stand-in's, not the client's to close */
    am_client_close(T.c);
    T.c = NULL;
    return 0;
}

/* Evidence of kind about the sent message (or, with hash, about other
 * bytes under its id), naming relay and rcpt, signed with sk. */
static void piece(piece_t *p, int kind, const char *relay, const char *rcpt,
                  const uint8_t *sk, const uint8_t *hash, int64_t t)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    size_t len;

    assert_int_equal(am_fzc_evidence_body(kind, x->sent_id,
                                          hash ? hash : x->sent_hash, relay,
                                          rcpt, t, &p->body, &len), 0);
    am_fzc_evidence(&p->e, p->body, len, sk, p->sig);
}

static void pieces_free(piece_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        am_free(p[i].body);
}

/* The pieces in one ReceiptRelay, the relay answering the client's first
 * request with script (a Frame, or NULL: honest answers). */
static int receipt_relay(piece_t *p, size_t n,
                         const Amanat__V1__Frame *script)
{
    Amanat__V1__ReceiptRelay r = AMANAT__V1__RECEIPT_RELAY__INIT;
    Amanat__V1__Evidence *ep[REFS_MAX];
    uint8_t *b = NULL;
    size_t len = 0;
    int rc;

    assert_true(n <= REFS_MAX);
    for (size_t i = 0; i < n; i++)
        ep[i] = &p[i].e;
    r.n_evidence = n;
    r.evidence = ep;
    if (script != NULL)
        assert_int_equal(am_fzc_frame_bytes(script, &b, &len), 0);
    T.n_refs = 0;
    T.c->next_req = 1;
    am_fzc_session_begin(b, len, on_sent, NULL);
    rc = cl_on_receipt_relay(T.c, &r);
    am_free(b);
    return rc;
}

/* The i-th reference acknowledged names kind, the sent message and who. */
static void ref_is(size_t i, int kind, const char *who)
{
    assert_true(i < T.n_refs);
    assert_int_equal(T.refs[i].kind, kind);
    assert_memory_equal(T.refs[i].id, am_fzc_fix()->sent_id, AM_MSG_ID_LEN);
    assert_string_equal(T.refs[i].who, who);
}

typedef struct {
    const char *kind, *party;
    const Amanat__V1__Evidence *e; /* its exact bytes kept as signed */
    size_t n;                      /* events seen */
    bool found;
} find_t;

static int find_cb(void *ctx, const am_cevent_t *ev)
{
    find_t *f = ctx;
    uint8_t buf[AM_EVIDENCE_MAX];
    size_t len;

    f->n++;
    if (f->kind == NULL || strcmp(ev->kind, f->kind) != 0 ||
        strcmp(ev->party, f->party) != 0)
        return 0;
    len = amanat__v1__evidence__get_packed_size(f->e);
    assert_true(len <= sizeof buf);
    amanat__v1__evidence__pack(f->e, buf);
    assert_int_equal(ev->signed_len, len);
    assert_memory_equal(ev->signed_bytes, buf, len);
    f->found = true;
    return 0;
}

/* Whether the sent message has the event (kind, party) with e's bytes;
 * *n: its events in all. */
static bool has_event(const char *kind, const char *party,
                      const Amanat__V1__Evidence *e, size_t *n)
{
    find_t f = {kind, party, e, 0, false};

    assert_true(am_cstore_events(T.c->store, am_fzc_fix()->sent_id, find_cb,
                                 &f) >= 0);
    if (n != NULL)
        *n = f.n;
    return f.found;
}

/* The certificate the client's directory cache holds for id, compared
 * with want (NULL: none held). */
static void cached_is(const char *id, const uint8_t *want, size_t want_len)
{
    uint8_t *cb = NULL, *pb = NULL;
    size_t clen = 0, plen = 0;
    int64_t at;
    int rc = am_cstore_dir_get(T.c->store, id, &cb, &clen, &pb, &plen, &at);

    if (want == NULL) {
        assert_int_not_equal(rc, 0);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(clen, want_len);
        assert_memory_equal(cb, want, want_len);
    }
    am_free(cb);
    am_free(pb);
}

/* DE-RELAY's own accepted and expired evidence (the expired for a
 * recipient homed at PK-RELAY, its copy not forwarded in time), and
 * PH-RELAY's accepted and delivered evidence for PH-NBI, passed on. */
static void federation_pieces(piece_t p[4])
{
    const am_fzc_fix_t *x = am_fzc_fix();

    piece(&p[0], AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY_ID, NULL,
          x->relay_sign_sk, NULL, T0);
    piece(&p[1], AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY2_ID, NULL,
          x->relay2_sign_sk, NULL, T0 + 10);
    piece(&p[2], AM_EVIDENCE_DELIVERED, AM_FZC_RELAY2_ID, "PH-NBI",
          x->relay2_sign_sk, NULL, T0 + 20);
    piece(&p[3], AM_EVIDENCE_EXPIRED, AM_FZC_RELAY_ID, "PK-NCCIA",
          x->relay_sign_sk, NULL, T0 + 30);
}

static void test_peer_relay_evidence_kept(void **state)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    piece_t p[4];
    size_t n;

    (void)state;
    federation_pieces(p);
    cached_is(AM_FZC_RELAY2_ID, NULL, 0);
    assert_int_equal(receipt_relay(p, 4, NULL), 0);
    /* PH-RELAY's certificate came from the directory, and is kept */
    assert_int_equal(am_fzc_session_log()->lookups, 1);
    cached_is(AM_FZC_RELAY2_ID, x->relay2_cert, x->relay2_cert_len);
    assert_true(has_event("accepted", AM_FZC_RELAY_ID, &p[0].e, NULL));
    assert_true(has_event("accepted", AM_FZC_RELAY2_ID, &p[1].e, NULL));
    assert_true(has_event("delivered", "PH-NBI", &p[2].e, NULL));
    assert_true(has_event("expired", "PK-NCCIA", &p[3].e, &n));
    assert_int_equal(n, 4);
    /* one ReceiptAck; accepted evidence named by the relay that signed */
    assert_int_equal(am_fzc_session_log()->receipt_acks, 1);
    assert_int_equal(T.n_refs, 4);
    ref_is(0, AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY_ID);
    ref_is(1, AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY2_ID);
    ref_is(2, AM_EVIDENCE_DELIVERED, "PH-NBI");
    ref_is(3, AM_EVIDENCE_EXPIRED, "PK-NCCIA");
    /* the same again (an acknowledgement lost): from the cache, once */
    assert_int_equal(receipt_relay(p, 4, NULL), 0);
    assert_int_equal(am_fzc_session_log()->lookups, 0);
    assert_int_equal(T.n_refs, 4);
    assert_true(has_event("expired", "PK-NCCIA", &p[3].e, &n));
    assert_int_equal(n, 4);
    pieces_free(p, 4);
}

/* Signed with a key that is not the named relay's certificate's, or by
 * no relay, or naming what is not ours: refused, kept nowhere, and
 * acknowledged (it would fail again). */
static void test_forged_evidence_refused(void **state)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    const uint8_t *pk_sk = am_fz_fed()->ag[AM_FZ_SENDER].sign_sk;
    uint8_t other_hash[AM_HASH_LEN];
    piece_t p[6];
    size_t n;

    (void)state;
    memset(other_hash, 0x5a, sizeof other_hash);
    /* DE-RELAY speaking for PH-RELAY; PH-RELAY for DE-RELAY */
    piece(&p[0], AM_EVIDENCE_DELIVERED, AM_FZC_RELAY2_ID, "PH-NBI",
          x->relay_sign_sk, NULL, T0);
    piece(&p[1], AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY_ID, NULL,
          x->relay2_sign_sk, NULL, T0);
    /* an agency's certificate is no relay's; a relay the directory does
     * not know */
    piece(&p[2], AM_EVIDENCE_ACCEPTED, "PK-NCCIA", NULL, pk_sk, NULL, T0);
    piece(&p[3], AM_EVIDENCE_DELIVERED, "FR-RELAY", "PH-NBI",
          x->relay2_sign_sk, NULL, T0);
    /* genuine PH-RELAY signatures about other bytes, or a non-recipient */
    piece(&p[4], AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY2_ID, NULL,
          x->relay2_sign_sk, other_hash, T0);
    piece(&p[5], AM_EVIDENCE_DELIVERED, AM_FZC_RELAY2_ID, "DE-BKA",
          x->relay2_sign_sk, NULL, T0);
    assert_int_equal(receipt_relay(p, 6, NULL), 0);
    assert_false(has_event(NULL, NULL, NULL, &n));
    assert_int_equal(n, 0);
    /* a lookup as a relay leaves PK-NCCIA's agency entry as it was */
    cached_is("PK-NCCIA", x->cert[AM_FZ_SENDER], x->cert_len[AM_FZ_SENDER]);
    cached_is("FR-RELAY", NULL, 0);
    assert_int_equal(am_fzc_session_log()->receipt_acks, 1);
    assert_int_equal(T.n_refs, 6);
    ref_is(0, AM_EVIDENCE_DELIVERED, "PH-NBI");
    ref_is(1, AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY_ID);
    ref_is(2, AM_EVIDENCE_ACCEPTED, "PK-NCCIA");
    ref_is(3, AM_EVIDENCE_DELIVERED, "PH-NBI");
    ref_is(4, AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY2_ID);
    ref_is(5, AM_EVIDENCE_DELIVERED, "DE-BKA");
    pieces_free(p, 6);
}

/* The relay cannot look PH-RELAY up now: the piece waits (no
 * acknowledgement, so it comes again), and is kept when it does. */
static void test_lookup_refused_for_now(void **state)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Error err = AMANAT__V1__ERROR__INIT;
    piece_t p[1];

    (void)state;
    piece(&p[0], AM_EVIDENCE_DELIVERED, AM_FZC_RELAY2_ID, "PH-NBI",
          am_fzc_fix()->relay2_sign_sk, NULL, T0);
    err.request_id = 1;
    err.code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
    err.message = "directory: store unavailable";
    f.op_case = AMANAT__V1__FRAME__OP_ERROR;
    f.error = &err;
    assert_int_equal(receipt_relay(p, 1, &f), 0);
    assert_int_equal(am_fzc_session_log()->lookups, 1);
    assert_int_equal(am_fzc_session_log()->receipt_acks, 0);
    assert_false(has_event("delivered", "PH-NBI", &p[0].e, NULL));
    assert_int_equal(receipt_relay(p, 1, NULL), 0);
    assert_int_equal(am_fzc_session_log()->receipt_acks, 1);
    assert_true(has_event("delivered", "PH-NBI", &p[0].e, NULL));
    pieces_free(p, 1);
}

/* A SubmitResult (or a Deliver) carries the session relay's own accepted
 * evidence: another relay's is refused there. */
static void test_own_relay_only_where_due(void **state)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    cl_evidence_t ev;
    piece_t p[1];

    (void)state;
    piece(&p[0], AM_EVIDENCE_ACCEPTED, AM_FZC_RELAY2_ID, NULL,
          x->relay2_sign_sk, NULL, T0);
    assert_int_equal(cl_check_evidence(T.c, &p[0].e, false, x->sent_id,
                                       x->sent_hash, &ev), AM_ECRYPTO);
    assert_int_equal(am_fzc_session_log()->lookups, 0);
    assert_int_equal(cl_check_evidence(T.c, &p[0].e, true, x->sent_id,
                                       x->sent_hash, &ev), 0);
    assert_string_equal(ev.ev.relay_id, AM_FZC_RELAY2_ID);
    pieces_free(p, 1);
}

/* Per recipient: PH-NBI delivered (PH-RELAY's word), PK-NCCIA expired
 * (DE-RELAY's); the request waits on PH-NBI. */
static void check_track(void)
{
    uint8_t *bufs = NULL;
    am_track_t t;
    am_cmsg_t m;

    assert_int_equal(am_cstore_get(T.c->store, am_fzc_fix()->sent_id, &m,
                                   &bufs), 0);
    assert_int_equal(am_track_of(T.c->store, &m, (int64_t)time(NULL), &t), 0);
    am_free(bufs);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.r[0].agency, "PK-NCCIA");
    assert_int_equal(t.r[0].state, AM_T_EXPIRED);
    assert_string_equal(t.r[1].agency, "PH-NBI");
    assert_int_equal(t.r[1].state, AM_T_DELIVERED);
    assert_int_equal(t.state, AM_T_DELIVERED);
}

static void fact_is(const am_bundle_fact_t *f, int kind, const char *signer,
                    const char *subject)
{
    assert_int_equal(f->kind, kind);
    assert_string_equal(f->signer, signer);
    assert_string_equal(f->subject, subject);
}

/* The bundle of a message two relays signed for carries both relays'
 * certificates (PH-RELAY's from the directory cache) and verifies. */
static void test_bundle_and_track(void **state)
{
    am_bundle_report_t *r = am_calloc(1, sizeof *r);
    uint8_t *b = NULL;
    size_t len = 0;
    piece_t p[4];

    (void)state;
    assert_non_null(r);
    federation_pieces(p);
    assert_int_equal(receipt_relay(p, 4, NULL), 0);
    check_track();
    assert_int_equal(am_client_bundle(T.c, am_fzc_fix()->sent_id, &b, &len),
                     0);
    assert_int_equal(am_bundle_verify(b, len, am_fz_fed()->root_pk, 0, r),
                     0);
    assert_int_equal(r->n_relays, 2);
    assert_string_equal(r->relays[0].agency_id, AM_FZC_RELAY_ID);
    assert_string_equal(r->relays[1].agency_id, AM_FZC_RELAY2_ID);
    assert_int_equal(r->n_facts, 5); /* sent, then the four in time order */
    fact_is(&r->facts[1], AM_FACT_ACCEPTED, AM_FZC_RELAY_ID, "");
    fact_is(&r->facts[2], AM_FACT_ACCEPTED, AM_FZC_RELAY2_ID, "");
    fact_is(&r->facts[3], AM_FACT_DELIVERED, AM_FZC_RELAY2_ID, "PH-NBI");
    fact_is(&r->facts[4], AM_FACT_EXPIRED, AM_FZC_RELAY_ID, "PK-NCCIA");
    am_free(b);
    am_free(r);
    pieces_free(p, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_peer_relay_evidence_kept,
                                        open_client, close_client),
        cmocka_unit_test_setup_teardown(test_forged_evidence_refused,
                                        open_client, close_client),
        cmocka_unit_test_setup_teardown(test_lookup_refused_for_now,
                                        open_client, close_client),
        cmocka_unit_test_setup_teardown(test_own_relay_only_where_due,
                                        open_client, close_client),
        cmocka_unit_test_setup_teardown(test_bundle_and_track, open_client,
                                        close_client),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
