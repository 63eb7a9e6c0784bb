/* Signed receipts: a recipient's signed statement that it received,
 * acknowledged or refused one envelope, naming it by message id and by the
 * BLAKE2b-256 hash of its exact bytes.  The SignedReceipt travels back to
 * the sender as the sealed content of an envelope of its own; anyone with
 * the original envelope and the recipient's certificate can check it
 * offline (am_receipt_verify), which is what makes it evidence. */
#ifndef AM_RECEIPT_H
#define AM_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "envelope.h"

#define AM_RECEIPT_MAX 1024 /* a serialized SignedReceipt */

enum {
    AM_RECEIPT_RECEIVED = 1,
    AM_RECEIPT_ACKNOWLEDGED = 2,
    AM_RECEIPT_REFUSED = 3,
};

typedef struct {
    uint8_t message_id[AM_MSG_ID_LEN];
    uint8_t envelope_hash[AM_HASH_LEN];
    int status;                            /* AM_RECEIPT_* */
    int64_t time;                          /* Unix seconds */
    char reason[AM_REASON_MAX + 1];        /* "" unless refused */
    char recipient_id[AM_AGENCY_ID_MAX + 1];
    char sender_id[AM_AGENCY_ID_MAX + 1];
} am_receipt_t;

/* Fill r for a verified envelope received by recipient_id. */
int am_receipt_for(const am_env_t *env, const char *recipient_id, int status,
                   int64_t time, const char *reason, am_receipt_t *r);

/* Sign r with the recipient's Ed25519 key; *out is a serialized
 * SignedReceipt (am_free). */
int am_receipt_sign(const am_receipt_t *r, const uint8_t sign_sk[static 64],
                    uint8_t **out, size_t *out_len);

/* Check untrusted SignedReceipt bytes offline: signed by the recipient's
 * (verified) certificate, naming env (verified) by message id and hash,
 * from env's sender, by one of env's recipients.  Fills *out. */
int am_receipt_verify(const uint8_t *in, size_t len,
                      const am_cert_t *recipient, const am_env_t *env,
                      am_receipt_t *out);

/* The fields of untrusted SignedReceipt bytes WITHOUT checking the
 * signature: only to find the certificate to check it with
 * (am_receipt_verify).  AM_ETOOBIG, AM_EPROTO, AM_EUNSUPPORTED. */
int am_receipt_peek(const uint8_t *in, size_t len, am_receipt_t *out);

#endif
