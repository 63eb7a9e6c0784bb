/* The directory service (docs/PROTOCOL.md section 14): certificates and
 * prekeys, so that a sender can seal to an agency it has never met.
 *
 * Certificates come from the operator's folder and from authentication:
 * a root-signed agency certificate the relay did not hold (or an older one
 * of the same agency) is learned when its agency authenticates, kept in
 * memory at once and written to the certificates folder off the loop (a
 * thread-pool job), so a restart or a reload still has it.  Prekeys are
 * verified under the session's own certificate on upload and kept by the
 * store; a lookup reads them on the store thread. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"
#include "fsutil.h"

/* A prekey "created" further ahead than this would lock its agency out of
 * later uploads (the relay keeps the newest): refused. */
#define PREKEY_FUTURE_SLACK 3600
#define PREKEY_UPLOADS_MAX 8

typedef struct {
    uv_work_t work;
    char path[4200];
    uint8_t *bytes;
    size_t len;
    int rc;
    char why[256];
} persist_t;

static void persist_work(uv_work_t *w)
{
    persist_t *p = w->data;

    if ((p->rc = am_file_write(p->path, p->bytes, p->len, 0644, true)) != 0)
        snprintf(p->why, sizeof p->why, "%s", am_err_detail());
}

static void persist_done(uv_work_t *w, int status)
{
    persist_t *p = w->data;

    if (status != 0 || p->rc != 0)
        fprintf(stderr, "amanat-relay: learned certificate not saved (served "
                "from memory until the relay stops): %s\n",
                status ? "cancelled" : p->why);
    am_free(p->bytes);
    am_free(p);
}

/* Write the certificate to CERTS/ID.cert off the loop. */
static void persist(am_server_t *srv, const char *id, const uint8_t *cert,
                    size_t len)
{
    persist_t *p = am_calloc(1, sizeof *p);

    if (p == NULL || (p->bytes = am_malloc(len)) == NULL) {
        am_free(p);
        fprintf(stderr, "amanat-relay: certificate of %s not saved: out of "
                "memory\n", id);
        return;
    }
    memcpy(p->bytes, cert, len);
    p->len = len;
    p->work.data = p;
    snprintf(p->path, sizeof p->path, "%s/%s.cert", srv->dir_cfg.certs_dir,
             id);
    if (uv_queue_work(srv->loop, &p->work, persist_work, persist_done) != 0) {
        fprintf(stderr, "amanat-relay: certificate of %s not saved: cannot "
                "queue\n", id);
        am_free(p->bytes);
        am_free(p);
    }
}

void conn_learn_cert(am_server_t *srv, const uint8_t *cert, size_t len,
                     const am_cert_t *verified)
{
    const am_cert_t *held = am_dir_find(srv->dir, verified->agency_id);
    int rc;

    if (held != NULL && held->serial == verified->serial)
        return;
    if ((rc = am_dir_learn(srv->dir, cert, len, verified)) < 0) {
        fprintf(stderr, "amanat-relay: certificate of %s not learned: %s\n",
                verified->agency_id, am_strerror(rc));
        return;
    }
    if (rc == 1) {
        fprintf(stderr, "amanat-relay: learned the certificate of %s (serial "
                "%llu)\n", verified->agency_id,
                (unsigned long long)verified->serial);
        persist(srv, verified->agency_id, cert, len);
        /* peer relays serve this relay's agencies too */
        if (strcmp(verified->home_relay, am_dir_self(srv->dir)->agency_id) == 0)
            conn_push_agency(srv, verified->agency_id);
    }
}

void conn_learn(conn_t *c, const uint8_t *cert, size_t len)
{
    conn_learn_cert(c->srv, cert, len, &c->peer);
}

typedef struct {
    conn_t *c;
    uint64_t request_id;
    uint32_t prekey_id;
} dir_req_t;

static dir_req_t *dir_req(conn_t *c, uint64_t request_id)
{
    dir_req_t *q = am_calloc(1, sizeof *q);

    if (q != NULL) {
        q->c = c;
        q->request_id = request_id;
    }
    return q;
}

static void answer_prekey(conn_t *c, const dir_req_t *q, int rc)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__PrekeyResult r = AMANAT__V1__PREKEY_RESULT__INIT;

    if (rc == AM_ESTALE) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_STALE,
                        q->request_id, false, "prekey %u is not newer than "
                        "the one this relay holds for \"%s\"", q->prekey_id,
                        c->peer.agency_id);
    } else if (rc != 0) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        q->request_id, false, "prekey not stored: %s",
                        am_strerror(rc));
    } else {
        r.request_id = q->request_id;
        r.prekey_id = q->prekey_id;
        f.op_case = AMANAT__V1__FRAME__OP_PREKEY_RESULT;
        f.prekey_result = &r;
        if (conn_send_frame(c, &f) != 0)
            conn_close(c, "cannot send");
        else
            conn_log(c, "prekey %u stored", q->prekey_id);
        if (rc == 0)
            conn_push_agency(c->srv, c->peer.agency_id);
    }
}

static void on_prekey_stored(void *ctx, int rc)
{
    dir_req_t *q = ctx;
    conn_t *c = q->c;

    c->store_pending--;
    if (!c->closing) {
        answer_prekey(c, q, rc);
        conn_flow(c);
    }
    conn_unref(c);
    am_free(q);
}

/* Checks an uploaded prekey; fills *p.  Runs on the loop: one signature
 * per rotation (days apart) is no load. */
static int check_prekey(conn_t *c, const Amanat__V1__PrekeyUpload *u,
                        am_store_prekey_t *p, Amanat__V1__ErrorCode *code,
                        char *why, size_t cap)
{
    int64_t now = (int64_t)time(NULL);
    am_prekey_t k;
    int rc;

    *code = AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL;
    if (u->prekey == NULL ||
        (p->len = amanat__v1__signed_prekey__get_packed_size(u->prekey)) >
            sizeof p->signed_prekey) {
        snprintf(why, cap, "prekey_upload: no prekey, or over %d bytes",
                 AM_PREKEY_MAX);
        return -1;
    }
    amanat__v1__signed_prekey__pack(u->prekey, p->signed_prekey);
    if ((rc = am_prekey_verify(p->signed_prekey, p->len, &c->peer, now,
                               &k)) != 0) {
        *code = rc == AM_EEXPIRED ? AMANAT__V1__ERROR_CODE__ERROR_EXPIRED
                                  : AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE;
        snprintf(why, cap, "%s", am_err_detail());
        return -1;
    }
    if (k.created_at > now + PREKEY_FUTURE_SLACK) {
        snprintf(why, cap, "prekey %u: created_at %lld is in the future",
                 k.prekey_id, (long long)k.created_at);
        return -1;
    }
    snprintf(p->agency, sizeof p->agency, "%s", c->peer.agency_id);
    p->prekey_id = k.prekey_id;
    p->cert_serial = c->peer.serial;
    p->created_at = k.created_at;
    p->not_after = k.not_after;
    return 0;
}

void conn_prekey_upload(conn_t *c, const Amanat__V1__PrekeyUpload *u)
{
    Amanat__V1__ErrorCode code;
    am_store_prekey_t p;
    dir_req_t *q = NULL;
    char why[256];

    /* a client uploads one per rotation: a stream of them is an attack on
     * the loop thread, where they are verified */
    if (++c->prekey_uploads > PREKEY_UPLOADS_MAX) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_QUOTA, u->request_id,
                        true, "more than %d prekey uploads in one session",
                        PREKEY_UPLOADS_MAX);
        return;
    }
    if (check_prekey(c, u, &p, &code, why, sizeof why) != 0) {
        conn_send_error(c, code, u->request_id, false, "%s", why);
        return;
    }
    if ((q = dir_req(c, u->request_id)) == NULL ||
        am_store_prekey_put(c->srv->store, &p, on_prekey_stored, q) != 0) {
        am_free(q);
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        u->request_id, false, "store unavailable");
        return;
    }
    q->prekey_id = p.prekey_id;
    conn_ref(c);
    c->store_pending++;
    conn_flow(c);
}

/* The entries of a DirectoryResult: certificates from the directory (only
 * those still valid), prekeys from the store.  The unpacked messages are
 * freed by free_entries. */
void conn_dir_entries(am_server_t *srv, const am_store_prekey_t *found,
                      size_t n, Amanat__V1__DirectoryEntry *e,
                      Amanat__V1__DirectoryEntry **ep)
{
    int64_t now = (int64_t)time(NULL);

    for (size_t i = 0; i < n; i++) {
        const am_cert_t *cert = am_dir_find(srv->dir, found[i].agency);
        const uint8_t *b;
        size_t len;

        amanat__v1__directory_entry__init(&e[i]);
        ep[i] = &e[i];
        e[i].agency_id = (char *)found[i].agency;
        if (cert == NULL || cert->not_after < now ||
            (b = am_dir_cert_bytes(srv->dir, found[i].agency, &len)) == NULL)
            continue;
        e[i].certificate = amanat__v1__signed_certificate__unpack(NULL, len, b);
        /* a prekey signed under an older certificate would not verify
         * under the one served: none then, and senders use dh_pk */
        if (found[i].len > 0 && found[i].cert_serial == cert->serial)
            e[i].prekey = amanat__v1__signed_prekey__unpack(
                NULL, found[i].len, found[i].signed_prekey);
    }
}

void conn_dir_entries_free(Amanat__V1__DirectoryEntry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].certificate != NULL)
            amanat__v1__signed_certificate__free_unpacked(e[i].certificate,
                                                          NULL);
        if (e[i].prekey != NULL)
            amanat__v1__signed_prekey__free_unpacked(e[i].prekey, NULL);
    }
}

static void answer_lookup(conn_t *c, uint64_t request_id,
                          const am_store_prekey_t *found, size_t n)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DirectoryResult r = AMANAT__V1__DIRECTORY_RESULT__INIT;
    Amanat__V1__DirectoryEntry e[AM_STORE_LOOKUP_MAX];
    Amanat__V1__DirectoryEntry *ep[AM_STORE_LOOKUP_MAX];
    size_t size;

    conn_dir_entries(c->srv, found, n, e, ep);
    r.request_id = request_id;
    r.n_entries = n;
    r.entries = ep;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_RESULT;
    f.directory_result = &r;
    if ((size = amanat__v1__frame__get_packed_size(&f)) >
        c->srv->cfg.frame_max)
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG, request_id,
                        false, "directory answer of %zu bytes over the frame "
                        "limit: ask for fewer agencies", size);
    else if (conn_send_frame(c, &f) != 0)
        conn_close(c, "cannot send");
    conn_dir_entries_free(e, n);
}

static void on_prekeys(void *ctx, int rc, const am_store_prekey_t *found,
                       size_t n)
{
    dir_req_t *q = ctx;
    conn_t *c = q->c;

    c->store_pending--;
    if (!c->closing) {
        if (rc != 0)
            conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                            q->request_id, false, "directory: %s",
                            am_strerror(rc));
        else
            answer_lookup(c, q->request_id, found, n);
        conn_flow(c);
    }
    conn_unref(c);
    am_free(q);
}

void conn_lookup(conn_t *c, const Amanat__V1__DirectoryLookup *l)
{
    dir_req_t *q;

    if (l->n_agency_ids == 0 || l->n_agency_ids > AM_STORE_LOOKUP_MAX) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                        l->request_id, false, "directory_lookup: %zu ids "
                        "(1 to %d)", l->n_agency_ids, AM_STORE_LOOKUP_MAX);
        return;
    }
    for (size_t i = 0; i < l->n_agency_ids; i++)
        if (!am_agency_id_valid(l->agency_ids[i])) {
            conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
                            l->request_id, false, "directory_lookup: "
                            "agency_ids[%zu] is not an agency id", i);
            return;
        }
    if ((q = dir_req(c, l->request_id)) == NULL ||
        am_store_prekeys(c->srv->store, (const char *const *)l->agency_ids,
                         l->n_agency_ids, (int64_t)time(NULL), on_prekeys,
                         q) != 0) {
        am_free(q);
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        l->request_id, false, "store unavailable");
        return;
    }
    conn_ref(c);
    c->store_pending++;
    conn_flow(c);
}
