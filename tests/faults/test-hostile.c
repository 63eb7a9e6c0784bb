/* Hostile peers (issue 9, item 6).  One real relay, with the limits
 * below; each round, all at once: 1,000 half-open connections spread
 * over 20 source addresses, 100 from one address (over the per-address
 * handshake limit), slowloris, random bytes, a 0xFFFF handshake length,
 * garbage after valid handshakes, 4 GiB and just-too-big frame lengths,
 * trickles after authentication, and an agency flooding Submits past its
 * quota (PH-NBI misbehaves after authenticating, FR-DGSI floods).  While
 * it all runs an honest client (PK-NCCIA) submits and the recipient
 * (DE-BKA) receives the Deliver.  The relay's memory and
 * descriptors are sampled throughout: descriptors must come back to the
 * baseline once its timeouts have passed, and memory must stay under the
 * stated bound.  After the rounds the relay is starved of descriptors
 * (EMFILE) and must shed, not spin; at the end a fresh honest session
 * must still work and SIGTERM must stop the relay cleanly.
 *
 * usage: test-hostile PATH/TO/amanat-relay [--rounds N]
 * One round under ctest; by hand --rounds N repeats the attack against
 * the same relay, and the relay's memory after each round must not grow. */
#include "../unit/test-util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "alloc.h"
#include "err.h"
#include "hostile.h"

/* The relay's limits, chosen to make each attack meet one of them fast. */
#define HS_MS 3000     /* --handshake-timeout-ms: half-open ones live 3 s */
#define IDLE_MS 3000   /* --idle-timeout-ms: trickles after auth, 3 s */
#define PER_IP 64      /* --max-preauth-per-ip (the default, stated) */
#define MAX_CONNS 4000 /* --max-conns: above the ~1,200 attackers, so the
                          honest client is never refused for their sake */
#define QUOTA 100      /* --quota-messages */
#define FRAME_MAX 262144 /* --frame-max */

/* The attack of one round. */
#define N_HALF 1000
#define HALF_ADDRS 20 /* 50 per address, under PER_IP */
#define N_PERIP 100   /* from one address: PER_IP held, the rest refused */
#define N_SLOW 20
#define N_RANDOM 50
#define N_HSBIG 10
#define N_GARBAGE 20  /* a multiple of 4: four kinds in turn */
#define N_TRICKLE 5
#define N_FLOOD 1000
#define FLOOD_WINDOW 128

/* Bounds.  Closing late: the relay's timers fire on time, but the loop
 * may be busy with the flood; 2.5 s covers the sanitizer build on two
 * cores.  The honest client completes within HONEST_MS while the whole
 * attack is held (measured: tens of ms).  FD_SLACK: descriptors the relay
 * may hold beyond its baseline once everything closed (none expected;
 * one for a late SQLite or log descriptor). */
#define LATE_MS 2500
#define HONEST_MS 5000
#define FD_SLACK 2

/* Memory.  Measured on 2 cores (Debian 12, glibc malloc), normal build:
 * the relay starts at about 5 MiB and peaks under 8 MiB in every round,
 * about 2.5 KiB per connection held (conn_t 1 KiB, the Noise handshake
 * state 0.6 KiB, the job and decoder buffers), the flood adding a little
 * for SQLite's pages and the store's requests.  The bound: 8 KiB for each
 * of the ~1,200 connections held at once (three times the measured cost)
 * and 4 MiB for the store, about 19 MiB in all.  GROWTH: after a round
 * the relay may keep at most 4 MiB more than after the first (measured:
 * 0.6 MiB after 5 rounds: malloc's free lists), which catches a leak of
 * more than ~1 KiB per connection within a few rounds.
 * Under ASan every allocation has redzones and every free goes to the
 * quarantine (256 MiB by default), which a round fills by ~44 MiB: the
 * relay's RSS grows round after round until it is full, by design
 * (measured: 17 MiB at the start, 52 after one round, level at 345-355
 * MiB from the eighth).  So the ASan bound adds 384 MiB (the quarantine,
 * the allocator's caches and metadata) to four times the normal budget,
 * and there is no growth check: LeakSanitizer checks the relay for leaks
 * when SIGTERM stops it (stop_relay expects exit status 0). */
#define CONN_KIB 8
#define STORE_KIB (4 * 1024)
#ifdef __SANITIZE_ADDRESS__
#define ASAN_SCALE 4
#define ASAN_EXTRA_KIB (384L * 1024)
#define GROWTH_CHECKED false
#else
#define ASAN_SCALE 1
#define ASAN_EXTRA_KIB 0L
#define GROWTH_CHECKED true
#endif
#define GROWTH_KIB (4L * 1024)

/* Descriptor exhaustion: room for 32 more than the relay holds, a burst
 * of 200 connections, then 2 s of connections and SIGHUPs.  The reloads
 * run on the thread pool, and each pool thread that allocates gets a
 * malloc arena of its own: measured 12-15 MiB at the peak (up to 8 MiB
 * over the attack's), the same for 1,700 and for 5,000 reloads, so it is
 * the arenas, not a leak.  RELOAD_KIB allows for them (x4 under ASan). */
#define RELOAD_KIB (8L * 1024)
#define EMFILE_ROOM 32
#define EMFILE_CONNS 200
#define EMFILE_STORM_MS 2000

static int rounds = 1;
static bool passed;

typedef struct {
    int fds;
    long rss_kib;
} base_t;

/* Everything a round's threads write: static, so that a failed check on
 * the main thread (cmocka jumps out) never leaves them a dead frame. */
typedef struct {
    hx_preauth_t pre;
    hx_auth_t auth;
    hx_flood_t flood;
    uint8_t *env[N_FLOOD];
    size_t len[N_FLOOD];
    int64_t honest_ms;
    int fds_honest, fds_after_honest;
    bool peak_seen;
    hx_sampler_t peak;
    long rss_settled;
    int fds_settled;
    int64_t settle_ms;
} round_t;

static round_t rd;

static double mib(long kib)
{
    return (double)kib / 1024.0;
}

static double secs(int64_t ms)
{
    return (double)ms / 1e3;
}

static long rss_bound_kib(const base_t *b)
{
    long conns = N_HALF + N_PERIP + N_SLOW + N_RANDOM + N_HSBIG + N_GARBAGE +
                 N_TRICKLE + 8;

    return b->rss_kib + ASAN_SCALE * (conns * CONN_KIB + STORE_KIB) +
           ASAN_EXTRA_KIB;
}

/* Descriptors for every attacking socket at once, with room to spare. */
static void raise_nofile(void)
{
    struct rlimit r;
    rlim_t need = 4096;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &r), 0);
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < need)
        r.rlim_max = need; /* only root may: otherwise setrlimit says so */
    if (r.rlim_cur == RLIM_INFINITY || r.rlim_cur < need)
        r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0)
        fail_msg("cannot raise RLIMIT_NOFILE to %llu: %s (the attack needs "
                 "%llu descriptors)", (unsigned long long)r.rlim_cur,
                 strerror(errno), (unsigned long long)need);
}

/* DE-BKA receiving, PK-NCCIA submitting one envelope to it; the Deliver
 * must come and be acknowledged.  Milliseconds from the first connect to
 * the Deliver. */
static int64_t honest(int port, int round)
{
    rc_client_t rcv, snd;
    Amanat__V1__Frame *f;
    uint8_t id[AM_MSG_ID_LEN], *env;
    char text[64], got[64];
    size_t len;
    int64_t t0, ms;

    snprintf(text, sizeof text, "honest, round %d", round);
    env = seal(&pk, &pk, "DE-BKA", 1, text, &len);
    t0 = hx_now_ms();
    connect_as(&rcv, port, &de, true);
    connect_as(&snd, port, &pk, false);
    f = submit(&snd, env, len, 1);
    check_accepted(f, env, len, 1);
    am_frame_free(f);
    if (!fx_next_deliver_wait(&rcv, HONEST_MS, got, sizeof got, id))
        fail_msg("round %d: no Deliver within %d ms", round, HONEST_MS);
    ms = hx_now_ms() - t0;
    assert_string_equal(got, text);
    fx_ack(&rcv, id);
    /* the Pong says the relay read the acknowledgement before we close */
    assert_true(hx_ping(&rcv, 7, 5000));
    rc_close(&rcv);
    rc_close(&snd);
    am_free(env);
    return ms;
}

/* PK-NCCIA takes and acknowledges what the flood stored for it, so that
 * FR-DGSI's quota is free again for the next round. */
static void drain_flood(int port, size_t expect)
{
    Amanat__V1__Frame *f;
    uint8_t id[AM_MSG_ID_LEN];
    size_t got = 0;
    rc_client_t c;

    connect_as(&c, port, &pk, true);
    while (got < expect && rc_recv(&c, 5000, &f) == 0) {
        am_env_t *env = NULL;

        if (f->op_case == AMANAT__V1__FRAME__OP_DELIVER) {
            assert_int_equal(am_env_parse(f->deliver->envelope.data,
                                          f->deliver->envelope.len,
                                          AM_ENV_MAX, &env), AM_OK);
            memcpy(id, am_env_claimed_id(env), AM_MSG_ID_LEN);
            am_env_free(env);
            fx_ack(&c, id);
            got++;
        }
        am_frame_free(f);
    }
    assert_int_equal(got, expect);
    assert_true(hx_ping(&c, 8, 5000));
    rc_close(&c);
}

static void setup_round(int port)
{
    memset(&rd, 0, sizeof rd);
    rd.pre.port = rd.auth.port = rd.flood.port = port;
    rd.pre.n[HX_HALF] = N_HALF;
    rd.pre.n[HX_PERIP] = N_PERIP;
    rd.pre.n[HX_SLOW] = N_SLOW;
    rd.pre.n[HX_RANDOM] = N_RANDOM;
    rd.pre.n[HX_HSBIG] = N_HSBIG;
    rd.pre.half_addrs = HALF_ADDRS;
    rd.pre.deadline_ms = HS_MS + LATE_MS + 3000;
    atomic_init(&rd.pre.opened, false);
    /* PH-NBI misbehaves after authenticating; its certificate is not in
     * the relay's folder: learned (written on the thread pool) at once */
    rd.auth.who = &ph;
    rd.auth.frame_max = FRAME_MAX;
    rd.auth.idle_ms = IDLE_MS;
    rd.auth.n_garbage = N_GARBAGE;
    rd.auth.n_slow = N_TRICKLE;
    /* FR-DGSI floods PK-NCCIA, which receives only in drain_flood */
    rd.flood.who = &fr;
    rd.flood.n = N_FLOOD;
    rd.flood.env = rd.env;
    rd.flood.len = rd.len;
    rd.flood.window = FLOOD_WINDOW;
    for (size_t i = 0; i < N_FLOOD; i++)
        rd.env[i] = seal(&fr, &fr, "PK-NCCIA", 1, "flood", &rd.len[i]);
}

/* The attack at its height: every connection opened and the relay
 * holding at least the half-open ones.  At most 10 s. */
static bool wait_peak(hx_sampler_t *smp, int target)
{
    hx_sampler_t now;
    int64_t end = hx_now_ms() + 10000;

    while (!atomic_load(&rd.pre.opened) && hx_now_ms() < end)
        hx_sleep_ms(10);
    do {
        hx_sampler_read(smp, &now);
        if (now.fds >= target)
            return true;
        hx_sleep_ms(10);
    } while (hx_now_ms() < end);
    return false;
}

/* Descriptors back to the baseline: at most the timeouts and 5 s. */
static void settle(hx_sampler_t *smp, const base_t *b)
{
    int64_t t0 = hx_now_ms(), end = t0 + HS_MS + IDLE_MS + 5000;
    hx_sampler_t now;

    do {
        hx_sleep_ms(50);
        hx_sampler_read(smp, &now);
    } while (now.fds > b->fds + FD_SLACK && hx_now_ms() < end);
    rd.fds_settled = now.fds;
    rd.rss_settled = now.rss_kib;
    rd.settle_ms = hx_now_ms() - t0;
}

static void run_round(relay_t *r, hx_sampler_t *smp, const base_t *b, int k)
{
    pthread_t tp, ta, tf;
    hx_sampler_t now;

    setup_round(r->port);
    hx_sampler_reset(smp);
    assert_int_equal(pthread_create(&tf, NULL, hx_flood_run, &rd.flood), 0);
    assert_int_equal(pthread_create(&ta, NULL, hx_auth_run, &rd.auth), 0);
    assert_int_equal(pthread_create(&tp, NULL, hx_preauth_run, &rd.pre), 0);
    rd.peak_seen = wait_peak(smp, b->fds + N_HALF);
    hx_sampler_read(smp, &now);
    rd.fds_honest = now.fds;
    if (rd.peak_seen)
        rd.honest_ms = honest(r->port, k);
    hx_sampler_read(smp, &now);
    rd.fds_after_honest = now.fds;
    assert_int_equal(pthread_join(tp, NULL), 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tf, NULL), 0);
    settle(smp, b);
    hx_sampler_read(smp, &rd.peak);
    for (size_t i = 0; i < N_FLOOD; i++)
        am_free(rd.env[i]);
    assert_false(rd.peak.failed); /* /proc stayed readable: relay alive */
    drain_flood(r->port, rd.flood.acked);
}

static void print_round(int k, const base_t *b)
{
    const hx_tally_t *t = rd.pre.t;
    int opened = 0;

    for (int i = 0; i < HX_KINDS; i++)
        opened += t[i].opened;
    printf("hostile: round %d: %d connections opened in %.1f s; %d half-open "
           "from %d addresses closed after %.1f-%.1f s; per-address limit "
           "%d: %d connections -> %d refused at once, %d held; %d slowloris "
           "closed after %.1f-%.1f s (at most %u bytes sent); %d random "
           "closed; %d handshake lengths 0xFFFF refused at once\n", k,
           opened, secs(rd.pre.open_ms), t[HX_HALF].closed, HALF_ADDRS,
           secs(t[HX_HALF].min_ms), secs(t[HX_HALF].max_ms), PER_IP,
           t[HX_PERIP].opened, t[HX_PERIP].quick,
           t[HX_PERIP].opened - t[HX_PERIP].quick, t[HX_SLOW].closed,
           secs(t[HX_SLOW].min_ms), secs(t[HX_SLOW].max_ms),
           t[HX_SLOW].max_sent, t[HX_RANDOM].closed, t[HX_HSBIG].quick);
    printf("hostile: round %d: %d garbage-after-auth closed at once (%d with "
           "ERROR_PROTOCOL); %d/%d frame lengths 4 GiB / frame-max+1 -> "
           "ERROR_TOO_BIG; %d trickles after auth closed after %.1f-%.1f s; "
           "quota flood %zu submits -> %zu acked, %zu ERROR_QUOTA, %zu other "
           "in %lld ms, session %s\n", k, rd.auth.garbage_closed,
           rd.auth.garbage_errors, rd.auth.big_refused, rd.auth.big_sent,
           rd.auth.slow_closed, secs(rd.auth.slow_min_ms),
           secs(rd.auth.slow_max_ms), rd.flood.n, rd.flood.acked,
           rd.flood.quota, rd.flood.other, (long long)rd.flood.ms,
           rd.flood.pong ? "still answers" : "DEAD");
    printf("hostile: round %d: honest submit+deliver in %lld ms (bound %d) "
           "with %d relay fds open; relay RSS max %.1f MiB (bound %.1f MiB), "
           "after %.1f MiB; fds %d -> %d -> %d (settled in %.1f s)\n", k,
           (long long)rd.honest_ms, HONEST_MS, rd.fds_honest,
           mib(rd.peak.rss_max_kib), mib(rss_bound_kib(b)),
           mib(rd.rss_settled), b->fds, rd.peak.fds_max, rd.fds_settled,
           secs(rd.settle_ms));
    fflush(stdout);
}

static void check_pre(void)
{
    const hx_tally_t *t = rd.pre.t;

    assert_string_equal(rd.pre.why, "");
    for (int k = 0; k < HX_KINDS; k++) {
        assert_int_equal(t[k].failed, 0);
        assert_int_equal(t[k].closed, rd.pre.n[k]); /* the relay closed all */
    }
    /* held until the handshake timeout, not before, not much after */
    assert_in_range(t[HX_HALF].min_ms, HS_MS - 250, HS_MS + LATE_MS);
    assert_in_range(t[HX_HALF].max_ms, HS_MS - 250, HS_MS + LATE_MS);
    assert_int_equal(t[HX_HALF].quick, 0);
    assert_int_equal(t[HX_PERIP].quick, N_PERIP - PER_IP);
    assert_in_range(t[HX_SLOW].max_ms, HS_MS - 250, HS_MS + LATE_MS);
    assert_in_range(t[HX_SLOW].max_sent, 1, HS_MS / 1000 + 2);
    assert_in_range(t[HX_RANDOM].max_ms, 0, HS_MS + LATE_MS);
    assert_int_equal(t[HX_HSBIG].quick, N_HSBIG);
}

static void check_round(const base_t *b)
{
    check_pre();
    assert_string_equal(rd.auth.why, "");
    assert_int_equal(rd.auth.garbage_closed, N_GARBAGE);
    assert_int_equal(rd.auth.garbage_errors, N_GARBAGE / 2);
    assert_int_equal(rd.auth.big_refused, rd.auth.big_sent);
    assert_int_equal(rd.auth.big_sent, 3);
    assert_int_equal(rd.auth.slow_closed, N_TRICKLE);
    assert_in_range(rd.auth.slow_min_ms, IDLE_MS - 250, IDLE_MS + LATE_MS);
    assert_in_range(rd.auth.slow_max_ms, IDLE_MS - 250, IDLE_MS + LATE_MS);
    assert_string_equal(rd.flood.why, "");
    assert_int_equal(rd.flood.acked, QUOTA);
    assert_int_equal(rd.flood.quota, N_FLOOD - QUOTA);
    assert_int_equal(rd.flood.other, 0);
    assert_true(rd.flood.pong);
    /* the honest client ran while the attack was held in full */
    assert_true(rd.peak_seen);
    assert_in_range(rd.fds_after_honest, b->fds + N_HALF, 1000000);
    assert_in_range(rd.honest_ms, 0, HONEST_MS);
    assert_in_range(rd.peak.fds_max, b->fds + N_HALF, 1000000);
    assert_in_range(rd.fds_settled, 0, b->fds + FD_SLACK);
    assert_in_range(rd.peak.rss_max_kib, 0, rss_bound_kib(b));
}

/* Sessions opened before the relay ran out of descriptors go on: a
 * submit and its Deliver while it has none to spare. */
static int64_t submit_at_limit(rc_client_t *rcv, rc_client_t *snd)
{
    uint8_t id[AM_MSG_ID_LEN], *env;
    Amanat__V1__Frame *f;
    char got[64];
    size_t len;
    int64_t t0;

    env = seal(&pk, &pk, "DE-BKA", 1, "at the limit", &len);
    t0 = hx_now_ms();
    f = submit(snd, env, len, 2);
    check_accepted(f, env, len, 2);
    am_frame_free(f);
    if (!fx_next_deliver_wait(rcv, HONEST_MS, got, sizeof got, id))
        fail_msg("no Deliver at the descriptor limit");
    assert_string_equal(got, "at the limit");
    fx_ack(rcv, id);
    assert_true(hx_ping(rcv, 9, 5000));
    am_free(env);
    return hx_now_ms() - t0;
}

static void print_emfile(const hx_emfile_t *e, int64_t in_ms, int64_t ms,
                         long rss_max_kib, long bound_kib)
{
    printf("hostile: EMFILE: relay at %d fds, limited to %d: %d connections "
           "-> %d shed at once, %d held (%d relay fds), relay CPU %.0f%% of a "
           "core; open sessions submit+deliver at the limit in %lld ms; "
           "storm of %d connections with %d SIGHUP reloads, then relay CPU "
           "%.0f%% while quiet; held ones closed by the handshake timeout: "
           "%d; fds back to %d; relay RSS max %.1f MiB (bound %.1f MiB, with "
           "the reloads' arenas); honest submit+deliver after in %lld ms\n",
           e->fds_before, e->limit,
           e->opened, e->shed, e->opened - e->shed, e->fds_at_limit,
           e->cpu_burst * 100, (long long)in_ms, e->storm_tries, e->hups,
           e->cpu_quiet * 100, e->held_closed, rd.fds_settled,
           mib(rss_max_kib), mib(bound_kib), (long long)ms);
    fflush(stdout);
}

/* The relay's highest RSS meanwhile, in KiB. */
static long emfile_phase(relay_t *r, hx_sampler_t *smp, const base_t *b)
{
    static hx_emfile_t e; /* a thread of its own sends the SIGHUPs */
    rc_client_t rcv, snd;
    hx_sampler_t now;
    int64_t in_ms = -1, ms;
    int rc;

    memset(&e, 0, sizeof e);
    e.port = r->port;
    e.pid = r->pid;
    e.room = EMFILE_ROOM;
    e.n = EMFILE_CONNS;
    e.hs_ms = HS_MS;
    e.storm_ms = EMFILE_STORM_MS;
    hx_sampler_reset(smp);
    connect_as(&rcv, r->port, &de, true);
    connect_as(&snd, r->port, &pk, false);
    if ((rc = hx_emfile_begin(&e)) == 0) {
        in_ms = submit_at_limit(&rcv, &snd);
        rc = hx_emfile_storm(&e);
    }
    rc |= hx_emfile_end(&e);
    rc_close(&rcv);
    rc_close(&snd);
    rd.fds_settled = 0;
    settle(smp, b);
    ms = honest(r->port, 0);
    hx_sampler_read(smp, &now);
    print_emfile(&e, in_ms, ms, now.rss_max_kib,
                 rss_bound_kib(b) + ASAN_SCALE * RELOAD_KIB);
    assert_string_equal(e.why, "");
    assert_int_equal(rc, 0);
    assert_int_equal(e.failed, 0);
    assert_true(e.shed > 0); /* the limit was reached */
    assert_int_equal(e.held_closed, e.opened - e.shed);
    assert_true(e.held_closed > 0);
    assert_true(e.cpu_burst < 0.5); /* shedding, not spinning */
    assert_true(e.cpu_quiet < 0.5);
    assert_in_range(rd.fds_settled, 0, b->fds + FD_SLACK);
    assert_in_range(now.rss_max_kib, 0,
                    rss_bound_kib(b) + ASAN_SCALE * RELOAD_KIB);
    return now.rss_max_kib;
}

static relay_t start_hostile_relay(void)
{
    static char log[128];
    char hs[16], idle[16], per_ip[16], conns[16], quota[16], frame[16];
    const char *flags[] = {"--handshake-timeout-ms", hs,
                           "--idle-timeout-ms", idle,
                           "--max-preauth-per-ip", per_ip,
                           "--max-conns", conns,
                           "--quota-messages", quota,
                           "--frame-max", frame, NULL};

    snprintf(hs, sizeof hs, "%d", HS_MS);
    snprintf(idle, sizeof idle, "%d", IDLE_MS);
    snprintf(per_ip, sizeof per_ip, "%d", PER_IP);
    snprintf(conns, sizeof conns, "%d", MAX_CONNS);
    snprintf(quota, sizeof quota, "%d", QUOTA);
    snprintf(frame, sizeof frame, "%d", FRAME_MAX);
    /* thousands of connection lines: to a file, its tail shown on failure */
    snprintf(log, sizeof log, "%s/relay.log", dir);
    fx_relay_log = log;
    printf("hostile: relay --handshake-timeout-ms %d --idle-timeout-ms %d "
           "--max-preauth-per-ip %d --max-conns %d --quota-messages %d "
           "--frame-max %d\n", HS_MS, IDLE_MS, PER_IP, MAX_CONNS, QUOTA,
           FRAME_MAX);
    return start_relay_with(flags);
}

/* After one honest session (the store's files open, the certificates of
 * the honest parties learned) and a moment of calm. */
static void baseline(relay_t *r, hx_sampler_t *smp, base_t *b)
{
    hx_sampler_t now;
    long hwm;

    (void)honest(r->port, 0);
    hx_sleep_ms(500);
    hx_sampler_read(smp, &now);
    assert_false(now.failed);
    assert_int_equal(hx_proc_mem(r->pid, &b->rss_kib, &hwm), 0);
    assert_true((b->fds = hx_proc_fds(r->pid)) > 0);
    printf("hostile: relay baseline RSS %.1f MiB, %d fds; bound under attack "
           "%.1f MiB (%d KiB per connection, %d MiB for the store%s)\n",
           mib(b->rss_kib), b->fds, mib(rss_bound_kib(b)), CONN_KIB,
           STORE_KIB / 1024, ASAN_SCALE > 1 ? "; x4 and 384 MiB for the "
           "quarantine under ASan" : "");
}

static void test_hostile(void **state)
{
    hx_sampler_t smp;
    base_t b;
    relay_t r;
    long first_kib = 0, last_kib = 0, max_kib = 0, rss;
    int64_t honest_max = 0, t0 = hx_now_ms();

    (void)state;
    raise_nofile();
    r = start_hostile_relay();
    assert_int_equal(hx_sampler_start(&smp, r.pid), 0);
    baseline(&r, &smp, &b);
    for (int k = 1; k <= rounds; k++) {
        run_round(&r, &smp, &b, k);
        print_round(k, &b);
        check_round(&b);
        if (k == 1)
            first_kib = rd.rss_settled;
        last_kib = rd.rss_settled;
        if (GROWTH_CHECKED) /* no growth from round to round */
            assert_in_range(rd.rss_settled, 0, first_kib + GROWTH_KIB);
        if (rd.peak.rss_max_kib > max_kib)
            max_kib = rd.peak.rss_max_kib;
        if (rd.honest_ms > honest_max)
            honest_max = rd.honest_ms;
    }
    rss = emfile_phase(&r, &smp, &b);
    (void)honest(r.port, rounds + 1); /* a fresh session at the end */
    assert_int_equal(hx_sampler_stop(&smp), 0);
    stop_relay(&r); /* SIGTERM: a clean exit, 0 */
    printf("hostile: %d round(s) in %.1f s; relay RSS max %.1f MiB under "
           "attack (bound %.1f MiB), %.1f MiB with the reload storm, after "
           "round 1 %.1f MiB, after round %d %.1f MiB (%s); "
           "fds back to %d of %d; honest submit+deliver at most %lld ms; "
           "relay alive to the end, stopped cleanly\n", rounds,
           secs(hx_now_ms() - t0), mib(max_kib), mib(rss_bound_kib(&b)),
           mib(rss), mib(first_kib), rounds, mib(last_kib),
           GROWTH_CHECKED ? "growth allowed 4 MiB"
                          : "growth not checked under ASan: its quarantine",
           rd.fds_settled, b.fds, (long long)honest_max);
    passed = true;
}

/* On failure: the relay's last words, then no process left behind. */
static int teardown(void **state)
{
    char cmd[200];

    if (!passed && fx_relay_log != NULL) {
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", fx_relay_log);
        if (system(cmd) != 0)
            fprintf(stderr, "hostile: no relay log at %s\n", fx_relay_log);
    }
    return fx_kill_leftovers(state);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hostile, teardown),
    };
    int rc = fx_args_rounds(argc, argv, 1000, &rounds);

    if (rc != 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
