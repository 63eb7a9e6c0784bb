/* relay_bench: after the drain, how long until the sender holds the
 * relay's delivered evidence for every envelope drained.  The relay logs
 * an acknowledgement and folds it into its tables later (relay/
 * store_fold.c); the evidence is owed from the fold on, so the drain's
 * figure alone would hide that work.  The sender connects with
 * receive = true once the drain is over, takes every ReceiptRelay and
 * acknowledges it (ReceiptAck), counting distinct delivered evidence. */
#include "relay_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t expected, got;
    uint64_t t_done;
    rb_idset_t seen;
} ev_t;

/* Counts one piece of evidence; its reference goes into the ack. */
static int count_one(rb_loop_t *l, ev_t *v, const Amanat__V1__Evidence *e,
                     Amanat__V1__EvidenceRef *ref, uint8_t id[16],
                     char who[64])
{
    Amanat__V1__EvidenceBody *b = NULL;
    int added = 0;

    if (e == NULL || (b = amanat__v1__evidence_body__unpack(
                          NULL, e->body.len, e->body.data)) == NULL ||
        b->message_id.len != 16 || b->recipient_id == NULL)
        goto bad;
    if (b->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DELIVERED &&
        (added = rb_idset_add(&v->seen, b->message_id.data)) < 0)
        goto bad;
    v->got += added > 0;
    memcpy(id, b->message_id.data, 16);
    snprintf(who, 64, "%s", b->recipient_id);
    ref->kind = b->kind;
    ref->message_id = (ProtobufCBinaryData){16, id};
    ref->recipient_id = who;
    amanat__v1__evidence_body__free_unpacked(b, NULL);
    return 0;
bad:
    if (b != NULL)
        amanat__v1__evidence_body__free_unpacked(b, NULL);
    return rb_loop_fail(l, "evidence: a piece of evidence that does not "
                        "parse, or more than were delivered");
}

static int on_receipts(rb_conn_t *c, const Amanat__V1__ReceiptRelay *rr,
                       ev_t *v, uint64_t now)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck a = AMANAT__V1__RECEIPT_ACK__INIT;
    size_t n = rr->n_evidence;
    Amanat__V1__EvidenceRef *refs = calloc(n ? n : 1, sizeof *refs);
    Amanat__V1__EvidenceRef **rp = calloc(n ? n : 1, sizeof *rp);
    uint8_t(*ids)[16] = calloc(n ? n : 1, 16);
    char(*who)[64] = calloc(n ? n : 1, 64);
    int rc = 0;

    if (refs == NULL || rp == NULL || ids == NULL || who == NULL)
        rc = rb_loop_fail(c->loop, "evidence: out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        amanat__v1__evidence_ref__init(&refs[i]);
        rp[i] = &refs[i];
        rc = count_one(c->loop, v, rr->evidence[i], &refs[i], ids[i], who[i]);
    }
    if (rc == 0 && v->got == v->expected && v->t_done == 0)
        v->t_done = now;
    if (rc == 0) {
        a.n_refs = n;
        a.refs = rp;
        f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
        f.receipt_ack = &a;
        rc = rb_conn_send(c, &f);
    }
    free(refs);
    free(rp);
    free(ids);
    free(who);
    return rc;
}

static int ev_frame(rb_conn_t *c, const Amanat__V1__Frame *f, uint64_t now)
{
    ev_t *v = c->loop->ctx;

    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_RECEIPT_RELAY:
        return on_receipts(c, f->receipt_relay, v, now);
    case AMANAT__V1__FRAME__OP_ERROR:
        rb_loop_note_error(c->loop, f->error);
        return 0;
    case AMANAT__V1__FRAME__OP_PONG:
        return 0;
    default:
        return rb_loop_fail(c->loop, "evidence: unexpected frame %d",
                            (int)f->op_case);
    }
}

static bool ev_done(rb_loop_t *l, uint64_t now)
{
    ev_t *v = l->ctx;

    (void)now;
    return v->got == v->expected;
}

static const rb_ops_t ev_ops = {NULL, ev_frame, NULL, ev_done};

int rb_sender_evidence(rb_env_t *e, size_t expected, uint64_t t_start)
{
    rb_loop_t *l = calloc(1, sizeof *l);
    ev_t v = {.expected = expected};
    int rc = -1;

    if (l == NULL || rb_idset_init(&v.seen, expected) != 0 ||
        rb_loop_init(l, e->fed, e->fed->port, 1) != 0) {
        fprintf(stderr, "%s: evidence: %s\n", RB_PROG,
                l && l->inited ? l->err : "out of memory");
        goto out;
    }
    rb_loop_queue(l, 0, &e->fed->agencies[RB_SENDER], true);
    rc = rb_loops_run(l, 1, &ev_ops, &v,
                      rb_now() + (60 + (uint64_t)expected / 500) * RB_NS,
                      "evidence");
    if (rc == 0)
        printf("evidence: the sender held delivered evidence for all %zu "
               "%.2f s after the drain began (the relay folds each "
               "acknowledgement into its tables after the drain, then owes "
               "and signs the evidence)\n",
               expected, (double)(v.t_done - t_start) / 1e9);
    else
        fprintf(stderr, "%s: evidence: %zu of %zu delivered evidence when "
                "it stopped\n", RB_PROG, v.got, expected);
    rb_print_errors(l, 1);
out:
    if (l != NULL)
        rb_loops_free(l, 1);
    rb_idset_free(&v.seen);
    return rc;
}
