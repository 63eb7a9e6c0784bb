/* Evidence bundles that must be refused, each with the sentence that
 * names the failing part: a receipt by a non-recipient, evidence for
 * another envelope, revocations before a signature (and after it, which
 * stand and are reported), certificates outside their validity or without
 * the relay role, non-canonical forms (order, copies, unknown fields,
 * unused relays, long varints), parts am_bundle_build refuses, and
 * failing allocations. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "bundle.h"
#include "bundle.pb-c.h"
#include "err.h"
#include "fixture-bundle.h"

static void test_receipt_by_non_recipient(void **state)
{
    scene_t s;
    am_receipt_t r;
    uint8_t *b, *out;
    size_t len;

    (void)state;
    seal(&s, true); /* to DE-BKA only */
    add_ev(&s, s.parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 1);
    assert_int_equal(am_receipt_for(s.parsed, "DE-BKA", AM_RECEIPT_RECEIVED,
                                    NOW + 5, NULL, &r), AM_OK);
    snprintf(r.recipient_id, sizeof r.recipient_id, "%s", "PH-NBI");
    assert_int_equal(am_receipt_sign(&r, ag[2].sign_sk, &out, &len), AM_OK);
    s.rc[s.n_rc++] = item(out, len);
    b = build(&s, &len);
    expect_fail(b, len, AM_ECRYPTO, "receipt 1: by \"PH-NBI\", who is not a "
                "recipient of the envelope");
    am_free(b);
    /* PH-NBI's key, in DE-BKA's name */
    am_free((void *)s.rc[0].data);
    snprintf(r.recipient_id, sizeof r.recipient_id, "%s", "DE-BKA");
    assert_int_equal(am_receipt_sign(&r, ag[2].sign_sk, &out, &len), AM_OK);
    s.rc[0] = item(out, len);
    b = build(&s, &len);
    expect_fail(b, len, AM_ECRYPTO, "receipt 1: receipt signature does not "
                "verify for \"DE-BKA\"");
    am_free(b);
    scene_free(&s);
}

static void test_evidence_for_another_envelope(void **state)
{
    scene_t s, other;
    uint8_t *b;
    size_t len;

    (void)state;
    full_scene(&s);
    seal(&other, false);
    add_ev(&s, other.parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 2);
    b = build(&s, &len);
    expect_fail(b, len, AM_ECRYPTO, "evidence 2: names another envelope");
    am_free(b);
    scene_free(&other);
    scene_free(&s);
    /* delivered to someone the envelope is not for */
    seal(&s, true);
    add_ev(&s, s.parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 1);
    add_ev(&s, s.parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_DELIVERED, "PH-NBI", NOW + 3);
    b = build(&s, &len);
    expect_fail(b, len, AM_ECRYPTO, "evidence 2: names \"PH-NBI\", who is "
                "not a recipient of the envelope");
    am_free(b);
    scene_free(&s);
}

/* The full scene under a list revoking serial at t. */
static int verify_revoked(const scene_t *s, uint64_t serial, int64_t t)
{
    am_revoked_t r = {serial, "XX-ANY", t, "key compromised"};
    uint8_t *crl, *b;
    size_t crl_len, len;
    int rc;

    assert_int_equal(am_crl_issue(root_sk, 2, NOW + 2000, &r, 1, &crl,
                                  &crl_len), AM_OK);
    b = build_crl(s, crl, crl_len, &len);
    rc = am_bundle_verify(b, len, root_pk, 0, &rep);
    printf("# revoked %llu at +%lld: %s\n", (unsigned long long)serial,
           (long long)(t - NOW), rc ? am_err_detail() : "stands");
    am_free(b);
    am_free(crl);
    return rc;
}

static void test_revocations(void **state)
{
    scene_t s;

    (void)state;
    full_scene(&s);
    /* PH-NBI revoked after its refusal (+13): reported, the receipt stands */
    assert_int_equal(verify_revoked(&s, 12, NOW + 1000), AM_OK);
    assert_true(rep.recipients[1].revoked);
    assert_int_equal(rep.recipients[1].revoked_at, NOW + 1000);
    assert_false(rep.recipients[0].revoked);
    assert_int_equal(rep.facts[5].kind, AM_FACT_REFUSED);
    assert_true(rep.facts[5].signer_revoked);
    assert_int_equal(rep.facts[5].signer_revoked_at, NOW + 1000);
    assert_int_equal(rep.facts[5].signed_by, NOW + 13);
    assert_int_equal(rep.crl_sequence, 2);
    /* revoked at the very time it signed: refused */
    assert_int_equal(verify_revoked(&s, 12, NOW + 13), AM_EREVOKED);
    assert_string_equal(am_err_detail(), "receipt 2: signed at 1790000013, "
                        "but PH-NBI's certificate (serial 12) was revoked at "
                        "1790000013");
    /* the sender: checked at the relay's time (+1), not at created_at */
    assert_int_equal(verify_revoked(&s, 10, NOW + 1), AM_EREVOKED);
    assert_non_null(strstr(am_err_detail(), "envelope (accepted at "));
    assert_int_equal(verify_revoked(&s, 10, NOW + 2), AM_OK);
    assert_true(rep.facts[0].signer_revoked && rep.sender.revoked);
    /* a relay revoked between its two pieces of evidence */
    assert_int_equal(verify_revoked(&s, 20 + PK_RELAY, NOW + 11), AM_EREVOKED);
    assert_string_equal(am_err_detail(), "evidence 3: signed at 1790000012, "
                        "but PK-RELAY's certificate (serial 22) was revoked "
                        "at 1790000011");
    /* DE-BKA revoked before anything: it signed receipts, refused */
    assert_int_equal(verify_revoked(&s, 11, NOW - 50), AM_EREVOKED);
    scene_free(&s);
    /* a recipient that signed nothing is only reported */
    seal(&s, false);
    add_ev(&s, s.parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 1);
    assert_int_equal(verify_revoked(&s, 12, NOW - 50), AM_OK);
    assert_true(rep.recipients[1].revoked);
    assert_int_equal(rep.n_facts, 2);
    scene_free(&s);
}

static void test_validity_and_role(void **state)
{
    am_bundle_item_t rcpt[2], relays[N_RELAYS];
    am_bundle_parts_t p;
    scene_t s;
    uint8_t *b;
    size_t len;

    (void)state;
    /* accepted after the sender's certificate expired (NOW + 100000) */
    seal(&s, true);
    add_ev(&s, s.parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 200000);
    b = build(&s, &len);
    expect_fail(b, len, AM_EEXPIRED, "envelope (accepted at 1790200000): "
                "signed at 1790200000, when PK-NCCIA's certificate was not "
                "valid (1789999900 to 1790100000)");
    am_free(b);
    scene_free(&s);
    /* an agency's certificate presented as a relay's */
    seal(&s, true);
    add_ev(&s, s.parsed, "PK-RELAY", rl[PK_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 1);
    add_ev(&s, s.parsed, "DE-BKA", ag[1].sign_sk, AM_EVIDENCE_DELIVERED,
           "DE-BKA", NOW + 2);
    scene_parts(&s, &p, rcpt, relays);
    relays[0] = item(ag[1].cert, ag[1].cert_len); /* instead of PK-RELAY */
    relays[1] = item(rl[PK_RELAY].cert, rl[PK_RELAY].cert_len);
    assert_int_equal(am_bundle_build(&p, &b, &len), AM_OK);
    expect_fail(b, len, AM_EROLE, "relay certificate 1: certificate "
                "\"DE-BKA\" lacks the relay role");
    am_free(b);
    scene_free(&s);
    /* PK-RELAY's name, DE-RELAY's key */
    seal(&s, true);
    add_ev(&s, s.parsed, "PK-RELAY", rl[DE_RELAY].sign_sk,
           AM_EVIDENCE_ACCEPTED, NULL, NOW + 1);
    b = build(&s, &len);
    expect_fail(b, len, AM_ECRYPTO, "evidence 1: evidence signature does not "
                "verify for \"PK-RELAY\"");
    am_free(b);
    scene_free(&s);
}

/* Re-encode a valid bundle after mut changed its decoded form (pointers
 * into the original only: the original is freed after packing). */
typedef void (*mutate_cb)(Amanat__V1__EvidenceBundle *b, void *ctx);

static uint8_t *reencode(const uint8_t *in, size_t len, mutate_cb mut,
                         void *ctx, size_t *out_len)
{
    Amanat__V1__EvidenceBundle *orig, c;
    void *rc[8], *rel[8], *ev[16], *re[16];
    uint8_t *out;

    orig = amanat__v1__evidence_bundle__unpack(NULL, len, in);
    assert_non_null(orig);
    c = *orig;
    memcpy(rc, orig->recipients, orig->n_recipients * sizeof *rc);
    memcpy(rel, orig->relays, orig->n_relays * sizeof *rel);
    memcpy(ev, orig->evidence, orig->n_evidence * sizeof *ev);
    memcpy(re, orig->receipts, orig->n_receipts * sizeof *re);
    c.recipients = (Amanat__V1__SignedCertificate **)rc;
    c.relays = (Amanat__V1__SignedCertificate **)rel;
    c.evidence = (Amanat__V1__Evidence **)ev;
    c.receipts = (Amanat__V1__SignedReceipt **)re;
    mut(&c, ctx);
    *out_len = amanat__v1__evidence_bundle__get_packed_size(&c);
    out = malloc(*out_len);
    assert_non_null(out);
    amanat__v1__evidence_bundle__pack(&c, out);
    amanat__v1__evidence_bundle__free_unpacked(orig, NULL);
    redigest(out, *out_len);
    return out;
}

#define SWAP(a, b)                                                          \
    do {                                                                    \
        void *t_ = (void *)(a);                                             \
        (a) = (b);                                                          \
        (b) = t_;                                                           \
    } while (0)

static void swap_evidence(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    (void)ctx;
    SWAP(b->evidence[1], b->evidence[2]);
}

static void repeat_receipt(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    (void)ctx;
    b->receipts[1] = b->receipts[0];
}

static void swap_relays(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    (void)ctx;
    SWAP(b->relays[0], b->relays[1]);
}

static void swap_recipients(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    (void)ctx;
    SWAP(b->recipients[0], b->recipients[1]);
}

static void add_relay(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    b->relays[2] = b->relays[1];
    b->relays[1] = ctx; /* PH-RELAY, between DE- and PK- */
    b->n_relays = 3;
}

static void drop_accepted(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    (void)ctx;
    b->evidence++; /* the first: accepted at NOW + 1 */
    b->n_evidence--;
}

static void drop_receipts(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    (void)ctx;
    b->n_receipts = 0;
}

static void set_item(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    b->evidence[0] = ctx;
}

static void set_version(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    b->version = *(uint32_t *)ctx;
}

static void set_format(Amanat__V1__EvidenceBundle *b, void *ctx)
{
    b->format = ctx;
}

static void expect_reencoded(const uint8_t *b, size_t len, mutate_cb mut,
                             void *ctx, int code, const char *detail)
{
    size_t n;
    uint8_t *m = reencode(b, len, mut, ctx, &n);

    expect_fail(m, n, code, detail);
    free(m);
}

static void test_non_canonical_items(void **state)
{
    Amanat__V1__SignedCertificate *ph;
    scene_t s;
    size_t len, n;
    uint8_t *b, *m;

    (void)state;
    full_scene(&s);
    b = build(&s, &len);
    expect_reencoded(b, len, swap_evidence, NULL, AM_EPROTO, "evidence 3: out "
                     "of order or repeated: evidence sorts by time, kind, "
                     "recipient, relay, bytes");
    expect_reencoded(b, len, repeat_receipt, NULL, AM_EPROTO, "receipt 2: out "
                     "of order or repeated: receipts sort by time, status, "
                     "recipient, bytes");
    expect_reencoded(b, len, swap_relays, NULL, AM_EPROTO, "relay certificate "
                     "2 (\"DE-RELAY\") is not after \"PK-RELAY\": ascending "
                     "ids, each once");
    expect_reencoded(b, len, swap_recipients, NULL, AM_EPROTO, "recipient "
                     "certificate 1 is \"PH-NBI\"'s, the envelope's recipient "
                     "1 is \"DE-BKA\"");
    ph = amanat__v1__signed_certificate__unpack(NULL, rl[PH_RELAY].cert_len,
                                                rl[PH_RELAY].cert);
    expect_reencoded(b, len, add_relay, ph, AM_EPROTO, "relay certificate 2 "
                     "(\"PH-RELAY\") signed no evidence");
    amanat__v1__signed_certificate__free_unpacked(ph, NULL);
    expect_reencoded(b, len, drop_accepted, NULL, AM_EPROTO, "bundle has no "
                     "ACCEPTED evidence: nothing attests when a relay "
                     "received the envelope");
    /* receipts are optional */
    m = reencode(b, len, drop_receipts, NULL, &n);
    assert_int_equal(am_bundle_verify(m, n, root_pk, 0, &rep), AM_OK);
    assert_int_equal(rep.n_facts, 4);
    free(m);
    am_free(b);
    scene_free(&s);
}

static void test_non_canonical_encoding(void **state)
{
    Amanat__V1__Evidence *extra;
    uint32_t v2 = 2, v0 = 0;
    scene_t s;
    size_t len;
    uint8_t *b, *m, ev[AM_EVIDENCE_MAX + 2];

    (void)state;
    full_scene(&s);
    b = build(&s, &len);
    expect_reencoded(b, len, set_version, &v2, AM_EUNSUPPORTED,
                     "bundle version 2");
    expect_reencoded(b, len, set_version, &v0, AM_EUNSUPPORTED,
                     "bundle version 0");
    expect_reencoded(b, len, set_format, "amanat evidence bundle2", AM_EPROTO,
                     "not an Amanat evidence bundle (format is not \"amanat "
                     "evidence bundle\")");
    /* the first evidence with an unknown field 3 after its signature */
    memcpy(ev, s.ev[2].data, s.ev[2].len);
    memcpy(ev + s.ev[2].len, "\x18\x01", 2);
    extra = amanat__v1__evidence__unpack(NULL, s.ev[2].len + 2, ev);
    assert_non_null(extra);
    expect_reencoded(b, len, set_item, extra, AM_EPROTO,
                     "bundle carries an unknown field");
    amanat__v1__evidence__free_unpacked(extra, NULL);
    /* the format's length (22) as a two-byte varint: 0x96 0x00 */
    m = malloc(len + 1);
    assert_non_null(m);
    assert_int_equal(b[0], 0x0a);
    assert_int_equal(b[1], 22);
    m[0] = 0x0a;
    m[1] = 0x96;
    m[2] = 0x00;
    memcpy(m + 3, b + 2, len - 2);
    redigest(m, len + 1);
    expect_fail(m, len + 1, AM_EPROTO, "bundle is not in canonical form: its "
                "standard encoding differs at byte 1");
    free(m);
    am_free(b);
    scene_free(&s);
}

static void expect_build(am_bundle_parts_t *p, int code, const char *detail)
{
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = am_bundle_build(p, &out, &len);

    printf("# build: %s: %s\n", am_strerror(rc), am_err_detail());
    assert_int_equal(rc, code);
    assert_null(out);
    if (detail != NULL)
        assert_string_equal(am_err_detail(), detail);
}

static void test_build_refuses(void **state)
{
    am_bundle_item_t rcpt[2], three[3], relays[N_RELAYS], saved, junk = {
        (const uint8_t *)"\x0a\x03zzz", 5};
    am_bundle_parts_t p;
    am_cert_t c;
    uint8_t *de2;
    size_t de2_len;
    scene_t s;

    (void)state;
    full_scene(&s);
    scene_parts(&s, &p, rcpt, relays);
    p.n_recipients = 1; /* PH-NBI's only */
    expect_build(&p, AM_EINVAL, "no certificate for recipient \"DE-BKA\"");
    three[0] = rcpt[0];
    three[1] = rcpt[1];
    three[2] = item(ag[0].cert, ag[0].cert_len); /* the sender's */
    p.recipients = three;
    p.n_recipients = 3;
    expect_build(&p, AM_EINVAL, "certificate of \"PK-NCCIA\", who is not a "
                 "recipient of the envelope");
    p.recipients = rcpt;
    p.n_recipients = 2;
    /* DE-BKA's certificate issued again: two different ones */
    assert_int_equal(am_cert_verify_offline(ag[1].cert, ag[1].cert_len,
                                            root_pk, 0, &c), AM_OK);
    c.serial = 99;
    assert_int_equal(am_cert_issue(&c, root_sk, &de2, &de2_len), AM_OK);
    rcpt[0] = item(de2, de2_len);
    expect_build(&p, AM_EINVAL, "two different certificates for recipient "
                 "\"DE-BKA\"");
    rcpt[0] = item(ag[2].cert, ag[2].cert_len);
    p.n_relays = 2; /* PK-RELAY and PH-RELAY: DE-RELAY's left out */
    expect_build(&p, AM_EINVAL, "no certificate for relay \"DE-RELAY\"");
    p.n_relays = N_RELAYS;
    saved = s.ev[1];
    s.ev[1] = junk;
    expect_build(&p, AM_EPROTO, NULL);
    assert_non_null(strstr(am_err_detail(), "evidence 2: "));
    s.ev[1] = saved;
    p.n_evidence = AM_BUNDLE_MAX_EVIDENCE + 1;
    expect_build(&p, AM_EINVAL, NULL);
    am_free(de2);
    scene_free(&s);
}

static int build_or_fail(const scene_t *s, uint8_t **out, size_t *len)
{
    am_bundle_item_t rcpt[2], relays[N_RELAYS];
    am_bundle_parts_t p;

    scene_parts(s, &p, rcpt, relays);
    return am_bundle_build(&p, out, len);
}

/* Every allocation failing in turn: an error, never a crash or a leak,
 * the report untouched; then success once none fails. */
static void test_failing_allocations(void **state)
{
    t_alloc_ctx_t ctx = {0, 0, 0};
    scene_t s;
    size_t len, n = 0;
    uint8_t *b, *again = NULL;
    int rc;

    (void)state;
    full_scene(&s);
    b = build(&s, &len);
    for (ctx.fail_at = 1;; ctx.fail_at++) {
        ctx.calls = 0;
        rep.n_facts = 999;
        am_alloc_set_hook(t_alloc_hook, &ctx);
        rc = am_bundle_verify(b, len, root_pk, 0, &rep);
        am_alloc_set_hook(NULL, NULL);
        if (rc == AM_OK)
            break;
        assert_int_equal(rep.n_facts, 999);
    }
    printf("# verify: %zu allocations\n", ctx.fail_at - 1);
    assert_int_equal(rep.n_facts, 7);
    for (ctx.fail_at = 1;; ctx.fail_at++) {
        ctx.calls = 0;
        am_alloc_set_hook(t_alloc_hook, &ctx);
        rc = build_or_fail(&s, &again, &n);
        am_alloc_set_hook(NULL, NULL);
        if (rc == AM_OK)
            break;
        assert_null(again);
    }
    assert_int_equal(n, len);
    assert_memory_equal(again, b, len);
    am_free(again);
    am_free(b);
    scene_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receipt_by_non_recipient),
        cmocka_unit_test(test_evidence_for_another_envelope),
        cmocka_unit_test(test_revocations),
        cmocka_unit_test(test_validity_and_role),
        cmocka_unit_test(test_non_canonical_items),
        cmocka_unit_test(test_non_canonical_encoding),
        cmocka_unit_test(test_build_refuses),
        cmocka_unit_test(test_failing_allocations),
    };

    return cmocka_run_group_tests(tests, bundle_setup, bundle_teardown);
}
