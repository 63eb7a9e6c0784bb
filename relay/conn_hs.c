/* The responder's side of Noise XX (docs/PROTOCOL.md section 4): message 1
 * must be exactly 32 bytes; message 2 carries the relay's certificate;
 * message 3 the client's, which must verify under the federation root,
 * hold the agency role, not be revoked, and name the very X25519 key the
 * handshake just authenticated. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"

#define SOFTWARE "amanat-relay 0.1"

int conn_hs_start(conn_t *c)
{
    int rc;

    if ((rc = am_noise_hs_new(&c->hs, AM_NOISE_PROTOCOL, AM_NOISE_RESPONDER,
                              (const uint8_t *)AM_NOISE_PROLOGUE,
                              strlen(AM_NOISE_PROLOGUE))) != 0 ||
        (rc = am_noise_hs_set_local_static(c->hs, am_dir_dh_sk(c->srv->dir)))
            != 0 ||
        (rc = am_noise_hs_start(c->hs)) != 0)
        return rc;
    return am_framedec_new(&c->hsdec, AM_TRANSPORT_PREFIX, 32,
                           AM_HANDSHAKE_MSG_MAX);
}

static int reply_message_2(conn_t *c)
{
    Amanat__V1__HandshakePayload p = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;
    uint8_t payload[AM_HANDSHAKE_MSG_MAX], out[AM_HANDSHAKE_MSG_MAX];
    size_t plen, olen;
    int rc;

    p.protocol_version = 1;
    p.certificate = c->srv->self_cert;
    p.software = SOFTWARE;
    if ((plen = amanat__v1__handshake_payload__get_packed_size(&p)) >
        sizeof payload - 128)
        return AM_ETOOBIG;
    amanat__v1__handshake_payload__pack(&p, payload);
    if ((rc = am_noise_hs_write(c->hs, payload, plen, out, sizeof out,
                                &olen)) != 0)
        return rc;
    return conn_send_raw(c, out, olen);
}

/* The payload of message 3, checked; on success c->peer is set. */
static int check_peer(conn_t *c, const uint8_t *payload, size_t len,
                      Amanat__V1__ErrorCode *code)
{
    am_cert_policy_t pol = {am_dir_root_pk(c->srv->dir), (int64_t)time(NULL),
                            AM_ROLE_AGENCY, am_dir_crl(c->srv->dir)};
    const Amanat__V1__HandshakePayload *p;
    ProtobufCMessage *m = NULL;
    uint8_t rs[32], cert[AM_CERT_MAX];
    size_t cert_len;
    int rc;

    *code = AMANAT__V1__ERROR_CODE__ERROR_AUTH;
    if ((rc = am_pb_unpack(&amanat__v1__handshake_payload__descriptor,
                           "handshake payload", payload, len,
                           AM_HANDSHAKE_MSG_MAX, &m)) != 0)
        return rc;
    p = (const Amanat__V1__HandshakePayload *)m;
    if (p->protocol_version != 1) {
        *code = AMANAT__V1__ERROR_CODE__ERROR_VERSION;
        rc = am_errf(AM_EUNSUPPORTED, "protocol version %u", p->protocol_version);
    } else if (p->certificate == NULL || strlen(p->software) > 64 ||
               (cert_len = amanat__v1__signed_certificate__get_packed_size(
                    p->certificate)) > sizeof cert) {
        rc = am_errf(AM_EPROTO, "handshake payload without a usable "
                     "certificate");
    } else {
        amanat__v1__signed_certificate__pack(p->certificate, cert);
        if ((rc = am_cert_verify(cert, cert_len, &pol, &c->peer)) == AM_EREVOKED)
            *code = AMANAT__V1__ERROR_CODE__ERROR_REVOKED;
        if (rc == 0 && (am_noise_hs_remote_static(c->hs, rs) != 0 ||
                        sodium_memcmp(rs, c->peer.dh_pk, 32) != 0))
            rc = am_errf(AM_EKEY, "certificate of \"%s\" is not for the key "
                         "that made this handshake", c->peer.agency_id);
        if (rc == 0) /* root-signed and proven: the directory may learn it */
            conn_learn(c, cert, cert_len);
    }
    am_pb_free(m);
    if (rc != 0)
        memset(&c->peer, 0, sizeof c->peer);
    return rc;
}

static void finish(conn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t payload[AM_HANDSHAKE_MSG_MAX];
    am_noise_cs_t *send = NULL, *recv = NULL;
    Amanat__V1__ErrorCode code;
    size_t plen;
    int rc;

    if ((rc = am_noise_hs_read(c->hs, msg, len, payload, sizeof payload,
                               &plen)) != 0 ||
        (rc = am_noise_hs_split(c->hs, &send, &recv)) != 0) {
        conn_close(c, am_err_detail());
        return;
    }
    if ((rc = am_chan_new(&c->chan, send, recv, c->srv->cfg.frame_max)) != 0) {
        am_noise_cs_free(send);
        am_noise_cs_free(recv);
        conn_close(c, "out of memory");
        return;
    }
    if (check_peer(c, payload, plen, &code) != 0) {
        conn_send_error(c, code, 0, true, "%s", am_err_detail());
        return;
    }
    am_noise_hs_free(c->hs);
    c->hs = NULL;
    c->state = CONN_HELLO;
    am_sess_add(c, AM_SESS_AGENCY);
    conn_log(c, "authenticated");
}

void conn_hs_message(conn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t none[1];
    size_t plen;

    if (c->state == CONN_HS3) {
        finish(c, msg, len);
        return;
    }
    /* message 1: an ephemeral key and nothing else (a payload there would
     * travel in clear) */
    if (len != 32) {
        conn_close(c, "handshake message 1 is not 32 bytes");
        return;
    }
    if (am_noise_hs_read(c->hs, msg, len, none, 0, &plen) != 0 ||
        reply_message_2(c) != 0) {
        conn_close(c, am_err_detail());
        return;
    }
    c->state = CONN_HS3;
}
