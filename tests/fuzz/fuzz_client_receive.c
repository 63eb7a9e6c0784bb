/* fuzz_client_receive: what the client does with the frames of a receiving
 * session (client_sync.c cl_on_deliver, client_loop.c cl_on_receipt_relay,
 * dispatched as on_frame does): envelopes with the relay's accepted
 * evidence, the relay's delivered and expired evidence, and inside an
 * opened envelope the case message whose receipt or reply becomes an event
 * of one of our requests.
 *
 * Input: one byte, then what it selects.
 *   bits 0-1  0, 3: the rest is a Frame body (Deliver and ReceiptRelay go
 *             to the client; other operations are ignored)
 *             1: a Deliver of an envelope sealed here (am_fz_seal_at): how
 *             (1 byte, AM_FZ_SEAL_* bits), rng seed (1), accepted evidence
 *             (1: 0 none, 1 DE-RELAY's, 2 DE-RELAY's of kind delivered,
 *             3 signed by PK-NCCIA), then the sealed content (the rest:
 *             the CaseMessage)
 *             2: a ReceiptRelay of pieces: how (1: bit 0 signed by
 *             PK-NCCIA instead of DE-RELAY, bit 1 signature damaged,
 *             bit 2 signed by PH-RELAY, a peer relay, instead of
 *             DE-RELAY), length (2, big-endian), then an EvidenceBody
 *             signed here
 *   bit 2     a script comes first: length (2), then a Frame body that
 *             the relay answers the client's first request with (the
 *             client's request ids start at 1 in every input); without
 *             one, requests get honest answers (fuzz_client_session.c)
 *   bit 3     PH-NBI's directory cache entry is damaged: its envelopes
 *             need a lookup, answered by the relay
 *
 * The client is the real one (am_client_open on a profile folder made by
 * fuzz_client_home.c, no passphrase), with DE-RELAY's session of
 * fuzz_client_session.c; its store holds PK-NCCIA's and PH-NBI's
 * certificates, the revocation list and the message DE-BKA sent.  The
 * store keeps what each input adds, as a client's does, and is made anew
 * every AM_FUZZ_CLIENT_RESET inputs (default 128, about 4 times the
 * executions per second of 1).  An artifact replays on a new store; one
 * that needs what earlier inputs stored replays when they are given
 * first, in order, in the same run.
 *
 * Checked, beyond the sanitizers:
 *   - a DeliveryAck goes out only for a message the store holds (stored
 *     before acknowledged: the relay forgets what is acknowledged), and
 *     a Submit only for an outgoing message it holds;
 *   - every envelope that parses is acknowledged once, under the id it
 *     claims; a new one is stored with the exact bytes delivered, as a
 *     message or set aside as rejected (see check_stored for an id that
 *     was stored already); one that does not parse is not acknowledged;
 *   - an envelope sealed here, addressed to DE-BKA and verifiable, is
 *     never set aside when the relay answers honestly;
 *   - a verifiable receipt about our sent message in a new message is
 *     recorded as its event; a reply naming a message id is, exactly
 *     when that message is ours and was sent to the reply's sender;
 *   - relay evidence that am_evidence_verify accepts under the
 *     certificate of the relay it names (DE-RELAY, or PH-RELAY when the
 *     directory answers honestly), about our sent message and, unless
 *     accepted, one of its recipients, is stored before the ReceiptAck,
 *     which goes out whenever a piece could be named (a directory lookup
 *     the script answered may leave pieces of PH-RELAY for later), and
 *     names each piece by an agency id (the relay's for accepted);
 *   - every frame the client sends is one a relay can parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "client_int.h"
#include "err.h"
#include "evidence.h"
#include "frame.h"
#include "fuzz_client_store.h"
#include "pb.h"
#include "receipt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

#define PIECES_MAX 80  /* more than the 64 one ReceiptAck names */
#define WANT_MAX 64

typedef struct {
    uint8_t id[AM_MSG_ID_LEN]; /* the message the event is about */
    char kind[24];             /* "": any */
    char party[AM_AGENCY_ID_MAX + 1];
    bool has_source;
    uint8_t source[AM_MSG_ID_LEN];
} want_t;

static struct {
    char home[AM_FZC_PATH];
    am_client_t *c;
    unsigned inputs, reset_every;
    bool third_broken;
    bool scripted; /* this input's first request gets the script */
    want_t want[WANT_MAX]; /* stored before the ReceiptAck */
    size_t n_want;
} H;

static int dir_put(am_client_t *c, int i, bool damaged)
{
    const am_fzc_fix_t *x = am_fzc_fix();

    return am_cstore_dir_put(c->store, am_fz_fed()->ag[i].id,
                             damaged ? (const uint8_t *)"x" : x->cert[i],
                             damaged ? 1 : x->cert_len[i], NULL, 0,
                             cl_now());
}

static void store_setup(am_client_t *c)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    const am_fz_fed_t *f = am_fz_fed();
    am_cmsg_t m = {0};
    int rc;

    am_fzc_sent_record(&m);
    if ((rc = cl_take_crl(c, f->crl_bytes, f->crl_len)) != 0 ||
        (rc = am_cstore_put(c->store, &m, NULL)) != 0 ||
        (rc = dir_put(c, AM_FZ_SENDER, false)) != 0 ||
        (rc = dir_put(c, AM_FZ_THIRD, false)) != 0 ||
        (rc = am_cstore_dir_put(c->store, AM_FZC_RELAY_ID, x->relay_cert,
                                x->relay_cert_len, NULL, 0, cl_now())) != 0)
        am_fzc_die("store", rc);
}

/* A new store: the client opened on a profile without store.db. */
static void open_client(void)
{
    static const char *const files[] = {"store.db", "store.db-wal",
                                        "store.db-shm"};
    am_pass_source_t none = {-1, NULL, 1};
    char path[AM_FZC_PATH + 16];
    int rc;

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", H.home, files[i]);
        (void)unlink(path);
    }
    if ((rc = am_client_open(H.home, &none, &H.c)) != 0)
        am_fzc_die("am_client_open", rc);
    store_setup(H.c);
    H.c->sess = am_fzc_session();
    H.c->receiving = true;
    H.third_broken = false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *every = getenv("AM_FUZZ_CLIENT_RESET");

    (void)argc;
    (void)argv;
    H.reset_every = every != NULL ? (unsigned)strtoul(every, NULL, 10) : 128;
    if (H.reset_every == 0)
        H.reset_every = 1;
    am_fzc_home_make(H.home);
    open_client();
    return 0;
}

/* ---- what the store must hold --------------------------------------- */

typedef struct {
    const want_t *w;
    bool found;
} find_t;

static int find_cb(void *ctx, const am_cevent_t *e)
{
    find_t *f = ctx;
    const want_t *w = f->w;

    if ((w->kind[0] == '\0' || strcmp(e->kind, w->kind) == 0) &&
        strcmp(e->party, w->party) == 0 && e->has_source == w->has_source &&
        (!w->has_source ||
         memcmp(e->source, w->source, AM_MSG_ID_LEN) == 0)) {
        f->found = true;
        return 1;
    }
    return 0;
}

static bool has_event(const want_t *w)
{
    find_t f = {w, false};

    (void)am_cstore_events(H.c->store, w->id, find_cb, &f);
    return f.found;
}

static bool stored(const uint8_t id[AM_MSG_ID_LEN])
{
    uint8_t *bufs = NULL;
    am_cmsg_t m;
    bool ok = am_cstore_get(H.c->store, id, &m, &bufs) == 0;

    am_free(bufs);
    return ok;
}

/* The id an envelope claims, when it parses: the client names any
 * envelope it can parse by it, verified or not. */
static bool claimed_id(const uint8_t *b, size_t len,
                       uint8_t id[AM_MSG_ID_LEN])
{
    am_env_t *env = NULL;
    bool ok = am_env_parse(b, len, AM_ENV_MAX, &env) == 0;

    if (ok)
        memcpy(id, am_env_claimed_id(env), AM_MSG_ID_LEN);
    am_env_free(env);
    return ok;
}

/* Ours, and sent to agency: what a reply may answer. */
static bool ours_to(const uint8_t id[AM_MSG_ID_LEN], const char *agency)
{
    size_t n = strlen(agency);
    uint8_t *bufs = NULL;
    bool found = false;
    am_cmsg_t m;

    if (am_cstore_get(H.c->store, id, &m, &bufs) == 0 && m.outgoing)
        for (const char *p = m.recipients; *p != '\0' && !found;) {
            size_t len = strcspn(p, ",");

            found = len == n && memcmp(p, agency, n) == 0;
            p += len + (p[len] == ',');
        }
    am_free(bufs);
    return found;
}

/* The Deliver being handled, for on_sent. */
static const Amanat__V1__Deliver *cur_deliver;

/* An acknowledged id is stored, or the envelope being handled is, under
 * the BLAKE2b of its bytes (set aside, or a conflict). */
static bool acked_ok(const uint8_t id[AM_MSG_ID_LEN])
{
    uint8_t own[AM_MSG_ID_LEN];

    if (stored(id))
        return true;
    return cur_deliver != NULL &&
           crypto_generichash(own, sizeof own, cur_deliver->envelope.data,
                              cur_deliver->envelope.len, NULL, 0) == 0 &&
           stored(own);
}

/* Every frame the client sends, when it sends it: what it acknowledges
 * or submits is stored already. */
static void on_sent(void *ctx, const Amanat__V1__Frame *f)
{
    uint8_t id[AM_MSG_ID_LEN], *bufs = NULL;
    am_cmsg_t m;

    (void)ctx;
    if (f->op_case == AMANAT__V1__FRAME__OP_DELIVERY_ACK)
        AM_FZ_CHECK(acked_ok(f->delivery_ack->message_id.data));
    if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_ACK) {
        for (size_t i = 0; i < H.n_want; i++)
            AM_FZ_CHECK(has_event(&H.want[i]));
        /* what the relay takes: it ends the session on anything else */
        for (size_t i = 0; i < f->receipt_ack->n_refs; i++)
            AM_FZ_CHECK(f->receipt_ack->refs[i]->message_id.len ==
                            AM_MSG_ID_LEN &&
                        am_agency_id_valid(
                            f->receipt_ack->refs[i]->recipient_id));
    }
    if (f->op_case == AMANAT__V1__FRAME__OP_SUBMIT) {
        AM_FZ_CHECK(claimed_id(f->submit->envelope.data,
                               f->submit->envelope.len, id));
        AM_FZ_CHECK(am_cstore_get(H.c->store, id, &m, &bufs) == 0);
        AM_FZ_CHECK(m.outgoing);
        am_free(bufs);
    }
}

/* Where d's exact bytes are kept: under the id it claims (a genuine
 * message, or the same envelope delivered again), else under the BLAKE2b
 * of its bytes (set aside as rejected, or a conflict: another envelope
 * held that id).  Never dropped, never mixed up with another envelope. */
static bool kept_as(const Amanat__V1__Deliver *d, const uint8_t id[16],
                    am_cmsg_t *m, uint8_t **bufs)
{
    if (am_cstore_get(H.c->store, id, m, bufs) != 0)
        return false;
    if (m->envelope_len == d->envelope.len &&
        memcmp(m->envelope, d->envelope.data, m->envelope_len) == 0)
        return true;
    am_free(*bufs);
    *bufs = NULL;
    return false;
}

static void check_stored(const Amanat__V1__Deliver *d,
                         const uint8_t id[AM_MSG_ID_LEN], bool fresh,
                         bool had)
{
    uint8_t *bufs = NULL, own[AM_MSG_ID_LEN];
    am_cmsg_t m;

    if (kept_as(d, id, &m, &bufs)) {
        AM_FZ_CHECK(!m.outgoing && am_agency_id_valid(m.sender));
        AM_FZ_CHECK(!fresh || !had);
    } else {
        AM_FZ_CHECK(crypto_generichash(own, sizeof own, d->envelope.data,
                                       d->envelope.len, NULL, 0) == 0);
        AM_FZ_CHECK(kept_as(d, own, &m, &bufs));
        AM_FZ_CHECK(strcmp(m.kind, "rejected") == 0 ||
                    strcmp(m.state, "conflict") == 0);
        /* new and taken: not set aside (a copy delivered again: not new) */
        AM_FZ_CHECK(!fresh || strcmp(m.kind, "rejected") != 0);
    }
    am_free(bufs);
}

/* True when the client took d as a new message.  Every envelope it can
 * name is acknowledged once, under that name; one it cannot, never;
 * genuine ones are never set aside. */
static bool deliver(const Amanat__V1__Deliver *d, bool genuine)
{
    const am_fzc_log_t *log = am_fzc_session_log();
    uint8_t id[AM_MSG_ID_LEN] = {0};
    bool named = claimed_id(d->envelope.data, d->envelope.len, id);
    bool had = named && stored(id), fresh = true;
    int rc;

    cur_deliver = d;
    rc = cl_on_deliver(H.c, d, &fresh);
    cur_deliver = NULL;

    if (rc != 0) {
        AM_FZ_CHECK(rc < 0);
        AM_FZ_CHECK(!fresh);
        AM_FZ_CHECK(log->acks == 0);
        /* refused for now: not a genuine envelope, nor one stored already
         * (another envelope may hold its id: a conflict) */
        AM_FZ_CHECK(!genuine);
        if (had) {
            uint8_t *bufs = NULL;
            am_cmsg_t m;

            AM_FZ_CHECK(!kept_as(d, id, &m, &bufs));
        }
        return false;
    }
    AM_FZ_CHECK(named && log->acks == 1);
    AM_FZ_CHECK(memcmp(log->ack_id, id, AM_MSG_ID_LEN) == 0);
    /* fresh with its id taken: a conflict, kept apart (check_stored) */
    AM_FZ_CHECK(!genuine || fresh || had);
    check_stored(d, id, fresh, had);
    return fresh;
}

/* The certificate of relay_id the client can check evidence with: PH-RELAY's
 * only when the directory answers honestly (else perhaps cached). */
static const am_cert_t *signer(const char *relay_id)
{
    const am_fzc_fix_t *x = am_fzc_fix();

    if (strcmp(relay_id, AM_FZC_RELAY_ID) == 0)
        return &x->relay;
    if (strcmp(relay_id, AM_FZC_RELAY2_ID) == 0 && !H.scripted)
        return &x->relay2;
    return NULL;
}

/* The pieces of r the client looks at (the first 64; it names those that
 * parse as Evidence, am_evidence_peek), the events the verifiable ones
 * about our sent message (accepted, or about one of its recipients) must
 * become; true when one piece at least parsed.  *foreign: one names
 * another relay than DE-RELAY. */
static bool want_evidence(const Amanat__V1__ReceiptRelay *r, bool *foreign)
{
    static const char *const kinds[] = {"", "accepted", "delivered",
                                        "expired", "damaged"};
    const am_fzc_fix_t *x = am_fzc_fix();
    uint8_t buf[AM_EVIDENCE_MAX];
    size_t parsed = 0;

    H.n_want = 0;
    *foreign = false;
    for (size_t i = 0; i < r->n_evidence && i < 64; i++) {
        const Amanat__V1__Evidence *e = r->evidence[i];
        size_t len = amanat__v1__evidence__get_packed_size(e);
        const am_cert_t *relay;
        am_evidence_t ev;
        want_t *w;

        if (len > sizeof buf)
            continue;
        amanat__v1__evidence__pack(e, buf);
        if (am_evidence_peek(buf, len, &ev) != 0)
            continue;
        parsed++;
        *foreign |= strcmp(ev.relay_id, AM_FZC_RELAY_ID) != 0;
        if ((relay = signer(ev.relay_id)) == NULL ||
            am_evidence_verify(buf, len, relay, &ev) != 0 ||
            memcmp(ev.message_id, x->sent_id, AM_MSG_ID_LEN) != 0 ||
            /* damaged evidence may name the damaged hash: the client
             * takes it by message id (PROTOCOL.md 14) */
            (ev.kind != AM_EVIDENCE_DAMAGED &&
             memcmp(ev.envelope_hash, x->sent_hash, AM_HASH_LEN) != 0) ||
            (ev.kind != AM_EVIDENCE_ACCEPTED &&
             (am_fz_agency(ev.recipient_id) == NULL ||
              strcmp(ev.recipient_id, am_fz_fed()->ag[AM_FZC_ME].id) == 0)))
            continue;
        w = &H.want[H.n_want++];
        memset(w, 0, sizeof *w);
        memcpy(w->id, x->sent_id, AM_MSG_ID_LEN);
        snprintf(w->kind, sizeof w->kind, "%s", kinds[ev.kind]);
        snprintf(w->party, sizeof w->party, "%s",
                 ev.kind == AM_EVIDENCE_ACCEPTED ? ev.relay_id
                                                 : ev.recipient_id);
    }
    return parsed > 0;
}

static void receipt_relay(const Amanat__V1__ReceiptRelay *r)
{
    bool foreign, any = want_evidence(r, &foreign);
    size_t acks;

    AM_FZ_CHECK(cl_on_receipt_relay(H.c, r) == 0);
    acks = am_fzc_session_log()->receipt_acks;
    /* a scripted lookup may have failed for now: those pieces wait */
    AM_FZ_CHECK(H.scripted && foreign ? acks <= 1 : acks == (any ? 1u : 0u));
    H.n_want = 0;
}

/* ---- mode 0: a frame ------------------------------------------------- */

static void run_frame(am_fz_in_t *in)
{
    Amanat__V1__Frame *f = NULL;

    if (am_frame_parse(in->p, am_fz_left(in), AM_FRAME_MAX_DEFAULT, &f) != 0)
        return;
    if (f->op_case == AMANAT__V1__FRAME__OP_DELIVER)
        (void)deliver(f->deliver, false);
    else if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_RELAY)
        receipt_relay(f->receipt_relay);
    am_frame_free(f);
}

/* ---- mode 1: an envelope sealed here --------------------------------- */

/* A receipt about our sent message that verifies (as the client must
 * check it: signed by from, naming our envelope) is an event of it. */
static bool want_receipt(const Amanat__V1__SignedReceipt *sr,
                         const am_fz_agency_t *from, want_t *w)
{
    static const char *const kinds[] = {"", "received", "acknowledged",
                                        "refused"};
    const am_fzc_fix_t *x = am_fzc_fix();
    uint8_t buf[AM_RECEIPT_MAX];
    size_t len = amanat__v1__signed_receipt__get_packed_size(sr);
    am_env_t *env = NULL;
    am_receipt_t r;
    bool ok;

    if (len > sizeof buf)
        return false;
    amanat__v1__signed_receipt__pack(sr, buf);
    if (am_env_parse(x->sent, x->sent_len, AM_ENV_MAX, &env) != 0 ||
        am_env_verify(env, &am_fz_fed()->ag[AM_FZC_ME].cert) != 0)
        am_fzc_die("the sent message", AM_ECRYPTO);
    ok = am_receipt_verify(buf, len, &from->cert, env, &r) == 0;
    am_env_free(env);
    if (ok) {
        memcpy(w->id, x->sent_id, AM_MSG_ID_LEN);
        snprintf(w->kind, sizeof w->kind, "%s", kinds[r.status]);
        snprintf(w->party, sizeof w->party, "%s", r.recipient_id);
    }
    return ok;
}

/* A reply naming a message id (32 hex digits): the event of it to look
 * for, which there must be exactly when that message is ours and was
 * sent to the reply's sender. */
static bool name_reply(const Amanat__V1__Reply *r, const am_fz_agency_t *from,
                       want_t *w)
{
    if (r->in_reply_to == NULL ||
        strlen(r->in_reply_to) != 2 * AM_MSG_ID_LEN ||
        sodium_hex2bin(w->id, AM_MSG_ID_LEN, r->in_reply_to,
                       2 * AM_MSG_ID_LEN, NULL, NULL, NULL) != 0)
        return false;
    snprintf(w->party, sizeof w->party, "%s", from->id);
    return true;
}

static void check_answer(const uint8_t *plain, size_t len,
                         const uint8_t id[AM_MSG_ID_LEN],
                         const am_fz_agency_t *from)
{
    Amanat__V1__CaseMessage *cm = NULL;
    want_t w;

    if (am_pb_unpack(&amanat__v1__case_message__descriptor, "case message",
                     plain, len, AM_ENV_MAX, (ProtobufCMessage **)&cm) != 0)
        return;
    memset(&w, 0, sizeof w);
    w.has_source = true;
    memcpy(w.source, id, AM_MSG_ID_LEN);
    if (cm->body_case == AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT &&
        want_receipt(cm->receipt, from, &w))
        AM_FZ_CHECK(has_event(&w));
    if (cm->body_case == AMANAT__V1__CASE_MESSAGE__BODY_REPLY &&
        name_reply(cm->reply, from, &w))
        AM_FZ_CHECK(has_event(&w) == ours_to(w.id, from->id));
    am_pb_free(cm);
}

/* The sender of a sealed envelope when it verifies (id, hash filled). */
static const am_fz_agency_t *sealed_by(const uint8_t *env, size_t len,
                                       uint8_t id[AM_MSG_ID_LEN],
                                       uint8_t hash[AM_HASH_LEN])
{
    const am_fz_agency_t *from = NULL;
    am_env_t *e = NULL;

    if (am_env_parse(env, len, AM_ENV_MAX, &e) == 0 &&
        (from = am_fz_agency(am_env_sender(e))) != NULL &&
        am_env_verify(e, &from->cert) == 0) {
        memcpy(id, am_env_message_id(e), AM_MSG_ID_LEN);
        memcpy(hash, am_env_hash(e), AM_HASH_LEN);
    } else {
        from = NULL;
    }
    am_env_free(e);
    return from;
}

/* The rng seed takes the content in: the message id comes from it, and
 * inputs that differ must not all collide on 256 ids. */
static uint32_t rng_seed(unsigned seed, const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h ^ seed;
}

static void run_sealed(am_fz_in_t *in, bool scripted)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    unsigned how = am_fz_u8(in), seed = am_fz_u8(in), ek = am_fz_u8(in) & 3;
    const uint8_t *plain = in->p;
    size_t plain_len = am_fz_left(in), len = 0, blen = 0;
    uint8_t *env = NULL, *body = NULL, sig[AM_SIG_LEN];
    uint8_t id[AM_MSG_ID_LEN] = {0}, hash[AM_HASH_LEN] = {0};
    Amanat__V1__Deliver d = AMANAT__V1__DELIVER__INIT;
    Amanat__V1__Evidence e;
    const am_fz_agency_t *from;
    int rc;

    if (am_fz_seal_at(how, rng_seed(seed, plain, plain_len), AM_FZ_NOW,
                      AM_FZ_NOW + 7 * 86400, plain, plain_len, &env,
                      &len) != 0)
        return;
    from = sealed_by(env, len, id, hash);
    d.envelope = (ProtobufCBinaryData){len, env};
    if (ek != 0) {
        if ((rc = am_fzc_evidence_body(
                 ek == 2 ? AM_EVIDENCE_DELIVERED : AM_EVIDENCE_ACCEPTED, id,
                 hash, AM_FZC_RELAY_ID, ek == 2 ? "DE-BKA" : NULL, AM_FZ_NOW,
                 &body, &blen)) != 0)
            am_fzc_die("evidence body", rc);
        am_fzc_evidence(&e, body, blen,
                        ek == 3 ? am_fz_fed()->ag[AM_FZ_SENDER].sign_sk
                                : x->relay_sign_sk,
                        sig);
        d.accepted = &e;
    }
    if (deliver(&d, from != NULL && !scripted) && from != NULL) {
        /* events name the message as stored: under its id, or apart
         * under the BLAKE2b of its bytes when another held the id */
        uint8_t src[AM_MSG_ID_LEN], *bufs = NULL;
        am_cmsg_t m;

        memcpy(src, am_fzc_session_log()->ack_id, AM_MSG_ID_LEN);
        if (!kept_as(&d, src, &m, &bufs) &&
            crypto_generichash(src, sizeof src, env, len, NULL, 0) != 0)
            am_fzc_die("BLAKE2b", AM_ECRYPTO);
        am_free(bufs);
        check_answer(plain, plain_len, src, from);
    }
    am_free(body);
    am_free(env);
}

/* ---- mode 2: relay evidence ------------------------------------------ */

static void run_evidence(am_fz_in_t *in)
{
    static Amanat__V1__Evidence ev[PIECES_MAX], *evp[PIECES_MAX];
    static uint8_t sig[PIECES_MAX][AM_SIG_LEN];
    Amanat__V1__ReceiptRelay r = AMANAT__V1__RECEIPT_RELAY__INIT;
    size_t n = 0;

    while (am_fz_left(in) > 0 && n < PIECES_MAX) {
        unsigned how = am_fz_u8(in);
        size_t len = (size_t)am_fz_u8(in) << 8;

        len |= am_fz_u8(in);
        if (len > am_fz_left(in))
            len = am_fz_left(in);
        am_fzc_evidence(&ev[n], in->p, len,
                        (how & 1)   ? am_fz_fed()->ag[AM_FZ_SENDER].sign_sk
                        : (how & 4) ? am_fzc_fix()->relay2_sign_sk
                                    : am_fzc_fix()->relay_sign_sk,
                        sig[n]);
        if (how & 2)
            sig[n][how % AM_SIG_LEN] ^= 0x01;
        evp[n] = &ev[n];
        n++;
        in->p += len;
    }
    r.n_evidence = n;
    r.evidence = evp;
    receipt_relay(&r);
}

/* ---- one input -------------------------------------------------------- */

static void third_cache(bool damaged)
{
    int rc;

    /* a lookup since may have mended it: damage it again each time */
    if ((damaged || H.third_broken) &&
        (rc = dir_put(H.c, AM_FZ_THIRD, damaged)) != 0)
        am_fzc_die("directory cache", rc);
    H.third_broken = damaged;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_fz_in_t in = {data, data + size};
    unsigned mode = am_fz_u8(&in);
    const uint8_t *script = NULL;
    size_t script_len = 0;

    if (++H.inputs > H.reset_every) {
        H.c->sess = NULL; /* the harness's, not the client's to close */
        am_client_close(H.c);
        open_client();
        H.inputs = 1;
    }
    if (mode & 4) {
        script_len = (size_t)am_fz_u8(&in) << 8;
        script_len |= am_fz_u8(&in);
        if (script_len > am_fz_left(&in))
            script_len = am_fz_left(&in);
        script = in.p;
        in.p += script_len;
    }
    third_cache((mode & 8) != 0);
    H.scripted = script != NULL;
    H.c->next_req = 1;
    am_fzc_session_begin(script, script_len, on_sent, NULL);
    switch (mode & 3) {
    case 1: run_sealed(&in, script != NULL); break;
    case 2: run_evidence(&in); break;
    default: run_frame(&in); break;
    }
    cl_stash_clear(H.c); /* each input starts clean */
    am_fzc_session_begin(NULL, 0, NULL, NULL);
    return 0;
}
