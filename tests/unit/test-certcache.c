/* The relay's cache of root-verified certificates: a certificate is
 * verified once, then answered from the table; a forged or foreign one is
 * refused every time and never enters; the table stays bounded; workers
 * may use it at once. */
#include "test-util.h"

#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "certcache.h"
#include "err.h"

#define NOW 1790000000 /* 2026-09-21 */

static uint8_t root_pk[32], root_sk[64], other_pk[32], other_sk[64];

/* A certificate of agency PK-A<n> signed by sk (am_free the result). */
static uint8_t *issue(unsigned n, const uint8_t *sk, size_t *len)
{
    am_cert_t c;
    uint8_t *out = NULL;

    memset(&c, 0, sizeof c);
    snprintf(c.agency_id, sizeof c.agency_id, "PK-A%u", n);
    snprintf(c.display_name, sizeof c.display_name, "Agency %u", n);
    snprintf(c.country, sizeof c.country, "%s", "PK");
    randombytes_buf(c.sign_pk, sizeof c.sign_pk);
    randombytes_buf(c.dh_pk, sizeof c.dh_pk);
    c.roles = AM_ROLE_AGENCY;
    snprintf(c.home_relay, sizeof c.home_relay, "%s", "PK-RELAY");
    c.not_before = NOW - 86400;
    c.not_after = NOW + 86400;
    c.serial = n + 1;
    assert_int_equal(am_cert_issue(&c, sk, &out, len), AM_OK);
    return out;
}

static void expect_stats(am_certcache_t *cc, uint64_t hits, uint64_t misses)
{
    uint64_t h, m;

    am_certcache_stats(cc, &h, &m);
    assert_int_equal(h, hits);
    assert_int_equal(m, misses);
}

static void test_hit_after_verify(void **state)
{
    am_certcache_t *cc;
    am_cert_t a, b;
    size_t len;
    uint8_t *cert = issue(1, root_sk, &len);

    (void)state;
    assert_int_equal(am_certcache_new(&cc), AM_OK);
    assert_int_equal(am_certcache_verify(cc, cert, len, root_pk, &a), AM_OK);
    expect_stats(cc, 0, 1);
    assert_int_equal(am_certcache_verify(cc, cert, len, root_pk, &b), AM_OK);
    expect_stats(cc, 1, 1);
    assert_string_equal(a.agency_id, "PK-A1");
    assert_string_equal(b.agency_id, "PK-A1");
    assert_memory_equal(a.dh_pk, b.dh_pk, 32);
    assert_int_equal(b.serial, 2);
    /* the same bytes under another root: not a hit, and refused */
    assert_int_equal(am_certcache_verify(cc, cert, len, other_pk, &b),
                     AM_ECRYPTO);
    expect_stats(cc, 1, 2);
    am_certcache_free(cc);
    am_free(cert);
}

static void test_refused_never_cached(void **state)
{
    am_certcache_t *cc;
    am_cert_t c;
    size_t len;
    uint8_t *foreign = issue(2, other_sk, &len), *forged;

    (void)state;
    assert_int_equal(am_certcache_new(&cc), AM_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(am_certcache_verify(cc, foreign, len, root_pk, &c),
                         AM_ECRYPTO);
    expect_stats(cc, 0, 3);
    forged = issue(3, root_sk, &len);
    forged[len - 1] ^= 0x01; /* the signature's last byte */
    for (int i = 0; i < 3; i++)
        assert_int_equal(am_certcache_verify(cc, forged, len, root_pk, &c),
                         AM_ECRYPTO);
    expect_stats(cc, 0, 6);
    assert_int_equal(am_certcache_verify(cc, forged, AM_CERT_MAX + 1, root_pk,
                                         &c), AM_ETOOBIG);
    am_certcache_free(cc);
    am_free(foreign);
    am_free(forged);
}

/* More certificates than slots: the least recently used go, the one used
 * again stays. */
static void test_bounded(void **state)
{
    am_certcache_t *cc;
    am_cert_t c;
    size_t len0, len1, len;
    uint8_t *first = issue(0, root_sk, &len0), *second = NULL, *cert;
    uint64_t misses = 1;

    (void)state;
    assert_int_equal(am_certcache_new(&cc), AM_OK);
    assert_int_equal(am_certcache_verify(cc, first, len0, root_pk, &c), AM_OK);
    for (unsigned i = 1; i <= AM_CERTCACHE_SLOTS + 8; i++) {
        cert = issue(i, root_sk, &len);
        assert_int_equal(am_certcache_verify(cc, cert, len, root_pk, &c),
                         AM_OK);
        misses++;
        if (i == 1) {
            second = cert;
            len1 = len;
        } else {
            am_free(cert);
        }
        if (i == AM_CERTCACHE_SLOTS / 2) /* first used again */
            assert_int_equal(am_certcache_verify(cc, first, len0, root_pk,
                                                 &c), AM_OK);
    }
    expect_stats(cc, 1, misses);
    /* 9 went, the oldest unused: second among them, not first */
    assert_int_equal(am_certcache_verify(cc, first, len0, root_pk, &c), AM_OK);
    expect_stats(cc, 2, misses);
    assert_int_equal(am_certcache_verify(cc, second, len1, root_pk, &c), AM_OK);
    expect_stats(cc, 2, misses + 1);
    assert_string_equal(c.agency_id, "PK-A1");
    am_certcache_free(cc);
    am_free(first);
    am_free(second);
}

typedef struct {
    am_certcache_t *cc;
    uint8_t *cert[4];
    size_t len[4];
    int failures;
} shared_t;

static void *worker(void *arg)
{
    shared_t *s = arg;
    am_cert_t c;

    for (int i = 0; i < 200; i++)
        if (am_certcache_verify(s->cc, s->cert[i % 4], s->len[i % 4], root_pk,
                                &c) != 0 ||
            c.serial != (uint64_t)(i % 4) + 11)
            s->failures++;
    return NULL;
}

static void test_threads(void **state)
{
    shared_t s[4];
    pthread_t t[4];
    uint64_t h, m;
    am_certcache_t *cc;
    uint8_t *cert[4];
    size_t len[4];

    (void)state;
    assert_int_equal(am_certcache_new(&cc), AM_OK);
    for (int i = 0; i < 4; i++)
        cert[i] = issue((unsigned)i + 10, root_sk, &len[i]);
    for (int i = 0; i < 4; i++) {
        s[i].cc = cc;
        memcpy(s[i].cert, cert, sizeof cert);
        memcpy(s[i].len, len, sizeof len);
        s[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker, &s[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(s[i].failures, 0);
    }
    am_certcache_stats(cc, &h, &m);
    assert_int_equal(h + m, 800);
    assert_true(m >= 4 && m <= 16); /* each at most once per thread */
    am_certcache_free(cc);
    for (int i = 0; i < 4; i++)
        am_free(cert[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_after_verify),
        cmocka_unit_test(test_refused_never_cached),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_threads),
    };

    if (sodium_init() < 0 ||
        crypto_sign_keypair(root_pk, root_sk) != 0 ||
        crypto_sign_keypair(other_pk, other_sk) != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
