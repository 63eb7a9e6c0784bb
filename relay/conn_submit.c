/* Submit (docs/PROTOCOL.md section 14), in the order of checks of section
 * 10: bound, parse, sender is the authenticated agency, signature, and only
 * then recipients, expiry and storage.
 *
 * DESIGN.  The Ed25519 verification (about 70 us) is the most expensive
 * step a relay does per envelope, so it runs on libuv's thread pool: the
 * loop stays free for other sessions and every core verifies.  What the
 * worker touches is its own: the parsed envelope, a copy of the sender's
 * certificate, a copy of the envelope bytes.  The answer comes back on the
 * loop, which does the remaining checks and hands the envelope to the store
 * thread; the SubmitResult is sent only after the commit.  Answers to
 * several submits of one session may therefore come in any order (each
 * names its request_id). */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"
#include "evcache.h"
#include "link.h"


typedef struct {
    uv_work_t work;
    conn_t *c;
    uint64_t request_id;
    am_env_t *env;
    am_cert_t sender;  /* the session's certificate, copied */
    uint8_t *bytes;    /* the envelope as submitted */
    size_t len;
    int vrc;           /* the worker's verdict */
    char why[256];
    am_store_put_t put;
    int64_t signed_at; /* the time put.evcache was made for */
} submit_t;

static void submit_free(submit_t *s)
{
    am_env_free(s->env);
    am_free(s->bytes);
    am_free(s);
}

static int evidence_body(conn_t *c, Amanat__V1__EvidenceKind kind,
                         const uint8_t id[AM_MSG_ID_LEN],
                         const uint8_t hash[AM_HASH_LEN],
                         const char *recipient, int64_t t, uint8_t *body,
                         size_t *body_len)
{
    Amanat__V1__EvidenceBody b = AMANAT__V1__EVIDENCE_BODY__INIT;

    b.version = 1;
    b.kind = kind;
    b.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)id};
    b.envelope_hash = (ProtobufCBinaryData){AM_HASH_LEN, (uint8_t *)hash};
    b.relay_id = (char *)am_dir_self(c->srv->dir)->agency_id;
    b.recipient_id = (char *)(recipient ? recipient : "");
    b.time = t;
    if ((*body_len = amanat__v1__evidence_body__get_packed_size(&b)) >
        AM_EVIDENCE_BODY_MAX)
        return AM_ETOOBIG;
    amanat__v1__evidence_body__pack(&b, body);
    return 0;
}

int conn_evidence(conn_t *c, Amanat__V1__EvidenceKind kind,
                  const uint8_t id[AM_MSG_ID_LEN],
                  const uint8_t hash[AM_HASH_LEN], const char *recipient,
                  int64_t t, uint8_t *body, size_t *body_len,
                  uint8_t sig[AM_SIG_LEN])
{
    int rc = evidence_body(c, kind, id, hash, recipient, t, body, body_len);

    return rc != 0 ? rc : am_sign(AM_TAG_EVIDENCE, body, *body_len,
                                  am_dir_sign_sk(c->srv->dir), sig);
}

int conn_evidence_cached(conn_t *c, const uint8_t id[AM_MSG_ID_LEN],
                         const uint8_t hash[AM_HASH_LEN], int64_t t,
                         const uint8_t *evcache, uint8_t *body,
                         size_t *body_len, uint8_t sig[AM_SIG_LEN])
{
    const uint8_t *kept = NULL;
    int rc;

    if (evcache != NULL)
        kept = am_evcache_sig(am_dir_self(c->srv->dir)->sign_pk, id, hash, t,
                              evcache);
    if (kept == NULL)
        return conn_evidence(c, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED,
                             id, hash, NULL, t, body, body_len, sig);
    if ((rc = evidence_body(c, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED,
                            id, hash, NULL, t, body, body_len)) == 0)
        memcpy(sig, kept, AM_SIG_LEN);
    return rc;
}

void conn_presign(conn_t *c, am_store_put_t *p, int64_t now)
{
    uint8_t body[AM_EVIDENCE_BODY_MAX], sig[AM_SIG_LEN];
    size_t len;

    p->has_evcache =
        conn_evidence(c, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED,
                      p->message_id, p->envelope_hash, NULL, now, body, &len,
                      sig) == 0;
    if (p->has_evcache)
        am_evcache_make(am_dir_self(c->srv->dir)->sign_pk, p->message_id,
                        p->envelope_hash, now, sig, p->evcache);
}

int conn_accepted(conn_t *c, const am_store_put_t *p, int64_t signed_at,
                  int64_t accepted_at, uint8_t *body, size_t *body_len,
                  uint8_t sig[AM_SIG_LEN])
{
    return conn_evidence_cached(
        c, p->message_id, p->envelope_hash, accepted_at,
        p->has_evcache && signed_at == accepted_at ? p->evcache : NULL, body,
        body_len, sig);
}

static void send_result(conn_t *c, const submit_t *s, int64_t accepted_at)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__SubmitResult r = AMANAT__V1__SUBMIT_RESULT__INIT;
    Amanat__V1__Evidence e = AMANAT__V1__EVIDENCE__INIT;
    uint8_t body[AM_EVIDENCE_BODY_MAX], sig[AM_SIG_LEN];
    size_t body_len;
    int rc;

    if ((rc = conn_accepted(c, &s->put, s->signed_at, accepted_at, body,
                            &body_len, sig)) != 0) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        s->request_id, false, "stored, but no evidence: %s",
                        am_strerror(rc));
        return;
    }
    e.body = (ProtobufCBinaryData){body_len, body};
    e.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
    r.request_id = s->request_id;
    r.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN,
                                         (uint8_t *)s->put.message_id};
    r.accepted = &e;
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT_RESULT;
    f.submit_result = &r;
    if (conn_send_frame(c, &f) != 0)
        conn_close(c, "cannot send");
    conn_log(c, "stored %02x%02x%02x%02x for %zu recipients",
             s->put.message_id[0], s->put.message_id[1],
             s->put.message_id[2], s->put.message_id[3],
             s->put.n_recipients);
}

static void on_stored(void *ctx, int rc, int64_t accepted_at)
{
    submit_t *s = ctx;
    conn_t *c = s->c;

    if (rc == 0)
        for (size_t i = 0; i < s->put.n_recipients; i++)
            conn_kick(c->srv, s->put.via[i][0] ? s->put.via[i]
                                               : s->put.recipients[i],
                      s->put.priority);
    c->store_pending--;
    if (c->closing)
        goto out;
    if (rc == 0)
        send_result(c, s, accepted_at);
    else if (rc == AM_EDUP)
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_DUPLICATE,
                        s->request_id, false, "message id already used with "
                        "other content");
    else if (rc == AM_ELIMIT)
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_QUOTA, s->request_id,
                        false, "\"%s\" has reached its quota of %llu "
                        "envelopes or %llu bytes stored undelivered here",
                        c->peer.agency_id,
                        (unsigned long long)s->put.quota_messages,
                        (unsigned long long)s->put.quota_bytes);
    else
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        s->request_id, false, "not stored: %s",
                        am_strerror(rc));
    conn_flow(c);
out:
    conn_unref(c);
    submit_free(s);
}

/* Where a recipient's copy goes: here ("" in via), or to its home relay
 * when that is a peer of this one (section 18). */
static int route(conn_t *c, const am_cert_t *r, char via[AM_AGENCY_ID_MAX + 1],
                 char *why, size_t cap)
{
    const char *home = r->home_relay;

    via[0] = '\0';
    if (strcmp(home, am_dir_self(c->srv->dir)->agency_id) == 0)
        return 0;
    if (link_find(c->srv, home) == NULL) {
        snprintf(why, cap, "recipient \"%s\": its home relay \"%s\" is not "
                 "linked with this relay", r->agency_id, home);
        return -1;
    }
    snprintf(via, AM_AGENCY_ID_MAX + 1, "%s", home);
    return 0;
}

/* Checks of a verified envelope before it is stored; fills s->put. */
static int check_submit(conn_t *c, submit_t *s, Amanat__V1__ErrorCode *code)
{
    const am_env_t *env = s->env;
    int64_t now = (int64_t)time(NULL), exp = am_env_expires_at(env);

    for (size_t i = 0; i < am_env_recipient_count(env); i++) {
        const char *r = am_env_recipient(env, i);
        const am_cert_t *rc = am_dir_find(c->srv->dir, r);
        if (rc == NULL || rc->not_after < now ||
            !(rc->roles & AM_ROLE_AGENCY)) {
            *code = AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT;
            snprintf(s->why, sizeof s->why, "recipient \"%s\": unknown or "
                     "revoked agency", r);
            return -1;
        }
        if (route(c, rc, s->put.via[i], s->why, sizeof s->why) != 0) {
            *code = AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT;
            return -1;
        }
        snprintf(s->put.recipients[i], sizeof s->put.recipients[i], "%s", r);
    }
    if (exp <= now || exp > now + AM_MAX_EXPIRY) {
        *code = AMANAT__V1__ERROR_CODE__ERROR_EXPIRED;
        snprintf(s->why, sizeof s->why, "expires_at %lld: must be in the "
                 "future and within %d days", (long long)exp,
                 AM_MAX_EXPIRY / 86400);
        return -1;
    }
    memcpy(s->put.message_id, am_env_message_id(env), AM_MSG_ID_LEN);
    memcpy(s->put.envelope_hash, am_env_hash(env), AM_HASH_LEN);
    snprintf(s->put.sender, sizeof s->put.sender, "%s", c->peer.agency_id);
    s->put.n_recipients = am_env_recipient_count(env);
    s->put.priority = am_env_priority(env);
    s->put.expires_at = exp;
    s->put.envelope = s->bytes;
    s->put.envelope_len = s->len;
    s->put.quota_messages = c->srv->cfg.quota_messages;
    s->put.quota_bytes = c->srv->cfg.quota_bytes;
    return 0;
}

/* On a thread-pool thread: only s's own memory is touched. */
static void verify_work(uv_work_t *w)
{
    submit_t *s = w->data;

    if ((s->vrc = am_env_verify(s->env, &s->sender)) != 0)
        snprintf(s->why, sizeof s->why, "%s", s->vrc == AM_ENOMEM
                                                  ? "out of memory"
                                                  : am_err_detail());
}

/* Back on the loop: the rest of the checks, then the store.  A sender
 * that left meanwhile still has its valid envelope stored (it will never
 * hear the answer, and a resubmission is idempotent); only a stopping
 * relay drops it, unanswered, since nothing was acknowledged. */
static void verify_done(uv_work_t *w, int status)
{
    submit_t *s = w->data;
    conn_t *c = s->c;
    Amanat__V1__ErrorCode code = AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE;

    c->store_pending--;
    if (status != 0 || c->srv->stopping)
        goto drop;
    if (s->vrc == AM_ENOMEM) /* the signature was not checked */
        code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
    if (s->vrc == 0 && check_submit(c, s, &code) == 0) {
        s->signed_at = (int64_t)time(NULL);
        conn_presign(c, &s->put, s->signed_at);
        if (am_store_put(c->srv->store, &s->put, s->signed_at, on_stored,
                         s) == 0) {
            /* the store copied the bytes: hold one copy, not three */
            am_env_free(s->env);
            s->env = NULL;
            am_free(s->bytes);
            s->bytes = NULL;
            s->put.envelope = NULL;
            c->store_pending++; /* the reference goes on to on_stored */
            conn_flow(c);
            return;
        }
        code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(s->why, sizeof s->why, "store unavailable");
    }
    if (!c->closing) {
        conn_send_error(c, code, s->request_id, false, "%s", s->why);
        conn_flow(c);
    }
drop:
    conn_unref(c);
    submit_free(s);
}

/* Steps 0-2 on the loop (cheap, and they bound what the worker gets). */
static int precheck(conn_t *c, const Amanat__V1__Submit *sub, submit_t *s,
                    Amanat__V1__ErrorCode *code)
{
    size_t limit = c->srv->cfg.frame_max - AM_DELIVER_OVERHEAD;
    int rc;

    *code = AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL;
    if (sub->envelope.len > limit) {
        *code = AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG;
        snprintf(s->why, sizeof s->why, "envelope of %zu bytes over this "
                 "relay's limit of %zu", sub->envelope.len, limit);
    } else if ((rc = am_env_parse(sub->envelope.data, sub->envelope.len,
                                  c->srv->cfg.frame_max, &s->env)) != 0) {
        if (rc == AM_ENOMEM) /* the envelope may be fine: try again */
            *code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(s->why, sizeof s->why, "%s", rc == AM_ENOMEM
                                                  ? "out of memory"
                                                  : am_err_detail());
    } else if (strcmp(am_env_sender(s->env), c->peer.agency_id) != 0) {
        *code = AMANAT__V1__ERROR_CODE__ERROR_SPOOFED_SENDER;
        snprintf(s->why, sizeof s->why, "sender_id \"%s\" is not the "
                 "authenticated agency \"%s\"", am_env_sender(s->env),
                 c->peer.agency_id);
    } else if (strcmp(c->peer.home_relay,
                      am_dir_self(c->srv->dir)->agency_id) != 0) {
        /* its envelopes would be refused by the relays they go to */
        *code = AMANAT__V1__ERROR_CODE__ERROR_NOT_HOME;
        snprintf(s->why, sizeof s->why, "\"%s\" is homed at %s: submit "
                 "there", c->peer.agency_id, c->peer.home_relay);
    } else if ((s->bytes = am_malloc(sub->envelope.len)) == NULL) {
        *code = AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
        snprintf(s->why, sizeof s->why, "out of memory");
    } else {
        memcpy(s->bytes, sub->envelope.data, sub->envelope.len);
        s->len = sub->envelope.len;
        return 0;
    }
    return -1;
}

void conn_submit(conn_t *c, const Amanat__V1__Submit *sub)
{
    Amanat__V1__ErrorCode code;
    submit_t *s;

    if ((int64_t)time(NULL) > c->peer.not_after) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_AUTH, sub->request_id,
                        true, "certificate of \"%s\" expired during the "
                        "session", c->peer.agency_id);
        return;
    }
    if ((s = am_calloc(1, sizeof *s)) == NULL) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        sub->request_id, false, "out of memory");
        return;
    }
    s->c = c;
    s->request_id = sub->request_id;
    s->sender = c->peer;
    s->work.data = s;
    if (precheck(c, sub, s, &code) != 0) {
        conn_send_error(c, code, sub->request_id, false, "%s", s->why);
        submit_free(s);
        return;
    }
    if (uv_queue_work(c->srv->loop, &s->work, verify_work, verify_done) != 0) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        sub->request_id, false, "cannot verify now");
        submit_free(s);
        return;
    }
    conn_ref(c);
    c->store_pending++;
    conn_flow(c);
}
