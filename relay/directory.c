#include "directory.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "keystore.h"
#include "fsutil.h"

#define MAX_AGENCIES 4096

struct am_dir {
    uint8_t root_pk[32];
    am_cert_t self;
    uint8_t *self_cert;
    size_t self_cert_len;
    uint8_t *secrets; /* sodium_malloc: sign_sk (64) || dh_sk (32) */
    am_crl_t *crl;
    am_cert_t *agencies;
    size_t n_agencies;
};

static int load_file(const char *path, size_t max, uint8_t **b, size_t *len)
{
    return am_file_read(path, max, b, len, NULL);
}

static int load_root(am_dir_t *d, const char *path)
{
    am_pass_source_t none = {-1, NULL, 1};
    am_key_t *k = NULL;
    int rc;

    if ((rc = am_keystore_load(path, AM_KEY_ROOT_PUBLIC, &none, &k)) != 0)
        return rc;
    memcpy(d->root_pk, k->key, 32);
    am_key_free(k);
    return 0;
}

static int load_self(am_dir_t *d, const am_dir_config_t *cfg, int64_t now)
{
    am_pass_source_t src = {-1, cfg->pass_env, cfg->pass_env == NULL};
    am_cert_policy_t pol = {d->root_pk, now, AM_ROLE_RELAY, d->crl};
    uint8_t pk[32];
    am_key_t *k = NULL;
    int rc;

    if ((rc = load_file(cfg->cert, AM_CERT_MAX, &d->self_cert,
                        &d->self_cert_len)) != 0 ||
        (rc = am_cert_verify(d->self_cert, d->self_cert_len, &pol,
                             &d->self)) != 0)
        return am_err_wrap(rc, "relay certificate %s", cfg->cert);
    if ((rc = am_keystore_load(cfg->key, AM_KEY_AGENCY_SECRET, &src, &k)) != 0)
        return rc;
    if ((d->secrets = sodium_malloc(96)) == NULL) {
        am_key_free(k);
        return AM_ENOMEM;
    }
    rc = crypto_sign_seed_keypair(pk, d->secrets, k->key) != 0 ? AM_EKEY : 0;
    memcpy(d->secrets + 64, k->key + 32, 32);
    am_key_free(k);
    if (rc == 0 && (memcmp(pk, d->self.sign_pk, 32) != 0 ||
                    crypto_scalarmult_base(pk, d->secrets + 64) != 0 ||
                    memcmp(pk, d->self.dh_pk, 32) != 0))
        rc = am_errf(AM_EKEY, "%s is not the key of certificate %s", cfg->key,
                     cfg->cert);
    return rc;
}

static int load_crl(am_dir_t *d, const char *path)
{
    uint8_t *b = NULL;
    size_t len;
    int rc;

    if (path == NULL)
        return 0;
    if ((rc = load_file(path, AM_CRL_MAX, &b, &len)) == 0)
        rc = am_crl_verify(b, len, d->root_pk, 0, &d->crl);
    am_free(b);
    return rc != 0 ? am_err_wrap(rc, "revocation list %s", path) : 0;
}

/* Every *.cert in the folder must verify (agency role); a bad one stops
 * the load, so an operator sees it at once rather than at delivery. */
static int load_agencies(am_dir_t *d, const char *dir, int64_t now)
{
    am_cert_policy_t pol = {d->root_pk, now, AM_ROLE_AGENCY, d->crl};
    char path[4200];
    struct dirent *e;
    DIR *dp;
    int rc = 0;

    if ((d->agencies = am_calloc(MAX_AGENCIES, sizeof *d->agencies)) == NULL)
        return AM_ENOMEM;
    if ((dp = opendir(dir)) == NULL)
        return am_errf(AM_EIO, "cannot read certificates folder %s", dir);
    while (rc == 0 && (e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name);
        uint8_t *b = NULL;
        size_t len;

        if (n < 6 || strcmp(e->d_name + n - 5, ".cert") != 0)
            continue;
        if (d->n_agencies == MAX_AGENCIES) {
            rc = am_errf(AM_ELIMIT, "more than %d certificates in %s",
                         MAX_AGENCIES, dir);
            break;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((rc = load_file(path, AM_CERT_MAX, &b, &len)) == 0 &&
            (rc = am_cert_verify(b, len, &pol,
                                 &d->agencies[d->n_agencies])) != 0)
            rc = am_err_wrap(rc, "%s", path);
        am_free(b);
        if (rc == AM_EREVOKED || rc == AM_EEXPIRED) {
            /* not served, but not a reason to stop serving the others */
            fprintf(stderr, "amanat-relay: skipped: %s\n", am_err_detail());
            rc = 0;
        } else if (rc == 0) {
            d->n_agencies++;
        }
    }
    closedir(dp);
    return rc;
}

int am_dir_load(const am_dir_config_t *cfg, int64_t now, am_dir_t **out)
{
    am_dir_t *d;
    int rc;

    if (cfg == NULL || cfg->root_pub == NULL || cfg->cert == NULL ||
        cfg->key == NULL || cfg->certs_dir == NULL || out == NULL)
        return AM_EINVAL;
    if ((d = am_calloc(1, sizeof *d)) == NULL)
        return AM_ENOMEM;
    if ((rc = load_root(d, cfg->root_pub)) != 0 ||
        (rc = load_crl(d, cfg->crl)) != 0 ||
        (rc = load_self(d, cfg, now)) != 0 ||
        (rc = load_agencies(d, cfg->certs_dir, now)) != 0) {
        am_dir_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void am_dir_free(am_dir_t *d)
{
    if (d == NULL)
        return;
    sodium_free(d->secrets);
    am_crl_free(d->crl);
    am_free(d->self_cert);
    am_free(d->agencies);
    am_free(d);
}

const uint8_t *am_dir_root_pk(const am_dir_t *d) { return d->root_pk; }
const am_cert_t *am_dir_self(const am_dir_t *d) { return &d->self; }
const uint8_t *am_dir_sign_sk(const am_dir_t *d) { return d->secrets; }
const uint8_t *am_dir_dh_sk(const am_dir_t *d) { return d->secrets + 64; }
const am_crl_t *am_dir_crl(const am_dir_t *d) { return d->crl; }

const uint8_t *am_dir_self_cert(const am_dir_t *d, size_t *len)
{
    *len = d->self_cert_len;
    return d->self_cert;
}

const am_cert_t *am_dir_find(const am_dir_t *d, const char *id)
{
    for (size_t i = 0; i < d->n_agencies; i++)
        if (strcmp(d->agencies[i].agency_id, id) == 0)
            return &d->agencies[i];
    return NULL;
}
