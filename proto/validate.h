/* Validation of a parsed case message (proto/case.proto), separate from
 * parsing: the parser accepts any well-formed CaseMessage, this module says
 * whether a foreign unit could act on it.  Every problem is reported, one
 * entry each, with the field's path in the JSON form (lowerCamelCase names,
 * as the proto3 JSON mapping writes them) and a sentence an officer at the
 * end of a night shift can act on.  Pure: no I/O, no clock (the caller
 * passes now), no tz database.
 *
 * An empty string and a whitespace-only string both count as missing; a
 * missing sub-message counts as missing.  A required block that is absent
 * is one problem at the block's path ("$.requestingAuthority"), not one per
 * field inside it.
 *
 * What each body needs.  "Requests" are preservation, disclosure,
 * emergency and victimIdentification; <body> is the body's JSON name.
 *
 *   field                                       request notif. reply receipt
 *   schemaVersion = 1                                x     x     x     x
 *   a body is set (path "$")                         x     x     x     x
 *   caseRef.senderRef                                x
 *   requestStatus; earlierRef iff EXTENSION or       x
 *     FOLLOW_UP (T-CY request status)
 *   requestingAuthority: organisation,               x
 *     personInCharge (name, E.164 phone, e-mail),
 *     timeZone, preferredChannel (T-CY block)
 *   confirmationContact: name, and a phone or an     x
 *     e-mail (path .phone when neither)
 *   legalBasis, at least one                         x     x
 *   <body>.offences, at least one                    x     x
 *   <body>.summary                                   x     x
 *   reply.inReplyTo: 32 lower-case hex digits                    x
 *   reply.status                                                 x
 *   reply.reason: when REFUSED or PARTIALLY_ANSWERED             x
 *   reply.explanation: when REFUSED or                           x
 *     MORE_INFORMATION_NEEDED
 *   receipt.body, receipt.signature non-empty                          x
 *     (the signature is verified by proto/receipt.h, not here)
 *
 *   preservation  Budapest Convention Art. 29(2): a) requestingAuthority
 *                 as above; b) offences and summary; c) data (at least one)
 *                 with identifiers and relationToOffence; d) data[].provider,
 *                 the custodian; e) necessity; f) mutualAssistanceToFollow
 *                 true.  preservationDays at most 90 (Art. 29(7): 60, plus
 *                 one extension of 30, the e-Evidence Regulation's
 *                 Art. 11 figure).
 *   disclosure    data (at least one) with provider and identifiers;
 *                 relevance.
 *   emergency     riskFacts (the significant and imminent risk to a
 *                 person's life or safety); dataRelation; data (at least
 *                 one) with provider and identifiers.
 *   victimIdentification  media (at least one) or indicators (path .media
 *                 when neither), as docs/SCHEMAS.md section 2.1 states.
 *
 * Checked wherever present, in any body:
 *   requestingAuthority, confirmationContact, judicialAuthority (needs a
 *     name) and every Contact: e-mail a plausible addr-spec; phone
 *     and mobile E.164 (+ and 7 to 15 digits, the first not 0); languages
 *     ISO 639-1; timeZone an IANA-looking name ("Asia/Karachi", "Etc/UTC",
 *     "UTC"; the area from the tz database's fixed list, no tz database).
 *   legalBasis[]: instrument set; a Budapest article (the number, optionally
 *     with a paragraph: "29(2)") in 16, 17, 26, 29, 30, 31, 35; a Second
 *     Protocol article in 6 to 10; a treaty needs its citation, domestic law
 *     its country; country ISO 3166-1 alpha-2 (proto/country.h).
 *   offences[]: a code (with its taxonomy) or a text.
 *   handling: a code; H3 needs conditions.  evaluation: both parts or none.
 *   languages[]: ISO 639-1 (proto/language.h).
 *   deadline: not in the past at now.  createdAt, judicialAuthority.
 *     decidedAt, payments[].time, ipObservations[].observedAt: not after now
 *     + AM_VALIDATE_SKEW.  Every timestamp: seconds within years 1-9999,
 *     nanos 0 to 999999999.
 *   data[]: providerCountry ISO 3166-1; categories known; period start <=
 *     end; no blank identifier.
 *   entities (and reply.results, victimIdentification.media and
 *     possibleLocations):
 *     persons[]: a role; a name, alias, description or date of birth;
 *       dateOfBirth a real YYYY-MM-DD, not in the future, not over 130
 *       years ago; ageRange min <= max <= 130; nationalities ISO 3166-1.
 *     ipObservations[]: address parses (inet_pton); IPv4 (also IPv4-mapped
 *       IPv6) needs port 1-65535 and observedAt; IPv6 needs observedAt;
 *       port at most 65535.
 *     accounts[]: provider and identifier.  phones[]: number, E.164.
 *     payments[]: amount ^[0-9]{1,15}(\.[0-9]{1,8})?$; an amount needs its
 *       currency; currency ISO 4217 (proto/currency.h).
 *     locations[]: country ISO 3166-1; latitude -90..90, longitude
 *       -180..180, finite.
 *     devices[]: imei 14 digits, 15 with a valid Luhn check digit, or 16
 *       (IMEISV).
 *     media[]: algorithm set; value MD5 32 hex digits, SHA1 40, SHA256 64,
 *       PDQ 64 (either case), PhotoDNA 144 bytes as standard base64 (192
 *       characters).
 *   Every enum: a value the schema defines (a newer sender's value is
 *   refused rather than misread).
 *
 * Not checked here: the receipt's signature, agency ids (the envelope's),
 * whether a reference or an inReplyTo names a real message.
 */
#ifndef AM_VALIDATE_H
#define AM_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "case.pb-c.h"

#define AM_PROBLEM_PATH_MAX 192
#define AM_PROBLEM_MESSAGE_MAX 192

/* Problems recorded per call; further ones are only counted (in more), so
 * a message of a million bad phone numbers costs 100 KB, not 400 MB. */
#define AM_PROBLEMS_MAX 256

/* How far in the future an observation or creation time may lie: clocks
 * of two agencies disagree by seconds, not by minutes. */
#define AM_VALIDATE_SKEW 300

typedef struct {
    char path[AM_PROBLEM_PATH_MAX];       /* "$.preservation.data[0].provider" */
    char message[AM_PROBLEM_MESSAGE_MAX]; /* a sentence, no final period */
} am_problem_t;

/* A growing list: items[0..n) in the order found (the message's field
 * order), at most AM_PROBLEMS_MAX; more counts the problems past that.
 * Start from AM_PROBLEMS_INIT; reuse across calls; am_problems_free. */
typedef struct {
    am_problem_t *items;
    size_t n, cap;
    size_t more;
} am_problems_t;

#define AM_PROBLEMS_INIT {NULL, 0, 0, 0}

/* Every problem of m at time now (Unix seconds), one entry each, in *out
 * (emptied first, its memory reused).  Returns the number of problems (n +
 * more, at most INT_MAX; 0: m is valid), AM_EINVAL when m or out is NULL,
 * or AM_ENOMEM when the list could not grow: then the list is incomplete
 * and m must not be taken as valid.  Free out with am_problems_free in
 * every case. */
int am_validate_case(const Amanat__V1__CaseMessage *m, int64_t now,
                     am_problems_t *out);

/* Frees the items and resets p to AM_PROBLEMS_INIT; NULL-safe. */
void am_problems_free(am_problems_t *p);

/* The legal clock's default deadline for m's body when created at created
 * (Unix seconds): the time by which an answer is due when m sets no
 * deadline of its own.
 *   emergency             8 hours (EU e-Evidence Regulation 2023/1543,
 *                         Art. 10, emergency cases)
 *   disclosure            10 days (the same article's ordinary limit)
 *   preservation          preservationDays, or 60 days when 0 (Budapest
 *                         Art. 29(7)): when the preservation lapses unless
 *                         a mutual assistance request follows; at most 90
 *   victimIdentification  30 days, as docs/SCHEMAS.md section 2 states.
 *                         No instrument sets one: identification means
 *                         searching databases and material, slower than
 *                         handing over logs.  A known imminent risk to the
 *                         child is an emergency, with its 8 hours.
 *   notification, reply, receipt, no body: 0 (no clock runs).
 * 0 also when m is NULL or the sum would overflow. */
int64_t am_case_default_deadline(const Amanat__V1__CaseMessage *m,
                                 int64_t created);

/* The body's name as in JSON: "notification", "preservation",
 * "disclosure", "emergency", "victimIdentification", "reply", "receipt";
 * NULL when m is NULL or no body is set.  Static storage. */
const char *am_case_kind(const Amanat__V1__CaseMessage *m);

#endif
