/* Federation certificates and revocation lists (docs/PROTOCOL.md,
 * "Certificates").
 *
 * The federation root (Ed25519, kept offline) signs an AgencyCertificate
 * for every agency and relay; the certificate travels as a
 * SignedCertificate whose body is the exact signed bytes.  Verification
 * order: bound the size, verify the root's signature over the body, and
 * only then read any field: version, id, keys, issuer, validity, role,
 * revocation.
 */
#ifndef AM_CERT_H
#define AM_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "country.h"
#include "sign.h"

#define AM_CERT_MAX 4096             /* a serialized SignedCertificate */
#define AM_CRL_MAX ((size_t)1 << 20) /* a serialized RevocationList */
#define AM_DISPLAY_NAME_MAX 128
#define AM_REASON_MAX 256
#define AM_KEY_ID_LEN 32u

enum {
    AM_ROLE_AGENCY = 1u << 0,
    AM_ROLE_RELAY = 1u << 1,
    AM_ROLE_ROOT = 1u << 2,
};

/* A certificate's fields (public data: no secrets). */
typedef struct {
    char agency_id[AM_AGENCY_ID_MAX + 1];
    char display_name[AM_DISPLAY_NAME_MAX + 1];
    char country[3];
    uint8_t sign_pk[AM_SIGN_PK_LEN];
    uint8_t dh_pk[32];
    unsigned roles;
    char home_relay[AM_AGENCY_ID_MAX + 1]; /* "" for a relay or root */
    int64_t not_before, not_after;         /* Unix seconds */
    uint64_t serial;
    uint8_t issuer_key_id[AM_KEY_ID_LEN];
} am_cert_t;

typedef struct am_crl am_crl_t;

/* What a verifier requires of a certificate. */
typedef struct {
    const uint8_t *root_pk; /* this federation's root, 32 bytes */
    int64_t now;            /* Unix seconds */
    unsigned role;          /* required role bit, or 0 for any */
    const am_crl_t *crl;    /* the newest list held, or NULL */
} am_cert_policy_t;

/* The id of a root key: BLAKE2b-256 of its Ed25519 public key. */
int am_key_id(const uint8_t pk[static AM_SIGN_PK_LEN],
              uint8_t id[static AM_KEY_ID_LEN]);

/* Check c's fields (id syntax and country, country equals the id's
 * prefix, roles, validity order, home relay of an agency) and sign it with
 * root_sk; issuer_key_id is set from root_sk here.  *out is a serialized
 * SignedCertificate (am_free).  AM_EINVAL with a sentence naming the
 * field. */
int am_cert_issue(const am_cert_t *c, const uint8_t root_sk[static 64],
                  uint8_t **out, size_t *out_len);

/* Verify a serialized SignedCertificate (untrusted) under policy p and, on
 * success only, fill *out.  Errors, each with a sentence: AM_ETOOBIG,
 * AM_EPROTO (malformed), AM_ECRYPTO (signature: forged, or issued by
 * another root), AM_EEXPIRED (expired or not yet valid), AM_EROLE,
 * AM_EREVOKED. */
int am_cert_verify(const uint8_t *in, size_t len, const am_cert_policy_t *p,
                   am_cert_t *out);

/* The offline form, for checking signatures made in the past (evidence
 * bundles): the size, the root's signature, the fields, the issuer and the
 * role (0: any), but neither the validity period nor revocation.  The
 * caller checks am_cert_valid_at for the time of each signature the
 * certificate is used for, and the revocation list itself.  Errors as
 * am_cert_verify; *out only on success. */
int am_cert_verify_offline(const uint8_t *in, size_t len,
                           const uint8_t root_pk[static AM_SIGN_PK_LEN],
                           unsigned role, am_cert_t *out);

/* The agency id a serialized SignedCertificate names, WITHOUT checking
 * the signature or any other field: only to sort or match certificates
 * before verifying them.  AM_ETOOBIG, AM_EPROTO. */
int am_cert_peek_id(const uint8_t *in, size_t len,
                    char id[static AM_AGENCY_ID_MAX + 1]);

/* 0 when not_before <= t <= not_after; AM_EEXPIRED with a sentence
 * otherwise. */
int am_cert_valid_at(const am_cert_t *c, int64_t t);

/* The two halves of am_cert_verify, for a verifier that caches the first
 * (the root's signature does not change; the clock and the revocation list
 * do).  am_cert_verify_signed: bound, the root's signature, the fields and
 * the issuer, with the same errors except AM_EEXPIRED, AM_EROLE and
 * AM_EREVOKED; *out is set only on success.  am_cert_check_policy: the
 * validity at p->now, p->role and p->crl (p->root_pk is not used) of
 * fields that came from am_cert_verify_signed. */
int am_cert_verify_signed(const uint8_t *in, size_t len,
                          const uint8_t root_pk[static AM_SIGN_PK_LEN],
                          am_cert_t *out);
int am_cert_check_policy(const am_cert_t *c, const am_cert_policy_t *p);

/* One revoked certificate, as issued. */
typedef struct {
    uint64_t serial;
    const char *agency_id;
    int64_t revoked_at;
    const char *reason; /* may be NULL */
} am_revoked_t;

/* Sign a revocation list: *out is a serialized RevocationList (am_free). */
int am_crl_issue(const uint8_t root_sk[static 64], uint64_t sequence,
                 int64_t issued_at, const am_revoked_t *revoked, size_t n,
                 uint8_t **out, size_t *out_len);

/* Verify a serialized RevocationList (untrusted) signed by root_pk.  A
 * list whose sequence is below held_sequence is refused (AM_ESTALE): a
 * relay never goes back to an older list.  Free *out with am_crl_free. */
int am_crl_verify(const uint8_t *in, size_t len,
                  const uint8_t root_pk[static AM_SIGN_PK_LEN],
                  uint64_t held_sequence, am_crl_t **out);
uint64_t am_crl_sequence(const am_crl_t *crl);
int64_t am_crl_issued_at(const am_crl_t *crl);
bool am_crl_revoked(const am_crl_t *crl, uint64_t serial);
/* As am_crl_revoked, and *revoked_at (when not NULL) set to the entry's
 * revoked_at; a serial listed more than once counts from its earliest. */
bool am_crl_revoked_at(const am_crl_t *crl, uint64_t serial,
                       int64_t *revoked_at);
void am_crl_free(am_crl_t *crl);

#endif
