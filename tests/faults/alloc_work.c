/* The submit-and-deliver workload of the allocation-failure test: two
 * sessions read side by side with poll(2), every frame checked, nothing
 * asserted (alloc_work.h). */
#include "alloc_work.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cert.h"
#include "err.h"
#include "relay_fixture.h"
#include "sign.h"

const char *const aw_outcome_name[] = {"done", "refused", "stalled",
                                       "wrong answer"};

typedef struct {
    rc_client_t c;
    const party_t *who;
    bool up, authed;
} sess_t;

typedef struct {
    sess_t a, b; /* PK-NCCIA sends, DE-BKA receives */
    const uint8_t *env, *owed;
    size_t env_len;
    uint8_t id[AM_MSG_ID_LEN], hash[AM_HASH_LEN];
    am_cert_t sender;
    bool submitted, stop;
    aw_result_t *r;
} run_t;

static int64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The first verdict stands: it is what went wrong first. */
static void verdict(run_t *w, aw_outcome_t o, const char *fmt, ...)
{
    va_list ap;

    if (w->stop)
        return;
    w->stop = true;
    w->r->outcome = o;
    va_start(ap, fmt);
    vsnprintf(w->r->why, sizeof w->r->why, fmt, ap);
    va_end(ap);
}

static bool done(const run_t *w)
{
    return w->r->accepted && w->r->delivered && w->r->evidence &&
           (w->owed == NULL || w->r->owed_seen);
}

static void send_or_refuse(run_t *w, sess_t *s, const Amanat__V1__Frame *f)
{
    if (rc_send(&s->c, f) != 0)
        verdict(w, AW_REFUSED, "%s: cannot send: %s", s->who->id,
                am_err_detail());
}

static void submit_it(run_t *w)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;

    s.request_id = 1;
    s.envelope = (ProtobufCBinaryData){w->env_len, (uint8_t *)w->env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &s;
    w->submitted = true;
    send_or_refuse(w, &w->a, &f);
}

/* The relay's signed evidence body, or NULL when the signature fails. */
static Amanat__V1__EvidenceBody *evidence_body(const Amanat__V1__Evidence *e)
{
    if (e == NULL || am_sign_verify(AM_TAG_EVIDENCE, e->body.data, e->body.len,
                                    e->signature.data, e->signature.len,
                                    relay.sign_pk) != 0)
        return NULL;
    return amanat__v1__evidence_body__unpack(NULL, e->body.len, e->body.data);
}

static bool names(const Amanat__V1__EvidenceBody *b, const uint8_t *id)
{
    return b->message_id.len == AM_MSG_ID_LEN &&
           memcmp(b->message_id.data, id, AM_MSG_ID_LEN) == 0;
}

static void on_submit_result(run_t *w, const Amanat__V1__SubmitResult *sr)
{
    Amanat__V1__EvidenceBody *b = evidence_body(sr->accepted);

    if (sr->request_id != 1 || b == NULL ||
        b->kind != AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED ||
        !names(b, w->id) || b->envelope_hash.len != AM_HASH_LEN ||
        memcmp(b->envelope_hash.data, w->hash, AM_HASH_LEN) != 0)
        verdict(w, AW_WRONG, "SubmitResult without valid accepted evidence");
    else
        w->r->accepted = true;
    if (b != NULL)
        amanat__v1__evidence_body__free_unpacked(b, NULL);
}

/* Note the DELIVERED evidence for our envelope; acknowledge every piece. */
static void on_receipts(run_t *w, const Amanat__V1__ReceiptRelay *rr)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck ra = AMANAT__V1__RECEIPT_ACK__INIT;
    Amanat__V1__EvidenceRef refs[16], *rp[16];
    Amanat__V1__EvidenceBody *b[16] = {0};
    size_t n = rr->n_evidence < 16 ? rr->n_evidence : 16;

    for (size_t i = 0; i < n && !w->stop; i++) {
        if ((b[i] = evidence_body(rr->evidence[i])) == NULL) {
            verdict(w, AW_WRONG, "ReceiptRelay evidence %zu does not verify",
                    i);
            break;
        }
        if (b[i]->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DELIVERED &&
            names(b[i], w->id) && strcmp(b[i]->recipient_id, "DE-BKA") == 0)
            w->r->evidence = true;
        amanat__v1__evidence_ref__init(&refs[i]);
        refs[i].kind = b[i]->kind;
        refs[i].message_id = b[i]->message_id;
        refs[i].recipient_id = b[i]->recipient_id;
        rp[i] = &refs[i];
    }
    ra.n_refs = n;
    ra.refs = rp;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
    f.receipt_ack = &ra;
    if (!w->stop)
        send_or_refuse(w, &w->a, &f);
    for (size_t i = 0; i < n; i++)
        if (b[i] != NULL)
            amanat__v1__evidence_body__free_unpacked(b[i], NULL);
}

static void on_deliver(run_t *w, const Amanat__V1__Deliver *d)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;
    uint8_t id[AM_MSG_ID_LEN];
    am_env_t *env = NULL;

    if (am_env_parse(d->envelope.data, d->envelope.len, AM_ENV_MAX, &env) != 0 ||
        am_env_verify(env, &w->sender) != 0) {
        am_env_free(env);
        verdict(w, AW_WRONG, "a Deliver whose envelope does not verify");
        return;
    }
    memcpy(id, am_env_message_id(env), AM_MSG_ID_LEN);
    am_env_free(env);
    if (memcmp(id, w->id, AM_MSG_ID_LEN) == 0)
        w->r->delivered = true;
    if (w->owed != NULL && memcmp(id, w->owed, AM_MSG_ID_LEN) == 0)
        w->r->owed_seen = true;
    a.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, id};
    f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    f.delivery_ack = &a;
    send_or_refuse(w, &w->b, &f);
}

static void on_frame(run_t *w, sess_t *s, const Amanat__V1__Frame *f)
{
    bool sender = s == &w->a;

    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_AUTH_RESULT:
        if (!f->auth_result->ok)
            verdict(w, AW_REFUSED, "%s: not authenticated", s->who->id);
        s->authed = true;
        if (sender && !w->submitted && !w->stop)
            submit_it(w);
        break;
    case AMANAT__V1__FRAME__OP_ERROR:
        /* every request here is valid: only "retry later" may refuse it */
        verdict(w, f->error->code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE
                       ? AW_REFUSED
                       : AW_WRONG,
                "%s: error %d%s: %s", s->who->id, (int)f->error->code,
                f->error->fatal ? " (fatal)" : "",
                f->error->message ? f->error->message : "");
        break;
    case AMANAT__V1__FRAME__OP_SUBMIT_RESULT:
        if (sender)
            on_submit_result(w, f->submit_result);
        break;
    case AMANAT__V1__FRAME__OP_RECEIPT_RELAY:
        if (sender)
            on_receipts(w, f->receipt_relay);
        break;
    case AMANAT__V1__FRAME__OP_DELIVER:
        if (!sender)
            on_deliver(w, f->deliver);
        else
            verdict(w, AW_WRONG, "PK-NCCIA was given a Deliver");
        break;
    default:
        break;
    }
}

/* Frames already read: 0, or -1 once a verdict is in. */
static int take_all(run_t *w, sess_t *s)
{
    rc_client_t *c = &s->c;
    uint8_t *body;
    size_t used, len;
    int rc;

    while (s->up && !w->stop) {
        Amanat__V1__Frame *f = NULL;

        if ((rc = am_chan_feed(c->chan, c->wire + c->wire_pos,
                               c->wire_len - c->wire_pos, &used)) < 0) {
            verdict(w, AW_WRONG, "%s: channel: %s", s->who->id,
                    am_strerror(rc));
            break;
        }
        c->wire_pos += used;
        if (rc == 0)
            break;
        if (am_chan_take(c->chan, &body, &len) != 0 ||
            am_frame_parse(body, len, AM_FRAME_MAX_DEFAULT, &f) != 0)
            verdict(w, AW_WRONG, "%s: a frame that does not parse",
                    s->who->id);
        am_free(body);
        if (f != NULL)
            on_frame(w, s, f);
        am_frame_free(f);
    }
    return w->stop ? -1 : 0;
}

/* What the run still waits for, to say what stalled. */
static const char *waiting_for(const run_t *w)
{
    if (!w->a.authed || !w->b.authed)
        return "AuthResult";
    if (!w->r->accepted)
        return "SubmitResult";
    if (!w->r->delivered)
        return "the Deliver";
    if (w->owed != NULL && !w->r->owed_seen)
        return "the Deliver of the envelope owed from before";
    return "the DELIVERED evidence";
}

static void exchange(run_t *w, int64_t deadline)
{
    sess_t *s[2] = {&w->a, &w->b};

    while (!w->stop && !done(w)) {
        struct pollfd p[2] = {{w->a.c.fd, POLLIN, 0}, {w->b.c.fd, POLLIN, 0}};
        int64_t left = deadline - now_ms();

        if (take_all(w, s[0]) != 0 || take_all(w, s[1]) != 0 || done(w))
            return;
        if (left <= 0 || poll(p, 2, (int)left) <= 0) {
            verdict(w, AW_STALLED, "no answer within the bound: waiting for "
                    "%s", waiting_for(w));
            return;
        }
        for (int k = 0; k < 2; k++) {
            ssize_t n;

            if (p[k].revents == 0)
                continue;
            n = read(s[k]->c.fd, s[k]->c.wire, sizeof s[k]->c.wire);
            if (n <= 0) {
                verdict(w, AW_REFUSED, "%s: connection closed by the relay "
                        "(waiting for %s)", s[k]->who->id, waiting_for(w));
                return;
            }
            s[k]->c.wire_len = (size_t)n;
            s[k]->c.wire_pos = 0;
        }
    }
}

static void connect_one(run_t *w, sess_t *s, int port, int64_t deadline)
{
    int64_t t0 = now_ms();

    s->who = s == &w->a ? &pk : &de;
    if (rc_connect(&s->c, port, s->who->dh_sk, s->who->cert,
                   s->who->cert_len, true) == 0) {
        s->up = true;
        return;
    }
    rc_close(&s->c);
    /* relay_client waits 5 s for each handshake message */
    verdict(w, now_ms() - t0 >= 4500 || now_ms() > deadline ? AW_STALLED
                                                           : AW_REFUSED,
            "%s: handshake: %s", s->who->id, am_err_detail());
}

void aw_run(int port, const uint8_t *env, size_t env_len,
            const uint8_t *owed, int bound_ms, aw_result_t *out)
{
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    int64_t deadline = now_ms() + bound_ms;
    am_env_t *e = NULL;
    run_t w = {.env = env, .env_len = env_len, .owed = owed, .r = out};

    memset(out, 0, sizeof *out);
    w.a.c.fd = w.b.c.fd = -1;
    if (am_cert_verify(pk.cert, pk.cert_len, &pol, &w.sender) != 0 ||
        am_env_parse(env, env_len, AM_ENV_MAX, &e) != 0 ||
        am_env_verify(e, &w.sender) != 0) {
        am_env_free(e);
        verdict(&w, AW_WRONG, "the test's own envelope does not verify");
        return;
    }
    memcpy(w.id, am_env_message_id(e), AM_MSG_ID_LEN);
    memcpy(out->id, w.id, AM_MSG_ID_LEN);
    am_env_free(e);
    if (am_hash256(env, env_len, w.hash) != 0) {
        verdict(&w, AW_WRONG, "cannot hash the test's own envelope");
        return;
    }
    connect_one(&w, &w.a, port, deadline);
    if (!w.stop)
        connect_one(&w, &w.b, port, deadline);
    if (!w.stop)
        exchange(&w, deadline);
    if (!w.stop)
        out->outcome = AW_DONE;
    if (w.a.up)
        rc_close(&w.a.c);
    if (w.b.up)
        rc_close(&w.b.c);
}
