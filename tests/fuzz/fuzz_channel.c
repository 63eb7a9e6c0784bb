/* fuzz_channel: an established channel (am_chan_*) receiving untrusted
 * wire bytes, and the frames it hands out going through am_frame_parse.
 *
 * Input: a 7-byte header, then "rest".
 *   byte 0   bits 0-1, the wire (value mod 3):
 *              0  rest as it is: mostly refused at the first tag;
 *              1  rest is the application stream (4-byte lengths and
 *                 bodies, arbitrary): the peer cuts it into transport
 *                 messages of input-chosen sizes and encrypts them, so the
 *                 frame decoder behind the cipher sees arbitrary bytes;
 *              2  rest is a list of frame bodies, each sealed with
 *                 am_chan_seal by the peer: a length byte k, then k + 1
 *                 bytes of input, or when k >= 0x80 a big body of about
 *                 (k & 0x7f) KiB and a next byte, filled with a pattern,
 *                 to cross the 65535-byte transport limit;
 *            bit 2: damage the wire (bytes 4-6);  bits 3-4: feed chunking
 *            (1..8, 1..64, 1..4096 bytes, all at once);  bit 5: try
 *            am_chan_seal with one byte too little room first;  bit 6:
 *            bit 16 of frame_max.
 *   1-2      frame_max of the receiving side, reduced into 1..70000;
 *   3        seed of the chunk and message sizes;
 *   4-5      damaged byte, big-endian, modulo the wire length;
 *   6        xored into it; 0 cuts the wire there instead.
 *
 * On wires 1 and 2 the frames the receiver hands out must be exactly
 * those a model expects, in order, and the error (a frame over frame_max,
 * a zero length) the model's; a damaged wire may only deliver a prefix of
 * them.  On every wire: *used stays within what was offered, and once the
 * channel failed it refuses everything.
 *
 * A real XX handshake runs once; each input gets copies of the two
 * transport CipherStates, made through the engine's internal header, since
 * nonces advance and a failed decrypt wipes the key.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "channel.h"
#include "err.h"
#include "frame.h"
#include "fuzz_common.h"
#include "noise_internal.h"

#define HDR_LEN 7
#define FRAME_MAX_CAP 70000u
#define BODIES_MAX ((size_t)160 << 10) /* a few transport-limit crossings */

enum { WIRE_RAW, WIRE_STREAM, WIRE_SEALED };

typedef struct {
    unsigned wire, chunking;
    bool damage, short_probe;
    size_t frame_max, damage_at;
    uint8_t damage_xor;
    uint32_t seed;
} cfg_t;

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

typedef struct {
    size_t off, len;
} span_t;

/* What the receiver must hand out: records in base, then err (0: none). */
typedef struct {
    const uint8_t *base;
    span_t *rec;
    size_t n_rec, cap;
    int err;
} expect_t;

static am_noise_cs_t *tmpl_send, *tmpl_recv;

static void init_once(void)
{
    static am_fz_transcript_t t;

    if (tmpl_send != NULL)
        return;
    AM_FZ_CHECK(am_fz_handshake(&t, NULL, 0, &tmpl_send, NULL, NULL,
                                &tmpl_recv) == 0);
}

static am_noise_cs_t *cs_copy(const am_noise_cs_t *tmpl)
{
    am_noise_cs_t *cs = am_malloc(sizeof *cs);

    AM_FZ_CHECK(cs != NULL);
    memcpy(cs, tmpl, sizeof *cs);
    return cs;
}

static uint8_t *buf_room(buf_t *b, size_t more)
{
    if (b->cap - b->len < more) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < more)
            cap *= 2;
        AM_FZ_CHECK((b->p = realloc(b->p, cap)) != NULL);
        b->cap = cap;
    }
    return b->p + b->len;
}

static void expect_add(expect_t *e, size_t off, size_t len)
{
    if (e->n_rec == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 64;
        AM_FZ_CHECK((e->rec = realloc(e->rec, e->cap * sizeof *e->rec)) !=
                    NULL);
    }
    e->rec[e->n_rec].off = off;
    e->rec[e->n_rec].len = len;
    e->n_rec++;
}

static void cfg_parse(const uint8_t *h, cfg_t *c)
{
    size_t raw = (size_t)(h[0] >> 6 & 1) << 16 | (size_t)h[1] << 8 | h[2];

    c->wire = (h[0] & 3u) % 3;
    c->damage = (h[0] & 4) != 0;
    c->chunking = (h[0] >> 3) & 3u;
    c->short_probe = (h[0] & 32) != 0;
    c->frame_max = 1 + raw % FRAME_MAX_CAP;
    c->seed = am_fz_seed(h[3]);
    c->damage_at = (size_t)h[4] << 8 | h[5];
    c->damage_xor = h[6];
}

/* Wire 1: the application stream as the model reads it. */
static void model_stream(const cfg_t *c, const uint8_t *s, size_t n,
                         expect_t *e)
{
    size_t pos = 0, len;

    e->base = s;
    while (n - pos >= AM_FRAME_PREFIX) {
        len = am_load_be32(s + pos);
        pos += AM_FRAME_PREFIX;
        if (len == 0 || len > c->frame_max) {
            e->err = len == 0 ? AM_EPROTO : AM_ETOOBIG;
            return;
        }
        if (n - pos < len)
            return;
        expect_add(e, pos, len);
        pos += len;
    }
}

/* Size of the next transport message's plaintext; empty ones too. */
static size_t next_segment(uint32_t *st, size_t left)
{
    uint32_t x = am_fz_rand(st);
    size_t n;

    switch (x % 4) {
    case 0:
        n = (x >> 2) % 17;
        break;
    case 1:
        n = 1 + (x >> 2) % 256;
        break;
    case 2:
        n = 1 + (x >> 2) % AM_NOISE_PAYLOAD_MAX;
        break;
    default:
        n = left;
        break;
    }
    if (n > AM_NOISE_PAYLOAD_MAX)
        n = AM_NOISE_PAYLOAD_MAX;
    return n < left ? n : left;
}

static void build_stream(const cfg_t *c, const uint8_t *s, size_t n,
                         buf_t *wire)
{
    am_noise_cs_t *send = cs_copy(tmpl_send);
    uint32_t st = c->seed ^ 0x5a5a5a5au;
    size_t pos = 0, k, ct_len, empty = 0;
    uint8_t *w;

    do {
        k = next_segment(&st, n - pos);
        if (k == 0 && pos < n && ++empty > 4)
            continue; /* a few empty messages, not a flood */
        w = buf_room(wire, AM_TRANSPORT_PREFIX + k + AM_NOISE_TAGLEN);
        AM_FZ_CHECK(am_noise_cs_encrypt(send, NULL, 0, s + pos, k,
                                        w + AM_TRANSPORT_PREFIX,
                                        k + AM_NOISE_TAGLEN, &ct_len) == 0);
        AM_FZ_CHECK(ct_len == k + AM_NOISE_TAGLEN);
        am_store_be16(w, (uint16_t)ct_len);
        wire->len += AM_TRANSPORT_PREFIX + ct_len;
        pos += k;
    } while (pos < n);
    am_noise_cs_free(send);
}

/* Wire 2: cut rest into bodies (see the header comment). */
static void make_bodies(const uint8_t *s, size_t n, buf_t *bodies,
                        expect_t *e)
{
    size_t pos = 0, len;
    uint8_t k, *w;

    while (pos < n && bodies->len < BODIES_MAX) {
        k = s[pos++];
        if (k & 0x80) {
            len = 1 + (size_t)(k & 0x7f) * 1024;
            if (pos < n)
                len += (size_t)s[pos++] * 4;
            w = buf_room(bodies, len);
            memset(w, k, len);
            w[len / 2] = (uint8_t)len;
        } else {
            len = (size_t)k + 1;
            if (len > n - pos)
                len = n - pos;
            if (len == 0)
                break;
            w = buf_room(bodies, len);
            memcpy(w, s + pos, len);
            pos += len;
        }
        expect_add(e, bodies->len, len);
        bodies->len += len;
    }
}

static void seal_one(const cfg_t *c, am_chan_t *tx, const uint8_t *body,
                     size_t len, buf_t *wire)
{
    size_t want = am_chan_sealed_len(len), out_len = 0;
    uint8_t *w = buf_room(wire, want);

    /* AM_ESHORT must not use a nonce: the receiver would fail if it did */
    if (c->short_probe)
        AM_FZ_CHECK(am_chan_seal(tx, body, len, w, want - 1, &out_len) ==
                    AM_ESHORT);
    AM_FZ_CHECK(am_chan_seal(tx, body, len, w, want, &out_len) == 0);
    AM_FZ_CHECK(out_len == want);
    wire->len += out_len;
}

static void build_sealed(const cfg_t *c, const uint8_t *s, size_t n,
                         buf_t *bodies, buf_t *wire, expect_t *e)
{
    am_noise_cs_t *send = cs_copy(tmpl_send);
    am_chan_t *tx = NULL;
    size_t keep = 0;

    make_bodies(s, n, bodies, e);
    e->base = bodies->p;
    AM_FZ_CHECK(am_chan_new(&tx, send, NULL, AM_FRAME_MAX_CEILING) == 0);
    for (size_t i = 0; i < e->n_rec; i++) {
        seal_one(c, tx, bodies->p + e->rec[i].off, e->rec[i].len, wire);
        if (keep == i && e->rec[i].len <= c->frame_max)
            keep++;
    }
    /* the receiver stops at the first body over its limit */
    if (keep < e->n_rec)
        e->err = AM_ETOOBIG;
    e->n_rec = keep;
    am_chan_free(tx);
}

static void damage(const cfg_t *c, buf_t *wire)
{
    size_t at;

    if (wire->len == 0)
        return;
    at = c->damage_at % wire->len;
    if (c->damage_xor == 0)
        wire->len = at;
    else
        wire->p[at] ^= c->damage_xor;
}

static size_t next_chunk(const cfg_t *c, uint32_t *st, size_t left)
{
    uint32_t x = am_fz_rand(st);
    size_t k;

    switch (c->chunking) {
    case 0:
        k = 1 + x % 8;
        break;
    case 1:
        k = 1 + x % 64;
        break;
    case 2:
        k = 1 + x % 4096;
        break;
    default:
        k = left;
        break;
    }
    return k < left ? k : left;
}

static void take_frame(const cfg_t *c, am_chan_t *rx, const expect_t *e,
                       size_t *n_rec)
{
    Amanat__V1__Frame *f = NULL;
    uint8_t *body = NULL;
    size_t len = 0;

    AM_FZ_CHECK(am_chan_take(rx, &body, &len) == 0);
    AM_FZ_CHECK(body != NULL && len >= 1 && len <= c->frame_max);
    if (e != NULL) {
        AM_FZ_CHECK(*n_rec < e->n_rec);
        AM_FZ_CHECK(len == e->rec[*n_rec].len);
        AM_FZ_CHECK(memcmp(body, e->base + e->rec[*n_rec].off, len) == 0);
    }
    (*n_rec)++;
    if (am_frame_parse(body, len, c->frame_max, &f) == 0)
        am_frame_free(f);
    am_free(body);
    AM_FZ_CHECK(am_chan_take(rx, &body, &len) == AM_ESTATE);
}

/* Feed one chunk, taking frames as they come; the error, or 0. */
static int feed_chunk(const cfg_t *c, am_chan_t *rx, const uint8_t *in,
                      size_t len, const expect_t *e, size_t *n_rec)
{
    size_t off = 0, used;
    int rc;

    for (;;) {
        used = (size_t)-1;
        rc = am_chan_feed(rx, in + off, len - off, &used);
        if (rc < 0)
            return rc;
        AM_FZ_CHECK(used <= len - off);
        off += used;
        if (rc == 0) {
            AM_FZ_CHECK(off == len);
            return 0;
        }
        AM_FZ_CHECK(rc == 1);
        /* and feed on: frames may wait in the decrypted message */
        take_frame(c, rx, e, n_rec);
    }
}

static void check_failed(am_chan_t *rx, const uint8_t *in, int rc)
{
    uint8_t *body;
    size_t used, len;

    AM_FZ_CHECK(rc != AM_EINVAL && rc != AM_ESTATE && rc != AM_ENOMEM);
    AM_FZ_CHECK(am_chan_feed(rx, in, 1, &used) == AM_ESTATE);
    AM_FZ_CHECK(am_chan_feed(rx, in, 0, &used) == AM_ESTATE);
    AM_FZ_CHECK(am_chan_take(rx, &body, &len) == AM_ESTATE);
}

static void receive(const cfg_t *c, const buf_t *wire, const expect_t *e)
{
    static const uint8_t one = 0;
    am_noise_cs_t *recv = cs_copy(tmpl_recv);
    const uint8_t *w = wire->len ? wire->p : &one;
    am_chan_t *rx = NULL;
    uint32_t st = c->seed;
    size_t pos = 0, k, n_rec = 0;
    int err = 0;

    AM_FZ_CHECK(am_chan_new(&rx, NULL, recv, c->frame_max) == 0);
    do {
        k = next_chunk(c, &st, wire->len - pos);
        err = feed_chunk(c, rx, w + pos, k, e, &n_rec);
        pos += k;
    } while (err == 0 && pos < wire->len);
    if (err != 0)
        check_failed(rx, &one, err);
    if (e != NULL && !c->damage) {
        AM_FZ_CHECK(n_rec == e->n_rec);
        AM_FZ_CHECK(err == e->err);
    }
    am_chan_free(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf_t wire = {0}, bodies = {0};
    expect_t e = {0};
    cfg_t c;
    const uint8_t *s = data + HDR_LEN;
    size_t n;

    if (size < HDR_LEN)
        return 0;
    init_once();
    cfg_parse(data, &c);
    n = size - HDR_LEN;
    if (c.wire == WIRE_RAW) {
        memcpy(buf_room(&wire, n + 1), s, n);
        wire.len = n;
    } else if (c.wire == WIRE_STREAM) {
        model_stream(&c, s, n, &e);
        build_stream(&c, s, n, &wire);
    } else {
        build_sealed(&c, s, n, &bodies, &wire, &e);
    }
    if (c.damage && c.wire != WIRE_RAW)
        damage(&c, &wire);
    receive(&c, &wire, c.wire == WIRE_RAW ? NULL : &e);
    free(wire.p);
    free(bodies.p);
    free(e.rec);
    return 0;
}
