/* The sync loop (reconnecting with backoff), queued messages sent again,
 * the relay's delivered and expired evidence, and receipts an officer
 * sends (acknowledged, refused) or the library sends (received). */
#include "client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"
#include "pb.h"
#include "receipt.h"

#define UNSENT_BATCH 64

int cl_receipt_content(am_client_t *c, const am_env_t *env, int status,
                       const char *reason, uint8_t **content, size_t *len,
                       Amanat__V1__CaseMessage **out)
{
    Amanat__V1__CaseMessage cm = AMANAT__V1__CASE_MESSAGE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Amanat__V1__SignedReceipt *sr = NULL;
    uint8_t *signed_r = NULL;
    size_t slen;
    am_receipt_t r;
    int rc;

    *content = NULL;
    if ((rc = am_receipt_for(env, c->prof.agency_id, status, cl_now(), reason,
                             &r)) ||
        (rc = am_receipt_sign(&r, c->prof.sign_sk, &signed_r, &slen)) ||
        (rc = am_pb_unpack(&amanat__v1__signed_receipt__descriptor, "receipt",
                           signed_r, slen, AM_RECEIPT_MAX,
                           (ProtobufCMessage **)&sr)))
        goto out;
    cm.schema_version = 1;
    ts.seconds = cl_now();
    cm.created_at = &ts;
    cm.body_case = AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT;
    cm.receipt = sr;
    *len = protobuf_c_message_get_packed_size(&cm.base);
    if ((*content = am_malloc(*len)) == NULL) {
        rc = AM_ENOMEM;
        goto out;
    }
    protobuf_c_message_pack(&cm.base, *content);
    /* read back: what is stored is exactly what was sealed */
    rc = am_pb_unpack(&amanat__v1__case_message__descriptor, "case message",
                      *content, *len, AM_RECEIPT_MAX * 2,
                      (ProtobufCMessage **)out);
out:
    if (rc != 0) {
        am_free(*content);
        *content = NULL;
    }
    am_pb_free(sr);
    am_free(signed_r);
    return rc;
}

int am_client_receipt(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                      int status, const char *reason)
{
    Amanat__V1__CaseMessage *cm = NULL;
    uint8_t *bufs = NULL, *content = NULL, rid[AM_MSG_ID_LEN];
    size_t clen = 0;
    am_env_t *env = NULL;
    peer_t from = {0};
    am_cmsg_t m;
    int rc;

    if ((rc = am_cstore_get(c->store, id, &m, &bufs)) != 0)
        return rc;
    if (m.outgoing || strcmp(m.kind, "rejected") == 0) {
        rc = am_errf(AM_EINVAL, "%s", m.outgoing
                     ? "that message was sent by this agency, not received"
                     : "that envelope was set aside unread: no receipt");
        goto out;
    }
    if ((rc = am_env_parse(m.envelope, m.envelope_len, AM_ENV_MAX, &env)) ||
        (rc = cl_peer(c, m.sender, false, false, &from)) ||
        (rc = am_env_verify(env, &from.cert)) ||
        (rc = cl_receipt_content(c, env, status, reason, &content, &clen,
                                 &cm)))
        goto out;
    {
        const char *to[1] = {m.sender};

        rc = cl_seal_store_submit(c, content, clen, cm, to, 1, m.priority, 0,
                                  rid);
    }
out:
    am_pb_free(cm);
    am_free(content);
    am_env_free(env);
    cl_peer_free(&from);
    am_free(bufs);
    return rc;
}

typedef struct {
    uint8_t ids[UNSENT_BATCH][AM_MSG_ID_LEN];
    size_t n;
} unsent_t;

static int collect(void *ctx, const am_cmsg_t *m)
{
    unsent_t *u = ctx;

    if (strcmp(m->state, "failed") == 0)
        return 0;
    memcpy(u->ids[u->n++], m->id, AM_MSG_ID_LEN);
    return u->n == UNSENT_BATCH;
}

/* One batch of queued messages; *all: every one was accepted. */
static int flush_batch(am_client_t *c, bool *more)
{
    unsent_t u = {.n = 0};
    uint8_t *bufs = NULL;
    am_cmsg_t m;
    int rc;

    *more = false;
    if ((rc = am_cstore_list(c->store, AM_CLIST_UNSENT, collect, &u)) < 0)
        return rc;
    for (size_t i = 0; i < u.n; i++) {
        if ((rc = am_cstore_get(c->store, u.ids[i], &m, &bufs)) != 0)
            return rc;
        rc = cl_submit(c, m.id, m.envelope, m.envelope_len);
        am_free(bufs);
        if (rc == 0)
            continue;
        rc = cl_not_accepted(c, u.ids[i], rc);
        if (c->relay_error == 0)
            return rc; /* the connection: the next session tries again */
        fprintf(stderr, "amanat: %s\n", am_err_detail());
        if (!cl_refused_for_good(c))
            return 0; /* quota, storage: later */
    }
    *more = u.n == UNSENT_BATCH;
    return 0;
}

int cl_flush_unsent(am_client_t *c)
{
    bool more = true;
    int rc = 0;

    while (more && rc == 0)
        rc = flush_batch(c, &more);
    return rc;
}

#define PIECES_MAX 64 /* of one ReceiptRelay looked at (a relay sends 16) */

/* One piece of a ReceiptRelay: ev.ev verified, else only peeked (to name
 * it); rc of its check, then of its recording. */
typedef struct {
    cl_evidence_t ev;
    int rc;
    bool for_now, named;
} piece_t;

/* Who a piece is about, as its event's party and its EvidenceRef's
 * recipient_id: the relay that stored the envelope for accepted evidence
 * (the relay keys that by its signer), else the recipient. */
static const char *party_of(const am_evidence_t *ev)
{
    return ev->kind == AM_EVIDENCE_ACCEPTED ? ev->relay_id : ev->recipient_id;
}

/* A failure that may pass (the disk, memory, the connection, a directory
 * lookup the relay refused for now): the piece is not acknowledged, so
 * that it comes again. */
static bool for_now(const am_client_t *c, int rc)
{
    return rc == AM_EIO || rc == AM_ENOMEM || rc == AM_ELIMIT ||
           rc == AM_ESTATE || (c->relay_error != 0 && !cl_refused_for_good(c));
}

/* Relay evidence about one of our envelopes, signed by any relay of the
 * federation: accepted (that relay stored it) names none of its
 * recipients; delivered, expired and damaged name one. */
static int check_piece(am_client_t *c, const Amanat__V1__Evidence *e,
                       cl_evidence_t *ev)
{
    uint8_t *bufs = NULL, hash[AM_HASH_LEN];
    am_cmsg_t m;
    int rc;

    if ((rc = cl_check_evidence(c, e, true, NULL, NULL, ev)) != 0)
        return rc;
    if (ev->ev.kind < AM_EVIDENCE_ACCEPTED ||
        ev->ev.kind > AM_EVIDENCE_DAMAGED)
        return am_errf(AM_EPROTO, "evidence of unknown kind %d", ev->ev.kind);
    if ((rc = am_cstore_get(c->store, ev->ev.message_id, &m, &bufs)) != 0 ||
        (rc = am_hash256(m.envelope, m.envelope_len, hash)) != 0)
        goto out;
    /* DAMAGED names the hash the relay held, which may be what was
     * damaged: our message id and recipient are enough to send again */
    if ((ev->ev.kind != AM_EVIDENCE_DAMAGED &&
         memcmp(hash, ev->ev.envelope_hash, AM_HASH_LEN) != 0) ||
        !m.outgoing ||
        (ev->ev.kind != AM_EVIDENCE_ACCEPTED &&
         !cl_listed(m.recipients, ev->ev.recipient_id)))
        rc = am_errf(AM_ECRYPTO, "evidence names another envelope or "
                     "recipient");
out:
    am_free(bufs);
    return rc;
}

/* What a piece of evidence names, to acknowledge it (not verified). */
static int peek(const cl_evidence_t *ev, am_evidence_t *out)
{
    /* len is over the buffer when the check found the piece too big */
    return ev->len == 0 || ev->len > sizeof ev->bytes
               ? AM_EPROTO
               : am_evidence_peek(ev->bytes, ev->len, out);
}

/* Checked outside the store's transaction: a piece another relay signed
 * may need its certificate from the directory, a round trip that would
 * hold the store's write lock. */
static void check_pieces(am_client_t *c, const Amanat__V1__ReceiptRelay *r,
                         piece_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c->relay_error = 0;
        if ((p[i].rc = check_piece(c, r->evidence[i], &p[i].ev)) == 0)
            continue;
        p[i].for_now = for_now(c, p[i].rc);
        fprintf(stderr, "amanat: relay evidence not kept: %s\n",
                am_err_detail());
    }
}

/* The verified pieces as events, in one transaction; then which can be
 * named: those kept, and those that would fail again (acknowledged, so
 * that they do not come back). */
static int record_pieces(am_client_t *c, piece_t *p, size_t n)
{
    static const char *const kinds[] = {"", "accepted", "delivered",
                                        "expired", "damaged"};
    int rc;

    if ((rc = am_cstore_begin(c->store)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (p[i].rc == 0 &&
            (p[i].rc = cl_evidence_event(c, p[i].ev.ev.message_id, &p[i].ev,
                                         kinds[p[i].ev.ev.kind],
                                         party_of(&p[i].ev.ev))) != 0) {
            p[i].for_now = p[i].rc == AM_EIO || p[i].rc == AM_ENOMEM;
            fprintf(stderr, "amanat: relay evidence not kept: %s\n",
                    am_err_detail());
        }
        p[i].named = p[i].rc == 0 ||
                     (!p[i].for_now && peek(&p[i].ev, &p[i].ev.ev) == 0);
    }
    if ((rc = am_cstore_commit(c->store)) != 0)
        am_cstore_rollback(c->store);
    return rc;
}

static int send_refs(am_client_t *c, const piece_t *p, size_t n)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck ra = AMANAT__V1__RECEIPT_ACK__INIT;
    Amanat__V1__EvidenceRef refs[PIECES_MAX], *rp[PIECES_MAX];

    for (size_t i = 0; i < n; i++) {
        const am_evidence_t *ev = &p[i].ev.ev;

        if (!p[i].named)
            continue;
        amanat__v1__evidence_ref__init(&refs[ra.n_refs]);
        refs[ra.n_refs].kind = (Amanat__V1__EvidenceKind)ev->kind;
        refs[ra.n_refs].message_id = (ProtobufCBinaryData){
            AM_MSG_ID_LEN, (uint8_t *)ev->message_id};
        refs[ra.n_refs].recipient_id = (char *)party_of(ev);
        rp[ra.n_refs] = &refs[ra.n_refs];
        ra.n_refs++;
    }
    if (ra.n_refs == 0)
        return 0;
    ra.refs = rp;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
    f.receipt_ack = &ra;
    return am_session_send(c->sess, &f);
}

int cl_on_receipt_relay(am_client_t *c, const Amanat__V1__ReceiptRelay *r)
{
    size_t n = r->n_evidence < PIECES_MAX ? r->n_evidence : PIECES_MAX;
    piece_t *p = am_calloc(n ? n : 1, sizeof *p);
    int rc;

    if (p == NULL)
        return AM_ENOMEM;
    check_pieces(c, r, p, n);
    if ((rc = record_pieces(c, p, n)) == 0)
        rc = send_refs(c, p, n);
    am_free(p);
    return rc;
}

static void pause_ms(int64_t ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&t, NULL);
}

/* One frame of a receiving session. */
static int on_frame(am_client_t *c, Amanat__V1__Frame *f, size_t *received)
{
    Amanat__V1__Frame pong = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Pong p = AMANAT__V1__PONG__INIT;
    bool fresh = false;
    int rc = 0;

    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_DELIVER:
        if ((rc = cl_on_deliver(c, f->deliver, &fresh)) != 0) {
            /* a failure that may pass: not acknowledged, it comes again
             * (what can never be read was set aside and acknowledged) */
            fprintf(stderr, "amanat: %s\n", am_err_detail());
            rc = 0;
        }
        *received += fresh;
        break;
    case AMANAT__V1__FRAME__OP_RECEIPT_RELAY:
        rc = cl_on_receipt_relay(c, f->receipt_relay);
        break;
    case AMANAT__V1__FRAME__OP_PING:
        p.nonce = f->ping->nonce;
        pong.op_case = AMANAT__V1__FRAME__OP_PONG;
        pong.pong = &p;
        rc = am_session_send(c->sess, &pong);
        break;
    case AMANAT__V1__FRAME__OP_ERROR:
        if (f->error->fatal)
            rc = am_errf(AM_EPROTO, "the relay closed the session: %s",
                         f->error->message ? f->error->message : "");
        break;
    default:
        break; /* late answers to requests given up on */
    }
    return rc;
}

/* One session: queued messages out, then frames until idle. */
static int session(am_client_t *c, int idle_ms, bool watch,
                   volatile int *stop, size_t *received)
{
    Amanat__V1__Frame *f;
    int rc;

    if ((rc = cl_connect(c, true)) != 0 || (rc = cl_flush_unsent(c)) != 0)
        return rc;
    while (stop == NULL || !*stop) {
        rc = cl_next_frame(c, watch ? 1000 : idle_ms, &f);
        if (rc == AM_ELIMIT) {
            /* quiet: send what was queued meanwhile (receipts whose
             * submit failed, messages from other commands) */
            if ((rc = cl_flush_unsent(c)) != 0 || !watch)
                return rc;
            continue;
        }
        if (rc != 0)
            return rc;
        rc = on_frame(c, f, received);
        am_frame_free(f);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int am_client_sync(am_client_t *c, int idle_ms, bool watch,
                   volatile int *stop, size_t *received)
{
    int64_t backoff = 250;
    int rc;

    *received = 0;
    for (;;) {
        rc = session(c, idle_ms, watch, stop, received);
        if (!watch || (stop != NULL && *stop))
            return rc;
        cl_disconnect(c);
        fprintf(stderr, "amanat: %s; again in %lld ms\n", am_err_detail(),
                (long long)backoff);
        /* full jitter, so that agencies cut off together do not all
         * come back at the same instant */
        pause_ms(backoff / 2 + (int64_t)randombytes_uniform(
                                   (uint32_t)(backoff / 2 + 1)));
        backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
    }
}
