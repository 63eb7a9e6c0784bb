/* envelope_bench [--seconds S]: prints what sealed envelopes cost on one
 * core.
 *
 * DESIGN.  Everything runs in one thread.  Setup, untimed: a federation
 * root (Ed25519), the sender PK-NCCIA with a certificate issued by
 * am_cert_issue and verified once by am_cert_verify, and five recipients
 * with X25519 keys from crypto_box_keypair (wrapped to as certificate keys,
 * prekey id 0).  Four envelope shapes: bodies of 1 KiB and 1 MiB for 1 and
 * 5 recipients.  Per shape:
 *
 *   seal          am_env_seal, then am_free of the envelope;
 *   open          the receiving path of one recipient (the last listed):
 *                 am_env_parse -> am_env_verify with the sender's
 *                 certificate, verified beforehand as a client caches it
 *                 -> am_env_open, then am_free/am_env_free;
 *   parse+verify  am_env_parse -> am_env_verify only: what the relay does
 *                 before it routes an envelope it cannot read.
 *
 * plus am_cert_verify of the sender's certificate.  Each measurement runs
 * one checked, untimed operation (every recipient opens a freshly sealed
 * envelope to the same body; opened bytes compared; routing fields and the
 * envelope hash compared; a certificate and an envelope with a flipped
 * signature byte must fail with AM_ECRYPTO), then timed batches until S
 * seconds of wall time (CLOCK_MONOTONIC) have passed, then one more
 * checked operation.  Any error exits 1: a figure measured over failures
 * would be worse than none.  Times never fail the program (STYLE.md,
 * Tests).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "bench.h"
#include "cert.h"
#include "envelope.h"
#include "err.h"

#define PROG "envelope_bench"
#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define N_RCPT 5u
#define N_SHAPES 4u
#define SENDER_ID "PK-NCCIA"
#define SENDER_SERIAL 10u

typedef struct {
    const char *id;
    uint8_t pk[32], sk[32];
} rcpt_key_t;

/* Long-term keys and the sender's certificate, made once. */
typedef struct {
    uint8_t root_pk[AM_SIGN_PK_LEN], root_sk[64];
    uint8_t sign_pk[AM_SIGN_PK_LEN], sign_sk[64];
    am_cert_t issued; /* the fields given to am_cert_issue */
    am_cert_t sender; /* the same, from am_cert_verify */
    am_cert_policy_t policy;
    uint8_t *cert;
    size_t cert_len;
    int64_t now;
    rcpt_key_t rk[N_RCPT];
    am_env_recipient_t rcpt[N_RCPT];
} fed_t;

/* One envelope shape. */
typedef struct {
    const fed_t *fed;
    am_env_params_t params;
    size_t n_rcpt;
    uint8_t *body, *env; /* env: sealed once, for open and parse+verify */
    size_t body_len, env_len;
} shape_t;

static int fail(const char *what, int rc)
{
    return bench_fail(PROG, what, rc);
}

/* The fields a verifier reads back equal the ones issued. */
static int cert_matches(const fed_t *f, const am_cert_t *got)
{
    const am_cert_t *want = &f->issued;
    uint8_t root_id[AM_KEY_ID_LEN];
    int rc;

    if ((rc = am_key_id(f->root_pk, root_id)) != 0)
        return fail("am_key_id", rc);
    if (strcmp(got->agency_id, want->agency_id) != 0 ||
        strcmp(got->display_name, want->display_name) != 0 ||
        strcmp(got->country, want->country) != 0 ||
        strcmp(got->home_relay, want->home_relay) != 0 ||
        memcmp(got->sign_pk, want->sign_pk, sizeof got->sign_pk) != 0 ||
        memcmp(got->dh_pk, want->dh_pk, sizeof got->dh_pk) != 0 ||
        got->roles != want->roles || got->serial != want->serial ||
        got->not_before != want->not_before ||
        got->not_after != want->not_after ||
        memcmp(got->issuer_key_id, root_id, sizeof root_id) != 0)
        return fail("verified certificate differs from the one issued", 1);
    return 0;
}

/* The last byte of a serialized SignedCertificate or Envelope lies in its
 * signature (the last field): flipping it must fail the verification. */
static int flip_last(const uint8_t *in, size_t len, uint8_t **out)
{
    uint8_t *copy;

    if (len == 0 || (copy = malloc(len)) == NULL)
        return fail("malloc", AM_ENOMEM);
    memcpy(copy, in, len);
    copy[len - 1] ^= 0x01;
    *out = copy;
    return 0;
}

static int cert_forgery_fails(const fed_t *f)
{
    uint8_t *forged = NULL;
    am_cert_t c;
    int rc;

    if ((rc = flip_last(f->cert, f->cert_len, &forged)) != 0)
        return rc;
    rc = am_cert_verify(forged, f->cert_len, &f->policy, &c);
    free(forged);
    if (rc != AM_ECRYPTO)
        return fail("certificate with a flipped signature byte was not "
                    "refused with AM_ECRYPTO", rc == 0 ? 1 : rc);
    am_err_clear();
    return 0;
}

static int cert_op(void *ctx, bool checked)
{
    const fed_t *f = ctx;
    am_cert_t c;
    int rc;

    if ((rc = am_cert_verify(f->cert, f->cert_len, &f->policy, &c)) != 0)
        return fail("am_cert_verify", rc);
    if (checked && ((rc = cert_matches(f, &c)) != 0 ||
                    (rc = cert_forgery_fails(f)) != 0))
        return rc;
    return 0;
}

/* Recipient i's receiving path; the opened body is compared when checked
 * (its length always). */
static int receive(const shape_t *s, const uint8_t *in, size_t len, size_t i,
                   bool checked)
{
    const rcpt_key_t *k = &s->fed->rk[i];
    am_env_t *env = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc;

    if ((rc = am_env_parse(in, len, AM_ENV_MAX, &env)) != 0) {
        rc = fail("am_env_parse", rc);
        goto out;
    }
    if ((rc = am_env_verify(env, &s->fed->sender)) != 0) {
        rc = fail("am_env_verify", rc);
        goto out;
    }
    if ((rc = am_env_open(env, k->id, k->sk, &plain, &plain_len)) != 0) {
        rc = fail("am_env_open", rc);
        goto out;
    }
    if (plain_len != s->body_len ||
        (checked && memcmp(plain, s->body, plain_len) != 0))
        rc = fail("opened body differs from the sealed one", 1);
out:
    am_free(plain);
    am_env_free(env);
    return rc;
}

static int seal_op(void *ctx, bool checked)
{
    const shape_t *s = ctx;
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc;

    if ((rc = am_env_seal(&s->params, s->fed->rcpt, s->n_rcpt, s->body,
                          s->body_len, &out, &out_len)) != 0)
        return fail("am_env_seal", rc);
    if (out_len <= s->body_len)
        rc = fail("sealed envelope shorter than its body", 1);
    for (size_t i = 0; checked && rc == 0 && i < s->n_rcpt; i++)
        rc = receive(s, out, out_len, i, true);
    am_free(out);
    return rc;
}

static int open_op(void *ctx, bool checked)
{
    const shape_t *s = ctx;

    return receive(s, s->env, s->env_len, s->n_rcpt - 1, checked);
}

/* What the relay routes on, once verified, is what was sealed. */
static int check_routing(const shape_t *s, const am_env_t *env)
{
    uint8_t hash[AM_HASH_LEN];
    const uint8_t *got = am_env_hash(env);

    if (strcmp(am_env_sender(env), SENDER_ID) != 0 ||
        am_env_recipient_count(env) != s->n_rcpt ||
        am_env_priority(env) != s->params.priority ||
        am_env_created_at(env) != s->params.created_at ||
        am_env_expires_at(env) != s->params.expires_at ||
        am_env_message_id(env) == NULL)
        return fail("verified header differs from the sealed one", 1);
    for (size_t i = 0; i < s->n_rcpt; i++) {
        const char *id = am_env_recipient(env, i);

        if (id == NULL || strcmp(id, s->fed->rk[i].id) != 0)
            return fail("verified recipient list differs", 1);
    }
    if (crypto_generichash(hash, sizeof hash, s->env, s->env_len, NULL, 0)
        != 0)
        return fail("crypto_generichash", AM_ECRYPTO);
    if (got == NULL || memcmp(got, hash, sizeof hash) != 0)
        return fail("am_env_hash is not BLAKE2b-256 of the envelope", 1);
    return 0;
}

static int env_forgery_fails(const shape_t *s)
{
    am_env_t *env = NULL;
    uint8_t *forged = NULL;
    int rc;

    if ((rc = flip_last(s->env, s->env_len, &forged)) != 0)
        return rc;
    if ((rc = am_env_parse(forged, s->env_len, AM_ENV_MAX, &env)) != 0) {
        rc = fail("am_env_parse (flipped signature byte)", rc);
    } else if ((rc = am_env_verify(env, &s->fed->sender)) != AM_ECRYPTO) {
        rc = fail("envelope with a flipped signature byte was not refused "
                  "with AM_ECRYPTO", rc == 0 ? 1 : rc);
    } else {
        am_err_clear();
        rc = 0;
    }
    am_env_free(env);
    free(forged);
    return rc;
}

static int verify_op(void *ctx, bool checked)
{
    const shape_t *s = ctx;
    am_env_t *env = NULL;
    int rc;

    if ((rc = am_env_parse(s->env, s->env_len, AM_ENV_MAX, &env)) != 0) {
        rc = fail("am_env_parse", rc);
        goto out;
    }
    if ((rc = am_env_verify(env, &s->fed->sender)) != 0) {
        rc = fail("am_env_verify", rc);
        goto out;
    }
    if (am_env_recipient_count(env) != s->n_rcpt)
        rc = fail("verified recipient count differs", 1);
    else if (checked && (rc = check_routing(s, env)) == 0)
        rc = env_forgery_fails(s);
out:
    am_env_free(env);
    return rc;
}

static int fed_keys(fed_t *f)
{
    static const char *const ids[N_RCPT] = {"DE-BKA", "PH-NBI", "FR-DGSI",
                                            "GB-NCA", "US-FBI"};

    if (crypto_sign_keypair(f->root_pk, f->root_sk) != 0 ||
        crypto_sign_keypair(f->sign_pk, f->sign_sk) != 0)
        return fail("crypto_sign_keypair", AM_EKEY);
    for (size_t i = 0; i < N_RCPT; i++) {
        f->rk[i].id = ids[i];
        if (crypto_box_keypair(f->rk[i].pk, f->rk[i].sk) != 0)
            return fail("crypto_box_keypair", AM_EKEY);
        f->rcpt[i] = (am_env_recipient_t){ids[i], f->rk[i].pk, 0};
    }
    return 0;
}

/* Root, sender certificate (issued, then verified once), recipients. */
static int fed_setup(fed_t *f)
{
    am_cert_t *c = &f->issued;
    uint8_t dh_sk[32];
    time_t t;
    int rc;

    if ((t = time(NULL)) == (time_t)-1)
        return fail("time", AM_EINVAL);
    f->now = (int64_t)t;
    if ((rc = fed_keys(f)) != 0)
        return rc;
    /* The sender's own X25519 key only fills the certificate. */
    rc = crypto_box_keypair(c->dh_pk, dh_sk);
    sodium_memzero(dh_sk, sizeof dh_sk);
    if (rc != 0)
        return fail("crypto_box_keypair", AM_EKEY);
    snprintf(c->agency_id, sizeof c->agency_id, "%s", SENDER_ID);
    snprintf(c->display_name, sizeof c->display_name, "%s benchmark sender",
             SENDER_ID);
    memcpy(c->country, SENDER_ID, 2);
    memcpy(c->sign_pk, f->sign_pk, sizeof c->sign_pk);
    c->roles = AM_ROLE_AGENCY;
    snprintf(c->home_relay, sizeof c->home_relay, "PK-RELAY");
    c->not_before = f->now - 3600;
    c->not_after = f->now + 365 * 86400;
    c->serial = SENDER_SERIAL;
    if ((rc = am_cert_issue(c, f->root_sk, &f->cert, &f->cert_len)) != 0)
        return fail("am_cert_issue", rc);
    f->policy = (am_cert_policy_t){f->root_pk, f->now, AM_ROLE_AGENCY, NULL};
    if ((rc = am_cert_verify(f->cert, f->cert_len, &f->policy,
                             &f->sender)) != 0)
        return fail("am_cert_verify", rc);
    return cert_matches(f, &f->sender);
}

static void shape_free(shape_t *s)
{
    free(s->body);
    am_free(s->env);
    s->body = s->env = NULL;
}

static int shape_setup(shape_t *s, const fed_t *f, size_t body_len,
                       size_t n_rcpt)
{
    int rc;

    memset(s, 0, sizeof *s);
    s->fed = f;
    s->n_rcpt = n_rcpt;
    s->body_len = body_len;
    s->params = (am_env_params_t){SENDER_ID, SENDER_SERIAL, f->sign_sk,
                                  f->now, f->now + 7 * 86400,
                                  AM_PRIORITY_URGENT, NULL, NULL};
    if ((s->body = malloc(body_len)) == NULL)
        return fail("malloc", AM_ENOMEM);
    randombytes_buf(s->body, body_len);
    if ((rc = am_env_seal(&s->params, f->rcpt, n_rcpt, s->body, body_len,
                          &s->env, &s->env_len)) != 0)
        return fail("am_env_seal", rc);
    return 0;
}

static double per_s(const bench_run_t *r)
{
    return (double)r->ops / r->secs;
}

/* ops/s, us/op and, for 1 MiB bodies, 10^6 body bytes per second. */
static void cols(const bench_run_t *r, size_t body_len)
{
    double ops = per_s(r);

    printf(" %11.1f %9.2f", ops, 1e6 / ops);
    if (body_len >= MIB)
        printf(" %8.1f", ops * (double)body_len / 1e6);
    else
        printf(" %8s", "-");
}

static void shape_name(char *out, size_t cap, const shape_t *s)
{
    snprintf(out, cap, "%zu %s, %zu recipient%s",
             s->body_len >= MIB ? s->body_len / MIB : s->body_len / KIB,
             s->body_len >= MIB ? "MiB" : "KiB", s->n_rcpt,
             s->n_rcpt == 1 ? "" : "s");
}

/* glibc raises its mmap threshold as large blocks are freed: until one
 * 1 MiB envelope has gone through seal and open, each large buffer is a
 * fresh mmap with page faults, and the first 1 MiB shape measured would
 * pay for it (about a third of its time, here) while the next would not. */
static int warm_up(const fed_t *f)
{
    shape_t s;
    int rc;

    if ((rc = shape_setup(&s, f, MIB, N_RCPT)) == 0 &&
        (rc = seal_op(&s, true)) == 0)
        rc = open_op(&s, true);
    shape_free(&s);
    return rc;
}

/* Seal and open timed (one row printed); parse+verify timed into *relay. */
static int bench_shape(const fed_t *f, size_t body_len, size_t n_rcpt,
                       double seconds, bench_run_t *relay, size_t *env_len)
{
    shape_t s;
    bench_run_t seal, open;
    char name[64];
    int rc;

    if ((rc = shape_setup(&s, f, body_len, n_rcpt)) != 0 ||
        (rc = bench_run_for(PROG, seal_op, &s, seconds, &seal)) != 0 ||
        (rc = bench_run_for(PROG, open_op, &s, seconds, &open)) != 0 ||
        (rc = bench_run_for(PROG, verify_op, &s, seconds, relay)) != 0)
        goto out;
    *env_len = s.env_len;
    shape_name(name, sizeof name, &s);
    printf("%-24s", name);
    cols(&seal, body_len);
    printf("  ");
    cols(&open, body_len);
    printf("\n");
    fflush(stdout);
out:
    shape_free(&s);
    return rc;
}

static void header(const fed_t *f, double seconds)
{
    printf("envelope_bench: XChaCha20-Poly1305 content, X25519 key wraps, "
           "Ed25519 signatures, libsodium %s\n", sodium_version_string());
    bench_print_host(seconds);
    printf("keys:  sender %s (certificate serial %llu, %zu bytes); "
           "recipients", SENDER_ID, (unsigned long long)SENDER_SERIAL,
           f->cert_len);
    for (size_t i = 0; i < N_RCPT; i++)
        printf(" %s", f->rk[i].id);
    printf("\n\n%-24s %11s %9s %8s  %11s %9s %8s\n", "body, recipients",
           "seal/s", "us/seal", "MB/s", "open/s", "us/open", "MB/s");
}

static void relay_table(const bench_run_t *cert,
                        const bench_run_t relay[N_SHAPES],
                        const size_t env_len[N_SHAPES],
                        const size_t body[N_SHAPES],
                        const size_t n_rcpt[N_SHAPES])
{
    printf("\n%-38s %11s %9s %8s %9s\n", "verification (relay: parse+verify)",
           "ops/s", "us/op", "MB/s", "bytes");
    printf("%-38s", "am_cert_verify, sender certificate");
    cols(cert, 0);
    printf(" %9s\n", "-");
    for (size_t k = 0; k < N_SHAPES; k++) {
        char name[64];

        snprintf(name, sizeof name, "env parse+verify %zu %s, %zu rcpt",
                 body[k] >= MIB ? body[k] / MIB : body[k] / KIB,
                 body[k] >= MIB ? "MiB" : "KiB", n_rcpt[k]);
        printf("%-38s", name);
        cols(&relay[k], body[k]);
        printf(" %9zu\n", env_len[k]);
    }
}

int main(int argc, char **argv)
{
    static const size_t body[N_SHAPES] = {KIB, KIB, MIB, MIB};
    static const size_t n_rcpt[N_SHAPES] = {1, N_RCPT, 1, N_RCPT};
    static fed_t fed; /* static: holds keys; wiped below */
    bench_run_t cert, relay[N_SHAPES];
    size_t env_len[N_SHAPES];
    double seconds = 1.0;
    int rc;

    if (bench_parse_seconds(PROG, argc, argv, &seconds) != 0)
        return 2;
    if (sodium_init() < 0) {
        fprintf(stderr, "envelope_bench: sodium_init failed\n");
        return 1;
    }
    if ((rc = fed_setup(&fed)) != 0)
        goto out;
    if ((rc = warm_up(&fed)) != 0)
        goto out;
    header(&fed, seconds);
    for (size_t k = 0; k < N_SHAPES; k++)
        if ((rc = bench_shape(&fed, body[k], n_rcpt[k], seconds, &relay[k],
                              &env_len[k])) != 0)
            goto out;
    if ((rc = bench_run_for(PROG, cert_op, &fed, seconds, &cert)) != 0)
        goto out;
    relay_table(&cert, relay, env_len, body, n_rcpt);
    printf("\nseal: am_env_seal (random content key, one ephemeral X25519 "
           "per recipient, Ed25519).\nopen: one recipient's full path, "
           "am_env_parse -> am_env_verify -> am_env_open, with\nthe sender's "
           "certificate verified beforehand (a receiver that verifies it\n"
           "per message adds the am_cert_verify time).  MB/s: 10^6 body "
           "bytes per second,\n1 MiB bodies only.  bytes: the serialized "
           "envelope.\n");
out:
    am_free(fed.cert);
    sodium_memzero(&fed, sizeof fed);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}
