/* Assembling a canonical evidence bundle from its parts (docs/PROTOCOL.md
 * section 17.2).  Nothing is verified here: each part is parsed only to
 * find its place (an agency id, a time); am_bundle_verify is the check. */
#include "bundle.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bundle.pb-c.h"
#include "bundle_internal.h"
#include "err.h"
#include "pb.h"

/* One part: decoded, its standard encoding, and where it sorts. */
typedef struct {
    ProtobufCMessage *m;
    uint8_t *bytes;
    size_t len;
    char id[AM_AGENCY_ID_MAX + 1]; /* certificates: the agency */
    am_evidence_t ev;
    am_receipt_t rc;
    bool keep;
} item_t;

typedef struct {
    item_t sender, crl;
    item_t rcpt[AM_BUNDLE_MAX_RECIPIENTS], relay[AM_BUNDLE_MAX_RELAYS];
    item_t ev[AM_BUNDLE_MAX_EVIDENCE], rc[AM_BUNDLE_MAX_RECEIPTS];
    char env_rcpt[AM_ENV_MAX_RECIPIENTS][AM_AGENCY_ID_MAX + 1];
    size_t n_env_rcpt;
} bctx_t;

static void items_free(item_t *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        am_pb_free(it[i].m);
        am_free(it[i].bytes);
    }
}

static void bctx_free(bctx_t *c)
{
    if (c == NULL)
        return;
    items_free(&c->sender, 1);
    items_free(&c->crl, 1);
    items_free(c->rcpt, AM_BUNDLE_MAX_RECIPIENTS);
    items_free(c->relay, AM_BUNDLE_MAX_RELAYS);
    items_free(c->ev, AM_BUNDLE_MAX_EVIDENCE);
    items_free(c->rc, AM_BUNDLE_MAX_RECEIPTS);
    am_free(c);
}

/* Decode a part and take its standard encoding, which is what the bundle
 * will hold: the signed bytes inside are kept exactly. */
static int load(item_t *it, const ProtobufCMessageDescriptor *d,
                const am_bundle_item_t *in, size_t max)
{
    int rc;

    if (in->data == NULL && in->len > 0)
        return AM_EINVAL;
    if ((rc = am_pb_unpack(d, d->short_name, in->data, in->len, max,
                           &it->m)) != 0)
        return rc;
    if (it->m->n_unknown_fields != 0)
        return am_errf(AM_EPROTO, "%s with an unknown field", d->short_name);
    return am_bundle_pack_item(it->m, &it->bytes, &it->len);
}

/* The recipient ids of the envelope's header, unverified. */
static int envelope_recipients(bctx_t *c, const uint8_t *env, size_t len)
{
    ProtobufCMessage *em = NULL, *hm = NULL;
    const Amanat__V1__EnvelopeHeader *h;
    int rc;

    if ((rc = am_pb_unpack(&amanat__v1__envelope__descriptor, "envelope", env,
                           len, AM_ENV_MAX, &em)) != 0)
        return rc;
    if ((rc = am_pb_unpack(&amanat__v1__envelope_header__descriptor,
                           "envelope header",
                           ((Amanat__V1__Envelope *)em)->header.data,
                           ((Amanat__V1__Envelope *)em)->header.len,
                           AM_ENV_HEADER_MAX, &hm)) != 0)
        goto out;
    h = (const Amanat__V1__EnvelopeHeader *)hm;
    for (size_t i = 0; i < h->n_recipient_ids; i++)
        if (i >= AM_ENV_MAX_RECIPIENTS ||
            !am_agency_id_valid(h->recipient_ids[i])) {
            rc = am_errf(AM_EPROTO, "header recipient %zu: not an agency id, "
                         "or over %d", i + 1, AM_ENV_MAX_RECIPIENTS);
            goto out;
        } else {
            memcpy(c->env_rcpt[i], h->recipient_ids[i],
                   strlen(h->recipient_ids[i]) + 1);
        }
    if ((c->n_env_rcpt = h->n_recipient_ids) == 0)
        rc = am_errf(AM_EPROTO, "header names no recipient");
out:
    am_pb_free(hm);
    am_pb_free(em);
    return rc;
}

static bool same_bytes(const item_t *a, const item_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* Exactly one certificate (identical copies allowed) per envelope
 * recipient, and none for anyone else. */
static int pick_recipients(bctx_t *c, size_t n, const item_t **out)
{
    for (size_t k = 0; k < c->n_env_rcpt; k++) {
        out[k] = NULL;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(c->rcpt[i].id, c->env_rcpt[k]) != 0)
                continue;
            if (out[k] != NULL && !same_bytes(out[k], &c->rcpt[i]))
                return am_errf(AM_EINVAL, "two different certificates for "
                               "recipient \"%s\"", c->env_rcpt[k]);
            out[k] = &c->rcpt[i];
            c->rcpt[i].keep = true;
        }
        if (out[k] == NULL)
            return am_errf(AM_EINVAL, "no certificate for recipient \"%s\"",
                           c->env_rcpt[k]);
    }
    for (size_t i = 0; i < n; i++)
        if (!c->rcpt[i].keep)
            return am_errf(AM_EINVAL, "certificate of \"%s\", who is not a "
                           "recipient of the envelope", c->rcpt[i].id);
    return 0;
}

static int cmp_evidence(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    am_bkey_t kx, ky;

    am_bkey_evidence(&kx, &x->ev, x->bytes, x->len);
    am_bkey_evidence(&ky, &y->ev, y->bytes, y->len);
    return am_bkey_cmp(&kx, &ky);
}

static int cmp_receipt(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    am_bkey_t kx, ky;

    am_bkey_receipt(&kx, &x->rc, x->bytes, x->len);
    am_bkey_receipt(&ky, &y->rc, y->bytes, y->len);
    return am_bkey_cmp(&kx, &ky);
}

static int cmp_cert(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    if (c != 0)
        return c;
    c = memcmp(x->bytes, y->bytes, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Sort, then keep the first of each run of identical items. */
static void sort_unique(item_t *it, size_t n,
                        int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(it, n, sizeof *it, cmp);
    for (size_t i = 0; i < n; i++)
        it[i].keep = i == 0 || !same_bytes(&it[i - 1], &it[i]);
}

static bool relay_named(const bctx_t *c, size_t n_ev, const char *id)
{
    for (size_t i = 0; i < n_ev; i++)
        if (c->ev[i].keep && strcmp(c->ev[i].ev.relay_id, id) == 0)
            return true;
    return false;
}

/* The relay certificates some evidence names, one per relay; every relay
 * named has one.  c->relay is sorted, identical copies unmarked. */
static int pick_relays(bctx_t *c, size_t n_relay, size_t n_ev)
{
    const item_t *last = NULL;

    for (size_t i = 0; i < n_relay; i++) {
        item_t *r = &c->relay[i];

        if (!(r->keep = r->keep && relay_named(c, n_ev, r->id)))
            continue;
        if (last != NULL && strcmp(last->id, r->id) == 0)
            return am_errf(AM_EINVAL, "two different certificates for relay "
                           "\"%s\"", r->id);
        last = r;
    }
    for (size_t i = 0; i < n_ev; i++) {
        size_t r = 0;

        while (r < n_relay && !(c->relay[r].keep &&
                                strcmp(c->relay[r].id, c->ev[i].ev.relay_id) == 0))
            r++;
        if (r == n_relay)
            return am_errf(AM_EINVAL, "no certificate for relay \"%s\"",
                           c->ev[i].ev.relay_id);
    }
    return 0;
}

/* Load and place every part; rcpt[k] is recipient k's certificate. */
static int load_parts(bctx_t *c, const am_bundle_parts_t *p,
                      const item_t **rcpt)
{
    int rc = 0;

    if ((rc = envelope_recipients(c, p->envelope, p->envelope_len)) != 0)
        return am_err_wrap(rc, "envelope");
    if ((rc = load(&c->sender, &amanat__v1__signed_certificate__descriptor,
                   &p->sender, AM_CERT_MAX)) != 0)
        return am_err_wrap(rc, "sender certificate");
    if ((rc = load(&c->crl, &amanat__v1__revocation_list__descriptor, &p->crl,
                   AM_CRL_MAX)) != 0)
        return am_err_wrap(rc, "revocation list");
    for (size_t i = 0; i < p->n_recipients; i++)
        if ((rc = load(&c->rcpt[i], &amanat__v1__signed_certificate__descriptor,
                       &p->recipients[i], AM_CERT_MAX)) != 0 ||
            (rc = am_cert_peek_id(c->rcpt[i].bytes, c->rcpt[i].len,
                                  c->rcpt[i].id)) != 0)
            return am_err_wrap(rc, "recipient certificate %zu", i + 1);
    for (size_t i = 0; i < p->n_relays; i++) {
        if ((rc = load(&c->relay[i], &amanat__v1__signed_certificate__descriptor,
                       &p->relays[i], AM_CERT_MAX)) != 0 ||
            (rc = am_cert_peek_id(c->relay[i].bytes, c->relay[i].len,
                                  c->relay[i].id)) != 0)
            return am_err_wrap(rc, "relay certificate %zu", i + 1);
    }
    for (size_t i = 0; i < p->n_evidence; i++)
        if ((rc = load(&c->ev[i], &amanat__v1__evidence__descriptor,
                       &p->evidence[i], AM_EVIDENCE_MAX)) != 0 ||
            (rc = am_evidence_peek(c->ev[i].bytes, c->ev[i].len,
                                   &c->ev[i].ev)) != 0)
            return am_err_wrap(rc, "evidence %zu", i + 1);
    for (size_t i = 0; i < p->n_receipts; i++)
        if ((rc = load(&c->rc[i], &amanat__v1__signed_receipt__descriptor,
                       &p->receipts[i], AM_RECEIPT_MAX)) != 0 ||
            (rc = am_receipt_peek(c->rc[i].bytes, c->rc[i].len,
                                  &c->rc[i].rc)) != 0)
            return am_err_wrap(rc, "receipt %zu", i + 1);
    if ((rc = pick_recipients(c, p->n_recipients, rcpt)) != 0)
        return rc;
    sort_unique(c->ev, p->n_evidence, cmp_evidence);
    sort_unique(c->rc, p->n_receipts, cmp_receipt);
    sort_unique(c->relay, p->n_relays, cmp_cert);
    return pick_relays(c, p->n_relays, p->n_evidence);
}

/* The kept items, in order, as the bundle's repeated fields. */
static void gather(const bctx_t *c, const am_bundle_parts_t *p,
                   Amanat__V1__EvidenceBundle *b)
{
    for (size_t i = 0; i < p->n_relays; i++)
        if (c->relay[i].keep)
            b->relays[b->n_relays++] =
                (Amanat__V1__SignedCertificate *)c->relay[i].m;
    for (size_t i = 0; i < p->n_evidence; i++)
        if (c->ev[i].keep)
            b->evidence[b->n_evidence++] = (Amanat__V1__Evidence *)c->ev[i].m;
    for (size_t i = 0; i < p->n_receipts; i++)
        if (c->rc[i].keep)
            b->receipts[b->n_receipts++] =
                (Amanat__V1__SignedReceipt *)c->rc[i].m;
}

static int pack_bundle(const bctx_t *c, const am_bundle_parts_t *p,
                       const item_t **rcpt, uint8_t **out, size_t *out_len)
{
    Amanat__V1__EvidenceBundle b = AMANAT__V1__EVIDENCE_BUNDLE__INIT;
    Amanat__V1__SignedCertificate *rp[AM_BUNDLE_MAX_RECIPIENTS];
    Amanat__V1__SignedCertificate *rl[AM_BUNDLE_MAX_RELAYS];
    Amanat__V1__Evidence *ev[AM_BUNDLE_MAX_EVIDENCE];
    Amanat__V1__SignedReceipt *re[AM_BUNDLE_MAX_RECEIPTS];
    uint8_t digest[AM_HASH_LEN] = {0}, *buf;
    size_t n;
    int rc;

    for (size_t k = 0; k < c->n_env_rcpt; k++)
        rp[k] = (Amanat__V1__SignedCertificate *)rcpt[k]->m;
    b.format = (char *)AM_BUNDLE_FORMAT;
    b.version = AM_BUNDLE_VERSION;
    b.envelope = (ProtobufCBinaryData){p->envelope_len, (uint8_t *)p->envelope};
    b.sender = (Amanat__V1__SignedCertificate *)c->sender.m;
    b.n_recipients = c->n_env_rcpt;
    b.recipients = rp;
    b.relays = rl;
    b.crl = (Amanat__V1__RevocationList *)c->crl.m;
    b.evidence = ev;
    b.receipts = re;
    b.digest = (ProtobufCBinaryData){AM_HASH_LEN, digest};
    gather(c, p, &b);
    if ((n = amanat__v1__evidence_bundle__get_packed_size(&b)) > AM_BUNDLE_MAX)
        return am_errf(AM_ETOOBIG, "bundle of %zu bytes over limit %zu", n,
                       AM_BUNDLE_MAX);
    if ((buf = am_malloc(n)) == NULL)
        return AM_ENOMEM;
    amanat__v1__evidence_bundle__pack(&b, buf);
    /* the digest is the highest field: the encoding ends with it */
    if ((rc = am_hash256(buf, n - AM_BUNDLE_DIGEST_FIELD_LEN,
                         buf + n - AM_HASH_LEN)) != 0) {
        am_free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static int check_parts(const am_bundle_parts_t *p)
{
    if ((p->envelope == NULL && p->envelope_len > 0) ||
        (p->recipients == NULL && p->n_recipients > 0) ||
        (p->relays == NULL && p->n_relays > 0) ||
        (p->evidence == NULL && p->n_evidence > 0) ||
        (p->receipts == NULL && p->n_receipts > 0))
        return AM_EINVAL;
    if (p->envelope_len > AM_ENV_MAX)
        return am_errf(AM_ETOOBIG, "envelope of %zu bytes over limit %zu",
                       p->envelope_len, AM_ENV_MAX);
    if (p->n_recipients > AM_BUNDLE_MAX_RECIPIENTS ||
        p->n_relays > AM_BUNDLE_MAX_RELAYS ||
        p->n_evidence > AM_BUNDLE_MAX_EVIDENCE ||
        p->n_receipts > AM_BUNDLE_MAX_RECEIPTS)
        return am_errf(AM_EINVAL, "bundle parts over a limit: %d recipient "
                       "and %d relay certificates, %d pieces of evidence, %d "
                       "receipts", AM_BUNDLE_MAX_RECIPIENTS,
                       AM_BUNDLE_MAX_RELAYS, AM_BUNDLE_MAX_EVIDENCE,
                       AM_BUNDLE_MAX_RECEIPTS);
    return 0;
}

int am_bundle_build(const am_bundle_parts_t *p, uint8_t **out,
                    size_t *out_len)
{
    const item_t *rcpt[AM_BUNDLE_MAX_RECIPIENTS];
    bctx_t *c = NULL;
    int rc;

    if (p == NULL || out == NULL || out_len == NULL)
        return AM_EINVAL;
    if ((rc = check_parts(p)) != 0)
        return rc;
    if ((c = am_calloc(1, sizeof *c)) == NULL)
        return AM_ENOMEM;
    if ((rc = load_parts(c, p, rcpt)) == 0)
        rc = pack_bundle(c, p, rcpt, out, out_len);
    bctx_free(c);
    return rc;
}
