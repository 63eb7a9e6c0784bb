/* Evidence bundles: a full bundle verifies offline and its report lists
 * the facts in time order; the same parts in any order build the same
 * file; changing any byte (as damage, or as an edit with the digest put
 * right), cutting it at any length, bytes added after or before the
 * digest, another root: each is refused.  The refusals one by one, with
 * their sentences, are in test-bundle-refuse.c. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "bundle.h"
#include "err.h"
#include "fixture-bundle.h"

static void print_report(const am_bundle_report_t *r)
{
    printf("# message ");
    for (size_t i = 0; i < AM_MSG_ID_LEN; i++)
        printf("%02x", r->message_id[i]);
    printf(" from %s to", r->sender.agency_id);
    for (size_t i = 0; i < r->n_recipients; i++)
        printf(" %s", r->recipients[i].agency_id);
    printf("\n");
    for (size_t i = 0; i < r->n_facts; i++) {
        const am_bundle_fact_t *f = &r->facts[i];
        printf("#   %lld %-12s %-8s signed by %s%s%s\n", (long long)f->time,
               am_bundle_fact_name(f->kind), f->subject, f->signer,
               f->reason[0] ? ": " : "", f->reason);
    }
}

static void expect_fact(size_t i, int kind, int64_t t, const char *signer,
                        const char *subject)
{
    const am_bundle_fact_t *f = &rep.facts[i];

    if (f->kind != kind || f->time != t || strcmp(f->signer, signer) != 0 ||
        strcmp(f->subject, subject) != 0)
        fail_msg("fact %zu: %s at %lld by %s about \"%s\"; want %s at %lld "
                 "by %s about \"%s\"", i, am_bundle_fact_name(f->kind),
                 (long long)f->time, f->signer, f->subject,
                 am_bundle_fact_name(kind), (long long)t, signer, subject);
}

static void test_full_bundle_report(void **state)
{
    scene_t s;
    size_t len;
    uint8_t *b;

    (void)state;
    full_scene(&s);
    b = build(&s, &len);
    assert_int_equal(am_bundle_verify(b, len, root_pk, 0, &rep), AM_OK);
    print_report(&rep);
    assert_memory_equal(rep.message_id, am_env_message_id(s.parsed), 16);
    assert_memory_equal(rep.envelope_hash, am_env_hash(s.parsed), 32);
    assert_string_equal(rep.sender.agency_id, "PK-NCCIA");
    assert_string_equal(rep.sender.display_name, "PK-NCCIA unit");
    assert_int_equal(rep.n_recipients, 2);
    assert_string_equal(rep.recipients[0].agency_id, "DE-BKA");
    assert_string_equal(rep.recipients[1].agency_id, "PH-NBI");
    assert_int_equal(rep.n_relays, 2); /* PH-RELAY signed nothing: left out */
    assert_string_equal(rep.relays[0].agency_id, "DE-RELAY");
    assert_string_equal(rep.relays[1].agency_id, "PK-RELAY");
    assert_int_equal(rep.priority, AM_PRIORITY_URGENT);
    assert_int_equal(rep.crl_sequence, 1);
    assert_int_equal(rep.n_facts, 7);
    expect_fact(0, AM_FACT_SENT, NOW, "PK-NCCIA", "");
    assert_int_equal(rep.facts[0].signed_by, NOW + 1); /* the relay's time */
    expect_fact(1, AM_FACT_ACCEPTED, NOW + 1, "PK-RELAY", "");
    expect_fact(2, AM_FACT_DELIVERED, NOW + 10, "DE-RELAY", "DE-BKA");
    expect_fact(3, AM_FACT_RECEIVED, NOW + 11, "DE-BKA", "DE-BKA");
    expect_fact(4, AM_FACT_DELIVERED, NOW + 12, "PK-RELAY", "PH-NBI");
    expect_fact(5, AM_FACT_REFUSED, NOW + 13, "PH-NBI", "PH-NBI");
    assert_string_equal(rep.facts[5].reason,
                        "incomplete request: no legal basis");
    expect_fact(6, AM_FACT_ACKNOWLEDGED, NOW + 50, "DE-BKA", "DE-BKA");
    for (size_t i = 0; i < rep.n_facts; i++)
        assert_false(rep.facts[i].signer_revoked);
    /* with a clock: fine after the last fact, refused before it; years
     * later, with every certificate expired, still fine */
    assert_int_equal(am_bundle_verify(b, len, root_pk, NOW + 50, &rep), AM_OK);
    assert_int_equal(am_bundle_verify(b, len, root_pk, NOW + 49, &rep),
                     AM_EEXPIRED);
    assert_string_equal(am_err_detail(), "receipt 3: dated 1790000050, after "
                        "now (1790000049)");
    assert_int_equal(am_bundle_verify(b, len, root_pk, (int64_t)NOW + 400000000, &rep),
                     AM_OK);
    am_free(b);
    scene_free(&s);
}

/* The same parts in another order, with copies, give the same file. */
static void test_build_is_canonical(void **state)
{
    scene_t s;
    am_bundle_item_t tmp;
    size_t len, len2;
    uint8_t *a, *b;

    (void)state;
    full_scene(&s);
    a = build(&s, &len);
    tmp = s.ev[0];
    s.ev[0] = s.ev[2];
    s.ev[2] = tmp;
    s.ev[s.n_ev++] = s.ev[1]; /* at-least-once: a copy */
    tmp = s.rc[0];
    s.rc[0] = s.rc[1];
    s.rc[1] = tmp;
    b = build(&s, &len2);
    s.n_ev--;
    assert_int_equal(len, len2);
    assert_memory_equal(a, b, len);
    assert_int_equal(am_bundle_verify(b, len2, root_pk, 0, &rep), AM_OK);
    am_free(a);
    am_free(b);
    scene_free(&s);
}

/* Each byte changed in turn: as damage (the digest catches it) and as an
 * edit with the digest put right (the signatures and the canonical form
 * do).  An edit of the digest itself is the one byte the second way
 * cannot try: putting the digest right undoes it. */
static void test_every_byte_matters(void **state)
{
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    size_t len, by_code[32] = {0};
    scene_t s;
    uint8_t *b, *e;
    int rc;

    (void)state;
    full_scene(&s);
    b = build(&s, &len);
    e = am_malloc(len);
    assert_non_null(e);
    printf("# bundle of %zu bytes\n", len);
    rep.n_facts = 12345; /* a failure leaves the report alone */
    for (size_t f = 0; f < sizeof flips; f++)
        for (size_t i = 0; i < len; i++) {
            memcpy(e, b, len);
            e[i] ^= flips[f];
            if (am_bundle_verify(e, len, root_pk, 0, &rep) == AM_OK)
                fail_msg("byte %zu ^ 0x%02x: still verifies", i, flips[f]);
            if (i >= len - AM_HASH_LEN)
                continue;
            redigest(e, len);
            if ((rc = am_bundle_verify(e, len, root_pk, 0, &rep)) == AM_OK)
                fail_msg("byte %zu ^ 0x%02x with its digest put right: "
                         "still verifies", i, flips[f]);
            by_code[-rc < 32 ? -rc : 0]++;
        }
    for (int c = 0; c < 32; c++)
        if (by_code[c] > 0)
            printf("# edits refused with %s: %zu\n", am_strerror(-c),
                   by_code[c]);
    for (size_t n = 0; n < len; n++)
        if (am_bundle_verify(b, n, root_pk, 0, &rep) == AM_OK)
            fail_msg("cut to %zu of %zu bytes: still verifies", n, len);
    assert_int_equal(rep.n_facts, 12345);
    assert_int_equal(am_bundle_verify(b, len, root_pk, 0, &rep), AM_OK);
    am_free(e);
    am_free(b);
    scene_free(&s);
}

/* Bytes after the digest, or before it (the digest put right). */
static void test_extra_bytes(void **state)
{
    const size_t d = AM_BUNDLE_DIGEST_FIELD_LEN;
    scene_t s;
    size_t len;
    uint8_t *b, *longer;
    char want[96];

    (void)state;
    full_scene(&s);
    b = build(&s, &len);
    longer = am_malloc(len + 2);
    assert_non_null(longer);
    memcpy(longer, b, len);
    longer[len] = 0x00; /* no field has number 0 */
    expect_fail(longer, len + 1, AM_EPROTO, NULL);
    longer[len] = 0x10; /* version again */
    longer[len + 1] = 0x01;
    expect_fail(longer, len + 2, AM_EPROTO, "bundle does not end with its "
                "digest (field 15, 32 bytes): cut short or not a bundle");
    /* the same before the digest: a field out of order */
    memcpy(longer, b, len - d);
    memcpy(longer + len - d, "\x10\x01", 2);
    memcpy(longer + len - d + 2, b + len - d, d);
    redigest(longer, len + 2);
    snprintf(want, sizeof want, "bundle is not in canonical form: its "
             "standard encoding differs at byte %zu", len - d);
    expect_fail(longer, len + 2, AM_EPROTO, want);
    /* an unknown field 10, varint 1 */
    longer[len - d] = 0x50;
    redigest(longer, len + 2);
    expect_fail(longer, len + 2, AM_EPROTO, "bundle carries an unknown field");
    /* the digest is what a file cut after its last receipt misses */
    expect_fail(b, len - d, AM_EPROTO, "bundle does not end with its digest "
                "(field 15, 32 bytes): cut short or not a bundle");
    b[len - 1] ^= 1;
    expect_fail(b, len, AM_EPROTO, "bundle is damaged: its digest does not "
                "match its bytes");
    am_free(longer);
    am_free(b);
    scene_free(&s);
}

static void test_wrong_root(void **state)
{
    scene_t s;
    size_t len;
    uint8_t *b;
    int rc;

    (void)state;
    full_scene(&s);
    b = build(&s, &len);
    rc = am_bundle_verify(b, len, other_pk, 0, &rep);
    assert_int_equal(rc, AM_ECRYPTO);
    assert_non_null(strstr(am_err_detail(), "revocation list"));
    am_free(b);
    scene_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_bundle_report),
        cmocka_unit_test(test_build_is_canonical),
        cmocka_unit_test(test_every_byte_matters),
        cmocka_unit_test(test_extra_bytes),
        cmocka_unit_test(test_wrong_root),
    };

    return cmocka_run_group_tests(tests, bundle_setup, bundle_teardown);
}
