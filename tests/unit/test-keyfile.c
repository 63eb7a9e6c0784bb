/* Key files: text round trips, sealing, and what must be refused. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "keyfile.h"

#define FAST ((am_key_cost_t){crypto_pwhash_OPSLIMIT_MIN, \
                              crypto_pwhash_MEMLIMIT_MIN})

static am_key_t *agency_key(void)
{
    uint8_t raw[64];
    am_key_t *k;

    randombytes_buf(raw, sizeof raw);
    assert_int_equal(am_key_new(AM_KEY_AGENCY_SECRET, "DE-BKA", raw, 64, &k),
                     AM_OK);
    return k;
}

static void test_plain_round_trip(void **state)
{
    am_key_t *k = agency_key(), *back;
    char *text;
    size_t len;

    (void)state;
    assert_int_equal(am_keyfile_encode(k, NULL, 0, NULL, &text, &len), AM_OK);
    assert_int_equal(strlen(text), len);
    /* a person can tell what it is and whose */
    assert_non_null(strstr(text, "# amanat agency secret key"));
    assert_non_null(strstr(text, "of DE-BKA"));
    assert_false(am_keyfile_sealed(text, len));
    assert_int_equal(am_keyfile_decode(text, len, NULL, 0, &back), AM_OK);
    assert_int_equal(back->kind, AM_KEY_AGENCY_SECRET);
    assert_string_equal(back->owner, "DE-BKA");
    assert_memory_equal(back->key, k->key, 64);
    am_key_free(back);
    am_free(text);
    am_key_free(k);
}

static void test_sealed(void **state)
{
    am_key_t *k = agency_key(), *back = NULL;
    am_key_cost_t cost = FAST;
    char *text;
    size_t len;

    (void)state;
    assert_int_equal(am_keyfile_encode(k, "correct horse", 13, &cost, &text,
                                       &len), AM_OK);
    assert_true(am_keyfile_sealed(text, len));
    assert_null(strstr(text, "DE-BKA\n")); /* comment names it, key hidden */
    assert_int_equal(am_keyfile_decode(text, len, NULL, 0, &back), AM_EKEY);
    assert_int_equal(am_keyfile_decode(text, len, "wrong horse", 11, &back),
                     AM_ECRYPTO);
    assert_string_equal(am_err_detail(),
                        "wrong passphrase (or damaged key file)");
    assert_null(back);
    assert_int_equal(am_keyfile_decode(text, len, "correct horse", 13, &back),
                     AM_OK);
    assert_memory_equal(back->key, k->key, 64);
    am_key_free(back);
    am_free(text);
    am_key_free(k);
}

/* Decode the base64 line, change one byte of the binary form, re-encode. */
static char *tamper(const char *text, size_t at, uint8_t x)
{
    const char *b64 = strstr(text, "AMANAT-KEY ") + 11;
    uint8_t bin[1024];
    size_t n, cap;
    char *out;

    assert_int_equal(sodium_base642bin(bin, sizeof bin, b64, strcspn(b64, "\n"),
                                       NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    bin[at] ^= x;
    cap = (size_t)(b64 - text) + sodium_base64_ENCODED_LEN(n, 1) + 2;
    out = malloc(cap);
    assert_non_null(out);
    memcpy(out, text, (size_t)(b64 - text));
    sodium_bin2base64(out + (b64 - text), cap - (size_t)(b64 - text), bin, n,
                      sodium_base64_VARIANT_ORIGINAL);
    return out;
}

static void test_tampered_and_garbage(void **state)
{
    am_key_t *k = agency_key(), *back = NULL;
    am_key_cost_t cost = FAST;
    char *text, *bad;
    size_t len;

    (void)state;
    assert_int_equal(am_keyfile_encode(k, "pw", 2, &cost, &text, &len), AM_OK);
    /* the owner's first letter: bound as associated data */
    bad = tamper(text, 7, 0x01);
    assert_int_equal(am_keyfile_decode(bad, strlen(bad), "pw", 2, &back),
                     AM_ECRYPTO);
    free(bad);
    /* an Argon2id cost far above the ceiling is refused before any work */
    bad = tamper(text, 7 + 6 + 16 + 6, 0x7f);
    assert_int_equal(am_keyfile_decode(bad, strlen(bad), "pw", 2, &back),
                     AM_EPROTO);
    assert_non_null(strstr(am_err_detail(), "cost out of range"));
    free(bad);
    assert_int_equal(am_keyfile_decode("hello", 5, NULL, 0, &back), AM_EPROTO);
    assert_int_equal(am_keyfile_decode("AMANAT-KEY !!!!", 15, NULL, 0, &back),
                     AM_EPROTO);
    for (size_t cut = 0; cut + 1 < len; cut += 3)
        assert_int_not_equal(am_keyfile_decode(text, cut, "pw", 2, &back),
                             AM_OK);
    assert_null(back);
    am_free(text);
    am_key_free(k);
}

static void test_public_keys_never_sealed(void **state)
{
    uint8_t raw[32] = {1};
    am_key_cost_t cost = FAST;
    am_key_t *k;
    char *text = NULL;
    size_t len;

    (void)state;
    assert_int_equal(am_key_new(AM_KEY_ROOT_PUBLIC, "root", raw, 32, &k),
                     AM_OK);
    assert_int_equal(am_keyfile_encode(k, "pw", 2, &cost, &text, &len),
                     AM_EINVAL);
    assert_null(text);
    am_key_free(k);
    k = NULL;
    assert_int_equal(am_key_new(AM_KEY_ROOT_PUBLIC, "has space", raw, 32, &k),
                     AM_EINVAL);
    assert_null(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_round_trip),
        cmocka_unit_test(test_sealed),
        cmocka_unit_test(test_tampered_and_garbage),
        cmocka_unit_test(test_public_keys_never_sealed),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
