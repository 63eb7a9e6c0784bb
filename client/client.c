/* The client library: opening a profile, the session with the relay,
 * request and answer over it, the directory of peers and the revocation
 * list.  Sending is client_send.c, receiving client_sync.c. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"

#define STASH_MAX 4096  /* frames held while an answer is awaited */

int64_t cl_now(void)
{
    return (int64_t)time(NULL);
}

void am_client_hex(const uint8_t id[AM_MSG_ID_LEN], char out[33])
{
    sodium_bin2hex(out, 33, id, AM_MSG_ID_LEN);
}

static int load_crl(am_client_t *c)
{
    uint8_t *b = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    int rc;

    if ((rc = am_cstore_crl_get(c->store, &seq, &b, &len)) != 0 || b == NULL)
        return rc;
    rc = cl_take_crl(c, b, len);
    am_free(b);
    return rc;
}

int am_client_open(const char *home, const am_pass_source_t *src,
                   am_client_t **out)
{
    char path[AM_PROFILE_PATH_MAX + 16];
    am_client_t *c;
    int rc;

    if ((c = am_calloc(1, sizeof *c)) == NULL)
        return AM_ENOMEM;
    c->stash_tail = &c->stash;
    c->timeout_ms = 10000;
    c->next_req = 1;
    if ((rc = am_profile_open(home, cl_now(), &c->prof)) != 0 ||
        (rc = am_profile_path(&c->prof, "store.db", path, sizeof path)) != 0 ||
        (rc = am_profile_unlock(&c->prof, src)) != 0 ||
        (rc = am_cstore_open(path, &c->store)) != 0 ||
        (rc = load_crl(c)) != 0) {
        am_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void am_client_close(am_client_t *c)
{
    if (c == NULL)
        return;
    cl_disconnect(c);
    am_cstore_close(c->store);
    am_crl_free(c->crl);
    am_problems_free(&c->problems);
    am_profile_close(&c->prof);
    am_free(c);
}

const am_profile_t *am_client_profile(const am_client_t *c)
{
    return &c->prof;
}

am_cstore_t *am_client_store(am_client_t *c)
{
    return c->store;
}

void am_client_set_timeout(am_client_t *c, int ms)
{
    c->timeout_ms = ms > 0 ? ms : 10000;
}

const am_problems_t *am_client_problems(const am_client_t *c)
{
    return &c->problems;
}

int cl_take_crl(am_client_t *c, const uint8_t *b, size_t len)
{
    am_crl_t *crl = NULL;
    int rc = am_crl_verify(b, len, c->prof.root_pk, c->crl_seq, &crl);

    if (rc == AM_ESTALE)
        return 0; /* not newer than the one held */
    if (rc != 0)
        return am_err_wrap(rc, "revocation list");
    if (am_crl_sequence(crl) > c->crl_seq &&
        (rc = am_cstore_crl_put(c->store, am_crl_sequence(crl), b, len)) != 0) {
        am_crl_free(crl);
        return rc;
    }
    am_crl_free(c->crl);
    c->crl = crl;
    c->crl_seq = am_crl_sequence(crl);
    return 0;
}

void cl_stash_clear(am_client_t *c)
{
    while (c->stash != NULL) {
        stash_t *s = c->stash;

        c->stash = s->next;
        am_frame_free(s->f);
        am_free(s);
    }
    c->stash_tail = &c->stash;
    c->n_stash = 0;
}

void cl_disconnect(am_client_t *c)
{
    am_session_close(c->sess);
    c->sess = NULL;
    cl_stash_clear(c);
}

int cl_connect(am_client_t *c, bool receive)
{
    const uint8_t *crl;
    size_t len;
    int rc;

    if (c->sess != NULL && (c->receiving || !receive))
        return 0;
    cl_disconnect(c);
    if ((rc = am_session_open(&c->prof, c->crl, receive, c->crl_seq,
                              c->timeout_ms, &c->sess)) != 0)
        return rc;
    c->receiving = receive;
    if ((crl = am_session_crl(c->sess, &len)) != NULL &&
        (rc = cl_take_crl(c, crl, len)) != 0) {
        cl_disconnect(c);
        return rc;
    }
    /* the list it just handed over may revoke the relay itself */
    if (c->crl != NULL &&
        am_crl_revoked(c->crl, am_session_relay(c->sess)->serial)) {
        rc = am_errf(AM_EREVOKED, "relay %s: its certificate is revoked",
                     am_session_relay(c->sess)->agency_id);
        cl_disconnect(c);
        return rc;
    }
    /* kept for evidence bundles: the relay's signatures need its key */
    crl = am_session_relay_cert(c->sess, &len);
    if ((rc = am_cstore_dir_put(c->store, am_session_relay(c->sess)->agency_id,
                                crl, len, NULL, 0, cl_now())) != 0) {
        cl_disconnect(c);
        return rc;
    }
    return 0;
}

uint64_t cl_req_id(am_client_t *c)
{
    return c->next_req++;
}

int cl_next_frame(am_client_t *c, int timeout_ms, Amanat__V1__Frame **out)
{
    stash_t *s = c->stash;

    if (s != NULL) {
        c->stash = s->next;
        if (c->stash == NULL)
            c->stash_tail = &c->stash;
        c->n_stash--;
        *out = s->f;
        am_free(s);
        return 0;
    }
    if (c->sess == NULL)
        return am_errf(AM_ESTATE, "not connected to the relay");
    return am_session_recv(c->sess, timeout_ms, out);
}

static int keep(am_client_t *c, Amanat__V1__Frame *f)
{
    stash_t *s;

    if (c->n_stash >= STASH_MAX || (s = am_calloc(1, sizeof *s)) == NULL) {
        am_frame_free(f);
        return am_errf(AM_ELIMIT, "too many frames while waiting for the "
                       "relay's answer");
    }
    s->f = f;
    *c->stash_tail = s;
    c->stash_tail = &s->next;
    c->n_stash++;
    return 0;
}

static uint64_t answer_req(const Amanat__V1__Frame *f)
{
    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_SUBMIT_RESULT: return f->submit_result->request_id;
    case AMANAT__V1__FRAME__OP_DIRECTORY_RESULT:
        return f->directory_result->request_id;
    case AMANAT__V1__FRAME__OP_PREKEY_RESULT: return f->prekey_result->request_id;
    case AMANAT__V1__FRAME__OP_ERROR: return f->error->request_id;
    default: return 0;
    }
}

int cl_call(am_client_t *c, const Amanat__V1__Frame *f, int want,
            uint64_t req, Amanat__V1__Frame **answer)
{
    Amanat__V1__Frame *a;
    int rc;

    c->relay_error = 0;
    if ((rc = am_session_send(c->sess, f)) != 0)
        return rc;
    for (;;) {
        if ((rc = am_session_recv(c->sess, c->timeout_ms, &a)) != 0)
            return rc;
        if (a->op_case == AMANAT__V1__FRAME__OP_ERROR &&
            (a->error->request_id == req || a->error->fatal)) {
            rc = am_errf(a->error->code ==
                                 AMANAT__V1__ERROR_CODE__ERROR_REVOKED
                             ? AM_EREVOKED
                             : AM_EPROTO,
                         "the relay refused: %s",
                         a->error->message ? a->error->message : "no reason");
            c->relay_error = a->error->code ? (int)a->error->code : -1;
            am_frame_free(a);
            return rc;
        }
        if ((int)a->op_case == want && answer_req(a) == req) {
            *answer = a;
            return 0;
        }
        if ((rc = keep(c, a)) != 0)
            return rc;
    }
}

bool cl_refused_for_good(const am_client_t *c)
{
    switch (c->relay_error) {
    case 0: /* no answer: the connection */
    case AMANAT__V1__ERROR_CODE__ERROR_QUOTA:
    case AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE:
    case AMANAT__V1__ERROR_CODE__ERROR_BUSY:
        return false;
    default:
        return true;
    }
}
