/* fuzz_framedec: the incremental length-prefix decoder (am_framedec_*).
 *
 * Input: a 6-byte header, then the stream.
 *   byte 0   bit 0: 4-byte prefix (else 2); bits 1-2: chunking (0: 1..8
 *            bytes, 1: 1..64, 2: 1..4096, 3: any size, empty feeds too);
 *            bit 3: make some allocations fail; bit 4: switch the limit
 *            between max and max2 after every record; bit 5: feed again
 *            before taking a ready record; bit 6: bit 16 of max.
 *   1-2      max, reduced into 1..70000 and what the prefix can express;
 *   3        min, reduced into 1..max;
 *   4        seed of the chunk sizes;
 *   5        max2, reduced into min..the prefix's limit.
 *
 * A plain model parse of the stream gives the expected records and, if
 * the stream breaks a limit, the expected error and the offset where it is
 * detected.  One decoder gets the stream in one piece (the reference), a
 * second in chunks; both must match the model, and the chunked records
 * must equal the reference's, in order, byte for byte.  A failed
 * allocation must leave the decoder able to take the same bytes again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"
#include "frame.h"
#include "fuzz_common.h"

#define HDR_LEN 6
#define MAX_CAP 70000u /* above 65535, so that 4-byte prefixes cross it */

typedef struct {
    size_t prefix, min, max, max2;
    unsigned chunking;
    bool fail_alloc, switch_max, probe;
    uint32_t seed;
} cfg_t;

typedef struct {
    size_t off, len;
} span_t;

typedef struct {
    span_t *rec;
    size_t n_rec;
    int err;       /* 0 when the stream ends without breaking a limit */
    size_t err_at; /* bytes consumed when the error is reported */
} model_t;

typedef struct {
    uint8_t *p;
    size_t len;
} record_t;

typedef struct {
    const cfg_t *cfg;
    const model_t *model;
    const uint8_t *stream;
    am_framedec_t *d;
    record_t *ref;  /* reference run: filled; chunked run: compared */
    bool is_ref;
    size_t n_rec, consumed;
    int err;
} run_t;

typedef struct {
    unsigned calls, every;
} alloc_fail_t;

static int fail_some(size_t n, void *ctx)
{
    alloc_fail_t *a = ctx;

    (void)n;
    return ++a->calls % a->every == 0;
}

static void cfg_parse(const uint8_t *h, cfg_t *c)
{
    size_t lim, raw;

    c->prefix = h[0] & 1 ? AM_FRAME_PREFIX : AM_TRANSPORT_PREFIX;
    c->chunking = (h[0] >> 1) & 3u;
    c->fail_alloc = (h[0] & 8) != 0;
    c->switch_max = (h[0] & 16) != 0;
    c->probe = (h[0] & 32) != 0;
    lim = c->prefix == AM_TRANSPORT_PREFIX ? 0xffff : MAX_CAP;
    raw = (size_t)(h[0] >> 6 & 1) << 16 | (size_t)h[1] << 8 | h[2];
    c->max = 1 + raw % lim;
    c->min = 1 + h[3] % c->max;
    c->max2 = c->min + ((size_t)h[5] * 263u) % (lim - c->min + 1);
    c->seed = am_fz_seed(h[4]);
}

/* The limit in force for record number k (from 0). */
static size_t limit_for(const cfg_t *c, size_t k)
{
    return c->switch_max && k % 2 == 1 ? c->max2 : c->max;
}

static void model_parse(const cfg_t *c, const uint8_t *s, size_t n,
                        model_t *m)
{
    size_t pos = 0, len;

    m->n_rec = 0;
    m->err = 0;
    m->err_at = 0;
    while (n - pos >= c->prefix) {
        len = c->prefix == AM_TRANSPORT_PREFIX ? am_load_be16(s + pos)
                                               : am_load_be32(s + pos);
        pos += c->prefix;
        if (len > limit_for(c, m->n_rec) || len < c->min) {
            m->err = len < c->min ? AM_EPROTO : AM_ETOOBIG;
            m->err_at = pos;
            return;
        }
        if (n - pos < len)
            return;
        m->rec[m->n_rec].off = pos;
        m->rec[m->n_rec].len = len;
        m->n_rec++;
        pos += len;
    }
}

static void take_record(run_t *r)
{
    const span_t *want;
    uint8_t *p = NULL;
    size_t len = 0;

    AM_FZ_CHECK(am_framedec_take(r->d, &p, &len) == 0);
    AM_FZ_CHECK(p != NULL);
    AM_FZ_CHECK(len >= r->cfg->min && len <= limit_for(r->cfg, r->n_rec));
    AM_FZ_CHECK(r->n_rec < r->model->n_rec);
    want = &r->model->rec[r->n_rec];
    AM_FZ_CHECK(len == want->len);
    AM_FZ_CHECK(memcmp(p, r->stream + want->off, len) == 0);
    if (r->is_ref) {
        r->ref[r->n_rec].p = p;
        r->ref[r->n_rec].len = len;
    } else {
        AM_FZ_CHECK(len == r->ref[r->n_rec].len);
        AM_FZ_CHECK(memcmp(p, r->ref[r->n_rec].p, len) == 0);
        am_free(p);
    }
    r->n_rec++;
    /* nothing is ready any more */
    AM_FZ_CHECK(am_framedec_take(r->d, &p, &len) == AM_ESTATE);
    if (r->cfg->switch_max)
        AM_FZ_CHECK(am_framedec_set_max(r->d, limit_for(r->cfg, r->n_rec)) ==
                    0);
}

/* A failed decoder refuses everything, empty input included. */
static void check_refuses(run_t *r, const uint8_t *in, size_t len)
{
    uint8_t *p;
    size_t used = 1, plen;

    AM_FZ_CHECK(am_framedec_feed(r->d, in, len, &used) == AM_ESTATE);
    AM_FZ_CHECK(used == 0);
    AM_FZ_CHECK(am_framedec_feed(r->d, in, 0, &used) == AM_ESTATE);
    AM_FZ_CHECK(am_framedec_take(r->d, &p, &plen) == AM_ESTATE);
}

/* A ready record blocks further input until taken. */
static void probe_ready(run_t *r, const uint8_t *in, size_t len)
{
    size_t used = 1;

    AM_FZ_CHECK(am_framedec_feed(r->d, in, len, &used) == AM_ESTATE);
    AM_FZ_CHECK(used == 0);
}

/* Feed one chunk completely; false once the decoder has failed. */
static bool feed_chunk(run_t *r, const uint8_t *in, size_t len)
{
    size_t pos = 0, used;
    int rc;

    do {
        used = (size_t)-1;
        rc = am_framedec_feed(r->d, in + pos, len - pos, &used);
        AM_FZ_CHECK(used <= len - pos);
        pos += used;
        r->consumed += used;
        if (rc == AM_ENOMEM) {
            AM_FZ_CHECK(r->cfg->fail_alloc && !r->is_ref);
            continue; /* not fatal: offer the same bytes again */
        }
        if (rc < 0) {
            AM_FZ_CHECK(rc == AM_ETOOBIG || rc == AM_EPROTO);
            r->err = rc;
            check_refuses(r, in + pos, len - pos);
            return false;
        }
        if (rc == 0) {
            AM_FZ_CHECK(pos == len);
            return true;
        }
        AM_FZ_CHECK(rc == 1 && used > 0);
        if (r->cfg->probe)
            probe_ready(r, in + pos, len - pos);
        take_record(r);
    } while (pos < len);
    return true;
}

static size_t next_chunk(const cfg_t *c, uint32_t *st, size_t left)
{
    uint32_t x = am_fz_rand(st);

    switch (c->chunking) {
    case 0:
        return 1 + x % 8;
    case 1:
        return 1 + x % 64;
    case 2:
        return 1 + x % 4096;
    default:
        return x % 8 == 0 ? 0 : 1 + (x >> 3) % (left ? left : 1);
    }
}

static void run(run_t *r, const uint8_t *s, size_t n)
{
    static alloc_fail_t af;
    uint32_t st = r->cfg->seed;
    size_t pos = 0, k;

    if (r->cfg->fail_alloc && !r->is_ref) {
        af.calls = 0;
        af.every = 2 + r->cfg->seed % 3;
        am_alloc_set_hook(fail_some, &af);
    }
    if (r->is_ref) {
        feed_chunk(r, s, n);
    } else {
        do {
            k = next_chunk(r->cfg, &st, n - pos);
            if (k > n - pos)
                k = n - pos;
            if (!feed_chunk(r, s + pos, k))
                break;
            pos += k;
        } while (pos < n);
    }
    am_alloc_set_hook(NULL, NULL);
    AM_FZ_CHECK(r->err == r->model->err);
    AM_FZ_CHECK(r->n_rec == r->model->n_rec);
    AM_FZ_CHECK(r->consumed == (r->err ? r->model->err_at : n));
}

static void check_set_max(const cfg_t *c, am_framedec_t *d)
{
    size_t lim = c->prefix == AM_TRANSPORT_PREFIX ? 0xffff
                                                  : AM_FRAME_MAX_CEILING;

    AM_FZ_CHECK(am_framedec_set_max(d, lim + 1) == AM_EINVAL);
    if (c->min > 1)
        AM_FZ_CHECK(am_framedec_set_max(d, c->min - 1) == AM_EINVAL);
    AM_FZ_CHECK(am_framedec_set_max(d, c->max) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfg_t cfg;
    model_t model = {0};
    record_t *ref = NULL;
    run_t a = {0}, b = {0};
    const uint8_t *s;
    size_t n, cap;

    if (size < HDR_LEN)
        return 0;
    cfg_parse(data, &cfg);
    s = data + HDR_LEN;
    n = size - HDR_LEN;
    cap = n / (cfg.prefix + 1) + 1;
    model.rec = calloc(cap, sizeof *model.rec);
    ref = calloc(cap, sizeof *ref);
    AM_FZ_CHECK(model.rec != NULL && ref != NULL);
    model_parse(&cfg, s, n, &model);

    a = (run_t){.cfg = &cfg, .model = &model, .stream = s, .ref = ref,
                .is_ref = true};
    b = (run_t){.cfg = &cfg, .model = &model, .stream = s, .ref = ref};
    AM_FZ_CHECK(am_framedec_new(&a.d, cfg.prefix, cfg.min, cfg.max) == 0);
    AM_FZ_CHECK(am_framedec_new(&b.d, cfg.prefix, cfg.min, cfg.max) == 0);
    check_set_max(&cfg, b.d);
    run(&a, s, n);
    run(&b, s, n);

    for (size_t i = 0; i < a.n_rec; i++)
        am_free(ref[i].p);
    am_framedec_free(a.d);
    am_framedec_free(b.d);
    free(ref);
    free(model.rec);
    return 0;
}
