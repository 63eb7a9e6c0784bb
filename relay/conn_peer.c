/* A peer relay's session with this relay (docs/PROTOCOL.md section 18).
 * It authenticated with a relay certificate of a configured peer and
 * asked to receive: it is delivered, through the same window as an
 * agency's client, the copies stored for the agencies homed there, each
 * with its sender's certificate; it answers each with ForwardResult.  It
 * is also sent this relay's agencies' certificates and prekeys, at once
 * and when they change, and newer revocation lists. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"

static void on_forward_stored(void *ctx, int rc)
{
    conn_ackreq_t *a = ctx;

    if (rc == AM_ECRYPTO)
        conn_log(a->c, "its accepted evidence names another envelope: kept "
                 "undelivered");
    conn_on_acked(ctx, rc);
}

/* Codes after which the home relay will never store the envelope; after
 * the others (quota, storage, busy) it is offered again later. */
static bool for_good(Amanat__V1__ErrorCode code)
{
    return code != AMANAT__V1__ERROR_CODE__ERROR_QUOTA &&
           code != AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE &&
           code != AMANAT__V1__ERROR_CODE__ERROR_BUSY &&
           code != AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED;
}

/* The home relay's accepted evidence, checked under its certificate. */
static int check_accepted(conn_t *c, const Amanat__V1__ForwardResult *r,
                          am_store_notice_t *n)
{
    am_evidence_t ev;
    int rc;

    if ((n->evidence_len = amanat__v1__evidence__get_packed_size(
             r->accepted)) > sizeof n->evidence)
        return am_errf(AM_ETOOBIG, "accepted evidence of %zu bytes",
                       n->evidence_len);
    amanat__v1__evidence__pack(r->accepted, n->evidence);
    if ((rc = am_evidence_verify(n->evidence, n->evidence_len, &c->peer,
                                 &ev)) != 0)
        return rc;
    if (ev.kind != AM_EVIDENCE_ACCEPTED ||
        memcmp(ev.message_id, r->message_id.data, AM_MSG_ID_LEN) != 0)
        return am_errf(AM_ECRYPTO, "evidence of kind %d for another message",
                       ev.kind);
    n->kind = AM_EVIDENCE_ACCEPTED;
    memcpy(n->message_id, ev.message_id, AM_MSG_ID_LEN);
    memcpy(n->envelope_hash, ev.envelope_hash, AM_HASH_LEN);
    snprintf(n->recipient, sizeof n->recipient, "%s", c->peer.agency_id);
    n->time = ev.time;
    return 0;
}

static void store_answer(conn_t *c, const Amanat__V1__ForwardResult *r,
                         const am_store_notice_t *n)
{
    int64_t now = (int64_t)time(NULL);
    conn_ackreq_t *a = conn_ackreq(c, r->message_id.data);
    int rc;

    if (a == NULL)
        return;
    a->refused = n == NULL;
    rc = n != NULL ? am_store_forwarded(c->srv->store, c->peer.agency_id,
                                        a->id, n, now, on_forward_stored, a)
                   : am_store_refused(c->srv->store, c->peer.agency_id, a->id,
                                      now, on_forward_stored, a);
    if (rc != 0) {
        am_free(a);
        return;
    }
    conn_ref(c);
    c->store_pending++;
    conn_flow(c);
}

void conn_forward_result(conn_t *c, const Amanat__V1__ForwardResult *r)
{
    am_store_notice_t *n;

    if (r->message_id.len != AM_MSG_ID_LEN ||
        !conn_in_flight(c, r->message_id.data)) {
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, true,
                        "forward_result for no envelope delivered");
        return;
    }
    if (r->accepted == NULL) {
        conn_log(c, "%s %02x%02x%02x%02x: %d %.200s",
                 for_good(r->error) ? "refused for good" : "not stored yet",
                 r->message_id.data[0], r->message_id.data[1],
                 r->message_id.data[2], r->message_id.data[3], (int)r->error,
                 r->message);
        if (for_good(r->error))
            store_answer(c, r, NULL);
        return; /* else offered again in its next session */
    }
    if ((n = am_calloc(1, sizeof *n)) == NULL)
        return;
    if (check_accepted(c, r, n) != 0)
        conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE, 0,
                        true, "forward_result: %s", am_err_detail());
    else
        store_answer(c, r, n);
    am_free(n);
}

int conn_peer_deliver(conn_t *c, const am_store_item_t *it,
                      Amanat__V1__Deliver *d)
{
    size_t len;
    const uint8_t *b = am_dir_cert_bytes(c->srv->dir, it->sender, &len);

    /* without it the home relay cannot verify, and refuses the envelope */
    d->sender_certificate =
        b != NULL ? amanat__v1__signed_certificate__unpack(NULL, len, b)
                  : NULL;
    d->hops = 1;
    return 0;
}

void conn_peer_deliver_free(Amanat__V1__Deliver *d)
{
    if (d->sender_certificate != NULL)
        amanat__v1__signed_certificate__free_unpacked(d->sender_certificate,
                                                      NULL);
    d->sender_certificate = NULL;
}

/* Pushing certificates and prekeys: a batch of up to AM_STORE_LOOKUP_MAX
 * agencies homed here, their prekeys read from the store, sent to one
 * peer relay's session (c) or to all of them (c NULL). */
typedef struct {
    am_server_t *srv;
    conn_t *c;
    size_t n;
    char ids[AM_STORE_LOOKUP_MAX][AM_AGENCY_ID_MAX + 1];
} push_t;

static void push_batch(conn_t *c, push_t *p);

static void send_update(conn_t *c, Amanat__V1__Frame *f)
{
    if (c->relay_peer && c->state == CONN_READY && !c->closing &&
        conn_send_frame(c, f) != 0)
        conn_close(c, "cannot send");
}

static void on_push_prekeys(void *ctx, int rc, const am_store_prekey_t *found,
                            size_t n)
{
    push_t *p = ctx;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DirectoryUpdate u = AMANAT__V1__DIRECTORY_UPDATE__INIT;
    Amanat__V1__DirectoryEntry e[AM_STORE_LOOKUP_MAX];
    Amanat__V1__DirectoryEntry *ep[AM_STORE_LOOKUP_MAX];
    conn_t *c;

    if (rc == 0 && !p->srv->stopping) {
        conn_dir_entries(p->srv, found, n, e, ep);
        u.n_entries = n;
        u.entries = ep;
        f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_UPDATE;
        f.directory_update = &u;
        if (p->c != NULL)
            send_update(p->c, &f);
        for (c = p->srv->conns; p->c == NULL && c != NULL; c = c->next)
            send_update(c, &f);
        conn_dir_entries_free(e, n);
    }
    if ((c = p->c) != NULL && rc == 0 && p->n == AM_STORE_LOOKUP_MAX &&
        !c->closing)
        push_batch(c, p); /* the next batch, after the last id: p goes on */
    else
        am_free(p);
    if (c != NULL)
        conn_unref(c);
}

static int push(push_t *p)
{
    const char *ids[AM_STORE_LOOKUP_MAX];

    for (size_t i = 0; i < p->n; i++)
        ids[i] = p->ids[i];
    return am_store_prekeys(p->srv->store, ids, p->n, (int64_t)time(NULL),
                            on_push_prekeys, p);
}

/* The agencies homed here after the last one p pushed (all when p->n is
 * 0), in id order. */
static void push_batch(conn_t *c, push_t *p)
{
    const am_dir_t *d = c->srv->dir;
    const char *self = am_dir_self(d)->agency_id;
    char after[AM_AGENCY_ID_MAX + 1] = "";

    if (p->n > 0)
        memcpy(after, p->ids[p->n - 1], sizeof after);
    p->n = 0;
    for (size_t i = 0; i < am_dir_count(d) && p->n < AM_STORE_LOOKUP_MAX;
         i++) {
        const am_cert_t *cert = am_dir_at(d, i);

        if (strcmp(cert->agency_id, after) > 0 &&
            (cert->roles & AM_ROLE_AGENCY) &&
            strcmp(cert->home_relay, self) == 0)
            memcpy(p->ids[p->n++], cert->agency_id, sizeof p->ids[0]);
    }
    if (p->n == 0 || push(p) != 0) {
        am_free(p);
        return;
    }
    conn_ref(c);
}

void conn_peer_ready(conn_t *c)
{
    push_t *p = am_calloc(1, sizeof *p);

    if (p == NULL)
        return;
    p->srv = c->srv;
    p->c = c;
    push_batch(c, p);
}

void conn_push_agency(am_server_t *srv, const char *agency)
{
    push_t *p;

    if (srv->n_links == 0 || (p = am_calloc(1, sizeof *p)) == NULL)
        return;
    p->srv = srv;
    p->n = 1;
    snprintf(p->ids[0], sizeof p->ids[0], "%s", agency);
    if (push(p) != 0)
        am_free(p);
}

void conn_push_crl(am_server_t *srv)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__RevocationUpdate u = AMANAT__V1__REVOCATION_UPDATE__INIT;
    const uint8_t *b;
    size_t len;

    if ((b = am_dir_crl_bytes(srv->dir, &len)) == NULL ||
        (u.crl = amanat__v1__revocation_list__unpack(NULL, len, b)) == NULL)
        return;
    f.op_case = AMANAT__V1__FRAME__OP_REVOCATION_UPDATE;
    f.revocation_update = &u;
    for (conn_t *c = srv->conns; c != NULL; c = c->next)
        send_update(c, &f);
    amanat__v1__revocation_list__free_unpacked(u.crl, NULL);
}
