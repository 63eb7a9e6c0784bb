/* Length-prefixed framing, as incremental decoders that accept bytes in any
 * chunking, and the protobuf Frame codec.
 *
 * Two layers use the same decoder (docs/PROTOCOL.md, "Framing"):
 *   - Noise transport messages: 2-byte big-endian length, 16..65535 bytes;
 *   - application frames: 4-byte big-endian length, then a serialized
 *     amanat.v1.Frame; 1 byte .. the frame limit (AM_FRAME_MAX_DEFAULT,
 *     configurable up to AM_FRAME_MAX_CEILING).
 * The announced length is checked against the limit before any allocation,
 * and the buffer then grows only as bytes actually arrive, so a peer cannot
 * make us reserve memory it has not sent.
 */
#ifndef AM_FRAME_H
#define AM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "wire.pb-c.h"

#define AM_FRAME_MAX_DEFAULT ((size_t)1 << 20)  /* 1 MiB */
#define AM_FRAME_MAX_CEILING ((size_t)16 << 20) /* 16 MiB, never above */
/* A handshake message travels with the same 2-byte prefix as transport
 * messages but, since the peer is not yet authenticated, under a smaller
 * cap: certificates are a few hundred bytes. */
#define AM_HANDSHAKE_MSG_MAX 4096
#define AM_FRAME_PREFIX 4
#define AM_TRANSPORT_PREFIX 2

typedef struct am_framedec am_framedec_t;

/* prefix_len: AM_TRANSPORT_PREFIX or AM_FRAME_PREFIX.  max: largest record
 * body accepted, 1..AM_FRAME_MAX_CEILING and at most what the prefix can
 * express.  min: smallest body accepted (a record shorter than any valid
 * one is refused before it is read). */
int am_framedec_new(am_framedec_t **out, size_t prefix_len, size_t min,
                    size_t max);
void am_framedec_free(am_framedec_t *d);

/* Change the limit for records not yet started (e.g. a smaller cap before
 * the peer authenticates).  AM_EINVAL when out of range. */
int am_framedec_set_max(am_framedec_t *d, size_t max);

/* Consume bytes from in until one record is complete or in is exhausted.
 * Returns 1 when a record is ready (take it before feeding again), 0 when
 * all of in was consumed without completing one, or an error: AM_ETOOBIG
 * or AM_EPROTO for a length outside [min, max], after which the decoder is
 * failed for good.  *used is the number of bytes consumed. */
int am_framedec_feed(am_framedec_t *d, const uint8_t *in, size_t in_len,
                     size_t *used);

/* The completed record; ownership passes to the caller (release with
 * am_free).  AM_ESTATE when no record is ready. */
int am_framedec_take(am_framedec_t *d, uint8_t **out, size_t *out_len);

/* Serialize f with its 4-byte prefix into a new buffer (caller frees with
 * am_free).  AM_ETOOBIG when the body exceeds max; AM_EPROTO when no
 * operation is set. */
int am_frame_encode(const Amanat__V1__Frame *f, size_t max, uint8_t **out,
                    size_t *out_len);

/* Parse a frame body (no prefix) of untrusted bytes.  The size is checked
 * against max before protobuf-c sees the bytes, and decoding may use at
 * most 4 * len + 16 KiB of memory (AM_ETOOBIG past that: a frame of many
 * tiny repeated or unknown fields).  A frame with no operation set is
 * AM_EPROTO.  Unknown fields are kept, as proto3 requires, so a parsed
 * frame is not always re-encodable byte for byte: anything that must
 * survive (envelopes, evidence) travels as the exact bytes received and is
 * never re-encoded.  Free *out with am_frame_free. */
int am_frame_parse(const uint8_t *in, size_t len, size_t max,
                   Amanat__V1__Frame **out);
void am_frame_free(Amanat__V1__Frame *f);

#endif
