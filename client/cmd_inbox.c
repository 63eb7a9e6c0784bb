/* amanat inbox / read / reply / ack / refuse: what reached the agency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc.h"
#include "cmd_client.h"
#include "err.h"
#include "json.h"
#include "pb.h"
#include "receipt.h"
#include "timefmt.h"

static const char *prio_name(int p)
{
    return p == AM_PRIORITY_EMERGENCY ? "EMERGENCY"
           : p == AM_PRIORITY_URGENT  ? "urgent"
                                      : "routine";
}

/* Parse the options every one of these commands takes, plus --reason and
 * --offline; positional arguments are left at argv[optind..]. */
static int opts(const char *cmd, const char *help, int argc, char **argv,
                am_cmd_client_t *cc, const char **reason, bool *offline)
{
    static const struct option o[] = {
        {"reason", required_argument, NULL, 'r'},
        {"offline", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        AM_CMD_CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
    int c;

    am_cmd_client_init(cc);
    while ((c = am_cmd_getopt(cc, argc, argv, o)) >= 0) {
        if (c == 'r' && reason != NULL)
            *reason = optarg;
        else if (c == 'o' && offline != NULL)
            *offline = true;
        else if (c == 'h')
            return fputs(help, stdout), -1;
        else
            return am_cli_usage(cmd, "unknown option");
    }
    return c == AM_CMD_OPT_FAILED ? cc->exit : 0;
}

typedef struct {
    bool json;
    size_t n;
} rows_t;

static int print_row(void *ctx, const am_cmsg_t *m)
{
    rows_t *r = ctx;
    char hex[33], when[AM_TIME_TEXT_MAX] = "", ref[sizeof m->case_ref];
    char state[sizeof m->state], *text;
    json_t *o;

    am_client_hex(m->id, hex);
    (void)am_time_format(m->created_at, when);
    if (!r->json) {
        printf("%s %.12s  %-9s %-11s %-20s from %-10s %s %s\n",
               m->read_at ? " " : "*", hex, prio_name(m->priority), m->kind,
               when, m->sender, am_cmd_clean(m->case_ref, ref, sizeof ref),
               am_cmd_clean(m->state, state, sizeof state));
        return 0;
    }
    /* jansson escapes what another agency wrote */
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "id", hex,
                  "from", m->sender, "kind", m->kind, "priority",
                  prio_name(m->priority), "received", when, "read",
                  m->read_at != 0, "state", m->state, "case", m->case_ref);
    if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
        json_decref(o);
        return AM_ENOMEM;
    }
    printf("%s%s", r->n++ ? ",\n " : "", text);
    free(text);
    json_decref(o);
    return 0;
}

static const char inbox_help[] =
    "usage: amanat inbox [--offline] [--json] [--home DIR] [key options]\n"
    "\n"
    "Receives what the relay holds (unless --offline), then lists the\n"
    "requests and notifications received: unread (*) first, emergency\n"
    "first, newest first.\n" AM_CMD_CLIENT_HELP;

int am_cmd_inbox(int argc, char **argv)
{
    am_cmd_client_t cc;
    am_client_t *c = NULL;
    bool offline = false;
    size_t got = 0;
    int rc;

    if ((rc = opts("inbox", inbox_help, argc, argv, &cc, NULL, &offline)))
        return rc < 0 ? AM_EXIT_OK : rc;
    if (optind != argc)
        return am_cli_usage("inbox", "takes no argument");
    if ((rc = am_cmd_client_open(&cc, &c)) != 0)
        return rc;
    if (!offline && (rc = am_client_sync(c, 1500, false, NULL, &got)) != 0)
        fprintf(stderr, "amanat: not up to date: %s\n", am_err_detail());
    if (cc.json)
        printf("[");
    rows_t rows = {cc.json, 0};
    rc = am_cstore_list(am_client_store(c), AM_CLIST_INBOX, print_row,
                        &rows);
    if (cc.json)
        printf("]\n");
    am_client_close(c);
    return rc < 0 ? am_cli_fail(rc) : AM_EXIT_OK;
}

static void print_header(const am_cmsg_t *m, const char *hex)
{
    char when[AM_TIME_TEXT_MAX] = "", due[AM_TIME_TEXT_MAX] = "none";
    char ref[sizeof m->case_ref];

    (void)am_time_format(m->created_at, when);
    if (m->deadline > 0)
        (void)am_time_format(m->deadline, due);
    printf("message   %s\nfrom      %s\nto        %s\nkind      %s\n"
           "priority  %s\nsent      %s\ndeadline  %s\ncase      %s\n"
           "signature verified (sender's certificate, federation root)\n\n",
           hex, m->sender, m->recipients, m->kind, prio_name(m->priority),
           when, due, m->case_ref[0] ? am_cmd_clean(m->case_ref, ref,
                                                    sizeof ref) : "-");
}

static const char read_help[] =
    "usage: amanat read ID [--json] [--home DIR] [key options]\n"
    "\n"
    "Shows a received (or sent) message: who sent it, when, its deadline,\n"
    "then the case message as JSON (docs/SCHEMAS.md).  ID: the first\n"
    "digits of its id, as amanat inbox shows them.\n" AM_CMD_CLIENT_HELP;

int am_cmd_read(int argc, char **argv)
{
    am_cmd_client_t cc;
    am_client_t *c = NULL;
    ProtobufCMessage *cm = NULL;
    uint8_t id[AM_MSG_ID_LEN], *bufs = NULL;
    char hex[33], *text = NULL;
    size_t len;
    am_cmsg_t m;
    int rc;

    if ((rc = opts("read", read_help, argc, argv, &cc, NULL, NULL)))
        return rc < 0 ? AM_EXIT_OK : rc;
    if (optind != argc - 1)
        return am_cli_usage("read", "give one message ID");
    if ((rc = am_cmd_client_open(&cc, &c)) != 0 ||
        (rc = am_cmd_resolve(c, argv[optind], id)) != 0)
        goto out;
    if ((rc = am_cstore_get(am_client_store(c), id, &m, &bufs)) != 0 ||
        (rc = am_pb_unpack(&amanat__v1__case_message__descriptor,
                           "case message", m.content, m.content_len,
                           AM_ENV_MAX, &cm)) != 0 ||
        (rc = am_json_print(cm, true, &text, &len)) != 0) {
        rc = am_cli_fail(rc);
        goto out;
    }
    am_client_hex(id, hex);
    if (!cc.json)
        print_header(&m, hex);
    printf("%s\n", text);
    if (!m.outgoing && m.read_at == 0)
        (void)am_cstore_mark_read(am_client_store(c), id, am_cli_now());
out:
    am_free(text);
    am_pb_free(cm);
    am_free(bufs);
    am_client_close(c);
    return rc;
}

static const char receipt_help[] =
    "usage: amanat ack ID [--home DIR] [key options]\n"
    "       amanat refuse ID --reason TEXT [--home DIR] [key options]\n"
    "\n"
    "Sends the sender a signed receipt: acknowledged (the agency takes the\n"
    "request on), or refused with the reason.\n" AM_CMD_CLIENT_HELP;

int am_cmd_receipt(int argc, char **argv)
{
    bool refuse = strcmp(argv[0], "refuse") == 0;
    const char *reason = NULL;
    am_cmd_client_t cc;
    am_client_t *c = NULL;
    uint8_t id[AM_MSG_ID_LEN];
    char hex[33];
    int rc;

    if ((rc = opts(argv[0], receipt_help, argc, argv, &cc, &reason, NULL)))
        return rc < 0 ? AM_EXIT_OK : rc;
    if (optind != argc - 1)
        return am_cli_usage(argv[0], "give one message ID");
    if (refuse && (reason == NULL || reason[0] == '\0'))
        return am_cli_usage("refuse", "--reason is required");
    if (!refuse && reason != NULL)
        return am_cli_usage("ack", "--reason is for refuse");
    if ((rc = am_cmd_client_open(&cc, &c)) != 0 ||
        (rc = am_cmd_resolve(c, argv[optind], id)) != 0)
        goto out;
    if ((rc = am_client_receipt(c, id, refuse ? AM_RECEIPT_REFUSED
                                              : AM_RECEIPT_ACKNOWLEDGED,
                                reason)) != 0 ||
        (rc = am_cstore_set_state(am_client_store(c), id,
                                  refuse ? "refused" : "acknowledged")) != 0) {
        rc = am_cli_fail(rc);
        goto out;
    }
    am_client_hex(id, hex);
    printf("%s %s: signed receipt sent\n", refuse ? "refused" : "acknowledged",
           hex);
out:
    am_client_close(c);
    return rc;
}
