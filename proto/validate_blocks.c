/* Case message validation: the blocks several bodies share (contacts, the
 * requesting authority, legal bases, offences, handling and evaluation,
 * data held by a provider).  The rules are tabled in validate.h. */
#include "validate_internal.h"

#include <string.h>

#include "country.h"
#include "language.h"

enum { NEED_NAME = 1, NEED_PHONE = 2, NEED_EMAIL = 4, NEED_REACH = 8 };

/* A missing repeated entry in a hand-built message reads as an empty one. */
static const Amanat__V1__LegalBasis empty_basis = AMANAT__V1__LEGAL_BASIS__INIT;
static const Amanat__V1__OffenceType empty_offence =
    AMANAT__V1__OFFENCE_TYPE__INIT;
static const Amanat__V1__DataToPreserve empty_data =
    AMANAT__V1__DATA_TO_PRESERVE__INIT;

void am_v_country(am_vctx_t *v, const char *leaf, const char *cc)
{
    if (!am_v_blank(cc) && !am_country_valid(cc))
        am_v_problem(v, leaf, "country %s is not an ISO 3166-1 alpha-2 code: "
                     "two capitals, e.g. \"PK\", \"DE\", \"PH\"",
                     am_v_show(cc).s);
}

static void check_phone(am_vctx_t *v, const char *leaf, const char *s,
                        bool required)
{
    if (am_v_blank(s)) {
        if (required)
            am_v_problem(v, leaf, "the phone number is missing: + country "
                         "code and number, e.g. \"+925190000000\"");
    } else if (!am_v_e164(s)) {
        am_v_problem(v, leaf, "phone %s is not in E.164 form: + country code "
                     "and number, digits only, e.g. \"+925190000000\"",
                     am_v_show(s).s);
    }
}

static void check_email(am_vctx_t *v, const char *s, bool required)
{
    if (am_v_blank(s)) {
        if (required)
            am_v_problem(v, "email", "the e-mail address is missing");
    } else if (!am_v_email(s)) {
        am_v_problem(v, "email", "e-mail address %s does not look like one: "
                     "name@domain.tld, no spaces", am_v_show(s).s);
    }
}

static void check_contact(am_vctx_t *v, const char *leaf,
                          const Amanat__V1__Contact *c, int need)
{
    size_t mark = am_v_push(v, leaf);

    if (need & NEED_NAME)
        am_v_need(v, "name", c->name, "the contact's name is missing");
    if ((need & NEED_REACH) && am_v_blank(c->phone) && am_v_blank(c->email))
        am_v_problem(v, "phone", "a contact for confirmation needs a phone "
                     "number or an e-mail address");
    check_email(v, c->email, need & NEED_EMAIL);
    check_phone(v, "phone", c->phone, need & NEED_PHONE);
    check_phone(v, "mobile", c->mobile, false);
    am_v_languages(v, "languages", c->languages, c->n_languages);
    am_v_pop(v, mark);
}

void am_v_contact(am_vctx_t *v, const char *leaf,
                  const Amanat__V1__Contact *c, bool required)
{
    if (c != NULL)
        check_contact(v, leaf, c,
                      required ? NEED_NAME | NEED_PHONE | NEED_EMAIL : 0);
}

static void check_time_zone(am_vctx_t *v, const char *tz, bool required)
{
    if (am_v_blank(tz)) {
        if (required)
            am_v_problem(v, "timeZone", "the time zone is missing: the other "
                         "side calls in your office hours (IANA name, e.g. "
                         "\"Asia/Karachi\")");
    } else if (!am_v_time_zone(tz)) {
        am_v_problem(v, "timeZone", "time zone %s is not an IANA name: write "
                     "Area/City, e.g. \"Asia/Karachi\", or \"UTC\"",
                     am_v_show(tz).s);
    }
}

static void check_channel(am_vctx_t *v, int ch, bool required)
{
    if (ch < 0 ||
        ch > AMANAT__V1__RESPONSE_CHANNEL__RESPONSE_CHANNEL_CENTRAL_AUTHORITY)
        am_v_problem(v, "preferredChannel", "response channel %d is unknown",
                     ch);
    else if (required &&
             ch == AMANAT__V1__RESPONSE_CHANNEL__RESPONSE_CHANNEL_UNSPECIFIED)
        am_v_problem(v, "preferredChannel", "say how you want the answer: "
                     "AMANAT, EMAIL, PHONE or CENTRAL_AUTHORITY");
}

void am_v_authority(am_vctx_t *v, const Amanat__V1__RequestingAuthority *ra,
                    bool required)
{
    size_t mark;

    if (ra == NULL) {
        if (required)
            am_v_problem(v, "requestingAuthority", "the requesting authority "
                         "is missing: organisation, person in charge, time "
                         "zone and preferred response channel");
        return;
    }
    mark = am_v_push(v, "requestingAuthority");
    if (required)
        am_v_need(v, "organisation", ra->organisation, "name the requesting "
                  "organisation: agency and unit");
    if (ra->person_in_charge != NULL)
        am_v_contact(v, "personInCharge", ra->person_in_charge, required);
    else if (required)
        am_v_problem(v, "personInCharge", "the person in charge is missing: "
                     "name, phone and e-mail of the officer to deal with");
    check_time_zone(v, ra->time_zone, required);
    check_channel(v, (int)ra->preferred_channel, required);
    am_v_country(v, "country", ra->country);
    am_v_pop(v, mark);
}

void am_v_confirmation(am_vctx_t *v, const Amanat__V1__Contact *c,
                       bool required)
{
    if (c != NULL)
        check_contact(v, "confirmationContact", c,
                      required ? NEED_NAME | NEED_REACH : 0);
    else if (required)
        am_v_problem(v, "confirmationContact", "a contact for confirmation is "
                     "missing: someone the other side can reach to confirm "
                     "the request is genuine");
}

void am_v_judicial(am_vctx_t *v, const Amanat__V1__JudicialAuthority *j)
{
    size_t mark;

    if (j == NULL)
        return;
    mark = am_v_push(v, "judicialAuthority");
    am_v_need(v, "name", j->name, "name the prosecutor's office or court "
              "that decided the request");
    am_v_contact(v, "contact", j->contact, false);
    am_v_time(v, "decidedAt", j->decided_at, AM_V_NOT_FUTURE);
    am_v_pop(v, mark);
}

/* "29" or "29(2)": the article number, optionally with a paragraph. */
static unsigned article_number(const char *s)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < 3 && s[i] >= '0' && s[i] <= '9'; i++)
        n = n * 10 + (unsigned)(s[i] - '0');
    if (i == 0 || (s[i] != '\0' && s[i] != '('))
        return 0;
    return n;
}

static void check_article(am_vctx_t *v, const char *art, const char *what,
                          const unsigned *ok, size_t n_ok, const char *list)
{
    unsigned a;

    if (am_v_blank(art)) {
        am_v_problem(v, "article", "which article of the %s? %s", what, list);
        return;
    }
    a = article_number(art);
    for (size_t i = 0; i < n_ok; i++)
        if (a == ok[i])
            return;
    am_v_problem(v, "article", "%s article %s is not a basis for a request "
                 "here: %s", what, am_v_show(art).s, list);
}

static void check_basis(am_vctx_t *v, const Amanat__V1__LegalBasis *b)
{
    static const unsigned budapest[] = {16, 17, 26, 29, 30, 31, 35};
    static const unsigned protocol[] = {6, 7, 8, 9, 10};

    switch (b->instrument) {
    case AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_UNSPECIFIED:
        am_v_problem(v, "instrument", "the legal instrument is missing: "
                     "BUDAPEST_CONVENTION, SECOND_PROTOCOL, MLA_TREATY, "
                     "EU_E_EVIDENCE or DOMESTIC_LAW");
        break;
    case AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_BUDAPEST_CONVENTION:
        check_article(v, b->article, "Budapest Convention", budapest, 7,
                      "16, 17, 26, 29, 30, 31 or 35");
        break;
    case AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_SECOND_PROTOCOL:
        check_article(v, b->article, "Second Additional Protocol", protocol,
                      5, "6, 7, 8, 9 or 10");
        break;
    case AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_MLA_TREATY:
        am_v_need(v, "citation", b->citation, "name the mutual legal "
                  "assistance treaty in the citation");
        break;
    case AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_EU_E_EVIDENCE:
        break;
    case AMANAT__V1__LEGAL_INSTRUMENT__LEGAL_INSTRUMENT_DOMESTIC_LAW:
        am_v_need(v, "country", b->country, "domestic law needs its country "
                  "(ISO 3166-1 alpha-2, e.g. \"PK\")");
        break;
    default:
        am_v_problem(v, "instrument", "legal instrument %d is unknown",
                     (int)b->instrument);
        break;
    }
    am_v_country(v, "country", b->country);
}

void am_v_legal_bases(am_vctx_t *v, const Amanat__V1__CaseMessage *m,
                      bool required)
{
    size_t mark, idx;

    if (m->n_legal_basis == 0) {
        if (required)
            am_v_problem(v, "legalBasis", "the legal basis is missing: the "
                         "instrument and article, e.g. Budapest Convention "
                         "Art. 29");
        return;
    }
    mark = am_v_push(v, "legalBasis");
    for (size_t i = 0; i < m->n_legal_basis; i++) {
        idx = am_v_index(v, i);
        check_basis(v, m->legal_basis[i] != NULL ? m->legal_basis[i]
                                                 : &empty_basis);
        am_v_pop(v, idx);
    }
    am_v_pop(v, mark);
}

static void check_offence(am_vctx_t *v, const Amanat__V1__OffenceType *o)
{
    if (am_v_blank(o->code) && am_v_blank(o->text))
        am_v_problem(v, NULL, "an offence needs a description or a code from "
                     "a taxonomy such as ICCS");
    else if (!am_v_blank(o->code) && am_v_blank(o->taxonomy))
        am_v_problem(v, "taxonomy", "offence code %s needs its taxonomy, "
                     "e.g. \"ICCS\"", am_v_show(o->code).s);
}

void am_v_offences(am_vctx_t *v, Amanat__V1__OffenceType *const *o, size_t n,
                   bool required)
{
    size_t mark, idx;

    if (n == 0) {
        if (required)
            am_v_problem(v, "offences", "the offence is missing: at least "
                         "one, e.g. ICCS 03022, sexual exploitation of "
                         "children");
        return;
    }
    mark = am_v_push(v, "offences");
    for (size_t i = 0; i < n; i++) {
        idx = am_v_index(v, i);
        check_offence(v, o[i] != NULL ? o[i] : &empty_offence);
        am_v_pop(v, idx);
    }
    am_v_pop(v, mark);
}

void am_v_handling(am_vctx_t *v, const Amanat__V1__Handling *h)
{
    size_t mark;
    int code;

    if (h == NULL)
        return;
    mark = am_v_push(v, "handling");
    code = (int)h->code;
    if (code == AMANAT__V1__HANDLING_CODE__HANDLING_CODE_UNSPECIFIED)
        am_v_problem(v, "code", "the handling code is missing: H0, H1, H2 "
                     "or H3");
    else if (code < 0 || code > AMANAT__V1__HANDLING_CODE__HANDLING_CODE_H3)
        am_v_problem(v, "code", "handling code %d is unknown", code);
    else if (code == AMANAT__V1__HANDLING_CODE__HANDLING_CODE_H3)
        am_v_need(v, "conditions", h->conditions, "handling code H3 needs its "
                  "conditions: what the recipient may and may not do");
    am_v_pop(v, mark);
}

void am_v_evaluation(am_vctx_t *v, const Amanat__V1__Evaluation *e)
{
    size_t mark;
    int s, i;

    if (e == NULL)
        return;
    mark = am_v_push(v, "evaluation");
    s = (int)e->source;
    i = (int)e->information;
    if (s < 0 || s > AMANAT__V1__SOURCE_RELIABILITY__SOURCE_RELIABILITY_X)
        am_v_problem(v, "source", "source reliability %d is unknown", s);
    else if (s == 0 && i != 0)
        am_v_problem(v, "source", "the evaluation grades the information but "
                     "not the source: A, B, C or X");
    if (i < 0 || i > AMANAT__V1__INFORMATION_CREDIBILITY__INFORMATION_CREDIBILITY_4)
        am_v_problem(v, "information", "information credibility %d is "
                     "unknown", i);
    else if (i == 0 && s != 0)
        am_v_problem(v, "information", "the evaluation grades the source but "
                     "not the information: 1, 2, 3 or 4");
    am_v_pop(v, mark);
}

void am_v_languages(am_vctx_t *v, const char *leaf, char *const *l, size_t n)
{
    size_t mark = am_v_push(v, leaf), idx;

    for (size_t i = 0; i < n; i++) {
        if (am_language_valid(l[i]))
            continue;
        idx = am_v_index(v, i);
        am_v_problem(v, NULL, "language %s is not an ISO 639-1 code: two "
                     "lower-case letters, e.g. \"en\", \"ur\", \"tl\"",
                     am_v_show(l[i]).s);
        am_v_pop(v, idx);
    }
    am_v_pop(v, mark);
}

static void check_period(am_vctx_t *v, const Amanat__V1__TimeRange *r)
{
    size_t mark;
    bool start, end;

    if (r == NULL)
        return;
    mark = am_v_push(v, "period");
    start = am_v_time(v, "start", r->start, 0);
    end = am_v_time(v, "end", r->end, 0);
    if (start && end && (r->start->seconds > r->end->seconds ||
                         (r->start->seconds == r->end->seconds &&
                          r->start->nanos > r->end->nanos)))
        am_v_problem(v, "end", "the period ends before it starts");
    am_v_pop(v, mark);
}

static void check_identifiers(am_vctx_t *v, char *const *ids, size_t n)
{
    size_t mark, idx;

    if (n == 0) {
        am_v_problem(v, "identifiers", "name the accounts, addresses or URLs "
                     "whose data you ask for");
        return;
    }
    mark = am_v_push(v, "identifiers");
    for (size_t i = 0; i < n; i++) {
        if (!am_v_blank(ids[i]))
            continue;
        idx = am_v_index(v, i);
        am_v_problem(v, NULL, "this identifier is empty");
        am_v_pop(v, idx);
    }
    am_v_pop(v, mark);
}

static void check_categories(am_vctx_t *v, const Amanat__V1__DataCategory *c,
                             size_t n)
{
    size_t mark = am_v_push(v, "categories"), idx;

    for (size_t i = 0; i < n; i++) {
        if (c[i] > 0 && c[i] <= AMANAT__V1__DATA_CATEGORY__DATA_CATEGORY_CONTENT)
            continue;
        idx = am_v_index(v, i);
        am_v_problem(v, NULL, "data category %d is not SUBSCRIBER, TRAFFIC "
                     "or CONTENT", (int)c[i]);
        am_v_pop(v, idx);
    }
    am_v_pop(v, mark);
}

static void check_data(am_vctx_t *v, const Amanat__V1__DataToPreserve *d,
                       bool relation)
{
    am_v_need(v, "provider", d->provider, "name the provider that holds the "
              "data: the custodian (Budapest Art. 29(2)(d))");
    am_v_country(v, "providerCountry", d->provider_country);
    check_identifiers(v, d->identifiers, d->n_identifiers);
    check_categories(v, d->categories, d->n_categories);
    check_period(v, d->period);
    if (relation)
        am_v_need(v, "relationToOffence", d->relation_to_offence, "say how "
                  "these data relate to the offence (Budapest Art. "
                  "29(2)(c))");
}

void am_v_data(am_vctx_t *v, Amanat__V1__DataToPreserve *const *d, size_t n,
               bool relation)
{
    size_t mark = am_v_push(v, "data"), idx;

    for (size_t i = 0; i < n; i++) {
        idx = am_v_index(v, i);
        check_data(v, d[i] != NULL ? d[i] : &empty_data, relation);
        am_v_pop(v, idx);
    }
    am_v_pop(v, mark);
}
