/* An authenticated agency flooding Submits past its quota: many envelopes
 * sent ahead of their answers (more than the 64 requests the relay lets
 * wait for its store before it stops reading, so its backpressure is
 * exercised too).  Every answer is counted: SubmitResult (stored),
 * ERROR_QUOTA (refused, not fatal), anything else.  Afterwards the same
 * session must still answer a Ping: refusals must not end it. */
#include "hostile.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

bool hx_ping(rc_client_t *c, uint64_t nonce, int ms)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;
    int64_t end = hx_now_ms() + ms;
    bool pong = false;

    p.nonce = nonce;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &p;
    if (rc_send(c, &f) != 0)
        return false;
    /* other frames (evidence owed, late answers) may come first */
    while (!pong && hx_now_ms() < end &&
           rc_recv(c, (int)(end - hx_now_ms()), &ans) == 0) {
        pong = ans->op_case == AMANAT__V1__FRAME__OP_PONG &&
               ans->pong->nonce == nonce;
        am_frame_free(ans);
    }
    return pong;
}

static int send_submit(rc_client_t *c, uint64_t req, uint8_t *env,
                       size_t len)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;

    s.request_id = req;
    s.envelope = (ProtobufCBinaryData){len, env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &s;
    return rc_send(c, &f);
}

/* Count one frame; false when it ends the session (a fatal Error). */
static bool tally(hx_flood_t *fl, const Amanat__V1__Frame *f,
                  size_t *answered)
{
    if (f->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT) {
        fl->acked++;
        (*answered)++;
    } else if (f->op_case == AMANAT__V1__FRAME__OP_ERROR) {
        if (f->error->code == AMANAT__V1__ERROR_CODE__ERROR_QUOTA &&
            !f->error->fatal)
            fl->quota++;
        else
            fl->other++;
        (*answered)++;
        if (f->error->fatal) {
            snprintf(fl->why, sizeof fl->why, "flood: fatal error %d: %s",
                     (int)f->error->code, f->error->message);
            return false;
        }
    }
    return true;
}

static int connect_flooder(hx_flood_t *fl, rc_client_t *c)
{
    Amanat__V1__Frame *f = NULL;
    int rc;

    if ((rc = rc_connect(c, fl->port, fl->who->dh_sk, fl->who->cert,
                         fl->who->cert_len, false)) != 0 ||
        (rc = rc_recv(c, 5000, &f)) != 0)
        return rc;
    if (f->op_case != AMANAT__V1__FRAME__OP_AUTH_RESULT || !f->auth_result->ok)
        rc = am_errf(AM_EPROTO, "flooder not authenticated");
    am_frame_free(f);
    return rc;
}

void *hx_flood_run(void *arg)
{
    hx_flood_t *fl = arg;
    rc_client_t c = {.fd = -1};
    Amanat__V1__Frame *f;
    size_t sent = 0, answered = 0;
    int64_t t0 = hx_now_ms();
    int rc;

    if ((rc = connect_flooder(fl, &c)) != 0) {
        snprintf(fl->why, sizeof fl->why, "flood: %s", am_err_detail());
        goto done;
    }
    while (answered < fl->n) {
        while (sent < fl->n && sent - answered < fl->window) {
            if ((rc = send_submit(&c, sent + 1, fl->env[sent], fl->len[sent]))
                != 0) {
                snprintf(fl->why, sizeof fl->why, "flood: submit %zu: %s",
                         sent + 1, am_err_detail());
                goto done;
            }
            sent++;
        }
        if ((rc = rc_recv(&c, 15000, &f)) != 0) {
            snprintf(fl->why, sizeof fl->why, "flood: %zu of %zu answered: "
                     "%s", answered, fl->n, am_err_detail());
            goto done;
        }
        bool go_on = tally(fl, f, &answered);

        am_frame_free(f);
        if (!go_on)
            goto done;
    }
    fl->ms = hx_now_ms() - t0;
    fl->pong = hx_ping(&c, 0x600d, 5000);
done:
    rc_close(&c);
    return NULL;
}
