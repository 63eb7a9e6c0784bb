/* relay_bench: submitting envelopes.
 *
 *   throughput  closed loop: every client keeps --window Submits in
 *               flight for --seconds; a SubmitResult with valid accepted
 *               evidence for that very envelope is an ack, and lets the
 *               client send the next envelope.
 *   latency     one client with one Submit in flight; then an open loop:
 *               --rate Submits per second spread evenly over
 *               --latency-clients clients, each sent at its scheduled time
 *               whatever the answers, its latency counted from that time
 *               (so a slow relay cannot hide its queue by slowing us).
 *   drain       --backlog envelopes submitted to the recipient while it is
 *               offline; then it connects with Hello.receive and
 *               acknowledges every Deliver; time from AuthResult to the
 *               last new envelope.
 *
 * Every row starts a new relay with an empty store and stops it after, so
 * rows do not inherit each other's backlog and pre-sealed envelopes can be
 * submitted again (never twice to one relay).
 */
#include "relay_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "sign.h"

typedef struct {
    rb_pool_t *pool;
    uint64_t *sent;  /* per envelope: when its Submit was due (ns), or 0 */
    unsigned window; /* closed loop: Submits in flight; 0: open loop */
    uint64_t t0, t_warm, t_end; /* start, measured window [t_warm, t_end] */
    const uint8_t *verify_pk;
    double rate;    /* open loop: Submits per second, all clients */
    size_t n_conns; /* open loop: clients, all loops */
} load_t;

/* ---- helpers shared with relay_bench_conns.c ---- */

static bool all_ready(rb_loop_t *l, uint64_t now)
{
    (void)now;
    return l->ready == l->n && l->q_len == 0;
}

static const rb_ops_t connect_ops = {NULL, NULL, NULL, all_ready};

int rb_connect_all(rb_env_t *e, rb_loop_t *loops, size_t n_loops, size_t n,
                   const rb_party_t *who, bool receive, size_t hs_max)
{
    size_t given = 0;

    for (size_t k = 0; k < n_loops; k++) {
        size_t m = n / n_loops + (k < n % n_loops);

        if (rb_loop_init(&loops[k], e->fed, e->fed->port, m) != 0) {
            fprintf(stderr, "%s: %s\n", RB_PROG, loops[k].err);
            return -1;
        }
        loops[k].hs_max = hs_max / n_loops ? hs_max / n_loops : 1;
        for (size_t i = 0; i < m; i++, given++)
            rb_loop_queue(&loops[k], i,
                          who ? who
                              : &e->fed->agencies[given % RB_N_AGENCIES],
                          receive);
    }
    return rb_loops_run(loops, n_loops, &connect_ops, NULL,
                        rb_now() + (30 + (uint64_t)n / 500) * RB_NS,
                        "connecting");
}

void rb_loops_free(rb_loop_t *loops, size_t n_loops)
{
    for (size_t k = 0; loops != NULL && k < n_loops; k++)
        rb_loop_free(&loops[k]);
    free(loops);
}

int rb_loops_merge(rb_loop_t *loops, size_t n_loops, rb_lat_t *all,
                   uint64_t *acks, uint64_t *acks_window, uint64_t *errors)
{
    *acks = *acks_window = *errors = 0;
    for (size_t k = 0; k < n_loops; k++) {
        if (rb_lat_merge(all, &loops[k].lat) != 0) {
            fprintf(stderr, "%s: out of memory for latencies\n", RB_PROG);
            return -1;
        }
        *acks += loops[k].acks;
        *acks_window += loops[k].acks_window;
        *errors += loops[k].errors;
    }
    rb_lat_sort(all);
    return 0;
}

void rb_print_errors(const rb_loop_t *loops, size_t n_loops)
{
    for (size_t k = 0; k < n_loops; k++)
        for (size_t i = 0; i < loops[k].n_err_seen; i++)
            printf("      relay's Error frame: %s\n", loops[k].err_seen[i]);
}

/* ---- submitting ---- */

/* 0 sent, 1 nothing left to send in this run, -1 failed. */
static int submit_one(rb_conn_t *c, load_t *ld, uint64_t t_start)
{
    rb_loop_t *l = c->loop;
    size_t i = rb_pool_claim(ld->pool);

    if (i == SIZE_MAX) {
        if (l->t_exhausted == 0)
            l->t_exhausted = t_start;
        return 1;
    }
    ld->sent[i] = t_start;
    if (rb_conn_send_body(c, ld->pool->body[i], ld->pool->body_len[i]) != 0)
        return -1;
    c->outstanding++;
    l->outstanding++;
    return 0;
}

static int refill(rb_conn_t *c, load_t *ld, uint64_t now)
{
    int rc = 0;

    while (rc == 0 && now < ld->t_end && c->outstanding < ld->window)
        rc = submit_one(c, ld, now);
    return rc < 0 ? -1 : 0;
}

/* The Submit with this request id is answered; 0, or -1 when no Submit
 * with that id is waiting on this connection. */
static int answered(rb_conn_t *c, load_t *ld, uint64_t id, uint64_t *sent)
{
    if (id == 0 || id > ld->pool->n || ld->sent[id - 1] == 0 ||
        c->outstanding == 0)
        return -1;
    *sent = ld->sent[id - 1];
    ld->sent[id - 1] = 0;
    c->outstanding--;
    c->loop->outstanding--;
    return 0;
}

static int on_result(rb_conn_t *c, const Amanat__V1__SubmitResult *r,
                     load_t *ld, uint64_t now)
{
    rb_loop_t *l = c->loop;
    uint8_t mid[16];
    uint64_t sent;
    char why[160];

    if (answered(c, ld, r->request_id, &sent) != 0)
        return rb_loop_fail(l, "%s: SubmitResult for request %llu, which "
                            "is not waiting", l->phase,
                            (unsigned long long)r->request_id);
    if (rb_check_accepted(r->accepted, ld->pool->hash[r->request_id - 1],
                          ld->verify_pk, mid, why, sizeof why) != 0 ||
        r->message_id.len != 16 || memcmp(r->message_id.data, mid, 16) != 0)
        return rb_loop_fail(l, "%s: SubmitResult for request %llu: %s",
                            l->phase, (unsigned long long)r->request_id,
                            r->message_id.len != 16 ? "message id of the "
                            "wrong length" : why[0] ? why : "message id "
                            "differs from the evidence's");
    if (sent >= ld->t_warm && rb_lat_add(&l->lat, now - sent) != 0)
        return rb_loop_fail(l, "out of memory for latencies");
    l->acks++;
    l->acks_window += now >= ld->t_warm && now <= ld->t_end;
    l->t_last = now;
    return 0;
}

static int on_submit_frame(rb_conn_t *c, const Amanat__V1__Frame *f,
                           uint64_t now)
{
    load_t *ld = c->loop->ctx;
    uint64_t sent;

    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_SUBMIT_RESULT:
        if (on_result(c, f->submit_result, ld, now) != 0)
            return -1;
        break;
    case AMANAT__V1__FRAME__OP_ERROR:
        rb_loop_note_error(c->loop, f->error);
        (void)answered(c, ld, f->error->request_id, &sent);
        break;
    case AMANAT__V1__FRAME__OP_PONG:
        return 0;
    default:
        return rb_loop_fail(c->loop, "%s: unexpected frame %d from the relay",
                            c->loop->phase, (int)f->op_case);
    }
    return ld->window > 0 ? refill(c, ld, now) : 0;
}

static int closed_tick(rb_loop_t *l, uint64_t now)
{
    load_t *ld = l->ctx;

    if (l->primed)
        return 0;
    l->primed = true;
    for (size_t i = 0; i < l->n; i++)
        if (refill(&l->conns[i], ld, now) != 0)
            return -1;
    return 0;
}

static bool load_done(rb_loop_t *l, uint64_t now)
{
    load_t *ld = l->ctx;

    return l->primed && l->outstanding == 0 &&
           (now >= ld->t_end || l->t_exhausted != 0);
}

static const rb_ops_t closed_ops = {NULL, on_submit_frame, closed_tick,
                                    load_done};

/* Open loop: submit j of client i is due at t0 + (i + j * n) / rate. */
static int open_tick(rb_loop_t *l, uint64_t now)
{
    load_t *ld = l->ctx;
    uint64_t next = UINT64_MAX;

    l->primed = true;
    for (size_t k = 0; k < l->n; k++) {
        rb_conn_t *c = &l->conns[k];

        for (;;) {
            double at = ((double)c->sched_i +
                         (double)c->sched_j * (double)ld->n_conns) /
                        ld->rate;
            uint64_t due = ld->t0 + (uint64_t)(at * 1e9);
            int rc;

            if (due >= ld->t_end)
                break;
            if (due > now) {
                next = due < next ? due : next;
                break;
            }
            if ((rc = submit_one(c, ld, due)) != 0)
                return rc < 0 ? -1 : 0;
            l->lag_max = now - due > l->lag_max ? now - due : l->lag_max;
            c->sched_j++;
        }
    }
    return next == UINT64_MAX ? 0 : rb_loop_timer(l, next);
}

static const rb_ops_t open_ops = {NULL, on_submit_frame, open_tick,
                                  load_done};

/* ---- one row ---- */

typedef struct {
    size_t clients;
    unsigned window;  /* 0: open loop at rate */
    double rate;
    size_t limit;     /* envelopes this run may submit */
    uint64_t seconds; /* ns; UINT64_MAX: until limit */
    uint64_t warm;    /* ns before the measured window */
    /* results */
    rb_lat_t lat;
    uint64_t acks, acks_window, errors, lag_max;
    double acks_per_s, secs;
    rb_cpu_use_t cpu;
    bool exhausted;
} row_t;

static void row_results(row_t *r, rb_loop_t *loops, size_t n_loops,
                        const load_t *ld)
{
    uint64_t t_last = ld->t0, t_ex = 0;

    for (size_t k = 0; k < n_loops; k++) {
        t_last = loops[k].t_last > t_last ? loops[k].t_last : t_last;
        r->lag_max = loops[k].lag_max > r->lag_max ? loops[k].lag_max
                                                   : r->lag_max;
        if (loops[k].t_exhausted != 0)
            t_ex = loops[k].t_exhausted;
    }
    r->exhausted = t_ex != 0 && t_ex < ld->t_end;
    if (r->exhausted || r->seconds == UINT64_MAX) {
        /* the run ended when the envelopes did: count to the last ack */
        r->secs = t_last > ld->t_warm ? (double)(t_last - ld->t_warm) / 1e9
                                      : 0;
        r->acks_per_s = r->secs > 0 ? (double)r->acks_window / r->secs : 0;
    } else {
        r->secs = (double)r->seconds / 1e9;
        r->acks_per_s = (double)r->acks_window / r->secs;
    }
}

static int run_load(rb_env_t *e, rb_pool_t *pool, row_t *r,
                    rb_loop_t *loops, size_t n_loops)
{
    load_t ld = {pool, NULL, r->window, 0, 0, 0,
                 e->o->verify ? e->fed->relay.sign_pk : NULL, r->rate,
                 r->clients};
    rb_cpu_t a, b;
    int rc;

    if ((ld.sent = calloc(pool->n, sizeof *ld.sent)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", RB_PROG);
        return -1;
    }
    rb_pool_reset(pool, r->limit);
    for (size_t k = 0, i = 0; k < n_loops; k++)
        for (size_t j = 0; j < loops[k].n; j++)
            loops[k].conns[j].sched_i = i++;
    rb_cpu_snap(e->fed->pid, &a);
    ld.t0 = rb_now();
    ld.t_warm = ld.t0 + r->warm;
    ld.t_end = r->seconds == UINT64_MAX ? UINT64_MAX
                                        : ld.t_warm + r->seconds;
    rc = rb_loops_run(loops, n_loops, r->window ? &closed_ops : &open_ops,
                      &ld, (r->seconds == UINT64_MAX
                                ? ld.t0 + (60 + r->limit / 1000) * RB_NS
                                : ld.t_end + 30 * RB_NS),
                      r->window ? "closed-loop submits" : "open-loop submits");
    rb_cpu_snap(e->fed->pid, &b);
    rb_cpu_delta(&a, &b, &r->cpu);
    if (rc == 0)
        rc = rb_loops_merge(loops, n_loops, &r->lat, &r->acks,
                            &r->acks_window, &r->errors);
    if (rc == 0)
        row_results(r, loops, n_loops, &ld);
    free(ld.sent);
    return rc;
}

/* After a failure: did the relay die, and what did it say last? */
static void explain_failure(rb_env_t *e)
{
    if (e->fed->pid > 0 && rb_relay_settle(e->fed) == 0) {
        fprintf(stderr, "%s: the relay still runs; its log ends:\n", RB_PROG);
        rb_relay_log_tail(e->fed, 6);
    }
}

/* Starts a relay, connects the clients as the sender, runs the row,
 * closes them and stops the relay unless keep (and the row went well).
 * The loops stay for the caller to print errors. */
static int row_run(rb_env_t *e, rb_pool_t *pool, row_t *r, rb_loop_t **out,
                   size_t *n_out, bool keep)
{
    size_t n_loops = e->o->threads < r->clients ? e->o->threads : r->clients;
    rb_loop_t *loops = calloc(n_loops, sizeof *loops);
    int rc = -1;

    *out = loops;
    *n_out = n_loops;
    if (loops == NULL) {
        fprintf(stderr, "%s: out of memory\n", RB_PROG);
        return -1;
    }
    if (rb_relay_start(e->fed, 0) == 0 &&
        rb_connect_all(e, loops, n_loops, r->clients,
                       &e->fed->agencies[RB_SENDER], false,
                       RB_HS_MAX_DEFAULT) == 0 &&
        run_load(e, pool, r, loops, n_loops) == 0 &&
        rb_relay_check(e->fed) == 0)
        rc = 0;
    if (rc != 0)
        explain_failure(e);
    for (size_t k = 0; k < n_loops; k++) /* close before the relay stops */
        for (size_t i = 0; i < loops[k].n; i++)
            rb_conn_close(&loops[k].conns[i]);
    if ((rc != 0 || !keep) && rb_relay_stop(e->fed) != 0)
        rc = -1;
    return rc;
}

static void print_row(const row_t *r, const char *label, size_t env_len)
{
    printf("%-22s %9.0f %7.1f %8.3f %8.3f %8.3f %6llu %5.0f%% %5.0f%% "
           "%5.0f%% %5.0f%%\n", label, r->acks_per_s,
           r->acks_per_s * (double)env_len / 1e6, rb_lat_ms(&r->lat, 0.5),
           rb_lat_ms(&r->lat, 0.99), rb_lat_ms(&r->lat, 0.999),
           (unsigned long long)r->errors, r->cpu.relay, r->cpu.top,
           r->cpu.self, r->cpu.other);
    if (r->exhausted)
        printf("      (the %zu pre-sealed envelopes ran out %.2f s into the "
               "measured window: rate over that time; raise --pool)\n",
               r->limit, r->secs);
}

static void print_head(const char *first)
{
    printf("%-22s %9s %7s %8s %8s %8s %6s %6s %6s %6s %6s\n", first,
           "acks/s", "MB/s", "p50 ms", "p99 ms", "p99.9 ms", "errors",
           "relay", "r.top", "bench", "other");
}

/* Runs one row and prints it; 0 or -1 (the row's failure reported). */
static int one_row(rb_env_t *e, rb_pool_t *pool, row_t *r, const char *label)
{
    rb_loop_t *loops = NULL;
    size_t n_loops = 0;
    int rc = row_run(e, pool, r, &loops, &n_loops, false);

    if (rc == 0)
        print_row(r, label, pool->env_len);
    else
        printf("%-22s failed (see above)\n", label);
    if (loops != NULL)
        rb_print_errors(loops, n_loops);
    fflush(stdout);
    rb_loops_free(loops, n_loops);
    return rc;
}

int rb_throughput(rb_env_t *e)
{
    rb_pool_t *pools[2] = {e->pool_1k, e->pool_16k};
    int rc = 0;

    printf("\n== throughput: closed loop, each client keeps %u Submits in "
           "flight; %.1f s measured after %.1f s of warm-up (all clients "
           "authenticate as %s, envelopes to %s) ==\n", e->o->window,
           e->o->seconds, e->o->warmup, e->fed->agencies[RB_SENDER].id,
           e->fed->agencies[RB_RECIPIENT].id);
    print_head("clients x envelope");
    for (size_t s = 0; s < 2; s++) {
        for (size_t k = 0; k < e->o->n_clients && !rb_interrupted; k++) {
            row_t r = {0};
            char label[48];

            r.clients = e->o->clients[k];
            r.window = e->o->window;
            r.limit = pools[s]->n;
            r.seconds = (uint64_t)(e->o->seconds * 1e9);
            r.warm = (uint64_t)(e->o->warmup * 1e9);
            snprintf(label, sizeof label, "%zu x %zu B", r.clients,
                     pools[s]->env_len);
            if (one_row(e, pools[s], &r, label) != 0)
                rc = -1;
            else if (s == 0 && r.clients == 64)
                e->res.acks_1k_64 = r.acks_per_s;
            rb_lat_free(&r.lat);
        }
    }
    return rc;
}

int rb_latency(rb_env_t *e)
{
    row_t one = {0}, open = {0};
    char label[48];
    int rc = 0;

    printf("\n== latency: Submit sent -> SubmitResult received, %zu B "
           "envelopes, %.1f s measured after %.1f s of warm-up ==\n",
           e->pool_1k->env_len, e->o->seconds, e->o->warmup);
    print_head("load");
    one = (row_t){.clients = 1, .window = 1, .limit = e->pool_1k->n,
                  .seconds = (uint64_t)(e->o->seconds * 1e9),
                  .warm = (uint64_t)(e->o->warmup * 1e9)};
    if (one_row(e, e->pool_1k, &one, "1 client, 1 in flight") == 0)
        e->res.p50_one = rb_lat_ms(&one.lat, 0.5);
    else
        rc = -1;
    open = (row_t){.clients = e->o->lat_clients, .window = 0,
                   .rate = e->o->rate, .limit = e->pool_1k->n,
                   .seconds = (uint64_t)(e->o->seconds * 1e9),
                   .warm = (uint64_t)(e->o->warmup * 1e9)};
    snprintf(label, sizeof label, "%.0f/s over %zu clients", e->o->rate,
             e->o->lat_clients);
    if (!rb_interrupted && one_row(e, e->pool_1k, &open, label) == 0) {
        e->res.p99_open = rb_lat_ms(&open.lat, 0.99);
        printf("      open loop: latency from each Submit's scheduled time; "
               "the generator sent at most %.3f ms late; max %.3f ms\n",
               (double)open.lag_max / 1e6, rb_lat_ms(&open.lat, 1.0));
    } else {
        rc = -1;
    }
    rb_lat_free(&one.lat);
    rb_lat_free(&open.lat);
    return rc;
}

/* ---- drain ---- */

typedef struct {
    rb_idset_t seen;
    size_t expected, delivered, dups;
    uint64_t t_auth, t_done, t_stop; /* t_stop: t_done, or when it gave up */
    const uint8_t *verify_pk;
} drain_t;

static void drain_ready(rb_conn_t *c, uint64_t now)
{
    drain_t *d = c->loop->ctx;

    d->t_auth = now;
}

/* Checks a Deliver (the bytes are those the accepted evidence names) and
 * acknowledges it. */
static int on_deliver(rb_conn_t *c, const Amanat__V1__Deliver *dv,
                      drain_t *d, uint64_t now)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;
    uint8_t hash[32], mid[16];
    char why[160] = "";
    int added;

    if (am_hash256(dv->envelope.data, dv->envelope.len, hash) != 0 ||
        rb_check_accepted(dv->accepted, hash, d->verify_pk, mid, why,
                          sizeof why) != 0)
        return rb_loop_fail(c->loop, "drain: Deliver number %zu: %s",
                            d->delivered + d->dups + 1, why);
    if ((added = rb_idset_add(&d->seen, mid)) < 0)
        return rb_loop_fail(c->loop, "drain: more distinct envelopes "
                            "delivered than the %zu submitted", d->expected);
    if (added) {
        c->loop->acks++;
        if (++d->delivered == d->expected)
            d->t_done = now;
    } else {
        d->dups++;
    }
    a.message_id = (ProtobufCBinaryData){16, mid};
    f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    f.delivery_ack = &a;
    return rb_conn_send(c, &f);
}

static int drain_frame(rb_conn_t *c, const Amanat__V1__Frame *f,
                       uint64_t now)
{
    drain_t *d = c->loop->ctx;

    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_DELIVER:
        return on_deliver(c, f->deliver, d, now);
    case AMANAT__V1__FRAME__OP_ERROR:
        rb_loop_note_error(c->loop, f->error);
        return 0;
    case AMANAT__V1__FRAME__OP_PONG:
    case AMANAT__V1__FRAME__OP_RECEIPT_RELAY:
        return 0;
    default:
        return rb_loop_fail(c->loop, "drain: unexpected frame %d",
                            (int)f->op_case);
    }
}

static bool drain_done(rb_loop_t *l, uint64_t now)
{
    drain_t *d = l->ctx;

    (void)now;
    return d->delivered == d->expected;
}

static const rb_ops_t drain_ops = {drain_ready, drain_frame, NULL,
                                   drain_done};

/* The recipient connects with Hello.receive and takes the backlog. */
static int receive_backlog(rb_env_t *e, drain_t *d, rb_cpu_use_t *cpu)
{
    rb_loop_t *l = calloc(1, sizeof *l);
    rb_cpu_use_t u;
    rb_cpu_t a, b;
    int rc = -1;

    if (l == NULL || rb_loop_init(l, e->fed, e->fed->port, 1) != 0) {
        fprintf(stderr, "%s: drain: %s\n", RB_PROG,
                l ? l->err : "out of memory");
        rb_loops_free(l, l ? 1 : 0);
        return -1;
    }
    rb_loop_queue(l, 0, &e->fed->agencies[RB_RECIPIENT], true);
    rb_cpu_snap(e->fed->pid, &a);
    rc = rb_loops_run(l, 1, &drain_ops, d,
                      rb_now() + (60 + (uint64_t)d->expected / 500) * RB_NS,
                      "drain");
    d->t_stop = d->t_done ? d->t_done : rb_now();
    rb_cpu_snap(e->fed->pid, &b);
    rb_cpu_delta(&a, &b, &u);
    *cpu = u;
    if (rc != 0)
        fprintf(stderr, "%s: drain: %zu of %zu delivered when it stopped\n",
                RB_PROG, d->delivered, d->expected);
    rb_print_errors(l, 1);
    rb_loops_free(l, 1);
    return rc;
}

static void print_drain(const row_t *fill, const drain_t *d, size_t env_len,
                        const rb_cpu_use_t *cpu, rb_env_t *e)
{
    double secs = (double)(d->t_stop - d->t_auth) / 1e9;
    double rate = secs > 0 ? (double)d->delivered / secs : 0;

    printf("backlog: %zu envelopes of %zu B submitted by %zu clients in "
           "%.2f s (%.0f acks/s, %llu errors)\n", d->expected, env_len,
           fill->clients, fill->secs, fill->acks_per_s,
           (unsigned long long)fill->errors);
    if (d->t_auth == 0) {
        printf("drain:   the recipient was not authenticated\n");
        return;
    }
    printf("drain:   %zu %s%zu delivered and acknowledged in %.2f s from "
           "AuthResult: %.0f envelopes/s (%zu delivered twice)%s\n",
           d->delivered, d->t_done ? "of " : "(not all!) of ", d->expected,
           secs, rate, d->dups, d->t_done ? "" : "; gave up");
    printf("         cpu: relay %.0f%%, its busiest thread %.0f%%, bench "
           "%.0f%%, other processes %.0f%%\n", cpu->relay, cpu->top,
           cpu->self, cpu->other);
    e->res.drain = rate;
}

int rb_drain(rb_env_t *e)
{
    row_t fill = {0};
    drain_t d = {0};
    rb_loop_t *loops = NULL;
    size_t n_loops = 0;
    rb_cpu_use_t cpu = {0, 0, 0, 0};
    int rc;

    printf("\n== drain: a backlog to %s while it is offline, then it "
           "connects with receive = true and acknowledges each Deliver (at "
           "most %llu s) ==\n", e->fed->agencies[RB_RECIPIENT].id,
           (unsigned long long)(60 + e->o->backlog / 500));
    fill = (row_t){.clients = e->o->lat_clients, .window = e->o->window,
                   .limit = e->o->backlog, .seconds = UINT64_MAX};
    d.expected = e->o->backlog;
    d.verify_pk = e->o->verify ? e->fed->relay.sign_pk : NULL;
    if (rb_idset_init(&d.seen, d.expected) != 0) {
        fprintf(stderr, "%s: out of memory\n", RB_PROG);
        return -1;
    }
    rc = row_run(e, e->pool_1k, &fill, &loops, &n_loops, true);
    if (rc == 0 && fill.acks != d.expected) {
        fprintf(stderr, "%s: drain: %llu of %zu backlog envelopes were "
                "accepted\n", RB_PROG, (unsigned long long)fill.acks,
                d.expected);
        rc = -1;
    }
    rb_print_errors(loops, n_loops);
    rb_loops_free(loops, n_loops);
    if (rc == 0) {
        int rc2 = receive_backlog(e, &d, &cpu);

        print_drain(&fill, &d, e->pool_1k->env_len, &cpu, e);
        if (rc2 == 0)
            rc2 = rb_sender_evidence(e, d.expected, d.t_auth);
        if (rc2 != 0) {
            explain_failure(e);
            rc = -1;
        }
    }
    if (rb_relay_stop(e->fed) != 0)
        rc = -1;
    rb_lat_free(&fill.lat);
    rb_idset_free(&d.seen);
    fflush(stdout);
    return rc;
}
