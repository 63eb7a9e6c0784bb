/* Frames after authentication (docs/PROTOCOL.md sections 5.3 and 14):
 * Hello first, then Submit (conn_submit.c), DeliveryAck, ReceiptAck and
 * Ping; delivery of pending envelopes and of the evidence owed to a
 * sender.  Storage answers come back on the loop through the store's
 * callbacks. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"
#include "link.h"

static void fetch(conn_t *c);

/* What the session waits for (deliveries, evidence, the effect of an
 * acknowledgement) could not be fetched or stored: memory or the store
 * failed, and nothing would try again before another event.  Rather than
 * a session gone silent, end it (fatal ERROR_UNAVAILABLE): the client
 * connects again and what is pending is fetched afresh. */
static void unavailable(conn_t *c, const char *what, int rc)
{
    if (!c->closing)
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE, 0, true,
                        "%s: %s; connect again", what, am_strerror(rc));
}

/* Whether id is on the wire already, unacknowledged: the store lists it as
 * pending until its acknowledgement is stored. */
bool conn_in_flight(const conn_t *c, const uint8_t id[AM_MSG_ID_LEN])
{
    for (unsigned i = 0; i < c->inflight; i++)
        if (memcmp(c->fl->ids[i], id, AM_MSG_ID_LEN) == 0)
            return true;
    return false;
}

static int deliver(conn_t *c, const am_store_item_t *it)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Deliver d = AMANAT__V1__DELIVER__INIT;
    Amanat__V1__Evidence e = AMANAT__V1__EVIDENCE__INIT;
    uint8_t body[AM_EVIDENCE_BODY_MAX], sig[AM_SIG_LEN];
    size_t body_len;
    int rc;

    /* the signature kept with the envelope; else signed again, the same
     * (Ed25519 is deterministic) */
    if ((rc = conn_evidence_cached(c, it->message_id, it->envelope_hash,
                                   it->accepted_at,
                                   it->has_evcache ? it->evcache : NULL, body,
                                   &body_len, sig)) != 0)
        return rc;
    e.body = (ProtobufCBinaryData){body_len, body};
    e.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
    d.envelope = (ProtobufCBinaryData){it->envelope_len, it->envelope};
    d.accepted = &e;
    f.op_case = AMANAT__V1__FRAME__OP_DELIVER;
    f.deliver = &d;
    if (c->relay_peer && (rc = conn_peer_deliver(c, it, &d)) != 0)
        return rc;
    rc = conn_send_frame(c, &f);
    if (c->relay_peer)
        conn_peer_deliver_free(&d);
    if (rc != 0)
        return rc;
    /* who hears of its acknowledgement */
    memcpy(c->fl->senders[c->inflight], it->owed, sizeof c->fl->senders[0]);
    memcpy(c->fl->ids[c->inflight++], it->message_id, AM_MSG_ID_LEN);
    return 0;
}

static void on_pending(void *ctx, int rc, const am_store_item_t *items,
                       size_t n)
{
    conn_t *c = ctx;
    size_t sent = 0;

    c->fetching = false;
    if (rc == 0 && n > 0 && c->fl == NULL &&
        (c->fl = am_calloc(1, sizeof *c->fl)) == NULL)
        rc = AM_ENOMEM;
    for (size_t i = 0; rc == 0 && !c->closing && i < n; i++) {
        if (c->inflight == AM_DELIVER_WINDOW) /* cannot be: fetch keeps room */
            break;
        c->cursor = items[i].at;
        if (conn_in_flight(c, items[i].message_id))
            continue;
        if (deliver(c, &items[i]) != 0) {
            conn_close(c, "cannot send");
            break;
        }
        sent++;
    }
    if (rc != 0)
        unavailable(c, "cannot fetch deliveries", rc);
    /* fill the window (fetch stops at its edge and when the socket is
     * full); all of them were on the wire already: page on; or something
     * was stored after this fetch was asked for */
    if (rc == 0 && (n > 0 || c->kicked))
        fetch(c);
    conn_unref(c);
}

/* Fetch the next envelopes in delivery order while the window has room
 * for a batch and the socket has taken the last one.  Paging on from the
 * last one fetched, unless nothing is unacknowledged (then from the start,
 * which also retries any whose acknowledgement failed) or one of a higher
 * priority arrived (from the start too, skipping what is on the wire). */
static void fetch(conn_t *c)
{
    const am_store_cursor_t *after = &c->cursor;
    size_t max = AM_DELIVER_BATCH;
    int rc;

    if (!c->receive || c->fetching || c->closing || c->state != CONN_READY ||
        c->inflight + AM_DELIVER_BATCH > AM_DELIVER_WINDOW)
        return;
    c->fetch_deferred = uv_stream_get_write_queue_size(
                            (uv_stream_t *)&c->tcp) > AM_STORE_NEXT_BYTES;
    if (c->fetch_deferred)
        return;
    if (c->inflight == 0 || c->refetch) {
        after = NULL;
        max += c->inflight;
        c->refetch = false;
    }
    if ((rc = am_store_next(c->srv->store, c->peer.agency_id, max,
                            (int64_t)time(NULL), after, on_pending, c)) != 0) {
        unavailable(c, "cannot fetch deliveries", rc);
        return;
    }
    c->fetching = true;
    c->kicked = false; /* this one sees all that was committed */
    conn_ref(c);
}

void conn_wrote(conn_t *c)
{
    if (c->fetch_deferred)
        fetch(c);
}

void conn_kick(am_server_t *srv, const char *agency_id, int priority)
{
    /* the next session first: a failed fetch closes one (unavailable) */
    for (conn_t *c = am_sess_first(srv, AM_SESS_AGENCY, agency_id), *next;
         c != NULL; c = next) {
        next = am_sess_next(c, agency_id);
        /* a fetch out now was asked for before this was committed */
        if ((c->inflight > 0 || c->fetching) &&
            priority > c->cursor.priority)
            c->refetch = true;
        c->kicked = c->fetching;
        fetch(c);
    }
}

static void fetch_notices(conn_t *c);

static void on_notices(void *ctx, int rc, const am_store_notice_t *n,
                       size_t count)
{
    conn_t *c = ctx;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptRelay rr = AMANAT__V1__RECEIPT_RELAY__INIT;
    Amanat__V1__Evidence e[AM_NOTICE_BATCH], *ep[AM_NOTICE_BATCH];
    uint8_t body[AM_NOTICE_BATCH][AM_EVIDENCE_BODY_MAX];
    uint8_t sig[AM_NOTICE_BATCH][AM_SIG_LEN];
    size_t len[AM_NOTICE_BATCH], k = 0;
    int erc, unsigned_rc = 0;

    if (c->closing || rc != 0 || count == 0) {
        c->noticing = false;
        if (rc != 0)
            unavailable(c, "cannot fetch evidence", rc);
        conn_unref(c);
        return;
    }
    for (size_t i = 0; i < count && i < AM_NOTICE_BATCH; i++) {
        if (n[i].evidence_len > 0) {
            /* another relay's, passed on as it signed it */
            ep[k] = amanat__v1__evidence__unpack(NULL, n[i].evidence_len,
                                                 n[i].evidence);
            if (ep[k] != NULL)
                k++;
            continue;
        }
        if ((erc = conn_evidence(c, (Amanat__V1__EvidenceKind)n[i].kind,
                                 n[i].message_id, n[i].envelope_hash,
                                 n[i].recipient, n[i].time, body[k], &len[k],
                                 sig[k])) != 0) {
            unsigned_rc = erc; /* it stays owed: sent with a later batch */
            continue;
        }
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
    if (k == 0) {
        c->noticing = false;
        /* none to send, so no acknowledgement would bring a later batch */
        if (unsigned_rc == AM_ENOMEM)
            unavailable(c, "cannot sign evidence", unsigned_rc);
    } else if ((rc = conn_send_frame(c, &f)) != 0)
        unavailable(c, "cannot send evidence", rc);
    for (size_t i = 0; i < k; i++)
        if (ep[i] != &e[i])
            amanat__v1__evidence__free_unpacked(ep[i], NULL);
    conn_unref(c);
}

/* One ReceiptRelay at a time: the next once the sender acked this one. */
static void fetch_notices(conn_t *c)
{
    int rc;

    if (!c->receive || c->noticing || c->closing || c->state != CONN_READY)
        return;
    if ((rc = am_store_notices(c->srv->store, c->peer.agency_id,
                               AM_NOTICE_BATCH, on_notices, c)) != 0) {
        unavailable(c, "cannot fetch evidence", rc);
        return;
    }
    c->noticing = true;
    conn_ref(c);
}

/* The next session is taken first: closing one leaves its chain. */
void conn_kick_notices(am_server_t *srv, const char *sender)
{
    for (conn_t *c = am_sess_first(srv, AM_SESS_AGENCY, sender), *next;
         c != NULL; c = next) {
        next = am_sess_next(c, sender);
        fetch_notices(c);
    }
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
    /* not stored: the next ReceiptRelay would never come */
    if (rc != 0 && rc != AM_EKEY)
        unavailable(c, "cannot store the receipt acknowledgement", rc);
    if (!c->closing)
        conn_flow(c);
    conn_unref(c);
}

static void on_receipt_ack(conn_t *c, const Amanat__V1__ReceiptAck *a)
{
    for (size_t i = 0; i < a->n_refs && !c->closing; i++) {
        const Amanat__V1__EvidenceRef *r = a->refs[i];
        int rc;

        if (r->message_id.len != AM_MSG_ID_LEN ||
            !am_agency_id_valid(r->recipient_id)) {
            conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0,
                            true, "receipt_ack: bad reference %zu", i);
            return;
        }
        if ((rc = am_store_notice_ack(c->srv->store, c->peer.agency_id,
                                      (int)r->kind, r->message_id.data,
                                      r->recipient_id, on_notice_acked,
                                      c)) != 0) {
            unavailable(c, "cannot store the receipt acknowledgement", rc);
            return;
        }
        conn_ref(c);
        c->store_pending++;
    }
    conn_flow(c);
}

typedef struct {
    conn_t *c;
    uint8_t id[AM_MSG_ID_LEN];
} ack_t;

/* Counts only the first acknowledgement of an id of the current batch. */
void conn_acked(conn_t *c, const uint8_t id[AM_MSG_ID_LEN], int rc,
                bool refused)
{
    if (c->closing)
        return;
    for (unsigned i = 0; i < c->inflight; i++) {
        if (memcmp(c->fl->ids[i], id, AM_MSG_ID_LEN) != 0)
            continue;
        /* the relay it came from is now owed the peer's evidence; a
         * sender, once the store folds the acknowledgement (on_folded) */
        if (rc == 0 && !refused) {
            conn_log(c, "%s %02x%02x%02x%02x for %s",
                     c->relay_peer ? "forwarded" : "delivered", id[0], id[1],
                     id[2], id[3], c->fl->senders[i]);
            if (c->relay_peer)
                conn_kick_notices(c->srv, c->fl->senders[i]);
        }
        c->inflight--;
        /* the last entry moves into the hole (itself, if it was) */
        memmove(c->fl->ids[i], c->fl->ids[c->inflight], AM_MSG_ID_LEN);
        memmove(c->fl->senders[i], c->fl->senders[c->inflight],
                sizeof c->fl->senders[0]);
        break;
    }
    if (rc != 0 && rc != AM_EKEY) {
        conn_log(c, "acknowledgement not stored: %s", am_strerror(rc));
        /* pending again: from the start, now or once the fetch out now
         * (which pages on past it) is back, as after a kick */
        c->refetch = true;
        c->kicked = c->fetching;
    }
    fetch(c);
    conn_flow(c);
}

conn_ackreq_t *conn_ackreq(conn_t *c, const uint8_t id[AM_MSG_ID_LEN])
{
    conn_ackreq_t *a = am_calloc(1, sizeof *a);

    if (a != NULL) {
        a->c = c;
        memcpy(a->id, id, AM_MSG_ID_LEN);
    }
    return a;
}

void conn_on_acked(void *ctx, int rc)
{
    conn_ackreq_t *a = ctx;
    conn_t *c = a->c;

    c->store_pending--;
    conn_acked(c, a->id, rc, a->refused);
    am_free(a);
    conn_unref(c);
}

static void on_delivery_ack(conn_t *c, const Amanat__V1__DeliveryAck *a)
{
    conn_ackreq_t *ack;
    int rc = AM_ENOMEM;

    if (a->message_id.len != AM_MSG_ID_LEN) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, true,
                        "delivery_ack: message_id of %zu bytes",
                        a->message_id.len);
        return;
    }
    /* dropped, the envelope would stay in the window unacknowledged and
     * its sender would not hear of it before the next session */
    if ((ack = conn_ackreq(c, a->message_id.data)) == NULL ||
        (rc = am_store_ack(c->srv->store, c->peer.agency_id,
                           a->message_id.data, (int64_t)time(NULL),
                           conn_on_acked, ack)) != 0) {
        am_free(ack);
        unavailable(c, "cannot store the delivery acknowledgement", rc);
        return;
    }
    conn_ref(c);
    c->store_pending++;
    conn_flow(c);
}

/* The relay's revocation list when newer than the client's (NULL if not,
 * or if it would not fit a frame: the client then keeps its own). */
static Amanat__V1__RevocationList *newer_crl(conn_t *c, uint64_t held)
{
    const am_crl_t *crl = am_dir_crl(c->srv->dir);
    const uint8_t *b;
    size_t len;

    if (crl == NULL || am_crl_sequence(crl) <= held ||
        (b = am_dir_crl_bytes(c->srv->dir, &len)) == NULL)
        return NULL;
    if (len > c->srv->cfg.frame_max - 256) {
        conn_log(c, "revocation list of %zu bytes not sent: over the frame "
                 "limit", len);
        return NULL;
    }
    return amanat__v1__revocation_list__unpack(NULL, len, b);
}

static void on_hello(conn_t *c, const Amanat__V1__Hello *h)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__AuthResult a = AMANAT__V1__AUTH_RESULT__INIT;
    size_t limit;
    int rc;

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
    a.crl = newer_crl(c, h->crl_sequence);
    f.op_case = AMANAT__V1__FRAME__OP_AUTH_RESULT;
    f.auth_result = &a;
    rc = conn_send_frame(c, &f);
    if (a.crl != NULL)
        amanat__v1__revocation_list__free_unpacked(a.crl, NULL);
    if (rc != 0) {
        conn_close(c, "cannot send");
        return;
    }
    c->state = CONN_READY;
    c->receive = h->receive;
    fetch(c);
    fetch_notices(c);
    if (c->relay_peer)
        conn_peer_ready(c);
}

void conn_pong(conn_t *c, const Amanat__V1__Ping *ping)
{
    Amanat__V1__Frame reply = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Pong p = AMANAT__V1__PONG__INIT;

    p.nonce = ping->nonce;
    reply.op_case = AMANAT__V1__FRAME__OP_PONG;
    reply.pong = &p;
    if (conn_send_frame(c, &reply) != 0)
        conn_close(c, "cannot send");
}

/* A peer relay pulls and answers (section 18): it submits nothing, and
 * acknowledges with ForwardResult, not DeliveryAck. */
static void peer_frame(conn_t *c, const Amanat__V1__Frame *f)
{
    if (f->op_case == AMANAT__V1__FRAME__OP_FORWARD_RESULT)
        conn_forward_result(c, f->forward_result);
    else if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_ACK)
        on_receipt_ack(c, f->receipt_ack);
    else if (f->op_case == AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP)
        conn_lookup(c, f->directory_lookup);
    else if (f->op_case == AMANAT__V1__FRAME__OP_PING)
        conn_pong(c, f->ping);
    else if (f->op_case != AMANAT__V1__FRAME__OP_PONG)
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, true,
                        "frame %d is not for a relay's session with a relay",
                        (int)f->op_case);
}

void conn_frame(conn_t *c, const uint8_t *body, size_t len)
{
    Amanat__V1__Frame *f = NULL;
    int rc = am_frame_parse(body, len, c->srv->cfg.frame_max, &f);

    if (rc != 0) {
        /* out of memory: the frame is lost, not malformed */
        conn_send_error(c, rc == AM_ETOOBIG
                               ? AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG
                           : rc == AM_ENOMEM
                               ? AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE
                               : AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                        0, true, "%s", am_err_detail());
        return;
    }
    if (c->link != NULL) {
        link_frame(c, f); /* this relay's own link to a peer relay */
    } else if (c->state == CONN_HELLO) {
        if (f->op_case == AMANAT__V1__FRAME__OP_HELLO)
            on_hello(c, f->hello);
        else
            conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0,
                            true, "the first frame must be hello");
    } else if (c->relay_peer) {
        peer_frame(c, f);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_SUBMIT) {
        conn_submit(c, f->submit);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_DELIVERY_ACK) {
        on_delivery_ack(c, f->delivery_ack);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_ACK) {
        on_receipt_ack(c, f->receipt_ack);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_PREKEY_UPLOAD) {
        conn_prekey_upload(c, f->prekey_upload);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP) {
        conn_lookup(c, f->directory_lookup);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_PING) {
        conn_pong(c, f->ping);
    } else if (f->op_case != AMANAT__V1__FRAME__OP_PONG) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, true,
                        "frame %d is not for the relay", (int)f->op_case);
    }
    am_frame_free(f);
}
