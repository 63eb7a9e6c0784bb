/* fuzz_relay.h, second half: the client.  Blocking TCP on 127.0.0.1 with
 * every wait bounded by poll(); writes with MSG_NOSIGNAL; the Noise XX
 * initiator with fuzz_common's fixed ephemeral; transport messages sealed
 * here from any plaintext (so the fuzzer controls the frame prefixes), and
 * the relay's frames read back through a receive-only am_chan_t. */
#define _DEFAULT_SOURCE /* TCP_QUICKACK */

#include "fuzz_relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"
#include "frame.h"
#include "noise_internal.h" /* am_noise_hs_set_fixed_ephemeral */

/* The relay's socket keeps Nagle's algorithm: a small write waits for the
 * ACK of the previous one, and Linux delays ACKs by up to 40 ms.  Quick
 * ACKs on this side, renewed after every read (the kernel drops the mode),
 * keep that from stalling the fuzzer. */
static void quick_ack(int fd)
{
    int one = 1;

    if (setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one) != 0)
        perror("fuzz_relay: TCP_QUICKACK");
}

static void conn_init(am_fzr_conn_t *c, int fd)
{
    c->fd = fd;
    c->closed = c->corked = false;
    c->hs = NULL;
    c->send = NULL;
    c->rx = NULL;
    c->in_len = c->in_pos = c->out_len = c->msg2_len = 0;
    c->err = 0;
}

void am_fzr_adopt(am_fzr_conn_t *c, int fd)
{
    int one = 1;

    conn_init(c, fd);
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        perror("fuzz_relay: TCP_NODELAY");
    quick_ack(fd);
}

int am_fzr_open(am_fzr_conn_t *c)
{
    struct sockaddr_in a = {0};
    struct timeval limit = {AM_FZR_WAIT_MS / 1000, 0};
    int one = 1;

    conn_init(c, -1);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)am_fzr_port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
        c->err = errno;
        return AM_EIO;
    }
    /* SO_SNDTIMEO bounds connect() too */
    if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &limit,
                   sizeof limit) != 0 ||
        connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        c->err = errno;
        if (close(c->fd) != 0)
            perror("fuzz_relay: close");
        c->fd = -1;
        return AM_EIO;
    }
    quick_ack(c->fd);
    return 0;
}

/* Nap a few milliseconds, for retries. */
static void nap(void)
{
    struct timespec ts = {0, 5000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void am_fzr_connect(am_fzr_conn_t *c)
{
    char msg[160];

    /* out of local ports for a moment (other programs on the machine
     * open connections too): not the relay's fault, try again */
    for (int i = 0; i < 600; i++) {
        if (am_fzr_open(c) == 0)
            return;
        if (c->err != EADDRNOTAVAIL && c->err != EAGAIN && c->err != EINTR)
            break;
        nap();
    }
    snprintf(msg, sizeof msg, "the relay does not take connections%s: "
             "connect 127.0.0.1:%d: %s",
             am_fzr_stopped() ? " (its thread returned)" : "", am_fzr_port(),
             strerror(c->err));
    am_fz_fail(__FILE__, __LINE__, msg);
}

static int write_now(am_fzr_conn_t *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        struct pollfd pf = {c->fd, POLLOUT, 0};
        int pr = poll(&pf, 1, AM_FZR_WAIT_MS);
        ssize_t w;

        if (pr < 0 && errno == EINTR)
            continue;
        /* a relay that reads nothing for that long is stuck */
        AM_FZ_CHECK(pr != 0);
        if (pr < 0)
            return AM_EIO;
        w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w <= 0)
            return AM_EIO; /* the relay closed or reset: allowed */
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int am_fzr_flush(am_fzr_conn_t *c)
{
    size_t n = c->out_len;

    c->out_len = 0;
    return n > 0 ? write_now(c, c->out, n) : 0;
}

int am_fzr_write(am_fzr_conn_t *c, const uint8_t *p, size_t n)
{
    int rc;

    if (!c->corked)
        return write_now(c, p, n);
    if (n > sizeof c->out - c->out_len && (rc = am_fzr_flush(c)) != 0)
        return rc;
    if (n > sizeof c->out)
        return write_now(c, p, n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

int am_fzr_send_record(am_fzr_conn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t hdr[2];
    int rc;

    AM_FZ_CHECK(len <= 0xffff);
    am_store_be16(hdr, (uint16_t)len);
    if ((rc = am_fzr_write(c, hdr, 2)) != 0)
        return rc;
    return am_fzr_write(c, msg, len);
}

int am_fzr_read(am_fzr_conn_t *c, int timeout_ms)
{
    ssize_t n;

    if (c->in_pos > 0) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    AM_FZ_CHECK(c->in_len < sizeof c->in);
    while (!c->closed) {
        struct pollfd pf = {c->fd, POLLIN, 0};
        int pr = poll(&pf, 1, timeout_ms);

        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return AM_EIO;
        n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len,
                 MSG_DONTWAIT);
        if (n > 0) {
            c->in_len += (size_t)n;
            quick_ack(c->fd);
            return 1;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        c->closed = true; /* end of stream, or reset */
    }
    return 0;
}

int am_fzr_read_record(am_fzr_conn_t *c, const uint8_t **rec, size_t *len)
{
    for (;;) {
        size_t have = c->in_len - c->in_pos, n;

        if (have >= 2) {
            n = am_load_be16(c->in + c->in_pos);
            if (have >= 2 + n) {
                *rec = c->in + c->in_pos + 2;
                *len = n;
                c->in_pos += 2 + n;
                return 0;
            }
        }
        if (am_fzr_read(c, AM_FZR_WAIT_MS) != 1)
            return AM_EIO;
    }
}

/* Message 2's payload: protocol 1 and exactly the relay's certificate. */
static void check_relay_payload(const uint8_t *p, size_t len)
{
    const am_fzr_relay_t *r = am_fzr_relay();
    Amanat__V1__HandshakePayload *hp;
    uint8_t cert[AM_CERT_MAX];

    hp = amanat__v1__handshake_payload__unpack(NULL, len, p);
    AM_FZ_CHECK(hp != NULL && hp->protocol_version == 1);
    AM_FZ_CHECK(hp->certificate != NULL);
    AM_FZ_CHECK(amanat__v1__signed_certificate__get_packed_size(
                    hp->certificate) == r->cert_len);
    (void)amanat__v1__signed_certificate__pack(hp->certificate, cert);
    AM_FZ_CHECK(memcmp(cert, r->cert, r->cert_len) == 0);
    amanat__v1__handshake_payload__free_unpacked(hp, NULL);
}

static size_t msg2_len;

size_t am_fzr_msg2_len(void)
{
    return msg2_len;
}

int am_fzr_hs_begin(am_fzr_conn_t *c, const uint8_t static_sk[32])
{
    static uint8_t msg[AM_NOISE_MSG_MAX], payload[AM_NOISE_MSG_MAX];
    const uint8_t *rec;
    uint8_t rs[AM_NOISE_DHLEN];
    size_t len, plen;
    int rc;

    AM_FZ_CHECK(am_noise_hs_new(&c->hs, AM_NOISE_PROTOCOL, AM_NOISE_INITIATOR,
                                (const uint8_t *)AM_NOISE_PROLOGUE,
                                strlen(AM_NOISE_PROLOGUE)) == 0);
    AM_FZ_CHECK(am_noise_hs_set_local_static(c->hs, static_sk) == 0);
    AM_FZ_CHECK(am_noise_hs_set_fixed_ephemeral(c->hs, am_fz_ini_ephemeral) ==
                0);
    AM_FZ_CHECK(am_noise_hs_start(c->hs) == 0);
    AM_FZ_CHECK(am_noise_hs_write(c->hs, NULL, 0, msg, sizeof msg, &len) == 0);
    if ((rc = am_fzr_send_record(c, msg, len)) != 0 ||
        (rc = am_fzr_flush(c)) != 0)
        return rc;
    /* an honest message 1 on a fresh connection must be answered, always
     * with the same length: the relay's payload does not change */
    AM_FZ_CHECK(am_fzr_read_record(c, &rec, &len) == 0);
    AM_FZ_CHECK(msg2_len == 0 || len == msg2_len);
    c->msg2_len = msg2_len = len;
    AM_FZ_CHECK(am_noise_hs_read(c->hs, rec, len, payload, sizeof payload,
                                 &plen) == 0);
    AM_FZ_CHECK(am_noise_hs_remote_static(c->hs, rs) == 0);
    AM_FZ_CHECK(memcmp(rs, am_fzr_relay()->dh_pk, sizeof rs) == 0);
    check_relay_payload(payload, plen);
    return 0;
}

int am_fzr_hs_end(am_fzr_conn_t *c, const uint8_t *payload, size_t len)
{
    static uint8_t msg[AM_NOISE_MSG_MAX];
    am_noise_cs_t *recv = NULL;
    size_t mlen;

    AM_FZ_CHECK(len <=
                AM_NOISE_MSG_MAX - AM_NOISE_DHLEN - 2 * AM_NOISE_TAGLEN);
    AM_FZ_CHECK(am_noise_hs_write(c->hs, payload, len, msg, sizeof msg,
                                  &mlen) == 0);
    AM_FZ_CHECK(am_noise_hs_split(c->hs, &c->send, &recv) == 0);
    AM_FZ_CHECK(am_chan_new(&c->rx, NULL, recv, AM_FRAME_MAX_DEFAULT) == 0);
    am_noise_hs_free(c->hs);
    c->hs = NULL;
    return am_fzr_send_record(c, msg, mlen);
}

static size_t put_varint(uint8_t *o, uint64_t v)
{
    size_t n = 0;

    do {
        o[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v > 0);
    return n;
}

int am_fzr_payload(uint32_t version, const uint8_t *cert, size_t cert_len,
                   const char *software, size_t sw_len, uint8_t *out,
                   size_t cap, size_t *len)
{
    size_t n = 0;

    if (cap < 33 || cert_len > cap - 33 || sw_len > cap - 33 - cert_len)
        return AM_ETOOBIG;
    if (version != 0) {
        out[n++] = 0x08; /* field 1, varint */
        n += put_varint(out + n, version);
    }
    if (cert != NULL) {
        out[n++] = 0x12; /* field 2, bytes */
        n += put_varint(out + n, cert_len);
        memcpy(out + n, cert, cert_len);
        n += cert_len;
    }
    if (sw_len > 0) {
        out[n++] = 0x1a; /* field 3, bytes */
        n += put_varint(out + n, sw_len);
        memcpy(out + n, software, sw_len);
        n += sw_len;
    }
    *len = n;
    return 0;
}

int am_fzr_send_plain(am_fzr_conn_t *c, const uint8_t *p, size_t n)
{
    static uint8_t ct[2 + AM_NOISE_MSG_MAX];
    static const uint8_t none[1];
    size_t k, len;
    int rc;

    if (n == 0)
        p = none;
    do {
        k = n < AM_NOISE_PAYLOAD_MAX ? n : AM_NOISE_PAYLOAD_MAX;
        AM_FZ_CHECK(am_noise_cs_encrypt(c->send, NULL, 0, p, k, ct + 2,
                                        sizeof ct - 2, &len) == 0);
        am_store_be16(ct, (uint16_t)len);
        if ((rc = am_fzr_write(c, ct, 2 + len)) != 0)
            return rc;
        p += k;
        n -= k;
    } while (n > 0);
    return 0;
}

int am_fzr_send_body(am_fzr_conn_t *c, const uint8_t *body, size_t n)
{
    uint8_t *buf;
    int rc;

    AM_FZ_CHECK(n <= 0xffffffffu - 4 && (buf = am_malloc(4 + n)) != NULL);
    am_store_be32(buf, (uint32_t)n);
    if (n > 0)
        memcpy(buf + 4, body, n);
    rc = am_fzr_send_plain(c, buf, 4 + n);
    am_free(buf);
    return rc;
}

int am_fzr_send_frame(am_fzr_conn_t *c, const Amanat__V1__Frame *f)
{
    uint8_t *wire = NULL;
    size_t len;
    int rc;

    AM_FZ_CHECK(am_frame_encode(f, AM_FRAME_MAX_CEILING, &wire, &len) == 0);
    rc = am_fzr_send_plain(c, wire, len);
    am_free(wire);
    return rc;
}

int am_fzr_recv_frame(am_fzr_conn_t *c, int timeout_ms,
                      Amanat__V1__Frame **f)
{
    uint8_t *body = NULL;
    size_t used, len;
    int rc;

    for (;;) {
        rc = am_chan_feed(c->rx, c->in + c->in_pos, c->in_len - c->in_pos,
                          &used);
        /* the relay sealed it: it must decrypt and fit the default limit */
        AM_FZ_CHECK(rc >= 0);
        c->in_pos += used;
        if (rc == 1)
            break;
        if (am_fzr_read(c, timeout_ms) != 1)
            return AM_EIO;
    }
    AM_FZ_CHECK(am_chan_take(c->rx, &body, &len) == 0);
    rc = am_frame_parse(body, len, AM_FRAME_MAX_DEFAULT, f);
    am_free(body);
    AM_FZ_CHECK(rc == 0);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    AM_FZ_CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t am_fzr_close(am_fzr_conn_t *c)
{
    int64_t deadline = now_ms() + AM_FZR_WAIT_MS, left;
    size_t got = c->in_len - c->in_pos;

    if (c->fd >= 0) {
        (void)am_fzr_flush(c); /* the relay may have closed: allowed */
        if (shutdown(c->fd, SHUT_WR) != 0)
            c->closed = true; /* already reset */
        while (!c->closed) {
            c->in_pos = c->in_len = 0;
            left = deadline - now_ms();
            /* after the client's end of stream the relay must close */
            AM_FZ_CHECK(left > 0);
            if (am_fzr_read(c, (int)left) == 1)
                got += c->in_len;
        }
        if (close(c->fd) != 0)
            perror("fuzz_relay: close");
        c->fd = -1;
    }
    am_noise_hs_free(c->hs);
    am_noise_cs_free(c->send);
    am_chan_free(c->rx);
    c->hs = NULL;
    c->send = NULL;
    c->rx = NULL;
    c->in_len = c->in_pos = c->out_len = 0;
    return got;
}

void am_fzr_reset(am_fzr_conn_t *c)
{
    struct linger l = {1, 0};

    if (c->fd >= 0 &&
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
        perror("fuzz_relay: SO_LINGER");
    if (c->fd >= 0 && close(c->fd) != 0)
        perror("fuzz_relay: close");
    c->fd = -1;
    c->closed = true;
    (void)am_fzr_close(c);
}
