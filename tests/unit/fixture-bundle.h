/* Evidence bundles for tests: on top of fixture-federation.h, three
 * relays (DE-RELAY and PK-RELAY sign evidence, PH-RELAY is known but
 * signs nothing), an empty revocation list, and one exchange (scene_t):
 * PK-NCCIA's envelope to DE-BKA and PH-NBI with the relays' evidence and
 * the recipients' receipts.  Include once per test program;
 * bundle_setup/bundle_teardown are cmocka group fixtures. */
#ifndef AM_FIXTURE_BUNDLE_H
#define AM_FIXTURE_BUNDLE_H

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "bundle.h"
#include "err.h"
#include "fixture-federation.h"

enum { DE_RELAY, PH_RELAY, PK_RELAY, N_RELAYS };

typedef struct {
    const char *id;
    uint8_t sign_pk[32], sign_sk[64];
    uint8_t *cert;
    size_t cert_len;
} relay_t;

static relay_t rl[N_RELAYS] = {{.id = "DE-RELAY"}, {.id = "PH-RELAY"},
                               {.id = "PK-RELAY"}};
static uint8_t *crl_empty;
static size_t crl_empty_len;
static am_bundle_report_t rep; /* ~120 KiB: not on the stack */

/* The messages of one exchange: envelope, evidence, receipts. */
typedef struct {
    uint8_t *env;
    size_t env_len;
    am_env_t *parsed;
    am_bundle_item_t ev[8], rc[8];
    size_t n_ev, n_rc;
} scene_t;

static int relay_cert(relay_t *r, uint64_t serial)
{
    am_cert_t c = {0};

    snprintf(c.agency_id, sizeof c.agency_id, "%s", r->id);
    snprintf(c.display_name, sizeof c.display_name, "%s relay", r->id);
    memcpy(c.country, r->id, 2);
    memcpy(c.sign_pk, r->sign_pk, 32);
    memcpy(c.dh_pk, r->sign_pk, 32); /* any 32 bytes: unused here */
    c.roles = AM_ROLE_RELAY;
    c.not_before = NOW - 1000;
    c.not_after = NOW + 1000000;
    c.serial = serial;
    return am_cert_issue(&c, root_sk, &r->cert, &r->cert_len);
}

static int bundle_setup(void **state)
{
    if (fed_setup(state) != 0)
        return -1;
    for (int i = 0; i < N_RELAYS; i++)
        if (crypto_sign_keypair(rl[i].sign_pk, rl[i].sign_sk) != 0 ||
            relay_cert(&rl[i], (uint64_t)(20 + i)) != 0)
            return -1;
    return am_crl_issue(root_sk, 1, NOW - 10, NULL, 0, &crl_empty,
                        &crl_empty_len);
}

static int bundle_teardown(void **state)
{
    for (int i = 0; i < N_RELAYS; i++)
        am_free(rl[i].cert);
    am_free(crl_empty);
    return fed_teardown(state);
}

static am_bundle_item_t item(const uint8_t *p, size_t n)
{
    return (am_bundle_item_t){p, n};
}

/* PK-NCCIA to DE-BKA and (unless alone) PH-NBI; parsed and verified. */
static void seal(scene_t *s, bool alone)
{
    am_env_recipient_t r[2] = {{"DE-BKA", ag[1].pre_pk, 5},
                               {"PH-NBI", ag[2].dh_pk, 0}};
    am_env_params_t p = {"PK-NCCIA", 10, ag[0].sign_sk, NOW, NOW + 3600,
                         AM_PRIORITY_URGENT, NULL, NULL};
    am_cert_policy_t pol = {root_pk, NOW, AM_ROLE_AGENCY, NULL};
    am_cert_t c;

    memset(s, 0, sizeof *s);
    assert_int_equal(am_env_seal(&p, r, alone ? 1 : 2,
                                 (const uint8_t *)"case", 4, &s->env,
                                 &s->env_len), AM_OK);
    assert_int_equal(am_env_parse(s->env, s->env_len, AM_ENV_MAX, &s->parsed),
                     AM_OK);
    assert_int_equal(am_cert_verify(ag[0].cert, ag[0].cert_len, &pol, &c),
                     AM_OK);
    assert_int_equal(am_env_verify(s->parsed, &c), AM_OK);
}

/* Evidence about env signed by relay (or by agency sk under relay_id). */
static void add_ev(scene_t *s, const am_env_t *env, const char *relay_id,
                   const uint8_t *sk, int kind, const char *rcpt, int64_t t)
{
    am_evidence_t e = {.kind = kind, .time = t};
    uint8_t *out;
    size_t len;

    memcpy(e.message_id, am_env_message_id(env), AM_MSG_ID_LEN);
    memcpy(e.envelope_hash, am_env_hash(env), AM_HASH_LEN);
    snprintf(e.relay_id, sizeof e.relay_id, "%s", relay_id);
    snprintf(e.recipient_id, sizeof e.recipient_id, "%s", rcpt ? rcpt : "");
    assert_int_equal(am_evidence_sign(&e, sk, &out, &len), AM_OK);
    s->ev[s->n_ev++] = item(out, len);
}

static void add_rc(scene_t *s, int who, int status, int64_t t,
                   const char *reason)
{
    am_receipt_t r;
    uint8_t *out;
    size_t len;

    assert_int_equal(am_receipt_for(s->parsed, ag[who].id, status, t, reason,
                                    &r), AM_OK);
    assert_int_equal(am_receipt_sign(&r, ag[who].sign_sk, &out, &len), AM_OK);
    s->rc[s->n_rc++] = item(out, len);
}

/* The exchange of the report test, items given out of order. */
static void full_scene(scene_t *s)
{
    seal(s, false);
    add_rc(s, 1, AM_RECEIPT_ACKNOWLEDGED, NOW + 50, NULL);
    add_ev(s, s->parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_DELIVERED, "PH-NBI", NOW + 12);
    add_ev(s, s->parsed, "DE-RELAY", rl[DE_RELAY].sign_sk,
           AM_EVIDENCE_DELIVERED, "DE-BKA", NOW + 10);
    add_ev(s, s->parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 1);
    add_rc(s, 2, AM_RECEIPT_REFUSED, NOW + 13,
           "incomplete request: no legal basis");
    add_rc(s, 1, AM_RECEIPT_RECEIVED, NOW + 11, NULL);
}

static void scene_free(scene_t *s)
{
    for (size_t i = 0; i < s->n_ev; i++)
        am_free((void *)s->ev[i].data);
    for (size_t i = 0; i < s->n_rc; i++)
        am_free((void *)s->rc[i].data);
    am_env_free(s->parsed);
    am_free(s->env);
}

/* The parts of s: its recipients' certificates (in reverse order),
 * every relay certificate (reversed too), the empty revocation list.
 * rcpt and relays are the caller's room for the lists p points to. */
static void scene_parts(const scene_t *s, am_bundle_parts_t *p,
                        am_bundle_item_t rcpt[2],
                        am_bundle_item_t relays[N_RELAYS])
{
    size_t n = am_env_recipient_count(s->parsed);

    rcpt[0] = item(ag[2].cert, ag[2].cert_len);
    rcpt[1] = item(ag[1].cert, ag[1].cert_len);
    for (int i = 0; i < N_RELAYS; i++)
        relays[N_RELAYS - 1 - i] = item(rl[i].cert, rl[i].cert_len);
    *p = (am_bundle_parts_t){
        .envelope = s->env, .envelope_len = s->env_len,
        .sender = item(ag[0].cert, ag[0].cert_len),
        .recipients = n == 1 ? &rcpt[1] : rcpt, /* DE-BKA alone */
        .n_recipients = n,
        .relays = relays, .n_relays = N_RELAYS,
        .crl = item(crl_empty, crl_empty_len),
        .evidence = s->ev, .n_evidence = s->n_ev,
        .receipts = s->rc, .n_receipts = s->n_rc,
    };
}

/* Build s with the revocation list crl. */
static uint8_t *build_crl(const scene_t *s, const uint8_t *crl,
                          size_t crl_len, size_t *len)
{
    am_bundle_item_t rcpt[2], relays[N_RELAYS];
    am_bundle_parts_t p;
    uint8_t *out = NULL;

    scene_parts(s, &p, rcpt, relays);
    p.crl = item(crl, crl_len);
    assert_int_equal(am_bundle_build(&p, &out, len), AM_OK);
    return out;
}

static uint8_t *build(const scene_t *s, size_t *len)
{
    return build_crl(s, crl_empty, crl_empty_len, len);
}

/* Put the right digest at the end of b again, as someone editing a
 * bundle on purpose would: what remains to catch an edit is then the
 * signatures and the canonical form. */
static void redigest(uint8_t *b, size_t len)
{
    assert_true(len >= AM_BUNDLE_DIGEST_FIELD_LEN);
    assert_int_equal(am_hash256(b, len - AM_BUNDLE_DIGEST_FIELD_LEN,
                                b + len - AM_HASH_LEN), AM_OK);
}

static void expect_fail(const uint8_t *b, size_t len, int code,
                        const char *detail)
{
    int rc = am_bundle_verify(b, len, root_pk, 0, &rep);

    printf("# %s: %s\n", am_strerror(rc), am_err_detail());
    assert_int_equal(rc, code);
    if (detail != NULL)
        assert_string_equal(am_err_detail(), detail);
}

#endif
