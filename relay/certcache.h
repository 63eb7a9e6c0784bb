/* Certificates whose root signature verified, so that an agency
 * connecting again does not cost the relay another Ed25519 verification
 * (about 50 us, a quarter of the relay's handshake).
 *
 * Only the half of am_cert_verify that depends on nothing but the bytes
 * and the root key is cached (am_cert_verify_signed): the caller still
 * checks, on every handshake, the validity at the current time, the role,
 * revocation under the list it holds now (SIGHUP may bring a new one) and
 * that the certificate's dh_pk is the Noise key that made the handshake.
 *
 * Entries are keyed by BLAKE2b-256 of the root key followed by the exact
 * SignedCertificate bytes, so a certificate verified under one root is
 * never a hit under another.  The cache is bounded (AM_CERTCACHE_SLOTS,
 * least recently used replaced) and only certificates that verified enter:
 * a hostile peer can fill it with root-signed certificates at most, and
 * then only evicts.
 *
 * DESIGN.  Called from libuv's thread-pool workers (conn_hs.c): one mutex
 * guards the table, held for a scan of the slots, never during a
 * verification.  Two workers missing on the same certificate both verify
 * it; the second insertion finds it present and adds nothing. */
#ifndef AM_CERTCACHE_H
#define AM_CERTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"

#define AM_CERTCACHE_SLOTS 128

typedef struct am_certcache am_certcache_t;

/* AM_ENOMEM, or AM_EIO when the mutex cannot be made. */
int am_certcache_new(am_certcache_t **out);
void am_certcache_free(am_certcache_t *cc); /* NULL-safe */

/* am_cert_verify_signed(cert, len, root_pk, out) through the cache: a hit
 * fills *out from the entry; a miss verifies and, on success, keeps the
 * result.  Errors are am_cert_verify_signed's, with its sentence (for the
 * calling thread); *out is set only on success.  Thread-safe. */
int am_certcache_verify(am_certcache_t *cc, const uint8_t *cert, size_t len,
                        const uint8_t root_pk[static AM_SIGN_PK_LEN],
                        am_cert_t *out);

/* Lookups answered from the table and lookups that verified, since
 * creation (for tests and logs). */
void am_certcache_stats(am_certcache_t *cc, uint64_t *hits,
                        uint64_t *misses);

#endif
