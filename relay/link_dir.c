/* What a peer relay tells this one besides envelopes (docs/PROTOCOL.md
 * section 18): the certificates and prekeys of the agencies homed there,
 * so that agencies here can seal to them, and newer revocation lists,
 * which this relay keeps (data folder, federation.crl), loads as SIGHUP
 * does and passes on to its own peers. */
#include "link.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"
#include "prekey.h"

static void on_prekey_kept(void *ctx, int rc)
{
    (void)ctx;
    if (rc != 0 && rc != AM_ESTALE)
        fprintf(stderr, "amanat-relay: a peer's prekey not kept: %s\n",
                am_strerror(rc));
}

/* One entry: a certificate of an agency homed at the peer, and its
 * prekey signed under that certificate. */
static void one_entry(conn_t *c, const Amanat__V1__DirectoryEntry *e)
{
    am_cert_policy_t pol = {am_dir_root_pk(c->srv->dir), (int64_t)time(NULL),
                            AM_ROLE_AGENCY, am_dir_crl(c->srv->dir)};
    uint8_t cert[AM_CERT_MAX];
    am_store_prekey_t p = {0};
    am_cert_t v;
    am_prekey_t k;
    size_t len;

    if (e->certificate == NULL ||
        (len = amanat__v1__signed_certificate__get_packed_size(
             e->certificate)) > sizeof cert)
        return;
    amanat__v1__signed_certificate__pack(e->certificate, cert);
    if (am_cert_verify(cert, len, &pol, &v) != 0 ||
        strcmp(v.home_relay, c->peer.agency_id) != 0) {
        conn_log(c, "directory entry %.40s refused: %s", e->agency_id,
                 am_err_detail());
        return;
    }
    conn_learn_cert(c->srv, cert, len, &v);
    if (e->prekey == NULL ||
        (p.len = amanat__v1__signed_prekey__get_packed_size(e->prekey)) >
            sizeof p.signed_prekey)
        return;
    amanat__v1__signed_prekey__pack(e->prekey, p.signed_prekey);
    if (am_prekey_verify(p.signed_prekey, p.len, &v, pol.now, &k) != 0)
        return;
    snprintf(p.agency, sizeof p.agency, "%s", v.agency_id);
    p.prekey_id = k.prekey_id;
    p.cert_serial = v.serial;
    p.created_at = k.created_at;
    p.not_after = k.not_after;
    (void)am_store_prekey_put(c->srv->store, &p, on_prekey_kept, NULL);
}

void link_directory(conn_t *c, const Amanat__V1__DirectoryUpdate *u)
{
    if (u->n_entries > AM_STORE_LOOKUP_MAX) {
        link_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                        "directory_update: too many entries");
        return;
    }
    for (size_t i = 0; i < u->n_entries; i++)
        one_entry(c, u->entries[i]);
}

typedef struct {
    uv_work_t work;
    am_server_t *srv;
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
    int rc;
    char why[256];
} keep_t;

/* Two lists may arrive close together and their jobs run at once on two
 * workers: the file only ever moves to a higher sequence. */
static pthread_mutex_t keep_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t kept_seq;

static void keep_work(uv_work_t *w)
{
    keep_t *k = w->data;

    pthread_mutex_lock(&keep_mu);
    if (k->seq > kept_seq &&
        (k->rc = am_file_write(k->srv->dir_cfg.crl_learned, k->bytes, k->len,
                               0644, true)) == 0)
        kept_seq = k->seq;
    else if (k->rc != 0)
        snprintf(k->why, sizeof k->why, "%s", am_err_detail());
    pthread_mutex_unlock(&keep_mu);
}

static void keep_done(uv_work_t *w, int status)
{
    keep_t *k = w->data;

    if (status != 0 || k->rc != 0)
        fprintf(stderr, "amanat-relay: revocation list not kept: %s\n",
                status ? "cancelled" : k->why);
    else
        am_server_reload(k->srv); /* loads it, as SIGHUP would */
    am_free(k->bytes);
    am_free(k);
}

void link_crl(am_server_t *srv, const Amanat__V1__RevocationList *crl,
              const char *from)
{
    const am_crl_t *held = am_dir_crl(srv->dir);
    uint64_t seq = held != NULL ? am_crl_sequence(held) : 0;
    am_crl_t *got = NULL;
    keep_t *k;
    int rc;

    if (srv->dir_cfg.crl_learned == NULL ||
        (k = am_calloc(1, sizeof *k)) == NULL)
        return;
    k->len = amanat__v1__revocation_list__get_packed_size(crl);
    if (k->len > AM_CRL_MAX || (k->bytes = am_malloc(k->len)) == NULL) {
        am_free(k);
        return;
    }
    amanat__v1__revocation_list__pack(crl, k->bytes);
    if ((rc = am_crl_verify(k->bytes, k->len, am_dir_root_pk(srv->dir),
                            seq + 1, &got)) != 0) {
        if (rc != AM_ESTALE) /* not newer: nothing to do */
            fprintf(stderr, "amanat-relay: revocation list from %s refused: %s\n",
                from, am_err_detail());
        goto drop;
    }
    fprintf(stderr, "amanat-relay: revocation list %llu from %s\n",
            (unsigned long long)am_crl_sequence(got), from);
    k->seq = am_crl_sequence(got);
    am_crl_free(got);
    k->srv = srv;
    k->work.data = k;
    if (uv_queue_work(srv->loop, &k->work, keep_work, keep_done) == 0)
        return;
drop:
    am_free(k->bytes);
    am_free(k);
}
