/* fuzz_relay_fed.h: the peer relay and what the federation's members
 * make, for the federation targets. */
#include "fuzz_relay_fed.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "frame.h"
#include "identity.pb-c.h"
#include "sign.h"

static am_fzl_peer_t P;
static bool peer_ready;

/* Fixed keys of their own, unlike any of fuzz_common's. */
static void peer_keys(void)
{
    uint8_t seed[32];

    for (unsigned i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(0xc3 ^ (11 * i));
        P.dh_sk[i] = (uint8_t)(0x3c + 5 * i);
    }
    AM_FZ_CHECK(crypto_sign_seed_keypair(P.sign_pk, P.sign_sk, seed) == 0);
    AM_FZ_CHECK(crypto_scalarmult_base(P.dh_pk, P.dh_sk) == 0);
}

void am_fzl_cert(const char *id, unsigned roles, bool other_key, bool foreign,
                 uint8_t **out, size_t *len)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_cert_t c;

    memset(&c, 0, sizeof c);
    snprintf(c.agency_id, sizeof c.agency_id, "%s", id);
    snprintf(c.display_name, sizeof c.display_name, "fuzz peer relay");
    memcpy(c.country, id, 2);
    memcpy(c.sign_pk, P.sign_pk, 32);
    /* another key: an agency's, which the handshake does not prove */
    memcpy(c.dh_pk, other_key ? f->ag[AM_FZ_RCPT].dh_pk : P.dh_pk, 32);
    c.roles = roles;
    if (roles & AM_ROLE_AGENCY)
        snprintf(c.home_relay, sizeof c.home_relay, "%s", AM_FZR_PEER_ID);
    c.serial = 501;
    c.not_before = AM_FZR_NOT_BEFORE;
    c.not_after = AM_FZR_NOT_AFTER;
    AM_FZ_CHECK(am_cert_issue(&c, foreign ? f->other_sk : f->root_sk, out,
                              len) == 0);
}

const am_fzl_peer_t *am_fzl_peer(void)
{
    am_cert_policy_t pol = {am_fz_fed()->root_pk, (int64_t)time(NULL),
                            AM_ROLE_RELAY, NULL};

    if (peer_ready)
        return &P;
    peer_keys();
    am_fzl_cert(AM_FZR_PEER_ID, AM_ROLE_RELAY, false, false, &P.cert,
                &P.cert_len);
    AM_FZ_CHECK(am_cert_verify(P.cert, P.cert_len, &pol, &P.parsed) == 0);
    peer_ready = true;
    return &P;
}

int am_fzl_seal(int from, unsigned rcpts, int priority, uint32_t seed,
                int64_t expires, size_t text_len, bool wrong_serial,
                uint8_t **out, size_t *len)
{
    static uint8_t text[AM_FRAME_MAX_DEFAULT];
    const am_fz_fed_t *f = am_fz_fed();
    const am_fz_agency_t *a = &f->ag[from];
    int64_t now = (int64_t)time(NULL);
    am_env_recipient_t r[AM_FZ_N_AGENCIES];
    am_env_params_t p;
    am_fz_rng_t rng;
    size_t n = 0;

    for (int i = 0; i < AM_FZ_N_AGENCIES; i++)
        if (rcpts & AM_FZL_TO(i))
            r[n++] = (am_env_recipient_t){f->ag[i].id, f->ag[i].dh_pk, 0};
    if (text_len > sizeof text)
        text_len = sizeof text;
    if (text[0] == 0)
        memset(text, 'k', sizeof text);
    am_fz_rng_init(&rng, seed ^ 0x11c0000u);
    p = (am_env_params_t){
        .sender_id = a->id,
        .sender_serial = a->serial + (wrong_serial ? 1 : 0),
        .sign_sk = a->sign_sk,
        .created_at = now / 86400 * 86400,
        .expires_at = now + expires,
        .priority = priority,
        .rng = am_fz_rng_cb,
        .rng_ctx = &rng,
    };
    return am_env_seal(&p, r, n, text, text_len, out, len);
}

void am_fzl_evidence(int kind, const uint8_t id[AM_MSG_ID_LEN],
                     const uint8_t hash[AM_HASH_LEN], const char *relay_id,
                     const char *rcpt, int64_t at, const uint8_t *sign_sk,
                     uint8_t **out, size_t *len)
{
    am_evidence_t e;

    memset(&e, 0, sizeof e);
    e.kind = kind;
    memcpy(e.message_id, id, AM_MSG_ID_LEN);
    memcpy(e.envelope_hash, hash, AM_HASH_LEN);
    snprintf(e.relay_id, sizeof e.relay_id, "%s", relay_id);
    snprintf(e.recipient_id, sizeof e.recipient_id, "%s",
             kind == AM_EVIDENCE_ACCEPTED ? "" : rcpt);
    e.time = at;
    AM_FZ_CHECK(am_evidence_sign(&e, sign_sk, out, len) == 0);
}

void am_fzl_crl(uint64_t seq, uint64_t extra, bool foreign, uint8_t **out,
                size_t *len)
{
    const am_fz_fed_t *f = am_fz_fed();
    int64_t now = (int64_t)time(NULL);
    am_revoked_t r[3] = {
        {AM_FZ_REVOKED_A, "PK-LOST", now - 3600, "key lost"},
        {AM_FZ_REVOKED_B, "DE-OLD", now - 7200, NULL},
        {extra, "PH-GONE", now - 60, "fuzz"},
    };

    AM_FZ_CHECK(am_crl_issue(foreign ? f->other_sk : f->root_sk, seq,
                             now - 600, r, extra ? 3 : 2, out, len) == 0);
}

Amanat__V1__SignedCertificate *am_fzl_cert_msg(const uint8_t *b, size_t n)
{
    Amanat__V1__SignedCertificate *m =
        amanat__v1__signed_certificate__unpack(NULL, n, b);

    AM_FZ_CHECK(m != NULL);
    return m;
}

Amanat__V1__Evidence *am_fzl_evidence_msg(const uint8_t *b, size_t n)
{
    Amanat__V1__Evidence *m = amanat__v1__evidence__unpack(NULL, n, b);

    AM_FZ_CHECK(m != NULL);
    return m;
}

Amanat__V1__RevocationList *am_fzl_crl_msg(const uint8_t *b, size_t n)
{
    Amanat__V1__RevocationList *m =
        amanat__v1__revocation_list__unpack(NULL, n, b);

    AM_FZ_CHECK(m != NULL);
    return m;
}

bool am_fzl_root_cert(const uint8_t *b, size_t n,
                      char id[AM_AGENCY_ID_MAX + 1],
                      char home[AM_AGENCY_ID_MAX + 1], bool *agency)
{
    Amanat__V1__SignedCertificate *s;
    Amanat__V1__AgencyCertificate *c = NULL;

    if (!am_fz_signed_by(AM_TAG_CERT, b, n, am_fz_fed()->root_pk) ||
        (s = amanat__v1__signed_certificate__unpack(NULL, n, b)) == NULL)
        return false;
    c = amanat__v1__agency_certificate__unpack(NULL, s->body.len,
                                               s->body.data);
    amanat__v1__signed_certificate__free_unpacked(s, NULL);
    if (c == NULL)
        return false;
    snprintf(id, AM_AGENCY_ID_MAX + 1, "%s", c->agency_id);
    snprintf(home, AM_AGENCY_ID_MAX + 1, "%s", c->home_relay);
    *agency = false;
    for (size_t i = 0; i < c->n_roles; i++)
        *agency |= c->roles[i] == AMANAT__V1__ROLE__ROLE_AGENCY;
    amanat__v1__agency_certificate__free_unpacked(c, NULL);
    return true;
}
