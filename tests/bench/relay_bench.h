/* relay_bench: a load generator against a real amanat-relay on 127.0.0.1.
 * The design is described at the top of relay_bench.c; this header joins
 * its files (federation_bench.c, two linked relays, reuses them too):
 *
 *   relay_bench.c        options, the report, the order of measurements
 *   relay_bench_fed.c    the federation's files, the relay process
 *   relay_bench_proc.c   signals, /proc readings, fsync probe, clean-up
 *   relay_bench_net.c    the event loop (epoll) and the client connection
 *   relay_bench_pool.c   pre-sealed envelopes, latency figures, id sets
 *   relay_bench_load.c   throughput, open-loop latency, backlog drain
 *   relay_bench_conns.c  handshakes per second, idle connections
 */
#ifndef AM_RELAY_BENCH_H
#define AM_RELAY_BENCH_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel.h"
#include "country.h"
#include "frame.h"
#include "noise.h"
#include "wire.pb-c.h"

/* The program's name in messages: federation_bench builds these files
 * again with its own. */
#ifndef RB_PROG
#define RB_PROG "relay_bench"
#endif
#define RB_KIB ((size_t)1024)
#define RB_NS 1000000000ull

/* agencies[RB_SENDER] submits every envelope, agencies[RB_RECIPIENT]
 * receives them; all of them take turns in the handshake and idle
 * measurements. */
#define RB_N_AGENCIES 8
#define RB_SENDER 0
#define RB_RECIPIENT 1

/* Handshakes in progress at once, all loops together: the relay refuses
 * more than --max-preauth-per-ip (default 64) from one address. */
#define RB_HS_MAX_DEFAULT 48

/* ---- relay_bench_fed.c: federation and relay process ---- */

/* Relays of one federation (federation_bench links two). */
#define RB_MAX_RELAYS 2
/* Flags added to a relay's command line (--peer ID@127.0.0.1:PORT ...). */
#define RB_EXTRA_MAX 4

typedef struct {
    char id[AM_AGENCY_ID_MAX + 1];
    uint8_t seed[32], sign_pk[32], sign_sk[64], dh_sk[32], dh_pk[32];
    uint64_t serial;
    uint8_t *cert;       /* serialized SignedCertificate */
    size_t cert_len;
    uint8_t *hs_payload; /* HandshakePayload of message 3 */
    size_t hs_payload_len;
} rb_party_t;

/* One relay of the federation and its process.  With several relays,
 * feds[0] owns the root, the agencies and the temporary folder; feds[i]
 * (i > 0) is relay i's view of them (view set: the root and agencies are
 * feds[0]'s, borrowed), with its own files in feds[0].dir/RELAY-ID. */
typedef struct {
    char dir[64]; /* temporary folder: keys, certificates, stores, logs */
    uint8_t root_pk[32], root_sk[64];
    rb_party_t relay, agencies[RB_N_AGENCIES];
    bool view;
    const char *relay_bin;
    bool has_max_conns, has_quota; /* flags this relay build knows */
    unsigned runs;                 /* relays started: data-N, relay-N.log */
    pid_t pid;                     /* running relay, or 0 */
    int port;
    int listen_port;               /* --port of the next start; 0: any */
    char extra[RB_EXTRA_MAX][128]; /* more flags of the next start, one */
    size_t n_extra;                /* argument each */
    char log[160];   /* the running (or last) relay's stdout and stderr */
    char flags[640]; /* its command line, for the report */
} rb_fed_t;

/* Which relays a federation has and where each agency is homed. */
typedef struct {
    const char *tmp_name; /* the folder /tmp/NAME-XXXXXX */
    size_t n_relays;      /* 1 .. RB_MAX_RELAYS */
    const char *relay_ids[RB_MAX_RELAYS];
    const char *agency_ids[RB_N_AGENCIES];
    unsigned home[RB_N_AGENCIES]; /* index in relay_ids */
} rb_layout_t;

/* Set by SIGINT/SIGTERM/SIGHUP (the relay is killed at once): every wait
 * checks it and gives up. */
extern volatile sig_atomic_t rb_interrupted;

/* Keys, certificates and files in a new temporary folder; checks the
 * relay binary (--help) for the flags it knows.  0, or -1 (reported). */
int rb_fed_create(rb_fed_t *fed, const char *relay_bin);
/* The same for lay->n_relays relays, feds[0 .. n_relays - 1]: every
 * relay's certs/ holds every agency's certificate, wherever it is homed.
 * On failure feds[0] may hold a folder: rb_fed_destroy them all. */
int rb_fed_create_layout(rb_fed_t *feds, const rb_layout_t *lay,
                         const char *relay_bin);
/* Stops a running relay, removes the folder unless keep, frees (a view:
 * only its relay; destroy views before feds[0]). */
void rb_fed_destroy(rb_fed_t *fed, bool keep);
/* Kill the relays on signals and at exit, whatever happens. */
void rb_install_guards(void);

/* A fresh relay (a new, empty store) on 127.0.0.1, on fed->listen_port
 * (0: any free port), with fed->extra added; room for max_conns
 * connections (0: the relay's default).  0, -1 (reported), or -2 when it
 * was given a port and could not listen because the port is in use (not
 * reported: take another and start again). */
int rb_relay_start(rb_fed_t *fed, size_t max_conns);
/* fed->flags: the command line rb_relay_start would use. */
void rb_relay_describe(rb_fed_t *fed, size_t max_conns);
/* SIGTERM, at most 10 s for a clean exit, then SIGKILL; the store of that
 * run is removed.  0 when it exited 0, else -1 (reported). */
int rb_relay_stop(rb_fed_t *fed);
/* 0 while the relay runs; -1 (reported, with its log) when it has died. */
int rb_relay_check(rb_fed_t *fed);
/* After a failure: rb_relay_check for up to 1 s, since a relay that is
 * dying closes its sockets before it can be waited for. */
int rb_relay_settle(rb_fed_t *fed);
/* The last lines of the relay's log on stderr. */
void rb_relay_log_tail(const rb_fed_t *fed, size_t lines);
/* Whether a line of the relay's log contains text. */
bool rb_relay_log_has(const rb_fed_t *fed, const char *text);
/* VmRSS and VmHWM of the relay, in KiB.  0 or -1. */
int rb_relay_mem(const rb_fed_t *fed, uint64_t *rss_kib, uint64_t *hwm_kib);

/* CPU time of a process, per thread, from /proc/PID/task/TID/stat. */
#define RB_CPU_TASKS 64
typedef struct {
    size_t n;
    int tid[RB_CPU_TASKS];
    uint64_t ticks[RB_CPU_TASKS];
    uint64_t self_us;     /* this process, getrusage */
    uint64_t sys_busy;    /* every CPU of the machine, /proc/stat, ticks */
    uint64_t t_ns;
} rb_cpu_t;

/* CPU used between two snaps, in % of one core: the relay (all its
 * threads), its busiest thread, this program, and every other process of
 * the machine (another job on the same cores skews every figure). */
typedef struct {
    double relay, top, self, other;
} rb_cpu_use_t;

void rb_cpu_snap(pid_t pid, rb_cpu_t *s);
void rb_cpu_delta(const rb_cpu_t *a, const rb_cpu_t *b, rb_cpu_use_t *u);
/* The highest "other" of every rb_cpu_delta so far. */
double rb_cpu_other_max(void);

/* Median microseconds of a 4 KiB write + fdatasync in dir, or -1. */
double rb_fsync_probe(const char *dir);

/* relay_bench_proc.c: the relays killed on signals and at exit (up to
 * RB_MAX_RELAYS at once), a folder removed, a program's output read. */
void rb_guard_add(pid_t pid);
void rb_guard_remove(pid_t pid);
int rb_rmtree(const char *dir);
/* Runs prog arg (at most 5 s) and reads its stdout into out (NUL
 * terminated).  0 or -1 (reported). */
int rb_run_capture(const char *prog, const char *arg, char *out, size_t cap,
                   size_t *len);

/* ---- relay_bench_pool.c ---- */

/* Pre-sealed envelopes, each already encoded as the body of a Frame
 * { submit { request_id = index + 1, envelope } }. */
typedef struct {
    size_t n, env_len, content_len;
    uint8_t **body;
    size_t *body_len;
    uint8_t (*hash)[32]; /* BLAKE2b-256 of each envelope */
    atomic_size_t next;  /* claimed in the current run */
    size_t limit;        /* claims allowed in the current run (<= n) */
} rb_pool_t;

/* n envelopes of env_len bytes from the sender to the recipient, sealed
 * by threads threads.  0 or -1 (reported). */
int rb_pool_make(rb_pool_t *p, const rb_fed_t *fed, size_t n, size_t env_len,
                 unsigned threads);
void rb_pool_free(rb_pool_t *p);
/* Next envelope of the run, or SIZE_MAX when the run's share is used. */
size_t rb_pool_claim(rb_pool_t *p);
void rb_pool_reset(rb_pool_t *p, size_t limit);

typedef struct {
    uint32_t *us;
    size_t n, cap;
} rb_lat_t;

int rb_lat_add(rb_lat_t *l, uint64_t ns);
/* Appends src to dst (src is left as is).  0 or -1. */
int rb_lat_merge(rb_lat_t *dst, const rb_lat_t *src);
void rb_lat_sort(rb_lat_t *l);
/* Percentile q (0..1) of a sorted set, in milliseconds; 0 when empty. */
double rb_lat_ms(const rb_lat_t *l, double q);
void rb_lat_free(rb_lat_t *l);

/* A set of 16-byte message ids (open addressing). */
typedef struct {
    uint8_t (*slot)[16];
    size_t cap, n;
} rb_idset_t;

int rb_idset_init(rb_idset_t *s, size_t max);
/* 1 when id was added, 0 when already there, -1 when full. */
int rb_idset_add(rb_idset_t *s, const uint8_t id[16]);
void rb_idset_free(rb_idset_t *s);

/* Checks evidence of kind ACCEPTED; message_id (16 bytes) is copied out.
 * hash: the envelope's expected hash, or NULL.  verify_pk: the relay's
 * Ed25519 key to check the signature with, or NULL.  0, or -1 with a
 * reason in why. */
int rb_check_accepted(const Amanat__V1__Evidence *e, const uint8_t *hash,
                      const uint8_t *verify_pk, uint8_t message_id[16],
                      char *why, size_t cap);

/* ---- relay_bench_net.c: the event loop and client connections ---- */

enum { RB_CLOSED, RB_CONNECTING, RB_HS2, RB_AUTH, RB_READY };

typedef struct rb_loop rb_loop_t;

typedef struct {
    rb_loop_t *loop;
    size_t idx;   /* in loop->conns */
    uint32_t gen; /* opens so far: tells stale events from current ones */
    int fd, state;
    const rb_party_t *who;
    const rb_fed_t *fed; /* the relay it connects to (its port, its key) */
    int port;
    bool receive, dirty;
    am_noise_hs_t *hs;
    am_framedec_t *hsdec;
    am_chan_t *chan;
    uint8_t *out;
    size_t out_pos, out_len, out_cap;
    bool want_out;
    uint64_t t_open;      /* connect() called */
    /* for the measurements */
    unsigned outstanding; /* submits without an answer */
    size_t sched_i, sched_j; /* open loop: submit j of connection i */
    uint64_t pongs;
} rb_conn_t;

typedef struct {
    void (*ready)(rb_conn_t *c, uint64_t now); /* AuthResult ok */
    /* Any later frame; nonzero fails the loop. */
    int (*frame)(rb_conn_t *c, const Amanat__V1__Frame *f, uint64_t now);
    /* Each turn of the loop, before waiting; nonzero fails the loop. */
    int (*tick)(rb_loop_t *l, uint64_t now);
    bool (*done)(rb_loop_t *l, uint64_t now);
} rb_ops_t;

#define RB_ERRS_KEPT 3

struct rb_loop {
    bool inited; /* rb_loop_init ran: there is something to free */
    int ep, tfd;
    int port;
    const rb_fed_t *fed;
    rb_conn_t *conns;
    size_t n;
    size_t *queue, q_head, q_len; /* connections waiting to be opened */
    size_t *dirty, n_dirty;       /* connections with bytes to write */
    size_t hs_inflight, hs_max, ready, live;
    const rb_ops_t *ops;
    void *ctx;
    uint64_t deadline; /* the loop fails after it (CLOCK_MONOTONIC ns) */
    const char *phase; /* for messages */
    int rc;
    char err[320];
    /* results, merged by the measurement after the threads end */
    rb_lat_t lat;
    bool primed; /* the measurement's first turn has run */
    uint64_t acks, acks_window, errors, outstanding;
    uint64_t t_exhausted, t_last, lag_max; /* ns */
    char err_seen[RB_ERRS_KEPT][200];
    size_t n_err_seen;
    uint8_t rbuf[65536];
};

uint64_t rb_now(void);
int rb_loop_init(rb_loop_t *l, const rb_fed_t *fed, int port, size_t n);
void rb_loop_free(rb_loop_t *l);
/* Queue connection i (as who) to be opened when a handshake slot frees;
 * it connects to the loop's relay, or with rb_loop_queue_to to fed's. */
void rb_loop_queue(rb_loop_t *l, size_t i, const rb_party_t *who,
                   bool receive);
void rb_loop_queue_to(rb_loop_t *l, size_t i, const rb_party_t *who,
                      bool receive, const rb_fed_t *fed);
/* Run until ops->done or a failure (l->rc, l->err). */
int rb_loop_run(rb_loop_t *l);
/* Run the loops, one thread each, until all are done.  0, or the first
 * failure (already in that loop's err; reported here). */
int rb_loops_run(rb_loop_t *loops, size_t n_loops, const rb_ops_t *ops,
                 void *ctx, uint64_t deadline, const char *phase);
/* Fail the loop with a message (printf-like); returns -1. */
int rb_loop_fail(rb_loop_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Keep an Error frame's text for the report and count it. */
void rb_loop_note_error(rb_loop_t *l, const Amanat__V1__Error *e);
/* Arm the loop's timer for an absolute CLOCK_MONOTONIC time. */
int rb_loop_timer(rb_loop_t *l, uint64_t at_ns);

/* Seal a frame body (no prefix) for c; written when the loop turns. */
int rb_conn_send_body(rb_conn_t *c, const uint8_t *body, size_t len);
int rb_conn_send(rb_conn_t *c, const Amanat__V1__Frame *f);
void rb_conn_close(rb_conn_t *c);

/* ---- measurements ---- */

typedef struct {
    double seconds, warmup;
    bool quick, verify, keep;
    unsigned only; /* RB_M_* bits */
    unsigned window, threads;
    size_t clients[8], n_clients;
    double rate;
    size_t lat_clients, backlog, hs_conc, idle_conns, pool;
} rb_opts_t;

enum {
    RB_M_THROUGHPUT = 1u << 0,
    RB_M_LATENCY = 1u << 1,
    RB_M_DRAIN = 1u << 2,
    RB_M_HANDSHAKES = 1u << 3,
    RB_M_IDLE = 1u << 4,
};

/* The figures the issue sets targets for; negative until measured. */
typedef struct {
    double acks_1k_64, p50_one, p99_open, drain, handshakes, idle_mib;
    size_t idle_n;
} rb_results_t;

/* Everything a measurement needs. */
typedef struct {
    const rb_opts_t *o;
    rb_fed_t *fed;
    rb_pool_t *pool_1k, *pool_16k;
    rb_results_t res;
} rb_env_t;

/* relay_bench_load.c */
int rb_throughput(rb_env_t *e);
int rb_latency(rb_env_t *e);
int rb_drain(rb_env_t *e);
/* relay_bench_evidence.c: after the drain, the sender takes the delivered
 * evidence of all `expected`; prints how long after t_start it held it. */
int rb_sender_evidence(rb_env_t *e, size_t expected, uint64_t t_start);
/* relay_bench_conns.c */
int rb_handshakes(rb_env_t *e);
int rb_idle(rb_env_t *e);

/* Helpers shared by the measurements (relay_bench_load.c). */
/* n connections as who (or every agency in turn when who is NULL) spread
 * over the loops; then every loop runs until all are authenticated. */
int rb_connect_all(rb_env_t *e, rb_loop_t *loops, size_t n_loops, size_t n,
                   const rb_party_t *who, bool receive, size_t hs_max);
void rb_loops_free(rb_loop_t *loops, size_t n_loops);
/* Merged latency of the loops into *all (sorted); counters summed. */
int rb_loops_merge(rb_loop_t *loops, size_t n_loops, rb_lat_t *all,
                   uint64_t *acks, uint64_t *acks_window, uint64_t *errors);
/* Prints the Error frames the loops kept, indented. */
void rb_print_errors(const rb_loop_t *loops, size_t n_loops);

/* ../../relay/amanat-relay beside this program, in buf (cap bytes). */
const char *rb_default_relay(char *buf, size_t cap);

#endif
