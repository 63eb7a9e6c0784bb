#include "channel.h"

#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"
#include "frame.h"

struct am_chan {
    am_noise_cs_t *send, *recv;
    am_framedec_t *transport; /* 2-byte prefixed ciphertexts */
    am_framedec_t *app;       /* 4-byte prefixed frames */
    uint8_t *plain;           /* decrypted transport message being drained */
    size_t plain_len, plain_pos;
    bool send_failed, recv_failed; /* each direction fails on its own */
};

/* Plaintext holds envelope metadata: wipe it before it goes back. */
static void drop_plain(am_chan_t *c)
{
    if (c->plain != NULL) {
        sodium_memzero(c->plain, c->plain_len);
        am_free(c->plain);
    }
    c->plain = NULL;
    c->plain_len = c->plain_pos = 0;
}

int am_chan_new(am_chan_t **out, am_noise_cs_t *send, am_noise_cs_t *recv,
                size_t frame_max)
{
    am_chan_t *c;
    int rc;

    if (out == NULL || (send == NULL && recv == NULL) || send == recv ||
        frame_max == 0 || frame_max > AM_FRAME_MAX_CEILING)
        return AM_EINVAL;
    if ((c = am_calloc(1, sizeof *c)) == NULL)
        return AM_ENOMEM;
    if ((rc = am_framedec_new(&c->transport, AM_TRANSPORT_PREFIX,
                              AM_NOISE_TAGLEN, AM_NOISE_MSG_MAX)) != 0 ||
        (rc = am_framedec_new(&c->app, AM_FRAME_PREFIX, 1, frame_max)) != 0) {
        am_chan_free(c);
        return rc;
    }
    c->send = send;
    c->recv = recv;
    *out = c;
    return 0;
}

void am_chan_free(am_chan_t *c)
{
    if (c == NULL)
        return;
    am_noise_cs_free(c->send);
    am_noise_cs_free(c->recv);
    am_framedec_free(c->transport);
    am_framedec_free(c->app);
    drop_plain(c);
    am_free(c);
}

size_t am_chan_sealed_len(size_t body_len)
{
    size_t stream = AM_FRAME_PREFIX + body_len;
    size_t chunks;

    if (body_len > AM_FRAME_MAX_CEILING)
        return SIZE_MAX; /* no frame that large: any allocation fails */
    chunks = (stream + AM_NOISE_PAYLOAD_MAX - 1) / AM_NOISE_PAYLOAD_MAX;
    return stream + chunks * (AM_TRANSPORT_PREFIX + AM_NOISE_TAGLEN);
}

static int send_fail(am_chan_t *c, int rc)
{
    c->send_failed = true;
    return rc;
}

static int recv_fail(am_chan_t *c, int rc)
{
    c->recv_failed = true;
    return rc;
}

/* Copy bytes [from, from+n) of the stream prefix||body to out. */
static void stream_slice(const uint8_t prefix[static AM_FRAME_PREFIX],
                         const uint8_t *body, size_t from, size_t n,
                         uint8_t *out)
{
    size_t head = 0;

    if (from < AM_FRAME_PREFIX) {
        head = AM_FRAME_PREFIX - from < n ? AM_FRAME_PREFIX - from : n;
        memcpy(out, prefix + from, head);
    }
    if (n > head)
        memcpy(out + head, body + (from + head - AM_FRAME_PREFIX), n - head);
}

int am_chan_seal(am_chan_t *c, const uint8_t *body, size_t len, uint8_t *out,
                 size_t cap, size_t *out_len)
{
    uint8_t prefix[AM_FRAME_PREFIX];
    size_t stream = AM_FRAME_PREFIX + len, done = 0, w = 0;

    if (c == NULL || out == NULL || out_len == NULL ||
        (body == NULL && len > 0))
        return AM_EINVAL;
    if (c->send_failed || c->send == NULL)
        return AM_ESTATE;
    if (len == 0 || len > AM_FRAME_MAX_CEILING)
        return AM_ETOOBIG;
    if (cap < am_chan_sealed_len(len))
        return AM_ESHORT;
    am_store_be32(prefix, (uint32_t)len);
    while (done < stream) {
        size_t n = stream - done, ct_len;
        uint8_t *pt = out + w + AM_TRANSPORT_PREFIX;
        int rc;

        if (n > AM_NOISE_PAYLOAD_MAX)
            n = AM_NOISE_PAYLOAD_MAX;
        stream_slice(prefix, body, done, n, pt);
        if ((rc = am_noise_cs_encrypt(c->send, NULL, 0, pt, n, pt,
                                      n + AM_NOISE_TAGLEN, &ct_len)) != 0)
            return send_fail(c, rc);
        am_store_be16(out + w, (uint16_t)ct_len);
        w += AM_TRANSPORT_PREFIX + ct_len;
        done += n;
    }
    *out_len = w;
    return 0;
}

int am_chan_seal_frame(am_chan_t *c, const Amanat__V1__Frame *f, size_t max,
                       uint8_t **out, size_t *out_len)
{
    uint8_t *plain = NULL, *wire = NULL;
    size_t plain_len, wire_len, body_len;
    int rc;

    if (c == NULL || out == NULL || out_len == NULL)
        return AM_EINVAL;
    if ((rc = am_frame_encode(f, max, &plain, &plain_len)) != 0)
        return rc;
    body_len = plain_len - AM_FRAME_PREFIX;
    rc = AM_ENOMEM;
    if ((wire = am_malloc(am_chan_sealed_len(body_len))) == NULL)
        goto out;
    if ((rc = am_chan_seal(c, plain + AM_FRAME_PREFIX, body_len, wire,
                           am_chan_sealed_len(body_len), &wire_len)) != 0)
        goto out;
    *out = wire;
    *out_len = wire_len;
    wire = NULL;
out:
    am_free(wire);
    am_free(plain);
    return rc;
}

/* A whole transport message arrived: decrypt it in place. */
static int open_transport(am_chan_t *c)
{
    uint8_t *msg = NULL;
    size_t len, plain_len;
    int rc;

    if ((rc = am_framedec_take(c->transport, &msg, &len)) != 0)
        return rc;
    if ((rc = am_noise_cs_decrypt(c->recv, NULL, 0, msg, len, msg, len,
                                  &plain_len)) != 0) {
        am_free(msg);
        return rc;
    }
    drop_plain(c);
    c->plain = msg;
    c->plain_len = plain_len;
    c->plain_pos = 0;
    return 0;
}

int am_chan_feed(am_chan_t *c, const uint8_t *in, size_t in_len,
                 size_t *used)
{
    size_t pos = 0, u;
    int rc;

    if (c == NULL || used == NULL || (in == NULL && in_len > 0))
        return AM_EINVAL;
    *used = 0;
    if (c->recv_failed || c->recv == NULL)
        return AM_ESTATE;
    for (;;) {
        if (c->plain_pos < c->plain_len) {
            rc = am_framedec_feed(c->app, c->plain + c->plain_pos,
                                  c->plain_len - c->plain_pos, &u);
            c->plain_pos += u;
            if (rc < 0)
                return recv_fail(c, rc);
            if (rc == 1) {
                *used = pos;
                return 1;
            }
            continue;
        }
        /* drained: idle connections keep no plaintext buffer */
        drop_plain(c);
        if (pos == in_len) {
            *used = pos;
            return 0;
        }
        rc = am_framedec_feed(c->transport, in + pos, in_len - pos, &u);
        pos += u;
        if (rc < 0)
            return recv_fail(c, rc);
        if (rc == 1 && (rc = open_transport(c)) != 0)
            return recv_fail(c, rc);
    }
}

int am_chan_take(am_chan_t *c, uint8_t **body, size_t *body_len)
{
    if (c == NULL)
        return AM_EINVAL;
    return am_framedec_take(c->app, body, body_len);
}
