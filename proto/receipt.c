#include "receipt.h"

#include <string.h>

#include "alloc.h"
#include "envelope.pb-c.h"
#include "err.h"
#include "pb.h"

static int copy_id(char *dst, size_t cap, const char *src, const char *what)
{
    size_t n = src ? strnlen(src, cap) : cap;

    if (n >= cap || !am_agency_id_valid(src))
        return am_errf(AM_EPROTO, "receipt %s: not an agency id", what);
    memcpy(dst, src, n + 1);
    return 0;
}

int am_receipt_for(const am_env_t *env, const char *recipient_id, int status,
                   int64_t time, const char *reason, am_receipt_t *r)
{
    const uint8_t *id = am_env_message_id(env), *hash = am_env_hash(env);
    uint32_t prekey;
    int rc;

    if (env == NULL || recipient_id == NULL || r == NULL)
        return AM_EINVAL;
    if (id == NULL)
        return am_errf(AM_ESTATE, "receipt for an unverified envelope");
    if ((rc = am_env_wrap_prekey(env, recipient_id, &prekey)) != 0)
        return rc;
    if (status < AM_RECEIPT_RECEIVED || status > AM_RECEIPT_REFUSED)
        return am_errf(AM_EINVAL, "receipt status %d unknown", status);
    if (reason != NULL && strlen(reason) > AM_REASON_MAX)
        return am_errf(AM_EINVAL, "receipt reason over %d bytes",
                       AM_REASON_MAX);
    memset(r, 0, sizeof *r);
    memcpy(r->message_id, id, AM_MSG_ID_LEN);
    memcpy(r->envelope_hash, hash, AM_HASH_LEN);
    r->status = status;
    r->time = time;
    if (reason != NULL)
        memcpy(r->reason, reason, strlen(reason) + 1);
    if ((rc = copy_id(r->recipient_id, sizeof r->recipient_id, recipient_id,
                      "recipient_id")) != 0)
        return rc;
    return copy_id(r->sender_id, sizeof r->sender_id, am_env_sender(env),
                   "sender_id");
}

int am_receipt_sign(const am_receipt_t *r, const uint8_t sign_sk[static 64],
                    uint8_t **out, size_t *out_len)
{
    Amanat__V1__Receipt b = AMANAT__V1__RECEIPT__INIT;
    Amanat__V1__SignedReceipt s = AMANAT__V1__SIGNED_RECEIPT__INIT;
    uint8_t body[AM_RECEIPT_MAX], sig[AM_SIG_LEN], *buf;
    size_t body_len;
    int rc;

    if (r == NULL || out == NULL || out_len == NULL)
        return AM_EINVAL;
    b.version = 1;
    b.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)r->message_id};
    b.envelope_hash = (ProtobufCBinaryData){AM_HASH_LEN, (uint8_t *)r->envelope_hash};
    b.status = (Amanat__V1__ReceiptStatus)r->status;
    b.time = r->time;
    b.reason = (char *)r->reason;
    b.recipient_id = (char *)r->recipient_id;
    b.sender_id = (char *)r->sender_id;
    body_len = amanat__v1__receipt__get_packed_size(&b);
    if (body_len > sizeof body - 128)
        return am_errf(AM_ETOOBIG, "receipt of %zu bytes", body_len);
    amanat__v1__receipt__pack(&b, body);
    if ((rc = am_sign(AM_TAG_RECEIPT, body, body_len, sign_sk, sig)) != 0)
        return rc;
    s.body = (ProtobufCBinaryData){body_len, body};
    s.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
    *out_len = amanat__v1__signed_receipt__get_packed_size(&s);
    if ((buf = am_malloc(*out_len)) == NULL)
        return AM_ENOMEM;
    amanat__v1__signed_receipt__pack(&s, buf);
    *out = buf;
    return 0;
}

static int from_pb(const Amanat__V1__Receipt *b, am_receipt_t *r)
{
    int rc;

    memset(r, 0, sizeof *r);
    if (b->version != 1)
        return am_errf(AM_EUNSUPPORTED, "receipt version %u", b->version);
    if (b->message_id.len != AM_MSG_ID_LEN ||
        b->envelope_hash.len != AM_HASH_LEN)
        return am_errf(AM_EPROTO, "receipt message_id or envelope_hash of the "
                       "wrong length");
    if (b->status < AMANAT__V1__RECEIPT_STATUS__RECEIPT_RECEIVED ||
        b->status > AMANAT__V1__RECEIPT_STATUS__RECEIPT_REFUSED)
        return am_errf(AM_EPROTO, "receipt status %d unknown", (int)b->status);
    if (strnlen(b->reason, AM_REASON_MAX + 1) > AM_REASON_MAX)
        return am_errf(AM_EPROTO, "receipt reason over %d bytes",
                       AM_REASON_MAX);
    memcpy(r->message_id, b->message_id.data, AM_MSG_ID_LEN);
    memcpy(r->envelope_hash, b->envelope_hash.data, AM_HASH_LEN);
    r->status = (int)b->status;
    r->time = b->time;
    memcpy(r->reason, b->reason, strlen(b->reason) + 1);
    if ((rc = copy_id(r->recipient_id, sizeof r->recipient_id,
                      b->recipient_id, "recipient_id")) != 0)
        return rc;
    return copy_id(r->sender_id, sizeof r->sender_id, b->sender_id,
                   "sender_id");
}

/* The receipt names this envelope, its sender, and one of its recipients
 * who is the certificate's holder. */
static int matches(const am_receipt_t *r, const am_cert_t *recipient,
                   const am_env_t *env)
{
    uint32_t prekey;

    if (strcmp(r->recipient_id, recipient->agency_id) != 0)
        return am_errf(AM_ECRYPTO, "receipt by \"%s\" signed with the "
                       "certificate of \"%s\"", r->recipient_id,
                       recipient->agency_id);
    if (am_env_message_id(env) == NULL)
        return am_errf(AM_ESTATE, "receipt checked against an unverified "
                       "envelope");
    if (memcmp(r->message_id, am_env_message_id(env), AM_MSG_ID_LEN) != 0 ||
        memcmp(r->envelope_hash, am_env_hash(env), AM_HASH_LEN) != 0)
        return am_errf(AM_ECRYPTO, "receipt names another envelope");
    if (strcmp(r->sender_id, am_env_sender(env)) != 0)
        return am_errf(AM_ECRYPTO, "receipt names sender \"%s\", the envelope "
                       "is from \"%s\"", r->sender_id, am_env_sender(env));
    if (am_env_wrap_prekey(env, r->recipient_id, &prekey) != 0)
        return am_errf(AM_ECRYPTO, "receipt by \"%s\", who is not a "
                       "recipient of the envelope", r->recipient_id);
    return 0;
}

int am_receipt_verify(const uint8_t *in, size_t len,
                      const am_cert_t *recipient, const am_env_t *env,
                      am_receipt_t *out)
{
    ProtobufCMessage *sm = NULL, *bm = NULL;
    const Amanat__V1__SignedReceipt *s;
    am_receipt_t r;
    int rc;

    if ((in == NULL && len > 0) || recipient == NULL || env == NULL ||
        out == NULL)
        return AM_EINVAL;
    if ((rc = am_pb_unpack(&amanat__v1__signed_receipt__descriptor, "receipt",
                           in, len, AM_RECEIPT_MAX, &sm)) != 0)
        return rc;
    s = (const Amanat__V1__SignedReceipt *)sm;
    if (am_sign_verify(AM_TAG_RECEIPT, s->body.data, s->body.len,
                       s->signature.data, s->signature.len,
                       recipient->sign_pk) != 0) {
        rc = am_errf(AM_ECRYPTO, "receipt signature does not verify for "
                     "\"%s\"", recipient->agency_id);
        goto out;
    }
    if ((rc = am_pb_unpack(&amanat__v1__receipt__descriptor, "receipt body",
                           s->body.data, s->body.len, AM_RECEIPT_MAX,
                           &bm)) != 0 ||
        (rc = from_pb((const Amanat__V1__Receipt *)bm, &r)) != 0 ||
        (rc = matches(&r, recipient, env)) != 0)
        goto out;
    *out = r;
out:
    am_pb_free(bm);
    am_pb_free(sm);
    return rc;
}

int am_receipt_peek(const uint8_t *in, size_t len, am_receipt_t *out)
{
    ProtobufCMessage *sm = NULL, *bm = NULL;
    const Amanat__V1__SignedReceipt *s;
    am_receipt_t r;
    int rc;

    if ((in == NULL && len > 0) || out == NULL)
        return AM_EINVAL;
    if ((rc = am_pb_unpack(&amanat__v1__signed_receipt__descriptor, "receipt",
                           in, len, AM_RECEIPT_MAX, &sm)) != 0)
        return rc;
    s = (const Amanat__V1__SignedReceipt *)sm;
    if ((rc = am_pb_unpack(&amanat__v1__receipt__descriptor, "receipt body",
                           s->body.data, s->body.len, AM_RECEIPT_MAX,
                           &bm)) == 0 &&
        (rc = from_pb((const Amanat__V1__Receipt *)bm, &r)) == 0)
        *out = r;
    am_pb_free(bm);
    am_pb_free(sm);
    return rc;
}
