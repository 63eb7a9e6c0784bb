/* The responder's side of Noise XX (docs/PROTOCOL.md section 4): message 1
 * must be exactly 32 bytes; message 2 carries the relay's certificate;
 * message 3 the client's, which must verify under the federation root,
 * hold the agency role, not be revoked, and name the very X25519 key the
 * handshake just authenticated.
 *
 * DESIGN.  The costly steps are jobs: writing message 2 (an ephemeral
 * key and two X25519 operations), reading message 3 (one more) and the
 * root's signature on the client's certificate (through the cache of
 * certcache.h), together about two thirds of the relay's CPU per
 * handshake.  With cfg.hs_offload (server.h says when) a job runs on
 * libuv's thread pool, as Submit's signature checks do (conn_submit.c),
 * and the loop thread only moves bytes; without, it runs at once on the
 * loop.  While a job is out (c->hs_job) the worker owns c->hs: the loop
 * feeds nothing more to the handshake (server.c keeps what arrives in
 * c->stash, and feeds it once the job is back) and the job holds a
 * reference, so a connection closed meanwhile (handshake timeout,
 * shutdown) is freed only once the job is back; its answer is dropped.
 * What depends on the directory, which SIGHUP may replace (validity now,
 * role, revocation list, learning the certificate), is checked on the
 * loop when the job is back. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "certcache.h"
#include "err.h"
#include "link.h"

#define SOFTWARE "amanat-relay 0.1"

typedef struct {
    uv_work_t work;
    conn_t *c;
    am_noise_hs_t *hs;   /* c->hs, the worker's until the job is back */
    am_certcache_t *certs;
    bool msg3;           /* reading message 3, else writing message 2 */
    int rc;              /* the worker's verdict */
    bool noise_ok;       /* message 3: read and split; chan can be made */
    Amanat__V1__ErrorCode code;
    char why[256];
    uint8_t root_pk[AM_SIGN_PK_LEN];
    am_noise_cs_t *send, *recv;        /* message 3: the transport keys */
    uint8_t rs[AM_NOISE_DHLEN];
    am_cert_t peer;
    uint8_t *cert;                     /* message 3: the certificate */
    size_t cert_len;
    size_t in_len, out_cap, out_len;
    /* in: message 2's payload or message 3; then out: message 2 or
     * message 3's payload.  Sized to the message, not to the 4096-byte
     * cap: thousands of handshakes may be waiting for the pool. */
    uint8_t buf[];
} hs_job_t;

#define JOB_IN(j) ((j)->buf)
#define JOB_OUT(j) ((j)->buf + (j)->in_len)

/* A job whose input is a copy of in (at most AM_HANDSHAKE_MSG_MAX), with
 * out_cap bytes for its output; NULL when out of memory. */
static hs_job_t *job_new(const uint8_t *in, size_t in_len, size_t out_cap)
{
    hs_job_t *j;

    if (in_len > AM_HANDSHAKE_MSG_MAX || out_cap > AM_HANDSHAKE_MSG_MAX ||
        (j = am_calloc(1, sizeof *j + in_len + out_cap)) == NULL)
        return NULL;
    memcpy(JOB_IN(j), in, in_len);
    j->in_len = in_len;
    j->out_cap = out_cap;
    return j;
}

static void job_free(hs_job_t *j)
{
    am_noise_cs_free(j->send);
    am_noise_cs_free(j->recv);
    am_free(j->cert);
    sodium_memzero(j, sizeof *j + j->in_len + j->out_cap);
    am_free(j);
}

int conn_hs_new(conn_t *c, am_noise_role_t role)
{
    int rc;

    /* the directory checked at load that dh_pk is the key of dh_sk */
    if ((rc = am_noise_hs_new(&c->hs, AM_NOISE_PROTOCOL, role,
                              (const uint8_t *)AM_NOISE_PROLOGUE,
                              strlen(AM_NOISE_PROLOGUE))) != 0 ||
        (rc = am_noise_hs_set_local_keypair(c->hs, am_dir_dh_sk(c->srv->dir),
                                            am_dir_self(c->srv->dir)->dh_pk))
            != 0 ||
        (rc = am_noise_hs_start(c->hs)) != 0)
        return rc;
    return am_framedec_new(&c->hsdec, AM_TRANSPORT_PREFIX, 32,
                           AM_HANDSHAKE_MSG_MAX);
}

int conn_hs_start(conn_t *c)
{
    return conn_hs_new(c, AM_NOISE_RESPONDER);
}

/* In a job: the payload of message 3 up to the root's signature on the
 * certificate; the rest of the checks need the directory (check_peer). */
static int parse_payload(hs_job_t *j, const uint8_t *payload, size_t len)
{
    const Amanat__V1__HandshakePayload *p;
    ProtobufCMessage *m = NULL;
    int rc;

    j->code = AMANAT__V1__ERROR_CODE__ERROR_AUTH;
    if ((rc = am_pb_unpack(&amanat__v1__handshake_payload__descriptor,
                           "handshake payload", payload, len,
                           AM_HANDSHAKE_MSG_MAX, &m)) != 0)
        return rc;
    p = (const Amanat__V1__HandshakePayload *)m;
    if (p->protocol_version != 1) {
        j->code = AMANAT__V1__ERROR_CODE__ERROR_VERSION;
        rc = am_errf(AM_EUNSUPPORTED, "protocol version %u",
                     p->protocol_version);
    } else if (p->certificate == NULL || strlen(p->software) > 64 ||
               (j->cert_len = amanat__v1__signed_certificate__get_packed_size(
                    p->certificate)) > AM_CERT_MAX ||
               j->cert_len == 0) { /* an empty one: nothing to verify */
        rc = am_errf(AM_EPROTO, "handshake payload without a usable "
                     "certificate");
    } else if ((j->cert = am_malloc(j->cert_len)) == NULL) {
        rc = am_errf(AM_ENOMEM, "out of memory");
    } else {
        amanat__v1__signed_certificate__pack(p->certificate, j->cert);
        rc = am_certcache_verify(j->certs, j->cert, j->cert_len, j->root_pk,
                                 &j->peer);
    }
    am_pb_free(m);
    return rc;
}

static int read_message_3(hs_job_t *j)
{
    size_t plen;
    int rc;

    if ((rc = am_noise_hs_read(j->hs, JOB_IN(j), j->in_len, JOB_OUT(j),
                               j->out_cap, &plen)) != 0 ||
        (rc = am_noise_hs_split(j->hs, &j->send, &j->recv)) != 0 ||
        (rc = am_noise_hs_remote_static(j->hs, j->rs)) != 0)
        return rc;
    j->noise_ok = true;
    return parse_payload(j, JOB_OUT(j), plen);
}

/* The job itself, on a thread-pool thread when offloaded: it touches only
 * its own memory, c->hs and the certificate cache (which locks). */
static void job_work(hs_job_t *j)
{
    if (j->msg3)
        j->rc = read_message_3(j);
    else
        j->rc = am_noise_hs_write(j->hs, JOB_IN(j), j->in_len, JOB_OUT(j),
                                  j->out_cap, &j->out_len);
    if (j->rc != 0)
        snprintf(j->why, sizeof j->why, "%s", am_err_detail());
}

/* Do j: on the thread pool or, without offload, at once; j is the
 * callee's. */
static void queue(conn_t *c, hs_job_t *j);

static void reply_message_2(conn_t *c)
{
    Amanat__V1__HandshakePayload p = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;
    uint8_t payload[AM_HANDSHAKE_MSG_MAX];
    size_t len;
    hs_job_t *j;

    p.protocol_version = 1;
    p.certificate = c->srv->self_cert;
    p.software = SOFTWARE;
    /* room for the message's keys and tags around the payload */
    if ((len = amanat__v1__handshake_payload__get_packed_size(&p)) >
        sizeof payload - 128) {
        conn_close(c, "relay certificate too big for message 2");
        return;
    }
    amanat__v1__handshake_payload__pack(&p, payload);
    if ((j = job_new(payload, len, len + 128)) == NULL) {
        conn_close(c, "out of memory");
        return;
    }
    queue(c, j);
}

/* On the loop, once the job verified the certificate's signature: the
 * policy under the current directory, then the key.  On success c->peer
 * is set and the directory may learn the certificate. */
static int check_peer(conn_t *c, hs_job_t *j)
{
    am_cert_policy_t pol = {am_dir_root_pk(c->srv->dir), (int64_t)time(NULL),
                            AM_ROLE_AGENCY, am_dir_crl(c->srv->dir)};
    int rc;

    j->code = AMANAT__V1__ERROR_CODE__ERROR_AUTH;
    if (sodium_memcmp(j->root_pk, pol.root_pk, AM_SIGN_PK_LEN) != 0)
        return am_errf(AM_ECRYPTO, "the federation root changed during the "
                       "handshake");
    /* a relay of the federation that this one is configured to link with
     * (section 18); any other relay certificate fails the agency role */
    c->relay_peer = (j->peer.roles & AM_ROLE_RELAY) != 0 &&
                    link_find(c->srv, j->peer.agency_id) != NULL;
    if (c->relay_peer)
        pol.role = AM_ROLE_RELAY;
    if ((rc = am_cert_check_policy(&j->peer, &pol)) != 0) {
        if (rc == AM_EREVOKED)
            j->code = AMANAT__V1__ERROR_CODE__ERROR_REVOKED;
        return rc;
    }
    if (sodium_memcmp(j->rs, j->peer.dh_pk, AM_NOISE_DHLEN) != 0)
        return am_errf(AM_EKEY, "certificate of \"%s\" is not for the key "
                       "that made this handshake", j->peer.agency_id);
    c->peer = j->peer;
    /* root-signed and proven: the directory may learn it */
    conn_learn(c, j->cert, j->cert_len);
    return 0;
}

static void finish(conn_t *c, hs_job_t *j)
{
    if (!j->noise_ok) {
        conn_close(c, j->why);
        return;
    }
    if (am_chan_new(&c->chan, j->send, j->recv, c->srv->cfg.frame_max) != 0) {
        conn_close(c, "out of memory");
        return;
    }
    j->send = j->recv = NULL; /* the channel owns them */
    if (j->rc != 0 || check_peer(c, j) != 0) {
        /* out of memory refuses no certificate: try again later */
        conn_send_error(c, j->rc == AM_ENOMEM
                               ? AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE
                               : j->code,
                        0, true, "%s", j->rc != 0 ? j->why : am_err_detail());
        return;
    }
    am_noise_hs_free(c->hs);
    c->hs = NULL;
    c->state = CONN_HELLO;
    am_sess_add(c, AM_SESS_AGENCY);
    conn_log(c, "authenticated");
}

/* What the job's answer means for c, on the loop. */
static void job_act(conn_t *c, hs_job_t *j)
{
    if (j->msg3)
        finish(c, j);
    else if (j->rc != 0)
        conn_close(c, j->why);
    else if (conn_send_raw(c, JOB_OUT(j), j->out_len) != 0)
        conn_close(c, "cannot send");
    else
        c->state = CONN_HS3;
}

static void hs_work(uv_work_t *w)
{
    job_work(w->data);
}

/* Back on the loop.  A connection closed meanwhile gets nothing. */
static void hs_done(uv_work_t *w, int status)
{
    static const uint8_t none[1];
    hs_job_t *j = w->data;
    conn_t *c = j->c;
    uint8_t *rest;
    size_t rest_len;

    c->hs_job = false;
    if (status == 0 && !c->closing && c->state >= 0) {
        job_act(c, j);
        /* what the peer sent behind the message (even nothing: an
         * authenticated session changes timers), then reading again */
        rest = c->stash;
        rest_len = c->stash_len;
        c->stash = NULL;
        c->stash_len = 0;
        if (!c->closing)
            conn_input(c, rest != NULL ? rest : none, rest_len);
        am_free(rest);
        conn_flow(c); /* reading again if a full stash had stopped it */
    }
    job_free(j);
    conn_unref(c);
}

static void queue(conn_t *c, hs_job_t *j)
{
    j->c = c;
    j->hs = c->hs;
    j->certs = c->srv->certs;
    memcpy(j->root_pk, am_dir_root_pk(c->srv->dir), AM_SIGN_PK_LEN);
    if (!c->srv->cfg.hs_offload) {
        /* on the loop: the caller goes on with what follows the message */
        job_work(j);
        job_act(c, j);
        job_free(j);
        return;
    }
    j->work.data = j;
    if (uv_queue_work(c->srv->loop, &j->work, hs_work, hs_done) != 0) {
        job_free(j);
        conn_close(c, "cannot queue the handshake");
        return;
    }
    conn_ref(c);
    c->hs_job = true;
}

void conn_hs_message(conn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t none[1];
    hs_job_t *j;
    size_t plen;

    if (c->link != NULL) {
        link_hs_message(c, msg, len); /* this relay initiated */
        return;
    }
    if (c->state == CONN_HS3) {
        /* the payload is shorter than the message: out_cap = len */
        if ((j = job_new(msg, len, len)) == NULL) {
            conn_close(c, "out of memory");
            return;
        }
        j->msg3 = true;
        queue(c, j);
        return;
    }
    /* message 1: an ephemeral key and nothing else (a payload there would
     * travel in clear) */
    if (len != 32) {
        conn_close(c, "handshake message 1 is not 32 bytes");
        return;
    }
    if (am_noise_hs_read(c->hs, msg, len, none, 0, &plen) != 0) {
        conn_close(c, am_err_detail());
        return;
    }
    reply_message_2(c);
}
