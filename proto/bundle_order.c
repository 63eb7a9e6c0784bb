/* The canonical order of evidence and receipts in a bundle, and the
 * canonical bytes of an item (docs/PROTOCOL.md section 17.2). */
#include "bundle_internal.h"

#include <string.h>

#include "alloc.h"
#include "err.h"

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

int am_bkey_cmp(const am_bkey_t *a, const am_bkey_t *b)
{
    int c;

    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    /* strcmp compares as unsigned char: bytewise */
    if ((c = strcmp(a->who, b->who)) != 0 ||
        (c = strcmp(a->relay, b->relay)) != 0)
        return c;
    return cmp_bytes(a->bytes, a->len, b->bytes, b->len);
}

void am_bkey_evidence(am_bkey_t *k, const am_evidence_t *e,
                      const uint8_t *bytes, size_t len)
{
    *k = (am_bkey_t){e->time, e->kind, e->recipient_id, e->relay_id, bytes,
                     len};
}

void am_bkey_receipt(am_bkey_t *k, const am_receipt_t *r,
                     const uint8_t *bytes, size_t len)
{
    *k = (am_bkey_t){r->time, r->status, r->recipient_id, "", bytes, len};
}

int am_bundle_pack_item(const ProtobufCMessage *m, uint8_t **out,
                        size_t *out_len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf;

    /* an empty item (all fields unset) still gets a buffer */
    if ((buf = am_malloc(n ? n : 1)) == NULL)
        return AM_ENOMEM;
    if (protobuf_c_message_pack(m, buf) != n) {
        am_free(buf);
        return am_errf(AM_EPROTO, "%s does not re-encode",
                       m->descriptor->short_name);
    }
    *out = buf;
    *out_len = n;
    return 0;
}
