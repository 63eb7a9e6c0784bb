/* fuzz_relay.h, third part: checks of what the relay sends after the
 * handshake.  Signatures are checked with libsodium directly (tag, zero
 * byte, body: docs/PROTOCOL.md section 6) and bodies with protobuf-c's
 * parsers, so that a relay bug shared with proto/'s verifiers would still
 * show. */
#include "fuzz_relay.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "country.h"
#include "envelope.h"
#include "identity.pb-c.h"

/* sig is pk's signature of tag || 0 || body. */
static bool signed_by(const char *tag, const ProtobufCBinaryData *body,
                      const ProtobufCBinaryData *sig, const uint8_t pk[32])
{
    size_t tlen = strlen(tag) + 1;
    uint8_t *m;
    bool ok;

    if (sig->len != crypto_sign_BYTES ||
        (m = am_malloc(tlen + body->len)) == NULL)
        return false;
    memcpy(m, tag, tlen);
    if (body->len > 0)
        memcpy(m + tlen, body->data, body->len);
    ok = crypto_sign_verify_detached(sig->data, m, tlen + body->len, pk) == 0;
    am_free(m);
    return ok;
}

/* The relay sends the same signed objects again and again (a pending
 * envelope to every session of its recipient, the evidence signed anew
 * but the same): what passed once is remembered by its BLAKE2b, so the
 * harness does not spend its time verifying signatures over again. */
#define SEEN_SLOTS 4096

static bool seen(const char *what, const ProtobufCBinaryData *a,
                 const ProtobufCBinaryData *b, bool remember)
{
    static uint8_t slots[SEEN_SLOTS][16];
    crypto_generichash_state st;
    uint8_t h[16];
    size_t i;

    AM_FZ_CHECK(crypto_generichash_init(&st, NULL, 0, sizeof h) == 0 &&
                crypto_generichash_update(&st, (const uint8_t *)what,
                                          strlen(what) + 1) == 0 &&
                crypto_generichash_update(&st, a->data, a->len) == 0 &&
                crypto_generichash_update(&st, b->data, b->len) == 0 &&
                crypto_generichash_final(&st, h, sizeof h) == 0);
    i = ((size_t)h[0] << 8 | h[1]) % SEEN_SLOTS;
    if (sodium_memcmp(slots[i], h, sizeof h) == 0)
        return true;
    if (remember)
        memcpy(slots[i], h, sizeof h);
    return false;
}

Amanat__V1__EvidenceBody *am_fzr_evidence(const Amanat__V1__Evidence *e,
                                          bool accepted)
{
    Amanat__V1__EvidenceBody *b;

    AM_FZ_CHECK(e != NULL);
    if (!seen("evidence", &e->body, &e->signature, false)) {
        AM_FZ_CHECK(signed_by(AM_TAG_EVIDENCE, &e->body, &e->signature,
                              am_fzr_relay()->sign_pk));
        (void)seen("evidence", &e->body, &e->signature, true);
    }
    b = amanat__v1__evidence_body__unpack(NULL, e->body.len, e->body.data);
    AM_FZ_CHECK(b != NULL && b->version == 1);
    AM_FZ_CHECK(strcmp(b->relay_id, AM_FZR_RELAY_ID) == 0);
    AM_FZ_CHECK(b->message_id.len == AM_MSG_ID_LEN);
    AM_FZ_CHECK(b->envelope_hash.len == AM_HASH_LEN);
    if (accepted)
        AM_FZ_CHECK(b->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED &&
                    b->recipient_id[0] == '\0');
    else
        AM_FZ_CHECK(
            (b->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DELIVERED ||
             b->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_EXPIRED) &&
            am_agency_id_valid(b->recipient_id));
    return b;
}

void am_fzr_check_hash(const Amanat__V1__EvidenceBody *b, const uint8_t *env,
                       size_t len)
{
    uint8_t h[AM_HASH_LEN];

    AM_FZ_CHECK(crypto_generichash(h, sizeof h, env, len, NULL, 0) == 0);
    AM_FZ_CHECK(memcmp(h, b->envelope_hash.data, sizeof h) == 0);
}

void am_fzr_check_delivered(const ProtobufCBinaryData *env,
                            const Amanat__V1__EvidenceBody *b,
                            const char *agency)
{
    uint8_t key[AM_AGENCY_ID_MAX + 1 + AM_MSG_ID_LEN];
    ProtobufCBinaryData to = {strlen(agency) + 1 + AM_MSG_ID_LEN, key};
    const am_fz_agency_t *from;
    am_env_t *e = NULL;
    bool mine = false;

    am_fzr_check_hash(b, env->data, env->len);
    /* once checked for this agency and this id, these bytes need no
     * second look */
    AM_FZ_CHECK(to.len <= sizeof key);
    memcpy(key, agency, to.len - AM_MSG_ID_LEN);
    memcpy(key + to.len - AM_MSG_ID_LEN, b->message_id.data, AM_MSG_ID_LEN);
    if (seen("delivered", env, &to, false))
        return;
    AM_FZ_CHECK(am_env_parse(env->data, env->len, AM_ENV_MAX, &e) == 0);
    AM_FZ_CHECK((from = am_fz_agency(am_env_sender(e))) != NULL);
    AM_FZ_CHECK(am_env_verify(e, &from->cert) == 0);
    AM_FZ_CHECK(memcmp(am_env_message_id(e), b->message_id.data,
                       AM_MSG_ID_LEN) == 0);
    for (size_t i = 0; i < am_env_recipient_count(e); i++)
        mine |= strcmp(am_env_recipient(e, i), agency) == 0;
    AM_FZ_CHECK(mine);
    am_env_free(e);
    (void)seen("delivered", env, &to, true);
}

void am_fzr_check_crl(const Amanat__V1__RevocationList *crl)
{
    AM_FZ_CHECK(signed_by(AM_TAG_CRL, &crl->body, &crl->signature,
                          am_fz_fed()->root_pk));
}

/* The prekey of an entry: signed by the certificate's key, for that agency,
 * not expired. */
static void check_prekey(const Amanat__V1__SignedPrekey *sp,
                         const Amanat__V1__AgencyCertificate *c)
{
    Amanat__V1__PrekeyBody *p;

    AM_FZ_CHECK(c->sign_pk.len == 32);
    AM_FZ_CHECK(signed_by(AM_TAG_PREKEY, &sp->body, &sp->signature,
                          c->sign_pk.data));
    p = amanat__v1__prekey_body__unpack(NULL, sp->body.len, sp->body.data);
    AM_FZ_CHECK(p != NULL && strcmp(p->agency_id, c->agency_id) == 0);
    AM_FZ_CHECK(p->prekey_id != 0 && p->dh_pk.len == 32);
    AM_FZ_CHECK(p->not_after >= (int64_t)time(NULL) - 60);
    amanat__v1__prekey_body__free_unpacked(p, NULL);
}

void am_fzr_check_entry(const Amanat__V1__DirectoryEntry *e, const char *id)
{
    const am_fz_agency_t *a = am_fz_agency(id);
    Amanat__V1__AgencyCertificate *c;
    const Amanat__V1__SignedCertificate *sc = e->certificate;

    AM_FZ_CHECK(strcmp(e->agency_id, id) == 0);
    /* the relay serves the certificates of the federation's agencies and
     * has no other way to learn one in this target */
    AM_FZ_CHECK((sc != NULL) == (a != NULL));
    AM_FZ_CHECK(sc != NULL || e->prekey == NULL);
    if (sc == NULL)
        return;
    AM_FZ_CHECK(signed_by(AM_TAG_CERT, &sc->body, &sc->signature,
                          am_fz_fed()->root_pk));
    c = amanat__v1__agency_certificate__unpack(NULL, sc->body.len,
                                               sc->body.data);
    AM_FZ_CHECK(c != NULL && strcmp(c->agency_id, id) == 0);
    AM_FZ_CHECK(c->dh_pk.len == 32 &&
                memcmp(c->dh_pk.data, a->dh_pk, 32) == 0);
    if (e->prekey != NULL)
        check_prekey(e->prekey, c);
    amanat__v1__agency_certificate__free_unpacked(c, NULL);
}
