/* Evidence bundles (docs/PROTOCOL.md section 17): one self-describing file
 * that lets anyone holding only the federation root's public key prove
 * offline what was sent, from whom, which relay accepted it and when, and
 * what each recipient's relay and client said about it.
 *
 * A bundle is an EvidenceBundle (proto/bundle.proto): the envelope exactly
 * as submitted, the certificates of its sender, recipients and the relays
 * that signed evidence, the root's revocation list, the relays' signed
 * evidence and the recipients' signed receipts.  The content stays sealed:
 * verifying needs no secret key.  Every byte is either a fixed value or
 * covered by a signature, and the file must be canonical, so that changing
 * any byte of a valid bundle makes its verification fail.
 */
#ifndef AM_BUNDLE_H
#define AM_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "envelope.h"
#include "evidence.h"
#include "receipt.h"

#define AM_BUNDLE_FORMAT "amanat evidence bundle"
#define AM_BUNDLE_VERSION 1u
/* The digest field (15, bytes, 32): tag 0x7a, length 0x20, then the
 * BLAKE2b-256 of every byte before it; always the last 34 bytes. */
#define AM_BUNDLE_DIGEST_FIELD_LEN (2 + AM_HASH_LEN)
/* One certificate per envelope recipient: the envelope's own limit. */
#define AM_BUNDLE_MAX_RECIPIENTS AM_ENV_MAX_RECIPIENTS
#define AM_BUNDLE_MAX_RELAYS 16
#define AM_BUNDLE_MAX_EVIDENCE 256
#define AM_BUNDLE_MAX_RECEIPTS 64
/* The envelope, plus room for the rest: 1 + 32 + 16 certificates of at
 * most 4 KiB, a revocation list of at most 1 MiB, 256 pieces of evidence
 * and 64 receipts of at most 1 KiB each, and their framing (~1.5 MiB). */
#define AM_BUNDLE_MARGIN ((size_t)2 << 20)
#define AM_BUNDLE_MAX (AM_ENV_MAX + AM_BUNDLE_MARGIN)
/* sent, then one fact per piece of evidence and per receipt */
#define AM_BUNDLE_MAX_FACTS (1 + AM_BUNDLE_MAX_EVIDENCE + AM_BUNDLE_MAX_RECEIPTS)

/* A serialized object: a SignedCertificate, Evidence or SignedReceipt. */
typedef struct {
    const uint8_t *data;
    size_t len;
} am_bundle_item_t;

/* What a bundle is made of, each as the serialized bytes received. */
typedef struct {
    const uint8_t *envelope;  /* the Envelope, exactly as submitted */
    size_t envelope_len;
    am_bundle_item_t sender;  /* its sender's SignedCertificate */
    const am_bundle_item_t *recipients; /* SignedCertificates, any order */
    size_t n_recipients;
    const am_bundle_item_t *relays;     /* SignedCertificates, any order */
    size_t n_relays;
    am_bundle_item_t crl;     /* the root's RevocationList */
    const am_bundle_item_t *evidence;   /* Evidence, any order */
    size_t n_evidence;
    const am_bundle_item_t *receipts;   /* SignedReceipts, any order */
    size_t n_receipts;
} am_bundle_parts_t;

/* Serialize a canonical bundle from its parts, with its digest:
 * recipient certificates in the envelope's order (one per recipient),
 * only the relay certificates that some evidence names (ascending id),
 * evidence and receipts in the canonical order; byte-identical copies
 * (delivery is at least once) appear once.  Each list holds at most its
 * AM_BUNDLE_MAX_* items, copies included.  Nothing is verified here
 * (am_bundle_verify does that) but every part must parse.  *out is the
 * caller's (am_free), set only on success.  Errors, with a sentence
 * naming the part: AM_EINVAL (a recipient without a certificate or with
 * two different ones, a certificate of a non-recipient, a relay without
 * one, a list over its limit), AM_EPROTO (a part that does not parse or
 * carries an unknown field), AM_ETOOBIG (over AM_BUNDLE_MAX or an item's
 * own limit), AM_ENOMEM. */
int am_bundle_build(const am_bundle_parts_t *p, uint8_t **out,
                    size_t *out_len);

enum {
    AM_FACT_SENT = 1,     /* the sender signed the envelope (its own clock) */
    AM_FACT_ACCEPTED,     /* a relay stored it durably */
    AM_FACT_DELIVERED,    /* a relay: the recipient's client acknowledged it */
    AM_FACT_EXPIRED,      /* a relay: it expired undelivered for the recipient */
    AM_FACT_RECEIVED,     /* the recipient's receipt: stored */
    AM_FACT_ACKNOWLEDGED, /* the recipient's receipt: read and accepted */
    AM_FACT_REFUSED,      /* the recipient's receipt: refused, with a reason */
    AM_FACT_DAMAGED,      /* a relay: its copy was damaged, never delivered */
};

/* A certificate holder named in the bundle. */
typedef struct {
    char agency_id[AM_AGENCY_ID_MAX + 1];
    char display_name[AM_DISPLAY_NAME_MAX + 1];
    uint64_t serial;
    int64_t not_before, not_after;
    bool revoked;        /* its serial is on the bundle's revocation list */
    int64_t revoked_at;  /* then: the list's revoked_at */
} am_bundle_party_t;

/* One signed statement, in the report's time order. */
typedef struct {
    int kind;                            /* AM_FACT_* */
    int64_t time;                        /* as the signer stated it */
    char signer[AM_AGENCY_ID_MAX + 1];   /* who signed the statement */
    char subject[AM_AGENCY_ID_MAX + 1];  /* the recipient it is about; "" */
    char reason[AM_REASON_MAX + 1];      /* a refusal's reason; "" */
    size_t item;       /* evidence or receipt number, from 1; 0: envelope */
    int64_t signed_by; /* the time the signature certainly existed, which
                        * validity and revocation were checked at: the
                        * earliest ACCEPTED evidence for the envelope, the
                        * statement's own time otherwise */
    bool signer_revoked;         /* revoked, but after signed_by: it stands */
    int64_t signer_revoked_at;
} am_bundle_fact_t;

/* What a verified bundle proves, for a caller to print.  About 120 KiB:
 * allocate it rather than putting it on a small stack. */
typedef struct {
    uint8_t message_id[AM_MSG_ID_LEN];
    uint8_t envelope_hash[AM_HASH_LEN];   /* BLAKE2b-256 of the envelope */
    int priority;                         /* AM_PRIORITY_* */
    int64_t created_at, expires_at;       /* the sender's header */
    am_bundle_party_t sender;
    size_t n_recipients;                  /* in the envelope's order */
    am_bundle_party_t recipients[AM_BUNDLE_MAX_RECIPIENTS];
    size_t n_relays;
    am_bundle_party_t relays[AM_BUNDLE_MAX_RELAYS];
    uint64_t crl_sequence;                /* the list the bundle carries */
    int64_t crl_issued_at;
    size_t n_facts;                       /* by time, then kind, then item */
    am_bundle_fact_t facts[AM_BUNDLE_MAX_FACTS];
} am_bundle_report_t;

/* Verify a bundle (untrusted bytes) offline under the federation root
 * root_pk, in the order of docs/PROTOCOL.md section 17.3 (digest,
 * canonical form, certificates, the envelope's signature, each piece of
 * evidence, each receipt), and on success only fill *report.  now_or_0:
 * 0 checks the bundle as of the times its signatures were made; a clock
 * reading also refuses any statement or revocation list dated after it.
 * Certificates are checked at the time of each signature, not now: a
 * bundle stays verifiable after they expire.  A certificate revoked at or
 * before a signature's time refuses the bundle (AM_EREVOKED); revoked
 * later, the signature stands and the report says so.  Errors, each with
 * a sentence naming the failing part ("receipt 2: ..."): AM_ETOOBIG,
 * AM_EPROTO (malformed, damaged or not canonical), AM_EUNSUPPORTED,
 * AM_ECRYPTO, AM_EEXPIRED, AM_EROLE, AM_EREVOKED, AM_ENOMEM. */
int am_bundle_verify(const uint8_t *in, size_t len,
                     const uint8_t root_pk[static AM_SIGN_PK_LEN],
                     int64_t now_or_0, am_bundle_report_t *report);

/* A short English name of an AM_FACT_* kind ("accepted"), never NULL. */
const char *am_bundle_fact_name(int kind);

#endif
