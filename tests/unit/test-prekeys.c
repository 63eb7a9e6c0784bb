/* Prekey rotation on disk: a new prekey each period, a replaced secret
 * deleted after the grace period, and then an envelope wrapped to it no
 * longer opens (forward secrecy). */
#include "test-util.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "envelope.h"
#include "err.h"
#include "fixture-federation.h"
#include "fsutil.h"
#include "prekeys.h"

#define DAY 86400

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    return t_make_dir(dir, sizeof dir, "prekeys");
}

static int remove_dir(void **state)
{
    (void)state;
    return t_remove_dir(dir);
}

static void rotate(int64_t at, uint32_t created, unsigned deleted,
                   uint32_t current)
{
    am_prekey_policy_t pol = {7 * DAY, 2 * DAY};
    am_prekey_rotation_t r;

    assert_int_equal(am_prekeys_rotate(dir, "DE-BKA", ag[1].sign_sk, at, &pol,
                                       &r), AM_OK);
    assert_int_equal(r.created_id, created);
    assert_int_equal(r.deleted, deleted);
    assert_int_equal(r.current_id, current);
}

/* The published half of prekey id, verified against DE-BKA's certificate. */
static void published(uint32_t id, int64_t created, am_prekey_t *p)
{
    am_cert_policy_t pol = {root_pk, NOW, AM_ROLE_AGENCY, NULL};
    char path[256];
    uint8_t *b;
    size_t len;
    mode_t mode;
    am_cert_t de;

    assert_int_equal(am_cert_verify(ag[1].cert, ag[1].cert_len, &pol, &de),
                     AM_OK);
    snprintf(path, sizeof path, "%s/prekey-%u-%lld.signed", dir, id,
             (long long)created);
    assert_int_equal(am_file_read(path, 4096, &b, &len, NULL), AM_OK);
    assert_int_equal(am_prekey_verify(b, len, &de, created, p), AM_OK);
    am_free(b);
    snprintf(path, sizeof path, "%s/prekey-%u-%lld.secret", dir, id,
             (long long)created);
    assert_int_equal(am_file_read(path, 4096, &b, &len, &mode), AM_OK);
    assert_int_equal(mode, 0600);
    am_free(b);
}

static void test_rotation_and_forward_secrecy(void **state)
{
    am_env_params_t p = {"PK-NCCIA", 10, ag[0].sign_sk, NOW, NOW + 3600,
                         AM_PRIORITY_URGENT, NULL, NULL};
    am_cert_policy_t pol = {root_pk, NOW, AM_ROLE_AGENCY, NULL};
    uint8_t sk[32], *e, *plain;
    size_t len, plain_len;
    am_prekey_t pre;
    am_cert_t pk;
    am_env_t *env;

    (void)state;
    rotate(NOW, 1, 0, 1);
    rotate(NOW + DAY, 0, 0, 1);
    published(1, NOW, &pre);
    /* a sender wraps to the published prekey 1 */
    {
        am_env_recipient_t r = {"DE-BKA", pre.dh_pk, pre.prekey_id};
        assert_int_equal(am_env_seal(&p, &r, 1, (const uint8_t *)"x", 1, &e,
                                     &len), AM_OK);
    }
    rotate(NOW + 7 * DAY, 2, 0, 2);     /* 1 replaced, kept for the grace */
    rotate(NOW + 8 * DAY, 0, 0, 2);
    assert_int_equal(am_prekeys_secret(dir, 1, sk), AM_OK);
    assert_int_equal(am_env_parse(e, len, AM_ENV_MAX, &env), AM_OK);
    assert_int_equal(am_cert_verify(ag[0].cert, ag[0].cert_len, &pol, &pk),
                     AM_OK);
    assert_int_equal(am_env_verify(env, &pk), AM_OK);
    assert_int_equal(am_env_open(env, "DE-BKA", sk, &plain, &plain_len), AM_OK);
    am_free(plain);
    rotate(NOW + 9 * DAY, 0, 1, 2);     /* grace over: secret 1 deleted */
    assert_int_equal(am_prekeys_secret(dir, 1, sk), AM_EKEY);
    assert_string_equal(am_err_detail(), "unknown prekey id 1");
    assert_int_equal(am_prekeys_secret(dir, 2, sk), AM_OK);
    /* the envelope of the old prekey cannot be opened any more */
    assert_int_not_equal(am_env_open(env, "DE-BKA", sk, &plain, &plain_len),
                         AM_OK);
    am_env_free(env);
    am_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation_and_forward_secrecy,
                                        make_dir, remove_dir),
    };

    return cmocka_run_group_tests(tests, fed_setup, fed_teardown);
}
