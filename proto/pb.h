/* Bounded protobuf-c decoding of untrusted bytes.
 *
 * The size is checked before protobuf-c sees the bytes, and decoding may
 * use at most AM_PB_BUDGET(len) bytes of memory: protobuf-c allocates per
 * field and per repeated element, so a message of millions of tiny fields
 * would otherwise decode into dozens of times its size.  Messages that
 * carry a few byte fields stay far below the budget.
 */
#ifndef AM_PB_H
#define AM_PB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define AM_PB_BUDGET(len) (4 * (len) + 16384)

/* Decode in (len <= max) as a message of type desc.  AM_ETOOBIG when len
 * is over max or the budget runs out, AM_EPROTO when the bytes are not
 * such a message; what names the message in the error sentence.  Free *out
 * with am_pb_free. */
int am_pb_unpack(const ProtobufCMessageDescriptor *desc, const char *what,
                 const uint8_t *in, size_t len, size_t max,
                 ProtobufCMessage **out);
/* The same with an explicit memory budget, for bodies whose signature has
 * already verified and whose shape (many small repeated entries) needs
 * more than AM_PB_BUDGET. */
int am_pb_unpack_budget(const ProtobufCMessageDescriptor *desc,
                        const char *what, const uint8_t *in, size_t len,
                        size_t max, size_t budget, ProtobufCMessage **out);
void am_pb_free(void *msg);

#endif
