/* relay_bench [options]: load on a real amanat-relay over 127.0.0.1, run
 * by hand (never by ctest).  --help lists the options.
 *
 * DESIGN.  The bench makes its own federation in a new folder under /tmp
 * (a root, the relay PK-RELAY, eight agencies: PK-NCCIA submits every
 * envelope, PH-NBI receives them, all eight take turns in the handshake
 * and idle measurements), then starts amanat-relay (--relay PATH, else
 * ../../relay/amanat-relay beside this program in the build tree) on
 * 127.0.0.1 with port 0 and reads the port it prints.  Each measurement
 * row gets a new relay process and an empty store, so no row inherits
 * another's backlog; the relay is stopped (SIGTERM, then SIGKILL) after
 * each, and killed on any exit of the bench, by a signal handler, atexit
 * and PR_SET_PDEATHSIG.
 *
 * Envelopes are sealed before any timing (1 KiB and 16 KiB serialized,
 * each with its own message id) and encoded once as their Submit frames.
 * Clients are non-blocking sockets in epoll loops, --threads loops (one
 * per thread, default 1): on a 2-core machine the relay (event loop,
 * store thread, libuv pool) and the bench share the two cores, which
 * every row's CPU columns show (relay: all its threads, in % of one core;
 * r.top: its busiest thread; bench: this process; other: every other
 * process, which skews the row when it is not near 0).  A Submit counts
 * as acknowledged only when a SubmitResult arrives whose accepted
 * evidence names exactly that envelope (kind, message id, BLAKE2b-256
 * hash; with --verify-evidence also the relay's Ed25519 signature); any
 * Error frame is counted and its text printed.  Submitting rows run
 * --warmup seconds before their measured window.  Latencies are kept one
 * by one and sorted: percentiles are exact (nearest rank), in ms.
 *
 * The measurements (--only picks some): throughput and latency
 * (relay_bench_load.c), drain (same file), handshakes and idle
 * (relay_bench_conns.c).  Every wait has a deadline; a failure is
 * reported with the relay's last log lines and the next measurement
 * still runs; the exit status is then 1.  Times never fail the program.
 */
#include "relay_bench.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

static const char usage[] =
    "usage: relay_bench [--relay PATH] [--quick] [--seconds S] [--warmup W]\n"
    "                   [--only throughput,latency,drain,handshakes,idle]\n"
    "                   [--clients 1,16,64,256] [--window W] [--threads T]\n"
    "                   [--rate R] [--latency-clients N] [--backlog N]\n"
    "                   [--hs-concurrency N] [--idle-conns N] [--pool N]\n"
    "                   [--verify-evidence] [--keep]\n"
    "\n"
    "  --relay PATH        amanat-relay (default: ../../relay/amanat-relay\n"
    "                      beside this program)\n"
    "  --quick             1 s per measurement, a backlog of 10000\n"
    "  --seconds S         per measurement (default 5)\n"
    "  --warmup W          submitting before a window is measured (1 s)\n"
    "  --window W          Submits in flight per client, closed loop (16)\n"
    "  --threads T         event-loop threads of the bench (1)\n"
    "  --rate R            open-loop Submits per second, all clients (5000)\n"
    "  --latency-clients N clients of the open loop and the backlog (16)\n"
    "  --backlog N         envelopes drained to one recipient (50000)\n"
    "  --hs-concurrency N  handshakes in progress at once (32, at most 60)\n"
    "  --idle-conns N      idle authenticated connections (10000)\n"
    "  --pool N            envelopes pre-sealed per size (default from S)\n"
    "  --verify-evidence   check the relay's signature on every evidence\n"
    "  --keep              keep the temporary folder (keys, relay logs)\n";

static int bad(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "%s: %s \"%s\": want %s\n", RB_PROG, opt, val, want);
    return -1;
}

static int parse_size(const char *opt, const char *val, size_t min,
                      size_t max, size_t *out)
{
    unsigned long long v;
    char *end;

    errno = 0;
    v = strtoull(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0' || val[0] == '-' ||
        v < min || v > max) {
        char want[64];

        snprintf(want, sizeof want, "a whole number in [%zu, %zu]", min, max);
        return bad(opt, val, want);
    }
    *out = (size_t)v;
    return 0;
}

static int parse_real(const char *opt, const char *val, double min,
                      double max, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(val, &end);
    if (errno != 0 || end == val || *end != '\0' || !isfinite(*out) ||
        *out < min || *out > max) {
        char want[64];

        snprintf(want, sizeof want, "a number in [%g, %g]", min, max);
        return bad(opt, val, want);
    }
    return 0;
}

static int parse_clients(const char *val, rb_opts_t *o)
{
    char buf[128], *save = NULL, *tok;

    snprintf(buf, sizeof buf, "%s", val);
    o->n_clients = 0;
    for (tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (o->n_clients == sizeof o->clients / sizeof o->clients[0])
            return bad("--clients", val, "at most 8 counts");
        if (parse_size("--clients", tok, 1, 5000,
                       &o->clients[o->n_clients++]) != 0)
            return -1;
    }
    return o->n_clients > 0 ? 0 : bad("--clients", val, "a list: 1,16,64");
}

static int parse_only(const char *val, rb_opts_t *o)
{
    static const char *const names[] = {"throughput", "latency", "drain",
                                        "handshakes", "idle"};
    char buf[128], *save = NULL, *tok;

    snprintf(buf, sizeof buf, "%s", val);
    o->only = 0;
    for (tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        size_t i = 0;

        while (i < 5 && strcmp(tok, names[i]) != 0)
            i++;
        if (i == 5)
            return bad("--only", tok, "throughput, latency, drain, "
                       "handshakes or idle, separated by commas");
        o->only |= 1u << i;
    }
    return o->only ? 0 : bad("--only", val, "at least one measurement");
}

/* One option with a value; 1 when opt is not one of them. */
static int parse_valued(const char *opt, const char *val, rb_opts_t *o,
                        const char **relay, bool *seconds_set,
                        bool *backlog_set)
{
    size_t v = 0;
    int rc = 1;

    if (strcmp(opt, "--relay") == 0) {
        *relay = val;
        rc = 0;
    } else if (strcmp(opt, "--seconds") == 0) {
        *seconds_set = true;
        rc = parse_real(opt, val, 0.1, 3600, &o->seconds);
    } else if (strcmp(opt, "--warmup") == 0) {
        rc = parse_real(opt, val, 0, 60, &o->warmup);
    } else if (strcmp(opt, "--rate") == 0) {
        rc = parse_real(opt, val, 1, 1e6, &o->rate);
    } else if (strcmp(opt, "--only") == 0) {
        rc = parse_only(val, o);
    } else if (strcmp(opt, "--clients") == 0) {
        rc = parse_clients(val, o);
    } else if (strcmp(opt, "--window") == 0) {
        rc = parse_size(opt, val, 1, 1024, &v);
        o->window = (unsigned)v;
    } else if (strcmp(opt, "--threads") == 0) {
        rc = parse_size(opt, val, 1, 16, &v);
        o->threads = (unsigned)v;
    } else if (strcmp(opt, "--latency-clients") == 0) {
        rc = parse_size(opt, val, 1, 1024, &o->lat_clients);
    } else if (strcmp(opt, "--backlog") == 0) {
        *backlog_set = true;
        rc = parse_size(opt, val, 1, 10000000, &o->backlog);
    } else if (strcmp(opt, "--hs-concurrency") == 0) {
        rc = parse_size(opt, val, 1, 60, &o->hs_conc);
    } else if (strcmp(opt, "--idle-conns") == 0) {
        rc = parse_size(opt, val, 1, 1000000, &o->idle_conns);
    } else if (strcmp(opt, "--pool") == 0) {
        rc = parse_size(opt, val, 1000, 20000000, &o->pool);
    }
    return rc;
}

static int parse_args(int argc, char **argv, rb_opts_t *o, const char **relay)
{
    bool seconds_set = false, backlog_set = false;

    *o = (rb_opts_t){.seconds = 5, .warmup = 1, .only = 0x1f, .window = 16, .threads = 1,
                     .clients = {1, 16, 64, 256}, .n_clients = 4,
                     .rate = 5000, .lat_clients = 16, .backlog = 50000,
                     .hs_conc = 32, .idle_conns = 10000};
    for (int a = 1; a < argc; a++) {
        int rc;

        if (strcmp(argv[a], "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(argv[a], "--verify-evidence") == 0) {
            o->verify = true;
        } else if (strcmp(argv[a], "--keep") == 0) {
            o->keep = true;
        } else if (strcmp(argv[a], "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (a + 1 < argc &&
                   (rc = parse_valued(argv[a], argv[a + 1], o, relay,
                                      &seconds_set, &backlog_set)) <= 0) {
            if (rc < 0)
                return -1;
            a++;
        } else {
            fputs(usage, stderr);
            return -1;
        }
    }
    if (o->quick && !seconds_set)
        o->seconds = 1;
    if (o->quick && !backlog_set)
        o->backlog = 10000;
    return 0;
}

static void header(rb_env_t *e)
{
    const rb_opts_t *o = e->o;
    double fsync_us = rb_fsync_probe(e->fed->dir);

    rb_relay_describe(e->fed, 0);
    printf("relay_bench: amanat-relay under load over 127.0.0.1 (%s, "
           "libsodium %s)\n", o->quick ? "--quick" : "full run",
           sodium_version_string());
    printf("relay: %s\n", e->fed->relay_bin);
    printf("flags: %s\n", e->fed->flags);
    printf("       (a new relay and an empty store for every row; idle adds "
           "--max-conns N+64%s)\n", e->fed->has_max_conns ? ""
           : ", which this relay does not know");
    printf("DIR:   %s\n", e->fed->dir);
    bench_print_host_note(o->seconds, "the relay (event loop, store thread, "
                          "libuv pool) "
                          "and this bench share them");
    if (fsync_us >= 0)
        printf("disk:  4 KiB write + fdatasync in DIR: %.0f us (median of "
               "21); the store commits each group with one fsync\n",
               fsync_us);
    printf("bench: %u event-loop thread(s); window %u; %s\n", o->threads,
           o->window, o->verify ? "evidence signatures verified"
           : "evidence checked (kind, message id, hash), signatures not "
             "verified");
    printf("columns: relay = CPU of all relay threads, r.top = its busiest "
           "thread, bench = this process,\n         other = every other "
           "process of the machine (%% of one core each)\n");
    fflush(stdout);
}

static int make_pools(rb_env_t *e, rb_pool_t *p1, rb_pool_t *p16)
{
    const rb_opts_t *o = e->o;
    unsigned cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    size_t headroom = (size_t)o->window * 256 + 1000;
    size_t n1 = (size_t)(30000 * (o->seconds + o->warmup)) + headroom;
    size_t n16 = (size_t)(8000 * (o->seconds + o->warmup)) + headroom;

    n1 = n1 > o->backlog ? n1 : o->backlog;
    if (o->pool) {
        n1 = o->pool > o->backlog ? o->pool : o->backlog;
        n16 = o->pool;
    }
    cores = cores < 1 ? 1 : cores;
    if ((o->only & (RB_M_THROUGHPUT | RB_M_LATENCY | RB_M_DRAIN)) &&
        rb_pool_make(p1, e->fed, n1, RB_KIB, cores) != 0)
        return -1;
    if ((o->only & RB_M_THROUGHPUT) &&
        rb_pool_make(p16, e->fed, n16, 16 * RB_KIB, cores) != 0)
        return -1;
    return 0;
}

static void target(const char *what, double v, const char *unit,
                   const char *goal, bool met)
{
    if (v < 0)
        printf("  %-44s %12s          %s\n", what, "not measured", goal);
    else
        printf("  %-44s %12.3f %-8s %s (%s)\n", what, v, unit, goal,
               met ? "met" : "not met");
}

static void summary(const rb_env_t *e)
{
    const rb_results_t *r = &e->res;
    char what[80];

    printf("\n== against the issue's targets (stated for a 2-core "
           "machine) ==\n");
    target("durable acks/s, 1 KiB envelopes, 64 clients", r->acks_1k_64,
           "/s", ">= 11000", r->acks_1k_64 >= 11000);
    target("submit -> ack p50, one client, one in flight", r->p50_one, "ms",
           "<= 1 ms", r->p50_one <= 1);
    snprintf(what, sizeof what, "submit -> ack p99 at %.0f submits/s",
             e->o->rate);
    target(what, r->p99_open, "ms", "<= 20 ms at 5000/s", r->p99_open <= 20);
    target("drain to one recipient, 1 KiB envelopes", r->drain, "/s",
           ">= 60000", r->drain >= 60000);
    target("handshakes/s", r->handshakes, "/s", ">= 5000",
           r->handshakes >= 5000);
    snprintf(what, sizeof what, "relay RSS, %zu idle connections",
             r->idle_n ? r->idle_n : e->o->idle_conns);
    target(what, r->idle_mib < 0 ? -1 : r->idle_mib * 1.048576, "MB",
           "<= 100 MB with 10000", r->idle_mib * 1.048576 <= 100);
    if (rb_cpu_other_max() > 25)
        printf("warning: other processes used up to %.0f%% of a core during "
               "a measurement (column \"other\"): those rows understate "
               "the relay; run again on an idle machine\n",
               rb_cpu_other_max());
}

static int run_all(rb_env_t *e)
{
    typedef int (*measure_cb)(rb_env_t *);
    static const measure_cb measures[] = {rb_throughput, rb_latency,
                                          rb_drain, rb_handshakes, rb_idle};
    int rc = 0;

    for (size_t i = 0; i < 5 && !rb_interrupted; i++)
        if ((e->o->only & (1u << i)) && measures[i](e) != 0)
            rc = -1;
    if (rb_interrupted) {
        fprintf(stderr, "%s: interrupted\n", RB_PROG);
        rc = -1;
    }
    summary(e);
    return rc;
}

int main(int argc, char **argv)
{
    static rb_fed_t fed;
    static rb_pool_t p1, p16;
    rb_opts_t o;
    rb_env_t e = {&o, &fed, &p1, &p16, {-1, -1, -1, -1, -1, -1, 0}};
    const char *relay = NULL;
    char relay_buf[PATH_MAX + 32];
    int rc = -1;

    if (parse_args(argc, argv, &o, &relay) != 0)
        return 2;
    /* lines in order with stderr's, even into a file or a pipe */
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
        return 1;
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: sodium_init failed\n", RB_PROG);
        return 1;
    }
    rb_install_guards();
    if (relay == NULL)
        relay = rb_default_relay(relay_buf, sizeof relay_buf);
    if (rb_fed_create(&fed, relay) == 0) {
        header(&e);
        if (make_pools(&e, &p1, &p16) == 0)
            rc = run_all(&e);
    }
    rb_pool_free(&p1);
    rb_pool_free(&p16);
    rb_fed_destroy(&fed, o.keep);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}
