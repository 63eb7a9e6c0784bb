/* Signed prekeys: X25519 keys an agency publishes, signed with its
 * Ed25519 certificate key, so that senders wrap content keys to a key whose
 * secret is deleted after a while (forward secrecy).  Senders fall back to
 * the certificate's dh_pk when an agency has no current prekey. */
#ifndef AM_PREKEY_H
#define AM_PREKEY_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"

#define AM_PREKEY_MAX 512 /* a serialized SignedPrekey */

typedef struct {
    char agency_id[AM_AGENCY_ID_MAX + 1];
    uint32_t prekey_id; /* non-zero: 0 names the certificate key */
    uint8_t dh_pk[32];
    int64_t created_at, not_after; /* Unix seconds */
} am_prekey_t;

/* Sign p with the agency's Ed25519 secret key; *out is a serialized
 * SignedPrekey (am_free). */
int am_prekey_sign(const am_prekey_t *p, const uint8_t sign_sk[static 64],
                   uint8_t **out, size_t *out_len);

/* Verify untrusted SignedPrekey bytes against the owner's (verified)
 * certificate: signature by owner->sign_pk, agency_id equal to the
 * owner's, not expired at now (AM_EEXPIRED).  Fills *out on success. */
int am_prekey_verify(const uint8_t *in, size_t len, const am_cert_t *owner,
                     int64_t now, am_prekey_t *out);

#endif
