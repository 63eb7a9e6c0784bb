#include "evidence.h"

#include <string.h>

#include "alloc.h"
#include "err.h"
#include "pb.h"
#include "wire.pb-c.h"

/* The rules of a body, for signing and after parsing. */
static int check_fields(const am_evidence_t *e, int code)
{
    if (e->kind < AM_EVIDENCE_ACCEPTED || e->kind > AM_EVIDENCE_DAMAGED)
        return am_errf(code, "evidence kind %d unknown", e->kind);
    if (!am_agency_id_valid(e->relay_id))
        return am_errf(code, "evidence relay_id: not an agency id");
    if (e->kind == AM_EVIDENCE_ACCEPTED && e->recipient_id[0] != '\0')
        return am_errf(code, "accepted evidence names recipient \"%s\"",
                       e->recipient_id);
    if (e->kind != AM_EVIDENCE_ACCEPTED && !am_agency_id_valid(e->recipient_id))
        return am_errf(code, "%s evidence without a recipient id",
                       e->kind == AM_EVIDENCE_DELIVERED ? "delivered"
                       : e->kind == AM_EVIDENCE_EXPIRED ? "expired"
                                                        : "damaged");
    return 0;
}

static int copy_id(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap);

    if (n >= cap)
        return am_errf(AM_EPROTO, "evidence id over %zu bytes", cap - 1);
    memcpy(dst, src, n + 1);
    return 0;
}

static int from_pb(const Amanat__V1__EvidenceBody *b, am_evidence_t *e)
{
    int rc;

    memset(e, 0, sizeof *e);
    if (b->version != 1)
        return am_errf(AM_EUNSUPPORTED, "evidence version %u", b->version);
    if (b->message_id.len != AM_MSG_ID_LEN ||
        b->envelope_hash.len != AM_HASH_LEN)
        return am_errf(AM_EPROTO, "evidence message_id or envelope_hash of "
                       "the wrong length");
    e->kind = (int)b->kind;
    memcpy(e->message_id, b->message_id.data, AM_MSG_ID_LEN);
    memcpy(e->envelope_hash, b->envelope_hash.data, AM_HASH_LEN);
    e->time = b->time;
    if ((rc = copy_id(e->relay_id, sizeof e->relay_id, b->relay_id)) != 0 ||
        (rc = copy_id(e->recipient_id, sizeof e->recipient_id,
                      b->recipient_id)) != 0)
        return rc;
    return check_fields(e, AM_EPROTO);
}

int am_evidence_sign(const am_evidence_t *e, const uint8_t sign_sk[static 64],
                     uint8_t **out, size_t *out_len)
{
    Amanat__V1__EvidenceBody b = AMANAT__V1__EVIDENCE_BODY__INIT;
    Amanat__V1__Evidence s = AMANAT__V1__EVIDENCE__INIT;
    uint8_t body[AM_EVIDENCE_BODY_MAX], sig[AM_SIG_LEN], *buf;
    size_t body_len;
    int rc;

    if (e == NULL || out == NULL || out_len == NULL)
        return AM_EINVAL;
    if ((rc = check_fields(e, AM_EINVAL)) != 0)
        return rc;
    b.version = 1;
    b.kind = (Amanat__V1__EvidenceKind)e->kind;
    b.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)e->message_id};
    b.envelope_hash = (ProtobufCBinaryData){AM_HASH_LEN,
                                            (uint8_t *)e->envelope_hash};
    b.relay_id = (char *)e->relay_id;
    b.recipient_id = (char *)e->recipient_id;
    b.time = e->time;
    /* ids are at most 19 bytes: a body stays far below the limit */
    body_len = amanat__v1__evidence_body__get_packed_size(&b);
    if (body_len > sizeof body)
        return am_errf(AM_ETOOBIG, "evidence body of %zu bytes", body_len);
    amanat__v1__evidence_body__pack(&b, body);
    if ((rc = am_sign(AM_TAG_EVIDENCE, body, body_len, sign_sk, sig)) != 0)
        return rc;
    s.body = (ProtobufCBinaryData){body_len, body};
    s.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
    *out_len = amanat__v1__evidence__get_packed_size(&s);
    if ((buf = am_malloc(*out_len)) == NULL)
        return AM_ENOMEM;
    amanat__v1__evidence__pack(&s, buf);
    *out = buf;
    return 0;
}

/* Parse Evidence and its body; with relay, check the signature between
 * the two (nothing in the body is read before it verifies). */
static int parse(const uint8_t *in, size_t len, const am_cert_t *relay,
                 am_evidence_t *out)
{
    ProtobufCMessage *sm = NULL, *bm = NULL;
    const Amanat__V1__Evidence *s;
    am_evidence_t e;
    int rc;

    if ((rc = am_pb_unpack(&amanat__v1__evidence__descriptor, "evidence", in,
                           len, AM_EVIDENCE_MAX, &sm)) != 0)
        return rc;
    s = (const Amanat__V1__Evidence *)sm;
    if (relay != NULL &&
        am_sign_verify(AM_TAG_EVIDENCE, s->body.data, s->body.len,
                       s->signature.data, s->signature.len,
                       relay->sign_pk) != 0) {
        rc = am_errf(AM_ECRYPTO, "evidence signature does not verify for "
                     "\"%s\"", relay->agency_id);
        goto out;
    }
    if ((rc = am_pb_unpack(&amanat__v1__evidence_body__descriptor,
                           "evidence body", s->body.data, s->body.len,
                           AM_EVIDENCE_BODY_MAX, &bm)) != 0 ||
        (rc = from_pb((const Amanat__V1__EvidenceBody *)bm, &e)) != 0)
        goto out;
    *out = e;
out:
    am_pb_free(bm);
    am_pb_free(sm);
    return rc;
}

int am_evidence_peek(const uint8_t *in, size_t len, am_evidence_t *out)
{
    if ((in == NULL && len > 0) || out == NULL)
        return AM_EINVAL;
    return parse(in, len, NULL, out);
}

int am_evidence_verify(const uint8_t *in, size_t len, const am_cert_t *relay,
                       am_evidence_t *out)
{
    am_evidence_t e;
    int rc;

    if ((in == NULL && len > 0) || relay == NULL || out == NULL)
        return AM_EINVAL;
    if ((relay->roles & AM_ROLE_RELAY) == 0)
        return am_errf(AM_EROLE, "evidence signed by \"%s\", which is not a "
                       "relay", relay->agency_id);
    if ((rc = parse(in, len, relay, &e)) != 0)
        return rc;
    if (strcmp(e.relay_id, relay->agency_id) != 0)
        return am_errf(AM_ECRYPTO, "evidence by relay \"%s\" signed with the "
                       "certificate of \"%s\"", e.relay_id, relay->agency_id);
    *out = e;
    return 0;
}
