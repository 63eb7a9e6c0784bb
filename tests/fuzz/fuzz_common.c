#include "fuzz_common.h"

#include <stdbool.h>
#include <string.h>

/* AM_FZ_PLAIN: linked into a unit test built without the sanitizers
 * (tests/unit/test-client-fed.c), which has no sanitizer runtime. */
#ifndef AM_FZ_PLAIN
#include <sanitizer/common_interface_defs.h>
#endif
#include <sodium.h>

#include "alloc.h"
#include "envelope.h"
#include "err.h"
#include "identity.pb-c.h"
#include "noise_internal.h" /* am_noise_hs_set_fixed_ephemeral */

void am_fz_fail(const char *file, int line, const char *cond)
{
    char msg[512];

    snprintf(msg, sizeof msg, "%s:%d: invariant failed: %s", file, line,
             cond);
    fprintf(stderr, "%s\n", msg);
#ifndef AM_FZ_PLAIN
    __sanitizer_report_error_summary(msg);
#endif
    abort();
}

/* Arbitrary distinct scalars; X25519 clamps them. */
const uint8_t am_fz_ini_static[AM_NOISE_DHLEN] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
    0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
    0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20};
const uint8_t am_fz_ini_ephemeral[AM_NOISE_DHLEN] = {
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
    0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40};
const uint8_t am_fz_resp_static[AM_NOISE_DHLEN] = {
    0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
    0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56,
    0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60};
const uint8_t am_fz_resp_ephemeral[AM_NOISE_DHLEN] = {
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b,
    0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
    0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80};

int am_fz_hs_new(am_noise_hs_t **out, am_noise_role_t role)
{
    static const char prologue[] = AM_NOISE_PROLOGUE;
    bool ini = role == AM_NOISE_INITIATOR;
    am_noise_hs_t *hs = NULL;
    int rc;

    if ((rc = am_noise_hs_new(&hs, AM_NOISE_PROTOCOL, role,
                              (const uint8_t *)prologue,
                              sizeof prologue - 1)) != 0)
        return rc;
    if ((rc = am_noise_hs_set_local_static(
             hs, ini ? am_fz_ini_static : am_fz_resp_static)) != 0 ||
        (rc = am_noise_hs_set_fixed_ephemeral(
             hs, ini ? am_fz_ini_ephemeral : am_fz_resp_ephemeral)) != 0 ||
        (rc = am_noise_hs_start(hs)) != 0) {
        am_noise_hs_free(hs);
        return rc;
    }
    *out = hs;
    return 0;
}

/* Write one message on from and read it on to; empty payload expected on
 * the reading side unless the writer sent one. */
static int hs_pass(am_noise_hs_t *from, am_noise_hs_t *to,
                   const uint8_t *payload, size_t payload_len, uint8_t *msg,
                   size_t *msg_len)
{
    static uint8_t got[AM_NOISE_MSG_MAX];
    size_t got_len;
    int rc;

    if ((rc = am_noise_hs_write(from, payload, payload_len, msg,
                                AM_NOISE_MSG_MAX, msg_len)) != 0 ||
        (rc = am_noise_hs_read(to, msg, *msg_len, got, sizeof got,
                               &got_len)) != 0)
        return rc;
    if (got_len != payload_len ||
        (payload_len > 0 && memcmp(got, payload, payload_len) != 0))
        return AM_EPROTO;
    return 0;
}

static int hs_split(am_noise_hs_t *hs, am_noise_cs_t **send,
                    am_noise_cs_t **recv)
{
    am_noise_cs_t *s = NULL, *r = NULL;
    int rc;

    if ((rc = am_noise_hs_split(hs, &s, &r)) != 0)
        return rc;
    if (send != NULL)
        *send = s;
    else
        am_noise_cs_free(s);
    if (recv != NULL)
        *recv = r;
    else
        am_noise_cs_free(r);
    return 0;
}

int am_fz_handshake(am_fz_transcript_t *t, const uint8_t *msg3_payload,
                    size_t msg3_payload_len, am_noise_cs_t **ini_send,
                    am_noise_cs_t **ini_recv, am_noise_cs_t **resp_send,
                    am_noise_cs_t **resp_recv)
{
    am_noise_hs_t *ini = NULL, *resp = NULL;
    am_noise_cs_t *is = NULL, *ir = NULL;
    int rc;

    if ((rc = am_fz_hs_new(&ini, AM_NOISE_INITIATOR)) != 0 ||
        (rc = am_fz_hs_new(&resp, AM_NOISE_RESPONDER)) != 0)
        goto out;
    if ((rc = hs_pass(ini, resp, NULL, 0, t->msg1, &t->msg1_len)) != 0 ||
        (rc = hs_pass(resp, ini, NULL, 0, t->msg2, &t->msg2_len)) != 0 ||
        (rc = hs_pass(ini, resp, msg3_payload, msg3_payload_len, t->msg3,
                      &t->msg3_len)) != 0)
        goto out;
    if ((rc = hs_split(ini, &is, &ir)) != 0 ||
        (rc = hs_split(resp, resp_send, resp_recv)) != 0)
        goto out;
    if (ini_send != NULL) {
        *ini_send = is;
        is = NULL;
    }
    if (ini_recv != NULL) {
        *ini_recv = ir;
        ir = NULL;
    }
out:
    am_noise_cs_free(is);
    am_noise_cs_free(ir);
    am_noise_hs_free(ini);
    am_noise_hs_free(resp);
    return rc;
}

_Noreturn static void fed_die(const char *what, int rc)
{
    fprintf(stderr, "fuzz federation: %s: %s (%s)\n", what, am_strerror(rc),
            am_err_detail());
    abort();
}

/* A constant 32-byte seed per key: label, then the byte index. */
static void const_seed(uint8_t seed[32], unsigned label)
{
    for (unsigned i = 0; i < 32; i++)
        seed[i] = (uint8_t)(label * 37u + i);
}

static void sign_keys(uint8_t pk[AM_SIGN_PK_LEN], uint8_t sk[AM_SIGN_SK_LEN],
                      unsigned label)
{
    uint8_t seed[32];

    const_seed(seed, label);
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
        fed_die("crypto_sign_seed_keypair", AM_ECRYPTO);
}

static void dh_keys(uint8_t pk[32], uint8_t sk[32], unsigned label)
{
    uint8_t seed[32];

    const_seed(seed, label);
    if (crypto_box_seed_keypair(pk, sk, seed) != 0)
        fed_die("crypto_box_seed_keypair", AM_ECRYPTO);
}

static am_fz_fed_t fed;
static bool fed_ready;

void am_fz_cert_fields(const am_fz_agency_t *a, am_cert_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->agency_id, sizeof c->agency_id, "%s", a->id);
    snprintf(c->display_name, sizeof c->display_name, "%s fuzz unit", a->id);
    memcpy(c->country, a->id, 2);
    memcpy(c->sign_pk, a->sign_pk, sizeof c->sign_pk);
    memcpy(c->dh_pk, a->dh_pk, sizeof c->dh_pk);
    c->roles = AM_ROLE_AGENCY;
    snprintf(c->home_relay, sizeof c->home_relay, "%.2s-RELAY", a->id);
    c->not_before = AM_FZ_NOW - 86400;
    c->not_after = AM_FZ_NOW + 365 * 86400;
    c->serial = a->serial;
}

int am_fz_cert_issue_span(const am_fz_agency_t *a, int64_t not_before,
                          int64_t not_after, uint8_t **out, size_t *out_len)
{
    am_cert_t c;

    am_fz_cert_fields(a, &c);
    c.not_before = not_before;
    c.not_after = not_after;
    return am_cert_issue(&c, am_fz_fed()->root_sk, out, out_len);
}

static void fed_agency(am_fz_agency_t *a, const char *id, uint64_t serial,
                       unsigned label)
{
    am_cert_policy_t p = {fed.root_pk, AM_FZ_NOW, AM_ROLE_AGENCY, fed.crl};
    am_cert_t c;
    int rc;

    a->id = id;
    a->serial = serial;
    sign_keys(a->sign_pk, a->sign_sk, label);
    dh_keys(a->dh_pk, a->dh_sk, label + 1);
    dh_keys(a->pre_pk, a->pre_sk, label + 2);
    am_fz_cert_fields(a, &c);
    if ((rc = am_cert_issue(&c, fed.root_sk, &a->cert_bytes,
                            &a->cert_len)) != 0)
        fed_die("am_cert_issue", rc);
    if ((rc = am_cert_verify(a->cert_bytes, a->cert_len, &p, &a->cert)) != 0)
        fed_die("am_cert_verify", rc);
}

const am_fz_fed_t *am_fz_fed(void)
{
    static const am_revoked_t revoked[] = {
        {AM_FZ_REVOKED_A, "PK-LOST", AM_FZ_NOW - 3600, "key lost"},
        {AM_FZ_REVOKED_B, "DE-OLD", AM_FZ_NOW - 7200, NULL},
    };
    int rc;

    if (fed_ready)
        return &fed;
    if (sodium_init() < 0)
        fed_die("sodium_init", AM_ECRYPTO);
    sign_keys(fed.root_pk, fed.root_sk, 1);
    sign_keys(fed.other_pk, fed.other_sk, 2);
    if ((rc = am_key_id(fed.root_pk, fed.root_id)) != 0)
        fed_die("am_key_id", rc);
    if ((rc = am_crl_issue(fed.root_sk, AM_FZ_CRL_SEQUENCE, AM_FZ_NOW - 600,
                           revoked, 2, &fed.crl_bytes, &fed.crl_len)) != 0 ||
        (rc = am_crl_verify(fed.crl_bytes, fed.crl_len, fed.root_pk, 0,
                            &fed.crl)) != 0)
        fed_die("revocation list", rc);
    fed_agency(&fed.ag[AM_FZ_SENDER], "PK-NCCIA", 10, 10);
    fed_agency(&fed.ag[AM_FZ_RCPT], "DE-BKA", 11, 20);
    fed_agency(&fed.ag[AM_FZ_THIRD], "PH-NBI", 12, 30);
    fed_ready = true;
    return &fed;
}

const am_fz_agency_t *am_fz_agency(const char *id)
{
    const am_fz_fed_t *f = am_fz_fed();

    for (int i = 0; i < AM_FZ_N_AGENCIES; i++)
        if (id != NULL && strcmp(f->ag[i].id, id) == 0)
            return &f->ag[i];
    return NULL;
}

void am_fz_rng_init(am_fz_rng_t *r, uint32_t seed)
{
    const_seed(r->seed, 99);
    r->seed[0] = (uint8_t)seed;
    r->seed[1] = (uint8_t)(seed >> 8);
    r->seed[2] = (uint8_t)(seed >> 16);
    r->seed[3] = (uint8_t)(seed >> 24);
    r->calls = 0;
}

/* Each call draws from its own deterministic stream: seed with the call
 * number in its last 8 bytes. */
void am_fz_rng_cb(void *ctx, uint8_t *buf, size_t n)
{
    am_fz_rng_t *r = ctx;
    uint8_t seed[randombytes_SEEDBYTES];

    memcpy(seed, r->seed, sizeof seed);
    for (unsigned i = 0; i < 8; i++)
        seed[24 + i] ^= (uint8_t)(r->calls >> (8 * i));
    r->calls++;
    randombytes_buf_deterministic(buf, n, seed);
}

int am_fz_seal(unsigned how, uint32_t rng_seed, const uint8_t *plain,
               size_t plain_len, uint8_t **out, size_t *out_len)
{
    return am_fz_seal_at(how, rng_seed, AM_FZ_NOW, AM_FZ_NOW + 7 * 86400,
                         plain, plain_len, out, out_len);
}

int am_fz_seal_at(unsigned how, uint32_t rng_seed, int64_t created_at,
                  int64_t expires_at, const uint8_t *plain, size_t plain_len,
                  uint8_t **out, size_t *out_len)
{
    const am_fz_fed_t *f = am_fz_fed();
    const am_fz_agency_t *from = &f->ag[(how & AM_FZ_SEAL_FROM_THIRD)
                                            ? AM_FZ_THIRD : AM_FZ_SENDER];
    const am_fz_agency_t *rcpt = &f->ag[AM_FZ_RCPT], *third = &f->ag[AM_FZ_THIRD];
    am_env_recipient_t r[2];
    am_env_params_t p;
    am_fz_rng_t rng;
    size_t n = 0;

    am_fz_rng_init(&rng, rng_seed);
    if ((how & AM_FZ_SEAL_TWO) && (how & AM_FZ_SEAL_SWAP))
        r[n++] = (am_env_recipient_t){third->id, third->dh_pk, 0};
    if (how & AM_FZ_SEAL_PREKEY)
        r[n++] = (am_env_recipient_t){rcpt->id, rcpt->pre_pk, AM_FZ_PREKEY_ID};
    else
        r[n++] = (am_env_recipient_t){rcpt->id, rcpt->dh_pk, 0};
    if ((how & AM_FZ_SEAL_TWO) && !(how & AM_FZ_SEAL_SWAP))
        r[n++] = (am_env_recipient_t){third->id, third->dh_pk, 0};
    p = (am_env_params_t){
        .sender_id = from->id,
        .sender_serial = from->serial + ((how & AM_FZ_SEAL_BAD_SERIAL) ? 1 : 0),
        .sign_sk = from->sign_sk,
        .created_at = created_at,
        .expires_at = expires_at,
        .priority = (int)((how >> AM_FZ_SEAL_PRIO_SHIFT) & 3u),
        .rng = am_fz_rng_cb,
        .rng_ctx = &rng,
    };
    return am_env_seal(&p, r, n, plain, plain_len, out, out_len);
}

bool am_fz_signed_by(const char *tag, const uint8_t *in, size_t len,
                     const uint8_t pk[AM_SIGN_PK_LEN])
{
    Amanat__V1__SignedCertificate *s;
    size_t tlen = strlen(tag);
    uint8_t *m;
    bool ok = false;

    if ((s = amanat__v1__signed_certificate__unpack(NULL, len, in)) == NULL)
        return false;
    if (s->signature.len == crypto_sign_BYTES &&
        (m = malloc(tlen + 1 + s->body.len)) != NULL) {
        memcpy(m, tag, tlen + 1);
        if (s->body.len > 0)
            memcpy(m + tlen + 1, s->body.data, s->body.len);
        ok = crypto_sign_verify_detached(s->signature.data, m,
                                         tlen + 1 + s->body.len, pk) == 0;
        free(m);
    }
    amanat__v1__signed_certificate__free_unpacked(s, NULL);
    return ok;
}
