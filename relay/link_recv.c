/* Envelopes a peer relay forwards to this one over this relay's link, and
 * the evidence it sends back about envelopes this relay forwarded to it
 * (docs/PROTOCOL.md section 18).
 *
 * A forwarded envelope is checked as a submitted one is, in the same
 * order, except that its sender is not the peer: the sender's certificate
 * comes with it and must verify under the root and revocation list, name
 * the peer as its home relay, and have signed the envelope (checked on the
 * thread pool).  Only recipients homed here get a delivery.  ForwardResult
 * with this relay's signed accepted evidence goes only after the commit. */
#include "link.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"

/* Clocks of two relays differ: an expiry a little beyond this relay's
 * maximum was within the forwarding relay's. */
#define EXPIRY_SKEW 3600

typedef struct {
    uv_work_t work;
    conn_t *c;
    am_env_t *env;
    am_cert_t sender;
    uint8_t *bytes;
    size_t len;
    uint8_t id[AM_MSG_ID_LEN];
    int vrc;
    Amanat__V1__ErrorCode code;
    char why[256];
    am_store_put_t put;
    int64_t signed_at; /* the time put.evcache was made for */
} fwd_in_t;

static void fwd_free(fwd_in_t *f)
{
    am_env_free(f->env);
    am_free(f->bytes);
    am_free(f);
}

/* ForwardResult: the accepted evidence when ok, else code and why. */
static void answer(conn_t *c, fwd_in_t *f, int64_t accepted_at, bool ok)
{
    Amanat__V1__Frame fr = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ForwardResult r = AMANAT__V1__FORWARD_RESULT__INIT;
    Amanat__V1__Evidence e = AMANAT__V1__EVIDENCE__INIT;
    uint8_t body[AM_EVIDENCE_BODY_MAX], sig[AM_SIG_LEN];
    size_t body_len;

    if (ok && conn_accepted(c, &f->put, f->signed_at, accepted_at, body,
                            &body_len, sig) != 0) {
        ok = false;
        f->code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(f->why, sizeof f->why, "stored, but no evidence");
    }
    r.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, f->id};
    if (ok) {
        e.body = (ProtobufCBinaryData){body_len, body};
        e.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
        r.accepted = &e;
    } else {
        r.error = f->code;
        r.message = f->why;
        conn_log(c, "forwarded %02x%02x%02x%02x refused: %s", f->id[0],
                 f->id[1], f->id[2], f->id[3], f->why);
    }
    fr.op_case = AMANAT__V1__FRAME__OP_FORWARD_RESULT;
    fr.forward_result = &r;
    if (conn_send_frame(c, &fr) != 0)
        conn_close(c, "cannot send");
}

/* A refusal that may pass (quota, storage): the peer offers the envelope
 * again in its next session, so this one ends, and is dialled again after
 * a backoff that a success resets. */
static void retry_later(conn_t *c)
{
    if (c->link->backoff_ms < 5000)
        c->link->backoff_ms = 5000;
    conn_close(c, "a forwarded envelope could not be stored yet");
}

static void on_stored(void *ctx, int rc, int64_t accepted_at)
{
    fwd_in_t *f = ctx;
    conn_t *c = f->c;

    c->store_pending--;
    if (rc == 0)
        for (size_t i = 0; i < f->put.n_recipients; i++)
            conn_kick(c->srv, f->put.recipients[i], f->put.priority);
    if (c->closing)
        goto out;
    if (rc == 0) {
        conn_log(c, "stored %02x%02x%02x%02x from %s for %zu recipients",
                 f->id[0], f->id[1], f->id[2], f->id[3], c->peer.agency_id,
                 f->put.n_recipients);
        c->link->backoff_ms = 200;
        answer(c, f, accepted_at, true);
        goto out;
    }
    f->code = rc == AM_EDUP ? AMANAT__V1__ERROR_CODE__ERROR_DUPLICATE
              : rc == AM_ELIMIT ? AMANAT__V1__ERROR_CODE__ERROR_QUOTA
                                : AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
    snprintf(f->why, sizeof f->why, "not stored: %s", am_strerror(rc));
    answer(c, f, 0, false);
    if (rc != AM_EDUP)
        retry_later(c);
out:
    conn_flow(c);
    conn_unref(c);
    fwd_free(f);
}

/* The recipients homed here, and the expiry; fills f->put. */
static int check_recipients(conn_t *c, fwd_in_t *f)
{
    const am_env_t *env = f->env;
    const char *self = am_dir_self(c->srv->dir)->agency_id;
    int64_t now = (int64_t)time(NULL), exp = am_env_expires_at(env);
    am_store_put_t *p = &f->put;

    for (size_t i = 0; i < am_env_recipient_count(env); i++) {
        const am_cert_t *r = am_dir_find(c->srv->dir, am_env_recipient(env, i));

        if (r != NULL && (r->roles & AM_ROLE_AGENCY) && r->not_after >= now &&
            strcmp(r->home_relay, self) == 0)
            snprintf(p->recipients[p->n_recipients++], sizeof p->recipients[0],
                     "%s", r->agency_id);
    }
    f->code = AMANAT__V1__ERROR_CODE__ERROR_NOT_HOME;
    if (p->n_recipients == 0)
        return snprintf(f->why, sizeof f->why, "no recipient is an agency "
                        "homed at %s", self), -1;
    f->code = AMANAT__V1__ERROR_CODE__ERROR_EXPIRED;
    if (exp <= now || exp > now + AM_MAX_EXPIRY + EXPIRY_SKEW)
        return snprintf(f->why, sizeof f->why, "expires_at %lld: past, or "
                        "beyond %d days", (long long)exp,
                        AM_MAX_EXPIRY / 86400), -1;
    memcpy(p->message_id, am_env_message_id(env), AM_MSG_ID_LEN);
    memcpy(p->envelope_hash, am_env_hash(env), AM_HASH_LEN);
    snprintf(p->sender, sizeof p->sender, "%s", f->sender.agency_id);
    snprintf(p->route, sizeof p->route, "%s", c->peer.agency_id);
    p->priority = am_env_priority(env);
    p->expires_at = exp;
    p->envelope = f->bytes;
    p->envelope_len = f->len;
    p->quota_messages = c->srv->cfg.quota_messages;
    p->quota_bytes = c->srv->cfg.quota_bytes;
    return 0;
}

static void verify_work(uv_work_t *w)
{
    fwd_in_t *f = w->data;

    if ((f->vrc = am_env_verify(f->env, &f->sender)) != 0)
        snprintf(f->why, sizeof f->why, "signature of %s: %s",
                 f->sender.agency_id, am_err_detail());
}

static void verify_done(uv_work_t *w, int status)
{
    fwd_in_t *f = w->data;
    conn_t *c = f->c;

    c->store_pending--;
    if (status != 0 || c->srv->stopping || c->closing)
        goto drop;
    f->code = AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE;
    if (f->vrc == 0 && check_recipients(c, f) == 0) {
        f->signed_at = (int64_t)time(NULL);
        conn_presign(c, &f->put, f->signed_at);
        if (am_store_put(c->srv->store, &f->put, f->signed_at, on_stored,
                         f) == 0) {
            c->store_pending++;
            conn_flow(c);
            return; /* the reference goes on to on_stored */
        }
        f->code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(f->why, sizeof f->why, "store unavailable");
    }
    answer(c, f, 0, false);
    if (f->code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE)
        retry_later(c);
    conn_flow(c);
drop:
    conn_unref(c);
    fwd_free(f);
}

/* The sender's certificate: under the root and the revocation list held,
 * an agency's, homed at the peer that forwards, the envelope's sender. */
static int check_sender(conn_t *c, const Amanat__V1__Deliver *d, fwd_in_t *f)
{
    am_cert_policy_t pol = {am_dir_root_pk(c->srv->dir), (int64_t)time(NULL),
                            AM_ROLE_AGENCY, am_dir_crl(c->srv->dir)};
    uint8_t cert[AM_CERT_MAX];
    size_t len;
    int rc;

    f->code = AMANAT__V1__ERROR_CODE__ERROR_AUTH;
    if (d->sender_certificate == NULL ||
        (len = amanat__v1__signed_certificate__get_packed_size(
             d->sender_certificate)) > sizeof cert)
        return snprintf(f->why, sizeof f->why, "no usable sender "
                        "certificate"), -1;
    amanat__v1__signed_certificate__pack(d->sender_certificate, cert);
    if ((rc = am_cert_verify(cert, len, &pol, &f->sender)) != 0) {
        if (rc == AM_EREVOKED)
            f->code = AMANAT__V1__ERROR_CODE__ERROR_REVOKED;
        return snprintf(f->why, sizeof f->why, "sender certificate: %s",
                        am_err_detail()), -1;
    }
    f->code = AMANAT__V1__ERROR_CODE__ERROR_NOT_HOME;
    if (strcmp(f->sender.home_relay, c->peer.agency_id) != 0)
        return snprintf(f->why, sizeof f->why, "sender %s is homed at %s, "
                        "not at %s", f->sender.agency_id,
                        f->sender.home_relay, c->peer.agency_id), -1;
    f->code = AMANAT__V1__ERROR_CODE__ERROR_SPOOFED_SENDER;
    if (strcmp(am_env_sender(f->env), f->sender.agency_id) != 0)
        return snprintf(f->why, sizeof f->why, "sender_id \"%s\" with the "
                        "certificate of %s", am_env_sender(f->env),
                        f->sender.agency_id), -1;
    return 0;
}

/* Bound, parse, hops, size and sender on the loop; then the signature. */
static int precheck(conn_t *c, const Amanat__V1__Deliver *d, fwd_in_t *f)
{
    size_t limit = c->srv->cfg.frame_max - AM_DELIVER_OVERHEAD;

    if (check_sender(c, d, f) != 0)
        return -1;
    f->code = AMANAT__V1__ERROR_CODE__ERROR_HOP_LIMIT;
    if (d->hops != 1)
        return snprintf(f->why, sizeof f->why, "hops %u: only envelopes "
                        "from their sender's home relay (1) are taken",
                        d->hops), -1;
    f->code = AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG;
    if (d->envelope.len > limit)
        return snprintf(f->why, sizeof f->why, "envelope of %zu bytes over "
                        "this relay's limit of %zu", d->envelope.len,
                        limit), -1;
    f->code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
    if ((f->bytes = am_malloc(d->envelope.len)) == NULL)
        return snprintf(f->why, sizeof f->why, "out of memory"), -1;
    memcpy(f->bytes, d->envelope.data, d->envelope.len);
    f->len = d->envelope.len;
    return 0;
}

void link_deliver(conn_t *c, const Amanat__V1__Deliver *d)
{
    fwd_in_t *f = am_calloc(1, sizeof *f);

    if (f == NULL) {
        conn_close(c, "out of memory");
        return;
    }
    f->c = c;
    f->work.data = f;
    if (am_env_parse(d->envelope.data, d->envelope.len, AM_FRAME_MAX_CEILING,
                     &f->env) != 0) {
        /* no message id to answer with: the link ends, logged */
        link_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                        am_err_detail());
        fwd_free(f);
        return;
    }
    memcpy(f->id, am_env_claimed_id(f->env), AM_MSG_ID_LEN);
    if (precheck(c, d, f) == 0) {
        /* the worker owns f from here: nothing of it is read after */
        if (uv_queue_work(c->srv->loop, &f->work, verify_work,
                          verify_done) == 0) {
            conn_ref(c);
            c->store_pending++;
            conn_flow(c);
            return;
        }
        f->code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(f->why, sizeof f->why, "cannot verify now");
    }
    answer(c, f, 0, false);
    if (f->code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE)
        retry_later(c);
    fwd_free(f);
}

/* Evidence the peer relay signed about envelopes this relay forwarded to
 * it: each kept for its sender, then all acknowledged in one ReceiptAck.
 * Evidence that does not verify or names nothing forwarded there is
 * acknowledged too (so that it does not come back) but not kept. */
typedef struct {
    conn_t *c;
    size_t n, waiting;
    bool retry;
    Amanat__V1__EvidenceRef refs[AM_NOTICE_BATCH], *rp[AM_NOTICE_BATCH];
    uint8_t ids[AM_NOTICE_BATCH][AM_MSG_ID_LEN];
    char who[AM_NOTICE_BATCH][AM_AGENCY_ID_MAX + 1];
    am_store_notice_t note;
} rcpt_t;

static void rcpt_done(rcpt_t *r)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck a = AMANAT__V1__RECEIPT_ACK__INIT;
    conn_t *c = r->c;

    if (!c->closing && r->retry) {
        conn_close(c, "evidence from the peer not stored: dialled again");
    } else if (!c->closing && r->n > 0) {
        a.n_refs = r->n;
        a.refs = r->rp;
        f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
        f.receipt_ack = &a;
        if (conn_send_frame(c, &f) != 0)
            conn_close(c, "cannot send");
        conn_kick_notices_all(c->srv); /* the senders homed here */
    }
    conn_unref(c);
    am_free(r);
}

static void on_noted(void *ctx, int rc)
{
    rcpt_t *r = ctx;

    r->c->store_pending--;
    if (rc == AM_EKEY || rc == AM_ECRYPTO)
        conn_log(r->c, "evidence from the peer not kept: %s",
                 am_strerror(rc));
    else if (rc != 0)
        r->retry = true;
    if (--r->waiting == 0)
        rcpt_done(r);
}

/* Verify one piece; its reference goes in the acknowledgement either way
 * when it can be named. */
static void one_receipt(conn_t *c, rcpt_t *r, const Amanat__V1__Evidence *e)
{
    am_store_notice_t *n = &r->note;
    am_evidence_t ev;
    size_t k = r->n;

    if ((n->evidence_len = amanat__v1__evidence__get_packed_size(e)) >
        sizeof n->evidence)
        return;
    amanat__v1__evidence__pack(e, n->evidence);
    if (am_evidence_peek(n->evidence, n->evidence_len, &ev) != 0)
        return;
    amanat__v1__evidence_ref__init(&r->refs[k]);
    memcpy(r->ids[k], ev.message_id, AM_MSG_ID_LEN);
    snprintf(r->who[k], sizeof r->who[k], "%s", ev.recipient_id);
    r->refs[k].kind = (Amanat__V1__EvidenceKind)ev.kind;
    r->refs[k].message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, r->ids[k]};
    r->refs[k].recipient_id = r->who[k];
    r->rp[k] = &r->refs[k];
    r->n++;
    if (am_evidence_verify(n->evidence, n->evidence_len, &c->peer, &ev) != 0 ||
        (ev.kind != AM_EVIDENCE_DELIVERED && ev.kind != AM_EVIDENCE_EXPIRED &&
         ev.kind != AM_EVIDENCE_DAMAGED)) {
        conn_log(c, "evidence from the peer refused: %s", am_err_detail());
        return;
    }
    n->kind = ev.kind;
    memcpy(n->message_id, ev.message_id, AM_MSG_ID_LEN);
    memcpy(n->envelope_hash, ev.envelope_hash, AM_HASH_LEN);
    snprintf(n->recipient, sizeof n->recipient, "%s", ev.recipient_id);
    n->time = ev.time;
    if (am_store_notice_put(c->srv->store, c->peer.agency_id, n, on_noted,
                            r) == 0) {
        r->waiting++;
        c->store_pending++;
    } else {
        r->retry = true;
    }
}

void link_receipts(conn_t *c, const Amanat__V1__ReceiptRelay *rr)
{
    rcpt_t *r;

    if (rr->n_evidence > AM_NOTICE_BATCH) {
        link_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                        "receipt_relay: too many pieces of evidence");
        return;
    }
    if ((r = am_calloc(1, sizeof *r)) == NULL) {
        conn_close(c, "out of memory");
        return;
    }
    r->c = c;
    conn_ref(c);
    r->waiting = 1; /* until every piece is queued */
    c->store_pending++;
    for (size_t i = 0; i < rr->n_evidence; i++)
        one_receipt(c, r, rr->evidence[i]);
    conn_flow(c);
    on_noted(r, 0);
}
