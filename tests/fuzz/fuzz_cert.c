/* fuzz_cert: am_cert_verify on untrusted certificates, and the
 * am_cert_issue -> am_cert_verify round trip.
 *
 * Input: one flag byte, then what the mode reads.
 *   bit 0  0: verify the rest as a SignedCertificate; 1: round trip
 *   bit 1  the policy requires AM_ROLE_AGENCY (else any role)
 *   bit 2  the policy holds the federation's revocation list
 *   bit 3  round trip: now is not_after (else not_before)
 *
 * Verify, under the fixed root at AM_FZ_NOW: on success the fields obey
 * the documented rules and the bytes carry the root's signature (checked
 * by am_fz_signed_by, which shares no code with cert.c), and issuing those
 * fields again verifies to the same; on failure the output is untouched,
 * the code is one cert.h lists and a sentence names the problem.  The
 * fuzzer cannot forge Ed25519, so successes come from genuine seeds.
 *
 * Round trip: the certificate's fields, in order: agency_id, display_name,
 * country, home_relay (each a length byte, then up to that many bytes),
 * roles (1), not_before, not_after, serial (8 each, big-endian), damage at
 * (2), damage xor (1), sign_pk and dh_pk (32 each; missing bytes are
 * zero).  When the root issues them: verifying gives the same fields, or
 * exactly the role or revocation refusal the policy calls for; issuing the
 * verified fields gives the same bytes; a foreign root's policy and the
 * copy with one byte damaged are refused.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "cert.h"
#include "err.h"
#include "fuzz_common.h"

enum {
    F_ROUND_TRIP = 1u << 0,
    F_ROLE = 1u << 1,
    F_CRL = 1u << 2,
    F_NOT_AFTER = 1u << 3,
};

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool printable(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* What cert.h promises of a certificate that verified under p. */
static void check_rules(const am_cert_t *c, const am_cert_policy_t *p)
{
    const unsigned known = AM_ROLE_AGENCY | AM_ROLE_RELAY | AM_ROLE_ROOT;

    AM_FZ_CHECK(terminated(c->agency_id, sizeof c->agency_id));
    AM_FZ_CHECK(terminated(c->display_name, sizeof c->display_name));
    AM_FZ_CHECK(terminated(c->country, sizeof c->country));
    AM_FZ_CHECK(terminated(c->home_relay, sizeof c->home_relay));
    AM_FZ_CHECK(am_agency_id_valid(c->agency_id));
    AM_FZ_CHECK(am_country_valid(c->country));
    AM_FZ_CHECK(memcmp(c->country, c->agency_id, 2) == 0);
    AM_FZ_CHECK(printable(c->display_name));
    AM_FZ_CHECK(c->roles != 0 && (c->roles & ~known) == 0);
    AM_FZ_CHECK(!(c->roles & AM_ROLE_AGENCY) ||
                am_agency_id_valid(c->home_relay));
    AM_FZ_CHECK(c->home_relay[0] == '\0' || am_agency_id_valid(c->home_relay));
    AM_FZ_CHECK(c->not_before <= p->now && p->now <= c->not_after);
    AM_FZ_CHECK(c->serial != 0);
    AM_FZ_CHECK(p->role == 0 || (c->roles & p->role) != 0);
    AM_FZ_CHECK(p->crl == NULL || !am_crl_revoked(p->crl, c->serial));
    AM_FZ_CHECK(memcmp(c->issuer_key_id, am_fz_fed()->root_id,
                       AM_KEY_ID_LEN) == 0);
}

static void check_same(const am_cert_t *a, const am_cert_t *b)
{
    AM_FZ_CHECK(strcmp(a->agency_id, b->agency_id) == 0);
    AM_FZ_CHECK(strcmp(a->display_name, b->display_name) == 0);
    AM_FZ_CHECK(strcmp(a->country, b->country) == 0);
    AM_FZ_CHECK(strcmp(a->home_relay, b->home_relay) == 0);
    AM_FZ_CHECK(memcmp(a->sign_pk, b->sign_pk, sizeof a->sign_pk) == 0);
    AM_FZ_CHECK(memcmp(a->dh_pk, b->dh_pk, sizeof a->dh_pk) == 0);
    AM_FZ_CHECK(a->roles == b->roles);
    AM_FZ_CHECK(a->not_before == b->not_before);
    AM_FZ_CHECK(a->not_after == b->not_after);
    AM_FZ_CHECK(a->serial == b->serial);
}

/* am_cert_verify with the promises of a failure checked: a listed code,
 * a sentence, *out untouched. */
static int verify(const uint8_t *in, size_t len, const am_cert_policy_t *p,
                  am_cert_t *out)
{
    am_cert_t before;
    int rc;

    memset(out, 0xa5, sizeof *out);
    before = *out;
    am_err_clear();
    rc = am_cert_verify(in, len, p, out);
    if (rc == 0)
        return 0;
    AM_FZ_CHECK(rc == AM_ETOOBIG || rc == AM_EPROTO || rc == AM_ECRYPTO ||
                rc == AM_EUNSUPPORTED || rc == AM_EEXPIRED ||
                rc == AM_EROLE || rc == AM_EREVOKED);
    AM_FZ_CHECK(am_err_detail()[0] != '\0');
    AM_FZ_CHECK(memcmp(out, &before, sizeof before) == 0);
    return rc;
}

/* Fields that verified are fields the root can issue, and they verify
 * again to the same. */
static void check_reissue(const am_cert_t *c, const am_cert_policy_t *p,
                          const uint8_t *orig, size_t orig_len)
{
    uint8_t *again = NULL;
    size_t again_len = 0;
    am_cert_t c2;

    AM_FZ_CHECK(am_cert_issue(c, am_fz_fed()->root_sk, &again,
                              &again_len) == 0);
    AM_FZ_CHECK(verify(again, again_len, p, &c2) == 0);
    check_same(c, &c2);
    if (orig != NULL) /* our own encoding: deterministic to the byte */
        AM_FZ_CHECK(again_len == orig_len &&
                    memcmp(again, orig, orig_len) == 0);
    am_free(again);
}

static void verify_untrusted(const uint8_t *in, size_t len,
                             const am_cert_policy_t *p)
{
    am_cert_t c;

    if (verify(in, len, p, &c) != 0)
        return;
    AM_FZ_CHECK(am_fz_signed_by(AM_TAG_CERT, in, len, am_fz_fed()->root_pk));
    check_rules(&c, p);
    check_reissue(&c, p, NULL, 0);
}

static void take_str(am_fz_in_t *in, char *dst, size_t cap)
{
    size_t n = am_fz_u8(in);

    if (n > cap - 1)
        n = cap - 1;
    if (n > am_fz_left(in))
        n = am_fz_left(in);
    memcpy(dst, in->p, n);
    dst[n] = '\0'; /* an embedded zero just ends the string early */
    in->p += n;
}

static void take_key(am_fz_in_t *in, uint8_t key[32])
{
    size_t n = am_fz_left(in) < 32 ? am_fz_left(in) : 32;

    memset(key, 0, 32);
    memcpy(key, in->p, n);
    in->p += n;
}

/* The damaged copy: one byte changed, never by xor 0. */
static void check_damaged(const uint8_t *cert, size_t len, size_t at,
                          unsigned x, const am_cert_policy_t *p)
{
    uint8_t *d = malloc(len);
    am_cert_t c;

    AM_FZ_CHECK(d != NULL);
    memcpy(d, cert, len);
    d[at % len] ^= (uint8_t)(x != 0 ? x : 0x80u);
    AM_FZ_CHECK(verify(d, len, p, &c) != 0);
    free(d);
}

static void round_trip(uint8_t flags, am_fz_in_t *in, am_cert_policy_t *p)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_cert_policy_t foreign;
    uint8_t *cert = NULL;
    size_t cert_len = 0, at;
    unsigned x;
    am_cert_t c, got;
    int rc, want = 0;

    memset(&c, 0, sizeof c);
    take_str(in, c.agency_id, sizeof c.agency_id);
    take_str(in, c.display_name, sizeof c.display_name);
    take_str(in, c.country, sizeof c.country);
    take_str(in, c.home_relay, sizeof c.home_relay);
    c.roles = am_fz_u8(in);
    c.not_before = (int64_t)am_fz_be64(in);
    c.not_after = (int64_t)am_fz_be64(in);
    c.serial = am_fz_be64(in);
    at = am_fz_u8(in) << 8;
    at |= am_fz_u8(in);
    x = am_fz_u8(in);
    take_key(in, c.sign_pk);
    take_key(in, c.dh_pk);

    rc = am_cert_issue(&c, f->root_sk, &cert, &cert_len);
    if (rc != 0) {
        AM_FZ_CHECK(rc == AM_EINVAL && cert == NULL);
        return;
    }
    AM_FZ_CHECK(cert != NULL && cert_len > 0 && cert_len <= AM_CERT_MAX);
    p->now = (flags & F_NOT_AFTER) ? c.not_after : c.not_before;
    if (p->role != 0 && !(c.roles & p->role))
        want = AM_EROLE;
    else if (p->crl != NULL && am_crl_revoked(p->crl, c.serial))
        want = AM_EREVOKED;
    rc = verify(cert, cert_len, p, &got);
    AM_FZ_CHECK(rc == want);
    p->role = 0;
    p->crl = NULL;
    AM_FZ_CHECK(verify(cert, cert_len, p, &got) == 0);
    check_same(&c, &got);
    check_rules(&got, p);
    check_reissue(&got, p, cert, cert_len);

    foreign = *p;
    foreign.root_pk = f->other_pk;
    AM_FZ_CHECK(verify(cert, cert_len, &foreign, &got) == AM_ECRYPTO);
    check_damaged(cert, cert_len, at, x, p);
    am_free(cert);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_fz_in_t in = {data, data + size};
    uint8_t flags = (uint8_t)am_fz_u8(&in);
    am_cert_policy_t p = {
        .root_pk = f->root_pk,
        .now = AM_FZ_NOW,
        .role = (flags & F_ROLE) ? AM_ROLE_AGENCY : 0,
        .crl = (flags & F_CRL) ? f->crl : NULL,
    };

    if (flags & F_ROUND_TRIP)
        round_trip(flags, &in, &p);
    else
        verify_untrusted(in.p, am_fz_left(&in), &p);
    return 0;
}
