/* Receiving: envelopes verified, opened and stored before they are
 * acknowledged; receipts and replies recorded as events of the request
 * they answer; the relay's delivered and expired evidence recorded; the
 * automatic signed receipt; the sync loop with reconnection. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"
#include "pb.h"
#include "prekeys.h"
#include "receipt.h"

static int open_env(am_client_t *c, am_env_t *env, uint8_t **plain,
                    size_t *len)
{
    char dir[AM_PROFILE_PATH_MAX + 16];
    uint8_t sk[32];
    uint32_t pid = 0;
    int rc;

    if ((rc = am_env_wrap_prekey(env, c->prof.agency_id, &pid)) != 0)
        return rc;
    if (pid == 0) {
        memcpy(sk, c->prof.secret + 32, 32);
    } else if ((rc = am_profile_path(&c->prof, "prekeys", dir,
                                     sizeof dir)) != 0 ||
               (rc = am_prekeys_secret(dir, pid, sk)) != 0) {
        return rc;
    }
    rc = am_env_open(env, c->prof.agency_id, sk, plain, len);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

static void set_event(am_cevent_t *ev, const uint8_t about[AM_MSG_ID_LEN],
                      const char *kind, const char *party, int64_t t,
                      const uint8_t source[AM_MSG_ID_LEN])
{
    memset(ev, 0, sizeof *ev);
    memcpy(ev->message_id, about, AM_MSG_ID_LEN);
    snprintf(ev->kind, sizeof ev->kind, "%s", kind);
    snprintf(ev->party, sizeof ev->party, "%s", party);
    ev->time = t;
    if (source != NULL) {
        memcpy(ev->source, source, AM_MSG_ID_LEN);
        ev->has_source = true;
    }
}

/* A signed receipt from sender about one of our envelopes. */
static int receipt_event(am_client_t *c, const Amanat__V1__SignedReceipt *sr,
                         const am_cert_t *sender, const uint8_t source[16])
{
    static const char *const kinds[] = {"", "received", "acknowledged",
                                        "refused"};
    uint8_t buf[AM_RECEIPT_MAX], *mine = NULL, id[AM_MSG_ID_LEN];
    size_t len = amanat__v1__signed_receipt__get_packed_size(sr);
    Amanat__V1__Receipt *body = NULL;
    am_env_t *env = NULL;
    am_receipt_t r;
    am_cmsg_t m;
    am_cevent_t ev;
    int rc;

    if (len > sizeof buf)
        return am_errf(AM_ETOOBIG, "receipt too big");
    amanat__v1__signed_receipt__pack(sr, buf);
    if ((rc = am_pb_unpack(&amanat__v1__receipt__descriptor, "receipt",
                           sr->body.data, sr->body.len, AM_RECEIPT_MAX,
                           (ProtobufCMessage **)&body)) != 0)
        return rc;
    if (body->message_id.len != AM_MSG_ID_LEN) {
        am_pb_free(body);
        return am_errf(AM_EPROTO, "receipt without a message id");
    }
    memcpy(id, body->message_id.data, AM_MSG_ID_LEN);
    am_pb_free(body);
    /* checked against our own envelope, as a court would */
    if ((rc = am_cstore_get(c->store, id, &m, &mine)) != 0 ||
        (rc = am_env_parse(m.envelope, m.envelope_len, AM_ENV_MAX, &env)) != 0 ||
        (rc = am_env_verify(env, &c->prof.self)) != 0 ||
        (rc = am_receipt_verify(buf, len, sender, env, &r)) != 0)
        goto out;
    set_event(&ev, id, kinds[r.status], r.recipient_id, r.time, source);
    snprintf(ev.detail, sizeof ev.detail, "%s", r.reason);
    ev.signed_bytes = buf;
    ev.signed_len = len;
    rc = am_cstore_event(c->store, &ev);
out:
    am_env_free(env);
    am_free(mine);
    return rc;
}

static const char *reply_kind(Amanat__V1__ReplyStatus s)
{
    switch (s) {
    case AMANAT__V1__REPLY_STATUS__REPLY_STATUS_RECEIVED: return "received";
    case AMANAT__V1__REPLY_STATUS__REPLY_STATUS_IN_PROGRESS:
        return "in_progress";
    case AMANAT__V1__REPLY_STATUS__REPLY_STATUS_PARTIALLY_ANSWERED:
        return "partially_answered";
    case AMANAT__V1__REPLY_STATUS__REPLY_STATUS_ANSWERED: return "answered";
    case AMANAT__V1__REPLY_STATUS__REPLY_STATUS_MORE_INFORMATION_NEEDED:
        return "more_information";
    case AMANAT__V1__REPLY_STATUS__REPLY_STATUS_REFUSED: return "refused";
    default: return "replied";
    }
}

/* What a received case message says about one of our requests. */
/* Whether agency is one of a comma-separated list. */
bool cl_listed(const char *list, const char *agency)
{
    size_t n = strlen(agency);

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len == n && memcmp(p, agency, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* A reply counts for a request of ours that was sent to its sender. */
static int check_reply_to(am_client_t *c, const am_cmsg_t *m)
{
    uint8_t *bufs = NULL;
    am_cmsg_t req;
    int rc = am_cstore_get(c->store, m->in_reply_to, &req, &bufs);

    if (rc == 0 && (!req.outgoing || !cl_listed(req.recipients, m->sender)))
        rc = am_errf(AM_EKEY, "the reply from %s names a message that was "
                     "not sent to it", m->sender);
    am_free(bufs);
    return rc;
}

static int answer_events(am_client_t *c, const am_cmsg_t *m,
                         const Amanat__V1__CaseMessage *cm,
                         const am_cert_t *sender)
{
    am_cevent_t ev;
    int rc;

    if (cm->body_case == AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT)
        return receipt_event(c, cm->receipt, sender, m->id);
    if (cm->body_case != AMANAT__V1__CASE_MESSAGE__BODY_REPLY ||
        !m->has_reply_to)
        return 0;
    if ((rc = check_reply_to(c, m)) != 0)
        return rc;
    set_event(&ev, m->in_reply_to, reply_kind(cm->reply->status), m->sender,
              m->created_at, m->id);
    if (cm->reply->explanation != NULL)
        snprintf(ev.detail, sizeof ev.detail, "%s", cm->reply->explanation);
    return am_cstore_event(c->store, &ev);
}

/* Fill the record of a received, opened envelope. */
static void describe_in(am_cmsg_t *m, const am_env_t *env,
                        const Amanat__V1__CaseMessage *cm)
{
    size_t used = 0;

    memcpy(m->id, am_env_message_id(env), AM_MSG_ID_LEN);
    snprintf(m->sender, sizeof m->sender, "%s", am_env_sender(env));
    for (size_t i = 0; i < am_env_recipient_count(env); i++)
        used += (size_t)snprintf(m->recipients + used,
                                 sizeof m->recipients - used, "%s%s",
                                 i ? "," : "", am_env_recipient(env, i));
    snprintf(m->kind, sizeof m->kind, "unreadable"); /* unless cm says */
    m->priority = am_env_priority(env);
    m->created_at = am_env_created_at(env);
    m->expires_at = am_env_expires_at(env);
    m->stored_at = cl_now();
    if (cm == NULL)
        return;
    cl_describe_case(m, cm);
    if (cm->body_case == AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT)
        m->read_at = m->stored_at; /* nothing for an officer to read */
}

static int send_ack(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN])
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;

    a.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)id};
    f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    f.delivery_ack = &a;
    return am_session_send(c->sess, &f);
}

/* In one transaction: the message, what it says about our requests, the
 * relay's accepted evidence, and the receipt owed to its sender (queued:
 * submitted after the acknowledgement, else by the next session). */
static int store_in(am_client_t *c, const am_cmsg_t *m,
                    const Amanat__V1__CaseMessage *cm, const am_cert_t *from,
                    const Amanat__V1__Deliver *d, const uint8_t *hash,
                    const outgoing_t *receipt)
{
    cl_evidence_t ev;
    int rc;

    if ((rc = am_cstore_begin(c->store)) != 0)
        return rc;
    if ((rc = am_cstore_put(c->store, m, NULL)) == 0 && cm != NULL &&
        answer_events(c, m, cm, from) != 0)
        /* kept, but it says nothing we can check about our requests */
        fprintf(stderr, "amanat: %s from %s not counted: %s\n", m->kind,
                m->sender, am_err_detail());
    /* the relay's accepted evidence, for this side's evidence bundles: the
     * delivering relay signs its own (no lookup inside the transaction) */
    if (rc == 0 &&
        cl_check_evidence(c, d->accepted, false, m->id, hash, &ev) == 0 &&
        ev.ev.kind == AM_EVIDENCE_ACCEPTED)
        rc = cl_evidence_event(c, m->id, &ev, "accepted", ev.ev.relay_id);
    if (rc == 0 && receipt != NULL)
        rc = cl_store_outgoing(c, receipt);
    if (rc != 0 || (rc = am_cstore_commit(c->store)) != 0)
        am_cstore_rollback(c->store);
    return rc;
}

/* The id a set-aside or conflicting envelope is stored under: the first
 * 16 bytes of the BLAKE2b of its exact bytes, which no sender chooses. */
static int own_id(const Amanat__V1__Deliver *d, uint8_t id[AM_MSG_ID_LEN])
{
    return crypto_generichash(id, AM_MSG_ID_LEN, d->envelope.data,
                              d->envelope.len, NULL, 0) == 0
               ? 0
               : am_errf(AM_ECRYPTO, "BLAKE2b failed");
}

/* Failures that may pass: the connection, the disk, memory. */
static bool transient(int rc)
{
    return rc == AM_EIO || rc == AM_ELIMIT || rc == AM_ENOMEM ||
           rc == AM_ESTATE;
}

/* Set aside an envelope this agency cannot verify or open: stored with
 * the reason, then acknowledged, so that it neither holds the relay's
 * window nor comes back; the inbox lists it as rejected. */
static int reject(am_client_t *c, const am_env_t *env,
                  const Amanat__V1__Deliver *d)
{
    am_cmsg_t m = {0};
    am_cevent_t ev;
    char why[320];
    int rc;

    snprintf(why, sizeof why, "%s", am_err_detail());
    /* never under the id it claims: that id may be a genuine message's */
    if ((rc = own_id(d, m.id)) != 0)
        return rc;
    snprintf(m.sender, sizeof m.sender, "%s", am_env_sender(env));
    snprintf(m.recipients, sizeof m.recipients, "%s", c->prof.agency_id);
    snprintf(m.kind, sizeof m.kind, "rejected");
    snprintf(m.state, sizeof m.state, "rejected");
    m.priority = AM_PRIORITY_ROUTINE;
    m.created_at = m.stored_at = cl_now();
    m.envelope = d->envelope.data;
    m.envelope_len = d->envelope.len;
    set_event(&ev, m.id, "rejected", m.sender, m.created_at, NULL);
    snprintf(ev.detail, sizeof ev.detail, "%s", why);
    if ((rc = am_cstore_begin(c->store)) != 0)
        return rc;
    if ((rc = am_cstore_put(c->store, &m, NULL)) != 0 ||
        (rc = am_cstore_event(c->store, &ev)) != 0 ||
        (rc = am_cstore_commit(c->store)) != 0) {
        am_cstore_rollback(c->store);
        return rc;
    }
    fprintf(stderr, "amanat: an envelope claiming to come from %s was set "
            "aside unread: %s\n", m.sender, why);
    return send_ack(c, am_env_claimed_id(env));
}

/* The sender's certificate verifies the envelope: the cached one, else a
 * fresh one from the relay (re-issued, renewed). */
static int verify(am_client_t *c, am_env_t *env, peer_t *from)
{
    int rc = cl_peer(c, am_env_sender(env), true, false, from);

    if (rc == 0 && (rc = am_env_verify(env, &from->cert)) == 0)
        return 0;
    if (transient(rc))
        return rc;
    cl_peer_free(from);
    if ((rc = cl_peer(c, am_env_sender(env), true, true, from)) != 0)
        return rc;
    return am_env_verify(env, &from->cert);
}

/* The automatic received receipt, sealed to the sender, ready to store. */
static int owe_receipt(am_client_t *c, const am_env_t *env, outgoing_t *o,
                       uint8_t **content, Amanat__V1__CaseMessage **rcm)
{
    const char *to[1] = {am_env_sender(env)};
    int rc;

    if ((rc = cl_receipt_content(c, env, AM_RECEIPT_RECEIVED, NULL, content,
                                 &o->content_len, rcm)) != 0)
        return rc;
    o->content = *content;
    o->cm = *rcm;
    o->priority = am_env_priority(env);
    return cl_seal(c, to, 1, 0, o);
}

/* Verified, opened, stored: the message and what it carries. */
static int take(am_client_t *c, const Amanat__V1__Deliver *d, am_env_t *env,
                const peer_t *from, const uint8_t *plain, size_t plain_len,
                bool conflict)
{
    Amanat__V1__CaseMessage *cm = NULL, *rcm = NULL;
    outgoing_t o = {0};
    uint8_t *rcontent = NULL;
    am_cmsg_t m = {0};
    bool receipt;
    int rc;

    /* an unreadable body is still kept: it is signed, and evidence */
    (void)am_pb_unpack(&amanat__v1__case_message__descriptor, "case message",
                       plain, plain_len, AM_ENV_MAX, (ProtobufCMessage **)&cm);
    receipt = cm == NULL ||
              cm->body_case != AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT;
    if (receipt && (rc = owe_receipt(c, env, &o, &rcontent, &rcm)) != 0) {
        if (transient(rc))
            goto out;
        fprintf(stderr, "amanat: no receipt for %s: %s\n",
                am_env_sender(env), am_err_detail());
        receipt = false;
    }
    describe_in(&m, env, cm);
    m.envelope = d->envelope.data;
    m.envelope_len = d->envelope.len;
    m.content = plain;
    m.content_len = plain_len;
    if (conflict) {
        /* another envelope already holds its id: keep both */
        if ((rc = own_id(d, m.id)) != 0)
            goto out;
        snprintf(m.state, sizeof m.state, "conflict");
        fprintf(stderr, "amanat: %s reused a message id already stored; "
                "kept apart, marked conflict\n", m.sender);
    }
    if ((rc = store_in(c, &m, cm, &from->cert, d, am_env_hash(env),
                       receipt ? &o : NULL)) != 0 ||
        (rc = send_ack(c, am_env_message_id(env))) != 0)
        goto out;
    if (receipt && (rc = cl_submit(c, o.id, o.sealed, o.sealed_len)) != 0) {
        (void)cl_not_accepted(c, o.id, rc); /* queued, or marked failed */
        fprintf(stderr, "amanat: receipt: %s\n", am_err_detail());
        rc = 0;
    }
out:
    cl_outgoing_free(&o);
    am_pb_free(rcm);
    am_free(rcontent);
    am_pb_free(cm);
    return rc;
}

/* Whether this very envelope is stored already (the acknowledgement was
 * lost): then it is acknowledged again and 1 returned.  *conflict: a
 * different envelope holds the id it claims. */
static int seen(am_client_t *c, const Amanat__V1__Deliver *d,
                const am_env_t *env, bool *conflict)
{
    uint8_t *bufs = NULL, alt[AM_MSG_ID_LEN];
    am_cmsg_t old;
    bool same;
    int rc;

    *conflict = false;
    if (am_cstore_get(c->store, am_env_claimed_id(env), &old, &bufs) != 0)
        return 0;
    same = old.envelope_len == d->envelope.len &&
           memcmp(old.envelope, d->envelope.data, d->envelope.len) == 0;
    am_free(bufs);
    bufs = NULL;
    if (!same) {
        if ((rc = own_id(d, alt)) != 0)
            return rc;
        same = am_cstore_get(c->store, alt, &old, &bufs) == 0;
        am_free(bufs);
        *conflict = !same;
    }
    if (!same)
        return 0;
    return (rc = send_ack(c, am_env_claimed_id(env))) != 0 ? rc : 1;
}

int cl_on_deliver(am_client_t *c, const Amanat__V1__Deliver *d, bool *fresh)
{
    am_env_t *env = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    peer_t from = {0};
    bool conflict = false;
    int rc;

    *fresh = false;
    if ((rc = am_env_parse(d->envelope.data, d->envelope.len, AM_ENV_MAX,
                           &env)) != 0)
        return am_err_wrap(rc, "envelope from the relay");
    if ((rc = seen(c, d, env, &conflict)) != 0) {
        rc = rc > 0 ? 0 : rc; /* stored before: acknowledged again */
        goto out;
    }
    if ((rc = verify(c, env, &from)) == 0)
        rc = open_env(c, env, &plain, &plain_len);
    if (rc != 0) {
        rc = transient(rc) ? am_err_wrap(rc, "envelope from %s",
                                         am_env_sender(env))
                           : reject(c, env, d);
        goto out;
    }
    if ((rc = take(c, d, env, &from, plain, plain_len, conflict)) == 0)
        *fresh = true;
out:
    if (plain != NULL)
        sodium_memzero(plain, plain_len);
    am_free(plain);
    am_env_free(env);
    cl_peer_free(&from);
    return rc;
}
