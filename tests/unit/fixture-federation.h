/* A small federation for tests: a root, a foreign root, and three
 * agencies (PK-NCCIA serial 10, DE-BKA 11, PH-NBI 12) with signing keys,
 * certificate X25519 keys and a prekey (id 5) each.  Include once per test
 * program; fed_setup/fed_teardown are cmocka group fixtures. */
#ifndef AM_FIXTURE_FEDERATION_H
#define AM_FIXTURE_FEDERATION_H

#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "cert.h"

#define NOW 1790000000

typedef struct {
    const char *id;
    uint8_t sign_pk[32], sign_sk[64], dh_pk[32], dh_sk[32];
    uint8_t pre_pk[32], pre_sk[32]; /* prekey 5 */
    uint8_t *cert;
    size_t cert_len;
} agency_t;

static uint8_t root_pk[32], root_sk[64], other_pk[32], other_sk[64];
static agency_t ag[3] = {{.id = "PK-NCCIA"}, {.id = "DE-BKA"},
                         {.id = "PH-NBI"}};

static int make_agency(agency_t *a, uint64_t serial, int64_t nb, int64_t na,
                       const uint8_t *sk, uint8_t **cert, size_t *len)
{
    am_cert_t c = {0};

    snprintf(c.agency_id, sizeof c.agency_id, "%s", a->id);
    snprintf(c.display_name, sizeof c.display_name, "%s unit", a->id);
    memcpy(c.country, a->id, 2);
    memcpy(c.sign_pk, a->sign_pk, 32);
    memcpy(c.dh_pk, a->dh_pk, 32);
    c.roles = AM_ROLE_AGENCY;
    snprintf(c.home_relay, sizeof c.home_relay, "%.2s-RELAY", a->id);
    c.not_before = nb;
    c.not_after = na;
    c.serial = serial;
    return am_cert_issue(&c, sk, cert, len);
}

static int fed_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || crypto_sign_keypair(root_pk, root_sk) != 0 ||
        crypto_sign_keypair(other_pk, other_sk) != 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        agency_t *a = &ag[i];
        if (crypto_sign_keypair(a->sign_pk, a->sign_sk) != 0 ||
            crypto_box_keypair(a->dh_pk, a->dh_sk) != 0 ||
            crypto_box_keypair(a->pre_pk, a->pre_sk) != 0 ||
            make_agency(a, (uint64_t)(10 + i), NOW - 100, NOW + 100000,
                        root_sk, &a->cert, &a->cert_len) != 0)
            return -1;
    }
    return 0;
}

static int fed_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        am_free(ag[i].cert);
    return 0;
}

#endif
