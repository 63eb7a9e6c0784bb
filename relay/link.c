/* Dialling peer relays, the initiator's side of the handshake, Hello, and
 * the frames of a link (link.h says how forwarding works). */
#include "link.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"

#define SOFTWARE "amanat-relay 0.1"
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 30000

static void dial(am_link_t *l);

am_link_t *link_find(am_server_t *srv, const char *id)
{
    for (size_t i = 0; i < srv->n_links; i++)
        if (strcmp(srv->links[i].cfg.id, id) == 0)
            return &srv->links[i];
    return NULL;
}

static void on_retry(uv_timer_t *t)
{
    dial(t->data);
}

/* The next attempt in backoff_ms, +-25% so that relays restarted together
 * do not dial each other in step; the backoff doubles up to its cap. */
static void schedule(am_link_t *l)
{
    uint64_t ms = l->backoff_ms, jitter = ms / 2;

    if (l->srv->stopping)
        return;
    ms = ms - ms / 4 + (jitter ? randombytes_uniform((uint32_t)jitter) : 0);
    uv_timer_start(&l->retry, on_retry, ms, 0);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                       : l->backoff_ms * 2;
}

void link_closed(conn_t *c)
{
    am_link_t *l = c->link;

    if (l == NULL || l->c != c)
        return;
    l->c = NULL;
    uv_timer_stop(&l->ping);
    schedule(l);
}

static void on_ping(uv_timer_t *t)
{
    am_link_t *l = t->data;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;

    if (l->c == NULL || l->c->state != CONN_READY)
        return;
    p.nonce = randombytes_random();
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &p;
    if (conn_send_frame(l->c, &f) != 0)
        conn_close(l->c, "cannot send");
}

void link_send_error(conn_t *c, Amanat__V1__ErrorCode code, const char *why)
{
    conn_send_error(c, code, 0, true, "%s", why);
}

static int send_hello(conn_t *c)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    const am_crl_t *crl = am_dir_crl(c->srv->dir);

    h.protocol_version = 1;
    h.max_frame = AM_FRAME_MAX_CEILING; /* whatever the peer's limit is */
    h.receive = true;
    h.crl_sequence = crl != NULL ? am_crl_sequence(crl) : 0;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    return conn_send_frame(c, &f);
}

/* Message 2's payload: the peer's certificate, which must be the relay
 * configured, under this federation's root and revocation list, and name
 * the key the handshake authenticated. */
static int check_responder(conn_t *c, const uint8_t *payload, size_t len)
{
    am_cert_policy_t pol = {am_dir_root_pk(c->srv->dir), (int64_t)time(NULL),
                            AM_ROLE_RELAY, am_dir_crl(c->srv->dir)};
    const Amanat__V1__HandshakePayload *p;
    ProtobufCMessage *m = NULL;
    uint8_t rs[AM_NOISE_DHLEN], cert[AM_CERT_MAX];
    size_t clen = 0;
    int rc;

    if ((rc = am_pb_unpack(&amanat__v1__handshake_payload__descriptor,
                           "handshake payload", payload, len,
                           AM_HANDSHAKE_MSG_MAX, &m)) != 0)
        return rc;
    p = (const Amanat__V1__HandshakePayload *)m;
    if (p->protocol_version != 1 || p->certificate == NULL ||
        (clen = amanat__v1__signed_certificate__get_packed_size(
             p->certificate)) > sizeof cert)
        rc = am_errf(AM_EPROTO, "message 2 without a usable certificate");
    if (rc == 0) {
        amanat__v1__signed_certificate__pack(p->certificate, cert);
        rc = am_cert_verify(cert, clen, &pol, &c->peer);
    }
    am_pb_free(m);
    if (rc == 0 && strcmp(c->peer.agency_id, c->link->cfg.id) != 0)
        rc = am_errf(AM_EKEY, "%s answered as \"%s\"", c->link->cfg.id,
                     c->peer.agency_id);
    if (rc == 0 && ((rc = am_noise_hs_remote_static(c->hs, rs)) != 0 ||
                    sodium_memcmp(rs, c->peer.dh_pk, sizeof rs) != 0))
        rc = am_errf(AM_EKEY, "certificate of %s is not for the key that "
                     "made this handshake", c->peer.agency_id);
    if (rc == 0)
        conn_learn(c, cert, clen); /* clients check its evidence with it */
    return rc;
}

/* Message 3: this relay's certificate; then the channel and Hello. */
static int write_message_3(conn_t *c)
{
    Amanat__V1__HandshakePayload p = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;
    uint8_t payload[AM_HANDSHAKE_MSG_MAX], msg[AM_HANDSHAKE_MSG_MAX];
    am_noise_cs_t *send = NULL, *recv = NULL;
    size_t len, mlen;
    int rc;

    p.protocol_version = 1;
    p.certificate = c->srv->self_cert;
    p.software = SOFTWARE;
    if ((len = amanat__v1__handshake_payload__get_packed_size(&p)) >
        sizeof payload - 128)
        return am_errf(AM_ETOOBIG, "relay certificate too big");
    amanat__v1__handshake_payload__pack(&p, payload);
    if ((rc = am_noise_hs_write(c->hs, payload, len, msg, sizeof msg,
                                &mlen)) != 0 ||
        (rc = am_noise_hs_split(c->hs, &send, &recv)) != 0)
        return rc;
    if ((rc = am_chan_new(&c->chan, send, recv, AM_FRAME_MAX_CEILING)) != 0) {
        am_noise_cs_free(send);
        am_noise_cs_free(recv);
        return rc;
    }
    am_noise_hs_free(c->hs);
    c->hs = NULL;
    if ((rc = conn_send_raw(c, msg, mlen)) != 0)
        return rc;
    c->state = CONN_HELLO;
    return send_hello(c);
}

void link_hs_message(conn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t payload[AM_HANDSHAKE_MSG_MAX];
    size_t plen;

    if (c->state != CONN_HS1 ||
        am_noise_hs_read(c->hs, msg, len, payload, sizeof payload,
                         &plen) != 0 ||
        check_responder(c, payload, plen) != 0 || write_message_3(c) != 0) {
        conn_close(c, am_err_detail());
        return;
    }
    conn_log(c, "link authenticated");
}

static void on_auth(conn_t *c, const Amanat__V1__AuthResult *a)
{
    am_link_t *l = c->link;

    if (!a->ok || strcmp(a->peer_id, am_dir_self(c->srv->dir)->agency_id)) {
        conn_close(c, "the peer relay did not accept this relay");
        return;
    }
    c->state = CONN_READY;
    l->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_start(&l->ping, on_ping, c->srv->cfg.idle_ms / 3,
                   c->srv->cfg.idle_ms / 3);
    conn_log(c, "link ready");
    if (a->crl != NULL)
        link_crl(c->srv, a->crl, c->peer.agency_id);
}

static void on_error(conn_t *c, const Amanat__V1__Error *e)
{
    conn_log(c, "peer relay: error %d: %.200s", (int)e->code, e->message);
    if (e->fatal)
        conn_close(c, "refused by the peer relay");
}

void link_frame(conn_t *c, const Amanat__V1__Frame *f)
{
    if (f->op_case == AMANAT__V1__FRAME__OP_ERROR) {
        on_error(c, f->error);
    } else if (c->state == CONN_HELLO) {
        if (f->op_case == AMANAT__V1__FRAME__OP_AUTH_RESULT)
            on_auth(c, f->auth_result);
        else
            link_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                            "expected auth_result");
    } else if (f->op_case == AMANAT__V1__FRAME__OP_DELIVER) {
        link_deliver(c, f->deliver);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_RELAY) {
        link_receipts(c, f->receipt_relay);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_DIRECTORY_UPDATE) {
        link_directory(c, f->directory_update);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_REVOCATION_UPDATE) {
        if (f->revocation_update->crl != NULL)
            link_crl(c->srv, f->revocation_update->crl, c->peer.agency_id);
    } else if (f->op_case == AMANAT__V1__FRAME__OP_PING) {
        conn_pong(c, f->ping);
    } else if (f->op_case != AMANAT__V1__FRAME__OP_PONG) {
        link_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                        "frame not for a relay's link");
    }
}

/* Message 1: an ephemeral key, no payload. */
static int start_handshake(conn_t *c)
{
    uint8_t msg[64];
    size_t len;
    int rc;

    if ((rc = conn_hs_new(c, AM_NOISE_INITIATOR)) != 0 ||
        (rc = am_noise_hs_write(c->hs, NULL, 0, msg, sizeof msg, &len)) != 0)
        return rc;
    return conn_send_raw(c, msg, len);
}

static void on_connected(uv_connect_t *req, int status)
{
    conn_t *c = req->data;

    am_free(req);
    if (status != 0 || c->closing) {
        conn_close(c, status ? uv_strerror(status) : NULL);
        conn_unref(c);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1);
    if (start_handshake(c) != 0) {
        conn_close(c, "cannot start the handshake");
    } else {
        conn_resume(c); /* reading; closes the connection if it cannot */
        if (!c->closing)
            conn_log(c, "dialled");
    }
    conn_unref(c);
}

static void dial(am_link_t *l)
{
    am_server_t *srv = l->srv;
    struct sockaddr_in addr;
    uv_connect_t *req;
    conn_t *c;

    if (srv->stopping || l->c != NULL)
        return;
    if ((c = conn_new(srv)) == NULL ||
        (req = am_calloc(1, sizeof *req)) == NULL) {
        if (c != NULL)
            conn_close(c, "out of memory");
        schedule(l);
        return;
    }
    c->link = l;
    l->c = c;
    snprintf(c->addr, sizeof c->addr, "link to %.32s", l->cfg.id);
    req->data = c;
    uv_timer_start(&c->timer, conn_on_timeout, srv->cfg.handshake_ms, 0);
    if (uv_ip4_addr(l->cfg.host, l->cfg.port, &addr) != 0 ||
        uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)&addr,
                       on_connected) != 0) {
        am_free(req);
        conn_close(c, "cannot connect");
        return;
    }
    conn_ref(c);
}

int am_links_start(am_server_t *srv)
{
    if (srv->cfg.n_peers == 0)
        return 0;
    if ((srv->links = am_calloc(srv->cfg.n_peers, sizeof *srv->links)) ==
        NULL)
        return AM_ENOMEM;
    for (size_t i = 0; i < srv->cfg.n_peers; i++) {
        am_link_t *l = &srv->links[i];

        l->srv = srv;
        l->cfg = srv->cfg.peers[i];
        l->backoff_ms = BACKOFF_MIN_MS;
        l->retry.data = l->ping.data = l;
        if (uv_timer_init(srv->loop, &l->retry) != 0 ||
            uv_timer_init(srv->loop, &l->ping) != 0)
            return am_errf(AM_EIO, "cannot start the link to %s", l->cfg.id);
        srv->n_links++;
        dial(l);
    }
    return 0;
}

void am_links_stop(am_server_t *srv)
{
    for (size_t i = 0; i < srv->n_links; i++) {
        uv_close((uv_handle_t *)&srv->links[i].retry, NULL);
        uv_close((uv_handle_t *)&srv->links[i].ping, NULL);
    }
}
