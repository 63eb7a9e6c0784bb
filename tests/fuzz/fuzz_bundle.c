/* fuzz_bundle: am_bundle_verify on untrusted bundles, and the
 * am_bundle_build -> am_bundle_verify round trip with damage.
 *
 * Input: one mode byte (low two bits), then what the mode reads.
 *   0  verify: the rest is a bundle, checked under the fixed root with no
 *      clock (now 0)
 *   2  verify the rest with its digest put right first (when it is long
 *      enough to hold one): mutations then reach past the digest check to
 *      the canonical form and the signatures
 *   1  build: how (1, AM_FZB_* bits), rng seed (1), damage at (2,
 *      big-endian), damage xor (1), flags (1: bit 0 puts the digest right
 *      after the damage, as a deliberate edit would)
 *
 * Verify: a failure has a code bundle.h lists and a sentence, and leaves
 * the report alone; a success (only genuine seeds can give one: the
 * fuzzer cannot forge Ed25519) has a report whose facts are in time
 * order, each signed by a party the report lists, starting from the
 * envelope's sending and with at least one ACCEPTED; and the same bytes
 * are refused under another root, one byte shorter, and with one byte
 * (chosen from the input) changed, digest put right or not.
 *
 * Build: am_fzb_make's bundle verifies with as many facts as it has
 * items, the same input builds the same bytes, and the copy with one byte
 * changed is refused.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bundle.h"
#include "err.h"
#include "fuzz_bundle.h"
#include "fuzz_common.h"

#define SENTINEL ((size_t)0x5a5a5a5a)

static am_bundle_report_t rep; /* ~120 KiB */

static bool listed(const am_bundle_report_t *r, const char *id)
{
    if (strcmp(r->sender.agency_id, id) == 0)
        return true;
    for (size_t i = 0; i < r->n_recipients; i++)
        if (strcmp(r->recipients[i].agency_id, id) == 0)
            return true;
    for (size_t i = 0; i < r->n_relays; i++)
        if (strcmp(r->relays[i].agency_id, id) == 0)
            return true;
    return false;
}

static void check_report(const am_bundle_report_t *r)
{
    bool accepted = false;

    AM_FZ_CHECK(r->n_recipients >= 1 &&
                r->n_recipients <= AM_BUNDLE_MAX_RECIPIENTS);
    AM_FZ_CHECK(r->n_relays >= 1 && r->n_relays <= AM_BUNDLE_MAX_RELAYS);
    AM_FZ_CHECK(r->n_facts >= 2 && r->n_facts <= AM_BUNDLE_MAX_FACTS);
    for (size_t i = 0; i < r->n_facts; i++) {
        const am_bundle_fact_t *f = &r->facts[i];

        AM_FZ_CHECK(f->kind >= AM_FACT_SENT && f->kind <= AM_FACT_DAMAGED);
        AM_FZ_CHECK(listed(r, f->signer));
        AM_FZ_CHECK(!f->signer_revoked || f->signer_revoked_at > f->signed_by);
        AM_FZ_CHECK(i == 0 || r->facts[i - 1].time <= f->time);
        AM_FZ_CHECK((f->kind == AM_FACT_SENT) == (f->item == 0));
        accepted = accepted || f->kind == AM_FACT_ACCEPTED;
        if (f->kind == AM_FACT_SENT)
            AM_FZ_CHECK(f->time == r->created_at &&
                        strcmp(f->signer, r->sender.agency_id) == 0);
    }
    AM_FZ_CHECK(accepted);
}

/* 0, or a code bundle.h lists with a sentence and the report alone. */
static int verify(const uint8_t *in, size_t len, const uint8_t *root)
{
    int rc;

    rep.n_facts = SENTINEL;
    am_err_clear();
    rc = am_bundle_verify(in, len, root, 0, &rep);
    if (rc == 0) {
        check_report(&rep);
        return 0;
    }
    AM_FZ_CHECK(rc == AM_ETOOBIG || rc == AM_EPROTO ||
                rc == AM_EUNSUPPORTED || rc == AM_ECRYPTO ||
                rc == AM_EEXPIRED || rc == AM_EROLE || rc == AM_EREVOKED);
    AM_FZ_CHECK(am_err_detail()[0] != '\0');
    AM_FZ_CHECK(rep.n_facts == SENTINEL);
    return rc;
}

/* A copy of a verified bundle with byte at ^ x (x != 0), the digest put
 * right when redigest and the byte is not in it, must be refused. */
static void check_damaged(const uint8_t *in, size_t len, size_t at,
                          unsigned x, bool redigest)
{
    uint8_t *d = am_malloc(len);

    AM_FZ_CHECK(d != NULL);
    memcpy(d, in, len);
    at %= len;
    d[at] ^= (uint8_t)(x != 0 ? x : 0x80u);
    if (redigest && at < len - AM_HASH_LEN && len >= AM_BUNDLE_DIGEST_FIELD_LEN)
        AM_FZ_CHECK(am_hash256(d, len - AM_BUNDLE_DIGEST_FIELD_LEN,
                               d + len - AM_HASH_LEN) == 0);
    AM_FZ_CHECK(verify(d, len, am_fz_fed()->root_pk) != 0);
    am_free(d);
}

static void verify_mode(const uint8_t *in, size_t len)
{
    am_bundle_report_t *first;
    uint8_t h[8];

    if (verify(in, len, am_fz_fed()->root_pk) != 0)
        return;
    first = am_malloc(sizeof *first);
    AM_FZ_CHECK(first != NULL);
    memcpy(first, &rep, sizeof *first);
    AM_FZ_CHECK(verify(in, len, am_fz_fed()->root_pk) == 0);
    AM_FZ_CHECK(memcmp(first, &rep, sizeof rep) == 0);
    am_free(first);
    AM_FZ_CHECK(verify(in, len, am_fz_fed()->other_pk) != 0);
    AM_FZ_CHECK(verify(in, len - 1, am_fz_fed()->root_pk) != 0);
    AM_FZ_CHECK(crypto_generichash(h, sizeof h, in, len, NULL, 0) == 0);
    check_damaged(in, len, (size_t)h[0] << 8 | h[1], h[2], h[3] & 1u);
}

static void build_mode(am_fz_in_t *in)
{
    unsigned how = am_fz_u8(in), seed = am_fz_u8(in), x, flags;
    size_t at = am_fz_u8(in) << 8, len, len2, n_facts, n2;
    uint8_t *b = NULL, *again = NULL;

    at |= am_fz_u8(in);
    x = am_fz_u8(in);
    flags = am_fz_u8(in);
    AM_FZ_CHECK(am_fzb_make(how, seed, &b, &len, &n_facts) == 0);
    AM_FZ_CHECK(am_fzb_make(how, seed, &again, &len2, &n2) == 0);
    AM_FZ_CHECK(len == len2 && memcmp(b, again, len) == 0);
    AM_FZ_CHECK(verify(b, len, am_fz_fed()->root_pk) == 0);
    AM_FZ_CHECK(rep.n_facts == n_facts);
    check_damaged(b, len, at, x, flags & 1u);
    am_free(again);
    am_free(b);
}

/* The input with the digest put right, as an editor would. */
static void redigest_mode(const uint8_t *in, size_t len)
{
    uint8_t *d;

    if (len < AM_BUNDLE_DIGEST_FIELD_LEN) {
        verify_mode(in, len);
        return;
    }
    d = am_malloc(len);
    AM_FZ_CHECK(d != NULL);
    memcpy(d, in, len);
    AM_FZ_CHECK(am_hash256(d, len - AM_BUNDLE_DIGEST_FIELD_LEN,
                           d + len - AM_HASH_LEN) == 0);
    verify_mode(d, len);
    am_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_fz_in_t in = {data, data + size};
    unsigned mode;

    (void)am_fz_fed();
    mode = am_fz_u8(&in);
    if (mode & 1u)
        build_mode(&in);
    else if (mode & 2u)
        redigest_mode(in.p, am_fz_left(&in));
    else
        verify_mode(in.p, am_fz_left(&in));
    return 0;
}
