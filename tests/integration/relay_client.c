#include "relay_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"
#include "noise.h"

static int read_some(int fd, uint8_t *buf, size_t cap, int timeout_ms,
                     size_t *got)
{
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;

    if (poll(&p, 1, timeout_ms) <= 0)
        return am_errf(AM_EIO, "no answer within %d ms", timeout_ms);
    if ((n = read(fd, buf, cap)) <= 0)
        return am_errf(AM_EIO, "connection closed by the relay");
    *got = (size_t)n;
    return 0;
}

/* One 2-byte-prefixed handshake message. */
static int read_hs(int fd, uint8_t *msg, size_t cap, size_t *len)
{
    uint8_t hdr[2];
    size_t have = 0, got = 0, n;
    int rc;

    while (have < 2) {
        if ((rc = read_some(fd, hdr + have, 2 - have, 5000, &got)) != 0)
            return rc;
        have += got;
    }
    n = (size_t)hdr[0] << 8 | hdr[1];
    if (n > cap)
        return am_errf(AM_ETOOBIG, "handshake message of %zu bytes", n);
    for (have = 0; have < n; have += got)
        if ((rc = read_some(fd, msg + have, n - have, 5000, &got)) != 0)
            return rc;
    *len = n;
    return 0;
}

static int send_hs(int fd, const uint8_t *msg, size_t len)
{
    uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    int rc = am_fd_write_all(fd, hdr, 2);
    return rc ? rc : am_fd_write_all(fd, msg, len);
}

int rc_handshake(int fd, const uint8_t dh_sk[32], const uint8_t *cert,
                 size_t cert_len, uint8_t relay_static[32],
                 am_noise_cs_t **send, am_noise_cs_t **recv)
{
    Amanat__V1__HandshakePayload p = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;
    Amanat__V1__SignedCertificate *sc;
    am_noise_hs_t *hs = NULL;
    uint8_t msg[4096], pl[4096];
    size_t len, plen, got;
    int rc;

    if ((sc = amanat__v1__signed_certificate__unpack(NULL, cert_len, cert)) ==
        NULL)
        return am_errf(AM_EPROTO, "test certificate does not parse");
    p.protocol_version = 1;
    p.certificate = sc;
    p.software = "relay_client";
    plen = amanat__v1__handshake_payload__pack(&p, pl);
    amanat__v1__signed_certificate__free_unpacked(sc, NULL);
    if ((rc = am_noise_hs_new(&hs, AM_NOISE_PROTOCOL, AM_NOISE_INITIATOR,
                              (const uint8_t *)AM_NOISE_PROLOGUE,
                              strlen(AM_NOISE_PROLOGUE))) != 0 ||
        (rc = am_noise_hs_set_local_static(hs, dh_sk)) != 0 ||
        (rc = am_noise_hs_start(hs)) != 0 ||
        (rc = am_noise_hs_write(hs, NULL, 0, msg, sizeof msg, &len)) != 0 ||
        (rc = send_hs(fd, msg, len)) != 0 ||
        (rc = read_hs(fd, msg, sizeof msg, &len)) != 0 ||
        (rc = am_noise_hs_read(hs, msg, len, msg + 2048, 2048, &got)) != 0 ||
        (rc = am_noise_hs_remote_static(hs, relay_static)) != 0 ||
        (rc = am_noise_hs_write(hs, pl, plen, msg, sizeof msg, &len)) != 0 ||
        (rc = send_hs(fd, msg, len)) != 0)
        goto done;
    rc = am_noise_hs_split(hs, send, recv);
done:
    am_noise_hs_free(hs);
    return rc;
}

static int handshake(rc_client_t *c, const uint8_t dh_sk[32],
                     const uint8_t *cert, size_t cert_len)
{
    am_noise_cs_t *send = NULL, *recv = NULL;
    int rc;

    if ((rc = rc_handshake(c->fd, dh_sk, cert, cert_len, c->relay_static,
                           &send, &recv)) != 0 ||
        (rc = am_chan_new(&c->chan, send, recv, AM_FRAME_MAX_DEFAULT)) != 0) {
        am_noise_cs_free(send);
        am_noise_cs_free(recv);
    }
    return rc;
}

int rc_connect(rc_client_t *c, int port, const uint8_t dh_sk[32],
               const uint8_t *cert, size_t cert_len, bool receive)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    int rc;

    if ((rc = rc_connect_hs(c, port, dh_sk, cert, cert_len)) != 0)
        return rc;
    h.protocol_version = 1;
    h.receive = receive;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    return rc_send(c, &f);
}

int rc_connect_hs(rc_client_t *c, int port, const uint8_t dh_sk[32],
                  const uint8_t *cert, size_t cert_len)
{
    struct sockaddr_in a = {0};

    memset(c, 0, sizeof *c);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        return am_errf(AM_EIO, "connect 127.0.0.1:%d: %s", port,
                       strerror(errno));
    return handshake(c, dh_sk, cert, cert_len);
}

int rc_send(rc_client_t *c, const Amanat__V1__Frame *f)
{
    uint8_t *wire;
    size_t len;
    int rc;

    if ((rc = am_chan_seal_frame(c->chan, f, AM_FRAME_MAX_CEILING, &wire,
                                 &len)) != 0)
        return rc;
    rc = am_fd_write_all(c->fd, wire, len);
    am_free(wire);
    return rc;
}

int rc_recv(rc_client_t *c, int timeout_ms, Amanat__V1__Frame **out)
{
    uint8_t *body;
    size_t used, len;
    int rc;

    for (;;) {
        rc = am_chan_feed(c->chan, c->wire + c->wire_pos,
                          c->wire_len - c->wire_pos, &used);
        if (rc < 0)
            return rc;
        c->wire_pos += used;
        if (rc == 1)
            break;
        if ((rc = read_some(c->fd, c->wire, sizeof c->wire, timeout_ms,
                            &c->wire_len)) != 0)
            return rc;
        c->wire_pos = 0;
    }
    if ((rc = am_chan_take(c->chan, &body, &len)) != 0)
        return rc;
    rc = am_frame_parse(body, len, AM_FRAME_MAX_DEFAULT, out);
    am_free(body);
    return rc;
}

void rc_close(rc_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    am_chan_free(c->chan);
    c->fd = -1;
    c->chan = NULL;
}
