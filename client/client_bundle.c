/* An evidence bundle (proto/bundle.h) of one message from the local
 * store: its envelope, the certificates of its sender, recipients and
 * relays, the revocation list held, the relays' evidence and the
 * recipients' signed receipts. */
#include "client_int.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bundle.h"
#include "err.h"


typedef struct {
    am_bundle_item_t ev[AM_BUNDLE_MAX_EVIDENCE], rc[AM_BUNDLE_MAX_RECEIPTS];
    size_t n_ev, n_rc;
    char relays[AM_BUNDLE_MAX_RELAYS][AM_AGENCY_ID_MAX + 1];
    size_t n_relays;
    int err;
} signed_t;

static int keep_copy(am_bundle_item_t *it, const uint8_t *b, size_t len)
{
    uint8_t *copy = am_malloc(len);

    if (copy == NULL)
        return AM_ENOMEM;
    memcpy(copy, b, len);
    it->data = copy;
    it->len = len;
    return 0;
}

static void note_relay(signed_t *s, const char *id)
{
    for (size_t i = 0; i < s->n_relays; i++)
        if (strcmp(s->relays[i], id) == 0)
            return;
    if (s->n_relays < AM_BUNDLE_MAX_RELAYS)
        snprintf(s->relays[s->n_relays++], sizeof s->relays[0], "%s", id);
}

/* Events with signed bytes: relay Evidence or a SignedReceipt. */
static int on_event(void *ctx, const am_cevent_t *e)
{
    signed_t *s = ctx;
    am_evidence_t ev;
    bool relay = strcmp(e->kind, "accepted") == 0 ||
                 strcmp(e->kind, "delivered") == 0 ||
                 strcmp(e->kind, "expired") == 0 ||
                 strcmp(e->kind, "damaged") == 0;

    if (e->signed_len == 0 || s->err != 0)
        return 0;
    if (relay && s->n_ev < AM_BUNDLE_MAX_EVIDENCE &&
        am_evidence_peek(e->signed_bytes, e->signed_len, &ev) == 0) {
        note_relay(s, ev.relay_id);
        s->err = keep_copy(&s->ev[s->n_ev++], e->signed_bytes, e->signed_len);
    } else if (!relay && s->n_rc < AM_BUNDLE_MAX_RECEIPTS) {
        s->err = keep_copy(&s->rc[s->n_rc++], e->signed_bytes, e->signed_len);
    }
    return s->err;
}

/* The certificate of agency as the client holds it.  A relay's is in the
 * same directory cache: the session relay's, kept at each connection, and
 * any other relay's, kept when evidence it signed was checked
 * (cl_relay_peer), so every relay that signed evidence kept here. */
static int cert_of(am_client_t *c, const char *agency, am_bundle_item_t *it)
{
    uint8_t *cb = NULL, *pb = NULL;
    size_t clen = 0, plen = 0;
    int64_t at;
    int rc;

    if (strcmp(agency, c->prof.agency_id) == 0)
        return keep_copy(it, c->prof.cert, c->prof.cert_len);
    if ((rc = am_cstore_dir_get(c->store, agency, &cb, &clen, &pb, &plen,
                                &at)) != 0)
        return am_err_wrap(rc, "certificate of %s", agency);
    it->data = cb;
    it->len = clen;
    am_free(pb);
    return 0;
}

static void free_items(am_bundle_item_t *it, size_t n)
{
    for (size_t i = 0; i < n; i++)
        am_free((void *)it[i].data);
}

static int recipients(am_client_t *c, const am_cmsg_t *m,
                      am_bundle_item_t *r, size_t *n)
{
    char list[AM_CSTORE_RCPTS_MAX], *save = NULL;
    int rc;

    *n = 0;
    snprintf(list, sizeof list, "%s", m->recipients);
    for (char *a = strtok_r(list, ",", &save);
         a != NULL && *n < AM_BUNDLE_MAX_RECIPIENTS;
         a = strtok_r(NULL, ",", &save))
        if ((rc = cert_of(c, a, &r[(*n)++])) != 0) {
            (*n)--;
            return rc;
        }
    return 0;
}

int am_client_bundle(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                     uint8_t **out, size_t *out_len)
{
    static signed_t s; /* large; the command makes one bundle */
    am_bundle_item_t rcpt[AM_BUNDLE_MAX_RECIPIENTS], relay[AM_BUNDLE_MAX_RELAYS];
    am_bundle_parts_t p = {0};
    uint8_t *bufs = NULL, *crl = NULL;
    size_t n_rcpt = 0, n_relay = 0, crl_len = 0;
    uint64_t seq = 0;
    am_cmsg_t m;
    int rc;

    memset(&s, 0, sizeof s);
    if ((rc = am_cstore_get(c->store, id, &m, &bufs)) != 0 ||
        (rc = am_cstore_crl_get(c->store, &seq, &crl, &crl_len)) != 0)
        goto out;
    if (crl == NULL) {
        rc = am_errf(AM_EKEY, "no revocation list held: a bundle must carry "
                     "the one in force (the relay gives it; see amanat sync)");
        goto out;
    }
    if ((rc = am_cstore_events(c->store, id, on_event, &s)) < 0 ||
        (rc = s.err) != 0 ||
        (rc = cert_of(c, m.sender, &p.sender)) != 0 ||
        (rc = recipients(c, &m, rcpt, &n_rcpt)) != 0)
        goto out;
    for (; n_relay < s.n_relays; n_relay++)
        if ((rc = cert_of(c, s.relays[n_relay], &relay[n_relay])) != 0)
            goto out;
    p.envelope = m.envelope;
    p.envelope_len = m.envelope_len;
    p.recipients = rcpt;
    p.n_recipients = n_rcpt;
    p.relays = relay;
    p.n_relays = n_relay;
    p.crl = (am_bundle_item_t){crl, crl_len};
    p.evidence = s.ev;
    p.n_evidence = s.n_ev;
    p.receipts = s.rc;
    p.n_receipts = s.n_rc;
    rc = am_bundle_build(&p, out, out_len);
out:
    free_items(&p.sender, p.sender.data != NULL);
    free_items(rcpt, n_rcpt);
    free_items(relay, n_relay);
    free_items(s.ev, s.n_ev);
    free_items(s.rc, s.n_rc);
    am_free(crl);
    am_free(bufs);
    return rc;
}
