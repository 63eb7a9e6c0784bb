/* amanat track: every request the agency sent, overdue first; or the
 * timeline of one, with who signed each step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cmd_client.h"
#include "err.h"
#include "timefmt.h"
#include "track.h"

#define TRACK_MAX 100000 /* requests listed at most */

typedef struct {
    am_cstore_t *store;
    int64_t now;
    am_track_t *t;
    size_t n, cap;
    int rc;
} tracks_t;

static int collect(void *ctx, const am_cmsg_t *m)
{
    tracks_t *ts = ctx;

    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? 2 * ts->cap : 64;
        am_track_t *t = cap > TRACK_MAX ? NULL
                                        : am_realloc(ts->t, cap * sizeof *t);

        if (t == NULL)
            return ts->rc = AM_ENOMEM;
        ts->t = t;
        ts->cap = cap;
    }
    if ((ts->rc = am_track_of(ts->store, m, ts->now, &ts->t[ts->n])) != 0)
        return ts->rc;
    ts->n++;
    return 0;
}

/* "2026-11-23 20:00" (16 characters), or "-". */
static void short_time(int64_t t, char out[AM_TIME_TEXT_MAX])
{
    if (t <= 0 || am_time_format(t, out) != 0) {
        snprintf(out, AM_TIME_TEXT_MAX, "-");
        return;
    }
    out[10] = ' ';
    out[16] = '\0';
}

static bool wanted(const am_track_t *t, bool overdue_only, const char *to)
{
    if (overdue_only && !t->overdue)
        return false;
    if (to == NULL)
        return true;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->r[i].agency, to) == 0)
            return true;
    return false;
}

/* One line, at most 80 columns. */
static void print_line(const am_track_t *t, bool colour)
{
    char hex[33], due[AM_TIME_TEXT_MAX], to[19];
    const char *on = colour && t->overdue ? "\033[1;31m" : "",
               *off = colour && t->overdue ? "\033[0m" : "";

    am_client_hex(t->id, hex);
    short_time(t->deadline, due);
    if (strlen(t->to) < sizeof to) {
        memcpy(to, t->to, strlen(t->to) + 1);
    } else { /* cut to fit the line */
        memcpy(to, t->to, 15);
        memcpy(to + 15, "...", 4);
    }
    printf("%s%-8s %.8s %-12.12s %-18s %-12s %s%s\n", on,
           t->overdue ? "OVERDUE" : "", hex, t->kind, to,
           am_track_state_name(t->state), due, off);
}

static void print_json(const am_track_t *t, bool first)
{
    char hex[33], due[AM_TIME_TEXT_MAX] = "";

    am_client_hex(t->id, hex);
    if (t->deadline > 0)
        (void)am_time_format(t->deadline, due);
    printf("%s{\"id\": \"%s\", \"kind\": \"%s\", \"state\": \"%s\", "
           "\"overdue\": %s, \"deadline\": \"%s\", \"recipients\": [",
           first ? "" : ",\n ", hex, t->kind, am_track_state_name(t->state),
           t->overdue ? "true" : "false", due);
    for (size_t i = 0; i < t->n; i++)
        printf("%s{\"agency\": \"%s\", \"state\": \"%s\"}", i ? ", " : "",
               t->r[i].agency, am_track_state_name(t->r[i].state));
    printf("]}");
}

static int list(am_client_t *c, bool json, bool overdue_only, const char *to)
{
    tracks_t ts = {am_client_store(c), am_cli_now(), NULL, 0, 0, 0};
    bool colour = !json && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
    size_t shown = 0;
    int rc = am_cstore_list(ts.store, AM_CLIST_SENT, collect, &ts);

    if (rc < 0 || ts.rc < 0) {
        am_free(ts.t);
        return am_cli_fail(rc < 0 ? rc : ts.rc);
    }
    qsort(ts.t, ts.n, sizeof *ts.t, am_track_cmp);
    if (json)
        printf("[");
    else
        printf("%-8s %-8s %-12s %-18s %-12s %s\n", "", "ID", "KIND", "TO",
               "STATE", "DEADLINE (UTC)");
    for (size_t i = 0; i < ts.n; i++) {
        if (!wanted(&ts.t[i], overdue_only, to))
            continue;
        if (json)
            print_json(&ts.t[i], shown == 0);
        else
            print_line(&ts.t[i], colour);
        shown++;
    }
    if (json)
        printf("]\n");
    am_free(ts.t);
    return AM_EXIT_OK;
}

/* One step; a reply's or receipt's own message id, to read it. */
static int timeline_event(void *ctx, const am_cevent_t *e)
{
    char when[AM_TIME_TEXT_MAX] = "", via[16] = "", why[sizeof e->detail];

    (void)ctx;
    (void)am_time_format(e->time, when);
    if (e->has_source) {
        char hex[33];

        am_client_hex(e->source, hex);
        snprintf(via, sizeof via, " in %.8s", hex);
    }
    printf("%-20s %-18s by %-10s%s%s%s%s\n", when, e->kind, e->party,
           e->signed_len ? " (signed)" : "", via,
           e->detail[0] ? " reason: " : "",
           am_cmd_clean(e->detail, why, sizeof why));
    return 0;
}

static int timeline(am_client_t *c, const char *arg)
{
    uint8_t id[AM_MSG_ID_LEN], *bufs = NULL;
    am_track_t t;
    am_cmsg_t m;
    int rc;

    if ((rc = am_cmd_resolve(c, arg, id)) != 0)
        return rc;
    if ((rc = am_cstore_get(am_client_store(c), id, &m, &bufs)) != 0 ||
        (rc = am_track_of(am_client_store(c), &m, am_cli_now(), &t)) != 0) {
        am_free(bufs);
        return am_cli_fail(rc);
    }
    am_free(bufs);
    print_line(&t, false);
    for (size_t i = 0; i < t.n; i++) {
        char why[sizeof t.r[i].reason];

        printf("  %-10s %s%s%s\n", t.r[i].agency,
               am_track_state_name(t.r[i].state),
               t.r[i].reason[0] ? ": " : "",
               am_cmd_clean(t.r[i].reason, why, sizeof why));
    }
    printf("\n");
    rc = am_cstore_events(am_client_store(c), id, timeline_event, NULL);
    return rc < 0 ? am_cli_fail(rc) : AM_EXIT_OK;
}

static const char track_help[] =
    "usage: amanat track [ID] [--overdue] [--to AGENCY] [--offline] [--json]\n"
    "                    [--home DIR] [key options]\n"
    "\n"
    "Receives what the relay holds (unless --offline), then lists every\n"
    "request the agency sent, one line each, overdue first: queued,\n"
    "accepted, delivered, received, acknowledged, in progress, answered,\n"
    "refused, expired, damaged (the relay's copy was damaged: send it\n"
    "again).  With ID: that request's timeline, each step with\n"
    "who signed it and the message that carried it (amanat read shows a\n"
    "reply's content).\n" AM_CMD_CLIENT_HELP;

int am_cmd_track(int argc, char **argv)
{
    static const struct option opts[] = {
        {"overdue", no_argument, NULL, 'o'},
        {"to", required_argument, NULL, 't'},
        {"offline", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        AM_CMD_CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
    am_cmd_client_t cc;
    am_client_t *c = NULL;
    bool overdue = false, offline = false;
    const char *to = NULL;
    size_t got;
    int o, rc;

    am_cmd_client_init(&cc);
    while ((o = am_cmd_getopt(&cc, argc, argv, opts)) >= 0) {
        if (o == 'o')
            overdue = true;
        else if (o == 't')
            to = optarg;
        else if (o == 'f')
            offline = true;
        else if (o == 'h')
            return fputs(track_help, stdout), AM_EXIT_OK;
        else
            return am_cli_usage("track", "unknown option");
    }
    if (o == AM_CMD_OPT_FAILED)
        return cc.exit;
    if (optind < argc - 1)
        return am_cli_usage("track", "at most one message ID");
    if ((rc = am_cmd_client_open(&cc, &c)) != 0)
        return rc;
    if (!offline && am_client_sync(c, 1500, false, NULL, &got) != 0)
        fprintf(stderr, "amanat: not up to date: %s\n", am_err_detail());
    rc = optind == argc ? list(c, cc.json, overdue, to)
                        : timeline(c, argv[optind]);
    am_client_close(c);
    return rc;
}
