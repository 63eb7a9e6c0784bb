#include "profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ini.h>
#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"
#include "keystore.h"

int am_profile_home(const char *dir, char *out, size_t cap)
{
    const char *env = getenv("AMANAT_HOME"), *home = getenv("HOME");
    int n;

    if (dir != NULL)
        n = snprintf(out, cap, "%s", dir);
    else if (env != NULL && env[0] != '\0')
        n = snprintf(out, cap, "%s", env);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(out, cap, "%s/.amanat", home);
    else
        return am_errf(AM_EINVAL, "no profile folder: give --home DIR or "
                       "set AMANAT_HOME");
    if (n < 0 || (size_t)n >= cap)
        return am_errf(AM_ETOOBIG, "profile folder name too long");
    return 0;
}

int am_profile_path(const am_profile_t *p, const char *name, char *out,
                    size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", p->home, name);

    return n < 0 || (size_t)n >= cap
               ? am_errf(AM_ETOOBIG, "path in %s too long", p->home)
               : 0;
}

int am_profile_parse_relay(const char *s, char *host, size_t cap,
                           uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    unsigned long v;

    if (colon == NULL || colon == s || (size_t)(colon - s) >= cap)
        return am_errf(AM_EINVAL, "relay \"%s\": expected HOST:PORT", s);
    errno = 0;
    v = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || v == 0 ||
        v > 65535)
        return am_errf(AM_EINVAL, "relay \"%s\": the port must be 1 to "
                       "65535", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (uint16_t)v;
    return 0;
}

typedef struct {
    am_profile_t *p;
    int rc;
    int have_id, have_relay;
} ini_t;

static int on_ini(void *user, const char *section, const char *name,
                  const char *value)
{
    ini_t *c = user;

    if (c->rc != 0)
        return 0;
    if (strcmp(section, "agency") != 0) {
        c->rc = am_errf(AM_EINVAL, "client.ini: unknown section [%s]",
                        section);
    } else if (strcmp(name, "id") == 0 && !c->have_id++) {
        if (strlen(value) > AM_AGENCY_ID_MAX || !am_agency_id_valid(value))
            c->rc = am_errf(AM_EINVAL, "client.ini: id \"%s\" is not an "
                            "agency id", value);
        else
            snprintf(c->p->agency_id, sizeof c->p->agency_id, "%s", value);
    } else if (strcmp(name, "relay") == 0 && !c->have_relay++) {
        c->rc = am_profile_parse_relay(value, c->p->relay_host,
                                       sizeof c->p->relay_host,
                                       &c->p->relay_port);
    } else {
        c->rc = am_errf(AM_EINVAL, "client.ini: unknown or repeated "
                        "setting \"%s\"", name);
    }
    return c->rc == 0;
}

static int read_ini(am_profile_t *p)
{
    char path[AM_PROFILE_PATH_MAX + 16];
    ini_t c = {p, 0, 0, 0};
    int line, rc;

    if ((rc = am_profile_path(p, "client.ini", path, sizeof path)) != 0)
        return rc;
    line = ini_parse(path, on_ini, &c);
    if (c.rc != 0)
        return c.rc;
    if (line < 0)
        return am_errf(AM_EIO, "cannot read %s: is %s a profile made by "
                       "amanat join?", path, p->home);
    if (line > 0)
        return am_errf(AM_EINVAL, "%s line %d: not an INI setting", path,
                       line);
    if (!c.have_id || !c.have_relay)
        return am_errf(AM_EINVAL, "%s: needs both id and relay", path);
    return 0;
}

static int read_root(am_profile_t *p)
{
    am_pass_source_t none = {-1, NULL, 1};
    char path[AM_PROFILE_PATH_MAX + 16];
    am_key_t *k = NULL;
    int rc;

    if ((rc = am_profile_path(p, "root.pub", path, sizeof path)) != 0 ||
        (rc = am_keystore_load(path, AM_KEY_ROOT_PUBLIC, &none, &k)) != 0)
        return rc;
    memcpy(p->root_pk, k->key, 32);
    am_key_free(k);
    return 0;
}

int am_profile_open(const char *home, int64_t now, am_profile_t *p)
{
    char path[AM_PROFILE_PATH_MAX + 16];
    am_cert_policy_t pol = {NULL, now, AM_ROLE_AGENCY, NULL};
    int rc;

    memset(p, 0, sizeof *p);
    if ((rc = am_profile_home(home, p->home, sizeof p->home)) != 0 ||
        (rc = read_ini(p)) != 0 || (rc = read_root(p)) != 0 ||
        (rc = am_profile_path(p, "agency.cert", path, sizeof path)) != 0 ||
        (rc = am_file_read(path, AM_CERT_MAX, &p->cert, &p->cert_len,
                           NULL)) != 0)
        goto fail;
    pol.root_pk = p->root_pk;
    if ((rc = am_cert_verify(p->cert, p->cert_len, &pol, &p->self)) != 0) {
        rc = am_err_wrap(rc, "%s", path);
        goto fail;
    }
    if (strcmp(p->self.agency_id, p->agency_id) != 0) {
        rc = am_errf(AM_EINVAL, "%s is the certificate of %s, not of %s",
                     path, p->self.agency_id, p->agency_id);
        goto fail;
    }
    return 0;
fail:
    am_profile_close(p);
    return rc;
}

int am_profile_unlock(am_profile_t *p, const am_pass_source_t *src)
{
    char path[AM_PROFILE_PATH_MAX + 16];
    uint8_t pk[32], dh_pk[32];
    am_key_t *k = NULL;
    int rc;

    if ((rc = am_profile_path(p, "agency.key", path, sizeof path)) != 0 ||
        (rc = am_keystore_load(path, AM_KEY_AGENCY_SECRET, src, &k)) != 0)
        return rc;
    rc = AM_ECRYPTO;
    if (crypto_sign_seed_keypair(pk, p->sign_sk, k->key) != 0 ||
        crypto_scalarmult_base(dh_pk, k->key + 32) != 0)
        goto out;
    if (sodium_memcmp(pk, p->self.sign_pk, 32) != 0 ||
        sodium_memcmp(dh_pk, p->self.dh_pk, 32) != 0) {
        rc = am_errf(AM_EKEY, "%s does not belong to the certificate of %s",
                     path, p->agency_id);
        goto out;
    }
    if ((p->secret = sodium_malloc(64)) == NULL) {
        rc = AM_ENOMEM;
        goto out;
    }
    memcpy(p->secret, k->key, 64);
    rc = 0;
out:
    if (rc != 0)
        sodium_memzero(p->sign_sk, sizeof p->sign_sk);
    am_key_free(k);
    return rc;
}

void am_profile_close(am_profile_t *p)
{
    sodium_memzero(p->sign_sk, sizeof p->sign_sk);
    if (p->secret != NULL)
        sodium_free(p->secret);
    p->secret = NULL;
    am_free(p->cert);
    p->cert = NULL;
}

static int copy_file(const char *from, const char *home, const char *name,
                     size_t max, mode_t mode)
{
    char path[AM_PROFILE_PATH_MAX + 16];
    uint8_t *b = NULL;
    size_t len;
    int rc, n = snprintf(path, sizeof path, "%s/%s", home, name);

    if (n < 0 || (size_t)n >= sizeof path)
        return am_errf(AM_ETOOBIG, "path in %s too long", home);
    if ((rc = am_file_read(from, max, &b, &len, NULL)) != 0)
        return rc;
    rc = am_file_write(path, b, len, mode, false);
    sodium_memzero(b, len); /* the key file, sealed or not */
    am_free(b);
    return rc;
}

int am_profile_join(const char *home, const char *key_path,
                    const char *cert_path, const char *root_path,
                    const char *relay)
{
    char host[AM_RELAY_HOST_MAX + 1], text[512], id[AM_AGENCY_ID_MAX + 1];
    am_pass_source_t none = {-1, NULL, 1};
    am_cert_policy_t pol = {NULL, 0, 0, NULL};
    am_cert_t cert;
    am_key_t *root = NULL;
    uint8_t *cb = NULL;
    size_t clen;
    uint16_t port;
    int rc, n;

    if ((rc = am_profile_parse_relay(relay, host, sizeof host, &port)) != 0 ||
        (rc = am_keystore_load(root_path, AM_KEY_ROOT_PUBLIC, &none,
                               &root)) != 0)
        return rc;
    pol.root_pk = root->key;
    pol.now = (int64_t)time(NULL);
    if ((rc = am_file_read(cert_path, AM_CERT_MAX, &cb, &clen, NULL)) != 0 ||
        (rc = am_cert_verify(cb, clen, &pol, &cert)) != 0)
        goto out;
    snprintf(id, sizeof id, "%s", cert.agency_id);
    n = snprintf(text, sizeof text, "# written by amanat join\n[agency]\n"
                 "id = %s\nrelay = %s\n", id, relay);
    if ((rc = am_dir_make(home, 0700)) != 0 ||
        (rc = copy_file(key_path, home, "agency.key", 1 << 16, 0600)) != 0 ||
        (rc = copy_file(cert_path, home, "agency.cert", AM_CERT_MAX,
                        0644)) != 0 ||
        (rc = copy_file(root_path, home, "root.pub", 1 << 16, 0644)) != 0)
        goto out;
    {
        char path[AM_PROFILE_PATH_MAX + 16];

        snprintf(path, sizeof path, "%s/client.ini", home);
        rc = am_file_write(path, text, (size_t)n, 0644, false);
    }
out:
    am_free(cb);
    am_key_free(root);
    return rc;
}
