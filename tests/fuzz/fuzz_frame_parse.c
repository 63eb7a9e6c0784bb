/* fuzz_frame_parse: am_frame_parse on untrusted frame bodies.
 *
 * Input: one frame body, as it comes out of the application framing.
 * A frame that parses must re-encode (am_frame_encode) to a body that
 * parses to the same operation, and encoding that again must give the
 * same bytes: what we send after reading is stable.  The limits must hold
 * on both sides: one byte under the size is refused by both calls.
 *
 * Two exemptions.  A protobuf-c 1.4 quirk: it accepts field number 0 when
 * the tag is an overlong varint (0x80 0x00), keeps it as an unknown
 * field, re-encodes it as the canonical 0x00 and then refuses its own
 * output.  And the decoding budget of am_frame_parse is proportional to
 * the input, which re-encoding can shrink (overlong varints, merged
 * fields): the second parse may then be AM_ETOOBIG.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"
#include "frame.h"
#include "fuzz_common.h"

/* Is there an unknown field numbered 0 anywhere in m?  Walks the
 * sub-messages through the descriptors. */
static bool has_field0(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *)m;

    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const void *member = base + fd->offset;

        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + fd->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)
                member;
            for (size_t j = 0; j < n; j++)
                if (has_field0(v[j]))
                    return true;
            continue;
        }
        if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
            continue;
        if (*(ProtobufCMessage *const *)member != NULL &&
            has_field0(*(ProtobufCMessage *const *)member))
            return true;
    }
    return false;
}

/* Encode f and check the prefix against the body; the buffer is the
 * caller's. */
static uint8_t *encode_checked(const Amanat__V1__Frame *f, size_t *len)
{
    uint8_t *enc = NULL;

    AM_FZ_CHECK(am_frame_encode(f, AM_FRAME_MAX_CEILING, &enc, len) == 0);
    AM_FZ_CHECK(enc != NULL && *len > AM_FRAME_PREFIX);
    AM_FZ_CHECK(am_load_be32(enc) == *len - AM_FRAME_PREFIX);
    return enc;
}

static void check_limits(const Amanat__V1__Frame *f, const uint8_t *body,
                         size_t body_len)
{
    Amanat__V1__Frame *g = NULL;
    uint8_t *enc = NULL;
    size_t len = 0;

    AM_FZ_CHECK(am_frame_parse(body, body_len, body_len - 1, &g) ==
                AM_ETOOBIG);
    AM_FZ_CHECK(g == NULL);
    AM_FZ_CHECK(am_frame_encode(f, body_len - 1, &enc, &len) == AM_ETOOBIG);
    AM_FZ_CHECK(enc == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Amanat__V1__Frame *f = NULL, *g = NULL;
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t enc_len = 0, enc2_len = 0, body_len;
    int rc;

    rc = am_frame_parse(data, size, AM_FRAME_MAX_DEFAULT, &f);
    if (rc != 0) {
        AM_FZ_CHECK(rc == AM_EPROTO || rc == AM_ETOOBIG);
        AM_FZ_CHECK(f == NULL);
        return 0;
    }
    AM_FZ_CHECK(f != NULL && size > 0 && size <= AM_FRAME_MAX_DEFAULT);
    AM_FZ_CHECK(f->op_case != AMANAT__V1__FRAME__OP__NOT_SET);

    enc = encode_checked(f, &enc_len);
    body_len = enc_len - AM_FRAME_PREFIX;
    rc = am_frame_parse(enc + AM_FRAME_PREFIX, body_len, body_len, &g);
    if (rc != 0) {
        AM_FZ_CHECK((rc == AM_EPROTO && has_field0(&f->base)) ||
                    (rc == AM_ETOOBIG && body_len < size));
        goto out;
    }
    AM_FZ_CHECK(g->op_case == f->op_case);
    enc2 = encode_checked(g, &enc2_len);
    AM_FZ_CHECK(enc2_len == enc_len && memcmp(enc, enc2, enc_len) == 0);
    check_limits(g, enc + AM_FRAME_PREFIX, body_len);
out:
    am_free(enc);
    am_free(enc2);
    am_frame_free(f);
    am_frame_free(g);
    return 0;
}
