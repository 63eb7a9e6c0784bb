/* relay_bench: the event loop and the client side of a connection.
 *
 * One loop per thread: an epoll set of non-blocking sockets to
 * 127.0.0.1:PORT (the loop's relay's, or a connection's own relay's), a
 * timerfd for paced sending, and an array of connections the loop owns.
 * Each connection runs the client's side of docs/PROTOCOL.md: Noise XX as
 * initiator (message 1, then message 3 with the agency's certificate once
 * message 2 named the relay's key), Hello, AuthResult, then frames through
 * the channel (am_chan_*).  Writes are gathered in the connection's buffer
 * and sent once per turn of the loop, so pipelined frames leave in few
 * system calls.  Connections wait in a queue and are opened while fewer
 * than hs_max handshakes are in progress, because the relay refuses more
 * than 64 handshakes in progress from one address.  A connection the relay
 * closes fails the loop: nothing in a measurement expects it.
 */
#define _GNU_SOURCE

#include "relay_bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"

#define TIMER_TAG UINT64_MAX
#define EVENTS 256

static const char *const state_names[] = {"closed", "connecting",
                                          "handshake", "hello", "ready"};

uint64_t rb_now(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail on Linux; a figure without it is none */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (uint64_t)ts.tv_sec * RB_NS + (uint64_t)ts.tv_nsec;
}

int rb_loop_fail(rb_loop_t *l, const char *fmt, ...)
{
    va_list ap;

    if (l->rc == 0) {
        va_start(ap, fmt);
        vsnprintf(l->err, sizeof l->err, fmt, ap);
        va_end(ap);
        l->rc = -1;
    }
    return -1;
}

void rb_loop_note_error(rb_loop_t *l, const Amanat__V1__Error *e)
{
    char text[200];

    l->errors++;
    snprintf(text, sizeof text, "code %d%s: %s", (int)e->code,
             e->fatal ? ", fatal" : "", e->message ? e->message : "");
    for (size_t i = 0; i < l->n_err_seen; i++)
        if (strcmp(l->err_seen[i], text) == 0)
            return;
    if (l->n_err_seen < RB_ERRS_KEPT)
        memcpy(l->err_seen[l->n_err_seen++], text, sizeof text);
}

int rb_loop_init(rb_loop_t *l, const rb_fed_t *fed, int port, size_t n)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TIMER_TAG};

    memset(l, 0, sizeof *l);
    l->inited = true;
    l->ep = l->tfd = -1;
    l->fed = fed;
    l->port = port;
    l->n = n;
    l->hs_max = RB_HS_MAX_DEFAULT;
    l->phase = "setup";
    if ((l->conns = calloc(n, sizeof *l->conns)) == NULL ||
        (l->queue = calloc(n, sizeof *l->queue)) == NULL ||
        (l->dirty = calloc(n, sizeof *l->dirty)) == NULL)
        return rb_loop_fail(l, "out of memory for %zu connections", n);
    for (size_t i = 0; i < n; i++) {
        l->conns[i].loop = l;
        l->conns[i].idx = i;
        l->conns[i].fd = -1;
    }
    if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (l->tfd = timerfd_create(CLOCK_MONOTONIC,
                                 TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->tfd, &ev) != 0)
        return rb_loop_fail(l, "epoll/timerfd: %s", strerror(errno));
    return 0;
}

void rb_loop_free(rb_loop_t *l)
{
    if (!l->inited)
        return;
    for (size_t i = 0; l->conns != NULL && i < l->n; i++)
        rb_conn_close(&l->conns[i]);
    if (l->ep >= 0)
        close(l->ep);
    if (l->tfd >= 0)
        close(l->tfd);
    free(l->conns);
    free(l->queue);
    free(l->dirty);
    rb_lat_free(&l->lat);
    l->conns = NULL;
    l->ep = l->tfd = -1;
    l->inited = false;
}

void rb_loop_queue_to(rb_loop_t *l, size_t i, const rb_party_t *who,
                      bool receive, const rb_fed_t *fed)
{
    l->conns[i].who = who;
    l->conns[i].receive = receive;
    l->conns[i].fed = fed;
    l->conns[i].port = fed == l->fed ? l->port : fed->port;
    l->queue[(l->q_head + l->q_len) % l->n] = i;
    l->q_len++;
}

void rb_loop_queue(rb_loop_t *l, size_t i, const rb_party_t *who,
                   bool receive)
{
    rb_loop_queue_to(l, i, who, receive, l->fed);
}

int rb_loop_timer(rb_loop_t *l, uint64_t at_ns)
{
    struct itimerspec its;

    memset(&its, 0, sizeof its);
    at_ns = at_ns ? at_ns : 1; /* 0 would disarm it */
    its.it_value.tv_sec = (time_t)(at_ns / RB_NS);
    its.it_value.tv_nsec = (long)(at_ns % RB_NS);
    if (timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        return rb_loop_fail(l, "timerfd_settime: %s", strerror(errno));
    return 0;
}

static int conn_fail(rb_conn_t *c, const char *what)
{
    return rb_loop_fail(c->loop, "%s: connection %zu as %s (%s): %s",
                        c->loop->phase, c->idx, c->who ? c->who->id : "?",
                        state_names[c->state], what);
}

static int set_interest(rb_conn_t *c, bool out)
{
    struct epoll_event ev;

    ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)c->gen << 32 | c->idx;
    if (epoll_ctl(c->loop->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return conn_fail(c, strerror(errno));
    c->want_out = out;
    return 0;
}

static void mark_dirty(rb_conn_t *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->loop->dirty[c->loop->n_dirty++] = c->idx;
    }
}

static int ensure_out(rb_conn_t *c, size_t extra)
{
    size_t cap;
    uint8_t *p;

    if (c->out_pos > 0 && c->out_pos == c->out_len)
        c->out_pos = c->out_len = 0;
    if (c->out_len + extra <= c->out_cap)
        return 0;
    if (c->out_pos > 0) {
        memmove(c->out, c->out + c->out_pos, c->out_len - c->out_pos);
        c->out_len -= c->out_pos;
        c->out_pos = 0;
    }
    if (c->out_len + extra <= c->out_cap)
        return 0;
    cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + extra)
        cap *= 2;
    if ((p = realloc(c->out, cap)) == NULL)
        return conn_fail(c, "out of memory");
    c->out = p;
    c->out_cap = cap;
    return 0;
}

static int send_raw(rb_conn_t *c, const uint8_t *msg, size_t len)
{
    if (ensure_out(c, len + 2) != 0)
        return -1;
    c->out[c->out_len] = (uint8_t)(len >> 8);
    c->out[c->out_len + 1] = (uint8_t)len;
    memcpy(c->out + c->out_len + 2, msg, len);
    c->out_len += len + 2;
    mark_dirty(c);
    return 0;
}

int rb_conn_send_body(rb_conn_t *c, const uint8_t *body, size_t len)
{
    size_t need = am_chan_sealed_len(len), wrote;
    int rc;

    if (c->chan == NULL)
        return conn_fail(c, "frame to send before the channel is up");
    if (ensure_out(c, need) != 0)
        return -1;
    if ((rc = am_chan_seal(c->chan, body, len, c->out + c->out_len,
                           c->out_cap - c->out_len, &wrote)) != 0)
        return conn_fail(c, am_err_detail());
    c->out_len += wrote;
    mark_dirty(c);
    return 0;
}

int rb_conn_send(rb_conn_t *c, const Amanat__V1__Frame *f)
{
    uint8_t body[1024];
    size_t len = amanat__v1__frame__get_packed_size(f);

    if (len > sizeof body)
        return conn_fail(c, "frame to send over 1 KiB");
    amanat__v1__frame__pack(f, body);
    return rb_conn_send_body(c, body, len);
}

static int flush(rb_conn_t *c)
{
    while (c->out_pos < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos,
                         MSG_NOSIGNAL);

        if (n > 0) {
            c->out_pos += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return c->want_out ? 0 : set_interest(c, true);
        } else if (n < 0 && errno != EINTR) {
            return conn_fail(c, strerror(errno));
        }
    }
    c->out_pos = c->out_len = 0;
    return c->want_out && c->state != RB_CONNECTING ? set_interest(c, false)
                                                    : 0;
}

static void flush_dirty(rb_loop_t *l)
{
    for (size_t i = 0; i < l->n_dirty; i++) {
        rb_conn_t *c = &l->conns[l->dirty[i]];

        c->dirty = false;
        if (c->fd >= 0 && c->state != RB_CONNECTING && flush(c) != 0)
            rb_conn_close(c);
    }
    l->n_dirty = 0;
}

void rb_conn_close(rb_conn_t *c)
{
    rb_loop_t *l = c->loop;

    if (c->fd < 0)
        return;
    close(c->fd); /* leaves the epoll set with it */
    if (c->state >= RB_CONNECTING && c->state <= RB_AUTH)
        l->hs_inflight--;
    if (c->state == RB_READY)
        l->ready--;
    l->live--;
    am_noise_hs_free(c->hs);
    am_framedec_free(c->hsdec);
    am_chan_free(c->chan);
    free(c->out);
    c->hs = NULL;
    c->hsdec = NULL;
    c->chan = NULL;
    c->out = NULL;
    c->out_pos = c->out_len = c->out_cap = 0;
    c->want_out = false;
    c->fd = -1;
    c->state = RB_CLOSED;
}

static int open_conn(rb_conn_t *c)
{
    struct sockaddr_in a;
    struct epoll_event ev;
    int one = 1;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)c->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0)) < 0)
        return conn_fail(c, strerror(errno));
    c->gen++;
    c->state = RB_CONNECTING;
    c->t_open = rb_now();
    c->loop->hs_inflight++;
    c->loop->live++;
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = (uint64_t)c->gen << 32 | c->idx;
    c->want_out = true;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        epoll_ctl(c->loop->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        return conn_fail(c, strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 &&
        errno != EINPROGRESS) {
        char why[160];

        snprintf(why, sizeof why, "connect 127.0.0.1:%d: %s", c->port,
                 strerror(errno));
        return conn_fail(c, why);
    }
    return 0;
}

/* The TCP connection is up: Noise message 1, an ephemeral key. */
static int on_connected(rb_conn_t *c)
{
    uint8_t msg[64];
    size_t len;
    int err = 0, rc;
    socklen_t elen = sizeof err;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err) {
        char why[160];

        snprintf(why, sizeof why, "connect 127.0.0.1:%d: %s", c->port,
                 strerror(err ? err : errno));
        return conn_fail(c, why);
    }
    if ((rc = am_noise_hs_new(&c->hs, AM_NOISE_PROTOCOL, AM_NOISE_INITIATOR,
                              (const uint8_t *)AM_NOISE_PROLOGUE,
                              strlen(AM_NOISE_PROLOGUE))) != 0 ||
        /* the public half was derived once, with the federation */
        (rc = am_noise_hs_set_local_keypair(c->hs, c->who->dh_sk,
                                            c->who->dh_pk)) != 0 ||
        (rc = am_noise_hs_start(c->hs)) != 0 ||
        (rc = am_noise_hs_write(c->hs, NULL, 0, msg, sizeof msg, &len)) != 0 ||
        (rc = am_framedec_new(&c->hsdec, AM_TRANSPORT_PREFIX, 1,
                              AM_HANDSHAKE_MSG_MAX)) != 0)
        return conn_fail(c, am_err_detail());
    c->state = RB_HS2;
    if (send_raw(c, msg, len) != 0)
        return -1;
    return flush(c);
}

static int send_hello(rb_conn_t *c)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;

    h.protocol_version = 1;
    h.max_frame = 0; /* the default, 1 MiB: what the relay delivers */
    h.receive = c->receive;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    return rb_conn_send(c, &f);
}

/* Message 2 from the relay: check its key, answer message 3, split, and
 * send Hello in the same write. */
static int on_msg2(rb_conn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t payload[AM_HANDSHAKE_MSG_MAX], m3[AM_HANDSHAKE_MSG_MAX], rs[32];
    am_noise_cs_t *tx = NULL, *rx = NULL;
    size_t plen, m3len;
    int rc;

    if ((rc = am_noise_hs_read(c->hs, msg, len, payload, sizeof payload,
                               &plen)) != 0 ||
        (rc = am_noise_hs_remote_static(c->hs, rs)) != 0)
        return conn_fail(c, am_err_detail());
    if (sodium_memcmp(rs, c->fed->relay.dh_pk, 32) != 0)
        return conn_fail(c, "message 2 is not from the relay's key");
    if ((rc = am_noise_hs_write(c->hs, c->who->hs_payload,
                                c->who->hs_payload_len, m3, sizeof m3,
                                &m3len)) != 0 ||
        (rc = am_noise_hs_split(c->hs, &tx, &rx)) != 0 ||
        (rc = am_chan_new(&c->chan, tx, rx, AM_FRAME_MAX_DEFAULT)) != 0) {
        am_noise_cs_free(tx);
        am_noise_cs_free(rx);
        return conn_fail(c, am_err_detail());
    }
    am_noise_hs_free(c->hs);
    am_framedec_free(c->hsdec);
    c->hs = NULL;
    c->hsdec = NULL;
    c->state = RB_AUTH;
    if (send_raw(c, m3, m3len) != 0)
        return -1;
    return send_hello(c);
}

static int on_auth(rb_conn_t *c, const Amanat__V1__Frame *f, uint64_t now)
{
    char why[300];

    if (f->op_case == AMANAT__V1__FRAME__OP_ERROR) {
        snprintf(why, sizeof why, "refused by the relay: %s",
                 f->error->message ? f->error->message : "");
        return conn_fail(c, why);
    }
    if (f->op_case != AMANAT__V1__FRAME__OP_AUTH_RESULT ||
        !f->auth_result->ok || f->auth_result->peer_id == NULL ||
        strcmp(f->auth_result->peer_id, c->who->id) != 0) {
        snprintf(why, sizeof why, "frame %d where AuthResult { ok, peer_id "
                 "\"%s\" } was due", (int)f->op_case, c->who->id);
        return conn_fail(c, why);
    }
    c->state = RB_READY;
    c->loop->hs_inflight--;
    c->loop->ready++;
    if (c->loop->ops->ready != NULL)
        c->loop->ops->ready(c, now);
    return c->loop->rc;
}

/* Every frame the channel holds; stops when c was closed meanwhile. */
static int feed_chan(rb_conn_t *c, const uint8_t *p, size_t len,
                     uint64_t now)
{
    Amanat__V1__Frame *f;
    uint8_t *body;
    size_t used, blen;
    int rc;

    for (;;) {
        if ((rc = am_chan_feed(c->chan, p, len, &used)) < 0)
            return conn_fail(c, am_err_detail());
        p += used;
        len -= used;
        if (rc == 0)
            return 0;
        if ((rc = am_chan_take(c->chan, &body, &blen)) != 0)
            return conn_fail(c, am_err_detail());
        rc = am_frame_parse(body, blen, AM_FRAME_MAX_DEFAULT, &f);
        am_free(body);
        if (rc != 0)
            return conn_fail(c, am_err_detail());
        if (c->state == RB_AUTH)
            rc = on_auth(c, f, now);
        else if (c->loop->ops->frame != NULL)
            rc = c->loop->ops->frame(c, f, now);
        am_frame_free(f);
        if (rc != 0 || c->loop->rc != 0)
            return -1;
        if (c->state == RB_CLOSED)
            return 0;
    }
}

static int feed(rb_conn_t *c, const uint8_t *p, size_t len, uint64_t now)
{
    uint8_t *msg;
    size_t used, mlen;
    int rc;

    while (c->state == RB_HS2 && len > 0) {
        if ((rc = am_framedec_feed(c->hsdec, p, len, &used)) < 0)
            return conn_fail(c, am_err_detail());
        p += used;
        len -= used;
        if (rc == 0)
            return 0;
        if (am_framedec_take(c->hsdec, &msg, &mlen) != 0)
            return conn_fail(c, am_err_detail());
        rc = on_msg2(c, msg, mlen);
        am_free(msg);
        if (rc != 0)
            return -1;
    }
    if (c->state == RB_HS2)
        return 0;
    return feed_chan(c, p, len, now);
}

static int on_readable(rb_conn_t *c, uint64_t now)
{
    rb_loop_t *l = c->loop;
    ssize_t n = read(c->fd, l->rbuf, sizeof l->rbuf);

    if (n == 0)
        return conn_fail(c, "closed by the relay");
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0
                                                 : conn_fail(c, strerror(errno));
    return feed(c, l->rbuf, (size_t)n, now);
}

static void on_event(rb_loop_t *l, const struct epoll_event *ev, uint64_t now)
{
    uint64_t ticks;
    rb_conn_t *c;

    if (ev->data.u64 == TIMER_TAG) {
        if (read(l->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
            (void)rb_loop_fail(l, "timerfd: %s", strerror(errno));
        return;
    }
    c = &l->conns[ev->data.u64 & 0xffffffffu];
    if (c->fd < 0 || c->gen != (uint32_t)(ev->data.u64 >> 32))
        return; /* closed (and maybe reopened) since */
    if (c->state == RB_CONNECTING) {
        if (on_connected(c) != 0)
            rb_conn_close(c);
        return;
    }
    if ((ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
        on_readable(c, now) != 0) {
        rb_conn_close(c);
        return;
    }
    if (c->fd >= 0 && (ev->events & EPOLLOUT) && flush(c) != 0)
        rb_conn_close(c);
}

static int open_queued(rb_loop_t *l)
{
    while (l->q_len > 0 && l->hs_inflight < l->hs_max) {
        rb_conn_t *c = &l->conns[l->queue[l->q_head]];

        l->q_head = (l->q_head + 1) % l->n;
        l->q_len--;
        if (open_conn(c) != 0) {
            rb_conn_close(c);
            return -1;
        }
    }
    return 0;
}

int rb_loop_run(rb_loop_t *l)
{
    struct epoll_event evs[EVENTS];

    while (l->rc == 0) {
        uint64_t now = rb_now();
        int n;

        if (rb_interrupted)
            return rb_loop_fail(l, "%s: interrupted", l->phase);
        if (now > l->deadline)
            return rb_loop_fail(l, "%s: not done in the time allowed (%zu of "
                                "%zu connections ready, %zu handshakes in "
                                "progress, %llu submits unanswered)",
                                l->phase, l->ready, l->n, l->hs_inflight,
                                (unsigned long long)l->outstanding);
        if (open_queued(l) != 0 ||
            (l->ops->tick != NULL && l->ops->tick(l, now) != 0))
            break;
        flush_dirty(l);
        if (l->rc == 0 && l->ops->done(l, now))
            return 0;
        if ((n = epoll_wait(l->ep, evs, EVENTS, 1)) < 0 && errno != EINTR)
            return rb_loop_fail(l, "epoll_wait: %s", strerror(errno));
        now = rb_now();
        for (int i = 0; i < n && l->rc == 0; i++)
            on_event(l, &evs[i], now);
        flush_dirty(l);
    }
    return -1;
}

static void *loop_thread(void *arg)
{
    (void)rb_loop_run(arg);
    return NULL;
}

int rb_loops_run(rb_loop_t *loops, size_t n_loops, const rb_ops_t *ops,
                 void *ctx, uint64_t deadline, const char *phase)
{
    pthread_t tid[64];
    size_t started = 0;
    int rc = 0;

    for (size_t i = 0; i < n_loops; i++) {
        loops[i].ops = ops;
        loops[i].ctx = ctx;
        loops[i].deadline = deadline;
        loops[i].phase = phase;
    }
    if (n_loops == 1) {
        (void)rb_loop_run(&loops[0]);
    } else {
        for (; started < n_loops && started < 64; started++)
            if (pthread_create(&tid[started], NULL, loop_thread,
                               &loops[started]) != 0)
                break;
        for (size_t i = 0; i < started; i++)
            (void)pthread_join(tid[i], NULL);
        if (started < n_loops) {
            fprintf(stderr, "%s: %s: pthread_create failed\n", RB_PROG, phase);
            return -1;
        }
    }
    for (size_t i = 0; i < n_loops && rc == 0; i++)
        if (loops[i].rc != 0) {
            fprintf(stderr, "%s: %s\n", RB_PROG, loops[i].err);
            rc = -1;
        }
    return rc;
}
