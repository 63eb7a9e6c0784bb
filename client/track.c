#include "track.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

static const char *const names[] = {
    [AM_T_QUEUED] = "queued",           [AM_T_ACCEPTED] = "accepted",
    [AM_T_DELIVERED] = "delivered",     [AM_T_RECEIVED] = "received",
    [AM_T_ACKNOWLEDGED] = "acknowledged",
    [AM_T_IN_PROGRESS] = "in progress", [AM_T_ANSWERED] = "answered",
    [AM_T_REFUSED] = "refused",         [AM_T_EXPIRED] = "expired",
    [AM_T_FAILED] = "failed",           [AM_T_DAMAGED] = "damaged",
};

const char *am_track_state_name(int state)
{
    return state >= 0 && state <= AM_T_DAMAGED ? names[state] : "?";
}

/* The step an event kind records. */
static int step_of(const char *kind)
{
    static const struct { const char *k; int s; } map[] = {
        {"queued", AM_T_QUEUED},       {"accepted", AM_T_ACCEPTED},
        {"delivered", AM_T_DELIVERED}, {"received", AM_T_RECEIVED},
        {"acknowledged", AM_T_ACKNOWLEDGED},
        {"in_progress", AM_T_IN_PROGRESS},
        {"partially_answered", AM_T_IN_PROGRESS},
        {"more_information", AM_T_IN_PROGRESS},
        {"answered", AM_T_ANSWERED},   {"refused", AM_T_REFUSED},
        {"expired", AM_T_EXPIRED},     {"damaged", AM_T_DAMAGED},
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].k, kind) == 0)
            return map[i].s;
    return -1;
}

static void advance(am_track_rcpt_t *r, int step, const char *detail)
{
    if (r->state == AM_T_REFUSED || r->state == AM_T_ANSWERED)
        return; /* final: a late receipt does not undo an answer */
    if (step == AM_T_REFUSED) {
        r->state = step;
        snprintf(r->reason, sizeof r->reason, "%s", detail);
    } else if (step == AM_T_EXPIRED || step == AM_T_DAMAGED) {
        if (r->state < AM_T_DELIVERED)
            r->state = step;
    } else if (r->state == AM_T_EXPIRED || r->state == AM_T_DAMAGED ||
               step > r->state) {
        r->state = step;
    }
}

static int on_event(void *ctx, const am_cevent_t *e)
{
    am_track_t *t = ctx;
    int step = step_of(e->kind);

    if (step < 0)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        /* the relay's accepted evidence and our queued event are for all */
        if (step <= AM_T_ACCEPTED || strcmp(t->r[i].agency, e->party) == 0)
            advance(&t->r[i], step, e->detail);
    }
    return 0;
}

static bool done(int s)
{
    return s == AM_T_ANSWERED || s == AM_T_REFUSED || s == AM_T_EXPIRED ||
           s == AM_T_DAMAGED;
}

static void overall(am_track_t *t, int64_t now)
{
    bool any_refused = false, any_expired = false, any_damaged = false;
    bool all_answered = true;
    int least = -1;

    for (size_t i = 0; i < t->n; i++) {
        int s = t->r[i].state;

        any_refused |= s == AM_T_REFUSED;
        any_expired |= s == AM_T_EXPIRED;
        any_damaged |= s == AM_T_DAMAGED;
        if (s != AM_T_ANSWERED && s != AM_T_REFUSED)
            all_answered = false;
        if (!done(s) && (least < 0 || s < least))
            least = s;
    }
    if (least >= 0)
        t->state = least;
    else
        t->state = any_refused   ? AM_T_REFUSED
                   : any_damaged ? AM_T_DAMAGED
                   : any_expired ? AM_T_EXPIRED : AM_T_ANSWERED;
    t->overdue = t->deadline > 0 && now > t->deadline && !all_answered;
}

int am_track_of(am_cstore_t *s, const am_cmsg_t *m, int64_t now,
                am_track_t *out)
{
    char list[AM_CSTORE_RCPTS_MAX], *save = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    memcpy(out->id, m->id, AM_MSG_ID_LEN);
    snprintf(out->kind, sizeof out->kind, "%s", m->kind);
    snprintf(out->case_ref, sizeof out->case_ref, "%s", m->case_ref);
    snprintf(out->to, sizeof out->to, "%s", m->recipients);
    out->priority = m->priority;
    out->created_at = m->created_at;
    out->deadline = m->deadline;
    snprintf(list, sizeof list, "%s", m->recipients);
    for (char *a = strtok_r(list, ",", &save);
         a != NULL && out->n < AM_ENV_MAX_RECIPIENTS;
         a = strtok_r(NULL, ",", &save))
        snprintf(out->r[out->n++].agency, sizeof out->r[0].agency, "%s", a);
    if ((rc = am_cstore_events(s, m->id, on_event, out)) < 0)
        return rc;
    overall(out, now);
    if (strcmp(m->state, "failed") == 0) {
        out->state = AM_T_FAILED; /* the relay refused it: never sent */
        out->overdue = false;
    }
    return 0;
}

int am_track_cmp(const void *pa, const void *pb)
{
    const am_track_t *a = pa, *b = pb;
    int64_t da = a->deadline ? a->deadline : INT64_MAX;
    int64_t db = b->deadline ? b->deadline : INT64_MAX;

    if (a->overdue != b->overdue)
        return a->overdue ? -1 : 1;
    if (da != db)
        return da < db ? -1 : 1;
    return (a->created_at > b->created_at) - (a->created_at < b->created_at);
}
