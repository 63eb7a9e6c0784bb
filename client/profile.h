/* An agency's client profile: one folder (its "home") holding what an
 * officer's machine needs to speak for the agency.
 *
 *   client.ini    [agency] id = DE-BKA, relay = 127.0.0.1:7400
 *   agency.key    the agency's secret keys (amanat keygen; 0600, sealed)
 *   agency.cert   its certificate, issued by the federation administrator
 *   root.pub      the federation root's public key
 *   prekeys/      prekey secrets (prekeys.h)
 *   store.db      the local store of everything sent and received (cstore.h)
 *
 * The home is AMANAT_HOME, else --home, else ~/.amanat.  `amanat join`
 * fills it from the files keygen and the administrator produced. */
#ifndef AM_PROFILE_H
#define AM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "country.h"
#include "passphrase.h"

#define AM_PROFILE_PATH_MAX 512
#define AM_RELAY_HOST_MAX 255

typedef struct {
    char home[AM_PROFILE_PATH_MAX];
    char agency_id[AM_AGENCY_ID_MAX + 1];
    char relay_host[AM_RELAY_HOST_MAX + 1];
    uint16_t relay_port;
    uint8_t root_pk[32];
    uint8_t *cert;       /* the agency's SignedCertificate bytes (am_free) */
    size_t cert_len;
    am_cert_t self;      /* cert, verified under root_pk */
    uint8_t *secret;     /* sodium_malloc'd: Ed25519 seed || X25519 secret */
    uint8_t sign_sk[64]; /* expanded from the seed; wiped by close */
} am_profile_t;

/* The home folder to use: dir if given, else AMANAT_HOME, else ~/.amanat. */
int am_profile_home(const char *dir, char *out, size_t cap);

/* A path inside the home. */
int am_profile_path(const am_profile_t *p, const char *name, char *out,
                    size_t cap);

/* Read client.ini, root.pub and agency.cert (verified: chain to the root,
 * role agency, its id the configured one, valid at now).  No secrets. */
int am_profile_open(const char *home, int64_t now, am_profile_t *p);

/* Unseal agency.key with a passphrase from src and check it matches the
 * certificate (both public keys). */
int am_profile_unlock(am_profile_t *p, const am_pass_source_t *src);

/* Wipe secrets, free. */
void am_profile_close(am_profile_t *p);

/* Create home (0700) from the files made by keygen and the administrator:
 * copies key, cert and root, writes client.ini.  Refuses to overwrite. */
int am_profile_join(const char *home, const char *key_path,
                    const char *cert_path, const char *root_path,
                    const char *relay);

/* "host:port" -> parts. */
int am_profile_parse_relay(const char *s, char *host, size_t cap,
                           uint16_t *port);

#endif
