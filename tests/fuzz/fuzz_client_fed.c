/* fuzz_client.h, the fixed parts: DE-RELAY, the reissued certificates, the
 * message DE-BKA sent, and the evidence and frame helpers. */
#include "fuzz_client.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "case.pb-c.h"
#include "err.h"
#include "frame.h"
#include "sign.h"

static am_fzc_fix_t fix;
static bool fix_ready;

_Noreturn void am_fzc_die(const char *what, int rc)
{
    char msg[400];

    snprintf(msg, sizeof msg, "fuzz_client harness: %s: %s (%s)", what,
             am_strerror(rc), am_err_detail());
    am_fz_fail(__FILE__, __LINE__, msg);
}

/* A relay's keys (from constant seeds: base, dh) and certificate. */
typedef struct {
    const char *id;
    unsigned base, dh;
    uint64_t serial;
    uint8_t *sign_pk, *sign_sk, *dh_pk;
    uint8_t **cert;
    size_t *cert_len;
    am_cert_t *verified;
} relay_out_t;

static void make_relay(const am_fz_fed_t *f, const relay_out_t *r)
{
    uint8_t seed[32], dh_sk[32];
    am_cert_policy_t pol = {f->root_pk, AM_FZ_NOW, AM_ROLE_RELAY, NULL};
    am_cert_t c = {0};
    int rc;

    for (unsigned i = 0; i < 32; i++) {
        seed[i] = (uint8_t)(r->base + i);
        dh_sk[i] = (uint8_t)(r->dh ^ (11 * i));
    }
    if (crypto_sign_seed_keypair(r->sign_pk, r->sign_sk, seed) != 0 ||
        crypto_scalarmult_base(r->dh_pk, dh_sk) != 0)
        am_fzc_die("relay keys", AM_ECRYPTO);
    snprintf(c.agency_id, sizeof c.agency_id, "%s", r->id);
    snprintf(c.display_name, sizeof c.display_name, "fuzz client's relay");
    memcpy(c.country, r->id, 2);
    memcpy(c.sign_pk, r->sign_pk, 32);
    memcpy(c.dh_pk, r->dh_pk, 32);
    c.roles = AM_ROLE_RELAY;
    c.serial = r->serial;
    c.not_before = AM_FZC_NOT_BEFORE;
    c.not_after = AM_FZC_NOT_AFTER;
    if ((rc = am_cert_issue(&c, f->root_sk, r->cert, r->cert_len)) != 0 ||
        (rc = am_cert_verify(*r->cert, *r->cert_len, &pol, r->verified)) != 0)
        am_fzc_die("relay certificate", rc);
}

static void make_relays(const am_fz_fed_t *f)
{
    /* DE-RELAY's seeds as they always were: the seeds' evidence stays
     * valid */
    const relay_out_t de = {AM_FZC_RELAY_ID, 0xc0, 0x3c, 600,
                            fix.relay_sign_pk, fix.relay_sign_sk,
                            fix.relay_dh_pk, &fix.relay_cert,
                            &fix.relay_cert_len, &fix.relay};
    const relay_out_t ph = {AM_FZC_RELAY2_ID, 0xd0, 0x5a, 601,
                            fix.relay2_sign_pk, fix.relay2_sign_sk,
                            fix.relay2_dh_pk, &fix.relay2_cert,
                            &fix.relay2_cert_len, &fix.relay2};

    make_relay(f, &de);
    make_relay(f, &ph);
}

/* What DE-BKA asked: a small notification; only its bytes matter here. */
static void make_sent_content(void)
{
    Amanat__V1__CaseMessage m = AMANAT__V1__CASE_MESSAGE__INIT;
    Amanat__V1__CaseNotification n = AMANAT__V1__CASE_NOTIFICATION__INIT;
    Amanat__V1__CaseReference ref = AMANAT__V1__CASE_REFERENCE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

    m.schema_version = 1;
    ts.seconds = AM_FZ_NOW;
    m.created_at = &ts;
    ref.sender_ref = "BKA-2026-0417";
    m.case_ref = &ref;
    n.summary = "fuzz: the request the answers are about";
    m.body_case = AMANAT__V1__CASE_MESSAGE__BODY_NOTIFICATION;
    m.notification = &n;
    fix.sent_content_len = protobuf_c_message_get_packed_size(&m.base);
    if ((fix.sent_content = am_malloc(fix.sent_content_len)) == NULL)
        am_fzc_die("content", AM_ENOMEM);
    protobuf_c_message_pack(&m.base, fix.sent_content);
}

static void make_sent(const am_fz_fed_t *f)
{
    const am_fz_agency_t *me = &f->ag[AM_FZC_ME];
    const am_fz_agency_t *a = &f->ag[AM_FZ_SENDER], *b = &f->ag[AM_FZ_THIRD];
    am_env_recipient_t r[2] = {{a->id, a->dh_pk, 0}, {b->id, b->dh_pk, 0}};
    am_env_params_t p;
    am_fz_rng_t rng;
    am_env_t *env = NULL;
    int rc;

    make_sent_content();
    am_fz_rng_init(&rng, AM_FZC_SENT_RNG);
    p = (am_env_params_t){
        .sender_id = me->id, .sender_serial = me->serial,
        .sign_sk = me->sign_sk, .created_at = AM_FZ_NOW,
        .expires_at = AM_FZ_NOW + 14 * 86400,
        .priority = AM_PRIORITY_URGENT, .rng = am_fz_rng_cb,
        .rng_ctx = &rng};
    if ((rc = am_env_seal(&p, r, 2, fix.sent_content, fix.sent_content_len,
                          &fix.sent, &fix.sent_len)) != 0 ||
        (rc = am_env_parse(fix.sent, fix.sent_len, AM_ENV_MAX, &env)) != 0 ||
        (rc = am_env_verify(env, &me->cert)) != 0)
        am_fzc_die("the sent message", rc);
    memcpy(fix.sent_id, am_env_message_id(env), AM_MSG_ID_LEN);
    memcpy(fix.sent_hash, am_env_hash(env), AM_HASH_LEN);
    am_env_free(env);
}

const am_fzc_fix_t *am_fzc_fix(void)
{
    const am_fz_fed_t *f;
    int rc;

    if (fix_ready)
        return &fix;
    f = am_fz_fed();
    make_relays(f);
    for (int i = 0; i < AM_FZ_N_AGENCIES; i++)
        if ((rc = am_fz_cert_issue_span(&f->ag[i], AM_FZC_NOT_BEFORE,
                                        AM_FZC_NOT_AFTER, &fix.cert[i],
                                        &fix.cert_len[i])) != 0)
            am_fzc_die("agency certificate", rc);
    make_sent(f);
    fix_ready = true;
    return &fix;
}

int am_fzc_evidence_body(int kind, const uint8_t id[AM_MSG_ID_LEN],
                         const uint8_t hash[AM_HASH_LEN],
                         const char *relay_id, const char *recipient,
                         int64_t time, uint8_t **out, size_t *out_len)
{
    Amanat__V1__EvidenceBody b = AMANAT__V1__EVIDENCE_BODY__INIT;
    uint8_t *buf;
    size_t len;

    b.version = 1;
    b.kind = (Amanat__V1__EvidenceKind)kind;
    b.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)id};
    b.envelope_hash = (ProtobufCBinaryData){AM_HASH_LEN, (uint8_t *)hash};
    b.relay_id = (char *)relay_id;
    b.recipient_id = recipient != NULL ? (char *)recipient : "";
    b.time = time;
    len = amanat__v1__evidence_body__get_packed_size(&b);
    if ((buf = am_malloc(len ? len : 1)) == NULL)
        return AM_ENOMEM;
    amanat__v1__evidence_body__pack(&b, buf);
    *out = buf;
    *out_len = len;
    return 0;
}

void am_fzc_evidence(Amanat__V1__Evidence *e, const uint8_t *body,
                     size_t len, const uint8_t sk[AM_SIGN_SK_LEN],
                     uint8_t sig[AM_SIG_LEN])
{
    int rc;

    amanat__v1__evidence__init(e);
    if ((rc = am_sign(AM_TAG_EVIDENCE, body, len, sk, sig)) != 0)
        am_fzc_die("am_sign", rc);
    e->body = (ProtobufCBinaryData){len, (uint8_t *)body};
    e->signature = (ProtobufCBinaryData){AM_SIG_LEN, sig};
}

int am_fzc_frame_bytes(const Amanat__V1__Frame *f, uint8_t **out,
                       size_t *out_len)
{
    uint8_t *b;
    size_t len;
    int rc;

    if ((rc = am_frame_encode(f, AM_FRAME_MAX_DEFAULT, &b, &len)) != 0)
        return rc;
    memmove(b, b + AM_FRAME_PREFIX, len - AM_FRAME_PREFIX);
    *out = b;
    *out_len = len - AM_FRAME_PREFIX;
    return 0;
}
