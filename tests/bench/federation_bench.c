/* federation_bench [options]: forwarding between two real amanat-relays
 * linked over 127.0.0.1, run by hand (never by ctest).  --help lists the
 * options.
 *
 * DESIGN.  The bench makes its own federation in a new folder under /tmp
 * with relay_bench's files (relay_bench_fed.c): a root, two relays,
 * PK-RELAY (relay A) and DE-RELAY (relay B, its files in the sub-folder
 * DE-RELAY), and eight agencies homed at one or the other (the home_relay
 * of their certificates).  PK-NCCIA, homed at A, submits every envelope;
 * DE-BKA, homed at B, receives them.  Every relay's certs/ folder holds
 * every agency's certificate, so A accepts envelopes for DE-BKA from the
 * start, without waiting for B's DirectoryUpdate.  Each measurement starts
 * a new pair of relays (amanat-relay from --relay PATH, else
 * ../../relay/amanat-relay beside this program) with empty stores: two
 * free ports are chosen first (bound to port 0, read, closed), then A is
 * started with --port PA --peer DE-RELAY@127.0.0.1:PB and B with --port
 * PB --peer PK-RELAY@127.0.0.1:PA (again on other ports if one was taken
 * meanwhile), and the bench waits until both have logged "link ready":
 * each relay pulls from the other what is stored there for its own
 * agencies (relay/link.h), so an envelope PK-NCCIA submits to A goes to B
 * over B's link to A, and B delivers it to DE-BKA.  The relays' output
 * goes to files beside their stores; they are stopped (SIGTERM, then
 * SIGKILL) after each measurement and killed on any exit of the bench: by
 * a signal handler, atexit and PR_SET_PDEATHSIG.
 *
 * Envelopes (--size, 1 KiB) are sealed from PK-NCCIA to DE-BKA before any
 * timing and encoded once as their Submit frames (relay_bench_pool.c).
 * One thread runs both clients in one epoll loop (relay_bench_net.c): the
 * sender connected to A, the recipient connected to B with
 * Hello.receive, which answers every Deliver with a DeliveryAck.  An
 * envelope is counted accepted only when A's SubmitResult carries accepted
 * evidence naming exactly it (kind, message id, BLAKE2b-256 hash; with
 * --verify-evidence also A's signature), and delivered only when B's
 * Deliver carries those bytes with B's accepted evidence for them (B's
 * signature checked with --verify-evidence).  Any Error frame, any frame
 * no client expects, or a relay that dies fails the measurement.
 *
 *   latency     one envelope in flight: the next Submit is written as
 *               soon as the last one's SubmitResult and Deliver have both
 *               been read; --warmup envelopes first, not counted, then
 *               --envelopes measured: Submit written -> Deliver read at
 *               the recipient (end to end), Submit -> SubmitResult at A,
 *               and SubmitResult -> Deliver (what forwarding adds).
 *   throughput  --stream envelopes submitted to A as fast as --window
 *               Submits in flight allow, while the recipient takes them
 *               from B: envelopes/s delivered end to end (from the first
 *               Submit to the last new Deliver), SubmitResults/s at A, and
 *               the latency of each envelope under that load.
 *
 * Latencies are kept one by one and sorted: percentiles are exact
 * (nearest rank), in ms.  The two relays and this bench share the
 * machine's cores; the cpu line of each measurement says how much each
 * used.  Every wait has a deadline; a failure is reported with the relays'
 * last log lines, the next measurement still runs, and the exit status is
 * then 1.  Times never fail the program.
 */
#include "federation_bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"

static const char usage[] =
    "usage: federation_bench [--relay PATH] [--envelopes N] [--warmup N]\n"
    "                        [--stream M] [--window W] [--size BYTES]\n"
    "                        [--only latency,throughput] [--verify-evidence]\n"
    "                        [--keep]\n"
    "\n"
    "  --relay PATH       amanat-relay (default: ../../relay/amanat-relay\n"
    "                     beside this program)\n"
    "  --envelopes N      latency: envelopes measured, one in flight (1000)\n"
    "  --warmup N         latency: envelopes sent before them, not counted\n"
    "                     (20)\n"
    "  --stream M         throughput: envelopes submitted (20000)\n"
    "  --window W         throughput: Submits in flight at relay A (16)\n"
    "  --size BYTES       serialized envelope (1024)\n"
    "  --only LIST        latency, throughput or both (default both)\n"
    "  --verify-evidence  check both relays' signatures on every evidence\n"
    "  --keep             keep the temporary folder (keys, relay logs)\n";

/* PK-NCCIA (sender) and DE-BKA (recipient) first: RB_SENDER and
 * RB_RECIPIENT; the others, unused, are homed at one relay or the other. */
static const rb_layout_t layout = {
    "amanat-federation-bench", 2, {"PK-RELAY", "DE-RELAY"},
    {"PK-NCCIA", "DE-BKA", "PH-NBI", "FR-OFMIN",
     "NL-NHTCU", "GB-NCA", "BR-PF", "KE-DCI"},
    {FB_A, FB_B, FB_A, FB_B, FB_B, FB_A, FB_A, FB_B},
};

static int parse_size(const char *opt, const char *val, size_t min,
                      size_t max, size_t *out)
{
    unsigned long long v;
    char *end;

    errno = 0;
    v = strtoull(val, &end, 10);
    if (errno != 0 || end == val || *end != '\0' || val[0] == '-' ||
        v < min || v > max) {
        fprintf(stderr, "%s: %s \"%s\": want a whole number in [%zu, %zu]\n",
                RB_PROG, opt, val, min, max);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int parse_only(const char *val, fb_opts_t *o)
{
    char buf[64], *save = NULL, *tok;

    snprintf(buf, sizeof buf, "%s", val);
    o->only = 0;
    for (tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "latency") == 0) {
            o->only |= FB_M_LATENCY;
        } else if (strcmp(tok, "throughput") == 0) {
            o->only |= FB_M_THROUGHPUT;
        } else {
            fprintf(stderr, "%s: --only \"%s\": want latency, throughput "
                    "or both, separated by a comma\n", RB_PROG, tok);
            return -1;
        }
    }
    return o->only ? 0 : parse_only("?", o);
}

/* One option with a value; 1 when opt is not one of them. */
static int parse_valued(const char *opt, const char *val, fb_opts_t *o,
                        const char **relay)
{
    size_t v = 0;
    int rc = 1;

    if (strcmp(opt, "--relay") == 0) {
        *relay = val;
        rc = 0;
    } else if (strcmp(opt, "--envelopes") == 0) {
        rc = parse_size(opt, val, 1, 1000000, &o->n);
    } else if (strcmp(opt, "--warmup") == 0) {
        rc = parse_size(opt, val, 0, 100000, &o->warmup);
    } else if (strcmp(opt, "--stream") == 0) {
        rc = parse_size(opt, val, 1, 5000000, &o->stream);
    } else if (strcmp(opt, "--window") == 0) {
        rc = parse_size(opt, val, 1, 1024, &v);
        o->window = (unsigned)v;
    } else if (strcmp(opt, "--size") == 0) {
        rc = parse_size(opt, val, 600, 262144, &o->size);
    } else if (strcmp(opt, "--only") == 0) {
        rc = parse_only(val, o);
    }
    return rc;
}

static int parse_args(int argc, char **argv, fb_opts_t *o, const char **relay)
{
    *o = (fb_opts_t){.n = 1000, .warmup = 20, .stream = 20000,
                     .size = RB_KIB, .window = 16,
                     .only = FB_M_LATENCY | FB_M_THROUGHPUT};
    for (int a = 1; a < argc; a++) {
        int rc;

        if (strcmp(argv[a], "--verify-evidence") == 0) {
            o->verify = true;
        } else if (strcmp(argv[a], "--keep") == 0) {
            o->keep = true;
        } else if (strcmp(argv[a], "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (a + 1 < argc &&
                   (rc = parse_valued(argv[a], argv[a + 1], o, relay)) <= 0) {
            if (rc < 0)
                return -1;
            a++;
        } else {
            fputs(usage, stderr);
            return -1;
        }
    }
    return 0;
}

/* ---- the pair of relays ---- */

/* Two distinct free ports: bound to port 0 together, read, closed. */
static int pick_ports(int ports[2])
{
    int fds[2] = {-1, -1}, rc = 0;

    for (size_t i = 0; i < 2 && rc == 0; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        socklen_t len = sizeof a;

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if ((fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
            bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) != 0) {
            fprintf(stderr, "%s: a free port: %s\n", RB_PROG,
                    strerror(errno));
            rc = -1;
        }
        ports[i] = ntohs(a.sin_port);
    }
    for (size_t i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

static void set_ports(rb_fed_t *fed, int port, const rb_fed_t *peer,
                      int peer_port)
{
    fed->listen_port = port;
    fed->n_extra = 2;
    snprintf(fed->extra[0], sizeof fed->extra[0], "--peer");
    snprintf(fed->extra[1], sizeof fed->extra[1], "%s@127.0.0.1:%d",
             peer->relay.id, peer_port);
}

/* Until both logs say "link ready", at most 30 s. */
static int wait_links(fb_env_t *e, uint64_t t_start)
{
    uint64_t end = rb_now() + 30 * RB_NS;
    bool ready[2] = {false, false};

    while (!rb_interrupted && rb_now() < end) {
        struct timespec ts = {0, 5000000};

        for (size_t i = 0; i < 2; i++) {
            if (rb_relay_check(&e->feds[i]) != 0)
                return -1;
            ready[i] = ready[i] || rb_relay_log_has(&e->feds[i],
                                                    "link ready");
        }
        if (ready[0] && ready[1]) {
            printf("relays started, both links ready after %.2f s\n",
                   (double)(rb_now() - t_start) / 1e9);
            return 0;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "%s: %s\n", RB_PROG, rb_interrupted ? "interrupted"
            : "the relays did not both log \"link ready\" within 30 s");
    fb_explain(e);
    return -1;
}

int fb_pair_start(fb_env_t *e)
{
    rb_fed_t *a = &e->feds[FB_A], *b = &e->feds[FB_B];

    for (int attempt = 0; attempt < 5 && !rb_interrupted; attempt++) {
        uint64_t t0 = rb_now();
        int ports[2], rc;

        if (pick_ports(ports) != 0)
            return -1;
        set_ports(a, ports[0], b, ports[1]);
        set_ports(b, ports[1], a, ports[0]);
        if ((rc = rb_relay_start(a, 0)) == 0 &&
            (rc = rb_relay_start(b, 0)) == -2 && rb_relay_stop(a) != 0)
            return -1;
        if (rc == 0)
            return wait_links(e, t0);
        if (rc != -2) {
            (void)fb_pair_stop(e);
            return -1;
        }
        printf("(a port was taken before a relay could listen on it: "
               "again with other ports)\n");
    }
    fprintf(stderr, "%s: %s\n", RB_PROG, rb_interrupted ? "interrupted"
            : "ports were taken five times in a row");
    return -1;
}

int fb_pair_stop(fb_env_t *e)
{
    int rc = 0;

    for (size_t i = 2; i-- > 0;)
        if (rb_relay_stop(&e->feds[i]) != 0)
            rc = -1;
    return rc;
}

void fb_explain(fb_env_t *e)
{
    for (size_t i = 0; i < 2; i++) {
        rb_fed_t *fed = &e->feds[i];

        /* a relay that is dying closes its sockets before it ends */
        if (fed->pid > 0 && rb_relay_settle(fed) == 0) {
            fprintf(stderr, "%s: the relay %s still runs; its log, %s, "
                    "ends:\n", RB_PROG, fed->relay.id, fed->log);
            rb_relay_log_tail(fed, 12);
        }
    }
}

/* ---- the report ---- */

/* fed's command line with the ports written as names: "--port PA". */
static void describe(rb_fed_t *fed, const rb_fed_t *peer, const char *port,
                     const char *peer_port)
{
    char flags[sizeof fed->flags], *p;

    set_ports(fed, 0, peer, 0);
    snprintf(fed->extra[1], sizeof fed->extra[1], "%s@127.0.0.1:%s",
             peer->relay.id, peer_port);
    rb_relay_describe(fed, 0);
    if ((p = strstr(fed->flags, "--port 0")) == NULL)
        return;
    memcpy(flags, fed->flags, sizeof flags);
    snprintf(fed->flags, sizeof fed->flags, "%.*s--port %s%s",
             (int)(p - fed->flags), flags, port,
             flags + (p - fed->flags) + strlen("--port 0"));
}

static void header(fb_env_t *e)
{
    const fb_opts_t *o = e->o;
    rb_fed_t *a = &e->feds[FB_A], *b = &e->feds[FB_B];
    double fsync_us = rb_fsync_probe(a->dir);
    char model[256];

    describe(a, b, "PA", "PB");
    describe(b, a, "PB", "PA");
    bench_cpu_model(model, sizeof model);
    printf("federation_bench: forwarding between two amanat-relays linked "
           "over 127.0.0.1 (libsodium %s)\n", sodium_version_string());
    printf("relay:  %s\n", a->relay_bin);
    printf("A:      %s, home of %s (sender); flags: %s\n", a->relay.id,
           a->agencies[RB_SENDER].id, a->flags);
    printf("B:      %s, home of %s (recipient); flags: %s\n", b->relay.id,
           b->agencies[RB_RECIPIENT].id, b->flags);
    printf("        (PA, PB: free ports chosen for each measurement, which "
           "gets a new pair of relays with empty stores)\n");
    printf("DIR:    %s (B's $DIR: DIR/%s)\n", a->dir, b->relay.id);
    printf("cpu:    %s\n", model);
    printf("cores:  %ld online (logical); both relays (event loop, store "
           "thread, libuv pool each) and this bench share them\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    if (fsync_us >= 0)
        printf("disk:   4 KiB write + fdatasync in DIR: %.0f us (median of "
               "21); each relay commits a group with one fsync\n", fsync_us);
    printf("bench:  one event-loop thread, both clients; %s\n", o->verify
           ? "evidence signatures verified (A's and B's)"
           : "evidence checked (kind, message id, hash), signatures not "
             "verified");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static rb_fed_t feds[2];
    static rb_pool_t pool;
    fb_opts_t o;
    fb_env_t e = {&o, feds, &pool};
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
    if (rb_fed_create_layout(feds, &layout, relay) == 0) {
        size_t n = o.n + o.warmup > o.stream ? o.n + o.warmup : o.stream;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        header(&e);
        if (rb_pool_make(&pool, &feds[FB_A], n, o.size,
                         cores < 1 ? 1 : (unsigned)cores) == 0) {
            rc = 0;
            if ((o.only & FB_M_LATENCY) && fb_latency(&e) != 0)
                rc = -1;
            if ((o.only & FB_M_THROUGHPUT) && !rb_interrupted &&
                fb_throughput(&e) != 0)
                rc = -1;
        }
    }
    if (rb_interrupted) {
        fprintf(stderr, "%s: interrupted\n", RB_PROG);
        rc = -1;
    }
    rb_pool_free(&pool);
    rb_fed_destroy(&feds[FB_B], o.keep);
    rb_fed_destroy(&feds[FB_A], o.keep);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}
