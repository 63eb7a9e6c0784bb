/* Key files on disk: secret keys are created with mode 0600 and never
 * overwritten, and refused when group- or world-readable, as ssh does. */
#ifndef AM_KEYSTORE_H
#define AM_KEYSTORE_H

#include "keyfile.h"
#include "passphrase.h"

/* Save k to path.  A secret key is sealed with a passphrase from src
 * (asked twice on a terminal) unless src->none; mode 0600.  Public keys:
 * mode 0644, never sealed. */
int am_keystore_save(const char *path, const am_key_t *k,
                     const am_pass_source_t *src, const am_key_cost_t *cost);

/* Load a key file of the wanted kind, asking src for a passphrase when it
 * is sealed.  A secret key file that group or others can read is refused
 * before any passphrase is asked. */
int am_keystore_load(const char *path, am_key_kind_t want,
                     const am_pass_source_t *src, am_key_t **out);

#endif
