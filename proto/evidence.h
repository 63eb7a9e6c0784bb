/* A relay's signed evidence (docs/PROTOCOL.md sections 13 and 14): that it
 * stored an envelope durably (accepted), that a recipient's client
 * acknowledged it (delivered), that it expired undelivered for a
 * recipient (expired), or that its stored copy was found damaged and will
 * never be delivered to a recipient (damaged: send it again).  The relay signs an EvidenceBody with its
 * certificate's Ed25519 key under tag "amanat/1 evidence"; the Evidence
 * carries the exact signed body.  Anyone with the relay's certificate can
 * check it offline, which is what evidence bundles (bundle.h) rely on.
 *
 * The relay builds the same bytes itself today (relay/conn_submit.c,
 * conn_evidence); am_evidence_sign produces them identically and could
 * replace that code.
 */
#ifndef AM_EVIDENCE_H
#define AM_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "envelope.h"

#define AM_EVIDENCE_BODY_MAX 512 /* a serialized EvidenceBody */
#define AM_EVIDENCE_MAX 1024     /* a serialized Evidence */

enum {
    AM_EVIDENCE_ACCEPTED = 1,
    AM_EVIDENCE_DELIVERED = 2,
    AM_EVIDENCE_EXPIRED = 3,
    AM_EVIDENCE_DAMAGED = 4, /* stored copy damaged: never delivered */
};

typedef struct {
    int kind;                                /* AM_EVIDENCE_* */
    uint8_t message_id[AM_MSG_ID_LEN];
    uint8_t envelope_hash[AM_HASH_LEN];      /* of the serialized Envelope */
    char relay_id[AM_AGENCY_ID_MAX + 1];     /* the relay that signs */
    char recipient_id[AM_AGENCY_ID_MAX + 1]; /* "" for accepted */
    int64_t time;                            /* Unix seconds */
} am_evidence_t;

/* Sign e with the relay's Ed25519 key; *out is a serialized Evidence
 * (am_free).  AM_EINVAL with a sentence when a field breaks the rules
 * am_evidence_verify checks (kind, ids, recipient for every kind but
 * accepted). */
int am_evidence_sign(const am_evidence_t *e, const uint8_t sign_sk[static 64],
                     uint8_t **out, size_t *out_len);

/* The fields of untrusted Evidence bytes WITHOUT checking the signature:
 * only to find the relay certificate to check it with, or to sort.  Errors
 * as am_evidence_verify's parsing steps. */
int am_evidence_peek(const uint8_t *in, size_t len, am_evidence_t *out);

/* Check untrusted Evidence bytes offline: at most AM_EVIDENCE_MAX bytes;
 * the signature verifies under relay's sign_pk (relay already verified,
 * e.g. am_cert_verify_offline with the relay role); then the body: version
 * 1, a known kind, message_id 16 and envelope_hash 32 bytes, relay_id the
 * certificate's agency, recipient_id empty for accepted and an agency id
 * otherwise.  Naming the right envelope is the caller's check.  AM_ETOOBIG,
 * AM_EPROTO, AM_EUNSUPPORTED, AM_ECRYPTO (signature, or another relay's
 * name), AM_EROLE (the certificate is not a relay's); *out only on
 * success. */
int am_evidence_verify(const uint8_t *in, size_t len, const am_cert_t *relay,
                       am_evidence_t *out);

#endif
