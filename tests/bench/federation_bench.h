/* federation_bench: forwarding between two linked amanat-relays.  The
 * design is described at the top of federation_bench.c; this header joins
 * its files to relay_bench's, which it reuses:
 *
 *   federation_bench.c      options, the report's header, the relay pair
 *   federation_bench_run.c  end-to-end latency and forwarded throughput
 */
#ifndef AM_FEDERATION_BENCH_H
#define AM_FEDERATION_BENCH_H

#include "relay_bench.h"

/* feds[FB_A] is PK-RELAY, home of agencies[RB_SENDER] (PK-NCCIA), which
 * submits; feds[FB_B] is DE-RELAY, home of agencies[RB_RECIPIENT]
 * (DE-BKA), which receives. */
#define FB_A 0
#define FB_B 1

enum { FB_M_LATENCY = 1u << 0, FB_M_THROUGHPUT = 1u << 1 };

typedef struct {
    size_t n;       /* latency: envelopes measured, one in flight */
    size_t warmup;  /* latency: envelopes before them, not counted */
    size_t stream;  /* throughput: envelopes submitted */
    size_t size;    /* serialized envelope, bytes */
    unsigned window; /* throughput: Submits in flight at A */
    unsigned only;   /* FB_M_* */
    bool verify, keep;
} fb_opts_t;

typedef struct {
    const fb_opts_t *o;
    rb_fed_t *feds; /* [2]: FB_A, FB_B */
    rb_pool_t *pool;
} fb_env_t;

/* federation_bench.c: both relays on two free ports, each with the other
 * as --peer, until each has logged "link ready" (at most 30 s).  0 or -1
 * (reported, with the relays' logs). */
int fb_pair_start(fb_env_t *e);
/* Stops both relays (SIGTERM, then SIGKILL).  0 when both exited 0. */
int fb_pair_stop(fb_env_t *e);
/* After a failure: which relay died, and the last lines of each log. */
void fb_explain(fb_env_t *e);

/* federation_bench_run.c: each starts a pair, measures, prints and stops
 * it.  0, or -1 (reported). */
int fb_latency(fb_env_t *e);
int fb_throughput(fb_env_t *e);

#endif
