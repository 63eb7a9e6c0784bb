/* Case message validation: the walk, the problem list, the message header
 * and the bodies.  The rules are tabled in validate.h; blocks shared by
 * several bodies are in validate_blocks.c, entities in
 * validate_entities.c, text shapes in validate_text.c. */
#include "validate.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "timefmt.h"
#include "validate_internal.h"

typedef Amanat__V1__CaseMessage msg_t;

/* google.protobuf.Timestamp's range: 0001-01-01 to 9999-12-31T23:59:59Z. */
#define TS_MIN INT64_C(-62135596800)
#define TS_MAX INT64_C(253402300799)

#define HOUR INT64_C(3600)
#define DAY (24 * HOUR)

/* ------------------------------------------------------ path and list */

size_t am_v_push(am_vctx_t *v, const char *name)
{
    size_t mark = v->len;
    int n = snprintf(v->path + v->len, sizeof v->path - v->len, ".%s", name);

    if (n > 0)
        v->len = strnlen(v->path, sizeof v->path); /* cut when too deep */
    return mark;
}

size_t am_v_index(am_vctx_t *v, size_t i)
{
    size_t mark = v->len;
    int n = snprintf(v->path + v->len, sizeof v->path - v->len, "[%zu]", i);

    if (n > 0)
        v->len = strnlen(v->path, sizeof v->path);
    return mark;
}

void am_v_pop(am_vctx_t *v, size_t mark)
{
    v->len = mark;
    v->path[mark] = '\0';
}

/* The next free entry, growing the list; NULL when it cannot grow. */
static am_problem_t *next_slot(am_vctx_t *v)
{
    am_problems_t *p = v->out;
    am_problem_t *items;
    size_t cap;

    if (p->n == p->cap) {
        cap = p->cap == 0 ? 16 : 2 * p->cap;
        if (cap > AM_PROBLEMS_MAX)
            cap = AM_PROBLEMS_MAX;
        if ((items = am_realloc(p->items, cap * sizeof *items)) == NULL) {
            v->rc = AM_ENOMEM;
            return NULL;
        }
        p->items = items;
        p->cap = cap;
    }
    return &p->items[p->n++];
}

/* A cut sentence ends in "..." so that nobody reads it as complete. */
static void mark_cut(char *buf, size_t cap, int n)
{
    if (n >= 0 && (size_t)n >= cap)
        memcpy(buf + cap - 4, "...", 4);
}

void am_v_problem(am_vctx_t *v, const char *leaf, const char *fmt, ...)
{
    am_problem_t *pr;
    va_list ap;
    int n;

    v->total++;
    if (v->rc != 0)
        return;
    if (v->out->n >= AM_PROBLEMS_MAX) {
        v->out->more++;
        return;
    }
    if ((pr = next_slot(v)) == NULL)
        return;
    n = snprintf(pr->path, sizeof pr->path, "%s%s%s", v->path,
                 leaf != NULL ? "." : "", leaf != NULL ? leaf : "");
    mark_cut(pr->path, sizeof pr->path, n);
    va_start(ap, fmt);
    n = vsnprintf(pr->message, sizeof pr->message, fmt, ap);
    va_end(ap);
    mark_cut(pr->message, sizeof pr->message, n);
}

void am_problems_free(am_problems_t *p)
{
    if (p == NULL)
        return;
    am_free(p->items);
    p->items = NULL;
    p->n = p->cap = p->more = 0;
}

/* ------------------------------------------------------ shared checks */

/* RFC 3339 text for a message; "@seconds" outside years 0-9999. */
static void show_time(int64_t t, char buf[static AM_TIME_TEXT_MAX])
{
    if (am_time_format(t, buf) != 0)
        snprintf(buf, AM_TIME_TEXT_MAX, "@%lld", (long long)t);
}

bool am_v_need(am_vctx_t *v, const char *leaf, const char *s,
               const char *message)
{
    if (!am_v_blank(s))
        return true;
    am_v_problem(v, leaf, "%s", message);
    return false;
}

bool am_v_time(am_vctx_t *v, const char *leaf,
               const Google__Protobuf__Timestamp *ts, int flags)
{
    char t[AM_TIME_TEXT_MAX], now[AM_TIME_TEXT_MAX];

    if (ts == NULL)
        return false;
    if (ts->nanos < 0 || ts->nanos > 999999999) {
        am_v_problem(v, leaf, "the time has an impossible fraction of a "
                     "second (%d ns): it must be 0 to 999999999 ns",
                     (int)ts->nanos);
        return false;
    }
    if (ts->seconds < TS_MIN || ts->seconds > TS_MAX) {
        am_v_problem(v, leaf, "the time is outside the years 1 to 9999");
        return false;
    }
    if ((flags & AM_V_NOT_FUTURE) && ts->seconds - AM_VALIDATE_SKEW > v->now) {
        show_time(ts->seconds, t);
        show_time(v->now, now);
        am_v_problem(v, leaf, "the time %s is in the future (now %s): give "
                     "it in UTC", t, now);
        return false;
    }
    return true;
}

/* ------------------------------------------------------ the header */

static bool is_request(const msg_t *m)
{
    switch (m->body_case) {
    case AMANAT__V1__CASE_MESSAGE__BODY_PRESERVATION:
    case AMANAT__V1__CASE_MESSAGE__BODY_DISCLOSURE:
    case AMANAT__V1__CASE_MESSAGE__BODY_EMERGENCY:
    case AMANAT__V1__CASE_MESSAGE__BODY_VICTIM_IDENTIFICATION:
        return true;
    default:
        return false;
    }
}

static void check_version(am_vctx_t *v, const msg_t *m)
{
    if (m->schema_version == 0)
        am_v_problem(v, "schemaVersion", "the schema version is missing: "
                     "set schemaVersion to 1");
    else if (m->schema_version != 1)
        am_v_problem(v, "schemaVersion", "schema version %u is not one this "
                     "software reads: only 1", (unsigned)m->schema_version);
}

static void check_case_ref(am_vctx_t *v, const msg_t *m, bool req)
{
    const char *ref = m->case_ref != NULL ? m->case_ref->sender_ref : NULL;

    if (req && am_v_blank(ref))
        am_v_problem(v, "caseRef.senderRef", "your file number is missing: "
                     "the other side quotes it in every answer");
}

static void check_status(am_vctx_t *v, const msg_t *m, bool req)
{
    int s = (int)m->request_status;
    bool later = s == AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_EXTENSION ||
                 s == AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_FOLLOW_UP;

    if (s < 0 || s > AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_FOLLOW_UP)
        am_v_problem(v, "requestStatus", "request status %d is unknown: "
                     "NEW, EXTENSION or FOLLOW_UP", s);
    else if (req && s == AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_UNSPECIFIED)
        am_v_problem(v, "requestStatus", "say whether the request is NEW, "
                     "an EXTENSION or a FOLLOW_UP of an earlier one");
    if (later && am_v_blank(m->earlier_ref))
        am_v_problem(v, "earlierRef", "an extension or follow-up names the "
                     "earlier request: give its reference");
    else if (s == AMANAT__V1__REQUEST_STATUS__REQUEST_STATUS_NEW &&
             !am_v_blank(m->earlier_ref))
        am_v_problem(v, "earlierRef", "a NEW request has no earlier "
                     "reference: set requestStatus to EXTENSION or FOLLOW_UP, "
                     "or remove earlierRef");
}

static void check_deadline(am_vctx_t *v, const msg_t *m)
{
    char t[AM_TIME_TEXT_MAX], now[AM_TIME_TEXT_MAX];

    if (!am_v_time(v, "deadline", m->deadline, 0) ||
        m->deadline->seconds >= v->now)
        return;
    show_time(m->deadline->seconds, t);
    show_time(v->now, now);
    am_v_problem(v, "deadline", "the deadline %s has already passed (now "
                 "%s): set a later one, or none for the legal default", t, now);
}

static void check_header(am_vctx_t *v, const msg_t *m)
{
    bool req = is_request(m);
    bool notice = m->body_case == AMANAT__V1__CASE_MESSAGE__BODY_NOTIFICATION;

    check_version(v, m);
    am_v_time(v, "createdAt", m->created_at, AM_V_NOT_FUTURE);
    check_case_ref(v, m, req);
    check_status(v, m, req);
    am_v_authority(v, m->requesting_authority, req);
    am_v_confirmation(v, m->confirmation_contact, req);
    am_v_judicial(v, m->judicial_authority);
    am_v_legal_bases(v, m, req || notice);
    am_v_handling(v, m->handling);
    am_v_evaluation(v, m->evaluation);
    check_deadline(v, m);
    am_v_languages(v, "languages", m->languages, m->n_languages);
}

/* ------------------------------------------------------ the bodies */

static void check_common(am_vctx_t *v, Amanat__V1__OffenceType *const *o,
                         size_t n, const char *summary)
{
    am_v_offences(v, o, n, true);
    am_v_need(v, "summary", summary, "the summary is missing: a few "
              "sentences on what happened, for an officer new to the case");
}

static void need_data(am_vctx_t *v, Amanat__V1__DataToPreserve *const *d,
                      size_t n, bool relation)
{
    if (n == 0)
        am_v_problem(v, "data", "name the data asked for: the provider, and "
                     "the accounts, addresses or URLs concerned");
    else
        am_v_data(v, d, n, relation);
}

/* Budapest Convention Art. 29(2) b-f; a) is the header's authority. */
static void check_preservation(am_vctx_t *v,
                               const Amanat__V1__PreservationRequest *p)
{
    check_common(v, p->offences, p->n_offences, p->summary);
    need_data(v, p->data, p->n_data, true);
    am_v_need(v, "necessity", p->necessity, "say why preservation is "
              "necessary (Budapest Art. 29(2)(e)), e.g. the provider's "
              "retention period");
    if (!p->mutual_assistance_to_follow)
        am_v_problem(v, "mutualAssistanceToFollow", "a preservation request "
                     "states the intent to follow with a mutual assistance "
                     "request (Budapest Art. 29(2)(f))");
    am_v_entities(v, "entities", p->entities);
    if (p->preservation_days > 90)
        am_v_problem(v, "preservationDays", "%u days is over the 90 a "
                     "preservation can last (60, extended once by 30)",
                     (unsigned)p->preservation_days);
}

static void check_disclosure(am_vctx_t *v,
                             const Amanat__V1__DisclosureRequest *d)
{
    check_common(v, d->offences, d->n_offences, d->summary);
    need_data(v, d->data, d->n_data, false);
    am_v_need(v, "relevance", d->relevance, "say why the data are needed "
              "for the investigation");
    am_v_entities(v, "entities", d->entities);
}

static void check_emergency(am_vctx_t *v,
                            const Amanat__V1__EmergencyDisclosureRequest *e)
{
    check_common(v, e->offences, e->n_offences, e->summary);
    am_v_need(v, "riskFacts", e->risk_facts, "an emergency request states "
              "the facts that show a significant and imminent risk to a "
              "person's life or safety");
    am_v_need(v, "dataRelation", e->data_relation, "say how the data asked "
              "for relate to the risk: what they let you do to avert it");
    need_data(v, e->data, e->n_data, false);
    am_v_entities(v, "entities", e->entities);
}

static void check_victim(am_vctx_t *v,
                         const Amanat__V1__VictimIdentificationRequest *r)
{
    check_common(v, r->offences, r->n_offences, r->summary);
    if (r->n_media == 0 && am_v_blank(r->indicators))
        am_v_problem(v, "media", "give the material's hashes, or the "
                     "indicators in it that may locate the victim (language, "
                     "objects, signs, views): at least one");
    am_v_media(v, "media", r->media, r->n_media);
    am_v_locations(v, "possibleLocations", r->possible_locations,
                   r->n_possible_locations);
    am_v_entities(v, "entities", r->entities);
}

static bool reply_refuses(int s)
{
    return s == AMANAT__V1__REPLY_STATUS__REPLY_STATUS_REFUSED ||
           s == AMANAT__V1__REPLY_STATUS__REPLY_STATUS_PARTIALLY_ANSWERED;
}

static void check_reply_status(am_vctx_t *v, const Amanat__V1__Reply *r)
{
    int s = (int)r->status, why = (int)r->reason;

    if (s == AMANAT__V1__REPLY_STATUS__REPLY_STATUS_UNSPECIFIED)
        am_v_problem(v, "status", "a reply states its status: RECEIVED, "
                     "IN_PROGRESS, PARTIALLY_ANSWERED, ANSWERED, "
                     "MORE_INFORMATION_NEEDED or REFUSED");
    else if (s < 0 || s > AMANAT__V1__REPLY_STATUS__REPLY_STATUS_REFUSED)
        am_v_problem(v, "status", "reply status %d is unknown", s);
    if (why < 0 || why > AMANAT__V1__REFUSAL_REASON__REFUSAL_REASON_OTHER)
        am_v_problem(v, "reason", "refusal reason %d is unknown", why);
    else if (reply_refuses(s) &&
             why == AMANAT__V1__REFUSAL_REASON__REFUSAL_REASON_UNSPECIFIED)
        am_v_problem(v, "reason", "a reply that refuses or cannot answer in "
                     "full carries a reason code, e.g. IMPOSSIBILITY or "
                     "INCOMPLETE_OR_WRONG");
    if (s == AMANAT__V1__REPLY_STATUS__REPLY_STATUS_REFUSED)
        am_v_need(v, "explanation", r->explanation, "explain the refusal: "
                  "the requesting officer must know what to change or where "
                  "to turn");
    else if (s == AMANAT__V1__REPLY_STATUS__REPLY_STATUS_MORE_INFORMATION_NEEDED)
        am_v_need(v, "explanation", r->explanation, "say what more you need "
                  "to act on the request");
}

static void check_reply(am_vctx_t *v, const Amanat__V1__Reply *r)
{
    if (am_v_blank(r->in_reply_to))
        am_v_problem(v, "inReplyTo", "inReplyTo is missing: the message id "
                     "of the request you answer, 32 hex digits");
    else if (!am_v_hex(r->in_reply_to, 32, true))
        am_v_problem(v, "inReplyTo", "inReplyTo %s is not a message id: 32 "
                     "lower-case hex digits", am_v_show(r->in_reply_to).s);
    check_reply_status(v, r);
    am_v_entities(v, "results", r->results);
    am_v_time(v, "expectedBy", r->expected_by, 0);
}

static void check_receipt(am_vctx_t *v, const Amanat__V1__SignedReceipt *r)
{
    if (r->body.len == 0 || r->body.data == NULL)
        am_v_problem(v, "body", "the receipt's body is empty");
    if (r->signature.len == 0 || r->signature.data == NULL)
        am_v_problem(v, "signature", "the receipt is not signed");
}

static void check_notification(am_vctx_t *v,
                               const Amanat__V1__CaseNotification *n)
{
    check_common(v, n->offences, n->n_offences, n->summary);
    am_v_entities(v, "entities", n->entities);
}

/* The body as a pointer, NULL when unset (also when a hand-built message
 * names a case but left the pointer NULL). */
static const void *body_of(const msg_t *m)
{
    switch (m->body_case) {
    case AMANAT__V1__CASE_MESSAGE__BODY_NOTIFICATION:
        return m->notification;
    case AMANAT__V1__CASE_MESSAGE__BODY_PRESERVATION:
        return m->preservation;
    case AMANAT__V1__CASE_MESSAGE__BODY_DISCLOSURE:
        return m->disclosure;
    case AMANAT__V1__CASE_MESSAGE__BODY_EMERGENCY:
        return m->emergency;
    case AMANAT__V1__CASE_MESSAGE__BODY_VICTIM_IDENTIFICATION:
        return m->victim_identification;
    case AMANAT__V1__CASE_MESSAGE__BODY_REPLY:
        return m->reply;
    case AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT:
        return m->receipt;
    default:
        return NULL;
    }
}

static void check_body(am_vctx_t *v, const msg_t *m)
{
    const void *b = body_of(m);
    size_t mark;

    if (b == NULL) {
        am_v_problem(v, NULL, "the message has no body: it must be a "
                     "notification, preservation, disclosure, emergency, "
                     "victimIdentification, reply or receipt");
        return;
    }
    mark = am_v_push(v, am_case_kind(m));
    switch (m->body_case) {
    case AMANAT__V1__CASE_MESSAGE__BODY_NOTIFICATION:
        check_notification(v, b);
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_PRESERVATION:
        check_preservation(v, b);
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_DISCLOSURE:
        check_disclosure(v, b);
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_EMERGENCY:
        check_emergency(v, b);
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_VICTIM_IDENTIFICATION:
        check_victim(v, b);
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_REPLY:
        check_reply(v, b);
        break;
    default:
        check_receipt(v, b);
        break;
    }
    am_v_pop(v, mark);
}

/* ------------------------------------------------------ the API */

int am_validate_case(const Amanat__V1__CaseMessage *m, int64_t now,
                     am_problems_t *out)
{
    am_vctx_t v;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    out->n = 0;
    out->more = 0;
    memset(&v, 0, sizeof v);
    v.out = out;
    v.now = now;
    v.path[0] = '$';
    v.len = 1;
    check_header(&v, m);
    check_body(&v, m);
    if (v.rc != 0)
        return v.rc;
    return v.total > INT_MAX ? INT_MAX : (int)v.total;
}

const char *am_case_kind(const Amanat__V1__CaseMessage *m)
{
    if (m == NULL || body_of(m) == NULL)
        return NULL;
    switch (m->body_case) {
    case AMANAT__V1__CASE_MESSAGE__BODY_NOTIFICATION:
        return "notification";
    case AMANAT__V1__CASE_MESSAGE__BODY_PRESERVATION:
        return "preservation";
    case AMANAT__V1__CASE_MESSAGE__BODY_DISCLOSURE:
        return "disclosure";
    case AMANAT__V1__CASE_MESSAGE__BODY_EMERGENCY:
        return "emergency";
    case AMANAT__V1__CASE_MESSAGE__BODY_VICTIM_IDENTIFICATION:
        return "victimIdentification";
    case AMANAT__V1__CASE_MESSAGE__BODY_REPLY:
        return "reply";
    default:
        return "receipt";
    }
}

int64_t am_case_default_deadline(const Amanat__V1__CaseMessage *m,
                                 int64_t created)
{
    int64_t span;

    if (m == NULL || body_of(m) == NULL)
        return 0;
    switch (m->body_case) {
    case AMANAT__V1__CASE_MESSAGE__BODY_EMERGENCY:
        span = 8 * HOUR;
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_DISCLOSURE:
        span = 10 * DAY;
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_VICTIM_IDENTIFICATION:
        span = 30 * DAY;
        break;
    case AMANAT__V1__CASE_MESSAGE__BODY_PRESERVATION: {
        uint32_t days = m->preservation->preservation_days;
        span = (days == 0 ? 60 : days > 90 ? 90 : (int64_t)days) * DAY;
        break;
    }
    default:
        return 0;
    }
    return created > INT64_MAX - span ? 0 : created + span;
}
