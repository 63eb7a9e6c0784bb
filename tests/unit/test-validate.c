/* Case message validation.  A complete, valid message of each body type
 * (fixture-case.h: a fictional livestreamed-abuse case spanning Germany,
 * Pakistan and the Philippines) validates with no problem; then each row
 * of a table breaks one rule and must produce exactly one problem, at
 * exactly that path, or (rows with no path) shows a variant that stays
 * valid. */
#include "test-util.h"

#include <math.h>
#include <string.h>

#include "err.h"
#include "pb.h"
#include "validate.h"

#include "fixture-case.h"

static void dump(const am_problems_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        print_message("#   %s: %s\n", p->items[i].path, p->items[i].message);
}

/* ------------------------------------------------------------ the table
 *
 * X(name, body, the one expected path or NULL for "still valid", mutation)
 */

#define HEADER_ROWS(X)                                                          \
    X(version_missing, BP, "$.schemaVersion", f->msg.schema_version = 0)        \
    X(version_two, BN, "$.schemaVersion", f->msg.schema_version = 2)            \
    X(no_body, BP, "$", f->msg.body_case = AMANAT__V1__CASE_MESSAGE__BODY__NOT_SET) \
    X(body_pointer_null, BD, "$", f->msg.disclosure = NULL)                     \
    X(created_future, BP, "$.createdAt", f->created.seconds = NOW + 3600)       \
    X(created_within_skew, BP, NULL, f->created.seconds = NOW + 60)             \
    X(created_nanos, BP, "$.createdAt", f->created.nanos = -1)                  \
    X(created_year_10000, BP, "$.createdAt", f->created.seconds = INT64_C(253402300800)) \
    X(case_ref_missing, BP, "$.caseRef.senderRef", f->msg.case_ref = NULL)     \
    X(sender_ref_blank, BE, "$.caseRef.senderRef", f->ref.sender_ref = " \t")  \
    X(status_missing, BP, "$.requestStatus", f->msg.request_status = 0)         \
    X(status_unknown, BP, "$.requestStatus", f->msg.request_status = 7)         \
    X(extension_no_ref, BP, "$.earlierRef",                                     \
      f->msg.request_status = AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_EXTENSION) \
    X(follow_up_with_ref, BD, NULL, (f->msg.request_status =                    \
      AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_FOLLOW_UP,                     \
      f->msg.earlier_ref = "BKA-SO12-2026-0388"))                               \
    X(new_with_ref, BP, "$.earlierRef", f->msg.earlier_ref = "BKA-SO12-2026-0388") \
    X(authority_missing, BV, "$.requestingAuthority",                           \
      f->msg.requesting_authority = NULL)                                       \
    X(organisation_blank, BP, "$.requestingAuthority.organisation",             \
      f->ra.organisation = "")                                                  \
    X(pic_missing, BP, "$.requestingAuthority.personInCharge",                  \
      f->ra.person_in_charge = NULL)                                            \
    X(pic_name, BP, "$.requestingAuthority.personInCharge.name", f->pic.name = "") \
    X(pic_phone_missing, BP, "$.requestingAuthority.personInCharge.phone",      \
      f->pic.phone = "")                                                        \
    X(pic_phone_spaces, BP, "$.requestingAuthority.personInCharge.phone",       \
      f->pic.phone = "+49 611 550000")                                          \
    X(pic_phone_national, BP, "$.requestingAuthority.personInCharge.phone",     \
      f->pic.phone = "0611550000")                                              \
    X(pic_phone_zero_cc, BP, "$.requestingAuthority.personInCharge.phone",      \
      f->pic.phone = "+0611550000")                                             \
    X(pic_phone_short, BP, "$.requestingAuthority.personInCharge.phone",        \
      f->pic.phone = "+491234")                                                 \
    X(pic_phone_long, BP, "$.requestingAuthority.personInCharge.phone",         \
      f->pic.phone = "+4961155000012345")                                       \
    X(pic_phone_shortest, BP, NULL, f->pic.phone = "+4912345")                 \
    X(pic_email_missing, BP, "$.requestingAuthority.personInCharge.email",      \
      f->pic.email = " ")                                                       \
    X(pic_email_at, BP, "$.requestingAuthority.personInCharge.email",           \
      f->pic.email = "l.vogt at bka.example")                                   \
    X(pic_email_no_dot, BP, "$.requestingAuthority.personInCharge.email",       \
      f->pic.email = "l.vogt@bka")                                              \
    X(pic_email_space, BP, "$.requestingAuthority.personInCharge.email",        \
      f->pic.email = "lena vogt@bka.example")                                   \
    X(pic_email_two_at, BP, "$.requestingAuthority.personInCharge.email",       \
      f->pic.email = "l@vogt@bka.example")                                      \
    X(pic_mobile, BP, "$.requestingAuthority.personInCharge.mobile",            \
      f->pic.mobile = "0170 1234567")                                           \
    X(pic_mobile_absent, BP, NULL, f->pic.mobile = "")                          \
    X(pic_language, BP, "$.requestingAuthority.personInCharge.languages[1]",    \
      f->pic_langs[1] = "EN")                                                   \
    X(tz_missing, BP, "$.requestingAuthority.timeZone", f->ra.time_zone = "")   \
    X(tz_abbreviation, BP, "$.requestingAuthority.timeZone", f->ra.time_zone = "CEST") \
    X(tz_offset, BP, "$.requestingAuthority.timeZone", f->ra.time_zone = "+02:00") \
    X(tz_lower, BP, "$.requestingAuthority.timeZone", f->ra.time_zone = "Europe/berlin") \
    X(tz_no_area, BP, "$.requestingAuthority.timeZone", f->ra.time_zone = "Germany/Berlin") \
    X(tz_utc, BP, NULL, f->ra.time_zone = "UTC")                                \
    X(tz_etc, BP, NULL, f->ra.time_zone = "Etc/GMT-5")                          \
    X(tz_three_parts, BP, NULL, f->ra.time_zone = "America/Argentina/Buenos_Aires") \
    X(channel_missing, BP, "$.requestingAuthority.preferredChannel",            \
      f->ra.preferred_channel = 0)                                              \
    X(channel_unknown, BP, "$.requestingAuthority.preferredChannel",            \
      f->ra.preferred_channel = 9)                                              \
    X(address_optional, BP, NULL, (f->ra.address = "", f->ra.office_hours = "")) \
    X(confirm_missing, BD, "$.confirmationContact", f->msg.confirmation_contact = NULL) \
    X(confirm_name, BP, "$.confirmationContact.name", f->confirm.name = "")     \
    X(confirm_unreachable, BP, "$.confirmationContact.phone",                   \
      (f->confirm.phone = "", f->confirm.email = ""))                           \
    X(confirm_email_only, BP, NULL, f->confirm.phone = "")                      \
    X(confirm_email_bad, BP, "$.confirmationContact.email", f->confirm.email = "24-7@") \
    X(judge_absent, BP, NULL, f->msg.judicial_authority = NULL)                 \
    X(judge_name, BP, "$.judicialAuthority.name", f->judge.name = "")           \
    X(judge_future, BP, "$.judicialAuthority.decidedAt", f->decided.seconds = NOW + DAY) \
    X(judge_phone, BP, "$.judicialAuthority.contact.phone",                     \
      f->judge_contact.phone = "069 1367 0000")                                 \
    X(basis_missing, BP, "$.legalBasis", f->msg.n_legal_basis = 0)              \
    X(basis_null_entry, BP, "$.legalBasis[0].instrument", f->lbp[0] = NULL)     \
    X(instrument_missing, BP, "$.legalBasis[0].instrument", f->lb[0].instrument = 0) \
    X(instrument_unknown, BP, "$.legalBasis[0].instrument", f->lb[0].instrument = 99) \
    X(budapest_article_28, BP, "$.legalBasis[0].article", f->lb[0].article = "28") \
    X(budapest_article_missing, BP, "$.legalBasis[0].article", f->lb[0].article = "") \
    X(budapest_article_290, BP, "$.legalBasis[0].article", f->lb[0].article = "290") \
    X(budapest_article_29a, BP, "$.legalBasis[0].article", f->lb[0].article = "29a") \
    X(budapest_paragraph, BP, NULL, f->lb[0].article = "29(2)")                 \
    X(budapest_35, BE, NULL, f->lb[0].article = "35")                           \
    X(protocol_11, BE, "$.legalBasis[0].article", (f->lb[0].instrument =        \
      AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_SECOND_PROTOCOL,           \
      f->lb[0].article = "11"))                                                 \
    X(protocol_9, BE, NULL, (f->lb[0].instrument =                              \
      AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_SECOND_PROTOCOL,           \
      f->lb[0].article = "9"))                                                  \
    X(treaty_uncited, BP, "$.legalBasis[0].citation", (f->lb[0].instrument =    \
      AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_MLA_TREATY,                \
      f->lb[0].citation = ""))                                                  \
    X(domestic_no_country, BP, "$.legalBasis[1].country", f->lb[1].country = "") \
    X(basis_country_xk, BP, "$.legalBasis[1].country", f->lb[1].country = "XK") \
    X(basis_country_lower, BP, "$.legalBasis[1].country", f->lb[1].country = "de") \
    X(handling_no_code, BP, "$.handling.code", f->handling.code = 0)           \
    X(handling_unknown, BP, "$.handling.code", f->handling.code = 5)           \
    X(handling_h3_bare, BP, "$.handling.conditions", f->handling.code =         \
      AMANAT__V1__HANDLING_CODE__HANDLING_CODE_H3)                              \
    X(handling_h3, BP, NULL, (f->handling.code =                                \
      AMANAT__V1__HANDLING_CODE__HANDLING_CODE_H3,                              \
      f->handling.conditions = "not to be shared with the provider"))          \
    X(evaluation_no_source, BP, "$.evaluation.source", f->eval.source = 0)      \
    X(evaluation_no_info, BP, "$.evaluation.information", f->eval.information = 0) \
    X(evaluation_unknown, BP, "$.evaluation.source", f->eval.source = 5)        \
    X(evaluation_empty, BP, NULL, (f->eval.source = 0, f->eval.information = 0)) \
    X(deadline_past, BP, "$.deadline", f->deadline.seconds = NOW - 1)           \
    X(deadline_now, BP, NULL, f->deadline.seconds = NOW)                        \
    X(deadline_unset, BP, NULL, f->msg.deadline = NULL)                         \
    X(deadline_nanos, BP, "$.deadline", f->deadline.nanos = 1000000000)         \
    X(language_name, BP, "$.languages[0]", f->msg_langs[0] = "english")         \
    X(language_empty, BP, "$.languages[1]", f->msg_langs[1] = "")

#define BODY_ROWS(X)                                                            \
    X(offences_missing, BP, "$.preservation.offences", f->pres.n_offences = 0)  \
    X(offence_empty, BP, "$.preservation.offences[0]",                          \
      (f->off.code = "", f->off.text = "", f->off.taxonomy = ""))               \
    X(offence_code_alone, BP, "$.preservation.offences[0].taxonomy", f->off.taxonomy = "") \
    X(offence_text_only, BP, NULL, (f->off.code = "", f->off.taxonomy = ""))    \
    X(summary_blank, BP, "$.preservation.summary", f->pres.summary = " \n")     \
    X(data_missing, BP, "$.preservation.data", f->pres.n_data = 0)              \
    X(custodian_missing, BP, "$.preservation.data[0].provider", f->data.provider = "") \
    X(provider_country, BP, "$.preservation.data[0].providerCountry",           \
      f->data.provider_country = "PHL")                                         \
    X(identifiers_missing, BP, "$.preservation.data[0].identifiers",            \
      f->data.n_identifiers = 0)                                                \
    X(identifier_blank, BP, "$.preservation.data[0].identifiers[1]", f->ids[1] = "  ") \
    X(category_unspecified, BP, "$.preservation.data[0].categories[1]", f->cats[1] = 0) \
    X(category_unknown, BP, "$.preservation.data[0].categories[0]", f->cats[0] = 4) \
    X(period_backwards, BP, "$.preservation.data[0].period.end",                \
      f->end.seconds = MAY_1 - 1)                                               \
    X(period_open_end, BP, NULL, f->period.end = NULL)                          \
    X(period_nanos, BP, "$.preservation.data[0].period.start", f->start.nanos = -5) \
    X(relation_missing, BP, "$.preservation.data[0].relationToOffence",         \
      f->data.relation_to_offence = "")                                         \
    X(necessity_missing, BP, "$.preservation.necessity", f->pres.necessity = "") \
    X(no_mla_intent, BP, "$.preservation.mutualAssistanceToFollow",             \
      f->pres.mutual_assistance_to_follow = 0)                                  \
    X(days_91, BP, "$.preservation.preservationDays", f->pres.preservation_days = 91) \
    X(days_90, BP, NULL, f->pres.preservation_days = 90)                        \
    X(relevance_missing, BD, "$.disclosure.relevance", f->disc.relevance = "")  \
    X(disclosure_no_data, BD, "$.disclosure.data", f->disc.n_data = 0)         \
    X(disclosure_no_relation, BD, NULL, f->data.relation_to_offence = "")      \
    X(disclosure_no_provider, BD, "$.disclosure.data[0].provider", f->data.provider = "") \
    X(disclosure_summary, BD, "$.disclosure.summary", f->disc.summary = "")     \
    X(risk_missing, BE, "$.emergency.riskFacts", f->emer.risk_facts = " ")      \
    X(data_relation_missing, BE, "$.emergency.dataRelation", f->emer.data_relation = "") \
    X(emergency_no_data, BE, "$.emergency.data", f->emer.n_data = 0)           \
    X(emergency_offences, BE, "$.emergency.offences", f->emer.n_offences = 0)   \
    X(victim_no_media, BV, NULL, f->vict.n_media = 0)                          \
    X(victim_neither, BV, "$.victimIdentification.media",                       \
      (f->vict.n_media = 0, f->vict.indicators = " "))                          \
    X(victim_media_value, BV, "$.victimIdentification.media[0].value",          \
      (f->vict.n_media = 1, f->ent.n_media = 0, f->media[0].value = "9f2b"))    \
    X(victim_indicators, BV, NULL, f->vict.indicators = "")                     \
    X(victim_location, BV, "$.victimIdentification.possibleLocations[0].country", \
      (f->ent.n_locations = 0, f->loc.country = "RP"))                          \
    X(victim_summary, BV, "$.victimIdentification.summary", f->vict.summary = NULL) \
    X(notice_no_basis, BN, "$.legalBasis", f->msg.n_legal_basis = 0)           \
    X(notice_summary, BN, "$.notification.summary", f->notif.summary = "")      \
    X(notice_offences, BN, "$.notification.offences", f->notif.n_offences = 0)  \
    X(notice_bare_header, BN, NULL, (f->msg.requesting_authority = NULL,        \
      f->msg.confirmation_contact = NULL, f->msg.request_status = 0,            \
      f->msg.case_ref = NULL))                                                  \
    X(notice_partial_authority, BN, NULL, (f->ra.organisation = "",             \
      f->ra.time_zone = "", f->ra.preferred_channel = 0, f->pic.email = ""))    \
    X(notice_authority_phone, BN, "$.requestingAuthority.personInCharge.phone", \
      f->pic.phone = "+49-611-550000")                                          \
    X(reply_to_missing, BR, "$.reply.inReplyTo", f->reply.in_reply_to = "")     \
    X(reply_to_upper, BR, "$.reply.inReplyTo",                                  \
      f->reply.in_reply_to = "0123456789ABCDEF0123456789ABCDEF")                \
    X(reply_to_short, BR, "$.reply.inReplyTo",                                  \
      f->reply.in_reply_to = "0123456789abcdef0123456789abcde")                 \
    X(reply_status_missing, BR, "$.reply.status", f->reply.status = 0)          \
    X(reply_status_unknown, BR, "$.reply.status", f->reply.status = 42)         \
    X(refused_no_reason, BR, "$.reply.reason", (f->reply.status =               \
      AMANAT__V1__REPLY_STATUS__REPLY_STATUS_REFUSED,                           \
      f->reply.explanation = "dual criminality is not met"))                    \
    X(refused_no_explanation, BR, "$.reply.explanation", (f->reply.status =     \
      AMANAT__V1__REPLY_STATUS__REPLY_STATUS_REFUSED, f->reply.reason =         \
      AMANAT__V1__REFUSAL_REASON__REFUSAL_REASON_GROUNDS_FOR_REFUSAL))          \
    X(partial_no_reason, BR, "$.reply.reason", f->reply.status =                \
      AMANAT__V1__REPLY_STATUS__REPLY_STATUS_PARTIALLY_ANSWERED)                \
    X(partial, BR, NULL, (f->reply.status =                                     \
      AMANAT__V1__REPLY_STATUS__REPLY_STATUS_PARTIALLY_ANSWERED,                \
      f->reply.reason = AMANAT__V1__REFUSAL_REASON__REFUSAL_REASON_IMPOSSIBILITY)) \
    X(more_info_unsaid, BR, "$.reply.explanation", f->reply.status =            \
      AMANAT__V1__REPLY_STATUS__REPLY_STATUS_MORE_INFORMATION_NEEDED)           \
    X(reason_unknown, BR, "$.reply.reason", f->reply.reason = 99)               \
    X(reply_bare_header, BR, NULL, (f->msg.requesting_authority = NULL,         \
      f->msg.n_legal_basis = 0, f->msg.confirmation_contact = NULL,             \
      f->msg.case_ref = NULL, f->msg.request_status = 0))                       \
    X(reply_results_port, BR, "$.reply.results.ipObservations[0].port", f->ip[0].port = 0) \
    X(reply_expected_nanos, BR, "$.reply.expectedBy",                           \
      (f->reply.expected_by = &f->expected, f->expected.seconds = NOW,          \
       f->expected.nanos = -1))                                                 \
    X(receipt_no_body, BC, "$.receipt.body", f->receipt.body.len = 0)           \
    X(receipt_unsigned, BC, "$.receipt.signature", f->receipt.signature.data = NULL) \
    X(receipt_version, BC, "$.schemaVersion", f->msg.schema_version = 0)

#define ENT "$.preservation.entities."
#define ENTITY_ROWS(X)                                                          \
    X(role_missing, BP, ENT "persons[0].role", f->person[0].role = 0)             \
    X(role_unknown, BP, ENT "persons[2].role", f->person[2].role = 9)             \
    X(person_nothing, BP, ENT "persons[0]", (f->person[0].name = "",              \
      f->person[0].date_of_birth = ""))                                         \
    X(person_alias_only, BP, NULL, (f->person[0].name = "",                     \
      f->person[0].date_of_birth = "", f->person[0].aliases = f->aliases,       \
      f->person[0].n_aliases = 1))                                              \
    X(birth_feb_30, BP, ENT "persons[0].dateOfBirth", f->person[0].date_of_birth = "1990-02-30") \
    X(birth_short, BP, ENT "persons[0].dateOfBirth", f->person[0].date_of_birth = "1990-2-3") \
    X(birth_time, BP, ENT "persons[0].dateOfBirth",                               \
      f->person[0].date_of_birth = "1990-02-03T00:00Z")                         \
    X(birth_future, BP, ENT "persons[0].dateOfBirth", f->person[0].date_of_birth = "2026-06-02") \
    X(birth_today, BP, NULL, f->person[0].date_of_birth = "2026-06-01")         \
    X(birth_1850, BP, ENT "persons[0].dateOfBirth", f->person[0].date_of_birth = "1850-01-01") \
    X(age_200, BP, ENT "persons[1].ageRange.max", f->ages.max = 200)              \
    X(age_backwards, BP, ENT "persons[1].ageRange.min", f->ages.min = 12)         \
    X(age_130, BP, NULL, f->ages.max = 130)                                     \
    X(nationality_xx, BP, ENT "persons[0].nationalities[0]", f->nat[0][0] = "XX") \
    X(nationality_blank, BP, ENT "persons[2].nationalities[0]", f->nat[2][0] = "") \
    X(ipv4_no_port, BP, ENT "ipObservations[0].port", f->ip[0].port = 0)          \
    X(ipv4_no_time, BP, ENT "ipObservations[0].observedAt", f->ip[0].observed_at = NULL) \
    X(ipv6_no_time, BP, ENT "ipObservations[1].observedAt", f->ip[1].observed_at = NULL) \
    X(ipv6_port, BP, NULL, f->ip[1].port = 443)                                 \
    X(ipv4_mapped_no_port, BP, ENT "ipObservations[1].port",                      \
      f->ip[1].address = "::ffff:198.51.100.23")                                \
    X(ip_bad, BP, ENT "ipObservations[0].address", f->ip[0].address = "198.51.100.300") \
    X(ip_host, BP, ENT "ipObservations[1].address", f->ip[1].address = "live.example") \
    X(ip_missing, BP, ENT "ipObservations[0].address", f->ip[0].address = "")    \
    X(ip_port_big, BP, ENT "ipObservations[0].port", f->ip[0].port = 65536)       \
    X(ip_future, BP, ENT "ipObservations[0].observedAt", f->seen4.seconds = NOW + 3600) \
    X(account_no_id, BP, ENT "accounts[0].identifier", f->acc.identifier = "")    \
    X(account_no_provider, BP, ENT "accounts[0].provider", f->acc.provider = "")  \
    X(phone_national, BP, ENT "phones[0].number", f->phone.number = "0917 000 0001") \
    X(phone_missing, BP, ENT "phones[0].number", f->phone.number = NULL)          \
    X(amount_comma, BP, ENT "payments[0].amount", f->pay.amount = "2,500.00")     \
    X(amount_trailing_point, BP, ENT "payments[0].amount", f->pay.amount = "25.")  \
    X(amount_leading_point, BP, ENT "payments[0].amount", f->pay.amount = ".5")   \
    X(amount_nine_decimals, BP, ENT "payments[0].amount", f->pay.amount = "0.123456789") \
    X(amount_negative, BP, ENT "payments[0].amount", f->pay.amount = "-25")       \
    X(amount_sign, BP, ENT "payments[0].amount", f->pay.amount = "PHP 2500")      \
    X(amount_absurd, BP, ENT "payments[0].amount", f->pay.amount = "1000000000000000") \
    X(amount_large, BP, NULL, f->pay.amount = "999999999999999.99999999")       \
    X(amount_no_currency, BP, ENT "payments[0].currency", f->pay.currency = "")   \
    X(currency_unknown, BP, ENT "payments[0].currency", f->pay.currency = "PHX")  \
    X(currency_lower, BP, ENT "payments[0].currency", f->pay.currency = "php")    \
    X(currency_alone, BP, NULL, f->pay.amount = "")                             \
    X(crypto_ok, BP, NULL, (f->pay.currency = "", f->pay.crypto_asset = "USDT")) \
    X(crypto_and_currency, BP, ENT "payments[0].cryptoAsset",                   \
      f->pay.crypto_asset = "BTC")                                              \
    X(crypto_lower, BP, ENT "payments[0].cryptoAsset",                          \
      (f->pay.currency = "", f->pay.crypto_asset = "btc"))                      \
    X(authority_country, BP, "$.requestingAuthority.country",                   \
      f->ra.country = "XX")                                                     \
    X(payment_future, BP, ENT "payments[0].time", f->paid.seconds = NOW + DAY)    \
    X(location_country, BP, ENT "locations[0].country", f->loc.country = "RP")    \
    X(latitude_91, BP, ENT "locations[0].latitude", f->loc.latitude = 91)        \
    X(longitude_nan, BP, ENT "locations[0].longitude", f->loc.longitude = NAN)   \
    X(imei_luhn, BP, ENT "devices[0].imei", f->dev.imei = "352099001761482")     \
    X(imei_letters, BP, ENT "devices[0].imei", f->dev.imei = "35209900176148A")  \
    X(imei_14, BP, NULL, f->dev.imei = "35209900176148")                       \
    X(imei_sv, BP, NULL, f->dev.imei = "3520990017614801")                     \
    X(media_no_algorithm, BP, ENT "media[0].algorithm", f->media[0].algorithm = 0) \
    X(media_unknown_algorithm, BP, ENT "media[0].algorithm", f->media[0].algorithm = 6) \
    X(media_no_value, BP, ENT "media[0].value", f->media[0].value = "")          \
    X(sha256_short, BP, ENT "media[0].value", f->media[0].value = &SHA256_HEX[1]) \
    X(sha256_upper, BP, NULL, f->media[0].value =                               \
      "9F2B5C0E7A1D4E3F8B6A0C9D2E1F4A7B3C6D9E0F1A2B3C4D5E6F708192A3B4C5")       \
    X(md5_as_sha256, BP, ENT "media[0].value",                                    \
      f->media[0].value = "9f2b5c0e7a1d4e3f8b6a0c9d2e1f4a7b")                   \
    X(md5, BP, NULL, (f->media[0].algorithm =                                   \
      AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_MD5,                           \
      f->media[0].value = "9f2b5c0e7a1d4e3f8b6a0c9d2e1f4a7b"))                  \
    X(sha1_wrong, BP, ENT "media[0].value", f->media[0].algorithm =               \
      AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_SHA1)                          \
    X(pdq, BP, NULL, f->media[0].algorithm =                                    \
      AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_PDQ)                           \
    X(photodna_url_alphabet, BP, ENT "media[1].value", f->media[1].value =        \
      "AbCd-_0123456789" B64_16 B64_16 B64_16 B64_16 B64_16 B64_16 B64_16       \
      B64_16 B64_16 B64_16 B64_16)                                              \
    X(photodna_short, BP, ENT "media[1].value", f->media[1].value = &PHOTODNA[4])

typedef struct {
    const char *name;
    int body;
    const char *path; /* NULL: the message stays valid */
    void (*mutate)(fx_t *f);
} row_t;

#define DEFINE(id, body, path, stmt)                                           \
    static void mut_##id(fx_t *f) { stmt; }
#define ROW(id, body, path, stmt) {#id, body, path, mut_##id},

HEADER_ROWS(DEFINE)
BODY_ROWS(DEFINE)
ENTITY_ROWS(DEFINE)

static const row_t rows[] = {
    HEADER_ROWS(ROW) BODY_ROWS(ROW) ENTITY_ROWS(ROW)
};

static const int bodies[] = {BN, BP, BD, BE, BV, BR, BC};

/* ------------------------------------------------------------ the tests */

static void test_valid_messages(void **state)
{
    fx_t f;
    am_problems_t p = AM_PROBLEMS_INIT;
    ProtobufCMessage *back;
    uint8_t *buf;
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        fx_init(&f, bodies[i]);
        if (am_validate_case(&f.msg, NOW, &p) != 0) {
            dump(&p);
            fail_msg("the valid %s has problems", am_case_kind(&f.msg));
        }
        /* The same after the wire: the parser's empty strings and absent
         * sub-messages read as the fixture's. */
        len = amanat__v1__case_message__get_packed_size(&f.msg);
        assert_non_null(buf = malloc(len));
        assert_int_equal(amanat__v1__case_message__pack(&f.msg, buf), len);
        assert_int_equal(am_pb_unpack(&amanat__v1__case_message__descriptor,
                                      "case message", buf, len, len, &back),
                         0);
        assert_int_equal(am_validate_case((void *)back, NOW, &p), 0);
        am_pb_free(back);
        free(buf);
    }
    am_problems_free(&p);
}

/* A row passes when it yields exactly its one path (or none), with a
 * sentence that was not cut and reads as one. */
static bool row_ok(const row_t *r, int rc, const am_problems_t *p)
{
    const char *msg;
    size_t n;

    if (r->path == NULL)
        return rc == 0 && p->n == 0;
    if (rc != 1 || p->n != 1 || strcmp(p->items[0].path, r->path) != 0)
        return false;
    msg = p->items[0].message;
    n = strlen(msg);
    return n > 10 && n < AM_PROBLEM_MESSAGE_MAX - 1 && msg[n - 1] != '.';
}

static void test_one_problem_per_rule(void **state)
{
    fx_t f;
    am_problems_t p = AM_PROBLEMS_INIT;
    size_t failed = 0;
    int rc;

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fx_init(&f, rows[i].body);
        rows[i].mutate(&f);
        rc = am_validate_case(&f.msg, NOW, &p);
        if (row_ok(&rows[i], rc, &p))
            continue;
        print_message("# row %s: want %s, got %d:\n", rows[i].name,
                      rows[i].path ? rows[i].path : "no problem", rc);
        dump(&p);
        failed++;
    }
    am_problems_free(&p);
    if (failed != 0)
        fail_msg("%zu of %zu rows failed", failed, sizeof rows / sizeof rows[0]);
    print_message("# %zu rows\n", sizeof rows / sizeof rows[0]);
}

static void test_kind_and_deadline(void **state)
{
    static const char *kinds[] = {"notification", "preservation", "disclosure",
                                  "emergency", "victimIdentification", "reply",
                                  "receipt"};
    static const int64_t spans[] = {0, 60 * DAY, 10 * DAY, 8 * 3600,
                                    30 * DAY, 0, 0};
    const int64_t t0 = NOW - 3600;
    fx_t f;

    (void)state;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        fx_init(&f, bodies[i]);
        assert_string_equal(am_case_kind(&f.msg), kinds[i]);
        assert_int_equal(am_case_default_deadline(&f.msg, t0),
                         spans[i] == 0 ? 0 : t0 + spans[i]);
    }
    fx_init(&f, BP);
    f.pres.preservation_days = 30;
    assert_int_equal(am_case_default_deadline(&f.msg, t0), t0 + 30 * DAY);
    f.pres.preservation_days = 400; /* invalid; the clock still stops at 90 */
    assert_int_equal(am_case_default_deadline(&f.msg, t0), t0 + 90 * DAY);
    assert_int_equal(am_case_default_deadline(&f.msg, INT64_MAX - 5), 0);
    f.msg.body_case = AMANAT__V1__CASE_MESSAGE__BODY__NOT_SET;
    assert_null(am_case_kind(&f.msg));
    assert_int_equal(am_case_default_deadline(&f.msg, t0), 0);
    assert_null(am_case_kind(NULL));
    assert_int_equal(am_case_default_deadline(NULL, t0), 0);
}

/* An empty preservation request: every requirement, in field order. */
static void test_everything_missing(void **state)
{
    static const char *want[] = {
        "$.schemaVersion", "$.caseRef.senderRef", "$.requestStatus",
        "$.requestingAuthority", "$.confirmationContact", "$.legalBasis",
        "$.preservation.offences", "$.preservation.summary",
        "$.preservation.data", "$.preservation.necessity",
        "$.preservation.mutualAssistanceToFollow",
    };
    Amanat__V1__CaseMessage m = AMANAT__V1__CASE_MESSAGE__INIT;
    Amanat__V1__PreservationRequest pr = AMANAT__V1__PRESERVATION_REQUEST__INIT;
    am_problems_t p = AM_PROBLEMS_INIT;
    const size_t n = sizeof want / sizeof want[0];

    (void)state;
    m.body_case = BP;
    m.preservation = &pr;
    assert_int_equal(am_validate_case(&m, NOW, &p), n);
    assert_int_equal(p.n, n);
    assert_int_equal(p.more, 0);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(p.items[i].path, want[i]);
    am_problems_free(&p);
    assert_null(p.items);
    assert_int_equal(p.n + p.cap, 0);
}

static void test_hand_built_gaps(void **state)
{
    fx_t f;
    am_problems_t p = AM_PROBLEMS_INIT;

    (void)state;
    fx_init(&f, BP);
    f.personp[1] = NULL; /* read as an empty person */
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 2);
    assert_string_equal(p.items[0].path, ENT "persons[1].role");
    assert_string_equal(p.items[1].path, ENT "persons[1]");
    fx_init(&f, BP);
    f.datap[0] = NULL;
    f.offp[0] = NULL;
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 4);
    assert_string_equal(p.items[0].path, "$.preservation.offences[0]");
    assert_string_equal(p.items[1].path, "$.preservation.data[0].provider");
    assert_string_equal(p.items[2].path, "$.preservation.data[0].identifiers");
    assert_string_equal(p.items[3].path,
                        "$.preservation.data[0].relationToOffence");
    am_problems_free(&p);
    am_problems_free(NULL);
    assert_int_equal(am_validate_case(NULL, NOW, &p), AM_EINVAL);
    assert_int_equal(am_validate_case(&f.msg, NOW, NULL), AM_EINVAL);
}

/* Values in sentences: control characters masked, long ones cut on a
 * UTF-8 boundary. */
static void test_values_shown_safely(void **state)
{
    char phone[64];
    fx_t f;
    am_problems_t p = AM_PROBLEMS_INIT;

    (void)state;
    fx_init(&f, BP);
    f.pic.phone = "+49\x1b[2J611";
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 1);
    assert_non_null(strstr(p.items[0].message, "\"+49?[2J611\""));
    memset(phone, 'x', 39);
    memcpy(phone + 39, "\xc3\xa9yyyy", 7); /* an e-acute across byte 40 */
    f.pic.phone = phone;
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 1);
    assert_non_null(strstr(p.items[0].message,
                           "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\""));
    am_problems_free(&p);
}

/* 300 bad phone numbers: 256 recorded, 44 counted, all returned; the
 * list is reused afterwards. */
static void test_problem_cap(void **state)
{
    static Amanat__V1__Phone phones[300], *pp[300];
    fx_t f;
    am_problems_t p = AM_PROBLEMS_INIT;

    (void)state;
    fx_init(&f, BN);
    for (size_t i = 0; i < 300; i++) {
        amanat__v1__phone__init(&phones[i]);
        phones[i].number = "call me";
        pp[i] = &phones[i];
    }
    f.ent.phones = pp;
    f.ent.n_phones = 300;
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 300);
    assert_int_equal(p.n, AM_PROBLEMS_MAX);
    assert_int_equal(p.more, 300 - AM_PROBLEMS_MAX);
    assert_string_equal(p.items[255].path,
                        "$.notification.entities.phones[255].number");
    f.ent.n_phones = 0;
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 0);
    assert_int_equal(p.n + p.more, 0);
    am_problems_free(&p);
}

/* A valid message costs no allocation; a failed one is reported. */
static void test_allocation_failure(void **state)
{
    t_alloc_ctx_t ctx = {0};
    fx_t f;
    am_problems_t p = AM_PROBLEMS_INIT;

    (void)state;
    am_alloc_set_hook(t_alloc_hook, &ctx);
    fx_init(&f, BR);
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 0);
    assert_int_equal(ctx.calls, 0);
    f.reply.status = 0;
    ctx.fail_at = 1;
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), AM_ENOMEM);
    assert_int_equal(p.n, 0);
    /* The second allocation grows the list past 16 entries. */
    fx_init(&f, BP);
    f.msg.request_status = 0;
    f.ra.organisation = f.ra.time_zone = f.pic.name = f.pic.phone =
        f.pic.email = f.confirm.name = f.pres.summary = f.pres.necessity =
            f.data.provider = f.data.relation_to_offence = f.acc.provider =
                f.acc.identifier = f.phone.number = f.pay.currency = "";
    f.ra.preferred_channel = 0;
    f.pres.mutual_assistance_to_follow = 0;
    f.ip[0].port = 0;
    f.ip[1].observed_at = NULL;
    ctx.calls = 0;
    ctx.fail_at = 2;
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), AM_ENOMEM);
    assert_int_equal(p.n, 16);
    ctx.fail_at = 0;
    assert_int_equal(am_validate_case(&f.msg, NOW, &p), 19);
    am_alloc_set_hook(NULL, NULL);
    am_problems_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_messages),
        cmocka_unit_test(test_one_problem_per_rule),
        cmocka_unit_test(test_kind_and_deadline),
        cmocka_unit_test(test_everything_missing),
        cmocka_unit_test(test_hand_built_gaps),
        cmocka_unit_test(test_values_shown_safely),
        cmocka_unit_test(test_problem_cap),
        cmocka_unit_test(test_allocation_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
