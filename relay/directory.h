/* What the relay knows of the federation: the root key, its own
 * certificate and secret keys, the certificates of the agencies it serves
 * (each verified when loaded) and the newest revocation list.  Loaded at
 * start and, on SIGHUP, on a thread-pool thread (server.c); read on the
 * event loop without disk access. */
#ifndef AM_DIRECTORY_H
#define AM_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"

typedef struct am_dir am_dir_t;

typedef struct {
    const char *root_pub;   /* root.pub key file */
    const char *cert;       /* the relay's certificate */
    const char *key;        /* the relay's secret key file */
    const char *certs_dir;  /* agency certificates, *.cert */
    const char *crl;        /* revocation list file, or NULL */
    const char *crl_learned; /* the newest list a peer relay sent, kept by
                                this relay (may not exist yet), or NULL;
                                of the two lists the newer is used */
    const char *pass_env;   /* environment variable with the key's
                               passphrase, or NULL for an unsealed key */
} am_dir_config_t;

int am_dir_load(const am_dir_config_t *cfg, int64_t now, am_dir_t **out);
void am_dir_free(am_dir_t *d);

const uint8_t *am_dir_root_pk(const am_dir_t *d);
const am_cert_t *am_dir_self(const am_dir_t *d);
const uint8_t *am_dir_self_cert(const am_dir_t *d, size_t *len);
const uint8_t *am_dir_sign_sk(const am_dir_t *d); /* 64 bytes */
const uint8_t *am_dir_dh_sk(const am_dir_t *d);   /* 32 bytes */
const am_crl_t *am_dir_crl(const am_dir_t *d);

/* The revocation list as loaded (NULL when none). */
const uint8_t *am_dir_crl_bytes(const am_dir_t *d, size_t *len);

/* The verified certificate of agency id, or NULL (binary search). */
const am_cert_t *am_dir_find(const am_dir_t *d, const char *id);

/* The certificates held, in agency id order: i below am_dir_count. */
size_t am_dir_count(const am_dir_t *d);
const am_cert_t *am_dir_at(const am_dir_t *d, size_t i);

/* Its serialized SignedCertificate, or NULL. */
const uint8_t *am_dir_cert_bytes(const am_dir_t *d, const char *id,
                                 size_t *len);

/* Add a certificate the caller verified (under this directory's root and
 * revocation list; an agency's, or a peer relay's) unless a newer one of the same agency is
 * held.  Returns 1 when kept, 0 when an equal or newer one was held, or a
 * negative AM_E code (AM_ELIMIT: the directory is full).  Memory only. */
int am_dir_learn(am_dir_t *d, const uint8_t *cert, size_t len,
                 const am_cert_t *verified);

/* After a reload: the certificates learned into from that to does not
 * have (or has older), verified again under to's root and revocation
 * list, so a reload never forgets an agency whose certificate could not
 * be written to the folder yet.  Returns how many were kept. */
size_t am_dir_carry_learned(am_dir_t *to, const am_dir_t *from, int64_t now);

#endif
