#include "cert.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "identity.pb-c.h"
#include "pb.h"

typedef struct {
    uint64_t serial;
    int64_t revoked_at;
} crl_entry_t;

struct am_crl {
    uint64_t sequence;
    int64_t issued_at;
    size_t n;
    crl_entry_t *entries; /* sorted by serial, then revoked_at */
};

int am_key_id(const uint8_t pk[static AM_SIGN_PK_LEN],
              uint8_t id[static AM_KEY_ID_LEN])
{
    return am_hash256(pk, AM_SIGN_PK_LEN, id);
}

static int root_key_id(const uint8_t root_sk[static 64],
                       uint8_t id[static AM_KEY_ID_LEN])
{
    uint8_t pk[AM_SIGN_PK_LEN];

    if (crypto_sign_ed25519_sk_to_pk(pk, root_sk) != 0)
        return am_errf(AM_EKEY, "root key is not an Ed25519 secret key");
    return am_key_id(pk, id);
}

static bool valid_text(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false; /* no control characters in names shown to people */
    return true;
}

/* The rules every certificate obeys, for issuing and after verifying. */
static int check_fields(const am_cert_t *c)
{
    const unsigned known = AM_ROLE_AGENCY | AM_ROLE_RELAY | AM_ROLE_ROOT;

    if (!am_agency_id_valid(c->agency_id))
        return am_errf(AM_EINVAL, "agency_id \"%.24s\": not CC-NAME with an "
                       "assigned country code", c->agency_id);
    if (!am_country_valid(c->country) ||
        memcmp(c->country, c->agency_id, 2) != 0)
        return am_errf(AM_EINVAL, "country \"%.3s\": must be the id's "
                       "country code", c->country);
    if (!valid_text(c->display_name, AM_DISPLAY_NAME_MAX))
        return am_errf(AM_EINVAL, "display_name: 1 to %d printable bytes",
                       AM_DISPLAY_NAME_MAX);
    if (c->roles == 0 || (c->roles & ~known) != 0)
        return am_errf(AM_EINVAL, "roles: none or unknown (0x%x)", c->roles);
    if ((c->roles & AM_ROLE_AGENCY) && !am_agency_id_valid(c->home_relay))
        return am_errf(AM_EINVAL, "home_relay \"%.24s\": an agency needs the "
                       "id of its relay", c->home_relay);
    if (c->home_relay[0] != '\0' && !am_agency_id_valid(c->home_relay))
        return am_errf(AM_EINVAL, "home_relay \"%.24s\": not an id",
                       c->home_relay);
    if (c->not_before >= c->not_after)
        return am_errf(AM_EINVAL, "not_before %lld is not before not_after "
                       "%lld", (long long)c->not_before,
                       (long long)c->not_after);
    if (c->serial == 0)
        return am_errf(AM_EINVAL, "serial: must not be 0");
    return 0;
}

static const struct {
    unsigned bit;
    Amanat__V1__Role pb;
} role_map[] = {
    {AM_ROLE_AGENCY, AMANAT__V1__ROLE__ROLE_AGENCY},
    {AM_ROLE_RELAY, AMANAT__V1__ROLE__ROLE_RELAY},
    {AM_ROLE_ROOT, AMANAT__V1__ROLE__ROLE_ROOT},
};
#define N_ROLES (sizeof role_map / sizeof role_map[0])

/* Serialize c (fields already checked) as an AgencyCertificate body. */
static int cert_body(const am_cert_t *c, const uint8_t issuer[AM_KEY_ID_LEN],
                     uint8_t **out, size_t *out_len)
{
    Amanat__V1__AgencyCertificate pb = AMANAT__V1__AGENCY_CERTIFICATE__INIT;
    Amanat__V1__Role roles[N_ROLES];
    size_t n = 0;
    uint8_t *buf;

    for (size_t i = 0; i < N_ROLES; i++)
        if (c->roles & role_map[i].bit)
            roles[n++] = role_map[i].pb;
    pb.version = 1;
    pb.agency_id = (char *)c->agency_id;
    pb.display_name = (char *)c->display_name;
    pb.country = (char *)c->country;
    pb.sign_pk = (ProtobufCBinaryData){AM_SIGN_PK_LEN, (uint8_t *)c->sign_pk};
    pb.dh_pk = (ProtobufCBinaryData){32, (uint8_t *)c->dh_pk};
    pb.n_roles = n;
    pb.roles = roles;
    pb.home_relay = (char *)c->home_relay;
    pb.not_before = c->not_before;
    pb.not_after = c->not_after;
    pb.serial = c->serial;
    pb.issuer_key_id = (ProtobufCBinaryData){AM_KEY_ID_LEN, (uint8_t *)issuer};
    *out_len = amanat__v1__agency_certificate__get_packed_size(&pb);
    if ((buf = am_malloc(*out_len)) == NULL)
        return AM_ENOMEM;
    amanat__v1__agency_certificate__pack(&pb, buf);
    *out = buf;
    return 0;
}

/* {body = 1, signature = 2}: SignedCertificate and RevocationList have
 * this same wire layout, so one packer serves both. */
static int pack_signed(const uint8_t *body, size_t body_len,
                       const uint8_t sig[AM_SIG_LEN], uint8_t **out,
                       size_t *out_len)
{
    Amanat__V1__SignedCertificate s = AMANAT__V1__SIGNED_CERTIFICATE__INIT;
    uint8_t *buf;

    s.body = (ProtobufCBinaryData){body_len, (uint8_t *)body};
    s.signature = (ProtobufCBinaryData){AM_SIG_LEN, (uint8_t *)sig};
    *out_len = amanat__v1__signed_certificate__get_packed_size(&s);
    if ((buf = am_malloc(*out_len)) == NULL)
        return AM_ENOMEM;
    amanat__v1__signed_certificate__pack(&s, buf);
    *out = buf;
    return 0;
}

int am_cert_issue(const am_cert_t *c, const uint8_t root_sk[static 64],
                  uint8_t **out, size_t *out_len)
{
    uint8_t issuer[AM_KEY_ID_LEN], sig[AM_SIG_LEN], *body = NULL;
    size_t body_len;
    int rc;

    if (c == NULL || out == NULL || out_len == NULL)
        return AM_EINVAL;
    if ((rc = check_fields(c)) != 0 || (rc = root_key_id(root_sk, issuer)) != 0 ||
        (rc = cert_body(c, issuer, &body, &body_len)) != 0)
        goto out;
    if ((rc = am_sign(AM_TAG_CERT, body, body_len, root_sk, sig)) != 0)
        goto out;
    rc = pack_signed(body, body_len, sig, out, out_len);
out:
    am_free(body);
    return rc;
}

static int copy_str(char *dst, size_t cap, const char *src, const char *field)
{
    size_t n = strnlen(src, cap);

    if (n >= cap)
        return am_errf(AM_EPROTO, "certificate %s: over %zu bytes", field,
                       cap - 1);
    memcpy(dst, src, n + 1);
    return 0;
}

/* Fields of a body whose signature has verified. */
static int cert_from_pb(const Amanat__V1__AgencyCertificate *pb,
                        am_cert_t *c)
{
    int rc;

    memset(c, 0, sizeof *c);
    if (pb->version != 1)
        return am_errf(AM_EUNSUPPORTED, "certificate version %u",
                       pb->version);
    if (pb->sign_pk.len != AM_SIGN_PK_LEN || pb->dh_pk.len != 32 ||
        pb->issuer_key_id.len != AM_KEY_ID_LEN)
        return am_errf(AM_EPROTO, "certificate key of the wrong length");
    if ((rc = copy_str(c->agency_id, sizeof c->agency_id, pb->agency_id,
                       "agency_id")) != 0 ||
        (rc = copy_str(c->display_name, sizeof c->display_name,
                       pb->display_name, "display_name")) != 0 ||
        (rc = copy_str(c->country, sizeof c->country, pb->country,
                       "country")) != 0 ||
        (rc = copy_str(c->home_relay, sizeof c->home_relay, pb->home_relay,
                       "home_relay")) != 0)
        return rc;
    memcpy(c->sign_pk, pb->sign_pk.data, AM_SIGN_PK_LEN);
    memcpy(c->dh_pk, pb->dh_pk.data, 32);
    memcpy(c->issuer_key_id, pb->issuer_key_id.data, AM_KEY_ID_LEN);
    for (size_t i = 0; i < pb->n_roles; i++)
        for (size_t j = 0; j < N_ROLES; j++)
            if (pb->roles[i] == role_map[j].pb)
                c->roles |= role_map[j].bit;
    c->not_before = pb->not_before;
    c->not_after = pb->not_after;
    c->serial = pb->serial;
    if ((rc = check_fields(c)) != 0)
        return am_err_wrap(AM_EPROTO, "certificate");
    return 0;
}

/* Diagnostic only, after the signature failed: was it another root's? */
static int bad_signature(const ProtobufCBinaryData *body,
                         const uint8_t root_id[AM_KEY_ID_LEN])
{
    ProtobufCMessage *m;
    const Amanat__V1__AgencyCertificate *pb;
    bool foreign = false;

    if (am_pb_unpack(&amanat__v1__agency_certificate__descriptor,
                     "certificate body", body->data, body->len, AM_CERT_MAX,
                     &m) == 0) {
        pb = (const Amanat__V1__AgencyCertificate *)m;
        foreign = pb->issuer_key_id.len == AM_KEY_ID_LEN &&
                  memcmp(pb->issuer_key_id.data, root_id, AM_KEY_ID_LEN) != 0;
        am_pb_free(m);
    }
    return am_errf(AM_ECRYPTO, foreign
                       ? "certificate issued by another federation's root"
                       : "certificate signature does not verify under the "
                         "federation root");
}

int am_cert_valid_at(const am_cert_t *c, int64_t t)
{
    if (c == NULL)
        return AM_EINVAL;
    if (t < c->not_before)
        return am_errf(AM_EEXPIRED, "certificate \"%s\" not valid before "
                       "%lld (now %lld)", c->agency_id,
                       (long long)c->not_before, (long long)t);
    if (t > c->not_after)
        return am_errf(AM_EEXPIRED, "certificate \"%s\" expired at %lld "
                       "(now %lld)", c->agency_id, (long long)c->not_after,
                       (long long)t);
    return 0;
}

static int check_role(const am_cert_t *c, unsigned role)
{
    if (role != 0 && (c->roles & role) == 0)
        return am_errf(AM_EROLE, "certificate \"%s\" lacks the %s role",
                       c->agency_id,
                       role == AM_ROLE_RELAY   ? "relay"
                       : role == AM_ROLE_ROOT ? "root"
                                              : "agency");
    return 0;
}

/* Time, role and revocation: the policy, once the fields are known. */
int am_cert_check_policy(const am_cert_t *c, const am_cert_policy_t *p)
{
    int rc;

    if (c == NULL || p == NULL)
        return AM_EINVAL;
    if ((rc = am_cert_valid_at(c, p->now)) != 0 ||
        (rc = check_role(c, p->role)) != 0)
        return rc;
    if (p->crl != NULL && am_crl_revoked(p->crl, c->serial))
        return am_errf(AM_EREVOKED, "certificate \"%s\" (serial %llu) is "
                       "revoked", c->agency_id,
                       (unsigned long long)c->serial);
    return 0;
}

/* Steps 1-3 of docs/PROTOCOL.md section 7: size, the root's signature,
 * the body's fields and issuer.  *out only on success. */
int am_cert_verify_signed(const uint8_t *in, size_t len,
                          const uint8_t root_pk[static AM_SIGN_PK_LEN],
                          am_cert_t *out)
{
    ProtobufCMessage *sm = NULL, *bm = NULL;
    const Amanat__V1__SignedCertificate *s;
    uint8_t root_id[AM_KEY_ID_LEN];
    am_cert_t c;
    int rc;

    if ((in == NULL && len > 0) || root_pk == NULL || out == NULL)
        return AM_EINVAL;
    if ((rc = am_key_id(root_pk, root_id)) != 0 ||
        (rc = am_pb_unpack(&amanat__v1__signed_certificate__descriptor,
                           "certificate", in, len, AM_CERT_MAX, &sm)) != 0)
        return rc;
    s = (const Amanat__V1__SignedCertificate *)sm;
    if ((rc = am_sign_verify(AM_TAG_CERT, s->body.data, s->body.len,
                             s->signature.data, s->signature.len,
                             root_pk)) != 0) {
        /* out of memory says nothing about the signature */
        if (rc != AM_ENOMEM)
            rc = bad_signature(&s->body, root_id);
        goto out;
    }
    if ((rc = am_pb_unpack(&amanat__v1__agency_certificate__descriptor,
                           "certificate body", s->body.data, s->body.len,
                           AM_CERT_MAX, &bm)) != 0 ||
        (rc = cert_from_pb((const Amanat__V1__AgencyCertificate *)bm, &c)) != 0)
        goto out;
    if (memcmp(c.issuer_key_id, root_id, AM_KEY_ID_LEN) != 0) {
        rc = am_errf(AM_EPROTO, "certificate names another issuer than the "
                     "root that signed it");
        goto out;
    }
    *out = c;
out:
    am_pb_free(bm);
    am_pb_free(sm);
    return rc;
}

int am_cert_verify(const uint8_t *in, size_t len, const am_cert_policy_t *p,
                   am_cert_t *out)
{
    am_cert_t c;
    int rc;

    if (p == NULL || p->root_pk == NULL || out == NULL)
        return AM_EINVAL;
    if ((rc = am_cert_verify_signed(in, len, p->root_pk, &c)) != 0 ||
        (rc = am_cert_check_policy(&c, p)) != 0)
        return rc;
    *out = c;
    return 0;
}

int am_cert_verify_offline(const uint8_t *in, size_t len,
                           const uint8_t root_pk[static AM_SIGN_PK_LEN],
                           unsigned role, am_cert_t *out)
{
    am_cert_t c;
    int rc;

    if ((in == NULL && len > 0) || root_pk == NULL || out == NULL)
        return AM_EINVAL;
    if ((rc = am_cert_verify_signed(in, len, root_pk, &c)) != 0 ||
        (rc = check_role(&c, role)) != 0)
        return rc;
    *out = c;
    return 0;
}

int am_cert_peek_id(const uint8_t *in, size_t len,
                    char id[static AM_AGENCY_ID_MAX + 1])
{
    ProtobufCMessage *sm = NULL, *bm = NULL;
    const Amanat__V1__SignedCertificate *s;
    const Amanat__V1__AgencyCertificate *b;
    int rc;

    if ((in == NULL && len > 0) || id == NULL)
        return AM_EINVAL;
    if ((rc = am_pb_unpack(&amanat__v1__signed_certificate__descriptor,
                           "certificate", in, len, AM_CERT_MAX, &sm)) != 0)
        return rc;
    s = (const Amanat__V1__SignedCertificate *)sm;
    if ((rc = am_pb_unpack(&amanat__v1__agency_certificate__descriptor,
                           "certificate body", s->body.data, s->body.len,
                           AM_CERT_MAX, &bm)) == 0) {
        b = (const Amanat__V1__AgencyCertificate *)bm;
        if (am_agency_id_valid(b->agency_id))
            memcpy(id, b->agency_id, strlen(b->agency_id) + 1);
        else
            rc = am_errf(AM_EPROTO, "certificate agency_id: not an agency id");
    }
    am_pb_free(bm);
    am_pb_free(sm);
    return rc;
}

/* A list's body is decoded only after the root's signature verified, and
 * its many small entries cost about 100 bytes of memory per ~20 wire
 * bytes (entry struct, pointer, protobuf-c's parse records, strings):
 * allow 40 times the size. */
#define CRL_BODY_BUDGET(len) (40 * (len) + 16384)

static int crl_body_unpack(const uint8_t *body, size_t len,
                           ProtobufCMessage **out)
{
    return am_pb_unpack_budget(&amanat__v1__revocation_list_body__descriptor,
                               "revocation list body", body, len, AM_CRL_MAX,
                               CRL_BODY_BUDGET(len), out);
}

int am_crl_issue(const uint8_t root_sk[static 64], uint64_t sequence,
                 int64_t issued_at, const am_revoked_t *revoked, size_t n,
                 uint8_t **out, size_t *out_len)
{
    Amanat__V1__RevocationListBody b = AMANAT__V1__REVOCATION_LIST_BODY__INIT;
    Amanat__V1__RevokedCertificate *items = NULL, **ptrs = NULL;
    uint8_t issuer[AM_KEY_ID_LEN], sig[AM_SIG_LEN], *body = NULL;
    size_t body_len;
    int rc = AM_ENOMEM;

    if (out == NULL || out_len == NULL || (revoked == NULL && n > 0))
        return AM_EINVAL;
    if (sequence == 0)
        return am_errf(AM_EINVAL, "revocation list sequence must be >= 1");
    if ((rc = root_key_id(root_sk, issuer)) != 0)
        return rc;
    rc = AM_ENOMEM;
    if (n > 0 && ((items = am_calloc(n, sizeof *items)) == NULL ||
                  (ptrs = am_calloc(n, sizeof *ptrs)) == NULL))
        goto out;
    for (size_t i = 0; i < n; i++) {
        amanat__v1__revoked_certificate__init(&items[i]);
        items[i].serial = revoked[i].serial;
        items[i].agency_id = (char *)(revoked[i].agency_id ? revoked[i].agency_id : "");
        items[i].revoked_at = revoked[i].revoked_at;
        items[i].reason = (char *)(revoked[i].reason ? revoked[i].reason : "");
        ptrs[i] = &items[i];
    }
    b.version = 1;
    b.issuer_key_id = (ProtobufCBinaryData){AM_KEY_ID_LEN, issuer};
    b.sequence = sequence;
    b.issued_at = issued_at;
    b.n_revoked = n;
    b.revoked = ptrs;
    body_len = amanat__v1__revocation_list_body__get_packed_size(&b);
    if (body_len > AM_CRL_MAX - 128) {
        rc = am_errf(AM_ETOOBIG, "revocation list of %zu entries too large", n);
        goto out;
    }
    if ((body = am_malloc(body_len)) == NULL)
        goto out;
    amanat__v1__revocation_list_body__pack(&b, body);
    /* never sign a list that verifiers would refuse to decode */
    {
        ProtobufCMessage *check = NULL;
        if ((rc = crl_body_unpack(body, body_len, &check)) != 0) {
            rc = am_errf(AM_ETOOBIG, "revocation list of %zu entries is "
                         "more than verifiers decode", n);
            goto out;
        }
        am_pb_free(check);
    }
    if ((rc = am_sign(AM_TAG_CRL, body, body_len, root_sk, sig)) == 0)
        rc = pack_signed(body, body_len, sig, out, out_len);
out:
    am_free(body);
    am_free(ptrs);
    am_free(items);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    const crl_entry_t *x = a, *y = b;

    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    return x->revoked_at < y->revoked_at ? -1 : x->revoked_at > y->revoked_at;
}

/* Fields of a list whose signature has verified. */
static int crl_from_pb(const Amanat__V1__RevocationListBody *b,
                       const uint8_t root_id[AM_KEY_ID_LEN], uint64_t held,
                       am_crl_t **out)
{
    am_crl_t *crl;

    if (b->version != 1)
        return am_errf(AM_EUNSUPPORTED, "revocation list version %u",
                       b->version);
    if (b->issuer_key_id.len != AM_KEY_ID_LEN ||
        memcmp(b->issuer_key_id.data, root_id, AM_KEY_ID_LEN) != 0)
        return am_errf(AM_EPROTO, "revocation list names another issuer");
    if (b->sequence < held)
        return am_errf(AM_ESTALE, "revocation list sequence %llu is older "
                       "than the held %llu", (unsigned long long)b->sequence,
                       (unsigned long long)held);
    if ((crl = am_calloc(1, sizeof *crl)) == NULL)
        return AM_ENOMEM;
    crl->sequence = b->sequence;
    crl->issued_at = b->issued_at;
    crl->n = b->n_revoked;
    if (crl->n > 0 &&
        (crl->entries = am_calloc(crl->n, sizeof *crl->entries)) == NULL) {
        am_crl_free(crl);
        return AM_ENOMEM;
    }
    for (size_t i = 0; i < crl->n; i++) {
        crl->entries[i].serial = b->revoked[i]->serial;
        crl->entries[i].revoked_at = b->revoked[i]->revoked_at;
    }
    if (crl->n > 1)
        qsort(crl->entries, crl->n, sizeof *crl->entries, cmp_entry);
    *out = crl;
    return 0;
}

int am_crl_verify(const uint8_t *in, size_t len,
                  const uint8_t root_pk[static AM_SIGN_PK_LEN],
                  uint64_t held_sequence, am_crl_t **out)
{
    ProtobufCMessage *sm = NULL, *bm = NULL;
    const Amanat__V1__RevocationList *s;
    uint8_t root_id[AM_KEY_ID_LEN];
    int rc;

    if ((in == NULL && len > 0) || out == NULL)
        return AM_EINVAL;
    if ((rc = am_key_id(root_pk, root_id)) != 0 ||
        (rc = am_pb_unpack(&amanat__v1__revocation_list__descriptor,
                           "revocation list", in, len, AM_CRL_MAX, &sm)) != 0)
        return rc;
    s = (const Amanat__V1__RevocationList *)sm;
    if ((rc = am_sign_verify(AM_TAG_CRL, s->body.data, s->body.len,
                             s->signature.data, s->signature.len,
                             root_pk)) != 0)
        goto out;
    if ((rc = crl_body_unpack(s->body.data, s->body.len, &bm)) != 0)
        goto out;
    rc = crl_from_pb((const Amanat__V1__RevocationListBody *)bm, root_id,
                     held_sequence, out);
out:
    am_pb_free(bm);
    am_pb_free(sm);
    return rc;
}

uint64_t am_crl_sequence(const am_crl_t *crl)
{
    return crl ? crl->sequence : 0;
}

int64_t am_crl_issued_at(const am_crl_t *crl)
{
    return crl ? crl->issued_at : 0;
}

bool am_crl_revoked_at(const am_crl_t *crl, uint64_t serial,
                       int64_t *revoked_at)
{
    size_t lo = 0, hi = crl ? crl->n : 0;

    /* the first entry of serial: a serial listed twice counts from its
     * earliest revocation */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (crl->entries[mid].serial < serial)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (crl == NULL || lo == crl->n || crl->entries[lo].serial != serial)
        return false;
    if (revoked_at != NULL)
        *revoked_at = crl->entries[lo].revoked_at;
    return true;
}

bool am_crl_revoked(const am_crl_t *crl, uint64_t serial)
{
    return am_crl_revoked_at(crl, serial, NULL);
}

void am_crl_free(am_crl_t *crl)
{
    if (crl == NULL)
        return;
    am_free(crl->entries);
    am_free(crl);
}
