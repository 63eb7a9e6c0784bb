#include "directory.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "keystore.h"
#include "fsutil.h"

#define MAX_AGENCIES 4096

typedef struct {
    am_cert_t cert; /* first: am_dir_find returns its address */
    uint8_t *bytes; /* the SignedCertificate as issued */
    size_t len;
    bool learned;   /* from a handshake, not (yet) from the folder */
} entry_t;

struct am_dir {
    uint8_t root_pk[32];
    am_cert_t self;
    uint8_t *self_cert;
    size_t self_cert_len;
    uint8_t *secrets; /* sodium_malloc: sign_sk (64) || dh_sk (32) */
    am_crl_t *crl;
    uint8_t *crl_bytes;
    size_t crl_len;
    entry_t *agencies; /* sorted by agency id, one per id */
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

static int load_crl(am_dir_t *d, const char *path, bool optional)
{
    uint8_t *b = NULL;
    size_t len;
    am_crl_t *crl = NULL;
    int rc;

    if (path == NULL || (optional && access(path, F_OK) != 0))
        return 0;
    if ((rc = load_file(path, AM_CRL_MAX, &b, &len)) == 0)
        rc = am_crl_verify(b, len, d->root_pk, 0, &crl);
    if (rc != 0) {
        am_free(b);
        return am_err_wrap(rc, "revocation list %s", path);
    }
    if (d->crl != NULL && am_crl_sequence(d->crl) >= am_crl_sequence(crl)) {
        am_crl_free(crl); /* the one loaded first is as new */
        am_free(b);
        return 0;
    }
    am_crl_free(d->crl);
    am_free(d->crl_bytes);
    d->crl = crl;
    d->crl_bytes = b;
    d->crl_len = len;
    return 0;
}

/* Where id is, or would be inserted, in the sorted agencies. */
static size_t position(const am_dir_t *d, const char *id, bool *found)
{
    size_t lo = 0, hi = d->n_agencies;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(d->agencies[mid].cert.agency_id, id);

        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Keep the verified certificate c (bytes b, taken over) unless the
 * directory has a newer one of the same agency.  Returns 1 when kept. */
static int insert(am_dir_t *d, const am_cert_t *c, uint8_t *b, size_t len)
{
    bool found;
    size_t i = position(d, c->agency_id, &found);
    entry_t *e = &d->agencies[i];

    if (found) {
        if (e->cert.not_before > c->not_before ||
            (e->cert.not_before == c->not_before &&
             e->cert.serial >= c->serial)) {
            am_free(b);
            return 0;
        }
        am_free(e->bytes);
    } else if (d->n_agencies == MAX_AGENCIES) {
        am_free(b);
        return am_errf(AM_ELIMIT, "more than %d agencies", MAX_AGENCIES);
    } else {
        memmove(e + 1, e, (d->n_agencies - i) * sizeof *e);
        d->n_agencies++;
    }
    e->cert = *c;
    e->bytes = b;
    e->len = len;
    e->learned = false;
    return 1;
}

/* Every *.cert in the folder must verify (agency role); a bad one stops
 * the load, so an operator sees it at once rather than at delivery.  Of
 * several certificates of one agency the newest is served. */
static int load_agencies(am_dir_t *d, const char *dir, int64_t now)
{
    /* agencies, and the peer relays learned at their links (section 18) */
    am_cert_policy_t pol = {d->root_pk, now, 0, d->crl};
    char path[4200];
    struct dirent *e;
    DIR *dp;
    int rc = 0;

    if ((d->agencies = am_calloc(MAX_AGENCIES, sizeof *d->agencies)) == NULL)
        return AM_ENOMEM;
    if ((dp = opendir(dir)) == NULL)
        return am_errf(AM_EIO, "cannot read certificates folder %s", dir);
    while (rc == 0 && (e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name), len;
        uint8_t *b = NULL;
        am_cert_t c;

        if (n < 6 || strcmp(e->d_name + n - 5, ".cert") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((rc = load_file(path, AM_CERT_MAX, &b, &len)) == 0 &&
            (rc = am_cert_verify(b, len, &pol, &c)) != 0)
            rc = am_err_wrap(rc, "%s", path);
        if (rc == 0 && (c.roles & (AM_ROLE_AGENCY | AM_ROLE_RELAY)) == 0)
            rc = am_errf(AM_EROLE, "%s: neither an agency's nor a relay's "
                         "certificate", path);
        if (rc == AM_EREVOKED || rc == AM_EEXPIRED) {
            /* not served, but not a reason to stop serving the others */
            fprintf(stderr, "amanat-relay: skipped: %s\n", am_err_detail());
            rc = 0;
        } else if (rc == 0) {
            if ((rc = insert(d, &c, b, len)) == AM_ELIMIT)
                fprintf(stderr, "amanat-relay: skipped %s: %s\n", path,
                        am_err_detail());
            b = NULL;
            rc = rc == AM_ELIMIT || rc >= 0 ? 0 : rc;
        }
        am_free(b);
    }
    closedir(dp);
    return rc;
}

int am_dir_learn(am_dir_t *d, const uint8_t *cert, size_t len,
                 const am_cert_t *verified)
{
    uint8_t *b;

    bool found;
    int rc;

    if (len > AM_CERT_MAX)
        return AM_ETOOBIG;
    if ((b = am_malloc(len)) == NULL)
        return AM_ENOMEM;
    memcpy(b, cert, len);
    if ((rc = insert(d, verified, b, len)) == 1)
        d->agencies[position(d, verified->agency_id, &found)].learned = true;
    return rc;
}

size_t am_dir_carry_learned(am_dir_t *to, const am_dir_t *from, int64_t now)
{
    am_cert_policy_t pol = {to->root_pk, now, 0, to->crl};
    size_t kept = 0;

    for (size_t i = 0; i < from->n_agencies; i++) {
        const entry_t *e = &from->agencies[i];
        am_cert_t c;

        /* checked again: the new root or revocation list may refuse it */
        if (e->learned && am_cert_verify(e->bytes, e->len, &pol, &c) == 0 &&
            am_dir_learn(to, e->bytes, e->len, &c) == 1)
            kept++;
    }
    return kept;
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
        (rc = load_crl(d, cfg->crl, false)) != 0 ||
        (rc = load_crl(d, cfg->crl_learned, true)) != 0 ||
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
    am_free(d->crl_bytes);
    am_free(d->self_cert);
    for (size_t i = 0; i < d->n_agencies; i++)
        am_free(d->agencies[i].bytes);
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

const uint8_t *am_dir_crl_bytes(const am_dir_t *d, size_t *len)
{
    *len = d->crl_len;
    return d->crl_bytes;
}

const am_cert_t *am_dir_find(const am_dir_t *d, const char *id)
{
    bool found;
    size_t i = position(d, id, &found);

    return found ? &d->agencies[i].cert : NULL;
}

size_t am_dir_count(const am_dir_t *d) { return d->n_agencies; }

const am_cert_t *am_dir_at(const am_dir_t *d, size_t i)
{
    return i < d->n_agencies ? &d->agencies[i].cert : NULL;
}

const uint8_t *am_dir_cert_bytes(const am_dir_t *d, const char *id,
                                 size_t *len)
{
    bool found;
    size_t i = position(d, id, &found);

    if (!found)
        return NULL;
    *len = d->agencies[i].len;
    return d->agencies[i].bytes;
}
