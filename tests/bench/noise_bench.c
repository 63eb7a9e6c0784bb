/* noise_bench [--seconds S]: prints what the Noise engine costs on one core.
 *
 * DESIGN.  Everything runs in one thread: both ends of every handshake and
 * channel live in this process, so each figure is the single-core cost of
 * *both* sides (the handshake also splits it per side).  The handshake is
 * the production one: AM_NOISE_PROTOCOL, AM_NOISE_PROLOGUE, a static key per
 * side, random ephemerals, empty payloads, three messages, split on both
 * sides.  Transport is timed through the channel (am_chan_seal, then
 * am_chan_feed/am_chan_take on the peer: a 64 KiB frame spans two transport
 * messages) and through the bare CipherStates.
 *
 * Each measurement runs one checked, untimed operation (decrypted bytes,
 * handshake hashes and peer keys compared), then timed batches until S
 * seconds of wall time (CLOCK_MONOTONIC) have passed, then one more checked
 * operation.  Any error exits 1: a figure measured over failures would be
 * worse than none.  Times never fail the program (STYLE.md, Tests).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bench.h"
#include "channel.h"
#include "err.h"
#include "frame.h"
#include "noise.h"

#define PROG "noise_bench"
#define KIB 1024u

/* Both ends of one handshake. */
typedef struct {
    am_noise_hs_t *hs;
    am_noise_cs_t *send, *recv;
} side_t;

typedef struct {
    uint8_t i_sk[AM_NOISE_DHLEN], i_pk[AM_NOISE_DHLEN];
    uint8_t r_sk[AM_NOISE_DHLEN], r_pk[AM_NOISE_DHLEN];
    double t_init, t_resp; /* seconds spent by each side, timed runs only */
} hs_bench_t;

typedef struct {
    am_chan_t *tx, *rx;
    uint8_t *body, *wire;
    size_t body_len, wire_cap;
} chan_bench_t;

typedef struct {
    am_noise_cs_t *tx, *rx;
    uint8_t *plain, *ct, *out;
    size_t len;
} cs_bench_t;

static int fail(const char *what, int rc)
{
    return bench_fail(PROG, what, rc);
}

/* Seconds since *t; *t moves to now. */
static int lap(double *t, double *acc, bool timed)
{
    double now;
    int rc;

    if ((rc = bench_now(PROG, &now)) != 0)
        return rc;
    if (timed)
        *acc += now - *t;
    *t = now;
    return 0;
}

static void side_free(side_t *s)
{
    am_noise_hs_free(s->hs);
    am_noise_cs_free(s->send);
    am_noise_cs_free(s->recv);
    memset(s, 0, sizeof *s);
}

static int side_new(side_t *s, am_noise_role_t role,
                    const uint8_t sk[static AM_NOISE_DHLEN])
{
    int rc;

    memset(s, 0, sizeof *s);
    if ((rc = am_noise_hs_new(&s->hs, AM_NOISE_PROTOCOL, role,
                              (const uint8_t *)AM_NOISE_PROLOGUE,
                              strlen(AM_NOISE_PROLOGUE))) != 0)
        return fail("am_noise_hs_new", rc);
    if ((rc = am_noise_hs_set_local_static(s->hs, sk)) != 0)
        return fail("am_noise_hs_set_local_static", rc);
    if ((rc = am_noise_hs_start(s->hs)) != 0)
        return fail("am_noise_hs_start", rc);
    return 0;
}

/* from writes one handshake message that to reads (empty payloads). */
static int hs_msg(side_t *from, side_t *to, double *t, double *acc_from,
                  double *acc_to, bool timed)
{
    uint8_t msg[AM_NOISE_MSG_MAX], payload[64];
    size_t msg_len, payload_len;
    int rc;

    if (am_noise_hs_action(from->hs) != AM_NOISE_ACTION_WRITE ||
        am_noise_hs_action(to->hs) != AM_NOISE_ACTION_READ)
        return fail("handshake action out of order", 1);
    if ((rc = am_noise_hs_write(from->hs, NULL, 0, msg, sizeof msg,
                                &msg_len)) != 0)
        return fail("am_noise_hs_write", rc);
    if ((rc = lap(t, acc_from, timed)) != 0)
        return rc;
    if ((rc = am_noise_hs_read(to->hs, msg, msg_len, payload, sizeof payload,
                               &payload_len)) != 0)
        return fail("am_noise_hs_read", rc);
    if (payload_len != 0)
        return fail("handshake payload not empty", 1);
    return lap(t, acc_to, timed);
}

static int side_split(side_t *s)
{
    int rc;

    if (am_noise_hs_action(s->hs) != AM_NOISE_ACTION_SPLIT)
        return fail("handshake not ready to split", 1);
    if ((rc = am_noise_hs_split(s->hs, &s->send, &s->recv)) != 0)
        return fail("am_noise_hs_split", rc);
    if (s->send == NULL || s->recv == NULL)
        return fail("split gave no CipherState", 1);
    return 0;
}

/* One transport message from -> to, compared after decryption. */
static int check_transport(am_noise_cs_t *from, am_noise_cs_t *to)
{
    uint8_t plain[100], ct[sizeof plain + AM_NOISE_TAGLEN], out[sizeof plain];
    size_t ct_len, out_len;
    int rc;

    randombytes_buf(plain, sizeof plain);
    if ((rc = am_noise_cs_encrypt(from, NULL, 0, plain, sizeof plain, ct,
                                  sizeof ct, &ct_len)) != 0)
        return fail("am_noise_cs_encrypt", rc);
    if ((rc = am_noise_cs_decrypt(to, NULL, 0, ct, ct_len, out, sizeof out,
                                  &out_len)) != 0)
        return fail("am_noise_cs_decrypt", rc);
    if (out_len != sizeof plain || memcmp(out, plain, sizeof plain) != 0)
        return fail("transport plaintext differs after split", 1);
    return 0;
}

/* Both sides agree on h and each holds the other's static key. */
static int check_handshake(const hs_bench_t *b, const side_t *i,
                           const side_t *r)
{
    uint8_t hi[64], hr[64], pk[AM_NOISE_DHLEN];
    size_t hi_len, hr_len;
    int rc;

    if ((rc = am_noise_hs_hash(i->hs, hi, &hi_len)) != 0 ||
        (rc = am_noise_hs_hash(r->hs, hr, &hr_len)) != 0)
        return fail("am_noise_hs_hash", rc);
    if (hi_len != 64 || hr_len != 64 || sodium_memcmp(hi, hr, 64) != 0)
        return fail("handshake hashes differ", 1);
    if ((rc = am_noise_hs_remote_static(i->hs, pk)) != 0)
        return fail("am_noise_hs_remote_static", rc);
    if (memcmp(pk, b->r_pk, sizeof pk) != 0)
        return fail("initiator got the wrong responder key", 1);
    if ((rc = am_noise_hs_remote_static(r->hs, pk)) != 0)
        return fail("am_noise_hs_remote_static", rc);
    if (memcmp(pk, b->i_pk, sizeof pk) != 0)
        return fail("responder got the wrong initiator key", 1);
    return 0;
}

/* Runs a full XX handshake: -> e; <- e, ee, s, es; -> s, se.  On success
 * i and r hold split CipherStates (caller frees them with side_free). */
static int hs_run(hs_bench_t *b, side_t *i, side_t *r, bool timed)
{
    double t;
    int rc;

    if ((rc = bench_now(PROG, &t)) != 0 ||
        (rc = side_new(i, AM_NOISE_INITIATOR, b->i_sk)) != 0 ||
        (rc = lap(&t, &b->t_init, timed)) != 0 ||
        (rc = side_new(r, AM_NOISE_RESPONDER, b->r_sk)) != 0 ||
        (rc = lap(&t, &b->t_resp, timed)) != 0)
        return rc;
    if ((rc = hs_msg(i, r, &t, &b->t_init, &b->t_resp, timed)) != 0 ||
        (rc = hs_msg(r, i, &t, &b->t_resp, &b->t_init, timed)) != 0 ||
        (rc = hs_msg(i, r, &t, &b->t_init, &b->t_resp, timed)) != 0)
        return rc;
    if ((rc = side_split(i)) != 0 || (rc = lap(&t, &b->t_init, timed)) != 0 ||
        (rc = side_split(r)) != 0 || (rc = lap(&t, &b->t_resp, timed)) != 0)
        return rc;
    return check_handshake(b, i, r);
}

static int hs_op(void *ctx, bool checked)
{
    hs_bench_t *b = ctx;
    side_t i = {0}, r = {0};
    double t;
    int rc;

    if ((rc = hs_run(b, &i, &r, !checked)) != 0)
        goto out;
    if (checked && ((rc = check_transport(i.send, r.recv)) != 0 ||
                    (rc = check_transport(r.send, i.recv)) != 0))
        goto out;
    if ((rc = bench_now(PROG, &t)) != 0)
        goto out;
    side_free(&i);
    if ((rc = lap(&t, &b->t_init, !checked)) != 0)
        goto out;
    side_free(&r);
    rc = lap(&t, &b->t_resp, !checked);
out:
    side_free(&i);
    side_free(&r);
    return rc;
}

/* Transport CipherStates for the other measurements, from one handshake. */
static int make_pair(hs_bench_t *b, side_t *i, side_t *r)
{
    int rc;

    if ((rc = hs_run(b, i, r, false)) != 0) {
        side_free(i);
        side_free(r);
    }
    return rc;
}

static int chan_op(void *ctx, bool checked)
{
    chan_bench_t *c = ctx;
    uint8_t *got = NULL;
    size_t wire_len, pos = 0, used, got_len;
    unsigned frames = 0;
    int rc;

    if ((rc = am_chan_seal(c->tx, c->body, c->body_len, c->wire, c->wire_cap,
                           &wire_len)) != 0)
        return fail("am_chan_seal", rc);
    while (pos < wire_len) {
        if ((rc = am_chan_feed(c->rx, c->wire + pos, wire_len - pos,
                               &used)) < 0)
            return fail("am_chan_feed", rc);
        pos += used;
        if (rc == 0)
            break;
        if ((rc = am_chan_take(c->rx, &got, &got_len)) != 0)
            return fail("am_chan_take", rc);
        frames++;
        if (checked && (got_len != c->body_len ||
                        memcmp(got, c->body, got_len) != 0)) {
            am_free(got);
            return fail("channel frame differs from what was sealed", 1);
        }
        am_free(got);
    }
    if (pos != wire_len || frames != 1)
        return fail("channel did not deliver exactly one frame", 1);
    return 0;
}

static int cs_op(void *ctx, bool checked)
{
    cs_bench_t *c = ctx;
    size_t ct_len, out_len;
    int rc;

    if ((rc = am_noise_cs_encrypt(c->tx, NULL, 0, c->plain, c->len, c->ct,
                                  c->len + AM_NOISE_TAGLEN, &ct_len)) != 0)
        return fail("am_noise_cs_encrypt", rc);
    if ((rc = am_noise_cs_decrypt(c->rx, NULL, 0, c->ct, ct_len, c->out,
                                  c->len, &out_len)) != 0)
        return fail("am_noise_cs_decrypt", rc);
    if (out_len != c->len)
        return fail("decrypted length differs", 1);
    if (checked && memcmp(c->out, c->plain, c->len) != 0)
        return fail("decrypted bytes differ", 1);
    return 0;
}

static void row(const char *name, const bench_run_t *r, size_t bytes_per_op)
{
    double ops = (double)r->ops / r->secs;

    printf("%-34s %12.1f %10.2f", name, ops, 1e6 / ops);
    if (bytes_per_op > 0)
        printf(" %10.1f\n", ops * (double)bytes_per_op / 1e6);
    else
        printf(" %10s\n", "-");
}

static int bench_handshake(hs_bench_t *keys, double seconds)
{
    bench_run_t r;
    int rc;

    keys->t_init = keys->t_resp = 0;
    if ((rc = bench_run_for(PROG, hs_op, keys, seconds, &r)) != 0)
        return rc;
    row("XX handshake, both sides", &r, 0);
    printf("%-34s %12s %10.2f %10s\n", "  initiator's calls", "-",
           keys->t_init / (double)r.ops * 1e6, "-");
    printf("%-34s %12s %10.2f %10s\n", "  responder's calls", "-",
           keys->t_resp / (double)r.ops * 1e6, "-");
    return 0;
}

static int bench_chan(hs_bench_t *keys, size_t body_len, double seconds)
{
    chan_bench_t c = {0};
    side_t i = {0}, r = {0};
    char name[64];
    bench_run_t run;
    int rc;

    if ((rc = make_pair(keys, &i, &r)) != 0)
        return rc;
    if ((rc = am_chan_new(&c.tx, i.send, i.recv, AM_FRAME_MAX_DEFAULT)) != 0) {
        side_free(&i);
        side_free(&r);
        return fail("am_chan_new", rc);
    }
    i.send = i.recv = NULL; /* the channel owns them now */
    if ((rc = am_chan_new(&c.rx, r.send, r.recv, AM_FRAME_MAX_DEFAULT)) != 0) {
        rc = fail("am_chan_new", rc);
        goto out;
    }
    r.send = r.recv = NULL;
    c.body_len = body_len;
    c.wire_cap = am_chan_sealed_len(body_len);
    if ((c.body = malloc(body_len)) == NULL ||
        (c.wire = malloc(c.wire_cap)) == NULL) {
        rc = fail("malloc", AM_ENOMEM);
        goto out;
    }
    randombytes_buf(c.body, body_len);
    if ((rc = bench_run_for(PROG, chan_op, &c, seconds, &run)) != 0)
        goto out;
    snprintf(name, sizeof name, "channel seal+feed/take %zu KiB",
             body_len / KIB);
    row(name, &run, body_len);
out:
    side_free(&i);
    side_free(&r);
    am_chan_free(c.tx);
    am_chan_free(c.rx);
    free(c.body);
    free(c.wire);
    return rc;
}

static int bench_cs(hs_bench_t *keys, size_t len, double seconds)
{
    cs_bench_t c = {0};
    side_t i = {0}, r = {0};
    char name[64];
    bench_run_t run;
    int rc;

    if ((rc = make_pair(keys, &i, &r)) != 0)
        return rc;
    c.tx = i.send;
    c.rx = r.recv;
    c.len = len;
    if ((c.plain = malloc(len)) == NULL ||
        (c.ct = malloc(len + AM_NOISE_TAGLEN)) == NULL ||
        (c.out = malloc(len)) == NULL) {
        rc = fail("malloc", AM_ENOMEM);
        goto out;
    }
    randombytes_buf(c.plain, len);
    if ((rc = bench_run_for(PROG, cs_op, &c, seconds, &run)) != 0)
        goto out;
    snprintf(name, sizeof name, "cs encrypt+decrypt %zu B", len);
    row(name, &run, len);
out:
    side_free(&i);
    side_free(&r);
    free(c.plain);
    free(c.ct);
    free(c.out);
    return rc;
}

static void header(double seconds)
{
    printf("noise_bench: %s, prologue \"%s\", libsodium %s\n",
           AM_NOISE_PROTOCOL, AM_NOISE_PROLOGUE, sodium_version_string());
    bench_print_host(seconds);
    printf("\n%-34s %12s %10s %10s\n", "measurement", "ops/s", "us/op",
           "MB/s");
}

int main(int argc, char **argv)
{
    static const size_t chan_sizes[] = {1 * KIB, 64 * KIB};
    static const size_t cs_sizes[] = {1 * KIB, AM_NOISE_PAYLOAD_MAX};
    hs_bench_t keys = {0};
    double seconds = 1.0;
    int rc = 0;

    if (bench_parse_seconds(PROG, argc, argv, &seconds) != 0)
        return 2;
    if (sodium_init() < 0) {
        fprintf(stderr, "noise_bench: sodium_init failed\n");
        return 1;
    }
    /* Static keys are long-term: made once, outside every timing. */
    randombytes_buf(keys.i_sk, sizeof keys.i_sk);
    randombytes_buf(keys.r_sk, sizeof keys.r_sk);
    if (crypto_scalarmult_curve25519_base(keys.i_pk, keys.i_sk) != 0 ||
        crypto_scalarmult_curve25519_base(keys.r_pk, keys.r_sk) != 0) {
        fprintf(stderr, "noise_bench: static key derivation failed\n");
        rc = AM_EKEY;
        goto out;
    }
    header(seconds);
    if ((rc = bench_handshake(&keys, seconds)) != 0)
        goto out;
    for (size_t k = 0; k < sizeof chan_sizes / sizeof *chan_sizes; k++)
        if ((rc = bench_chan(&keys, chan_sizes[k], seconds)) != 0)
            goto out;
    for (size_t k = 0; k < sizeof cs_sizes / sizeof *cs_sizes; k++)
        if ((rc = bench_cs(&keys, cs_sizes[k], seconds)) != 0)
            goto out;
    printf("\nus/op: one full operation, both sides.  MB/s: 10^6 application"
           " bytes per second,\neach byte sealed and opened on this one "
           "core (a one-way sender or receiver\ndoes roughly half the work)."
           "\n");
out:
    sodium_memzero(&keys, sizeof keys);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}
