/* relay_bench: connections without envelopes.
 *
 *   handshakes  --hs-concurrency clients, the agencies in turn, each
 *               connecting, running Noise XX, sending Hello, reading
 *               AuthResult, closing and starting again, for --seconds;
 *               a handshake counts when its AuthResult arrives.  Fewer
 *               than the relay's 64 handshakes per address are in
 *               progress at once, or it would refuse some.
 *   idle        --idle-conns authenticated connections held open; then the
 *               relay's VmRSS (and VmHWM) from /proc/PID/status, against
 *               its RSS before the first connection; then every
 *               connection sends a Ping and must get its Pong, which
 *               proves they were all still served.
 */
#include "relay_bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct {
    uint64_t t0, t_end;
} hs_t;

static void hs_ready(rb_conn_t *c, uint64_t now)
{
    rb_loop_t *l = c->loop;
    hs_t *h = l->ctx;

    if (now <= h->t_end) {
        l->acks++;
        if (rb_lat_add(&l->lat, now - c->t_open) != 0)
            (void)rb_loop_fail(l, "out of memory for latencies");
    }
    rb_conn_close(c);
    if (now < h->t_end)
        rb_loop_queue(l, c->idx, c->who, false);
}

static int hs_frame(rb_conn_t *c, const Amanat__V1__Frame *f, uint64_t now)
{
    (void)now;
    return rb_loop_fail(c->loop, "handshakes: frame %d after AuthResult",
                        (int)f->op_case);
}

static bool hs_done(rb_loop_t *l, uint64_t now)
{
    hs_t *h = l->ctx;

    return now >= h->t_end && l->live == 0;
}

static const rb_ops_t hs_ops = {hs_ready, hs_frame, NULL, hs_done};

static int hs_run(rb_env_t *e, rb_loop_t *loops, size_t n_loops, size_t n)
{
    hs_t h;
    rb_cpu_t a, b;
    rb_lat_t lat = {0};
    uint64_t acks, dummy, errors;
    rb_cpu_use_t u;
    double rate;
    size_t given = 0;
    int rc;

    for (size_t k = 0; k < n_loops; k++) {
        size_t m = n / n_loops + (k < n % n_loops);

        if (rb_loop_init(&loops[k], e->fed, e->fed->port, m) != 0) {
            fprintf(stderr, "%s: %s\n", RB_PROG, loops[k].err);
            return -1;
        }
        loops[k].hs_max = m;
        for (size_t i = 0; i < m; i++, given++)
            rb_loop_queue(&loops[k], i,
                          &e->fed->agencies[given % RB_N_AGENCIES], false);
    }
    rb_cpu_snap(e->fed->pid, &a);
    h.t0 = rb_now();
    h.t_end = h.t0 + (uint64_t)(e->o->seconds * 1e9);
    rc = rb_loops_run(loops, n_loops, &hs_ops, &h, h.t_end + 15 * RB_NS,
                      "handshakes");
    rb_cpu_snap(e->fed->pid, &b);
    rb_cpu_delta(&a, &b, &u);
    if (rc == 0 &&
        (rc = rb_loops_merge(loops, n_loops, &lat, &acks, &dummy, &errors)) ==
            0) {
        rate = (double)acks / e->o->seconds;
        printf("%-22s %9.0f %8.3f %8.3f %8.3f %5.0f%% %5.0f%% %5.0f%% "
               "%5.0f%%\n", "handshakes", rate, rb_lat_ms(&lat, 0.5),
               rb_lat_ms(&lat, 0.99), rb_lat_ms(&lat, 0.999), u.relay, u.top,
               u.self, u.other);
        e->res.handshakes = rate;
    }
    rb_lat_free(&lat);
    return rc;
}

int rb_handshakes(rb_env_t *e)
{
    size_t n = e->o->hs_conc;
    size_t n_loops = e->o->threads < n ? e->o->threads : n;
    rb_loop_t *loops = calloc(n_loops, sizeof *loops);
    int rc = -1;

    printf("\n== handshakes: %zu clients at once connect, run Noise XX, "
           "Hello, AuthResult, close, again, for %.1f s ==\n", n,
           e->o->seconds);
    printf("%-22s %9s %8s %8s %8s %6s %6s %6s %6s\n", "", "per s",
           "p50 ms", "p99 ms", "p99.9 ms", "relay", "r.top", "bench",
           "other");
    if (loops == NULL) {
        fprintf(stderr, "%s: out of memory\n", RB_PROG);
        return -1;
    }
    if (rb_relay_start(e->fed, 0) == 0 && hs_run(e, loops, n_loops, n) == 0 &&
        rb_relay_check(e->fed) == 0)
        rc = 0;
    if (rc != 0 && e->fed->pid > 0 && rb_relay_settle(e->fed) == 0) {
        fprintf(stderr, "%s: the relay still runs; its log ends:\n", RB_PROG);
        rb_relay_log_tail(e->fed, 6);
    }
    rb_loops_free(loops, n_loops);
    if (rb_relay_stop(e->fed) != 0)
        rc = -1;
    fflush(stdout);
    return rc;
}

/* ---- idle ---- */

/* Room for n sockets here and in the relay (which inherits the limit);
 * *n shrinks when the hard limit is lower. */
static int raise_nofile(size_t *n)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)*n + 128;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "%s: getrlimit: %s\n", RB_PROG, strerror(errno));
        return -1;
    }
    if (rl.rlim_cur >= want)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        if (rl.rlim_max < 256) {
            fprintf(stderr, "%s: RLIMIT_NOFILE hard limit %llu: too low\n",
                    RB_PROG, (unsigned long long)rl.rlim_max);
            return -1;
        }
        *n = (size_t)rl.rlim_max - 128;
        printf("RLIMIT_NOFILE hard limit is %llu: %zu connections only\n",
               (unsigned long long)rl.rlim_max, *n);
        want = rl.rlim_max;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "%s: setrlimit(RLIMIT_NOFILE, %llu): %s\n", RB_PROG,
                (unsigned long long)want, strerror(errno));
        return -1;
    }
    return 0;
}

static void ping_ready(rb_conn_t *c, uint64_t now)
{
    (void)c;
    (void)now;
}

static int ping_frame(rb_conn_t *c, const Amanat__V1__Frame *f, uint64_t now)
{
    (void)now;
    if (f->op_case != AMANAT__V1__FRAME__OP_PONG ||
        f->pong->nonce != (uint64_t)c->idx + 1)
        return rb_loop_fail(c->loop, "idle: frame %d where a Pong was due",
                            (int)f->op_case);
    c->pongs++;
    c->loop->acks++;
    return 0;
}

static int ping_tick(rb_loop_t *l, uint64_t now)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;

    (void)now;
    if (l->primed)
        return 0;
    l->primed = true;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &p;
    for (size_t i = 0; i < l->n; i++) {
        p.nonce = (uint64_t)i + 1;
        if (rb_conn_send(&l->conns[i], &f) != 0)
            return -1;
    }
    return 0;
}

static bool ping_done(rb_loop_t *l, uint64_t now)
{
    (void)now;
    return l->primed && l->acks == l->n;
}

static const rb_ops_t ping_ops = {ping_ready, ping_frame, ping_tick,
                                  ping_done};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !rb_interrupted)
        ;
}

static int idle_measure(rb_env_t *e, rb_loop_t *loops, size_t n_loops,
                        size_t n)
{
    uint64_t rss0, hwm0, rss1, hwm1, rss2, hwm2, t0, t1, t2;

    if (rb_relay_mem(e->fed, &rss0, &hwm0) != 0)
        return -1;
    t0 = rb_now();
    if (rb_connect_all(e, loops, n_loops, n, NULL, false,
                       RB_HS_MAX_DEFAULT) != 0)
        return -1;
    t1 = rb_now();
    printf("opened %zu authenticated connections in %.2f s (%.0f/s, at most "
           "%d handshakes at once)\n", n, (double)(t1 - t0) / 1e9,
           (double)n / ((double)(t1 - t0) / 1e9), RB_HS_MAX_DEFAULT);
    pause_ms(1000); /* let the relay settle */
    if (rb_relay_check(e->fed) != 0 || rb_relay_mem(e->fed, &rss1, &hwm1))
        return -1;
    t1 = rb_now();
    if (rb_loops_run(loops, n_loops, &ping_ops, NULL,
                     t1 + 30 * RB_NS, "idle pings") != 0 ||
        rb_relay_mem(e->fed, &rss2, &hwm2) != 0)
        return -1;
    t2 = rb_now();
    printf("relay RSS: %.1f MiB before any connection; %.1f MiB with %zu "
           "idle authenticated connections (%.1f KiB each); peak (VmHWM) "
           "%.1f MiB\n", (double)rss0 / 1024, (double)rss1 / 1024, n,
           (double)(rss1 - (rss1 > rss0 ? rss0 : rss1)) / (double)n,
           (double)hwm1 / 1024);
    printf("all %zu answered a Ping within %.0f ms; relay RSS after: %.1f "
           "MiB (peak %.1f MiB)\n", n, (double)(t2 - t1) / 1e6,
           (double)rss2 / 1024, (double)hwm2 / 1024);
    e->res.idle_mib = (double)rss1 / 1024;
    e->res.idle_n = n;
    return 0;
}

int rb_idle(rb_env_t *e)
{
    size_t n = e->o->idle_conns, n_loops;
    rb_loop_t *loops = NULL;
    int rc = -1;

    printf("\n== idle: authenticated connections held open, relay memory "
           "==\n");
    if (raise_nofile(&n) != 0)
        return -1;
    if (!e->fed->has_max_conns && n > 10000) {
        printf("this relay has no --max-conns and accepts 10000 "
               "connections: 10000 only\n");
        n = 10000;
    }
    n_loops = e->o->threads < n ? e->o->threads : n;
    if ((loops = calloc(n_loops, sizeof *loops)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", RB_PROG);
        return -1;
    }
    if (rb_relay_start(e->fed, n + 64) == 0 &&
        idle_measure(e, loops, n_loops, n) == 0 &&
        rb_relay_check(e->fed) == 0)
        rc = 0;
    if (rc != 0 && e->fed->pid > 0 && rb_relay_settle(e->fed) == 0) {
        fprintf(stderr, "%s: the relay still runs; its log ends:\n", RB_PROG);
        rb_relay_log_tail(e->fed, 6);
    }
    rb_loops_free(loops, n_loops);
    if (rb_relay_stop(e->fed) != 0)
        rc = -1;
    fflush(stdout);
    return rc;
}
