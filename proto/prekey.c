#include "prekey.h"

#include <string.h>

#include "alloc.h"
#include "err.h"
#include "identity.pb-c.h"
#include "pb.h"

static int check(const am_prekey_t *p)
{
    if (!am_agency_id_valid(p->agency_id))
        return am_errf(AM_EINVAL, "prekey agency_id \"%.24s\": not an id",
                       p->agency_id);
    if (p->prekey_id == 0)
        return am_errf(AM_EINVAL, "prekey_id 0 is reserved for the "
                       "certificate key");
    if (p->created_at >= p->not_after)
        return am_errf(AM_EINVAL, "prekey created_at is not before "
                       "not_after");
    return 0;
}

int am_prekey_sign(const am_prekey_t *p, const uint8_t sign_sk[static 64],
                   uint8_t **out, size_t *out_len)
{
    Amanat__V1__PrekeyBody b = AMANAT__V1__PREKEY_BODY__INIT;
    Amanat__V1__SignedPrekey s = AMANAT__V1__SIGNED_PREKEY__INIT;
    uint8_t body[AM_PREKEY_MAX], sig[AM_SIG_LEN], *buf;
    size_t body_len;
    int rc;

    if (p == NULL || out == NULL || out_len == NULL)
        return AM_EINVAL;
    if ((rc = check(p)) != 0)
        return rc;
    b.version = 1;
    b.agency_id = (char *)p->agency_id;
    b.prekey_id = p->prekey_id;
    b.dh_pk = (ProtobufCBinaryData){32, (uint8_t *)p->dh_pk};
    b.created_at = p->created_at;
    b.not_after = p->not_after;
    body_len = amanat__v1__prekey_body__get_packed_size(&b);
    if (body_len > sizeof body - 128)
        return AM_EINVAL;
    amanat__v1__prekey_body__pack(&b, body);
    if ((rc = am_sign(AM_TAG_PREKEY, body, body_len, sign_sk, sig)) != 0)
        return rc;
    s.body = (ProtobufCBinaryData){body_len, body};
    s.signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
    *out_len = amanat__v1__signed_prekey__get_packed_size(&s);
    if ((buf = am_malloc(*out_len)) == NULL)
        return AM_ENOMEM;
    amanat__v1__signed_prekey__pack(&s, buf);
    *out = buf;
    return 0;
}

static int from_pb(const Amanat__V1__PrekeyBody *b, am_prekey_t *p)
{
    size_t n = strnlen(b->agency_id, sizeof p->agency_id);

    if (b->version != 1)
        return am_errf(AM_EUNSUPPORTED, "prekey version %u", b->version);
    if (n >= sizeof p->agency_id || b->dh_pk.len != 32)
        return am_errf(AM_EPROTO, "prekey agency_id or key of the wrong "
                       "length");
    memset(p, 0, sizeof *p);
    memcpy(p->agency_id, b->agency_id, n);
    p->prekey_id = b->prekey_id;
    memcpy(p->dh_pk, b->dh_pk.data, 32);
    p->created_at = b->created_at;
    p->not_after = b->not_after;
    if (check(p) != 0)
        return am_err_wrap(AM_EPROTO, "prekey");
    return 0;
}

int am_prekey_verify(const uint8_t *in, size_t len, const am_cert_t *owner,
                     int64_t now, am_prekey_t *out)
{
    ProtobufCMessage *sm = NULL, *bm = NULL;
    const Amanat__V1__SignedPrekey *s;
    am_prekey_t p;
    int rc;

    if ((in == NULL && len > 0) || owner == NULL || out == NULL)
        return AM_EINVAL;
    if ((rc = am_pb_unpack(&amanat__v1__signed_prekey__descriptor, "prekey",
                           in, len, AM_PREKEY_MAX, &sm)) != 0)
        return rc;
    s = (const Amanat__V1__SignedPrekey *)sm;
    if ((rc = am_sign_verify(AM_TAG_PREKEY, s->body.data, s->body.len,
                             s->signature.data, s->signature.len,
                             owner->sign_pk)) != 0) {
        rc = am_errf(AM_ECRYPTO, "prekey signature does not verify for "
                     "\"%s\"", owner->agency_id);
        goto out;
    }
    if ((rc = am_pb_unpack(&amanat__v1__prekey_body__descriptor, "prekey body",
                           s->body.data, s->body.len, AM_PREKEY_MAX, &bm)) != 0 ||
        (rc = from_pb((const Amanat__V1__PrekeyBody *)bm, &p)) != 0)
        goto out;
    if (strcmp(p.agency_id, owner->agency_id) != 0)
        rc = am_errf(AM_EPROTO, "prekey of \"%s\" presented for \"%s\"",
                     p.agency_id, owner->agency_id);
    else if (now > p.not_after)
        rc = am_errf(AM_EEXPIRED, "prekey %u of \"%s\" expired at %lld",
                     p.prekey_id, p.agency_id, (long long)p.not_after);
    else
        *out = p;
out:
    am_pb_free(bm);
    am_pb_free(sm);
    return rc;
}
