/* Frames after authentication (docs/PROTOCOL.md sections 5.3 and 13):
 * Hello first, then Submit, DeliveryAck and Ping.  Submit follows the
 * order of checks of section 10: bound, parse, sender is the
 * authenticated agency, signature, and only then recipients, expiry and
 * storage.  Storage answers come back on the loop through the store's
 * callbacks; a SubmitResult is sent only after the commit. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"

#define MAX_EXPIRY (30 * 86400) /* an envelope lives at most 30 days here */
/* Room for the Deliver frame's evidence around an envelope, so whatever
 * was accepted can always be delivered within the same frame limit. */
#define DELIVER_OVERHEAD 1024

typedef struct {
    conn_t *c;
    uint64_t request_id;
    uint8_t message_id[AM_MSG_ID_LEN];
    uint8_t hash[AM_HASH_LEN];
    am_store_put_t put;
} submit_t;

/* The relay's signed statement about one envelope. */
static int evidence(conn_t *c, Amanat__V1__EvidenceKind kind,
                    const uint8_t id[AM_MSG_ID_LEN],
                    const uint8_t hash[AM_HASH_LEN], const char *recipient,
                    int64_t t, uint8_t *body, size_t *body_len,
                    uint8_t sig[AM_SIG_LEN])
{
    Amanat__V1__EvidenceBody b = AMANAT__V1__EVIDENCE_BODY__INIT;

    b.version = 1;
    b.kind = kind;
    b.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)id};
    b.envelope_hash = (ProtobufCBinaryData){AM_HASH_LEN, (uint8_t *)hash};
    b.relay_id = (char *)am_dir_self(c->srv->dir)->agency_id;
    b.recipient_id = (char *)(recipient ? recipient : "");
    b.time = t;
    if ((*body_len = amanat__v1__evidence_body__get_packed_size(&b)) > 512)
        return AM_ETOOBIG;
    amanat__v1__evidence_body__pack(&b, body);
    return am_sign(AM_TAG_EVIDENCE, body, *body_len,
                   am_dir_sign_sk(c->srv->dir), sig);
}

static void on_stored(void *ctx, int rc, int64_t accepted_at)
{
    submit_t *s = ctx;
    conn_t *c = s->c;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__SubmitResult r = AMANAT__V1__SUBMIT_RESULT__INIT;
    Amanat__V1__Evidence e = AMANAT__V1__EVIDENCE__INIT;
    uint8_t body[512], sig[AM_SIG_LEN];
    size_t body_len;

    if (rc == 0)
        for (size_t i = 0; i < s->put.n_recipients; i++)
            conn_kick(c->srv, s->put.recipients[i]);
    c->store_pending--;
    if (c->closing)
        goto out;
    if (rc == AM_EDUP) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_DUPLICATE,
                        s->request_id, false, "message id already used with "
                        "other content");
    } else if (rc == AM_ELIMIT) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_QUOTA, s->request_id,
                        false, "\"%s\" has reached its quota of %llu "
                        "envelopes or %llu bytes stored undelivered here",
                        c->peer.agency_id,
                        (unsigned long long)s->put.quota_messages,
                        (unsigned long long)s->put.quota_bytes);
    } else if (rc != 0 || evidence(c, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED,
                                   s->message_id, s->hash, NULL, accepted_at,
                                   body, &body_len, sig) != 0) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        s->request_id, false, "not stored: %s",
                        am_strerror(rc));
    } else {
        e.body = (ProtobufCBinaryData){body_len, body};
        e.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
        r.request_id = s->request_id;
        r.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, s->message_id};
        r.accepted = &e;
        f.op_case = AMANAT__V1__FRAME__OP_SUBMIT_RESULT;
        f.submit_result = &r;
        if (conn_send_frame(c, &f) != 0)
            conn_close(c, "cannot send");
        conn_log(c, "stored %02x%02x%02x%02x for %zu recipients",
                 s->message_id[0], s->message_id[1], s->message_id[2],
                 s->message_id[3], s->put.n_recipients);
    }
    conn_flow(c);
out:
    conn_unref(c);
    am_free(s);
}

/* Checks of a verified envelope before it is stored; fills s->put. */
static int check_submit(conn_t *c, const am_env_t *env, submit_t *s,
                        Amanat__V1__ErrorCode *code, char *why, size_t cap)
{
    int64_t now = (int64_t)time(NULL), exp = am_env_expires_at(env);

    for (size_t i = 0; i < am_env_recipient_count(env); i++) {
        const char *r = am_env_recipient(env, i);
        const am_cert_t *rc = am_dir_find(c->srv->dir, r);
        if (rc == NULL || rc->not_after < now) {
            *code = AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT;
            snprintf(why, cap, "recipient \"%s\": unknown or revoked agency",
                     r);
            return -1;
        }
        snprintf(s->put.recipients[i], sizeof s->put.recipients[i], "%s", r);
    }
    if (exp <= now || exp > now + MAX_EXPIRY) {
        *code = AMANAT__V1__ERROR_CODE__ERROR_EXPIRED;
        snprintf(why, cap, "expires_at %lld: must be in the future and "
                 "within %d days", (long long)exp, MAX_EXPIRY / 86400);
        return -1;
    }
    memcpy(s->message_id, am_env_message_id(env), AM_MSG_ID_LEN);
    memcpy(s->hash, am_env_hash(env), AM_HASH_LEN);
    memcpy(s->put.message_id, s->message_id, AM_MSG_ID_LEN);
    memcpy(s->put.envelope_hash, s->hash, AM_HASH_LEN);
    snprintf(s->put.sender, sizeof s->put.sender, "%s", c->peer.agency_id);
    s->put.n_recipients = am_env_recipient_count(env);
    s->put.priority = am_env_priority(env);
    s->put.expires_at = exp;
    s->put.quota_messages = c->srv->cfg.quota_messages;
    s->put.quota_bytes = c->srv->cfg.quota_bytes;
    return 0;
}

static void on_submit(conn_t *c, const Amanat__V1__Submit *sub)
{
    Amanat__V1__ErrorCode code = AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL;
    am_env_t *env = NULL;
    submit_t *s = NULL;
    char why[256];

    if (sub->envelope.len > c->srv->cfg.frame_max - DELIVER_OVERHEAD) {
        code = AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG;
        snprintf(why, sizeof why, "envelope of %zu bytes over this relay's "
                 "limit of %zu", sub->envelope.len,
                 c->srv->cfg.frame_max - DELIVER_OVERHEAD);
    } else if ((int64_t)time(NULL) > c->peer.not_after) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_AUTH, sub->request_id,
                        true, "certificate of \"%s\" expired during the "
                        "session", c->peer.agency_id);
        return;
    } else if (am_env_parse(sub->envelope.data, sub->envelope.len,
                            c->srv->cfg.frame_max, &env) != 0) {
        snprintf(why, sizeof why, "%s", am_err_detail());
    } else if (strcmp(am_env_sender(env), c->peer.agency_id) != 0) {
        code = AMANAT__V1__ERROR_CODE__ERROR_SPOOFED_SENDER;
        snprintf(why, sizeof why, "sender_id \"%s\" is not the authenticated "
                 "agency \"%s\"", am_env_sender(env), c->peer.agency_id);
    } else if (am_env_verify(env, &c->peer) != 0) {
        code = AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE;
        snprintf(why, sizeof why, "%s", am_err_detail());
    } else if ((s = am_calloc(1, sizeof *s)) == NULL) {
        code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(why, sizeof why, "out of memory");
    } else if (check_submit(c, env, s, &code, why, sizeof why) == 0) {
        s->c = c;
        s->request_id = sub->request_id;
        s->put.envelope = sub->envelope.data;
        s->put.envelope_len = sub->envelope.len;
        if (am_store_put(c->srv->store, &s->put, (int64_t)time(NULL),
                         on_stored, s) == 0) {
            conn_ref(c);
            c->store_pending++;
            conn_flow(c);
            am_env_free(env);
            return;
        }
        code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(why, sizeof why, "store unavailable");
    }
    am_free(s);
    am_env_free(env);
    conn_send_error(c, code, sub->request_id, false, "%s", why);
}

static void fetch(conn_t *c);

static void on_pending(void *ctx, int rc, const am_store_item_t *items,
                       size_t n)
{
    conn_t *c = ctx;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Deliver d = AMANAT__V1__DELIVER__INIT;
    Amanat__V1__Evidence e = AMANAT__V1__EVIDENCE__INIT;
    uint8_t body[512], sig[AM_SIG_LEN];
    size_t body_len;

    c->fetching = false;
    for (size_t i = 0; rc == 0 && !c->closing && i < n; i++) {
        /* the accepted evidence is deterministic: signed again, the same */
        if (evidence(c, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED,
                     items[i].message_id, items[i].envelope_hash, NULL,
                     items[i].accepted_at, body, &body_len, sig) != 0)
            break;
        e.body = (ProtobufCBinaryData){body_len, body};
        e.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
        d.envelope = (ProtobufCBinaryData){items[i].envelope_len,
                                           items[i].envelope};
        d.accepted = &e;
        f.op_case = AMANAT__V1__FRAME__OP_DELIVER;
        f.deliver = &d;
        if (conn_send_frame(c, &f) != 0) {
            conn_close(c, "cannot send");
            break;
        }
        memcpy(c->inflight_senders[c->inflight], items[i].sender,
               sizeof c->inflight_senders[0]);
        memcpy(c->inflight_ids[c->inflight++], items[i].message_id,
               AM_MSG_ID_LEN);
    }
    if (rc != 0 && !c->closing)
        conn_log(c, "store: %s", am_strerror(rc));
    conn_unref(c);
}

/* Push pending envelopes when none is waiting for its acknowledgement:
 * the store still lists unacknowledged ones as pending, so fetching more
 * before the acks would send them twice. */
static void fetch(conn_t *c)
{
    if (!c->receive || c->fetching || c->inflight > 0 || c->closing ||
        c->state != CONN_READY)
        return;
    if (am_store_next(c->srv->store, c->peer.agency_id, AM_DELIVER_BATCH,
                      (int64_t)time(NULL), on_pending, c) == 0) {
        c->fetching = true;
        conn_ref(c);
    }
}

void conn_kick(am_server_t *srv, const char *agency_id)
{
    for (conn_t *c = am_sess_first(srv, AM_SESS_AGENCY, agency_id); c != NULL;
         c = am_sess_next(c, agency_id))
        fetch(c);
}

static void fetch_notices(conn_t *c);

static void on_notices(void *ctx, int rc, const am_store_notice_t *n,
                       size_t count)
{
    conn_t *c = ctx;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptRelay rr = AMANAT__V1__RECEIPT_RELAY__INIT;
    Amanat__V1__Evidence e[AM_DELIVER_BATCH], *ep[AM_DELIVER_BATCH];
    uint8_t body[AM_DELIVER_BATCH][512], sig[AM_DELIVER_BATCH][AM_SIG_LEN];
    size_t len[AM_DELIVER_BATCH], k = 0;

    if (c->closing || rc != 0 || count == 0) {
        c->noticing = false;
        conn_unref(c);
        return;
    }
    for (size_t i = 0; i < count && i < AM_DELIVER_BATCH; i++) {
        if (evidence(c, (Amanat__V1__EvidenceKind)n[i].kind, n[i].message_id,
                     n[i].envelope_hash, n[i].recipient, n[i].time, body[k],
                     &len[k], sig[k]) != 0)
            continue;
        amanat__v1__evidence__init(&e[k]);
        e[k].body = (ProtobufCBinaryData){len[k], body[k]};
        e[k].signature = (ProtobufCBinaryData){AM_SIG_LEN, sig[k]};
        ep[k] = &e[k];
        k++;
    }
    rr.n_evidence = k;
    rr.evidence = ep;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_RELAY;
    f.receipt_relay = &rr;
    c->notices_owed = (unsigned)k;
    if (k == 0 || conn_send_frame(c, &f) != 0)
        c->noticing = false;
    conn_unref(c);
}

/* One ReceiptRelay at a time: the next once the sender acked this one. */
static void fetch_notices(conn_t *c)
{
    if (!c->receive || c->noticing || c->closing || c->state != CONN_READY)
        return;
    if (am_store_notices(c->srv->store, c->peer.agency_id, AM_DELIVER_BATCH,
                         on_notices, c) == 0) {
        c->noticing = true;
        conn_ref(c);
    }
}

void conn_kick_notices(am_server_t *srv, const char *sender)
{
    for (conn_t *c = am_sess_first(srv, AM_SESS_AGENCY, sender); c != NULL;
         c = am_sess_next(c, sender))
        fetch_notices(c);
}

void conn_kick_notices_all(am_server_t *srv)
{
    for (conn_t *c = srv->conns; c != NULL; c = c->next)
        fetch_notices(c);
}

static void on_notice_acked(void *ctx, int rc)
{
    conn_t *c = ctx;

    c->store_pending--;
    if (!c->closing && rc == 0 && c->notices_owed > 0 &&
        --c->notices_owed == 0) {
        c->noticing = false;
        fetch_notices(c);
    }
    if (!c->closing)
        conn_flow(c);
    conn_unref(c);
}

static void on_receipt_ack(conn_t *c, const Amanat__V1__ReceiptAck *a)
{
    for (size_t i = 0; i < a->n_refs && !c->closing; i++) {
        const Amanat__V1__EvidenceRef *r = a->refs[i];

        if (r->message_id.len != AM_MSG_ID_LEN ||
            !am_agency_id_valid(r->recipient_id)) {
            conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0,
                            true, "receipt_ack: bad reference %zu", i);
            return;
        }
        if (am_store_notice_ack(c->srv->store, c->peer.agency_id,
                                (int)r->kind, r->message_id.data,
                                r->recipient_id, on_notice_acked, c) == 0) {
            conn_ref(c);
            c->store_pending++;
        }
    }
    conn_flow(c);
}

typedef struct {
    conn_t *c;
    uint8_t id[AM_MSG_ID_LEN];
} ack_t;

/* Counts only the first acknowledgement of an id of the current batch. */
static void on_acked(void *ctx, int rc)
{
    ack_t *a = ctx;
    conn_t *c = a->c;

    c->store_pending--;
    if (!c->closing) {
        for (unsigned i = 0; i < c->inflight; i++) {
            if (memcmp(c->inflight_ids[i], a->id, AM_MSG_ID_LEN) != 0)
                continue;
            /* its sender is now owed "delivered" evidence */
            if (rc == 0)
                conn_kick_notices(c->srv, c->inflight_senders[i]);
            c->inflight--;
            memcpy(c->inflight_ids[i], c->inflight_ids[c->inflight],
                   AM_MSG_ID_LEN);
            memcpy(c->inflight_senders[i], c->inflight_senders[c->inflight],
                   sizeof c->inflight_senders[0]);
            break;
        }
        if (rc != 0 && rc != AM_EKEY)
            conn_log(c, "acknowledgement not stored: %s", am_strerror(rc));
        fetch(c);
        conn_flow(c);
    }
    am_free(a);
    conn_unref(c);
}

static void on_delivery_ack(conn_t *c, const Amanat__V1__DeliveryAck *a)
{
    ack_t *ack;

    if (a->message_id.len != AM_MSG_ID_LEN) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, true,
                        "delivery_ack: message_id of %zu bytes",
                        a->message_id.len);
        return;
    }
    if ((ack = am_calloc(1, sizeof *ack)) == NULL)
        return;
    ack->c = c;
    memcpy(ack->id, a->message_id.data, AM_MSG_ID_LEN);
    if (am_store_ack(c->srv->store, c->peer.agency_id, a->message_id.data,
                     (int64_t)time(NULL), on_acked, ack) == 0) {
        conn_ref(c);
        c->store_pending++;
        conn_flow(c);
    } else {
        am_free(ack);
    }
}

static void on_hello(conn_t *c, const Amanat__V1__Hello *h)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__AuthResult a = AMANAT__V1__AUTH_RESULT__INIT;
    size_t limit;

    if (h->protocol_version != 1) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_VERSION, 0, true,
                        "protocol version %u", h->protocol_version);
        return;
    }
    /* the client must take every frame the relay may deliver */
    limit = h->max_frame ? h->max_frame : AM_FRAME_MAX_DEFAULT;
    if (limit < c->srv->cfg.frame_max || limit > AM_FRAME_MAX_CEILING) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, true,
                        "hello max_frame %u: this relay delivers frames up "
                        "to %zu bytes", h->max_frame, c->srv->cfg.frame_max);
        return;
    }
    a.ok = 1;
    a.peer_id = c->peer.agency_id;
    a.max_frame = (uint32_t)c->srv->cfg.frame_max;
    a.relay_time = (int64_t)time(NULL);
    f.op_case = AMANAT__V1__FRAME__OP_AUTH_RESULT;
    f.auth_result = &a;
    if (conn_send_frame(c, &f) != 0) {
        conn_close(c, "cannot send");
        return;
    }
    c->state = CONN_READY;
    c->receive = h->receive;
    fetch(c);
    fetch_notices(c);
}

void conn_frame(conn_t *c, const uint8_t *body, size_t len)
{
    Amanat__V1__Frame *f = NULL, reply = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Pong pong = AMANAT__V1__PONG__INIT;

    int rc = am_frame_parse(body, len, c->srv->cfg.frame_max, &f);

    if (rc != 0) {
        conn_send_error(c, rc == AM_ETOOBIG
                               ? AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG
                               : AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                        0, true, "%s", am_err_detail());
        return;
    }
    if (c->state == CONN_HELLO) {
        if (f->op_case == AMANAT__V1__FRAME__OP_HELLO)
            on_hello(c, f->hello);
        else
            conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0,
                            true, "the first frame must be hello");
    } else if (f->op_case == AMANAT__V1__FRAME__OP_SUBMIT) {
        on_submit(c, f->submit);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_DELIVERY_ACK) {
        on_delivery_ack(c, f->delivery_ack);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_ACK) {
        on_receipt_ack(c, f->receipt_ack);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_PING) {
        pong.nonce = f->ping->nonce;
        reply.op_case = AMANAT__V1__FRAME__OP_PONG;
        reply.pong = &pong;
        if (conn_send_frame(c, &reply) != 0)
            conn_close(c, "cannot send");
    } else if (f->op_case != AMANAT__V1__FRAME__OP_PONG) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, true,
                        "frame %d is not for the relay", (int)f->op_case);
    }
    am_frame_free(f);
}
