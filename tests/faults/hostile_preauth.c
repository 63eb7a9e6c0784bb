/* Attacks before authentication, all from one thread with blocking
 * connects and then one poll loop: connections that send nothing or
 * part of message 1 (half-open), more connections from one address than
 * --max-preauth-per-ip allows, message 1 at one byte per second
 * (slowloris), random bytes, and a handshake length of 0xFFFF.  Each
 * connection is timed from its connect to the moment the relay closed it
 * (EOF or reset); the relay is expected to close every one, the refused
 * ones at once and the rest at its handshake timeout.
 *
 * Source addresses: the half-open connections spread over 127.0.0.10 and
 * up (fewer per address than the per-address limit); the other kinds
 * each have their own address, 127.0.0.250 to .253.  None uses
 * 127.0.0.1, where honest clients connect from, so the per-address limit
 * that stops the attackers never stops them. */
#include "hostile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#define MSG1_LEN 34 /* the 2-byte length and a 32-byte ephemeral key */
#define PACE_BATCH 16 /* connects between two looks at the accept queue */

typedef struct {
    int fd;
    hx_kind_t kind;
    int64_t t_open;
    unsigned sent;
} hsock_t;

typedef struct {
    hx_preauth_t *cfg;
    hsock_t *s;
    struct pollfd *p; /* for sweep: one per connection */
    int *map;         /* p's index -> s's */
    int n, open;
    int64_t t0;
    uint8_t msg1[MSG1_LEN];
} engine_t;

int hx_connect_from(const char *src, int port, int timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct sockaddr_in b = {.sin_family = AF_INET};
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int fd, err;

    b.sin_port = htons((uint16_t)port);
    b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (inet_pton(AF_INET, src, &a.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    /* SO_SNDTIMEO bounds a blocking connect on Linux */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&b, sizeof b) != 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

void hx_pace(int port)
{
    int64_t end = hx_now_ms() + 2000;

    while (hx_accept_queue(port) > HX_QUEUE_MAX && hx_now_ms() < end)
        hx_sleep_ms(1);
}

/* EOF or an error other than "nothing yet": the peer is gone. */
static bool gone(int fd)
{
    uint8_t buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

    return n == 0 ||
           (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

bool hx_wait_closed(int fd, int ms)
{
    int64_t end = hx_now_ms() + ms, left = ms;

    do { /* ms = 0: one look */
        struct pollfd p = {fd, POLLIN, 0};

        if (poll(&p, 1, (int)left) > 0 && gone(fd))
            return true;
    } while ((left = end - hx_now_ms()) > 0);
    return false;
}

static void mark_closed(engine_t *e, hsock_t *s)
{
    hx_tally_t *t = &e->cfg->t[s->kind];
    int64_t dt = hx_now_ms() - s->t_open;

    close(s->fd);
    s->fd = -1;
    e->open--;
    if (t->closed == 0 || dt < t->min_ms)
        t->min_ms = dt;
    if (dt > t->max_ms)
        t->max_ms = dt;
    t->closed++;
    t->quick += dt < HX_QUICK_MS;
}

/* Send len bytes (or what the socket takes); a refusal means closed. */
static void put(engine_t *e, hsock_t *s, const uint8_t *p, size_t len)
{
    ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n > 0)
        s->sent += (unsigned)n;
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        mark_closed(e, s);
    if (s->sent > e->cfg->t[s->kind].max_sent)
        e->cfg->t[s->kind].max_sent = s->sent;
}

/* What each kind sends as soon as it is connected. */
static void first_bytes(engine_t *e, hsock_t *s, int i)
{
    static const uint8_t big[2] = {0xff, 0xff};
    uint8_t junk[4096];
    size_t n;

    switch (s->kind) {
    case HX_HALF:
        if (i % 2) /* every other one: part of a real message 1 */
            put(e, s, e->msg1, 2 + 16);
        break;
    case HX_SLOW:
        put(e, s, e->msg1, 1);
        break;
    case HX_RANDOM:
        n = 1 + randombytes_uniform(sizeof junk);
        randombytes_buf(junk, n);
        put(e, s, junk, n);
        break;
    case HX_HSBIG:
        put(e, s, big, sizeof big);
        break;
    default:
        break;
    }
}

static void source_of(const engine_t *e, hx_kind_t k, int i, char *buf,
                      size_t cap)
{
    static const int own[HX_KINDS] = {0, 250, 251, 252, 253};

    snprintf(buf, cap, "127.0.0.%d",
             k == HX_HALF ? 10 + i % e->cfg->half_addrs : own[k]);
}

/* Slowloris: the next byte of message 1 on each connection still open. */
static void drip(engine_t *e)
{
    for (int i = 0; i < e->n; i++) {
        hsock_t *s = &e->s[i];

        if (s->fd >= 0 && s->kind == HX_SLOW && s->sent < MSG1_LEN)
            put(e, s, e->msg1 + s->sent, 1);
    }
}

/* One look at every open connection, waiting at most ms for news. */
static void sweep(engine_t *e, int ms)
{
    int m = 0;

    for (int i = 0; i < e->n; i++)
        if (e->s[i].fd >= 0) {
            e->p[m] = (struct pollfd){e->s[i].fd, POLLIN, 0};
            e->map[m++] = i;
        }
    if (poll(e->p, (nfds_t)m, ms) > 0)
        for (int j = 0; j < m; j++)
            if (e->p[j].revents != 0 && e->s[e->map[j]].fd >= 0 &&
                gone(e->s[e->map[j]].fd))
                mark_closed(e, &e->s[e->map[j]]);
}

static void open_all(engine_t *e)
{
    static const hx_kind_t order[] = {HX_HSBIG, HX_RANDOM, HX_SLOW, HX_PERIP,
                                      HX_HALF};
    char src[32];

    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        hx_kind_t k = order[o];

        for (int i = 0; i < e->cfg->n[k]; i++) {
            hsock_t *s = &e->s[e->n];

            source_of(e, k, i, src, sizeof src);
            if ((s->fd = hx_connect_from(src, e->cfg->port, 3000)) < 0) {
                e->cfg->t[k].failed++;
                continue;
            }
            s->kind = k;
            s->t_open = hx_now_ms();
            e->n++;
            e->open++;
            e->cfg->t[k].opened++;
            first_bytes(e, s, i);
            if (e->n % PACE_BATCH == 0) {
                /* closes are timed as seen: look while opening too */
                sweep(e, 0);
                hx_pace(e->cfg->port);
            }
        }
    }
}

/* Until the relay has closed everything, or the deadline. */
static void watch(engine_t *e)
{
    int64_t next_drip = hx_now_ms() + 1000;

    while (e->open > 0 && hx_now_ms() < e->t0 + e->cfg->deadline_ms) {
        sweep(e, 100);
        if (hx_now_ms() >= next_drip) {
            drip(e);
            next_drip += 1000;
        }
    }
}

void *hx_preauth_run(void *arg)
{
    engine_t e = {.cfg = arg};
    uint8_t eph_sk[32];
    int total = 0;

    for (int k = 0; k < HX_KINDS; k++)
        total += e.cfg->n[k];
    e.t0 = hx_now_ms();
    if (e.cfg->half_addrs < 1 || e.cfg->half_addrs > 200 ||
        (e.s = calloc((size_t)total + 1, sizeof *e.s)) == NULL ||
        (e.p = calloc((size_t)total + 1, sizeof *e.p)) == NULL ||
        (e.map = calloc((size_t)total + 1, sizeof *e.map)) == NULL) {
        snprintf(e.cfg->why, sizeof e.cfg->why, "pre-auth attack: no memory "
                 "or bad spread (%d addresses)", e.cfg->half_addrs);
        goto done;
    }
    /* a real message 1: the 2-byte length 32 and an ephemeral key */
    e.msg1[0] = 0;
    e.msg1[1] = 32;
    randombytes_buf(eph_sk, sizeof eph_sk);
    if (crypto_scalarmult_base(e.msg1 + 2, eph_sk) != 0) {
        snprintf(e.cfg->why, sizeof e.cfg->why, "no ephemeral key");
        goto done;
    }
    open_all(&e);
    e.cfg->open_ms = hx_now_ms() - e.t0;
    atomic_store(&e.cfg->opened, true);
    watch(&e);
done:
    atomic_store(&e.cfg->opened, true); /* nobody waits for a failed run */
    for (int i = 0; i < e.n; i++)
        if (e.s[i].fd >= 0)
            close(e.s[i].fd);
    free(e.s);
    free(e.p);
    free(e.map);
    return NULL;
}
