/* An established Noise channel without I/O: seals application frames into
 * Noise transport messages and reassembles the frames from the bytes a
 * peer sends, in any chunking (docs/PROTOCOL.md, "Framing").
 *
 * Wire bytes are a sequence of transport messages, each a 2-byte
 * big-endian length then a ChaChaPoly ciphertext (16..65535 bytes).  Their
 * plaintexts, concatenated, form the application stream: a 4-byte
 * big-endian length then a serialized Frame, again and again.  A frame may
 * span several transport messages and one message may end a frame and
 * start the next.
 */
#ifndef AM_CHANNEL_H
#define AM_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "noise.h"
#include "wire.pb-c.h"

typedef struct am_chan am_chan_t;

/* send and/or recv (either may be NULL for a one-way channel; not the same
 * object) pass to the channel on success; on error the caller still owns
 * them.  frame_max
 * bounds incoming frame bodies (1..AM_FRAME_MAX_CEILING). */
int am_chan_new(am_chan_t **out, am_noise_cs_t *send, am_noise_cs_t *recv,
                size_t frame_max);
void am_chan_free(am_chan_t *c);

/* Wire size of one sealed frame whose body is body_len bytes; SIZE_MAX
 * when body_len is over AM_FRAME_MAX_CEILING. */
size_t am_chan_sealed_len(size_t body_len);

/* Seal one frame body (prefix added here) into out, which must hold
 * am_chan_sealed_len(len) bytes (AM_ESHORT otherwise, nothing consumed)
 * and must not overlap body.
 * Errors from the cipher (AM_ENONCE) fail the channel. */
int am_chan_seal(am_chan_t *c, const uint8_t *body, size_t len, uint8_t *out,
                 size_t cap, size_t *out_len);

/* Encode f and seal it into a new buffer (release with am_free). */
int am_chan_seal_frame(am_chan_t *c, const Amanat__V1__Frame *f, size_t max,
                       uint8_t **out, size_t *out_len);

/* Feed wire bytes from the peer.  Returns 1 when a frame body is ready,
 * 0 when all of in was consumed and no frame is pending, or a fatal error
 * (AM_ECRYPTO, AM_ETOOBIG, AM_EPROTO...; *used is then 0 and meaningless):
 * the connection must be closed.  Sending still works after a receive
 * failure, so an Error frame can say why first.
 * After 1, take the frame and call again with the rest (in + *used), even
 * when nothing is left (in_len 0): one transport message may hold several
 * frames, and they are returned one per call until the call returns 0. */
int am_chan_feed(am_chan_t *c, const uint8_t *in, size_t in_len,
                 size_t *used);

/* The ready frame body, owned by the caller afterwards (am_free). */
int am_chan_take(am_chan_t *c, uint8_t **body, size_t *body_len);

#endif
