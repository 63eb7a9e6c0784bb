/* fuzz_crl: am_crl_verify on untrusted revocation lists, and the
 * am_crl_issue -> am_crl_verify round trip.
 *
 * Input: one flag byte (bit 0: round trip), then what the mode reads.
 *
 * Verify: the held sequence (8, big-endian), then the RevocationList.
 * Under the fixed root: on success the bytes carry the root's signature
 * (am_fz_signed_by), the sequence is not below the held one, the list
 * reports revoked exactly the serials its body lists (decoded here with
 * protobuf-c alone), holding its own sequence still accepts it and holding
 * the next refuses it (AM_ESTALE); on failure the output is untouched, the
 * code is one cert.h allows and a sentence names the problem.
 *
 * Round trip: sequence, issued_at (8 each), damage at (2), damage xor
 * (1), then entries to the end: serial (8), agency id choice (1), reason
 * length (1) and up to that many bytes.  When the root issues the list,
 * it verifies with that sequence, every issued serial is revoked and one
 * not issued is not, a foreign root and the copy with one byte damaged
 * are refused.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "cert.h"
#include "err.h"
#include "fuzz_common.h"
#include "identity.pb-c.h"

#define MAX_ENTRIES 512
#define REASON_MAX 64

static const char *const ids[] = {"PK-NCCIA", "DE-BKA", NULL, "", "XX-BAD",
                                  "PH-NBI-OLD-SERIES7"};

/* am_crl_verify with the promises of a failure checked. */
static int verify(const uint8_t *in, size_t len, const uint8_t *root_pk,
                  uint64_t held, am_crl_t **out)
{
    am_crl_t *const sentinel = (am_crl_t *)(uintptr_t)0x5a5a5a5a;
    int rc;

    *out = sentinel;
    am_err_clear();
    rc = am_crl_verify(in, len, root_pk, held, out);
    if (rc == 0) {
        AM_FZ_CHECK(*out != NULL && *out != sentinel);
        return 0;
    }
    AM_FZ_CHECK(rc == AM_ETOOBIG || rc == AM_EPROTO || rc == AM_ECRYPTO ||
                rc == AM_EUNSUPPORTED || rc == AM_ESTALE);
    AM_FZ_CHECK(am_err_detail()[0] != '\0');
    AM_FZ_CHECK(*out == sentinel);
    *out = NULL;
    return rc;
}

static bool listed(const uint64_t *serials, size_t n, uint64_t s)
{
    for (size_t i = 0; i < n; i++)
        if (serials[i] == s)
            return true;
    return false;
}

/* A serial missing from the list, searched upwards from start. */
static uint64_t unlisted(const uint64_t *serials, size_t n, uint64_t start)
{
    while (listed(serials, n, start))
        start++;
    return start;
}

static void check_revoked(const am_crl_t *crl, const uint64_t *serials,
                          size_t n, uint64_t probe)
{
    for (size_t i = 0; i < n; i++)
        AM_FZ_CHECK(am_crl_revoked(crl, serials[i]));
    AM_FZ_CHECK(!am_crl_revoked(crl, unlisted(serials, n, probe)));
}

/* Held sequences around the list's own: equal accepted, above refused. */
static void check_sequence(const uint8_t *in, size_t len, uint64_t seq)
{
    am_crl_t *crl;

    AM_FZ_CHECK(verify(in, len, am_fz_fed()->root_pk, seq, &crl) == 0);
    AM_FZ_CHECK(am_crl_sequence(crl) == seq);
    am_crl_free(crl);
    if (seq < UINT64_MAX)
        AM_FZ_CHECK(verify(in, len, am_fz_fed()->root_pk, seq + 1, &crl) ==
                    AM_ESTALE);
    AM_FZ_CHECK(verify(in, len, am_fz_fed()->other_pk, 0, &crl) ==
                AM_ECRYPTO);
}

/* The serials of a verified list, read without cert.c. */
static uint64_t *body_serials(const uint8_t *in, size_t len, size_t *n,
                              uint64_t *seq)
{
    Amanat__V1__RevocationList *s;
    Amanat__V1__RevocationListBody *b;
    uint64_t *serials;

    s = amanat__v1__revocation_list__unpack(NULL, len, in);
    AM_FZ_CHECK(s != NULL);
    b = amanat__v1__revocation_list_body__unpack(NULL, s->body.len,
                                                 s->body.data);
    AM_FZ_CHECK(b != NULL);
    AM_FZ_CHECK(b->version == 1);
    AM_FZ_CHECK(b->issuer_key_id.len == AM_KEY_ID_LEN &&
                memcmp(b->issuer_key_id.data, am_fz_fed()->root_id,
                       AM_KEY_ID_LEN) == 0);
    serials = malloc((b->n_revoked + 1) * sizeof *serials);
    AM_FZ_CHECK(serials != NULL);
    for (size_t i = 0; i < b->n_revoked; i++)
        serials[i] = b->revoked[i]->serial;
    *n = b->n_revoked;
    *seq = b->sequence;
    amanat__v1__revocation_list_body__free_unpacked(b, NULL);
    amanat__v1__revocation_list__free_unpacked(s, NULL);
    return serials;
}

static void verify_untrusted(am_fz_in_t *in)
{
    const am_fz_fed_t *f = am_fz_fed();
    uint64_t held = am_fz_be64(in), seq, *serials;
    am_crl_t *crl;
    size_t n;

    if (verify(in->p, am_fz_left(in), f->root_pk, held, &crl) != 0)
        return;
    AM_FZ_CHECK(am_fz_signed_by(AM_TAG_CRL, in->p, am_fz_left(in),
                                f->root_pk));
    serials = body_serials(in->p, am_fz_left(in), &n, &seq);
    AM_FZ_CHECK(am_crl_sequence(crl) == seq && seq >= held);
    check_revoked(crl, serials, n, held);
    check_sequence(in->p, am_fz_left(in), seq);
    free(serials);
    am_crl_free(crl);
}

static void check_damaged(const uint8_t *list, size_t len, size_t at,
                          unsigned x)
{
    uint8_t *d = malloc(len);
    am_crl_t *crl;

    AM_FZ_CHECK(d != NULL);
    memcpy(d, list, len);
    d[at % len] ^= (uint8_t)(x != 0 ? x : 0x80u);
    AM_FZ_CHECK(verify(d, len, am_fz_fed()->root_pk, 0, &crl) != 0);
    free(d);
}

static void round_trip(am_fz_in_t *in)
{
    static am_revoked_t r[MAX_ENTRIES];
    static char reasons[MAX_ENTRIES][REASON_MAX + 1];
    static uint64_t serials[MAX_ENTRIES];
    const am_fz_fed_t *f = am_fz_fed();
    uint64_t seq = am_fz_be64(in);
    int64_t issued_at = (int64_t)am_fz_be64(in);
    size_t n = 0, at = am_fz_u8(in) << 8, len = 0;
    unsigned x;
    uint8_t *list = NULL;
    am_crl_t *crl;
    int rc;

    at |= am_fz_u8(in);
    x = am_fz_u8(in);
    while (am_fz_left(in) > 0 && n < MAX_ENTRIES) {
        size_t rlen;

        serials[n] = am_fz_be64(in);
        r[n].serial = serials[n];
        r[n].agency_id = ids[am_fz_u8(in) % (sizeof ids / sizeof ids[0])];
        r[n].revoked_at = issued_at ^ (int64_t)n;
        rlen = am_fz_u8(in);
        rlen = rlen > REASON_MAX ? REASON_MAX : rlen;
        rlen = rlen > am_fz_left(in) ? am_fz_left(in) : rlen;
        memcpy(reasons[n], in->p, rlen);
        reasons[n][rlen] = '\0';
        in->p += rlen;
        r[n].reason = rlen > 0 ? reasons[n] : NULL;
        n++;
    }
    rc = am_crl_issue(f->root_sk, seq, issued_at, r, n, &list, &len);
    if (seq == 0) {
        AM_FZ_CHECK(rc == AM_EINVAL && list == NULL);
        return;
    }
    AM_FZ_CHECK(rc == 0 && list != NULL && len > 0);
    AM_FZ_CHECK(am_fz_signed_by(AM_TAG_CRL, list, len, f->root_pk));
    AM_FZ_CHECK(verify(list, len, f->root_pk, seq, &crl) == 0);
    check_revoked(crl, serials, n, seq);
    am_crl_free(crl);
    check_sequence(list, len, seq);
    check_damaged(list, len, at, x);
    am_free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_fz_in_t in = {data, data + size};

    (void)am_fz_fed();
    if (am_fz_u8(&in) & 1u)
        round_trip(&in);
    else
        verify_untrusted(&in);
    return 0;
}
