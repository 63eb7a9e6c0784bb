/* Sending: validate, seal to each recipient, store as queued, submit, and
 * record the relay's signed accepted evidence. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"
#include "pb.h"
#include "receipt.h"
#include "sign.h"

#define DEFAULT_EXPIRY (14 * 86400)

/* The certificate to check evidence with, from the relay its body names
 * (read unverified, only to choose: proto/evidence.h). */
static int signer_of(am_client_t *c, const cl_evidence_t *e, bool any_relay,
                     peer_t *other, const am_cert_t **cert)
{
    const am_cert_t *session = am_session_relay(c->sess);
    am_evidence_t named;
    int rc;

    if ((rc = am_evidence_peek(e->bytes, e->len, &named)) != 0)
        return rc;
    *cert = session;
    if (strcmp(named.relay_id, session->agency_id) == 0)
        return 0;
    if (!any_relay)
        return am_errf(AM_ECRYPTO, "evidence of relay %s where relay %s's "
                       "own was due", named.relay_id, session->agency_id);
    /* another relay of the federation, passed on by ours unchanged */
    if ((rc = cl_relay_peer(c, named.relay_id, other)) != 0)
        return rc;
    *cert = &other->cert;
    return 0;
}

int cl_check_evidence(am_client_t *c, const Amanat__V1__Evidence *e,
                      bool any_relay, const uint8_t id[AM_MSG_ID_LEN],
                      const uint8_t *hash, cl_evidence_t *out)
{
    const am_cert_t *cert = NULL;
    peer_t other = {0};
    int rc;

    if (e == NULL)
        return am_errf(AM_EPROTO, "the relay's evidence is missing");
    if ((out->len = amanat__v1__evidence__get_packed_size(e)) >
        sizeof out->bytes)
        return am_errf(AM_ETOOBIG, "relay evidence of %zu bytes", out->len);
    amanat__v1__evidence__pack(e, out->bytes);
    /* signed by that relay, naming itself (proto/evidence.h) */
    if ((rc = signer_of(c, out, any_relay, &other, &cert)) == 0)
        rc = am_evidence_verify(out->bytes, out->len, cert, &out->ev);
    cl_peer_free(&other);
    if (rc != 0)
        return rc;
    if ((id != NULL && memcmp(out->ev.message_id, id, AM_MSG_ID_LEN) != 0) ||
        (hash != NULL &&
         memcmp(out->ev.envelope_hash, hash, AM_HASH_LEN) != 0))
        return am_errf(AM_ECRYPTO, "the relay's evidence names another "
                       "envelope");
    return 0;
}

int cl_evidence_event(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                      const cl_evidence_t *e, const char *kind,
                      const char *party)
{
    am_cevent_t ev = {0};

    memcpy(ev.message_id, id, AM_MSG_ID_LEN);
    snprintf(ev.kind, sizeof ev.kind, "%s", kind);
    snprintf(ev.party, sizeof ev.party, "%s", party);
    ev.time = e->ev.time;
    ev.signed_bytes = e->bytes;
    ev.signed_len = e->len;
    return am_cstore_event(c->store, &ev);
}

static int record_accepted(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                           const cl_evidence_t *e)
{
    int rc;

    if ((rc = am_cstore_begin(c->store)) != 0)
        return rc;
    if ((rc = cl_evidence_event(c, id, e, "accepted", e->ev.relay_id)) != 0 ||
        (rc = am_cstore_mark_sent(c->store, id)) != 0 ||
        (rc = am_cstore_commit(c->store)) != 0)
        am_cstore_rollback(c->store);
    return rc;
}

int cl_submit(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
              const uint8_t *env, size_t env_len)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *a = NULL;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;
    cl_evidence_t ev;
    uint8_t hash[AM_HASH_LEN];
    uint64_t req = cl_req_id(c);
    int rc;

    if ((rc = am_hash256(env, env_len, hash)) != 0)
        return rc;
    s.request_id = req;
    s.envelope = (ProtobufCBinaryData){env_len, (uint8_t *)env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &s;
    if ((rc = cl_call(c, &f, AMANAT__V1__FRAME__OP_SUBMIT_RESULT, req,
                      &a)) != 0)
        return rc;
    /* the session's relay stored it: its own evidence, no other's */
    if ((rc = cl_check_evidence(c, a->submit_result->accepted, false, id,
                                hash, &ev)) == 0)
        rc = ev.ev.kind != AM_EVIDENCE_ACCEPTED
                 ? am_errf(AM_EPROTO, "the relay answered a submit with "
                           "evidence of another kind")
                 : record_accepted(c, id, &ev);
    am_frame_free(a);
    return rc;
}

void cl_describe_case(am_cmsg_t *m, const Amanat__V1__CaseMessage *cm)
{
    const char *kind = am_case_kind(cm);
    const char *to;

    if (kind != NULL) /* none: validation refused it, or the caller's */
        snprintf(m->kind, sizeof m->kind, "%s", kind);
    if (cm->case_ref != NULL && cm->case_ref->sender_ref != NULL)
        snprintf(m->case_ref, sizeof m->case_ref, "%s",
                 cm->case_ref->sender_ref);
    m->deadline = cm->deadline != NULL ? cm->deadline->seconds
                  : cm->created_at != NULL
                      ? am_case_default_deadline(cm, cm->created_at->seconds)
                      : 0;
    to = cm->body_case == AMANAT__V1__CASE_MESSAGE__BODY_REPLY
             ? cm->reply->in_reply_to : NULL;
    m->has_reply_to = to != NULL && strlen(to) == 2 * AM_MSG_ID_LEN &&
                      sodium_hex2bin(m->in_reply_to, AM_MSG_ID_LEN, to,
                                     strlen(to), NULL, NULL, NULL) == 0;
}

int cl_not_accepted(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN], int rc)
{
    char hex[33], why[256];
    am_cevent_t ev = {0};

    am_client_hex(id, hex);
    snprintf(why, sizeof why, "%s", am_err_detail());
    if (!cl_refused_for_good(c))
        /* stored and queued: the next session sends it */
        return am_errf(rc == AM_ELIMIT ? AM_EIO : rc, "queued as %s, not yet "
                       "accepted (%s); amanat sync will send it", hex, why);
    memcpy(ev.message_id, id, AM_MSG_ID_LEN);
    snprintf(ev.kind, sizeof ev.kind, "failed");
    snprintf(ev.party, sizeof ev.party, "%s",
             c->sess ? am_session_relay(c->sess)->agency_id : "relay");
    ev.time = cl_now();
    snprintf(ev.detail, sizeof ev.detail, "%s", why);
    /* refused for good: kept as a record, never sent again */
    if (am_cstore_set_state(c->store, id, "failed") != 0 ||
        am_cstore_event(c->store, &ev) != 0)
        fprintf(stderr, "amanat: %s not marked as refused: %s\n", hex,
                am_err_detail());
    return am_errf(rc, "%s", why);
}

/* The local record of an envelope we sealed, with its queued event, in
 * the caller's transaction. */
int cl_store_outgoing(am_client_t *c, const outgoing_t *o)
{
    am_cmsg_t m = {0};
    am_cevent_t ev = {0};
    int rc;

    memcpy(m.id, o->id, AM_MSG_ID_LEN);
    m.outgoing = true;
    snprintf(m.sender, sizeof m.sender, "%s", c->prof.agency_id);
    snprintf(m.recipients, sizeof m.recipients, "%s", o->to);
    cl_describe_case(&m, o->cm);
    m.priority = o->priority;
    m.created_at = m.stored_at = cl_now();
    m.expires_at = o->expires_at;
    m.envelope = o->sealed;
    m.envelope_len = o->sealed_len;
    m.content = o->content;
    m.content_len = o->content_len;
    memcpy(ev.message_id, o->id, AM_MSG_ID_LEN);
    snprintf(ev.kind, sizeof ev.kind, "queued");
    snprintf(ev.party, sizeof ev.party, "%s", c->prof.agency_id);
    ev.time = m.created_at;
    if ((rc = am_cstore_put(c->store, &m, NULL)) != 0)
        return rc;
    return am_cstore_event(c->store, &ev);
}

void cl_outgoing_free(outgoing_t *o)
{
    am_free(o->sealed);
    o->sealed = NULL;
}

/* Recipients in envelope form, and their ids joined for the store. */
static int recipients(am_client_t *c, const char *const *to, size_t n,
                      peer_t *peers, am_env_recipient_t *r, char *joined,
                      size_t cap)
{
    size_t used = 0;
    int rc;

    joined[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(to[i], to[j]) == 0)
                return am_errf(AM_EINVAL, "recipient %s is named twice",
                               to[i]);
        if (strcmp(to[i], c->prof.agency_id) == 0)
            return am_errf(AM_EINVAL, "%s cannot send to itself", to[i]);
        if ((rc = cl_peer(c, to[i], true, false, &peers[i])) != 0)
            return rc;
        r[i].agency_id = peers[i].cert.agency_id;
        r[i].dh_pk = peers[i].dh_pk;
        r[i].prekey_id = peers[i].prekey_id;
        used += (size_t)snprintf(joined + used, cap - used, "%s%s",
                                 i ? "," : "", to[i]);
    }
    return 0;
}

static int seal_to(am_client_t *c, const am_env_recipient_t *r, size_t n,
                   int64_t expires_in, outgoing_t *o)
{
    am_env_params_t p = {0};
    am_env_t *env = NULL;
    int rc;

    p.sender_id = c->prof.agency_id;
    p.sender_serial = c->prof.self.serial;
    p.sign_sk = c->prof.sign_sk;
    p.created_at = cl_now();
    p.expires_at = p.created_at + (expires_in > 0 ? expires_in
                                                  : DEFAULT_EXPIRY);
    p.priority = o->priority;
    o->expires_at = p.expires_at;
    if ((rc = am_env_seal(&p, r, n, o->content, o->content_len, &o->sealed,
                          &o->sealed_len)) != 0 ||
        (rc = am_env_parse(o->sealed, o->sealed_len, AM_ENV_MAX, &env)) != 0 ||
        (rc = am_env_verify(env, &c->prof.self)) != 0)
        goto out;
    if (o->sealed_len + 1024 > am_session_max_frame(c->sess)) {
        rc = am_errf(AM_ETOOBIG, "sealed, the message is %zu bytes; relay %s "
                     "takes frames of up to %zu", o->sealed_len,
                     am_session_relay(c->sess)->agency_id,
                     am_session_max_frame(c->sess));
        goto out;
    }
    memcpy(o->id, am_env_message_id(env), AM_MSG_ID_LEN);
out:
    am_env_free(env);
    return rc;
}

int cl_seal(am_client_t *c, const char *const *to, size_t n_to,
            int64_t expires_in, outgoing_t *o)
{
    peer_t peers[AM_ENV_MAX_RECIPIENTS] = {0};
    am_env_recipient_t r[AM_ENV_MAX_RECIPIENTS];
    int rc;

    if (n_to == 0 || n_to > AM_ENV_MAX_RECIPIENTS)
        return am_errf(AM_EINVAL, "give 1 to %d recipients",
                       AM_ENV_MAX_RECIPIENTS);
    if ((rc = cl_connect(c, c->receiving)) == 0 &&
        (rc = recipients(c, to, n_to, peers, r, o->to, sizeof o->to)) == 0)
        rc = seal_to(c, r, n_to, expires_in, o);
    for (size_t i = 0; i < n_to; i++)
        cl_peer_free(&peers[i]);
    return rc;
}

int cl_seal_store_submit(am_client_t *c, const uint8_t *content, size_t len,
                         const Amanat__V1__CaseMessage *m,
                         const char *const *to, size_t n_to, int priority,
                         int64_t expires_in, uint8_t id[AM_MSG_ID_LEN])
{
    outgoing_t o = {.content = content, .content_len = len, .cm = m,
                    .priority = priority};
    int rc;

    if ((rc = cl_seal(c, to, n_to, expires_in, &o)) != 0 ||
        (rc = am_cstore_begin(c->store)) != 0)
        goto out;
    if ((rc = cl_store_outgoing(c, &o)) != 0 ||
        (rc = am_cstore_commit(c->store)) != 0) {
        am_cstore_rollback(c->store);
        goto out;
    }
    memcpy(id, o.id, AM_MSG_ID_LEN);
    if ((rc = cl_submit(c, o.id, o.sealed, o.sealed_len)) != 0)
        rc = cl_not_accepted(c, o.id, rc);
out:
    cl_outgoing_free(&o);
    return rc;
}

static int default_priority(const Amanat__V1__CaseMessage *m)
{
    switch (m->body_case) {
    case AMANAT__V1__CASE_MESSAGE__BODY_EMERGENCY: return AM_PRIORITY_EMERGENCY;
    case AMANAT__V1__CASE_MESSAGE__BODY_PRESERVATION:
    case AMANAT__V1__CASE_MESSAGE__BODY_VICTIM_IDENTIFICATION:
        return AM_PRIORITY_URGENT;
    default: return AM_PRIORITY_ROUTINE;
    }
}

int am_client_send(am_client_t *c, Amanat__V1__CaseMessage *m,
                   const am_send_opts_t *o, uint8_t id[AM_MSG_ID_LEN])
{
    static Google__Protobuf__Timestamp now_ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    uint8_t *content;
    size_t len;
    int rc, problems;

    if (m->created_at == NULL) {
        now_ts.seconds = cl_now();
        m->created_at = &now_ts; /* not owned by m: taken back below */
    }
    problems = am_validate_case(m, cl_now(), &c->problems);
    if (problems != 0) {
        rc = problems < 0 ? problems
                          : am_errf(AM_EINVAL, "the case message has %d "
                                    "problem%s; nothing was sent", problems,
                                    problems == 1 ? "" : "s");
        goto out;
    }
    len = protobuf_c_message_get_packed_size(&m->base);
    if ((content = am_malloc(len ? len : 1)) == NULL) {
        rc = AM_ENOMEM;
        goto out;
    }
    protobuf_c_message_pack(&m->base, content);
    rc = cl_seal_store_submit(c, content, len, m, o->to, o->n_to,
                              o->priority ? o->priority : default_priority(m),
                              o->expires_in, id);
    am_free(content);
out:
    if (m->created_at == &now_ts)
        m->created_at = NULL;
    return rc;
}

