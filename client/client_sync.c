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
static int answer_events(am_client_t *c, const am_cmsg_t *m,
                         const Amanat__V1__CaseMessage *cm,
                         const am_cert_t *sender)
{
    am_cevent_t ev;

    if (cm->body_case == AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT)
        return receipt_event(c, cm->receipt, sender, m->id);
    if (cm->body_case != AMANAT__V1__CASE_MESSAGE__BODY_REPLY ||
        !m->has_reply_to)
        return 0;
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
    const char *kind = cm ? am_case_kind(cm) : NULL;
    size_t used = 0;

    memcpy(m->id, am_env_message_id(env), AM_MSG_ID_LEN);
    snprintf(m->sender, sizeof m->sender, "%s", am_env_sender(env));
    for (size_t i = 0; i < am_env_recipient_count(env); i++)
        used += (size_t)snprintf(m->recipients + used,
                                 sizeof m->recipients - used, "%s%s",
                                 i ? "," : "", am_env_recipient(env, i));
    snprintf(m->kind, sizeof m->kind, "%s", kind ? kind : "unreadable");
    m->priority = am_env_priority(env);
    m->created_at = am_env_created_at(env);
    m->expires_at = am_env_expires_at(env);
    m->stored_at = cl_now();
    if (cm == NULL)
        return;
    if (cm->case_ref != NULL && cm->case_ref->sender_ref != NULL)
        snprintf(m->case_ref, sizeof m->case_ref, "%s",
                 cm->case_ref->sender_ref);
    m->deadline = cm->deadline != NULL ? cm->deadline->seconds
                  : cm->created_at != NULL
                      ? am_case_default_deadline(cm, cm->created_at->seconds)
                      : 0;
    if (cm->body_case == AMANAT__V1__CASE_MESSAGE__BODY_REPLY &&
        cm->reply->in_reply_to != NULL &&
        sodium_hex2bin(m->in_reply_to, AM_MSG_ID_LEN, cm->reply->in_reply_to,
                       strlen(cm->reply->in_reply_to), NULL, NULL,
                       NULL) == 0 &&
        strlen(cm->reply->in_reply_to) == 2 * AM_MSG_ID_LEN)
        m->has_reply_to = true;
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

/* Store the message and what it says, in one transaction. */
static int store_in(am_client_t *c, am_cmsg_t *m,
                    const Amanat__V1__CaseMessage *cm, const am_cert_t *from,
                    const Amanat__V1__Deliver *d, const uint8_t *hash,
                    bool *fresh)
{
    Amanat__V1__EvidenceBody *b = NULL;
    bool existed = false;
    int rc;

    if ((rc = am_cstore_begin(c->store)) != 0)
        return rc;
    if ((rc = am_cstore_put(c->store, m, &existed)) == 0 && !existed &&
        cm != NULL && answer_events(c, m, cm, from) != 0)
        /* kept, but it says nothing we can check about our requests */
        fprintf(stderr, "amanat: %s from %s not counted: %s\n", m->kind,
                m->sender, am_err_detail());
    /* the relay's accepted evidence, for this side's evidence bundles */
    if (rc == 0 && !existed &&
        cl_check_evidence(c, d->accepted, m->id, hash, &b) == 0) {
        rc = cl_evidence_event(c, m->id, d->accepted, "accepted",
                               b->relay_id, b->time);
        am_pb_free(b);
    }
    if (rc != 0 || (rc = am_cstore_commit(c->store)) != 0) {
        am_cstore_rollback(c->store);
        return rc;
    }
    *fresh = !existed;
    return 0;
}

int cl_on_deliver(am_client_t *c, const Amanat__V1__Deliver *d, bool *fresh)
{
    Amanat__V1__CaseMessage *cm = NULL;
    am_env_t *env = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    am_cmsg_t m = {0};
    peer_t from = {0};
    int rc;

    *fresh = false;
    if ((rc = am_env_parse(d->envelope.data, d->envelope.len, AM_ENV_MAX,
                           &env)) != 0 ||
        (rc = cl_peer(c, am_env_sender(env), false, &from)) != 0 ||
        (rc = am_env_verify(env, &from.cert)) != 0 ||
        (rc = open_env(c, env, &plain, &plain_len)) != 0)
        goto out;
    /* an unreadable body is still kept: it is signed, and evidence */
    (void)am_pb_unpack(&amanat__v1__case_message__descriptor, "case message",
                       plain, plain_len, AM_ENV_MAX, (ProtobufCMessage **)&cm);
    describe_in(&m, env, cm);
    m.envelope = d->envelope.data;
    m.envelope_len = d->envelope.len;
    m.content = plain;
    m.content_len = plain_len;
    if ((rc = store_in(c, &m, cm, &from.cert, d, am_env_hash(env),
                       fresh)) != 0 ||
        (rc = send_ack(c, m.id)) != 0)
        goto out;
    if (*fresh && cm != NULL &&
        cm->body_case != AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT &&
        (rc = am_client_receipt(c, m.id, AM_RECEIPT_RECEIVED, NULL)) != 0)
        fprintf(stderr, "amanat: receipt for %s not sent yet: %s\n",
                m.sender, am_err_detail());
    rc = 0;
out:
    if (rc != 0)
        rc = am_err_wrap(rc, "envelope from %s",
                         env && am_env_sender(env) ? am_env_sender(env) : "?");
    am_pb_free(cm);
    if (plain != NULL)
        sodium_memzero(plain, plain_len);
    am_free(plain);
    am_env_free(env);
    cl_peer_free(&from);
    return rc;
}
