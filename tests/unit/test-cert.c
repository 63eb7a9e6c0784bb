/* Certificates and revocation lists: issue and verify, and each way a
 * certificate must be refused, with its named error. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "cert.h"
#include "err.h"

typedef struct {
    uint8_t root_pk[32], root_sk[64];
    uint8_t other_pk[32], other_sk[64];
    am_cert_t cert;
    uint8_t *bytes;
    size_t len;
} fixture_t;

#define NOW 1790000000 /* 2026-09-21 */

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    assert_non_null(f);
    assert_int_equal(crypto_sign_keypair(f->root_pk, f->root_sk), 0);
    assert_int_equal(crypto_sign_keypair(f->other_pk, f->other_sk), 0);
    snprintf(f->cert.agency_id, sizeof f->cert.agency_id, "%s", "PK-NCCIA");
    snprintf(f->cert.display_name, sizeof f->cert.display_name, "%s", "National Cyber Crime Investigation Agency");
    snprintf(f->cert.country, sizeof f->cert.country, "%s", "PK");
    randombytes_buf(f->cert.sign_pk, sizeof f->cert.sign_pk);
    randombytes_buf(f->cert.dh_pk, sizeof f->cert.dh_pk);
    f->cert.roles = AM_ROLE_AGENCY;
    snprintf(f->cert.home_relay, sizeof f->cert.home_relay, "%s", "PK-RELAY");
    f->cert.not_before = NOW - 86400;
    f->cert.not_after = NOW + 365 * 86400;
    f->cert.serial = 7;
    assert_int_equal(am_cert_issue(&f->cert, f->root_sk, &f->bytes, &f->len),
                     AM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    am_free(f->bytes);
    free(f);
    return 0;
}

static am_cert_policy_t policy(const fixture_t *f)
{
    return (am_cert_policy_t){f->root_pk, NOW, AM_ROLE_AGENCY, NULL};
}

static void test_issue_and_verify(void **state)
{
    fixture_t *f = *state;
    am_cert_policy_t p = policy(f);
    uint8_t id[32];
    am_cert_t c;

    assert_int_equal(am_cert_verify(f->bytes, f->len, &p, &c), AM_OK);
    assert_string_equal(c.agency_id, "PK-NCCIA");
    assert_string_equal(c.display_name, f->cert.display_name);
    assert_string_equal(c.home_relay, "PK-RELAY");
    assert_memory_equal(c.sign_pk, f->cert.sign_pk, 32);
    assert_memory_equal(c.dh_pk, f->cert.dh_pk, 32);
    assert_int_equal(c.roles, AM_ROLE_AGENCY);
    assert_int_equal(c.serial, 7);
    assert_int_equal(am_key_id(f->root_pk, id), AM_OK);
    assert_memory_equal(c.issuer_key_id, id, 32);
}

static void test_every_tampered_byte_refused(void **state)
{
    fixture_t *f = *state;
    am_cert_policy_t p = policy(f);
    am_cert_t c;

    for (size_t i = 0; i < f->len; i++) {
        int rc;

        f->bytes[i] ^= 0x01;
        rc = am_cert_verify(f->bytes, f->len, &p, &c);
        f->bytes[i] ^= 0x01;
        if (rc == AM_OK)
            fail_msg("flipped bit in byte %zu accepted", i);
        assert_true(rc == AM_ECRYPTO || rc == AM_EPROTO);
    }
}

static void test_foreign_root(void **state)
{
    fixture_t *f = *state;
    am_cert_policy_t p = policy(f);
    uint8_t *other;
    size_t len;
    am_cert_t c;

    assert_int_equal(am_cert_issue(&f->cert, f->other_sk, &other, &len), AM_OK);
    assert_int_equal(am_cert_verify(other, len, &p, &c), AM_ECRYPTO);
    assert_string_equal(am_err_detail(),
                        "certificate issued by another federation's root");
    am_free(other);
}

static void test_validity_role_revocation(void **state)
{
    fixture_t *f = *state;
    am_cert_policy_t p = policy(f);
    am_revoked_t r = {7, "PK-NCCIA", NOW - 10, "key compromised"};
    uint8_t *crl_bytes;
    size_t crl_len;
    am_crl_t *crl;
    am_cert_t c;

    p.now = f->cert.not_after + 1;
    assert_int_equal(am_cert_verify(f->bytes, f->len, &p, &c), AM_EEXPIRED);
    assert_non_null(strstr(am_err_detail(), "expired at"));
    p.now = f->cert.not_before - 1;
    assert_int_equal(am_cert_verify(f->bytes, f->len, &p, &c), AM_EEXPIRED);
    assert_non_null(strstr(am_err_detail(), "not valid before"));
    p = policy(f);
    p.role = AM_ROLE_RELAY;
    assert_int_equal(am_cert_verify(f->bytes, f->len, &p, &c), AM_EROLE);
    assert_int_equal(am_crl_issue(f->root_sk, 3, NOW, &r, 1, &crl_bytes,
                                  &crl_len), AM_OK);
    assert_int_equal(am_crl_verify(crl_bytes, crl_len, f->root_pk, 0, &crl),
                     AM_OK);
    p = policy(f);
    p.crl = crl;
    assert_int_equal(am_cert_verify(f->bytes, f->len, &p, &c), AM_EREVOKED);
    assert_non_null(strstr(am_err_detail(), "serial 7"));
    am_crl_free(crl);
    am_free(crl_bytes);
}

/* The two halves of am_cert_verify: the signed part knows no clock, role
 * or list; the policy half refuses what am_cert_verify refuses. */
static void test_signed_then_policy(void **state)
{
    fixture_t *f = *state;
    am_cert_policy_t p = policy(f);
    am_cert_t c, whole;

    assert_int_equal(am_cert_verify_signed(f->bytes, f->len, f->other_pk, &c),
                     AM_ECRYPTO);
    f->bytes[f->len - 1] ^= 0x01;
    assert_int_equal(am_cert_verify_signed(f->bytes, f->len, f->root_pk, &c),
                     AM_ECRYPTO);
    f->bytes[f->len - 1] ^= 0x01;
    assert_int_equal(am_cert_verify_signed(f->bytes, f->len, f->root_pk, &c),
                     AM_OK);
    assert_int_equal(am_cert_verify(f->bytes, f->len, &p, &whole), AM_OK);
    assert_string_equal(c.agency_id, whole.agency_id);
    assert_memory_equal(c.dh_pk, whole.dh_pk, 32);
    assert_int_equal(c.serial, whole.serial);
    assert_int_equal(c.not_after, whole.not_after);
    assert_int_equal(am_cert_check_policy(&c, &p), AM_OK);
    p.now = f->cert.not_after + 1;
    assert_int_equal(am_cert_check_policy(&c, &p), AM_EEXPIRED);
    p = policy(f);
    p.role = AM_ROLE_RELAY;
    assert_int_equal(am_cert_check_policy(&c, &p), AM_EROLE);
    assert_int_equal(am_cert_check_policy(NULL, &p), AM_EINVAL);
}

static void test_crl_sequence_and_signature(void **state)
{
    fixture_t *f = *state;
    am_revoked_t r[3] = {{9, "DE-BKA", NOW, NULL},
                         {2, "PH-NBI", NOW, "left the federation"},
                         {5, "GB-NCA", NOW, NULL}};
    uint8_t *b;
    size_t len;
    am_crl_t *crl = NULL;

    assert_int_equal(am_crl_issue(f->root_sk, 4, NOW, r, 3, &b, &len), AM_OK);
    assert_int_equal(am_crl_verify(b, len, f->root_pk, 5, &crl), AM_ESTALE);
    assert_null(crl);
    assert_int_equal(am_crl_verify(b, len, f->other_pk, 0, &crl), AM_ECRYPTO);
    b[len - 1] ^= 1;
    assert_int_equal(am_crl_verify(b, len, f->root_pk, 0, &crl), AM_ECRYPTO);
    b[len - 1] ^= 1;
    assert_int_equal(am_crl_verify(b, len, f->root_pk, 4, &crl), AM_OK);
    assert_int_equal(am_crl_sequence(crl), 4);
    assert_true(am_crl_revoked(crl, 2) && am_crl_revoked(crl, 5) &&
                am_crl_revoked(crl, 9));
    assert_false(am_crl_revoked(crl, 7));
    am_crl_free(crl);
    am_free(b);
}

/* The offline form: no time, no list, only the root and the role; the
 * list's revocation times, a serial listed twice counting from the
 * earliest. */
static void test_offline_and_revocation_times(void **state)
{
    fixture_t *f = *state;
    am_revoked_t r[3] = {{7, "PK-NCCIA", NOW + 50, NULL},
                         {3, "DE-BKA", NOW, NULL},
                         {7, "PK-NCCIA", NOW + 20, "again"}};
    am_cert_t c;
    am_crl_t *crl;
    uint8_t *b;
    size_t len;
    int64_t at = 0;

    assert_int_equal(am_cert_verify_offline(f->bytes, f->len, f->root_pk,
                                            AM_ROLE_AGENCY, &c), AM_OK);
    assert_int_equal(c.serial, 7);
    assert_int_equal(am_cert_valid_at(&c, NOW + 400 * 86400), AM_EEXPIRED);
    assert_int_equal(am_cert_valid_at(&c, c.not_before), AM_OK);
    assert_int_equal(am_cert_valid_at(&c, c.not_before - 1), AM_EEXPIRED);
    assert_int_equal(am_cert_verify_offline(f->bytes, f->len, f->root_pk,
                                            AM_ROLE_RELAY, &c), AM_EROLE);
    assert_int_equal(am_cert_verify_offline(f->bytes, f->len, f->other_pk, 0,
                                            &c), AM_ECRYPTO);
    assert_int_equal(am_crl_issue(f->root_sk, 2, NOW + 60, r, 3, &b, &len),
                     AM_OK);
    assert_int_equal(am_crl_verify(b, len, f->root_pk, 0, &crl), AM_OK);
    assert_int_equal(am_crl_issued_at(crl), NOW + 60);
    assert_true(am_crl_revoked_at(crl, 7, &at));
    assert_int_equal(at, NOW + 20);
    assert_true(am_crl_revoked_at(crl, 3, NULL));
    assert_false(am_crl_revoked_at(crl, 4, &at) || am_crl_revoked(crl, 8));
    assert_int_equal(at, NOW + 20); /* untouched */
    am_crl_free(crl);
    am_free(b);
}

/* A realistic large list must verify: its many small entries decode into
 * far more memory than a frame would be allowed. */
static void test_large_crl(void **state)
{
    fixture_t *f = *state;
    enum { N = 5000 };
    am_revoked_t *r = calloc(N, sizeof *r);
    uint8_t *b;
    size_t len;
    am_crl_t *crl;

    assert_non_null(r);
    for (size_t i = 0; i < N; i++)
        r[i] = (am_revoked_t){1000 + i, "DE-BKA", NOW, i % 2 ? "lost" : NULL};
    assert_int_equal(am_crl_issue(f->root_sk, 9, NOW, r, N, &b, &len), AM_OK);
    assert_int_equal(am_crl_verify(b, len, f->root_pk, 0, &crl), AM_OK);
    assert_true(am_crl_revoked(crl, 1000) && am_crl_revoked(crl, 5999));
    am_crl_free(crl);
    am_free(b);
    free(r);
}

static void test_issue_refuses_bad_fields(void **state)
{
    fixture_t *f = *state;
    uint8_t *b = NULL;
    size_t len;
    am_cert_t c;

    c = f->cert;
    snprintf(c.agency_id, sizeof c.agency_id, "%s", "XX-POLICE");
    assert_int_equal(am_cert_issue(&c, f->root_sk, &b, &len), AM_EINVAL);
    assert_non_null(strstr(am_err_detail(), "agency_id \"XX-POLICE\""));
    c = f->cert;
    snprintf(c.country, sizeof c.country, "%s", "DE");
    assert_int_equal(am_cert_issue(&c, f->root_sk, &b, &len), AM_EINVAL);
    assert_non_null(strstr(am_err_detail(), "country"));
    c = f->cert;
    c.roles = 0;
    assert_int_equal(am_cert_issue(&c, f->root_sk, &b, &len), AM_EINVAL);
    c = f->cert;
    c.home_relay[0] = '\0';
    assert_int_equal(am_cert_issue(&c, f->root_sk, &b, &len), AM_EINVAL);
    assert_non_null(strstr(am_err_detail(), "home_relay"));
    c = f->cert;
    c.not_after = c.not_before;
    assert_int_equal(am_cert_issue(&c, f->root_sk, &b, &len), AM_EINVAL);
    assert_null(b);
}

static void test_oversize_and_garbage(void **state)
{
    fixture_t *f = *state;
    am_cert_policy_t p = policy(f);
    static uint8_t big[AM_CERT_MAX + 1];
    am_cert_t c;

    assert_int_equal(am_cert_verify(big, sizeof big, &p, &c), AM_ETOOBIG);
    for (size_t cut = 0; cut < f->len; cut++)
        assert_int_not_equal(am_cert_verify(f->bytes, cut, &p, &c), AM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_issue_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_tampered_byte_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validity_role_revocation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signed_then_policy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crl_sequence_and_signature, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offline_and_revocation_times,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_crl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_refuses_bad_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oversize_and_garbage, setup,
                                        teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
