/* federation_bench: the two measurements (federation_bench.c describes
 * them).  One epoll loop holds both clients: connection 0, the sender
 * (PK-NCCIA) on relay A, and connection 1, the recipient (DE-BKA, with
 * Hello.receive) on relay B.  Submits start when both are authenticated.
 * Each envelope's Submit frame carries request_id = its pool index + 1,
 * which names it in A's SubmitResult; a Deliver at B is matched to the
 * envelope by the BLAKE2b-256 hash of the bytes it carries.  Times are
 * taken when the Submit is sealed and written (the same turn of the loop)
 * and when the loop wakes with the answer to read.
 */
#include "federation_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

#define SENDER 0
#define RECIPIENT 1

typedef struct {
    fb_env_t *e;
    rb_pool_t *pool;
    size_t limit;    /* envelopes submitted: pool indexes [0, limit) */
    size_t counted;  /* latency figures from this index on */
    unsigned window; /* Submits in flight at A; 1 in the latency run */
    bool lockstep;   /* latency: the next after SubmitResult and Deliver */
    size_t next, n_acc, n_del, dups;
    uint64_t *sent, *acc_at, *del_at; /* per envelope, ns, 0: not yet */
    size_t *slot, cap;                /* envelope hash -> index + 1 */
    const uint8_t *pk_a, *pk_b;       /* --verify-evidence, else NULL */
    uint64_t t0, t_last_acc, t_last_del;
    rb_cpu_t cpu0[2];
    rb_lat_t e2e, acc, fwd;
} run_t;

static uint64_t hash_key(const uint8_t h[32])
{
    uint64_t k = 0;

    for (int i = 0; i < 8; i++)
        k = k << 8 | h[i];
    return k;
}

/* The index of every envelope by its hash (open addressing). */
static int index_make(run_t *r)
{
    r->cap = 1024;
    while (r->cap < 2 * r->limit)
        r->cap *= 2;
    if ((r->slot = calloc(r->cap, sizeof *r->slot)) == NULL)
        return -1;
    for (size_t i = 0; i < r->limit; i++) {
        size_t s = (size_t)hash_key(r->pool->hash[i]) & (r->cap - 1);

        while (r->slot[s] != 0)
            s = (s + 1) & (r->cap - 1);
        r->slot[s] = i + 1;
    }
    return 0;
}

/* The index of the envelope with this hash, or SIZE_MAX. */
static size_t index_find(const run_t *r, const uint8_t h[32])
{
    size_t s = (size_t)hash_key(h) & (r->cap - 1);

    for (; r->slot[s] != 0; s = (s + 1) & (r->cap - 1))
        if (memcmp(r->pool->hash[r->slot[s] - 1], h, 32) == 0)
            return r->slot[s] - 1;
    return SIZE_MAX;
}

static int run_init(run_t *r, fb_env_t *e, size_t limit)
{
    memset(r, 0, sizeof *r);
    r->e = e;
    r->pool = e->pool;
    r->limit = limit;
    r->pk_a = e->o->verify ? e->feds[FB_A].relay.sign_pk : NULL;
    r->pk_b = e->o->verify ? e->feds[FB_B].relay.sign_pk : NULL;
    if ((r->sent = calloc(limit, sizeof *r->sent)) == NULL ||
        (r->acc_at = calloc(limit, sizeof *r->acc_at)) == NULL ||
        (r->del_at = calloc(limit, sizeof *r->del_at)) == NULL ||
        index_make(r) != 0) {
        fprintf(stderr, "%s: out of memory\n", RB_PROG);
        return -1;
    }
    return 0;
}

static void run_free(run_t *r)
{
    free(r->sent);
    free(r->acc_at);
    free(r->del_at);
    free(r->slot);
    rb_lat_free(&r->e2e);
    rb_lat_free(&r->acc);
    rb_lat_free(&r->fwd);
}

/* ---- the clients ---- */

static int submit_next(rb_loop_t *l, run_t *r)
{
    rb_conn_t *c = &l->conns[SENDER];
    size_t i = r->next++;

    r->sent[i] = rb_now();
    if (rb_conn_send_body(c, r->pool->body[i], r->pool->body_len[i]) != 0)
        return -1;
    c->outstanding++;
    l->outstanding++;
    return 0;
}

static int refill(rb_loop_t *l, run_t *r)
{
    while (r->next < r->limit && l->outstanding < r->window)
        if (submit_next(l, r) != 0)
            return -1;
    return 0;
}

/* Lockstep: envelope i is through (accepted and delivered); its figures,
 * then the next one. */
static int step(rb_loop_t *l, run_t *r, size_t i)
{
    if (r->acc_at[i] == 0 || r->del_at[i] == 0)
        return 0;
    if (i >= r->counted &&
        (rb_lat_add(&r->e2e, r->del_at[i] - r->sent[i]) != 0 ||
         rb_lat_add(&r->acc, r->acc_at[i] - r->sent[i]) != 0 ||
         rb_lat_add(&r->fwd, r->del_at[i] > r->acc_at[i]
                                 ? r->del_at[i] - r->acc_at[i] : 0) != 0))
        return rb_loop_fail(l, "out of memory for latencies");
    return r->next < r->limit ? submit_next(l, r) : 0;
}

static int on_result(rb_conn_t *c, const Amanat__V1__SubmitResult *sr,
                     run_t *r, uint64_t now)
{
    rb_loop_t *l = c->loop;
    uint64_t id = sr->request_id;
    uint8_t mid[16];
    char why[160] = "";

    if (id == 0 || id > r->next || r->acc_at[id - 1] != 0)
        return rb_loop_fail(l, "%s: SubmitResult for request %llu, which is "
                            "not waiting", l->phase, (unsigned long long)id);
    if (rb_check_accepted(sr->accepted, r->pool->hash[id - 1], r->pk_a, mid,
                          why, sizeof why) != 0 ||
        sr->message_id.len != 16 || memcmp(sr->message_id.data, mid, 16) != 0)
        return rb_loop_fail(l, "%s: SubmitResult for request %llu: %s",
                            l->phase, (unsigned long long)id,
                            why[0] ? why : "message id differs from the "
                            "evidence's");
    r->acc_at[id - 1] = now;
    r->t_last_acc = now;
    r->n_acc++;
    c->outstanding--;
    l->outstanding--;
    if (r->lockstep)
        return step(l, r, id - 1);
    if (rb_lat_add(&r->acc, now - r->sent[id - 1]) != 0)
        return rb_loop_fail(l, "out of memory for latencies");
    return refill(l, r);
}

static int ack(rb_conn_t *c, const uint8_t mid[16])
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;

    a.message_id = (ProtobufCBinaryData){16, (uint8_t *)mid};
    f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    f.delivery_ack = &a;
    return rb_conn_send(c, &f);
}

static int on_deliver(rb_conn_t *c, const Amanat__V1__Deliver *dv, run_t *r,
                      uint64_t now)
{
    rb_loop_t *l = c->loop;
    uint8_t hash[32], mid[16];
    char why[160] = "";
    size_t i;

    if (am_hash256(dv->envelope.data, dv->envelope.len, hash) != 0 ||
        (i = index_find(r, hash)) == SIZE_MAX || r->sent[i] == 0)
        return rb_loop_fail(l, "%s: Deliver of %zu bytes that are no "
                            "envelope submitted in this run", l->phase,
                            dv->envelope.len);
    if (rb_check_accepted(dv->accepted, hash, r->pk_b, mid, why,
                          sizeof why) != 0)
        return rb_loop_fail(l, "%s: Deliver of envelope %zu: %s", l->phase,
                            i, why);
    if (r->del_at[i] != 0) {
        r->dups++;
        return ack(c, mid);
    }
    r->del_at[i] = now;
    r->t_last_del = now;
    r->n_del++;
    if (ack(c, mid) != 0)
        return -1;
    if (r->lockstep)
        return step(l, r, i);
    if (rb_lat_add(&r->e2e, now - r->sent[i]) != 0)
        return rb_loop_fail(l, "out of memory for latencies");
    return 0;
}

static int on_frame(rb_conn_t *c, const Amanat__V1__Frame *f, uint64_t now)
{
    run_t *r = c->loop->ctx;
    const Amanat__V1__Error *er = f->error;

    if (f->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT &&
        c->idx == SENDER)
        return on_result(c, f->submit_result, r, now);
    if (f->op_case == AMANAT__V1__FRAME__OP_DELIVER && c->idx == RECIPIENT)
        return on_deliver(c, f->deliver, r, now);
    if (f->op_case == AMANAT__V1__FRAME__OP_PONG)
        return 0;
    if (f->op_case == AMANAT__V1__FRAME__OP_ERROR)
        return rb_loop_fail(c->loop, "%s: Error frame from %s to %s: code "
                            "%d%s, request %llu: %s", c->loop->phase,
                            c->fed->relay.id, c->who->id, (int)er->code,
                            er->fatal ? ", fatal" : "",
                            (unsigned long long)er->request_id,
                            er->message ? er->message : "");
    return rb_loop_fail(c->loop, "%s: unexpected frame %d from %s to %s",
                        c->loop->phase, (int)f->op_case, c->fed->relay.id,
                        c->who->id);
}

/* Once both clients are authenticated: the first Submits. */
static int on_tick(rb_loop_t *l, uint64_t now)
{
    run_t *r = l->ctx;

    (void)now;
    if (l->primed || l->ready < 2)
        return 0;
    l->primed = true;
    rb_cpu_snap(r->e->feds[FB_A].pid, &r->cpu0[FB_A]);
    rb_cpu_snap(r->e->feds[FB_B].pid, &r->cpu0[FB_B]);
    r->t0 = rb_now();
    return refill(l, r);
}

static bool on_done(rb_loop_t *l, uint64_t now)
{
    run_t *r = l->ctx;

    (void)now;
    return l->primed && r->n_acc == r->limit && r->n_del == r->limit;
}

static const rb_ops_t ops = {NULL, on_frame, on_tick, on_done};

/* ---- one measurement ---- */

typedef struct {
    rb_cpu_use_t a, b;
    double other;
} cpu_t;

/* Both clients connect, then r's envelopes go through; within secs. */
static int run_clients(fb_env_t *e, run_t *r, uint64_t secs, cpu_t *cpu,
                       const char *phase)
{
    rb_loop_t *l = calloc(1, sizeof *l);
    rb_cpu_t a, b;
    int rc;

    if (l == NULL || rb_loop_init(l, &e->feds[FB_A], e->feds[FB_A].port,
                                  2) != 0) {
        fprintf(stderr, "%s: %s\n", RB_PROG, l ? l->err : "out of memory");
        if (l != NULL)
            rb_loop_free(l);
        free(l);
        return -1;
    }
    rb_loop_queue(l, SENDER, &e->feds[FB_A].agencies[RB_SENDER], false);
    rb_loop_queue_to(l, RECIPIENT, &e->feds[FB_B].agencies[RB_RECIPIENT],
                     true, &e->feds[FB_B]);
    rc = rb_loops_run(l, 1, &ops, r, rb_now() + secs * RB_NS, phase);
    rb_cpu_snap(e->feds[FB_A].pid, &a);
    rb_cpu_snap(e->feds[FB_B].pid, &b);
    rb_cpu_delta(&r->cpu0[FB_A], &a, &cpu->a);
    rb_cpu_delta(&r->cpu0[FB_B], &b, &cpu->b);
    /* A's "other" counts B */
    cpu->other = cpu->a.other > cpu->b.relay ? cpu->a.other - cpu->b.relay
                                             : 0;
    if (rc != 0)
        fprintf(stderr, "%s: %s: %zu of %zu submitted, %zu accepted at %s, "
                "%zu delivered at %s when it stopped\n", RB_PROG, phase,
                r->next, r->limit, r->n_acc, e->feds[FB_A].relay.id,
                r->n_del, e->feds[FB_B].relay.id);
    rb_loop_free(l); /* the clients close before the relays stop */
    free(l);
    return rc;
}

/* A pair of relays, the run, both relays checked and stopped. */
static int run_pair(fb_env_t *e, run_t *r, uint64_t secs, cpu_t *cpu,
                    const char *phase)
{
    int rc = fb_pair_start(e);

    if (rc == 0 && (rc = run_clients(e, r, secs, cpu, phase)) == 0 &&
        (rb_relay_check(&e->feds[FB_A]) != 0 ||
         rb_relay_check(&e->feds[FB_B]) != 0))
        rc = -1;
    if (rc != 0)
        fb_explain(e);
    if (fb_pair_stop(e) != 0)
        rc = -1;
    return rc;
}

static void print_cpu(const fb_env_t *e, const cpu_t *c)
{
    printf("cpu:   %s %.0f%% (busiest thread %.0f%%), %s %.0f%% (busiest "
           "thread %.0f%%), bench %.0f%%, other processes %.0f%% (of one "
           "core each)\n", e->feds[FB_A].relay.id, c->a.relay, c->a.top,
           e->feds[FB_B].relay.id, c->b.relay, c->b.top, c->a.self,
           c->other);
    if (c->other > 25)
        printf("warning: other processes used %.0f%% of a core meanwhile: "
               "the figures understate the relays; run again on an idle "
               "machine\n", c->other);
}

static void print_lat(const char *what, rb_lat_t *l)
{
    rb_lat_sort(l);
    printf("  %-48s %8.3f %8.3f %8.3f %8.3f %8zu\n", what, rb_lat_ms(l, 0.5),
           rb_lat_ms(l, 0.9), rb_lat_ms(l, 0.99), rb_lat_ms(l, 1.0), l->n);
}

static void print_lat_head(void)
{
    printf("  %-48s %8s %8s %8s %8s %8s\n", "", "p50 ms", "p90 ms",
           "p99 ms", "max ms", "count");
}

int fb_latency(fb_env_t *e)
{
    const fb_opts_t *o = e->o;
    const rb_fed_t *a = &e->feds[FB_A], *b = &e->feds[FB_B];
    cpu_t cpu;
    run_t r;
    int rc;

    printf("\n== latency: one envelope in flight, %zu envelopes of %zu B "
           "from %s at %s to %s at %s (after %zu not counted) ==\n", o->n,
           e->pool->env_len, a->agencies[RB_SENDER].id, a->relay.id,
           b->agencies[RB_RECIPIENT].id, b->relay.id, o->warmup);
    if (run_init(&r, e, o->n + o->warmup) != 0) {
        run_free(&r);
        return -1;
    }
    r.counted = o->warmup;
    r.window = 1;
    r.lockstep = true;
    rc = run_pair(e, &r, 60 + (uint64_t)r.limit / 10, &cpu, "latency");
    if (rc == 0) {
        double secs = (double)(r.t_last_del - r.t0) / 1e9;

        print_lat_head();
        print_lat("Submit -> Deliver at the recipient (end to end)", &r.e2e);
        print_lat("Submit -> SubmitResult at A (accepted)", &r.acc);
        print_lat("SubmitResult at A -> Deliver at B (forwarding)", &r.fwd);
        printf("rate:  %zu envelopes through in %.2f s, one at a time: "
               "%.0f/s (%zu delivered twice)\n", r.limit, secs,
               secs > 0 ? (double)r.limit / secs : 0, r.dups);
        print_cpu(e, &cpu);
    }
    run_free(&r);
    return rc;
}

int fb_throughput(fb_env_t *e)
{
    const fb_opts_t *o = e->o;
    const rb_fed_t *a = &e->feds[FB_A], *b = &e->feds[FB_B];
    cpu_t cpu;
    run_t r;
    int rc;

    printf("\n== forwarded throughput: %zu envelopes of %zu B from %s at %s "
           "to %s at %s, %u Submits in flight at A, the recipient "
           "acknowledging each Deliver ==\n", o->stream, e->pool->env_len,
           a->agencies[RB_SENDER].id, a->relay.id,
           b->agencies[RB_RECIPIENT].id, b->relay.id, o->window);
    if (run_init(&r, e, o->stream) != 0) {
        run_free(&r);
        return -1;
    }
    r.window = o->window;
    rc = run_pair(e, &r, 60 + (uint64_t)r.limit / 100, &cpu, "throughput");
    if (rc == 0) {
        double acc_s = (double)(r.t_last_acc - r.t0) / 1e9;
        double del_s = (double)(r.t_last_del - r.t0) / 1e9;

        printf("accepted at A:   %zu in %.2f s from the first Submit: %.0f "
               "SubmitResults/s\n", r.n_acc, acc_s,
               acc_s > 0 ? (double)r.n_acc / acc_s : 0);
        printf("delivered at B:  %zu in %.2f s from the first Submit: %.0f "
               "envelopes/s end to end (the last %.3f s after A's last "
               "SubmitResult; %zu delivered twice)\n", r.n_del, del_s,
               del_s > 0 ? (double)r.n_del / del_s : 0,
               r.t_last_del > r.t_last_acc
                   ? (double)(r.t_last_del - r.t_last_acc) / 1e9 : 0,
               r.dups);
        print_lat_head();
        print_lat("Submit -> Deliver at the recipient (end to end)", &r.e2e);
        print_lat("Submit -> SubmitResult at A (accepted)", &r.acc);
        print_cpu(e, &cpu);
    }
    run_free(&r);
    return rc;
}
