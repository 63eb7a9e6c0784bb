/* Shared by bundle_build.c and bundle_verify.c: the canonical order of a
 * bundle's items (docs/PROTOCOL.md section 17.2) and the canonical bytes
 * of one item.  Not installed; not for callers of bundle.h. */
#ifndef AM_BUNDLE_INTERNAL_H
#define AM_BUNDLE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "bundle.h"

/* Where an item of evidence or a receipt sorts.  Evidence: time, kind,
 * recipient_id, relay_id, then its canonical bytes.  Receipts: time,
 * status, recipient_id, "" , then its canonical bytes. */
typedef struct {
    int64_t time;
    int kind;
    const char *who;
    const char *relay;
    const uint8_t *bytes;
    size_t len;
} am_bkey_t;

/* <0, 0, >0 as a sorts before, equals, after b.  Strings and bytes
 * compare bytewise as unsigned; a proper prefix sorts first. */
int am_bkey_cmp(const am_bkey_t *a, const am_bkey_t *b);

void am_bkey_evidence(am_bkey_t *k, const am_evidence_t *e,
                      const uint8_t *bytes, size_t len);
void am_bkey_receipt(am_bkey_t *k, const am_receipt_t *r,
                     const uint8_t *bytes, size_t len);

/* The standard encoding of m in a new buffer (am_free). */
int am_bundle_pack_item(const ProtobufCMessage *m, uint8_t **out,
                        size_t *out_len);

/* True when the decoded message p (NULL: absent) carried no unknown
 * field, which the standard encoding would write back where it would
 * then pass a byte-for-byte comparison unnoticed. */
#define AM_BUNDLE_KNOWN(p) ((p) == NULL || (p)->base.n_unknown_fields == 0)

#endif
