/* fuzz_bundle.h: bundles of the fixed federation. */
#include "fuzz_bundle.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bundle.h"
#include "envelope.h"
#include "err.h"
#include "fuzz_common.h"

enum { DE_RELAY, PK_RELAY, N_RELAYS };

typedef struct {
    const char *id;
    uint8_t sign_pk[AM_SIGN_PK_LEN], sign_sk[AM_SIGN_SK_LEN];
    uint8_t *cert;
    size_t cert_len;
} relay_t;

static relay_t relays[N_RELAYS] = {{.id = "DE-RELAY"}, {.id = "PK-RELAY"}};

_Noreturn static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz bundle: %s: %s (%s)\n", what, am_strerror(rc),
            am_err_detail());
    abort();
}

static void relay_init(relay_t *r, unsigned label, uint64_t serial)
{
    am_cert_t c;
    uint8_t seed[32];
    int rc;

    for (unsigned i = 0; i < 32; i++)
        seed[i] = (uint8_t)(label * 41u + i);
    if (crypto_sign_seed_keypair(r->sign_pk, r->sign_sk, seed) != 0)
        die("crypto_sign_seed_keypair", AM_ECRYPTO);
    am_fz_cert_fields(&am_fz_fed()->ag[AM_FZ_SENDER], &c);
    snprintf(c.agency_id, sizeof c.agency_id, "%s", r->id);
    snprintf(c.display_name, sizeof c.display_name, "%s fuzz relay", r->id);
    memcpy(c.country, r->id, 2);
    memcpy(c.sign_pk, r->sign_pk, sizeof c.sign_pk);
    c.roles = AM_ROLE_RELAY;
    c.home_relay[0] = '\0';
    c.serial = serial;
    if ((rc = am_cert_issue(&c, am_fz_fed()->root_sk, &r->cert,
                            &r->cert_len)) != 0)
        die("relay certificate", rc);
}

static const relay_t *relay(int i)
{
    static bool ready;

    if (!ready) {
        relay_init(&relays[DE_RELAY], 50, 40);
        relay_init(&relays[PK_RELAY], 51, 41);
        ready = true;
    }
    return &relays[i];
}

/* What one bundle is made of; items owned (am_free). */
typedef struct {
    uint8_t *env;
    size_t env_len;
    am_env_t *parsed;
    am_bundle_item_t ev[8], rc[8];
    size_t n_ev, n_rc;
} parts_t;

static void parts_free(parts_t *p)
{
    for (size_t i = 0; i < p->n_ev; i++)
        am_free((void *)p->ev[i].data);
    for (size_t i = 0; i < p->n_rc; i++)
        am_free((void *)p->rc[i].data);
    am_env_free(p->parsed);
    am_free(p->env);
}

static void add_ev(parts_t *p, int r, int kind, const char *rcpt, int64_t t)
{
    am_evidence_t e = {.kind = kind, .time = AM_FZ_NOW + t};
    uint8_t *out;
    size_t len;
    int rc;

    memcpy(e.message_id, am_env_message_id(p->parsed), AM_MSG_ID_LEN);
    memcpy(e.envelope_hash, am_env_hash(p->parsed), AM_HASH_LEN);
    snprintf(e.relay_id, sizeof e.relay_id, "%s", relay(r)->id);
    snprintf(e.recipient_id, sizeof e.recipient_id, "%s", rcpt ? rcpt : "");
    if ((rc = am_evidence_sign(&e, relay(r)->sign_sk, &out, &len)) != 0)
        die("am_evidence_sign", rc);
    p->ev[p->n_ev++] = (am_bundle_item_t){out, len};
}

static void add_rc(parts_t *p, int who, int status, int64_t t,
                   const char *reason)
{
    const am_fz_agency_t *a = &am_fz_fed()->ag[who];
    am_receipt_t r;
    uint8_t *out;
    size_t len;
    int rc;

    if ((rc = am_receipt_for(p->parsed, a->id, status, AM_FZ_NOW + t, reason,
                             &r)) != 0 ||
        (rc = am_receipt_sign(&r, a->sign_sk, &out, &len)) != 0)
        die("receipt", rc);
    p->rc[p->n_rc++] = (am_bundle_item_t){out, len};
}

static void make_items(parts_t *p, unsigned how)
{
    const bool two = how & AM_FZB_TWO;

    add_ev(p, PK_RELAY, AM_EVIDENCE_ACCEPTED, NULL, 1);
    if (how & AM_FZB_DELIVERED)
        add_ev(p, DE_RELAY, AM_EVIDENCE_DELIVERED, "DE-BKA", 10);
    if (how & AM_FZB_RECEIVED)
        add_rc(p, AM_FZ_RCPT, AM_RECEIPT_RECEIVED, 11, NULL);
    if (how & AM_FZB_ACK)
        add_rc(p, AM_FZ_RCPT, AM_RECEIPT_ACKNOWLEDGED, 60, NULL);
    if (two && (how & AM_FZB_THIRD_DELIVERED))
        add_ev(p, PK_RELAY, AM_EVIDENCE_DELIVERED, "PH-NBI", 12);
    if (two && (how & AM_FZB_THIRD_REFUSED))
        add_rc(p, AM_FZ_THIRD, AM_RECEIPT_REFUSED, 13, "no legal basis");
    if (two && (how & AM_FZB_THIRD_EXPIRED))
        add_ev(p, PK_RELAY, AM_EVIDENCE_EXPIRED, "PH-NBI", 86400);
}

/* Reverse both lists and repeat their first item. */
static void shuffle(am_bundle_item_t *it, size_t *n)
{
    for (size_t i = 0; i < *n / 2; i++) {
        am_bundle_item_t t = it[i];

        it[i] = it[*n - 1 - i];
        it[*n - 1 - i] = t;
    }
    if (*n > 0)
        it[(*n)++] = it[0];
}

static int build(parts_t *p, unsigned how, uint8_t **out, size_t *out_len)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_bundle_item_t rcpt[2], rl[N_RELAYS + 1];
    am_bundle_item_t ev[16], rc[16];
    am_bundle_parts_t bp;

    memcpy(ev, p->ev, p->n_ev * sizeof *ev);
    memcpy(rc, p->rc, p->n_rc * sizeof *rc);
    bp = (am_bundle_parts_t){
        .envelope = p->env, .envelope_len = p->env_len,
        .sender = {f->ag[AM_FZ_SENDER].cert_bytes, f->ag[AM_FZ_SENDER].cert_len},
        .recipients = rcpt, .n_recipients = (how & AM_FZB_TWO) ? 2 : 1,
        .relays = rl, .n_relays = N_RELAYS,
        .crl = {f->crl_bytes, f->crl_len},
        .evidence = ev, .n_evidence = p->n_ev,
        .receipts = rc, .n_receipts = p->n_rc,
    };
    rcpt[0] = (am_bundle_item_t){f->ag[AM_FZ_RCPT].cert_bytes,
                                 f->ag[AM_FZ_RCPT].cert_len};
    rcpt[1] = (am_bundle_item_t){f->ag[AM_FZ_THIRD].cert_bytes,
                                 f->ag[AM_FZ_THIRD].cert_len};
    for (int i = 0; i < N_RELAYS; i++)
        rl[i] = (am_bundle_item_t){relay(i)->cert, relay(i)->cert_len};
    if (how & AM_FZB_SHUFFLE) {
        shuffle(ev, &bp.n_evidence);
        shuffle(rc, &bp.n_receipts);
        shuffle(rl, &bp.n_relays);
    }
    return am_bundle_build(&bp, out, out_len);
}

int am_fzb_make(unsigned how, unsigned seed, uint8_t **out, size_t *out_len,
                size_t *n_facts)
{
    const am_fz_fed_t *f = am_fz_fed();
    const unsigned seal = ((how & AM_FZB_TWO) ? AM_FZ_SEAL_TWO : 0u) |
                          AM_FZ_SEAL_PREKEY |
                          (AM_PRIORITY_URGENT << AM_FZ_SEAL_PRIO_SHIFT);
    parts_t p = {0};
    int rc;

    if ((rc = am_fz_seal(seal, seed, (const uint8_t *)"case", 4, &p.env,
                         &p.env_len)) != 0 ||
        (rc = am_env_parse(p.env, p.env_len, AM_ENV_MAX, &p.parsed)) != 0 ||
        (rc = am_env_verify(p.parsed, &f->ag[AM_FZ_SENDER].cert)) != 0)
        die("envelope", rc);
    make_items(&p, how);
    *n_facts = 1 + p.n_ev + p.n_rc;
    rc = build(&p, how, out, out_len);
    parts_free(&p);
    return rc;
}
