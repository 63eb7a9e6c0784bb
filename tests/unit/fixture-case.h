/* Complete, valid case messages of every body type, for the tests of
 * proto/validate.h (and of anything else that reads case messages): a
 * fictional livestreamed-abuse case, a viewer in Germany, a facilitator in
 * Pakistan, a victim in the Philippines.  Every name, number and address
 * is invented; IP addresses come from the documentation ranges (RFC 5737,
 * RFC 3849), e-mail domains from .example.
 *
 * fx_init(&f, body) fills f; everything the message points to lives in f,
 * so a test may change any part and rebuild with fx_init.  Include once
 * per test program. */
#ifndef AM_FIXTURE_CASE_H
#define AM_FIXTURE_CASE_H

#include <stdint.h>
#include <string.h>

#include "case.pb-c.h"

#define NOW INT64_C(1780272000)      /* 2026-06-01T00:00:00Z */
#define SEEN INT64_C(1779302527)     /* 2026-05-20T18:42:07Z */
#define PAID INT64_C(1779301800)     /* 2026-05-20T18:30:00Z */
#define DECIDED INT64_C(1779962400)  /* 2026-05-28T10:00:00Z */
#define MAY_1 INT64_C(1777593600)    /* 2026-05-01T00:00:00Z */
#define MAY_31 INT64_C(1780271999)   /* 2026-05-31T23:59:59Z */
#define DAY INT64_C(86400)

#define BN AMANAT__V1__CASE_MESSAGE__BODY_NOTIFICATION
#define BP AMANAT__V1__CASE_MESSAGE__BODY_PRESERVATION
#define BD AMANAT__V1__CASE_MESSAGE__BODY_DISCLOSURE
#define BE AMANAT__V1__CASE_MESSAGE__BODY_EMERGENCY
#define BV AMANAT__V1__CASE_MESSAGE__BODY_VICTIM_IDENTIFICATION
#define BR AMANAT__V1__CASE_MESSAGE__BODY_REPLY
#define BC AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT

#define SHA256_HEX "9f2b5c0e7a1d4e3f8b6a0c9d2e1f4a7b3c6d9e0f1a2b3c4d5e6f708192a3b4c5"
#define B64_16 "AbCd+/0123456789"
#define PHOTODNA B64_16 B64_16 B64_16 B64_16 B64_16 B64_16 \
                 B64_16 B64_16 B64_16 B64_16 B64_16 B64_16

typedef Google__Protobuf__Timestamp ts_t;

/* Everything a message points to, in one place: a fixture is rebuilt for
 * every row, so a mutation never leaks into the next. */
typedef struct {
    Amanat__V1__CaseMessage msg;
    ts_t created, deadline, decided, seen4, seen6, paid, start, end, expected;
    Amanat__V1__CaseReference ref;
    Amanat__V1__RequestingAuthority ra;
    Amanat__V1__Contact pic, confirm, judge_contact;
    char *pic_langs[2], *msg_langs[2];
    Amanat__V1__JudicialAuthority judge;
    Amanat__V1__LegalBasis lb[2], *lbp[2];
    Amanat__V1__Handling handling;
    Amanat__V1__Evaluation eval;
    Amanat__V1__OffenceType off, *offp[1];
    Amanat__V1__Person person[3], *personp[3];
    char *nat[3][1], *aliases[1];
    Amanat__V1__AgeRange ages;
    Amanat__V1__IpObservation ip[2], *ipp[2];
    Amanat__V1__OnlineAccount acc, *accp[1];
    Amanat__V1__Phone phone, *phonep[1];
    Amanat__V1__Payment pay, *payp[1];
    Amanat__V1__Location loc, *locp[1];
    Amanat__V1__Device dev, *devp[1];
    Amanat__V1__MediaReference media[2], *mediap[2];
    Amanat__V1__Entities ent;
    Amanat__V1__DataToPreserve data, *datap[1];
    char *ids[2];
    Amanat__V1__DataCategory cats[2];
    Amanat__V1__TimeRange period;
    Amanat__V1__CaseNotification notif;
    Amanat__V1__PreservationRequest pres;
    Amanat__V1__DisclosureRequest disc;
    Amanat__V1__EmergencyDisclosureRequest emer;
    Amanat__V1__VictimIdentificationRequest vict;
    Amanat__V1__Reply reply;
    Amanat__V1__SignedReceipt receipt;
    uint8_t receipt_body[8], receipt_sig[64];
} fx_t;

static ts_t *ts(ts_t *t, int64_t seconds)
{
    google__protobuf__timestamp__init(t);
    t->seconds = seconds;
    return t;
}

static void fx_contacts(fx_t *f)
{
    amanat__v1__contact__init(&f->pic);
    f->pic.name = "KHKin Lena Vogt";
    f->pic.role = "Case officer";
    f->pic.email = "l.vogt@bka.example";
    f->pic.phone = "+49611550000";
    f->pic.mobile = "+491701234567";
    f->pic_langs[0] = "de";
    f->pic_langs[1] = "en";
    f->pic.languages = f->pic_langs;
    f->pic.n_languages = 2;
    amanat__v1__requesting_authority__init(&f->ra);
    f->ra.organisation = "Bundeskriminalamt, unit SO 12 (fictional)";
    f->ra.person_in_charge = &f->pic;
    f->ra.address = "Thaerstrasse 11, 65193 Wiesbaden";
    f->ra.office_hours = "Mon-Fri 07:00-18:00";
    f->ra.time_zone = "Europe/Berlin";
    f->ra.preferred_channel = AMANAT__V1__RESPONSE_CHANNEL__RESPONSE_CHANNEL_AMANAT;
    amanat__v1__contact__init(&f->confirm);
    f->confirm.name = "24/7 contact point";
    f->confirm.phone = "+49611551111";
    f->confirm.email = "24-7@bka.example";
    f->confirm.available_around_the_clock = 1;
    amanat__v1__contact__init(&f->judge_contact);
    f->judge_contact.name = "OStAin Maren Kessler";
    f->judge_contact.phone = "+496913670000";
    amanat__v1__judicial_authority__init(&f->judge);
    f->judge.name = "Public Prosecutor's Office Frankfurt am Main (ZIT)";
    f->judge.kind = "prosecutor";
    f->judge.reference = "ZIT 2026/1234";
    f->judge.contact = &f->judge_contact;
    f->judge.decided_at = ts(&f->decided, DECIDED);
}

static void fx_header(fx_t *f)
{
    Amanat__V1__CaseMessage *m = &f->msg;

    amanat__v1__case_reference__init(&f->ref);
    f->ref.sender_ref = "BKA-SO12-2026-0417";
    f->ref.operation = "KITE";
    m->created_at = ts(&f->created, NOW - 3600);
    m->case_ref = &f->ref;
    m->request_status = AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_NEW;
    m->requesting_authority = &f->ra;
    m->confirmation_contact = &f->confirm;
    m->judicial_authority = &f->judge;
    amanat__v1__legal_basis__init(&f->lb[0]);
    f->lb[0].instrument = AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_BUDAPEST_CONVENTION;
    f->lb[0].article = "29";
    f->lb[0].citation = "Convention on Cybercrime, Art. 29";
    amanat__v1__legal_basis__init(&f->lb[1]);
    f->lb[1].instrument = AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_DOMESTIC_LAW;
    f->lb[1].article = "100g StPO";
    f->lb[1].country = "DE";
    f->lbp[0] = &f->lb[0];
    f->lbp[1] = &f->lb[1];
    m->legal_basis = f->lbp;
    m->n_legal_basis = 2;
    amanat__v1__handling__init(&f->handling);
    f->handling.code = AMANAT__V1__HANDLING_CODE__HANDLING_CODE_H2;
    m->handling = &f->handling;
    amanat__v1__evaluation__init(&f->eval);
    f->eval.source = AMANAT__V1__SOURCE_RELIABILITY__SOURCE_RELIABILITY_B;
    f->eval.information = AMANAT__V1__INFORMATION_CREDIBILITY__INFORMATION_CREDIBILITY_2;
    m->evaluation = &f->eval;
    m->deadline = ts(&f->deadline, NOW + 5 * DAY);
    f->msg_langs[0] = "en";
    f->msg_langs[1] = "de";
    m->languages = f->msg_langs;
    m->n_languages = 2;
}

static void fx_persons(fx_t *f)
{
    for (size_t i = 0; i < 3; i++) {
        amanat__v1__person__init(&f->person[i]);
        f->personp[i] = &f->person[i];
        f->person[i].nationalities = f->nat[i];
        f->person[i].n_nationalities = 1;
    }
    f->person[0].role = AMANAT__V1__PERSON_ROLE__PERSON_ROLE_SUSPECT;
    f->person[0].name = "Jonas Feldmann";
    f->person[0].date_of_birth = "1979-04-12";
    f->nat[0][0] = "DE";
    f->person[1].role = AMANAT__V1__PERSON_ROLE__PERSON_ROLE_VICTIM;
    f->person[1].description = "girl, about 9, seen on the stream of 20 May";
    amanat__v1__age_range__init(&f->ages);
    f->ages.min = 8;
    f->ages.max = 10;
    f->person[1].age_range = &f->ages;
    f->nat[1][0] = "PH";
    f->person[2].role = AMANAT__V1__PERSON_ROLE__PERSON_ROLE_FACILITATOR;
    f->aliases[0] = "kite_admin";
    f->person[2].aliases = f->aliases;
    f->person[2].n_aliases = 1;
    f->nat[2][0] = "PK";
    f->ent.persons = f->personp;
    f->ent.n_persons = 3;
}

static void fx_traces(fx_t *f)
{
    amanat__v1__ip_observation__init(&f->ip[0]);
    f->ip[0].address = "198.51.100.23";
    f->ip[0].port = 51234;
    f->ip[0].observed_at = ts(&f->seen4, SEEN);
    f->ip[0].provider = "ExampleLive";
    amanat__v1__ip_observation__init(&f->ip[1]);
    f->ip[1].address = "2001:db8:4d2::17";
    f->ip[1].observed_at = ts(&f->seen6, SEEN + 61);
    f->ipp[0] = &f->ip[0];
    f->ipp[1] = &f->ip[1];
    f->ent.ip_observations = f->ipp;
    f->ent.n_ip_observations = 2;
    amanat__v1__online_account__init(&f->acc);
    f->acc.provider = "ExampleLive";
    f->acc.identifier = "kite_stream_77";
    f->accp[0] = &f->acc;
    f->ent.accounts = f->accp;
    f->ent.n_accounts = 1;
    amanat__v1__phone__init(&f->phone);
    f->phone.number = "+639170000001";
    f->phonep[0] = &f->phone;
    f->ent.phones = f->phonep;
    f->ent.n_phones = 1;
    amanat__v1__payment__init(&f->pay);
    f->pay.provider = "ExamplePay";
    f->pay.reference = "TX-20260520-88412";
    f->pay.amount = "2500.00";
    f->pay.currency = "PHP";
    f->pay.time = ts(&f->paid, PAID);
    f->payp[0] = &f->pay;
    f->ent.payments = f->payp;
    f->ent.n_payments = 1;
}

static void fx_things(fx_t *f)
{
    amanat__v1__location__init(&f->loc);
    f->loc.description = "the room seen on the stream";
    f->loc.country = "PH";
    f->loc.latitude = 10.3157;
    f->loc.longitude = 123.8854;
    f->locp[0] = &f->loc;
    f->ent.locations = f->locp;
    f->ent.n_locations = 1;
    amanat__v1__device__init(&f->dev);
    f->dev.kind = "mobile phone";
    f->dev.imei = "352099001761481";
    f->devp[0] = &f->dev;
    f->ent.devices = f->devp;
    f->ent.n_devices = 1;
    amanat__v1__media_reference__init(&f->media[0]);
    f->media[0].algorithm = AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_SHA256;
    f->media[0].value = SHA256_HEX;
    f->media[0].size = 48213377;
    amanat__v1__media_reference__init(&f->media[1]);
    f->media[1].algorithm = AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_PHOTODNA;
    f->media[1].value = PHOTODNA;
    f->mediap[0] = &f->media[0];
    f->mediap[1] = &f->media[1];
    f->ent.media = f->mediap;
    f->ent.n_media = 2;
}

static void fx_data(fx_t *f)
{
    amanat__v1__data_to_preserve__init(&f->data);
    f->data.provider = "ExampleLive Inc.";
    f->data.provider_country = "PH";
    f->ids[0] = "kite_stream_77";
    f->ids[1] = "198.51.100.23";
    f->data.identifiers = f->ids;
    f->data.n_identifiers = 2;
    f->cats[0] = AMANAT__V1__DATA_CATEGORY__DATA_CATEGORY_SUBSCRIBER;
    f->cats[1] = AMANAT__V1__DATA_CATEGORY__DATA_CATEGORY_TRAFFIC;
    f->data.categories = f->cats;
    f->data.n_categories = 2;
    amanat__v1__time_range__init(&f->period);
    f->period.start = ts(&f->start, MAY_1);
    f->period.end = ts(&f->end, MAY_31);
    f->data.period = &f->period;
    f->data.relation_to_offence = "the account streamed the abuse on 20 May; "
                                  "its logs show who watched and paid";
    f->datap[0] = &f->data;
}

#define OFFENCES(b) \
    ((b)->offences = f->offp, (b)->n_offences = 1, \
     (b)->summary = "A viewer in Germany paid a facilitator in Pakistan to " \
                    "watch the live abuse of a girl in the Philippines.", \
     (b)->entities = &f->ent)
#define DATA(b) ((b)->data = f->datap, (b)->n_data = 1)

static void fx_requests(fx_t *f)
{
    amanat__v1__preservation_request__init(&f->pres);
    OFFENCES(&f->pres);
    DATA(&f->pres);
    f->pres.necessity = "ExampleLive deletes connection logs after 90 days";
    f->pres.mutual_assistance_to_follow = 1;
    amanat__v1__disclosure_request__init(&f->disc);
    OFFENCES(&f->disc);
    DATA(&f->disc);
    f->disc.relevance = "the subscriber data name the viewer's accomplices";
    amanat__v1__emergency_disclosure_request__init(&f->emer);
    OFFENCES(&f->emer);
    DATA(&f->emer);
    f->emer.risk_facts = "a new stream with the same girl is announced for "
                         "tonight 20:00 PHT";
    f->emer.data_relation = "the facilitator's subscriber data locate the "
                            "house before the stream starts";
    amanat__v1__victim_identification_request__init(&f->vict);
    OFFENCES(&f->vict);
    f->vict.media = f->mediap;
    f->vict.n_media = 2;
    f->vict.indicators = "Cebuano speech; a school calendar of 2026 on the wall";
    f->vict.possible_locations = f->locp;
    f->vict.n_possible_locations = 1;
    amanat__v1__case_notification__init(&f->notif);
    OFFENCES(&f->notif);
    f->notif.suggested_action = "identify the facilitator's phone subscriber";
}

static void fx_answers(fx_t *f)
{
    amanat__v1__reply__init(&f->reply);
    f->reply.in_reply_to = "0123456789abcdef0123456789abcdef";
    f->reply.status = AMANAT__V1__REPLY_STATUS__REPLY_STATUS_ANSWERED;
    f->reply.results = &f->ent;
    amanat__v1__signed_receipt__init(&f->receipt);
    memset(f->receipt_body, 0x42, sizeof f->receipt_body);
    memset(f->receipt_sig, 0x5a, sizeof f->receipt_sig);
    f->receipt.body.data = f->receipt_body;
    f->receipt.body.len = sizeof f->receipt_body;
    f->receipt.signature.data = f->receipt_sig;
    f->receipt.signature.len = sizeof f->receipt_sig;
}

/* A complete, valid message with the given body. */
static void fx_init(fx_t *f, int body)
{
    Amanat__V1__CaseMessage *m = &f->msg;

    memset(f, 0, sizeof *f);
    amanat__v1__case_message__init(m);
    m->schema_version = 1;
    amanat__v1__offence_type__init(&f->off);
    f->off.taxonomy = "ICCS";
    f->off.code = "03022";
    f->off.text = "Sexual exploitation of children";
    f->offp[0] = &f->off;
    amanat__v1__entities__init(&f->ent);
    fx_contacts(f);
    fx_persons(f);
    fx_traces(f);
    fx_things(f);
    fx_data(f);
    fx_requests(f);
    fx_answers(f);
    if (body == BC) { /* a receipt carries nothing else */
        m->created_at = ts(&f->created, NOW - 60);
    } else {
        fx_header(f);
    }
    m->body_case = (Amanat__V1__CaseMessage__BodyCase)body;
    switch (body) {
    case BN: m->notification = &f->notif; break;
    case BP: m->preservation = &f->pres; break;
    case BD: m->disclosure = &f->disc; break;
    case BE: m->emergency = &f->emer; break;
    case BV: m->victim_identification = &f->vict; break;
    case BR: m->reply = &f->reply; break;
    case BC: m->receipt = &f->receipt; break;
    default: break;
    }
}

#endif
