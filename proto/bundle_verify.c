/* Offline verification of an evidence bundle, in the order of
 * docs/PROTOCOL.md section 17.3: bound and decode; format and version;
 * digest; canonical form; counts; the revocation list; the sender's certificate
 * and the envelope's signature; the recipients' and relays'
 * certificates; each piece of evidence; the sender's time; each receipt;
 * the verifier's clock.  The first failure is the answer, with a
 * sentence naming the part ("receipt 2: ..."). */
#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bundle.pb-c.h"
#include "bundle_internal.h"
#include "err.h"
#include "pb.h"

typedef struct {
    const uint8_t *root_pk;
    int64_t now;
    Amanat__V1__EvidenceBundle *b;
    am_crl_t *crl;
    am_env_t *env;
    am_cert_t sender;
    am_cert_t rcpt[AM_BUNDLE_MAX_RECIPIENTS];
    am_cert_t relay[AM_BUNDLE_MAX_RELAYS];
    size_t relay_uses[AM_BUNDLE_MAX_RELAYS];
    bool have_accepted;
    int64_t accepted_at; /* the earliest ACCEPTED evidence */
    am_evidence_t ev[AM_BUNDLE_MAX_EVIDENCE];
    am_receipt_t rc[AM_BUNDLE_MAX_RECEIPTS];
    uint8_t *ev_bytes[AM_BUNDLE_MAX_EVIDENCE], *rc_bytes[AM_BUNDLE_MAX_RECEIPTS];
    size_t ev_len[AM_BUNDLE_MAX_EVIDENCE], rc_len[AM_BUNDLE_MAX_RECEIPTS];
    am_bundle_report_t rep;
} vctx_t;

static void vctx_free(vctx_t *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < AM_BUNDLE_MAX_EVIDENCE; i++)
        am_free(v->ev_bytes[i]);
    for (size_t i = 0; i < AM_BUNDLE_MAX_RECEIPTS; i++)
        am_free(v->rc_bytes[i]);
    am_env_free(v->env);
    am_crl_free(v->crl);
    am_pb_free(v->b);
    am_free(v);
}

static bool all_known(const Amanat__V1__EvidenceBundle *b)
{
    bool ok = AM_BUNDLE_KNOWN(b) && AM_BUNDLE_KNOWN(b->sender) &&
              AM_BUNDLE_KNOWN(b->crl);

    for (size_t i = 0; ok && i < b->n_recipients; i++)
        ok = AM_BUNDLE_KNOWN(b->recipients[i]);
    for (size_t i = 0; ok && i < b->n_relays; i++)
        ok = AM_BUNDLE_KNOWN(b->relays[i]);
    for (size_t i = 0; ok && i < b->n_evidence; i++)
        ok = AM_BUNDLE_KNOWN(b->evidence[i]);
    for (size_t i = 0; ok && i < b->n_receipts; i++)
        ok = AM_BUNDLE_KNOWN(b->receipts[i]);
    return ok;
}

/* Only the standard encoding is a bundle: fields in number order, each
 * once, shortest lengths, no unknown field, nothing after the end. */
static int check_canonical(const Amanat__V1__EvidenceBundle *b,
                           const uint8_t *in, size_t len)
{
    uint8_t *re;
    size_t n, at = 0;
    int rc;

    if (!all_known(b))
        return am_errf(AM_EPROTO, "bundle carries an unknown field");
    if ((rc = am_bundle_pack_item(&b->base, &re, &n)) != 0)
        return rc;
    while (at < n && at < len && re[at] == in[at])
        at++;
    if (n != len || at < len)
        rc = am_errf(AM_EPROTO, "bundle is not in canonical form: its "
                     "standard encoding differs at byte %zu", at);
    am_free(re);
    return rc;
}

/* The file ends with the digest field (tag 0x7a, length 32), and the
 * digest is that of every byte before it: damage and truncation fail
 * here, before any work, with a plain sentence. */
static int check_digest(const Amanat__V1__EvidenceBundle *b,
                        const uint8_t *in, size_t len)
{
    const uint8_t *tail;
    uint8_t h[AM_HASH_LEN];
    int rc;

    if (b->digest.len != AM_HASH_LEN || len < AM_BUNDLE_DIGEST_FIELD_LEN ||
        (tail = in + len - AM_BUNDLE_DIGEST_FIELD_LEN)[0] != 0x7a ||
        tail[1] != AM_HASH_LEN)
        return am_errf(AM_EPROTO, "bundle does not end with its digest "
                       "(field 15, %u bytes): cut short or not a bundle",
                       AM_HASH_LEN);
    if ((rc = am_hash256(in, len - AM_BUNDLE_DIGEST_FIELD_LEN, h)) != 0)
        return rc;
    if (memcmp(h, tail + 2, AM_HASH_LEN) != 0)
        return am_errf(AM_EPROTO, "bundle is damaged: its digest does not "
                       "match its bytes");
    return 0;
}

static int decode(vctx_t *v, const uint8_t *in, size_t len)
{
    ProtobufCMessage *m;
    int rc;

    if ((rc = am_pb_unpack(&amanat__v1__evidence_bundle__descriptor,
                           "bundle", in, len, AM_BUNDLE_MAX, &m)) != 0)
        return rc;
    v->b = (Amanat__V1__EvidenceBundle *)m;
    if (strcmp(v->b->format, AM_BUNDLE_FORMAT) != 0)
        return am_errf(AM_EPROTO, "not an Amanat evidence bundle (format "
                       "is not \"%s\")", AM_BUNDLE_FORMAT);
    if (v->b->version != AM_BUNDLE_VERSION)
        return am_errf(AM_EUNSUPPORTED, "bundle version %u", v->b->version);
    if ((rc = check_digest(v->b, in, len)) != 0)
        return rc;
    return check_canonical(v->b, in, len);
}

static int check_counts(const Amanat__V1__EvidenceBundle *b)
{
    if (b->envelope.len == 0 || b->sender == NULL || b->crl == NULL)
        return am_errf(AM_EPROTO, "bundle lacks its envelope, sender "
                       "certificate or revocation list");
    if (b->n_recipients == 0 || b->n_recipients > AM_BUNDLE_MAX_RECIPIENTS)
        return am_errf(AM_EPROTO, "bundle has %zu recipient certificates "
                       "(1 to %d)", b->n_recipients, AM_BUNDLE_MAX_RECIPIENTS);
    if (b->n_relays == 0 || b->n_relays > AM_BUNDLE_MAX_RELAYS)
        return am_errf(AM_EPROTO, "bundle has %zu relay certificates (1 to "
                       "%d)", b->n_relays, AM_BUNDLE_MAX_RELAYS);
    if (b->n_evidence == 0 || b->n_evidence > AM_BUNDLE_MAX_EVIDENCE)
        return am_errf(AM_EPROTO, "bundle has %zu pieces of evidence (1 to "
                       "%d)", b->n_evidence, AM_BUNDLE_MAX_EVIDENCE);
    if (b->n_receipts > AM_BUNDLE_MAX_RECEIPTS)
        return am_errf(AM_EPROTO, "bundle has %zu receipts (at most %d)",
                       b->n_receipts, AM_BUNDLE_MAX_RECEIPTS);
    return 0;
}

/* A certificate of the bundle, root-signed with role, at any time. */
static int cert_item(const vctx_t *v, const ProtobufCMessage *m,
                     unsigned role, am_cert_t *out)
{
    uint8_t *bytes;
    size_t len;
    int rc;

    if ((rc = am_bundle_pack_item(m, &bytes, &len)) != 0)
        return rc;
    rc = am_cert_verify_offline(bytes, len, v->root_pk, role, out);
    am_free(bytes);
    return rc;
}

static int check_crl(vctx_t *v)
{
    uint8_t *bytes;
    size_t len;
    int rc;

    if ((rc = am_bundle_pack_item(&v->b->crl->base, &bytes, &len)) != 0)
        return rc;
    rc = am_crl_verify(bytes, len, v->root_pk, 0, &v->crl);
    am_free(bytes);
    return rc != 0 ? am_err_wrap(rc, "revocation list") : 0;
}

static int check_envelope(vctx_t *v)
{
    const ProtobufCBinaryData *e = &v->b->envelope;
    int rc;

    if ((rc = cert_item(v, &v->b->sender->base, AM_ROLE_AGENCY,
                        &v->sender)) != 0)
        return am_err_wrap(rc, "sender certificate");
    if ((rc = am_env_parse(e->data, e->len, AM_ENV_MAX, &v->env)) != 0 ||
        (rc = am_env_verify(v->env, &v->sender)) != 0)
        return am_err_wrap(rc, "envelope");
    return 0;
}

static int check_recipients(vctx_t *v)
{
    size_t n = am_env_recipient_count(v->env);
    int rc;

    if (v->b->n_recipients != n)
        return am_errf(AM_EPROTO, "bundle has %zu recipient certificates for "
                       "the envelope's %zu recipients", v->b->n_recipients, n);
    for (size_t i = 0; i < n; i++) {
        const char *id = am_env_recipient(v->env, i);

        if ((rc = cert_item(v, &v->b->recipients[i]->base, AM_ROLE_AGENCY,
                            &v->rcpt[i])) != 0)
            return am_err_wrap(rc, "recipient certificate %zu (for \"%s\")",
                               i + 1, id);
        if (strcmp(v->rcpt[i].agency_id, id) != 0)
            return am_errf(AM_EPROTO, "recipient certificate %zu is \"%s\"'s, "
                           "the envelope's recipient %zu is \"%s\"", i + 1,
                           v->rcpt[i].agency_id, i + 1, id);
    }
    return 0;
}

static int check_relays(vctx_t *v)
{
    int rc;

    for (size_t i = 0; i < v->b->n_relays; i++) {
        if ((rc = cert_item(v, &v->b->relays[i]->base, AM_ROLE_RELAY,
                            &v->relay[i])) != 0)
            return am_err_wrap(rc, "relay certificate %zu", i + 1);
        if (i > 0 && strcmp(v->relay[i - 1].agency_id,
                            v->relay[i].agency_id) >= 0)
            return am_errf(AM_EPROTO, "relay certificate %zu (\"%s\") is not "
                           "after \"%s\": ascending ids, each once", i + 1,
                           v->relay[i].agency_id, v->relay[i - 1].agency_id);
    }
    return 0;
}

static am_bundle_fact_t *add_fact(vctx_t *v, int kind, int64_t time,
                                  const char *signer, const char *subject,
                                  size_t item)
{
    am_bundle_fact_t *f = &v->rep.facts[v->rep.n_facts++];

    f->kind = kind;
    f->time = time;
    memcpy(f->signer, signer, strlen(signer) + 1);     /* an agency id */
    memcpy(f->subject, subject, strlen(subject) + 1); /* one, or "" */
    f->item = item;
    return f;
}

/* A signature c made by time t (fact f): c valid then and not revoked at
 * or before t.  Revoked later, the signature stands; f records both. */
static int signed_by(const vctx_t *v, const am_cert_t *c, int64_t t,
                     am_bundle_fact_t *f)
{
    int64_t at;

    if (am_cert_valid_at(c, t) != 0)
        return am_errf(AM_EEXPIRED, "signed at %lld, when %s's certificate "
                       "was not valid (%lld to %lld)", (long long)t,
                       c->agency_id, (long long)c->not_before,
                       (long long)c->not_after);
    f->signed_by = t;
    if (!am_crl_revoked_at(v->crl, c->serial, &at))
        return 0;
    if (at <= t)
        return am_errf(AM_EREVOKED, "signed at %lld, but %s's certificate "
                       "(serial %llu) was revoked at %lld", (long long)t,
                       c->agency_id, (unsigned long long)c->serial,
                       (long long)at);
    f->signer_revoked = true;
    f->signer_revoked_at = at;
    return 0;
}

static bool is_recipient(const vctx_t *v, const char *id)
{
    for (size_t i = 0; i < v->b->n_recipients; i++)
        if (strcmp(v->rcpt[i].agency_id, id) == 0)
            return true;
    return false;
}

/* Evidence i: its relay, signature, envelope, recipient, time, order. */
static int one_evidence(vctx_t *v, size_t i)
{
    am_evidence_t claim, *e = &v->ev[i];
    am_bkey_t key, prev;
    size_t r = 0;
    int rc;

    if ((rc = am_bundle_pack_item(&v->b->evidence[i]->base, &v->ev_bytes[i],
                                  &v->ev_len[i])) != 0 ||
        (rc = am_evidence_peek(v->ev_bytes[i], v->ev_len[i], &claim)) != 0)
        return rc;
    while (r < v->b->n_relays && strcmp(v->relay[r].agency_id, claim.relay_id))
        r++;
    if (r == v->b->n_relays)
        return am_errf(AM_EPROTO, "relay \"%s\" has no certificate in the "
                       "bundle", claim.relay_id);
    if ((rc = am_evidence_verify(v->ev_bytes[i], v->ev_len[i], &v->relay[r],
                                 e)) != 0)
        return rc;
    if (memcmp(e->message_id, am_env_message_id(v->env), AM_MSG_ID_LEN) != 0 ||
        memcmp(e->envelope_hash, am_env_hash(v->env), AM_HASH_LEN) != 0)
        return am_errf(AM_ECRYPTO, "names another envelope");
    if (e->kind != AM_EVIDENCE_ACCEPTED && !is_recipient(v, e->recipient_id))
        return am_errf(AM_ECRYPTO, "names \"%s\", who is not a recipient of "
                       "the envelope", e->recipient_id);
    if ((rc = signed_by(v, &v->relay[r], e->time,
                        add_fact(v, e->kind == AM_EVIDENCE_DAMAGED
                                        ? AM_FACT_DAMAGED
                                        : e->kind + 1,
                                 e->time, e->relay_id,
                                 e->recipient_id, i + 1))) != 0)
        return rc;
    am_bkey_evidence(&key, e, v->ev_bytes[i], v->ev_len[i]);
    if (i > 0) {
        am_bkey_evidence(&prev, &v->ev[i - 1], v->ev_bytes[i - 1],
                         v->ev_len[i - 1]);
        if (am_bkey_cmp(&prev, &key) >= 0)
            return am_errf(AM_EPROTO, "out of order or repeated: evidence "
                           "sorts by time, kind, recipient, relay, bytes");
    }
    v->relay_uses[r]++;
    if (e->kind == AM_EVIDENCE_ACCEPTED &&
        (!v->have_accepted || e->time < v->accepted_at)) {
        v->have_accepted = true;
        v->accepted_at = e->time;
    }
    return 0;
}

/* The sender's signature existed by the earliest ACCEPTED evidence: its
 * certificate is checked then, not at created_at, which only the sender
 * says. */
static int check_sent(vctx_t *v)
{
    am_bundle_fact_t *f;
    int rc;

    if (!v->have_accepted)
        return am_errf(AM_EPROTO, "bundle has no ACCEPTED evidence: nothing "
                       "attests when a relay received the envelope");
    for (size_t r = 0; r < v->b->n_relays; r++)
        if (v->relay_uses[r] == 0)
            return am_errf(AM_EPROTO, "relay certificate %zu (\"%s\") signed "
                           "no evidence", r + 1, v->relay[r].agency_id);
    f = add_fact(v, AM_FACT_SENT, am_env_created_at(v->env),
                 v->sender.agency_id, "", 0);
    if ((rc = signed_by(v, &v->sender, v->accepted_at, f)) != 0)
        return am_err_wrap(rc, "envelope (accepted at %lld)",
                           (long long)v->accepted_at);
    return 0;
}

/* Receipt j: its recipient, signature, envelope, time, order. */
static int one_receipt(vctx_t *v, size_t j)
{
    am_receipt_t claim, *r = &v->rc[j];
    am_bundle_fact_t *f;
    am_bkey_t key, prev;
    size_t k = 0;
    int rc;

    if ((rc = am_bundle_pack_item(&v->b->receipts[j]->base, &v->rc_bytes[j],
                                  &v->rc_len[j])) != 0 ||
        (rc = am_receipt_peek(v->rc_bytes[j], v->rc_len[j], &claim)) != 0)
        return rc;
    while (k < v->b->n_recipients &&
           strcmp(v->rcpt[k].agency_id, claim.recipient_id) != 0)
        k++;
    if (k == v->b->n_recipients)
        return am_errf(AM_ECRYPTO, "by \"%s\", who is not a recipient of the "
                       "envelope", claim.recipient_id);
    if ((rc = am_receipt_verify(v->rc_bytes[j], v->rc_len[j], &v->rcpt[k],
                                v->env, r)) != 0)
        return rc;
    f = add_fact(v, r->status + AM_FACT_RECEIVED - AM_RECEIPT_RECEIVED,
                 r->time, r->recipient_id, r->recipient_id, j + 1);
    memcpy(f->reason, r->reason, strlen(r->reason) + 1);
    if ((rc = signed_by(v, &v->rcpt[k], r->time, f)) != 0)
        return rc;
    am_bkey_receipt(&key, r, v->rc_bytes[j], v->rc_len[j]);
    if (j > 0) {
        am_bkey_receipt(&prev, &v->rc[j - 1], v->rc_bytes[j - 1],
                        v->rc_len[j - 1]);
        if (am_bkey_cmp(&prev, &key) >= 0)
            return am_errf(AM_EPROTO, "out of order or repeated: receipts "
                           "sort by time, status, recipient, bytes");
    }
    return 0;
}

static int check_items(vctx_t *v)
{
    int rc;

    for (size_t i = 0; i < v->b->n_evidence; i++)
        if ((rc = one_evidence(v, i)) != 0)
            return am_err_wrap(rc, "evidence %zu", i + 1);
    if ((rc = check_sent(v)) != 0)
        return rc;
    for (size_t j = 0; j < v->b->n_receipts; j++)
        if ((rc = one_receipt(v, j)) != 0)
            return am_err_wrap(rc, "receipt %zu", j + 1);
    return 0;
}

/* With a clock: nothing in the bundle is dated after it. */
static int check_now(const vctx_t *v)
{
    char part[32];

    if (v->now == 0)
        return 0;
    if (am_crl_issued_at(v->crl) > v->now)
        return am_errf(AM_EEXPIRED, "revocation list: issued at %lld, after "
                       "now (%lld)", (long long)am_crl_issued_at(v->crl),
                       (long long)v->now);
    for (size_t i = 0; i < v->rep.n_facts; i++) {
        const am_bundle_fact_t *f = &v->rep.facts[i];

        if (f->time <= v->now)
            continue;
        if (f->kind == AM_FACT_SENT)
            snprintf(part, sizeof part, "envelope");
        else
            snprintf(part, sizeof part, "%s %zu",
                     f->kind < AM_FACT_RECEIVED ? "evidence" : "receipt",
                     f->item);
        return am_errf(AM_EEXPIRED, "%s: dated %lld, after now (%lld)", part,
                       (long long)f->time, (long long)v->now);
    }
    return 0;
}

static void party(am_bundle_party_t *p, const am_cert_t *c,
                  const am_crl_t *crl)
{
    memcpy(p->agency_id, c->agency_id, sizeof p->agency_id);
    memcpy(p->display_name, c->display_name, sizeof p->display_name);
    p->serial = c->serial;
    p->not_before = c->not_before;
    p->not_after = c->not_after;
    p->revoked = am_crl_revoked_at(crl, c->serial, &p->revoked_at);
}

static int cmp_fact(const void *a, const void *b)
{
    const am_bundle_fact_t *x = a, *y = b;

    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static void finish_report(vctx_t *v)
{
    am_bundle_report_t *r = &v->rep;

    memcpy(r->message_id, am_env_message_id(v->env), AM_MSG_ID_LEN);
    memcpy(r->envelope_hash, am_env_hash(v->env), AM_HASH_LEN);
    r->priority = am_env_priority(v->env);
    r->created_at = am_env_created_at(v->env);
    r->expires_at = am_env_expires_at(v->env);
    party(&r->sender, &v->sender, v->crl);
    r->n_recipients = v->b->n_recipients;
    for (size_t i = 0; i < r->n_recipients; i++)
        party(&r->recipients[i], &v->rcpt[i], v->crl);
    r->n_relays = v->b->n_relays;
    for (size_t i = 0; i < r->n_relays; i++)
        party(&r->relays[i], &v->relay[i], v->crl);
    r->crl_sequence = am_crl_sequence(v->crl);
    r->crl_issued_at = am_crl_issued_at(v->crl);
    qsort(r->facts, r->n_facts, sizeof r->facts[0], cmp_fact);
}

int am_bundle_verify(const uint8_t *in, size_t len,
                     const uint8_t root_pk[static AM_SIGN_PK_LEN],
                     int64_t now_or_0, am_bundle_report_t *report)
{
    vctx_t *v;
    int rc;

    if ((in == NULL && len > 0) || root_pk == NULL || report == NULL)
        return AM_EINVAL;
    am_err_clear();
    if (len > AM_BUNDLE_MAX)
        return am_errf(AM_ETOOBIG, "bundle of %zu bytes over limit %zu", len,
                       AM_BUNDLE_MAX);
    if ((v = am_calloc(1, sizeof *v)) == NULL)
        return AM_ENOMEM;
    v->root_pk = root_pk;
    v->now = now_or_0;
    if ((rc = decode(v, in, len)) != 0 || (rc = check_counts(v->b)) != 0 ||
        (rc = check_crl(v)) != 0 || (rc = check_envelope(v)) != 0 ||
        (rc = check_recipients(v)) != 0 || (rc = check_relays(v)) != 0 ||
        (rc = check_items(v)) != 0 || (rc = check_now(v)) != 0)
        goto out;
    finish_report(v);
    memcpy(report, &v->rep, sizeof *report);
out:
    vctx_free(v);
    return rc;
}

const char *am_bundle_fact_name(int kind)
{
    switch (kind) {
    case AM_FACT_SENT: return "sent";
    case AM_FACT_ACCEPTED: return "accepted";
    case AM_FACT_DELIVERED: return "delivered";
    case AM_FACT_EXPIRED: return "expired";
    case AM_FACT_RECEIVED: return "received";
    case AM_FACT_ACKNOWLEDGED: return "acknowledged";
    case AM_FACT_REFUSED: return "refused";
    case AM_FACT_DAMAGED: return "damaged";
    }
    return "unknown";
}
