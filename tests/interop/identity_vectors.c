/* identity_vectors: prints docs/vectors/identity.json, byte-exact vectors
 * for certificates, a revocation list, a prekey, an envelope and a receipt
 * (docs/PROTOCOL.md sections 6-11), so another implementation can check
 * itself.  Every key is a seed: BLAKE2b-256 of "amanat vector " + a label.
 * The envelope's random choices are listed in the order the sealer draws
 * them.  Before printing, everything is verified and opened with this
 * implementation; any failure exits non-zero. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "prekey.h"
#include "receipt.h"

#define T0 1795000000 /* 2026-11-18T12:26:40Z */

typedef struct {
    const char *id;
    uint8_t seed[32], sign_pk[32], sign_sk[64], dh_sk[32], dh_pk[32];
} party_t;

static void label_key(const char *label, uint8_t out[32])
{
    char buf[128];

    snprintf(buf, sizeof buf, "amanat vector %s", label);
    crypto_generichash(out, 32, (const uint8_t *)buf, strlen(buf), NULL, 0);
}

static int make_party(party_t *p, const char *id)
{
    char label[64];

    p->id = id;
    snprintf(label, sizeof label, "%s sign", id);
    label_key(label, p->seed);
    snprintf(label, sizeof label, "%s dh", id);
    label_key(label, p->dh_sk);
    return crypto_sign_seed_keypair(p->sign_pk, p->sign_sk, p->seed) != 0 ||
           crypto_scalarmult_base(p->dh_pk, p->dh_sk) != 0;
}

static json_t *hex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    json_t *j;

    if (s == NULL)
        abort();
    sodium_bin2hex(s, 2 * n + 1, p, n);
    j = json_string(s);
    free(s);
    return j;
}

static json_t *party_json(const party_t *p)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "agency_id", p->id,
                     "sign_seed", hex(p->seed, 32), "sign_pk",
                     hex(p->sign_pk, 32), "dh_secret", hex(p->dh_sk, 32),
                     "dh_pk", hex(p->dh_pk, 32));
}

/* A fixed stream of "random" bytes, recorded for the vector. */
typedef struct {
    uint8_t bytes[512];
    size_t used;
    json_t *draws;
} rng_t;

static void rng_cb(void *ctx, uint8_t *buf, size_t n)
{
    rng_t *r = ctx;

    if (r->used + n > sizeof r->bytes)
        abort();
    memcpy(buf, r->bytes + r->used, n);
    r->used += n;
    json_array_append_new(r->draws, hex(buf, n));
}

#define CHECK(x)                                                            \
    do {                                                                    \
        if ((x) != 0) {                                                     \
            fprintf(stderr, "identity_vectors: %s: %s\n", #x,               \
                    am_err_detail());                                       \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

static json_t *certificate(const uint8_t root_sk[64], const party_t *p,
                           uint64_t serial, uint8_t **out, size_t *len)
{
    am_cert_t c = {0};

    snprintf(c.agency_id, sizeof c.agency_id, "%s", p->id);
    snprintf(c.display_name, sizeof c.display_name, "%s (vector)", p->id);
    memcpy(c.country, p->id, 2);
    memcpy(c.sign_pk, p->sign_pk, 32);
    memcpy(c.dh_pk, p->dh_pk, 32);
    c.roles = AM_ROLE_AGENCY;
    snprintf(c.home_relay, sizeof c.home_relay, "%.2s-RELAY", p->id);
    c.not_before = T0 - 86400;
    c.not_after = T0 + 365 * 86400;
    c.serial = serial;
    CHECK(am_cert_issue(&c, root_sk, out, len));
    return json_pack("{s:s, s:s, s:s, s:[s], s:s, s:I, s:I, s:I, s:o}",
                     "agency_id", c.agency_id, "display_name", c.display_name,
                     "country", c.country, "roles", "agency", "home_relay",
                     c.home_relay, "not_before", (json_int_t)c.not_before,
                     "not_after", (json_int_t)c.not_after, "serial",
                     (json_int_t)serial, "signed_certificate", hex(*out, *len));
}

static json_t *revocation_list(const uint8_t root_sk[64],
                               const uint8_t root_pk[32])
{
    am_revoked_t r = {99, "GB-NCA", T0 - 3600, "key compromised"};
    uint8_t *b;
    size_t len;
    am_crl_t *crl;
    json_t *j;

    CHECK(am_crl_issue(root_sk, 7, T0, &r, 1, &b, &len));
    CHECK(am_crl_verify(b, len, root_pk, 7, &crl));
    if (!am_crl_revoked(crl, 99))
        exit(1);
    am_crl_free(crl);
    j = json_pack("{s:I, s:I, s:[{s:I, s:s, s:I, s:s}], s:o}", "sequence",
                  (json_int_t)7, "issued_at", (json_int_t)T0, "revoked",
                  "serial", (json_int_t)99, "agency_id", "GB-NCA",
                  "revoked_at", (json_int_t)(T0 - 3600), "reason",
                  "key compromised", "bytes", hex(b, len));
    am_free(b);
    return j;
}

static json_t *prekey(const party_t *de, const uint8_t sk[32],
                      const uint8_t pk[32])
{
    am_prekey_t p = {"DE-BKA", 5, {0}, T0, T0 + 30 * 86400};
    uint8_t *b;
    size_t len;
    json_t *j;

    memcpy(p.dh_pk, pk, 32);
    CHECK(am_prekey_sign(&p, de->sign_sk, &b, &len));
    j = json_pack("{s:s, s:I, s:o, s:o, s:I, s:I, s:o}", "agency_id", "DE-BKA",
                  "prekey_id", (json_int_t)5, "dh_secret", hex(sk, 32),
                  "dh_pk", hex(pk, 32), "created_at", (json_int_t)T0,
                  "not_after", (json_int_t)(T0 + 30 * 86400), "bytes",
                  hex(b, len));
    am_free(b);
    return j;
}

static const char content[] = "{\"example\": \"sealed case message bytes\"}";

/* Open env as who with secret; the plaintext must be the content. */
static void check_open(const uint8_t *env_bytes, size_t len,
                       const uint8_t *sender_cert, size_t cert_len,
                       const uint8_t root_pk[32], const char *who,
                       const uint8_t secret[32])
{
    am_cert_policy_t pol = {root_pk, T0, AM_ROLE_AGENCY, NULL};
    uint8_t *plain;
    size_t plain_len;
    am_env_t *env;
    am_cert_t sender;

    CHECK(am_env_parse(env_bytes, len, AM_ENV_MAX, &env));
    CHECK(am_cert_verify(sender_cert, cert_len, &pol, &sender));
    CHECK(am_env_verify(env, &sender));
    CHECK(am_env_open(env, who, secret, &plain, &plain_len));
    if (plain_len != sizeof content - 1 || memcmp(plain, content, plain_len))
        exit(1);
    am_free(plain);
    am_env_free(env);
}

static json_t *envelope(const party_t *pk, const party_t *ph,
                        const uint8_t pre_pk[32], uint8_t **out, size_t *len)
{
    am_env_recipient_t r[2] = {{"DE-BKA", pre_pk, 5}, {"PH-NBI", ph->dh_pk, 0}};
    rng_t rng = {.draws = json_array()};
    am_env_params_t p = {pk->id, 10, pk->sign_sk, T0, T0 + 8 * 3600,
                         AM_PRIORITY_EMERGENCY, rng_cb, &rng};
    uint8_t hash[32];

    for (size_t i = 0; i < sizeof rng.bytes; i += 32) {
        char label[64];
        snprintf(label, sizeof label, "envelope random %zu", i / 32);
        label_key(label, rng.bytes + i);
    }
    CHECK(am_env_seal(&p, r, 2, (const uint8_t *)content, sizeof content - 1,
                      out, len));
    CHECK(am_hash256(*out, *len, hash));
    return json_pack(
        "{s:s, s:[{s:s, s:I, s:o}, {s:s, s:I, s:o}], s:I, s:I, s:s, s:I,"
        " s:o, s:o, s:o, s:o}",
        "sender_id", pk->id, "recipients", "agency_id", "DE-BKA", "prekey_id",
        (json_int_t)5, "wrap_pk", hex(pre_pk, 32), "agency_id", "PH-NBI",
        "prekey_id", (json_int_t)0, "wrap_pk", hex(ph->dh_pk, 32),
        "created_at", (json_int_t)T0, "expires_at", (json_int_t)(T0 + 8 * 3600),
        "priority", "emergency", "sender_serial", (json_int_t)10, "content",
        hex((const uint8_t *)content, sizeof content - 1),
        "random_draws_in_order", rng.draws, "bytes", hex(*out, *len),
        "envelope_hash", hex(hash, 32));
}

static json_t *receipt(const party_t *de, const uint8_t *env_bytes,
                       size_t len, const uint8_t *de_cert, size_t de_len,
                       const uint8_t *pk_cert, size_t pk_len,
                       const uint8_t root_pk[32])
{
    am_cert_policy_t pol = {root_pk, T0, AM_ROLE_AGENCY, NULL};
    am_env_t *env;
    am_cert_t sender, rcpt;
    am_receipt_t r, back;
    uint8_t *b;
    size_t blen;
    json_t *j;

    CHECK(am_env_parse(env_bytes, len, AM_ENV_MAX, &env));
    CHECK(am_cert_verify(pk_cert, pk_len, &pol, &sender));
    CHECK(am_env_verify(env, &sender));
    CHECK(am_receipt_for(env, "DE-BKA", AM_RECEIPT_RECEIVED, T0 + 60, NULL,
                         &r));
    CHECK(am_receipt_sign(&r, de->sign_sk, &b, &blen));
    CHECK(am_cert_verify(de_cert, de_len, &pol, &rcpt));
    CHECK(am_receipt_verify(b, blen, &rcpt, env, &back));
    j = json_pack("{s:s, s:s, s:s, s:I, s:o}", "recipient_id", "DE-BKA",
                  "sender_id", "PK-NCCIA", "status", "received", "time",
                  (json_int_t)(T0 + 60), "bytes", hex(b, blen));
    am_free(b);
    am_env_free(env);
    return j;
}

int main(void)
{
    party_t p[3];
    uint8_t root_seed[32], root_pk[32], root_sk[64], key_id[32];
    uint8_t pre_sk[32], pre_pk[32], *cert[3], *env;
    size_t cert_len[3], env_len;
    json_t *doc, *certs = json_object();
    char *text;

    if (sodium_init() < 0)
        return 1;
    label_key("root", root_seed);
    label_key("DE-BKA prekey 5", pre_sk);
    if (crypto_sign_seed_keypair(root_pk, root_sk, root_seed) != 0 ||
        crypto_scalarmult_base(pre_pk, pre_sk) != 0 ||
        make_party(&p[0], "PK-NCCIA") || make_party(&p[1], "DE-BKA") ||
        make_party(&p[2], "PH-NBI"))
        return 1;
    CHECK(am_key_id(root_pk, key_id));
    for (int i = 0; i < 3; i++)
        json_object_set_new(certs, p[i].id,
                            certificate(root_sk, &p[i], (uint64_t)(10 + i),
                                        &cert[i], &cert_len[i]));
    doc = json_pack("{s:s, s:I, s:{s:o, s:o, s:o}, s:[o, o, o], s:o}",
                    "about", "Amanat identity vectors, docs/PROTOCOL.md "
                    "sections 6-11; keys are BLAKE2b-256 of \"amanat vector "
                    "<label>\"; times are Unix seconds",
                    "now", (json_int_t)T0, "root", "seed", hex(root_seed, 32),
                    "public_key", hex(root_pk, 32), "key_id", hex(key_id, 32),
                    "agencies", party_json(&p[0]), party_json(&p[1]),
                    party_json(&p[2]), "certificates", certs);
    json_object_set_new(doc, "revocation_list", revocation_list(root_sk, root_pk));
    json_object_set_new(doc, "prekey", prekey(&p[1], pre_sk, pre_pk));
    json_object_set_new(doc, "envelope", envelope(&p[0], &p[2], pre_pk, &env,
                                                  &env_len));
    check_open(env, env_len, cert[0], cert_len[0], root_pk, "DE-BKA", pre_sk);
    check_open(env, env_len, cert[0], cert_len[0], root_pk, "PH-NBI",
               p[2].dh_sk);
    json_object_set_new(doc, "receipt",
                        receipt(&p[1], env, env_len, cert[1], cert_len[1],
                                cert[0], cert_len[0], root_pk));
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return 1;
    puts(text);
    free(text);
    json_decref(doc);
    am_free(env);
    for (int i = 0; i < 3; i++)
        am_free(cert[i]);
    return 0;
}
