/* fuzz_envelope: the receiving path of sealed envelopes on untrusted
 * bytes, and seal -> open round trips.
 *
 * Input: one mode byte (low two bits), then what the mode reads.
 *   0, 3  receive: the rest is an Envelope
 *   1     seal: how (1, AM_FZ_SEAL_* bits), rng seed (1), content (rest)
 *   2     damage: how (1), rng seed (1), damage at (2, big-endian),
 *         damage xor (1), content (rest)
 *
 * Receiving is what a client does: am_env_parse; look the claimed sender
 * up among the fixed agencies; am_env_verify with its certificate (after
 * a copy holding another agency's key, which must fail); then for each fixed
 * agency the envelope names, am_env_wrap_prekey and am_env_open with the
 * key that prekey id names (and the other key, which must fail).  Checked
 * on the way: failures leave outputs untouched with a listed code and a
 * sentence; nothing is readable before the signature verifies; a verified
 * envelope carries the sender's signature (checked here without
 * envelope.c), its hash is BLAKE2b-256 of the bytes, and, since only
 * am_env_seal can make one (the fuzzer cannot forge Ed25519), it opens
 * for every fixed recipient it names.
 *
 * Seal: am_fz_seal with the fixed keys and a deterministic rng (the same
 * input seals the same bytes); what it seals opens to the same content
 * for each recipient, with the header fields it was given.  Damage: a
 * genuine envelope with one byte changed never verifies.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bytes.h"
#include "envelope.h"
#include "envelope.pb-c.h"
#include "err.h"
#include "fuzz_common.h"

typedef struct {
    bool verified;
    int priority;
    int64_t created_at, expires_at;
    size_t n_rcpt;
    const char *rcpt[AM_ENV_MAX_RECIPIENTS]; /* fixed ids, or "?" */
    bool opened[AM_FZ_N_AGENCIES];
    uint8_t *plain[AM_FZ_N_AGENCIES];
    size_t plain_len[AM_FZ_N_AGENCIES];
} rx_t;

static void rx_free(rx_t *rx)
{
    for (int i = 0; i < AM_FZ_N_AGENCIES; i++)
        am_free(rx->plain[i]);
}

static void check_failure(int rc)
{
    AM_FZ_CHECK(rc < 0);
    AM_FZ_CHECK(am_err_detail()[0] != '\0');
}

/* Before am_env_verify nothing is readable and nothing opens. */
static void check_unverified(const am_env_t *env)
{
    const am_fz_agency_t *r = &am_fz_fed()->ag[AM_FZ_RCPT];
    uint8_t *plain = (uint8_t *)(uintptr_t)0x5a5a;
    size_t plain_len = 7;

    AM_FZ_CHECK(am_env_message_id(env) == NULL);
    AM_FZ_CHECK(am_env_priority(env) == 0);
    AM_FZ_CHECK(am_env_created_at(env) == 0 && am_env_expires_at(env) == 0);
    AM_FZ_CHECK(am_env_recipient_count(env) == 0);
    AM_FZ_CHECK(am_env_recipient(env, 0) == NULL);
    AM_FZ_CHECK(am_env_hash(env) == NULL);
    AM_FZ_CHECK(am_env_open(env, r->id, r->dh_sk, &plain, &plain_len) ==
                AM_ESTATE);
    AM_FZ_CHECK(plain == (uint8_t *)(uintptr_t)0x5a5a && plain_len == 7);
}

/* The sender's signature over u32 BE header length || header ||
 * BLAKE2b-256(ciphertext), as docs/PROTOCOL.md defines it, checked with
 * protobuf-c and libsodium only. */
static bool sender_signed(const uint8_t *in, size_t len, const uint8_t *pk)
{
    static const char tag[] = AM_TAG_ENVELOPE;
    Amanat__V1__Envelope *e;
    uint8_t *m;
    size_t hl, mlen;
    bool ok = false;

    if ((e = amanat__v1__envelope__unpack(NULL, len, in)) == NULL)
        return false;
    hl = e->header.len;
    mlen = sizeof tag + 4 + hl + AM_HASH_LEN;
    if (e->signature.len == crypto_sign_BYTES && hl <= UINT32_MAX &&
        (m = malloc(mlen)) != NULL) {
        memcpy(m, tag, sizeof tag); /* with its NUL */
        am_store_be32(m + sizeof tag, (uint32_t)hl);
        if (hl > 0)
            memcpy(m + sizeof tag + 4, e->header.data, hl);
        crypto_generichash(m + sizeof tag + 4 + hl, AM_HASH_LEN,
                           e->ciphertext.data, e->ciphertext.len, NULL, 0);
        ok = crypto_sign_verify_detached(e->signature.data, m, mlen, pk) == 0;
        free(m);
    }
    amanat__v1__envelope__free_unpacked(e, NULL);
    return ok;
}

static void check_verified(const am_env_t *env, const uint8_t *in,
                           size_t len, const am_fz_agency_t *from, rx_t *rx)
{
    uint8_t h[AM_HASH_LEN];

    AM_FZ_CHECK(sender_signed(in, len, from->sign_pk));
    AM_FZ_CHECK(crypto_generichash(h, sizeof h, in, len, NULL, 0) == 0);
    AM_FZ_CHECK(am_env_hash(env) != NULL &&
                memcmp(am_env_hash(env), h, sizeof h) == 0);
    AM_FZ_CHECK(am_env_message_id(env) != NULL);
    rx->priority = am_env_priority(env);
    AM_FZ_CHECK(rx->priority >= AM_PRIORITY_ROUTINE &&
                rx->priority <= AM_PRIORITY_EMERGENCY);
    rx->created_at = am_env_created_at(env);
    rx->expires_at = am_env_expires_at(env);
    rx->n_rcpt = am_env_recipient_count(env);
    AM_FZ_CHECK(rx->n_rcpt >= 1 && rx->n_rcpt <= AM_ENV_MAX_RECIPIENTS);
    for (size_t i = 0; i < rx->n_rcpt; i++) {
        const char *id = am_env_recipient(env, i);
        const am_fz_agency_t *a = am_fz_agency(id);

        AM_FZ_CHECK(am_agency_id_valid(id));
        for (size_t j = 0; j < i; j++)
            AM_FZ_CHECK(strcmp(id, am_env_recipient(env, j)) != 0);
        rx->rcpt[i] = a != NULL ? a->id : "?";
    }
    AM_FZ_CHECK(am_env_recipient(env, rx->n_rcpt) == NULL);
}

/* am_env_open with the failure promises checked. */
static int open_with(const am_env_t *env, const char *id,
                     const uint8_t sk[32], uint8_t **plain, size_t *plain_len)
{
    uint8_t *p = (uint8_t *)(uintptr_t)0x5a5a;
    size_t n = 7;
    int rc;

    am_err_clear();
    rc = am_env_open(env, id, sk, &p, &n);
    if (rc != 0) {
        AM_FZ_CHECK(rc == AM_ECRYPTO || rc == AM_EKEY || rc == AM_EPROTO);
        check_failure(rc);
        AM_FZ_CHECK(p == (uint8_t *)(uintptr_t)0x5a5a && n == 7);
        return rc;
    }
    AM_FZ_CHECK(p != NULL);
    *plain = p;
    *plain_len = n;
    return 0;
}

static bool names(const rx_t *rx, const char *id)
{
    for (size_t i = 0; i < rx->n_rcpt; i++)
        if (strcmp(rx->rcpt[i], id) == 0)
            return true;
    return false;
}

/* Open a verified envelope as fixed agency i. */
static void open_as(const am_env_t *env, int i, rx_t *rx)
{
    const am_fz_agency_t *a = &am_fz_fed()->ag[i];
    const uint8_t *sk, *wrong;
    uint8_t *p = NULL;
    uint32_t pre = 0xdeadbeef;
    size_t n;
    int rc;

    am_err_clear();
    rc = am_env_wrap_prekey(env, a->id, &pre);
    if (rc != 0) {
        AM_FZ_CHECK(rc == AM_EKEY && pre == 0xdeadbeef && !names(rx, a->id));
        check_failure(rc);
        AM_FZ_CHECK(open_with(env, a->id, a->dh_sk, &p, &n) == AM_EKEY);
        return;
    }
    AM_FZ_CHECK(names(rx, a->id));
    AM_FZ_CHECK(pre == 0 || pre == AM_FZ_PREKEY_ID); /* only we seal */
    sk = pre == 0 ? a->dh_sk : a->pre_sk;
    wrong = pre == 0 ? a->pre_sk : a->dh_sk;
    AM_FZ_CHECK(open_with(env, a->id, wrong, &p, &n) != 0);
    AM_FZ_CHECK(open_with(env, a->id, sk, &rx->plain[i],
                          &rx->plain_len[i]) == 0);
    rx->opened[i] = true;
}

/* The receiving path; what it learnt goes to *rx (rx_free). */
static void receive(const uint8_t *in, size_t len, rx_t *rx)
{
    am_env_t *const sentinel = (am_env_t *)(uintptr_t)0x5a5a5a5a;
    am_env_t *env = sentinel;
    const am_fz_agency_t *from, *other;
    am_cert_t impostor;
    int rc;

    memset(rx, 0, sizeof *rx);
    am_err_clear();
    if ((rc = am_env_parse(in, len, AM_ENV_MAX, &env)) != 0) {
        AM_FZ_CHECK(rc == AM_EPROTO || rc == AM_ETOOBIG ||
                    rc == AM_EUNSUPPORTED);
        check_failure(rc);
        AM_FZ_CHECK(env == sentinel);
        return;
    }
    AM_FZ_CHECK(env != NULL && env != sentinel);
    check_unverified(env);
    AM_FZ_CHECK(am_agency_id_valid(am_env_sender(env)));
    if ((from = am_fz_agency(am_env_sender(env))) == NULL)
        goto out; /* no certificate to check it with */
    /* the sender's id and serial with another agency's key */
    impostor = from->cert;
    other = &am_fz_fed()->ag[from == &am_fz_fed()->ag[AM_FZ_SENDER]
                                 ? AM_FZ_THIRD : AM_FZ_SENDER];
    memcpy(impostor.sign_pk, other->sign_pk, sizeof impostor.sign_pk);
    am_err_clear();
    AM_FZ_CHECK(am_env_verify(env, &impostor) == AM_ECRYPTO);
    check_failure(AM_ECRYPTO);
    check_unverified(env);
    am_err_clear();
    if ((rc = am_env_verify(env, &from->cert)) != 0) {
        AM_FZ_CHECK(rc == AM_ECRYPTO);
        check_failure(rc);
        check_unverified(env);
        goto out;
    }
    rx->verified = true;
    check_verified(env, in, len, from, rx);
    for (int i = 0; i < AM_FZ_N_AGENCIES; i++)
        open_as(env, i, rx);
out:
    am_env_free(env);
}

/* The content bytes after the header, NULL when there are none. */
static const uint8_t *content(const am_fz_in_t *in)
{
    return am_fz_left(in) > 0 ? in->p : NULL;
}

static void seal_mode(am_fz_in_t *in)
{
    const am_fz_fed_t *f = am_fz_fed();
    unsigned how = am_fz_u8(in), seed = am_fz_u8(in);
    int prio = (int)((how >> AM_FZ_SEAL_PRIO_SHIFT) & 3u);
    uint8_t *env = NULL, *again = NULL;
    size_t len = 0, again_len = 0, n_want = (how & AM_FZ_SEAL_TWO) ? 2 : 1;
    am_env_t *e = NULL;
    rx_t rx;
    int rc;

    rc = am_fz_seal(how, seed, content(in), am_fz_left(in), &env, &len);
    if (prio == 0) {
        AM_FZ_CHECK(rc == AM_EINVAL && env == NULL);
        return;
    }
    AM_FZ_CHECK(rc == 0 && env != NULL);
    AM_FZ_CHECK(am_fz_seal(how, seed, content(in), am_fz_left(in), &again,
                           &again_len) == 0);
    AM_FZ_CHECK(again_len == len && memcmp(again, env, len) == 0);
    AM_FZ_CHECK(am_env_parse(env, len, len - 1, &e) == AM_ETOOBIG);

    receive(env, len, &rx);
    if (how & AM_FZ_SEAL_BAD_SERIAL) {
        AM_FZ_CHECK(!rx.verified);
        goto out;
    }
    AM_FZ_CHECK(rx.verified && rx.priority == prio);
    AM_FZ_CHECK(rx.created_at == AM_FZ_NOW &&
                rx.expires_at == AM_FZ_NOW + 7 * 86400);
    AM_FZ_CHECK(rx.n_rcpt == n_want);
    AM_FZ_CHECK(strcmp(rx.rcpt[(how & AM_FZ_SEAL_SWAP) && n_want == 2],
                       f->ag[AM_FZ_RCPT].id) == 0);
    for (int i = 0; i < AM_FZ_N_AGENCIES; i++) {
        bool want = i == AM_FZ_RCPT || (i == AM_FZ_THIRD && n_want == 2);

        AM_FZ_CHECK(rx.opened[i] == want);
        if (want)
            AM_FZ_CHECK(rx.plain_len[i] == am_fz_left(in) &&
                        (am_fz_left(in) == 0 ||
                         memcmp(rx.plain[i], in->p, am_fz_left(in)) == 0));
    }
out:
    rx_free(&rx);
    am_free(again);
    am_free(env);
}

static void damage_mode(am_fz_in_t *in)
{
    unsigned how = am_fz_u8(in), seed = am_fz_u8(in), x;
    size_t at = am_fz_u8(in) << 8, len = 0;
    uint8_t *env = NULL;
    rx_t rx;

    at |= am_fz_u8(in);
    x = am_fz_u8(in);
    how &= ~(unsigned)AM_FZ_SEAL_BAD_SERIAL;
    if (((how >> AM_FZ_SEAL_PRIO_SHIFT) & 3u) == 0)
        how |= AM_PRIORITY_ROUTINE << AM_FZ_SEAL_PRIO_SHIFT;
    AM_FZ_CHECK(am_fz_seal(how, seed, content(in), am_fz_left(in), &env,
                           &len) == 0);
    env[at % len] ^= (uint8_t)(x != 0 ? x : 0x80u);
    receive(env, len, &rx);
    AM_FZ_CHECK(!rx.verified);
    for (int i = 0; i < AM_FZ_N_AGENCIES; i++)
        AM_FZ_CHECK(!rx.opened[i]);
    rx_free(&rx);
    am_free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_fz_in_t in = {data, data + size};
    rx_t rx;

    (void)am_fz_fed();
    switch (am_fz_u8(&in) & 3u) {
    case 1:
        seal_mode(&in);
        break;
    case 2:
        damage_mode(&in);
        break;
    default:
        receive(in.p, am_fz_left(&in), &rx);
        rx_free(&rx);
        break;
    }
    return 0;
}
