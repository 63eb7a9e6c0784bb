#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"
#include "fsutil.h"
#include "noise.h"

#define HS_MAX 4096 /* AM_HANDSHAKE_MSG_MAX, docs/PROTOCOL.md section 4 */

struct am_session {
    int fd;
    am_chan_t *chan;
    am_cert_t relay;
    uint8_t *relay_cert; /* its SignedCertificate, as sent */
    size_t relay_cert_len;
    uint8_t *crl;
    size_t crl_len;
    int64_t relay_time;
    size_t max_frame; /* the relay's, from AuthResult */
    char name[AM_RELAY_HOST_MAX + 16]; /* host:port, for messages */
    uint8_t wire[65536];
    size_t wire_len, wire_pos;
};

static int64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Read what is there, waiting until deadline (monotonic ms). */
static int read_some(am_session_t *s, uint8_t *buf, size_t cap,
                     int64_t deadline, size_t *got)
{
    struct pollfd p = {s->fd, POLLIN, 0};
    int64_t left = deadline - now_ms();
    ssize_t n;
    int r;

    do
        r = poll(&p, 1, left > 0 ? (int)left : 0);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return am_errf(AM_ELIMIT, "relay %s: no answer in time", s->name);
    if (r < 0 || (n = read(s->fd, buf, cap)) < 0)
        return am_errf(AM_EIO, "relay %s: %s", s->name, strerror(errno));
    if (n == 0)
        return am_errf(AM_EIO, "relay %s closed the connection", s->name);
    *got = (size_t)n;
    return 0;
}

static int read_exact(am_session_t *s, uint8_t *buf, size_t n,
                      int64_t deadline)
{
    size_t have = 0, got;
    int rc;

    while (have < n) {
        if ((rc = read_some(s, buf + have, n - have, deadline, &got)) != 0)
            return rc;
        have += got;
    }
    return 0;
}

static int dial(am_session_t *s, const am_profile_t *p, int timeout_ms)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8];
    struct pollfd pf;
    int rc, err = 0;
    socklen_t elen = sizeof err;

    snprintf(port, sizeof port, "%u", (unsigned)p->relay_port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(p->relay_host, port, &hints, &res)) != 0)
        return am_errf(AM_EIO, "relay %s: %s", s->name, gai_strerror(rc));
    s->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
    if (s->fd < 0 || (connect(s->fd, res->ai_addr, res->ai_addrlen) != 0 &&
                      errno != EINPROGRESS)) {
        err = errno;
        goto out;
    }
    pf = (struct pollfd){s->fd, POLLOUT, 0};
    if (poll(&pf, 1, timeout_ms) != 1)
        err = ETIMEDOUT;
    else if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        err = errno;
    /* reads wait in poll with a deadline; writes may block */
    else if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK) != 0)
        err = errno;
out:
    freeaddrinfo(res);
    return err == 0 ? 0
                    : am_errf(AM_EIO, "relay %s unreachable: %s", s->name,
                              strerror(err));
}

static int send_hs(am_session_t *s, const uint8_t *msg, size_t len)
{
    uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    int rc = am_fd_write_all(s->fd, hdr, 2);

    return rc ? rc : am_fd_write_all(s->fd, msg, len);
}

static int read_hs(am_session_t *s, uint8_t *msg, size_t *len,
                   int64_t deadline)
{
    uint8_t hdr[2];
    int rc;

    if ((rc = read_exact(s, hdr, 2, deadline)) != 0)
        return rc;
    *len = (size_t)hdr[0] << 8 | hdr[1];
    if (*len > HS_MAX)
        return am_errf(AM_ETOOBIG, "relay %s: handshake message of %zu "
                       "bytes", s->name, *len);
    return read_exact(s, msg, *len, deadline);
}

/* Handshake message 2's payload: the relay's certificate, checked. */
static int check_relay(am_session_t *s, const am_profile_t *p,
                       const am_crl_t *crl, const uint8_t *pl, size_t len,
                       const uint8_t rs[32])
{
    Amanat__V1__HandshakePayload *hp;
    am_cert_policy_t pol = {p->root_pk, (int64_t)time(NULL), AM_ROLE_RELAY,
                            crl};
    uint8_t *cb;
    size_t clen;
    int rc;

    if ((hp = amanat__v1__handshake_payload__unpack(NULL, len, pl)) == NULL ||
        hp->certificate == NULL) {
        rc = am_errf(AM_EPROTO, "relay %s sent no certificate", s->name);
        goto out;
    }
    if (hp->software != NULL && strlen(hp->software) > 64) {
        rc = am_errf(AM_EPROTO, "relay %s: software name over 64 bytes",
                     s->name);
        goto out;
    }
    if (hp->protocol_version != 1) {
        rc = am_errf(AM_EUNSUPPORTED, "relay %s speaks protocol version %u, "
                     "not 1", s->name, hp->protocol_version);
        goto out;
    }
    clen = amanat__v1__signed_certificate__get_packed_size(hp->certificate);
    if (clen > AM_CERT_MAX || (cb = am_malloc(clen)) == NULL) {
        rc = am_errf(AM_ETOOBIG, "relay %s: certificate too big", s->name);
        goto out;
    }
    amanat__v1__signed_certificate__pack(hp->certificate, cb);
    rc = am_cert_verify(cb, clen, &pol, &s->relay);
    if (rc == 0) {
        s->relay_cert = cb;
        s->relay_cert_len = clen;
    } else {
        am_free(cb);
    }
    if (rc != 0)
        rc = am_err_wrap(rc, "relay %s", s->name);
    else if (sodium_memcmp(s->relay.dh_pk, rs, 32) != 0)
        rc = am_errf(AM_ECRYPTO, "relay %s: its certificate is not for the "
                     "key it used", s->name);
    /* only the agency's home relay speaks for it */
    else if (strcmp(s->relay.agency_id, p->self.home_relay) != 0)
        rc = am_errf(AM_EROLE, "relay %s is %s, not %s's home relay %s",
                     s->name, s->relay.agency_id, p->agency_id,
                     p->self.home_relay);
out:
    if (hp != NULL)
        amanat__v1__handshake_payload__free_unpacked(hp, NULL);
    return rc;
}

static int our_payload(const am_profile_t *p, uint8_t *out, size_t cap,
                       size_t *len)
{
    Amanat__V1__HandshakePayload hp = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;
    Amanat__V1__SignedCertificate *sc;

    sc = amanat__v1__signed_certificate__unpack(NULL, p->cert_len, p->cert);
    if (sc == NULL)
        return am_errf(AM_EPROTO, "agency.cert does not parse");
    hp.protocol_version = 1;
    hp.certificate = sc;
    hp.software = "amanat";
    *len = amanat__v1__handshake_payload__get_packed_size(&hp);
    if (*len <= cap)
        amanat__v1__handshake_payload__pack(&hp, out);
    amanat__v1__signed_certificate__free_unpacked(sc, NULL);
    return *len <= cap ? 0 : am_errf(AM_ETOOBIG, "certificate too big");
}

static int handshake(am_session_t *s, const am_profile_t *p,
                     const am_crl_t *crl, int64_t deadline)
{
    am_noise_hs_t *hs = NULL;
    am_noise_cs_t *tx = NULL, *rx = NULL;
    uint8_t msg[HS_MAX], pl[HS_MAX], rs[32];
    size_t len, plen = 0, got;
    int rc;

    if ((rc = am_noise_hs_new(&hs, AM_NOISE_PROTOCOL, AM_NOISE_INITIATOR,
                              (const uint8_t *)AM_NOISE_PROLOGUE,
                              strlen(AM_NOISE_PROLOGUE))) != 0 ||
        (rc = am_noise_hs_set_local_static(hs, p->secret + 32)) != 0 ||
        (rc = am_noise_hs_start(hs)) != 0 ||
        (rc = am_noise_hs_write(hs, NULL, 0, msg, sizeof msg, &len)) != 0 ||
        (rc = send_hs(s, msg, len)) != 0 ||
        (rc = read_hs(s, msg, &len, deadline)) != 0 ||
        (rc = am_noise_hs_read(hs, msg, len, pl, sizeof pl, &got)) != 0 ||
        (rc = am_noise_hs_remote_static(hs, rs)) != 0 ||
        (rc = check_relay(s, p, crl, pl, got, rs)) != 0 ||
        (rc = our_payload(p, pl, sizeof pl, &plen)) != 0 ||
        (rc = am_noise_hs_write(hs, pl, plen, msg, sizeof msg, &len)) != 0 ||
        (rc = send_hs(s, msg, len)) != 0 ||
        (rc = am_noise_hs_split(hs, &tx, &rx)) != 0 ||
        (rc = am_chan_new(&s->chan, tx, rx, AM_FRAME_MAX_CEILING)) != 0) {
        am_noise_cs_free(tx);
        am_noise_cs_free(rx);
    }
    am_noise_hs_free(hs);
    sodium_memzero(msg, sizeof msg);
    return rc;
}

/* The relay's Error frame as a library error with its sentence. */
static int relay_error(const am_session_t *s, const Amanat__V1__Error *e)
{
    int code = e->code == AMANAT__V1__ERROR_CODE__ERROR_REVOKED ? AM_EREVOKED
               : e->code == AMANAT__V1__ERROR_CODE__ERROR_AUTH  ? AM_EKEY
                                                                : AM_EPROTO;

    return am_errf(code, "relay %s refused: %s", s->name,
                   e->message ? e->message : "(no reason given)");
}

static int hello(am_session_t *s, const char *self, bool receive,
                 uint64_t crl_seq, int timeout_ms)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *a = NULL;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    int rc;

    h.protocol_version = 1;
    h.max_frame = (uint32_t)AM_FRAME_MAX_CEILING;
    h.receive = receive;
    h.crl_sequence = crl_seq;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    if ((rc = am_session_send(s, &f)) != 0 ||
        (rc = am_session_recv(s, timeout_ms, &a)) != 0)
        return rc;
    if (a->op_case == AMANAT__V1__FRAME__OP_ERROR)
        rc = relay_error(s, a->error);
    else if (a->op_case != AMANAT__V1__FRAME__OP_AUTH_RESULT ||
             !a->auth_result->ok)
        rc = am_errf(AM_EPROTO, "relay %s did not authenticate us", s->name);
    else if (a->auth_result->peer_id == NULL ||
             strcmp(a->auth_result->peer_id, self) != 0)
        rc = am_errf(AM_EPROTO, "relay %s authenticated someone else than "
                     "%s", s->name, self);
    else if (a->auth_result->max_frame < 65536)
        rc = am_errf(AM_EPROTO, "relay %s takes frames of %u bytes only",
                     s->name, a->auth_result->max_frame);
    else {
        s->relay_time = a->auth_result->relay_time;
        s->max_frame = a->auth_result->max_frame;
    }
    if (rc == 0 && a->auth_result->crl != NULL) {
        s->crl_len = amanat__v1__revocation_list__get_packed_size(
            a->auth_result->crl);
        if (s->crl_len <= AM_CRL_MAX &&
            (s->crl = am_malloc(s->crl_len)) != NULL)
            amanat__v1__revocation_list__pack(a->auth_result->crl, s->crl);
        else
            s->crl_len = 0;
    }
    am_frame_free(a);
    return rc;
}

int am_session_open(const am_profile_t *p, const am_crl_t *crl,
                    bool receive, uint64_t crl_sequence, int timeout_ms,
                    am_session_t **out)
{
    am_session_t *s;
    int rc;

    if (p->secret == NULL)
        return am_errf(AM_ESTATE, "the agency key is not unlocked");
    if ((s = am_calloc(1, sizeof *s)) == NULL)
        return AM_ENOMEM;
    s->fd = -1;
    snprintf(s->name, sizeof s->name, "%s:%u", p->relay_host,
             (unsigned)p->relay_port);
    if ((rc = dial(s, p, timeout_ms)) != 0 ||
        (rc = handshake(s, p, crl, now_ms() + timeout_ms)) != 0 ||
        (rc = hello(s, p->agency_id, receive, crl_sequence,
                    timeout_ms)) != 0) {
        am_session_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int am_session_send(am_session_t *s, const Amanat__V1__Frame *f)
{
    uint8_t *wire;
    size_t len;
    int rc;

    if ((rc = am_chan_seal_frame(s->chan, f, AM_FRAME_MAX_CEILING, &wire,
                                 &len)) != 0)
        return rc;
    rc = am_fd_write_all(s->fd, wire, len);
    am_free(wire);
    return rc != 0 ? am_err_wrap(rc, "relay %s", s->name) : 0;
}

int am_session_recv(am_session_t *s, int timeout_ms,
                    Amanat__V1__Frame **out)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t *body;
    size_t used, len;
    int rc;

    for (;;) {
        rc = am_chan_feed(s->chan, s->wire + s->wire_pos,
                          s->wire_len - s->wire_pos, &used);
        if (rc < 0)
            return am_err_wrap(rc, "relay %s", s->name);
        s->wire_pos += used;
        if (rc == 1)
            break;
        if ((rc = read_some(s, s->wire, sizeof s->wire, deadline,
                            &s->wire_len)) != 0)
            return rc;
        s->wire_pos = 0;
    }
    if ((rc = am_chan_take(s->chan, &body, &len)) != 0)
        return rc;
    rc = am_frame_parse(body, len, AM_FRAME_MAX_CEILING, out);
    am_free(body);
    return rc;
}

const am_cert_t *am_session_relay(const am_session_t *s)
{
    return &s->relay;
}

const uint8_t *am_session_relay_cert(const am_session_t *s, size_t *len)
{
    *len = s->relay_cert_len;
    return s->relay_cert;
}

const uint8_t *am_session_crl(const am_session_t *s, size_t *len)
{
    *len = s->crl_len;
    return s->crl;
}

size_t am_session_max_frame(const am_session_t *s)
{
    return s->max_frame;
}

int64_t am_session_relay_time(const am_session_t *s)
{
    return s->relay_time;
}

void am_session_close(am_session_t *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    am_chan_free(s->chan);
    am_free(s->relay_cert);
    am_free(s->crl);
    am_free(s);
}
