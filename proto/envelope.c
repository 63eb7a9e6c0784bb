#include "envelope.h"

#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bytes.h"
#include "envelope.pb-c.h"
#include "err.h"
#include "pb.h"

struct am_env {
    Amanat__V1__Envelope *pb;
    Amanat__V1__EnvelopeHeader *hdr;
    uint8_t hash[AM_HASH_LEN];
    bool verified;
};

static void rng_fill(const am_env_params_t *p, uint8_t *buf, size_t n)
{
    if (p->rng != NULL)
        p->rng(p->rng_ctx, buf, n);
    else
        randombytes_buf(buf, n);
}

/* wrap key = BLAKE2b-256(tag || 0 || shared || eph_pk || rcpt_pk || id) */
static int wrap_key(const uint8_t shared[32], const uint8_t eph_pk[32],
                    const uint8_t rcpt_pk[32],
                    const uint8_t msg_id[AM_MSG_ID_LEN], uint8_t key[32])
{
    crypto_generichash_state st;
    int rc = 0;

    if (crypto_generichash_init(&st, NULL, 0, 32) != 0 ||
        crypto_generichash_update(&st, (const uint8_t *)AM_TAG_WRAP,
                                  sizeof AM_TAG_WRAP) != 0 || /* with NUL */
        crypto_generichash_update(&st, shared, 32) != 0 ||
        crypto_generichash_update(&st, eph_pk, 32) != 0 ||
        crypto_generichash_update(&st, rcpt_pk, 32) != 0 ||
        crypto_generichash_update(&st, msg_id, AM_MSG_ID_LEN) != 0 ||
        crypto_generichash_final(&st, key, 32) != 0)
        rc = am_errf(AM_ECRYPTO, "key wrap derivation failed");
    sodium_memzero(&st, sizeof st);
    return rc;
}

static const uint8_t zero_nonce[AM_ENV_NONCE_LEN];

/* Wrap ck for one recipient: eph_pk and wrapped (48 bytes) out. */
static int make_wrap(const am_env_params_t *p, const am_env_recipient_t *r,
                     const uint8_t msg_id[AM_MSG_ID_LEN], const uint8_t ck[32],
                     uint8_t eph_pk[32], uint8_t wrapped[AM_ENV_WRAPPED_LEN])
{
    uint8_t eph_sk[32], shared[32], key[32];
    int rc;

    rng_fill(p, eph_sk, sizeof eph_sk);
    if (crypto_scalarmult_base(eph_pk, eph_sk) != 0 ||
        crypto_scalarmult(shared, eph_sk, r->dh_pk) != 0) {
        rc = am_errf(AM_EKEY, "recipient \"%s\": key is not a usable X25519 "
                     "public key", r->agency_id);
        goto out;
    }
    /* A key is used for this one wrap: the all-zero nonce is safe. */
    if ((rc = wrap_key(shared, eph_pk, r->dh_pk, msg_id, key)) == 0 &&
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            wrapped, NULL, ck, AM_ENV_KEY_LEN,
            (const uint8_t *)r->agency_id, strlen(r->agency_id), NULL,
            zero_nonce, key) != 0)
        rc = am_errf(AM_ECRYPTO, "key wrap failed");
out:
    sodium_memzero(eph_sk, sizeof eph_sk);
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(key, sizeof key);
    return rc;
}

static int check_seal_params(const am_env_params_t *p,
                             const am_env_recipient_t *rcpt, size_t n,
                             size_t plain_len)
{
    if (!am_agency_id_valid(p->sender_id))
        return am_errf(AM_EINVAL, "sender \"%.24s\": not an agency id",
                       p->sender_id ? p->sender_id : "");
    if (n == 0 || n > AM_ENV_MAX_RECIPIENTS)
        return am_errf(AM_EINVAL, "%zu recipients: 1 to %d allowed", n,
                       AM_ENV_MAX_RECIPIENTS);
    for (size_t i = 0; i < n; i++) {
        if (!am_agency_id_valid(rcpt[i].agency_id) || rcpt[i].dh_pk == NULL)
            return am_errf(AM_EINVAL, "recipient \"%.24s\": not an agency id "
                           "with a key", rcpt[i].agency_id ? rcpt[i].agency_id
                                                           : "");
        for (size_t j = 0; j < i; j++)
            if (strcmp(rcpt[i].agency_id, rcpt[j].agency_id) == 0)
                return am_errf(AM_EINVAL, "recipient \"%s\": listed twice",
                               rcpt[i].agency_id);
    }
    if (p->priority < AM_PRIORITY_ROUTINE || p->priority > AM_PRIORITY_EMERGENCY)
        return am_errf(AM_EINVAL, "priority %d: not routine, urgent or "
                       "emergency", p->priority);
    if (p->expires_at <= p->created_at)
        return am_errf(AM_EINVAL, "expires_at %lld is not after created_at "
                       "%lld", (long long)p->expires_at,
                       (long long)p->created_at);
    if (plain_len > AM_ENV_BODY_MAX)
        return am_errf(AM_ETOOBIG, "content of %zu bytes over limit %zu",
                       plain_len, AM_ENV_BODY_MAX);
    return 0;
}

/* What the sender picks at random for one envelope. */
typedef struct {
    uint8_t msg_id[AM_MSG_ID_LEN];
    uint8_t nonce[AM_ENV_NONCE_LEN];
    uint8_t ck[AM_ENV_KEY_LEN];
    uint8_t eph_pk[AM_ENV_MAX_RECIPIENTS][32];
    uint8_t wrapped[AM_ENV_MAX_RECIPIENTS][AM_ENV_WRAPPED_LEN];
} seal_keys_t;

static int build_header(const am_env_params_t *p,
                        const am_env_recipient_t *rcpt, size_t n,
                        const seal_keys_t *k, uint8_t **out, size_t *out_len)
{
    Amanat__V1__EnvelopeHeader h = AMANAT__V1__ENVELOPE_HEADER__INIT;
    Amanat__V1__KeyWrap wraps[AM_ENV_MAX_RECIPIENTS];
    Amanat__V1__KeyWrap *wrap_ptrs[AM_ENV_MAX_RECIPIENTS];
    char *ids[AM_ENV_MAX_RECIPIENTS];
    uint8_t *buf;

    for (size_t i = 0; i < n; i++) {
        amanat__v1__key_wrap__init(&wraps[i]);
        wraps[i].recipient_id = (char *)rcpt[i].agency_id;
        wraps[i].prekey_id = rcpt[i].prekey_id;
        wraps[i].ephemeral_pk = (ProtobufCBinaryData){32, (uint8_t *)k->eph_pk[i]};
        wraps[i].wrapped_key =
            (ProtobufCBinaryData){AM_ENV_WRAPPED_LEN, (uint8_t *)k->wrapped[i]};
        wrap_ptrs[i] = &wraps[i];
        ids[i] = (char *)rcpt[i].agency_id;
    }
    h.version = 1;
    h.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)k->msg_id};
    h.sender_id = (char *)p->sender_id;
    h.n_recipient_ids = n;
    h.recipient_ids = ids;
    h.created_at = p->created_at;
    h.expires_at = p->expires_at;
    h.priority = (Amanat__V1__Priority)p->priority;
    h.n_wraps = n;
    h.wraps = wrap_ptrs;
    h.nonce = (ProtobufCBinaryData){AM_ENV_NONCE_LEN, (uint8_t *)k->nonce};
    h.sender_serial = p->sender_serial;
    *out_len = amanat__v1__envelope_header__get_packed_size(&h);
    if (*out_len > AM_ENV_HEADER_MAX)
        return am_errf(AM_ETOOBIG, "header of %zu bytes over limit %d",
                       *out_len, AM_ENV_HEADER_MAX);
    if ((buf = am_malloc(*out_len)) == NULL)
        return AM_ENOMEM;
    amanat__v1__envelope_header__pack(&h, buf);
    *out = buf;
    return 0;
}

/* The signed body: u32 BE header length || header || BLAKE2b-256(ct). */
static int sig_body(const uint8_t *hdr, size_t hdr_len, const uint8_t *ct,
                    size_t ct_len, uint8_t **out, size_t *out_len)
{
    uint8_t *b;
    int rc;

    if ((b = am_malloc(4 + hdr_len + AM_HASH_LEN)) == NULL)
        return AM_ENOMEM;
    am_store_be32(b, (uint32_t)hdr_len);
    memcpy(b + 4, hdr, hdr_len);
    if ((rc = am_hash256(ct, ct_len, b + 4 + hdr_len)) != 0) {
        am_free(b);
        return rc;
    }
    *out = b;
    *out_len = 4 + hdr_len + AM_HASH_LEN;
    return 0;
}

static int pack_envelope(const uint8_t *hdr, size_t hdr_len,
                         const uint8_t *ct, size_t ct_len,
                         const uint8_t sig[AM_SIG_LEN], uint8_t **out,
                         size_t *out_len)
{
    Amanat__V1__Envelope e = AMANAT__V1__ENVELOPE__INIT;
    uint8_t *buf;

    e.header = (ProtobufCBinaryData){hdr_len, (uint8_t *)hdr};
    e.ciphertext = (ProtobufCBinaryData){ct_len, (uint8_t *)ct};
    e.signature = (ProtobufCBinaryData){AM_SIG_LEN, (uint8_t *)sig};
    *out_len = amanat__v1__envelope__get_packed_size(&e);
    if ((buf = am_malloc(*out_len)) == NULL)
        return AM_ENOMEM;
    amanat__v1__envelope__pack(&e, buf);
    *out = buf;
    return 0;
}

/* Encrypt plain under k->ck with the header as associated data, sign. */
static int seal_body(const am_env_params_t *p, const seal_keys_t *k,
                     const uint8_t *hdr, size_t hdr_len, const uint8_t *plain,
                     size_t plain_len, uint8_t **out, size_t *out_len)
{
    size_t ct_len = plain_len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    uint8_t *ct, *sb = NULL, sig[AM_SIG_LEN];
    size_t sb_len;
    int rc = AM_ENOMEM;

    if ((ct = am_malloc(ct_len)) == NULL)
        return AM_ENOMEM;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, plain, plain_len,
                                                   hdr, hdr_len, NULL,
                                                   k->nonce, k->ck) != 0) {
        rc = am_errf(AM_ECRYPTO, "content encryption failed");
        goto out;
    }
    if ((rc = sig_body(hdr, hdr_len, ct, ct_len, &sb, &sb_len)) != 0 ||
        (rc = am_sign(AM_TAG_ENVELOPE, sb, sb_len, p->sign_sk, sig)) != 0)
        goto out;
    rc = pack_envelope(hdr, hdr_len, ct, ct_len, sig, out, out_len);
out:
    am_free(sb);
    am_free(ct);
    return rc;
}

int am_env_seal(const am_env_params_t *p, const am_env_recipient_t *rcpt,
                size_t n_rcpt, const uint8_t *plain, size_t plain_len,
                uint8_t **out, size_t *out_len)
{
    seal_keys_t k;
    uint8_t *hdr = NULL;
    size_t hdr_len;
    int rc;

    if (p == NULL || p->sign_sk == NULL || (rcpt == NULL && n_rcpt > 0) ||
        (plain == NULL && plain_len > 0) || out == NULL || out_len == NULL)
        return AM_EINVAL;
    if ((rc = check_seal_params(p, rcpt, n_rcpt, plain_len)) != 0)
        return rc;
    rng_fill(p, k.msg_id, sizeof k.msg_id);
    rng_fill(p, k.nonce, sizeof k.nonce);
    rng_fill(p, k.ck, sizeof k.ck);
    for (size_t i = 0; i < n_rcpt; i++)
        if ((rc = make_wrap(p, &rcpt[i], k.msg_id, k.ck, k.eph_pk[i],
                            k.wrapped[i])) != 0)
            goto out;
    if ((rc = build_header(p, rcpt, n_rcpt, &k, &hdr, &hdr_len)) != 0)
        goto out;
    rc = seal_body(p, &k, hdr, hdr_len, plain, plain_len, out, out_len);
out:
    sodium_memzero(&k, sizeof k);
    am_free(hdr);
    return rc;
}

/* Header syntax: read-only checks, nothing acted on before the signature. */
static int check_header(const Amanat__V1__EnvelopeHeader *h)
{
    if (h->version != 1)
        return am_errf(AM_EUNSUPPORTED, "envelope version %u", h->version);
    if (h->message_id.len != AM_MSG_ID_LEN || h->nonce.len != AM_ENV_NONCE_LEN)
        return am_errf(AM_EPROTO, "envelope message_id or nonce of the wrong "
                       "length");
    if (!am_agency_id_valid(h->sender_id))
        return am_errf(AM_EPROTO, "envelope sender_id: not an agency id");
    if (h->n_recipient_ids == 0 || h->n_recipient_ids > AM_ENV_MAX_RECIPIENTS ||
        h->n_wraps != h->n_recipient_ids)
        return am_errf(AM_EPROTO, "envelope has %zu recipients and %zu wraps "
                       "(1 to %d, one each)", h->n_recipient_ids, h->n_wraps,
                       AM_ENV_MAX_RECIPIENTS);
    if (h->priority < AMANAT__V1__PRIORITY__PRIORITY_ROUTINE ||
        h->priority > AMANAT__V1__PRIORITY__PRIORITY_EMERGENCY)
        return am_errf(AM_EPROTO, "envelope priority %d unknown",
                       (int)h->priority);
    for (size_t i = 0; i < h->n_recipient_ids; i++) {
        const Amanat__V1__KeyWrap *w = h->wraps[i];

        if (!am_agency_id_valid(h->recipient_ids[i]))
            return am_errf(AM_EPROTO, "envelope recipient %zu: not an agency "
                           "id", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(h->recipient_ids[i], h->recipient_ids[j]) == 0)
                return am_errf(AM_EPROTO, "envelope recipient \"%s\" listed "
                               "twice", h->recipient_ids[i]);
        if (strcmp(w->recipient_id, h->recipient_ids[i]) != 0 ||
            w->ephemeral_pk.len != 32 ||
            w->wrapped_key.len != AM_ENV_WRAPPED_LEN)
            return am_errf(AM_EPROTO, "envelope wrap %zu does not match "
                           "recipient \"%s\"", i, h->recipient_ids[i]);
    }
    return 0;
}

int am_env_parse(const uint8_t *in, size_t len, size_t max, am_env_t **out)
{
    ProtobufCMessage *m = NULL;
    am_env_t *env;
    int rc;

    if ((in == NULL && len > 0) || out == NULL)
        return AM_EINVAL;
    if (max > AM_ENV_MAX)
        max = AM_ENV_MAX;
    if ((env = am_calloc(1, sizeof *env)) == NULL)
        return AM_ENOMEM;
    if ((rc = am_pb_unpack(&amanat__v1__envelope__descriptor, "envelope", in,
                           len, max, &m)) != 0)
        goto fail;
    env->pb = (Amanat__V1__Envelope *)m;
    if (env->pb->signature.len != AM_SIG_LEN) {
        rc = am_errf(AM_EPROTO, "envelope signature of %zu bytes, not 64",
                     env->pb->signature.len);
        goto fail;
    }
    if ((rc = am_pb_unpack(&amanat__v1__envelope_header__descriptor,
                           "envelope header", env->pb->header.data,
                           env->pb->header.len, AM_ENV_HEADER_MAX, &m)) != 0)
        goto fail;
    env->hdr = (Amanat__V1__EnvelopeHeader *)m;
    if ((rc = check_header(env->hdr)) != 0 ||
        (rc = am_hash256(in, len, env->hash)) != 0)
        goto fail;
    *out = env;
    return 0;
fail:
    am_env_free(env);
    return rc;
}

const char *am_env_sender(const am_env_t *env)
{
    return env ? env->hdr->sender_id : NULL;
}

int am_env_verify(am_env_t *env, const am_cert_t *sender)
{
    const Amanat__V1__Envelope *e;
    uint8_t *sb;
    size_t sb_len;
    int rc;

    if (env == NULL || sender == NULL)
        return AM_EINVAL;
    e = env->pb;
    if (strcmp(sender->agency_id, env->hdr->sender_id) != 0 ||
        sender->serial != env->hdr->sender_serial)
        return am_errf(AM_ECRYPTO, "envelope sender \"%s\" (serial %llu) is "
                       "not the certificate's \"%s\" (serial %llu)",
                       env->hdr->sender_id,
                       (unsigned long long)env->hdr->sender_serial,
                       sender->agency_id, (unsigned long long)sender->serial);
    if ((rc = sig_body(e->header.data, e->header.len, e->ciphertext.data,
                       e->ciphertext.len, &sb, &sb_len)) != 0)
        return rc;
    rc = am_sign_verify(AM_TAG_ENVELOPE, sb, sb_len, e->signature.data,
                        e->signature.len, sender->sign_pk);
    am_free(sb);
    if (rc == AM_ENOMEM) /* says nothing about the signature */
        return rc;
    if (rc != 0)
        return am_errf(AM_ECRYPTO, "envelope signature does not verify for "
                       "sender \"%s\"", sender->agency_id);
    env->verified = true;
    return 0;
}

const uint8_t *am_env_claimed_id(const am_env_t *env)
{
    return env ? env->hdr->message_id.data : NULL;
}

size_t am_env_claimed_recipient_count(const am_env_t *env)
{
    return env ? env->hdr->n_recipient_ids : 0;
}

const char *am_env_claimed_recipient(const am_env_t *env, size_t i)
{
    return env && i < env->hdr->n_recipient_ids ? env->hdr->recipient_ids[i]
                                                : NULL;
}

int am_env_claimed_priority(const am_env_t *env)
{
    return env ? (int)env->hdr->priority : 0;
}

int64_t am_env_claimed_expires_at(const am_env_t *env)
{
    return env ? env->hdr->expires_at : 0;
}

const uint8_t *am_env_message_id(const am_env_t *env)
{
    return env && env->verified ? env->hdr->message_id.data : NULL;
}

int am_env_priority(const am_env_t *env)
{
    return env && env->verified ? (int)env->hdr->priority : 0;
}

int64_t am_env_created_at(const am_env_t *env)
{
    return env && env->verified ? env->hdr->created_at : 0;
}

int64_t am_env_expires_at(const am_env_t *env)
{
    return env && env->verified ? env->hdr->expires_at : 0;
}

size_t am_env_recipient_count(const am_env_t *env)
{
    return env && env->verified ? env->hdr->n_recipient_ids : 0;
}

const char *am_env_recipient(const am_env_t *env, size_t i)
{
    if (env == NULL || !env->verified || i >= env->hdr->n_recipient_ids)
        return NULL;
    return env->hdr->recipient_ids[i];
}

const uint8_t *am_env_hash(const am_env_t *env)
{
    return env && env->verified ? env->hash : NULL;
}

static const Amanat__V1__KeyWrap *find_wrap(const am_env_t *env,
                                            const char *agency_id)
{
    for (size_t i = 0; i < env->hdr->n_wraps; i++)
        if (strcmp(env->hdr->wraps[i]->recipient_id, agency_id) == 0)
            return env->hdr->wraps[i];
    return NULL;
}

int am_env_wrap_prekey(const am_env_t *env, const char *agency_id,
                       uint32_t *prekey_id)
{
    const Amanat__V1__KeyWrap *w;

    if (env == NULL || agency_id == NULL || prekey_id == NULL)
        return AM_EINVAL;
    if ((w = find_wrap(env, agency_id)) == NULL)
        return am_errf(AM_EKEY, "envelope is not addressed to \"%s\"",
                       agency_id);
    *prekey_id = w->prekey_id;
    return 0;
}

/* The content key from our wrap. */
static int unwrap(const am_env_t *env, const Amanat__V1__KeyWrap *w,
                  const char *agency_id, const uint8_t dh_sk[32],
                  uint8_t ck[AM_ENV_KEY_LEN])
{
    uint8_t my_pk[32], shared[32], key[32];
    int rc = 0;

    if (crypto_scalarmult_base(my_pk, dh_sk) != 0 ||
        crypto_scalarmult(shared, dh_sk, w->ephemeral_pk.data) != 0) {
        rc = am_errf(AM_EKEY, "envelope wrap for \"%s\": unusable ephemeral "
                     "key", agency_id);
        goto out;
    }
    if ((rc = wrap_key(shared, w->ephemeral_pk.data, my_pk,
                       env->hdr->message_id.data, key)) != 0)
        goto out;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            ck, NULL, NULL, w->wrapped_key.data, w->wrapped_key.len,
            (const uint8_t *)agency_id, strlen(agency_id), zero_nonce,
            key) != 0)
        rc = am_errf(AM_ECRYPTO, "envelope wrap for \"%s\" does not open "
                     "with this key (prekey %u)", agency_id, w->prekey_id);
out:
    sodium_memzero(shared, sizeof shared);
    sodium_memzero(key, sizeof key);
    return rc;
}

int am_env_open(const am_env_t *env, const char *agency_id,
                const uint8_t dh_sk[static 32], uint8_t **plain,
                size_t *plain_len)
{
    const Amanat__V1__Envelope *e;
    const Amanat__V1__KeyWrap *w;
    uint8_t ck[AM_ENV_KEY_LEN], *buf = NULL;
    size_t n;
    int rc;

    if (env == NULL || agency_id == NULL || plain == NULL || plain_len == NULL)
        return AM_EINVAL;
    if (!env->verified)
        return am_errf(AM_ESTATE, "envelope opened before its signature was "
                       "verified");
    e = env->pb;
    if ((w = find_wrap(env, agency_id)) == NULL)
        return am_errf(AM_EKEY, "envelope is not addressed to \"%s\"",
                       agency_id);
    if (e->ciphertext.len < crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return am_errf(AM_EPROTO, "envelope ciphertext shorter than its tag");
    if ((rc = unwrap(env, w, agency_id, dh_sk, ck)) != 0)
        goto out;
    n = e->ciphertext.len - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    rc = AM_ENOMEM;
    if ((buf = am_malloc(n ? n : 1)) == NULL)
        goto out;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            buf, NULL, NULL, e->ciphertext.data, e->ciphertext.len,
            e->header.data, e->header.len, env->hdr->nonce.data, ck) != 0) {
        rc = am_errf(AM_ECRYPTO, "envelope content does not decrypt");
        goto out;
    }
    *plain = buf;
    *plain_len = n;
    buf = NULL;
    rc = 0;
out:
    sodium_memzero(ck, sizeof ck);
    am_free(buf);
    return rc;
}

void am_env_free(am_env_t *env)
{
    if (env == NULL)
        return;
    am_pb_free(env->hdr);
    am_pb_free(env->pb);
    am_free(env);
}
