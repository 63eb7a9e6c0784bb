#include "frame.h"

#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"
#include "pb.h"

#define GROW_MIN 4096

struct am_framedec {
    size_t prefix_len, min, max;
    uint8_t hdr[AM_FRAME_PREFIX];
    size_t hdr_have;
    uint8_t *buf;    /* body being filled; NULL until its first byte */
    size_t buf_cap;
    size_t want;     /* announced body length */
    size_t have;     /* body bytes received */
    int state;       /* 0 header, 1 body, 2 ready, -1 failed */
};

static size_t prefix_limit(size_t prefix_len)
{
    return prefix_len == AM_TRANSPORT_PREFIX ? 0xffff : AM_FRAME_MAX_CEILING;
}

int am_framedec_new(am_framedec_t **out, size_t prefix_len, size_t min,
                    size_t max)
{
    am_framedec_t *d;

    if (out == NULL ||
        (prefix_len != AM_TRANSPORT_PREFIX && prefix_len != AM_FRAME_PREFIX))
        return AM_EINVAL;
    if (min == 0 || max < min || max > prefix_limit(prefix_len))
        return AM_EINVAL;
    if ((d = am_calloc(1, sizeof *d)) == NULL)
        return AM_ENOMEM;
    d->prefix_len = prefix_len;
    d->min = min;
    d->max = max;
    *out = d;
    return 0;
}

void am_framedec_free(am_framedec_t *d)
{
    if (d == NULL)
        return;
    am_free(d->buf);
    am_free(d);
}

int am_framedec_set_max(am_framedec_t *d, size_t max)
{
    if (d == NULL || max < d->min || max > prefix_limit(d->prefix_len))
        return AM_EINVAL;
    d->max = max;
    return 0;
}

static const char *record_name(const am_framedec_t *d)
{
    return d->prefix_len == AM_TRANSPORT_PREFIX ? "transport message"
                                                : "frame";
}

/* Header complete: bound the length, before any allocation. */
static int start_body(am_framedec_t *d)
{
    size_t n = d->prefix_len == AM_TRANSPORT_PREFIX ? am_load_be16(d->hdr)
                                                    : am_load_be32(d->hdr);

    if (n > d->max)
        return am_errf(AM_ETOOBIG, "%s length %zu over limit %zu",
                       record_name(d), n, d->max);
    if (n < d->min)
        return am_errf(AM_EPROTO, "%s length %zu under minimum %zu",
                       record_name(d), n, d->min);
    d->want = n;
    d->have = 0;
    d->state = 1;
    return 0;
}

/* Make room for 'more' bytes, growing geometrically but never past want. */
static int reserve(am_framedec_t *d, size_t more)
{
    size_t need = d->have + more, cap = d->buf_cap;
    uint8_t *p;

    if (need <= cap)
        return 0;
    if (cap < GROW_MIN)
        cap = GROW_MIN;
    while (cap < need)
        cap *= 2;
    if (cap > d->want)
        cap = d->want;
    if ((p = am_realloc(d->buf, cap)) == NULL)
        return AM_ENOMEM;
    d->buf = p;
    d->buf_cap = cap;
    return 0;
}

int am_framedec_feed(am_framedec_t *d, const uint8_t *in, size_t in_len,
                     size_t *used)
{
    size_t pos = 0;
    int rc;

    if (d == NULL || used == NULL || (in == NULL && in_len > 0))
        return AM_EINVAL;
    *used = 0;
    if (d->state < 0 || d->state == 2)
        return AM_ESTATE;
    while (pos < in_len && d->state == 0) {
        d->hdr[d->hdr_have++] = in[pos++];
        if (d->hdr_have == d->prefix_len && (rc = start_body(d)) != 0) {
            d->state = -1;
            *used = pos;
            return rc;
        }
    }
    if (d->state == 1) {
        size_t n = in_len - pos;
        if (n > d->want - d->have)
            n = d->want - d->have;
        if (n > 0 && (rc = reserve(d, n)) != 0) {
            *used = pos;
            return rc; /* *used counts any header bytes taken: retry from there */
        }
        if (n > 0)
            memcpy(d->buf + d->have, in + pos, n);
        d->have += n;
        pos += n;
        if (d->have == d->want)
            d->state = 2;
    }
    *used = pos;
    return d->state == 2 ? 1 : 0;
}

int am_framedec_take(am_framedec_t *d, uint8_t **out, size_t *out_len)
{
    if (d == NULL || out == NULL || out_len == NULL)
        return AM_EINVAL;
    if (d->state != 2)
        return AM_ESTATE;
    *out = d->buf;
    *out_len = d->want;
    d->buf = NULL;
    d->buf_cap = 0;
    d->hdr_have = 0;
    d->want = d->have = 0;
    d->state = 0;
    return 0;
}

int am_frame_encode(const Amanat__V1__Frame *f, size_t max, uint8_t **out,
                    size_t *out_len)
{
    size_t n;
    uint8_t *buf;

    if (f == NULL || out == NULL || out_len == NULL ||
        max > AM_FRAME_MAX_CEILING)
        return AM_EINVAL;
    if (f->op_case == AMANAT__V1__FRAME__OP__NOT_SET)
        return AM_EPROTO;
    n = amanat__v1__frame__get_packed_size(f);
    if (n > max)
        return AM_ETOOBIG;
    if ((buf = am_malloc(AM_FRAME_PREFIX + n)) == NULL)
        return AM_ENOMEM;
    am_store_be32(buf, (uint32_t)n);
    if (amanat__v1__frame__pack(f, buf + AM_FRAME_PREFIX) != n) {
        am_free(buf);
        return AM_EINVAL;
    }
    *out = buf;
    *out_len = AM_FRAME_PREFIX + n;
    return 0;
}

int am_frame_parse(const uint8_t *in, size_t len, size_t max,
                   Amanat__V1__Frame **out)
{
    ProtobufCMessage *m;
    Amanat__V1__Frame *f;
    int rc;

    if ((in == NULL && len > 0) || out == NULL)
        return AM_EINVAL;
    if (len == 0)
        return am_errf(AM_EPROTO, "empty frame");
    if (max > AM_FRAME_MAX_CEILING)
        max = AM_FRAME_MAX_CEILING;
    if ((rc = am_pb_unpack(&amanat__v1__frame__descriptor, "frame", in, len,
                           max, &m)) != 0)
        return rc;
    f = (Amanat__V1__Frame *)m;
    if (f->op_case == AMANAT__V1__FRAME__OP__NOT_SET) {
        am_frame_free(f);
        return am_errf(AM_EPROTO, "frame has no known operation set");
    }
    *out = f;
    return 0;
}

void am_frame_free(Amanat__V1__Frame *f)
{
    am_pb_free(f);
}
