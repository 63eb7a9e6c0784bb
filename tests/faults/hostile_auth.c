/* Attacks after a valid Noise handshake with a real agency's certificate:
 * the relay has spent its handshake work and the peer is authenticated,
 * so what follows is the peer's own misbehaviour, not a stranger's.
 *
 *   garbage:  four kinds, one per connection in turn: bytes that are no
 *             transport message (a failed tag); before Hello, a
 *             well-formed transport message holding a frame that does
 *             not parse; the same after Hello; after Hello, a transport
 *             length under 16.  The relay must close each at once (an
 *             Error frame first for the two unparsable frames).
 *   big:      frame lengths the relay must refuse from the 4-byte prefix
 *             alone (ERROR_TOO_BIG, then close): 0xFFFFFFFF before Hello,
 *             0xFFFFFFFF after it, and --frame-max + 1 after it.
 *   trickle:  after AuthResult, a transport message one byte per second:
 *             no frame ever completes, so the idle timeout must close it.
 *
 * The garbage is written with the initiator's own sending keys
 * (rc_handshake), so it is valid Noise around invalid content. */
#include "hostile.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"

#define N_BIG 3
#define SLOW_MAX 16
#define CLOSE_WAIT_MS 2000 /* "at once": well under any timeout in use */
#define PLAIN_MAX 512

typedef struct {
    rc_client_t rc;      /* the socket, and a channel that only receives */
    am_noise_cs_t *send; /* the initiator's keys, for messages we forge */
} raw_t;

static void raw_close(raw_t *r)
{
    rc_close(&r->rc);
    am_noise_cs_free(r->send);
    r->send = NULL;
}

static int raw_open(raw_t *r, int port, const party_t *p)
{
    am_noise_cs_t *recv = NULL;
    int rc;

    memset(r, 0, sizeof *r);
    if ((r->rc.fd = hx_connect_from("127.0.0.1", port, 3000)) < 0)
        return am_errf(AM_EIO, "connect: %s", strerror(errno));
    if ((rc = rc_handshake(r->rc.fd, p->dh_sk, p->cert, p->cert_len,
                           r->rc.relay_static, &r->send, &recv)) != 0)
        return rc;
    if ((rc = am_chan_new(&r->rc.chan, NULL, recv, AM_FRAME_MAX_DEFAULT)) != 0)
        am_noise_cs_free(recv);
    return rc;
}

/* One transport message around plain, whatever plain holds. */
static int raw_put(raw_t *r, const uint8_t *plain, size_t len)
{
    uint8_t out[2 + PLAIN_MAX + AM_NOISE_TAGLEN];
    size_t ct;
    int rc;

    if (len > PLAIN_MAX)
        return AM_EINVAL;
    if ((rc = am_noise_cs_encrypt(r->send, NULL, 0, plain, len, out + 2,
                                  sizeof out - 2, &ct)) != 0)
        return rc;
    out[0] = (uint8_t)(ct >> 8);
    out[1] = (uint8_t)ct;
    return am_fd_write_all(r->rc.fd, out, 2 + ct);
}

/* Hello, then the relay's AuthResult. */
static int raw_hello(raw_t *r)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans = NULL;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    uint8_t *buf;
    size_t len;
    int rc;

    h.protocol_version = 1;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    if ((rc = am_frame_encode(&f, PLAIN_MAX, &buf, &len)) != 0)
        return rc;
    rc = raw_put(r, buf, len);
    am_free(buf);
    if (rc == 0 && (rc = rc_recv(&r->rc, 5000, &ans)) == 0 &&
        (ans->op_case != AMANAT__V1__FRAME__OP_AUTH_RESULT ||
         !ans->auth_result->ok))
        rc = am_errf(AM_EPROTO, "no AuthResult after Hello");
    am_frame_free(ans);
    return rc;
}

/* Read frames until the relay closes (true) or ms pass (false); *code is
 * the first Error frame's code, 0 if none came. */
static bool closed_after(raw_t *r, int ms, int *code)
{
    int64_t end = hx_now_ms() + ms;
    Amanat__V1__Frame *f;

    *code = 0;
    while (hx_now_ms() < end &&
           rc_recv(&r->rc, (int)(end - hx_now_ms()), &f) == 0) {
        if (f->op_case == AMANAT__V1__FRAME__OP_ERROR && *code == 0)
            *code = (int)f->error->code;
        am_frame_free(f);
    }
    return hx_wait_closed(r->rc.fd,
                          end > hx_now_ms() ? (int)(end - hx_now_ms()) : 0);
}

/* A frame of 64 bytes that no protobuf decoder accepts: its first tag
 * names field 0 with wire type 7. */
static int junk_frame(raw_t *r)
{
    uint8_t plain[4 + 64] = {0, 0, 0, 64};

    randombytes_buf(plain + 4, 64);
    plain[4] = 0x07;
    return raw_put(r, plain, sizeof plain);
}

static int garbage(raw_t *r, int kind)
{
    uint8_t junk[300];
    static const uint8_t short_msg[7] = {0, 5, 1, 2, 3, 4, 5};
    int rc;

    switch (kind) {
    case 0: /* a length the bytes fill, then a tag that cannot verify */
        randombytes_buf(junk, sizeof junk);
        junk[0] = 0;
        junk[1] = 200;
        return am_fd_write_all(r->rc.fd, junk, sizeof junk);
    case 1:
        return junk_frame(r);
    case 2:
        return (rc = raw_hello(r)) != 0 ? rc : junk_frame(r);
    default:
        return (rc = raw_hello(r)) != 0
                   ? rc
                   : am_fd_write_all(r->rc.fd, short_msg, sizeof short_msg);
    }
}

/* Frame lengths refused from the prefix: kind 0 before Hello, 1 and 2
 * after it. */
static int big_prefix(raw_t *r, int kind, size_t frame_max)
{
    uint8_t plain[8] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
    uint32_t over = (uint32_t)frame_max + 1;
    int rc;

    if (kind > 0 && (rc = raw_hello(r)) != 0)
        return rc;
    if (kind == 2) {
        plain[0] = (uint8_t)(over >> 24);
        plain[1] = (uint8_t)(over >> 16);
        plain[2] = (uint8_t)(over >> 8);
        plain[3] = (uint8_t)over;
    }
    return raw_put(r, plain, sizeof plain);
}

/* Open every connection first, so that they are all there at once, then
 * misbehave on each and see each closed. */
static int run_misbehaving(hx_auth_t *a)
{
    int n = a->n_garbage + N_BIG, rc = 0, code;
    raw_t *r = calloc((size_t)n, sizeof *r);

    if (r == NULL)
        return am_errf(AM_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        r[i].rc.fd = -1;
    for (int i = 0; i < n && rc == 0; i++)
        rc = raw_open(&r[i], a->port, a->who);
    for (int i = 0; i < n && rc == 0; i++) {
        if (i < a->n_garbage) {
            if ((rc = garbage(&r[i], i % 4)) != 0)
                break;
            a->garbage_closed += closed_after(&r[i], CLOSE_WAIT_MS, &code);
            a->garbage_errors += code == AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL;
        } else {
            if ((rc = big_prefix(&r[i], i - a->n_garbage, a->frame_max)) != 0)
                break;
            a->big_sent++;
            a->big_refused += closed_after(&r[i], CLOSE_WAIT_MS, &code) &&
                              code == AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG;
        }
    }
    for (int i = 0; i < n; i++)
        raw_close(&r[i]);
    free(r);
    return rc;
}

typedef struct {
    rc_client_t c;
    int64_t t_auth; /* AuthResult read: the idle timer runs from there */
    bool open;
} slow_t;

static int open_slow(hx_auth_t *a, slow_t *s)
{
    static const uint8_t start[2] = {0x01, 0x00}; /* a 256-byte message */
    Amanat__V1__Frame *f = NULL;
    int rc;

    if ((rc = rc_connect(&s->c, a->port, a->who->dh_sk, a->who->cert,
                         a->who->cert_len, false)) != 0 ||
        (rc = rc_recv(&s->c, 5000, &f)) != 0)
        return rc;
    am_frame_free(f);
    s->t_auth = hx_now_ms();
    s->open = true;
    return am_fd_write_all(s->c.fd, start, sizeof start);
}

/* One byte a second on each session until the relay closes them all. */
static void trickle(hx_auth_t *a, slow_t *s, int n)
{
    int64_t end = hx_now_ms() + a->idle_ms + 5000, next = hx_now_ms() + 1000;
    int open = n;

    while (open > 0 && hx_now_ms() < end) {
        for (int i = 0; i < n; i++) {
            int64_t dt = hx_now_ms() - s[i].t_auth;

            if (!s[i].open || !hx_wait_closed(s[i].c.fd, 0))
                continue;
            s[i].open = false;
            open--;
            if (a->slow_closed == 0 || dt < a->slow_min_ms)
                a->slow_min_ms = dt;
            if (dt > a->slow_max_ms)
                a->slow_max_ms = dt;
            a->slow_closed++;
        }
        if (hx_now_ms() >= next) {
            uint8_t b = 0x5a;

            for (int i = 0; i < n; i++)
                if (s[i].open)
                    (void)send(s[i].c.fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            next += 1000;
        }
        hx_sleep_ms(20);
    }
}

void *hx_auth_run(void *arg)
{
    hx_auth_t *a = arg;
    slow_t s[SLOW_MAX];
    int n = a->n_slow < SLOW_MAX ? a->n_slow : SLOW_MAX, rc = 0;

    memset(s, 0, sizeof s);
    for (int i = 0; i < SLOW_MAX; i++)
        s[i].c.fd = -1;
    for (int i = 0; i < n && rc == 0; i++)
        rc = open_slow(a, &s[i]);
    if (rc == 0)
        rc = run_misbehaving(a);
    if (rc == 0)
        trickle(a, s, n);
    else
        snprintf(a->why, sizeof a->why, "authenticated attack: %s",
                 am_err_detail());
    for (int i = 0; i < SLOW_MAX; i++)
        rc_close(&s[i].c);
    return NULL;
}
