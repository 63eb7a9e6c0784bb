/* Signed prekeys and receipts. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "err.h"
#include "fixture-federation.h"
#include "prekey.h"
#include "receipt.h"

static void verified_cert(int who, am_cert_t *c)
{
    am_cert_policy_t pol = {root_pk, NOW, AM_ROLE_AGENCY, NULL};
    assert_int_equal(am_cert_verify(ag[who].cert, ag[who].cert_len, &pol, c),
                     AM_OK);
}

static void test_prekeys(void **state)
{
    am_prekey_t p = {"DE-BKA", 5, {0}, NOW, NOW + 30 * 86400}, got;
    am_cert_t de, ph;
    uint8_t *b = NULL;
    size_t len;

    (void)state;
    memcpy(p.dh_pk, ag[1].pre_pk, 32);
    verified_cert(1, &de);
    verified_cert(2, &ph);
    assert_int_equal(am_prekey_sign(&p, ag[1].sign_sk, &b, &len), AM_OK);
    assert_int_equal(am_prekey_verify(b, len, &de, NOW, &got), AM_OK);
    assert_int_equal(got.prekey_id, 5);
    assert_memory_equal(got.dh_pk, ag[1].pre_pk, 32);
    /* presented as another agency's prekey */
    assert_int_equal(am_prekey_verify(b, len, &ph, NOW, &got), AM_ECRYPTO);
    /* expired */
    assert_int_equal(am_prekey_verify(b, len, &de, NOW + 31 * 86400, &got),
                     AM_EEXPIRED);
    /* tampered */
    b[len - 70] ^= 1;
    assert_int_not_equal(am_prekey_verify(b, len, &de, NOW, &got), AM_OK);
    am_free(b);
    b = NULL;
    /* signed by DE-BKA's key but naming PH-NBI */
    snprintf(p.agency_id, sizeof p.agency_id, "%s", "PH-NBI");
    assert_int_equal(am_prekey_sign(&p, ag[1].sign_sk, &b, &len), AM_OK);
    assert_int_equal(am_prekey_verify(b, len, &ph, NOW, &got), AM_ECRYPTO);
    assert_int_equal(am_prekey_verify(b, len, &de, NOW, &got), AM_EPROTO);
    am_free(b);
    p.prekey_id = 0;
    assert_int_equal(am_prekey_sign(&p, ag[1].sign_sk, &b, &len), AM_EINVAL);
}

/* PK-NCCIA -> DE-BKA, PH-NBI; returns the verified, parsed envelope. */
static am_env_t *received(uint8_t **bytes, size_t *len)
{
    am_env_recipient_t r[2] = {{"DE-BKA", ag[1].pre_pk, 5},
                               {"PH-NBI", ag[2].dh_pk, 0}};
    am_env_params_t p = {"PK-NCCIA", 10, ag[0].sign_sk, NOW, NOW + 3600,
                         AM_PRIORITY_URGENT, NULL, NULL};
    am_env_t *env;
    am_cert_t pk;

    assert_int_equal(am_env_seal(&p, r, 2, (const uint8_t *)"case", 4, bytes,
                                 len), AM_OK);
    assert_int_equal(am_env_parse(*bytes, *len, AM_ENV_MAX, &env), AM_OK);
    verified_cert(0, &pk);
    assert_int_equal(am_env_verify(env, &pk), AM_OK);
    return env;
}

static void test_receipt_verifies_offline(void **state)
{
    uint8_t *e1, *e2, *rb;
    size_t l1, l2, rlen;
    am_env_t *env = received(&e1, &l1), *other = received(&e2, &l2);
    am_receipt_t r, got;
    am_cert_t de, ph;

    (void)state;
    verified_cert(1, &de);
    verified_cert(2, &ph);
    assert_int_equal(am_receipt_for(env, "DE-BKA", AM_RECEIPT_RECEIVED,
                                    NOW + 5, NULL, &r), AM_OK);
    assert_int_equal(am_receipt_sign(&r, ag[1].sign_sk, &rb, &rlen), AM_OK);
    assert_int_equal(am_receipt_verify(rb, rlen, &de, env, &got), AM_OK);
    assert_int_equal(got.status, AM_RECEIPT_RECEIVED);
    assert_string_equal(got.sender_id, "PK-NCCIA");
    assert_memory_equal(got.envelope_hash, am_env_hash(env), 32);
    /* the same receipt does not speak for another envelope */
    assert_int_equal(am_receipt_verify(rb, rlen, &de, other, &got),
                     AM_ECRYPTO);
    assert_string_equal(am_err_detail(), "receipt names another envelope");
    /* nor is it PH-NBI's */
    assert_int_equal(am_receipt_verify(rb, rlen, &ph, env, &got), AM_ECRYPTO);
    for (size_t i = 0; i < rlen; i++) {
        rb[i] ^= 0x08;
        if (am_receipt_verify(rb, rlen, &de, env, &got) == AM_OK)
            fail_msg("receipt with byte %zu flipped verified", i);
        rb[i] ^= 0x08;
    }
    am_free(rb);
    /* PH-NBI's key signing a receipt in DE-BKA's name */
    assert_int_equal(am_receipt_sign(&r, ag[2].sign_sk, &rb, &rlen), AM_OK);
    assert_int_equal(am_receipt_verify(rb, rlen, &de, env, &got), AM_ECRYPTO);
    am_free(rb);
    /* the sender is not a recipient: no receipt of its own envelope */
    assert_int_equal(am_receipt_for(env, "PK-NCCIA", AM_RECEIPT_RECEIVED, NOW,
                                    NULL, &r), AM_EKEY);
    am_env_free(other);
    am_env_free(env);
    am_free(e1);
    am_free(e2);
}

static void test_refusal_carries_reason(void **state)
{
    uint8_t *e, *rb;
    size_t len, rlen;
    am_env_t *env = received(&e, &len);
    am_receipt_t r, got;
    am_cert_t ph;

    (void)state;
    verified_cert(2, &ph);
    assert_int_equal(am_receipt_for(env, "PH-NBI", AM_RECEIPT_REFUSED, NOW,
                                    "incomplete request: no legal basis", &r),
                     AM_OK);
    assert_int_equal(am_receipt_sign(&r, ag[2].sign_sk, &rb, &rlen), AM_OK);
    assert_int_equal(am_receipt_verify(rb, rlen, &ph, env, &got), AM_OK);
    assert_int_equal(got.status, AM_RECEIPT_REFUSED);
    assert_string_equal(got.reason, "incomplete request: no legal basis");
    assert_int_equal(am_receipt_for(env, "PH-NBI", 9, NOW, NULL, &r),
                     AM_EINVAL);
    am_free(rb);
    am_env_free(env);
    am_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prekeys),
        cmocka_unit_test(test_receipt_verifies_offline),
        cmocka_unit_test(test_refusal_carries_reason),
    };

    return cmocka_run_group_tests(tests, fed_setup, fed_teardown);
}
