/* Case message validation: entities, what a message is about (persons, IP
 * observations, accounts, phones, payments, locations, devices, media).
 * The rules are tabled in validate.h. */
#include "validate_internal.h"

#include <arpa/inet.h>
#include <math.h>
#include <string.h>

#include "currency.h"

#define AGE_MAX 130
/* 130 Gregorian years of 365.2425 days. */
#define AGE_MAX_SECONDS (INT64_C(130) * 31556952)

typedef Amanat__V1__Person person_t;
typedef Amanat__V1__IpObservation ip_t;
typedef Amanat__V1__OnlineAccount account_t;
typedef Amanat__V1__Phone phone_t;
typedef Amanat__V1__Payment payment_t;
typedef Amanat__V1__Location location_t;
typedef Amanat__V1__Device device_t;
typedef Amanat__V1__MediaReference media_t;

/* Walk "name[i]" for each entry of a repeated field, an absent entry (a
 * hand-built message) read as an empty one. */
#define EACH(v, name, arr, n, type, init, fn)                                \
    do {                                                                     \
        static const type empty_ = init;                                     \
        size_t mark_ = am_v_push(v, name);                                   \
        for (size_t i_ = 0; i_ < (n); i_++) {                                \
            size_t idx_ = am_v_index(v, i_);                                 \
            fn(v, (arr)[i_] != NULL ? (arr)[i_] : &empty_);                  \
            am_v_pop(v, idx_);                                               \
        }                                                                    \
        am_v_pop(v, mark_);                                                  \
    } while (0)

/* ------------------------------------------------------------- persons */

static void check_birth(am_vctx_t *v, const char *dob)
{
    int64_t t;

    if (am_v_blank(dob))
        return;
    if (am_v_date(dob, &t) != 0)
        am_v_problem(v, "dateOfBirth", "date of birth %s is not a real date "
                     "in the form YYYY-MM-DD", am_v_show(dob).s);
    else if (t > v->now)
        am_v_problem(v, "dateOfBirth", "date of birth %s is in the future",
                     am_v_show(dob).s);
    else if (v->now - t > AGE_MAX_SECONDS)
        am_v_problem(v, "dateOfBirth", "date of birth %s is more than %d "
                     "years ago", am_v_show(dob).s, AGE_MAX);
}

static void check_ages(am_vctx_t *v, const Amanat__V1__AgeRange *a)
{
    size_t mark;

    if (a == NULL)
        return;
    mark = am_v_push(v, "ageRange");
    if (a->max > AGE_MAX)
        am_v_problem(v, "max", "an age of %u is not plausible: at most %d",
                     (unsigned)a->max, AGE_MAX);
    if (a->min > a->max)
        am_v_problem(v, "min", "the age range runs backwards (min %u, max "
                     "%u): set both; an open upper end is %d", (unsigned)a->min,
                     (unsigned)a->max, AGE_MAX);
    am_v_pop(v, mark);
}

static void check_person(am_vctx_t *v, const person_t *p)
{
    size_t mark, idx;
    int role = (int)p->role;

    if (role == AMANAT__V1__PERSON_ROLE__PERSON_ROLE_UNSPECIFIED)
        am_v_problem(v, "role", "say whether the person is a SUSPECT, VICTIM, "
                     "FACILITATOR or WITNESS");
    else if (role < 0 || role > AMANAT__V1__PERSON_ROLE__PERSON_ROLE_WITNESS)
        am_v_problem(v, "role", "person role %d is unknown", role);
    if (am_v_blank(p->name) && p->n_aliases == 0 &&
        am_v_blank(p->date_of_birth) && am_v_blank(p->description))
        am_v_problem(v, NULL, "a person needs a name, an alias, a date of "
                     "birth or a description");
    check_birth(v, p->date_of_birth);
    check_ages(v, p->age_range);
    mark = am_v_push(v, "nationalities");
    for (size_t i = 0; i < p->n_nationalities; i++) {
        idx = am_v_index(v, i);
        if (am_v_blank(p->nationalities[i]))
            am_v_problem(v, NULL, "this nationality is empty");
        else
            am_v_country(v, NULL, p->nationalities[i]);
        am_v_pop(v, idx);
    }
    am_v_pop(v, mark);
}

/* ------------------------------------------------------ IP addresses */

/* 4: IPv4, also as IPv4-mapped IPv6 (::ffff:a.b.c.d), which is shared
 * the same way; 6: IPv6; 0: neither.  inet_pton is pure (no resolver). */
static int ip_family(const char *s)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};
    unsigned char a[16];

    if (inet_pton(AF_INET, s, a) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, a) == 1)
        return memcmp(a, mapped, sizeof mapped) == 0 ? 4 : 6;
    return 0;
}

static void check_ip(am_vctx_t *v, const ip_t *o)
{
    int fam = 0;

    if (am_v_blank(o->address))
        am_v_problem(v, "address", "the IP address is missing");
    else if ((fam = ip_family(o->address)) == 0)
        am_v_problem(v, "address", "%s is not an IP address: e.g. "
                     "203.0.113.7 or 2001:db8::7", am_v_show(o->address).s);
    if (o->port > 65535)
        am_v_problem(v, "port", "port %u does not exist: ports run from 1 to "
                     "65535", (unsigned)o->port);
    else if (fam == 4 && o->port == 0)
        am_v_problem(v, "port", "an IPv4 address needs the source port: behind "
                     "carrier-grade NAT the address alone identifies no one");
    if (o->observed_at != NULL)
        am_v_time(v, "observedAt", o->observed_at, AM_V_NOT_FUTURE);
    else if (fam != 0)
        am_v_problem(v, "observedAt", "an IP address needs the exact time it "
                     "was seen, in UTC to the second: providers reassign "
                     "addresses");
}

/* ------------------------------------------- accounts, phones, payments */

static void check_account(am_vctx_t *v, const account_t *a)
{
    am_v_need(v, "provider", a->provider, "name the service the account is "
              "on, e.g. \"ExampleLive\"");
    am_v_need(v, "identifier", a->identifier, "give the account's user "
              "name, user id or e-mail address");
}

static void check_phone_entity(am_vctx_t *v, const phone_t *p)
{
    if (am_v_blank(p->number))
        am_v_problem(v, "number", "the phone number is missing");
    else if (!am_v_e164(p->number))
        am_v_problem(v, "number", "phone %s is not in E.164 form: + country "
                     "code and number, digits only, e.g. \"+639170000000\"",
                     am_v_show(p->number).s);
}

static void check_payment(am_vctx_t *v, const payment_t *p)
{
    int a = am_v_blank(p->amount) ? -1 : am_v_amount(p->amount);

    if (a == 1)
        am_v_problem(v, "amount", "amount %s is not a decimal string: digits "
                     "and an optional point, e.g. \"25.00\"; no separators or "
                     "signs", am_v_show(p->amount).s);
    else if (a == 2)
        am_v_problem(v, "amount", "amount %s has more than 15 digits before "
                     "the point: no payment is that large",
                     am_v_show(p->amount).s);
    if (!am_v_blank(p->currency) && !am_v_blank(p->crypto_asset))
        am_v_problem(v, "cryptoAsset", "give a currency or a crypto asset, "
                     "not both");
    else if (!am_v_blank(p->crypto_asset) && !am_v_ticker(p->crypto_asset))
        am_v_problem(v, "cryptoAsset", "crypto asset %s is not a ticker: 2 to "
                     "10 capitals or digits, e.g. \"BTC\", \"USDT\"",
                     am_v_show(p->crypto_asset).s);
    else if (!am_v_blank(p->currency) && !am_currency_valid(p->currency))
        am_v_problem(v, "currency", "currency %s is not an ISO 4217 code: "
                     "three capitals, e.g. \"EUR\", \"PKR\", \"PHP\"",
                     am_v_show(p->currency).s);
    else if (a >= 0 && am_v_blank(p->currency) && am_v_blank(p->crypto_asset))
        am_v_problem(v, "currency", "an amount needs its currency (ISO 4217, "
                     "e.g. \"PHP\") or its crypto asset (\"BTC\")");
    am_v_time(v, "time", p->time, AM_V_NOT_FUTURE);
}

/* ------------------------------------------ locations, devices, media */

static void check_location(am_vctx_t *v, const location_t *l)
{
    am_v_country(v, "country", l->country);
    if (!isfinite(l->latitude) || l->latitude < -90 || l->latitude > 90)
        am_v_problem(v, "latitude", "latitude %g is not between -90 and 90",
                     l->latitude);
    if (!isfinite(l->longitude) || l->longitude < -180 || l->longitude > 180)
        am_v_problem(v, "longitude", "longitude %g is not between -180 and "
                     "180", l->longitude);
}

static void check_device(am_vctx_t *v, const device_t *d)
{
    if (!am_v_blank(d->imei) && !am_v_imei(d->imei))
        am_v_problem(v, "imei", "IMEI %s is not valid: 15 digits, the last a "
                     "Luhn check digit (14 without it, 16 for an IMEISV)",
                     am_v_show(d->imei).s);
}

static void check_media(am_vctx_t *v, const media_t *m)
{
    static const struct {
        const char *name, *form;
        size_t hex; /* digits; 0: base64 */
    } algs[] = {
        [AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_MD5] = {"MD5", "32 hex digits", 32},
        [AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_SHA1] = {"SHA1", "40 hex digits", 40},
        [AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_SHA256] = {"SHA256", "64 hex digits", 64},
        [AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_PHOTODNA] =
            {"PhotoDNA", "144 bytes in standard base64 (192 characters)", 0},
        [AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_PDQ] = {"PDQ", "64 hex digits", 64},
    };
    int a = (int)m->algorithm;
    bool ok;

    if (a <= 0 || a > AMANAT__V1__HASH_ALGORITHM__HASH_ALGORITHM_PDQ) {
        am_v_problem(v, "algorithm", a == 0 ? "the hash algorithm is missing: "
                     "MD5, SHA1, SHA256, PHOTODNA or PDQ" : "hash algorithm "
                     "unknown: MD5, SHA1, SHA256, PHOTODNA or PDQ");
        a = 0;
    }
    if (am_v_blank(m->value)) {
        am_v_problem(v, "value", "the hash value is missing: media travel as "
                     "hashes only");
        return;
    }
    if (a == 0)
        return;
    ok = algs[a].hex != 0 ? am_v_hex(m->value, algs[a].hex, false)
                          : am_v_base64(m->value, 144);
    if (!ok)
        am_v_problem(v, "value", "%s is not a %s hash: that is %s",
                     am_v_show(m->value).s, algs[a].name, algs[a].form);
}

/* ------------------------------------------------------------ the lists */

void am_v_media(am_vctx_t *v, const char *leaf,
                Amanat__V1__MediaReference *const *m, size_t n)
{
    EACH(v, leaf, m, n, media_t, AMANAT__V1__MEDIA_REFERENCE__INIT,
         check_media);
}

void am_v_locations(am_vctx_t *v, const char *leaf,
                    Amanat__V1__Location *const *l, size_t n)
{
    EACH(v, leaf, l, n, location_t, AMANAT__V1__LOCATION__INIT,
         check_location);
}

void am_v_entities(am_vctx_t *v, const char *leaf,
                   const Amanat__V1__Entities *e)
{
    size_t mark;

    if (e == NULL)
        return;
    mark = am_v_push(v, leaf);
    EACH(v, "persons", e->persons, e->n_persons, person_t,
         AMANAT__V1__PERSON__INIT, check_person);
    EACH(v, "ipObservations", e->ip_observations, e->n_ip_observations, ip_t,
         AMANAT__V1__IP_OBSERVATION__INIT, check_ip);
    EACH(v, "accounts", e->accounts, e->n_accounts, account_t,
         AMANAT__V1__ONLINE_ACCOUNT__INIT, check_account);
    EACH(v, "phones", e->phones, e->n_phones, phone_t,
         AMANAT__V1__PHONE__INIT, check_phone_entity);
    EACH(v, "payments", e->payments, e->n_payments, payment_t,
         AMANAT__V1__PAYMENT__INIT, check_payment);
    am_v_locations(v, "locations", e->locations, e->n_locations);
    EACH(v, "devices", e->devices, e->n_devices, device_t,
         AMANAT__V1__DEVICE__INIT, check_device);
    am_v_media(v, "media", e->media, e->n_media);
    am_v_pop(v, mark);
}
