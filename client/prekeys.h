/* An agency's prekeys on disk (a 0700 folder): for each prekey N,
 * N.secret (the X25519 secret, mode 0600) and N.prekey (the SignedPrekey
 * to publish).
 *
 * Rotation (am_prekeys_rotate): when the newest prekey is older than the
 * period, a new one is made and signed.  A prekey stops being current when
 * its successor is made; its secret is deleted a grace period after that,
 * so envelopes still in flight open, and a later theft of the folder opens
 * nothing older. */
#ifndef AM_PREKEYS_H
#define AM_PREKEYS_H

#include <stdint.h>

#include "prekey.h"

typedef struct {
    int64_t period; /* seconds between new prekeys */
    int64_t grace;  /* seconds a replaced secret is kept */
} am_prekey_policy_t;

typedef struct {
    uint32_t created_id; /* 0 when none was needed */
    unsigned deleted;    /* secrets deleted */
    uint32_t current_id;
} am_prekey_rotation_t;

/* Rotate the prekeys of agency_id in dir (created if missing) at now,
 * signing with sign_sk (64 bytes). */
int am_prekeys_rotate(const char *dir, const char *agency_id,
                      const uint8_t sign_sk[static 64], int64_t now,
                      const am_prekey_policy_t *policy,
                      am_prekey_rotation_t *out);

/* The secret of prekey id, for opening an envelope.  AM_EKEY "unknown
 * prekey id N" when it was never made or was deleted. */
int am_prekeys_secret(const char *dir, uint32_t id, uint8_t sk[static 32]);

/* The newest prekey: its id and its SignedPrekey bytes (am_free). */
int am_prekeys_current(const char *dir, uint32_t *id, uint8_t **signed_pk,
                       size_t *len);

#endif
