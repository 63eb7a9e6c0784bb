/* amanat join / send / sync: an agency's profile, sending a case message,
 * and receiving what the relay holds. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "client.h"
#include "cmd_client.h"
#include "err.h"
#include "timefmt.h"
#include "alloc.h"

static const char join_help[] =
    "usage: amanat join --key ID.key --cert ID.cert --root root.pub\n"
    "                   --relay HOST:PORT [--home DIR]\n"
    "\n"
    "Makes the agency's profile folder (--home, else AMANAT_HOME, else\n"
    "~/.amanat) from the key amanat keygen made, the certificate and root\n"
    "key the federation administrator gave, and the home relay's address.\n";

int am_cmd_join(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"cert", required_argument, NULL, 'c'},
        {"root", required_argument, NULL, 'r'},
        {"relay", required_argument, NULL, 'R'},
        {"home", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *key = NULL, *cert = NULL, *root = NULL, *relay = NULL,
               *home = NULL;
    char dir[AM_PROFILE_PATH_MAX];
    int o, rc;

    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'k': key = optarg; break;
        case 'c': cert = optarg; break;
        case 'r': root = optarg; break;
        case 'R': relay = optarg; break;
        case 'H': home = optarg; break;
        case 'h': fputs(join_help, stdout); return AM_EXIT_OK;
        default: return am_cli_usage("join", "unknown option");
        }
    }
    if (!key || !cert || !root || !relay || optind != argc)
        return am_cli_usage("join", "needs --key, --cert, --root and --relay");
    if ((rc = am_profile_home(home, dir, sizeof dir)) != 0 ||
        (rc = am_profile_join(dir, key, cert, root, relay)) != 0)
        return am_cli_fail(rc);
    printf("profile ready in %s\n", dir);
    return AM_EXIT_OK;
}

static const char send_help[] =
    "usage: amanat send FILE.json --to ID[,ID...] [--priority P]\n"
    "                   [--deadline TIME] [--in-reply-to ID] [--json]\n"
    "                   [--home DIR] [key options]\n"
    "\n"
    "Checks the case message (as amanat validate does: nothing is sent when\n"
    "it has a problem), seals it to each recipient, sends it through the\n"
    "home relay and prints its message id and the relay's signed accepted\n"
    "evidence.  P: emergency, urgent or routine (default: from the kind).\n"
    "TIME: RFC 3339, e.g. 2026-12-01T12:00:00Z (overrides the message's\n"
    "deadline).  --in-reply-to fills reply.inReplyTo.\n" AM_CMD_CLIENT_HELP;

static int split_to(char *list, const char **to, size_t *n)
{
    *n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (*n == AM_ENV_MAX_RECIPIENTS)
            return am_cli_usage("send", "at most %d recipients",
                                AM_ENV_MAX_RECIPIENTS);
        to[(*n)++] = t;
    }
    return *n == 0 ? am_cli_usage("send", "--to names no agency") : 0;
}

static int parse_priority(const char *s, int *p)
{
    if (strcmp(s, "emergency") == 0)
        *p = AM_PRIORITY_EMERGENCY;
    else if (strcmp(s, "urgent") == 0)
        *p = AM_PRIORITY_URGENT;
    else if (strcmp(s, "routine") == 0)
        *p = AM_PRIORITY_ROUTINE;
    else
        return am_cli_usage("send", "--priority: emergency, urgent or "
                            "routine, not %s", s);
    return 0;
}

typedef struct {
    am_cmd_client_t cc;
    const char *to, *deadline, *reply_to;
    int priority;
} send_args_t;

static int send_opts(int argc, char **argv, send_args_t *a)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"priority", required_argument, NULL, 'p'},
        {"deadline", required_argument, NULL, 'd'},
        {"in-reply-to", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        AM_CMD_CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
    int o, rc;

    while ((o = am_cmd_getopt(&a->cc, argc, argv, opts)) >= 0) {
        switch (o) {
        case 't': a->to = optarg; break;
        case 'p':
            if ((rc = parse_priority(optarg, &a->priority)) != 0)
                return rc;
            break;
        case 'd': a->deadline = optarg; break;
        case 'r': a->reply_to = optarg; break;
        case 'h': fputs(send_help, stdout); return -1;
        default: return am_cli_usage("send", "unknown option");
        }
    }
    if (o == AM_CMD_OPT_FAILED)
        return a->cc.exit;
    if (optind != argc - 1 || a->to == NULL)
        return am_cli_usage("send", "give one FILE.json and --to");
    return 0;
}

/* --deadline and --in-reply-to, written into the message before it is
 * checked and signed. */
static int amend(Amanat__V1__CaseMessage *m, const send_args_t *a,
                 am_client_t *c, Google__Protobuf__Timestamp *ts, char *hex)
{
    uint8_t id[AM_MSG_ID_LEN];
    int rc;

    if (a->deadline != NULL) {
        if (am_time_parse(a->deadline, &ts->seconds) != 0)
            return am_cli_usage("send", "--deadline: not an RFC 3339 time: "
                                "%s", a->deadline);
        m->deadline = ts;
    }
    if (a->reply_to != NULL) {
        if (m->body_case != AMANAT__V1__CASE_MESSAGE__BODY_REPLY)
            return am_cli_usage("send", "--in-reply-to is for a reply");
        if ((rc = am_cstore_resolve(am_client_store(c), a->reply_to, id)) != 0)
            return am_cli_fail(rc);
        am_client_hex(id, hex);
        m->reply->in_reply_to = hex;
    }
    return 0;
}

int am_cmd_send(int argc, char **argv)
{
    send_args_t a = {.priority = 0};
    const char *to[AM_ENV_MAX_RECIPIENTS];
    am_send_opts_t so = {0};
    Amanat__V1__CaseMessage *m = NULL;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Timestamp *had_deadline;
    am_client_t *c = NULL;
    uint8_t id[AM_MSG_ID_LEN];
    char hex[33], *had_reply = NULL;
    int rc;

    am_cmd_client_init(&a.cc);
    if ((rc = send_opts(argc, argv, &a)) != 0)
        return rc < 0 ? AM_EXIT_OK : rc;
    if ((rc = split_to((char *)a.to, to, &so.n_to)) != 0 ||
        (rc = am_cli_load_case(argv[optind], &m)) != 0)
        return rc;
    had_deadline = m->deadline;
    if (m->body_case == AMANAT__V1__CASE_MESSAGE__BODY_REPLY)
        had_reply = m->reply->in_reply_to;
    if ((rc = am_cmd_client_open(&a.cc, &c)) != 0 ||
        (rc = amend(m, &a, c, &ts, hex)) != 0)
        goto out;
    so.to = to;
    so.priority = a.priority;
    if ((rc = am_client_send(c, m, &so, id)) != 0) {
        am_cmd_print_problems("send", argv[optind], am_client_problems(c));
        rc = am_cli_fail(rc);
        goto out;
    }
    rc = am_cmd_print_sent(c, id, a.cc.json);
out:
    if (m != NULL) {
        m->deadline = had_deadline; /* ours, not the message's to free */
        if (m->body_case == AMANAT__V1__CASE_MESSAGE__BODY_REPLY)
            m->reply->in_reply_to = had_reply;
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    am_client_close(c);
    return rc;
}

static const char reply_help[] =
    "usage: amanat reply ID FILE.json [--json] [--home DIR] [key options]\n"
    "\n"
    "Sends FILE.json, a case message with a reply body, to the agency that\n"
    "sent message ID, naming it in reply.inReplyTo.\n" AM_CMD_CLIENT_HELP;

int am_cmd_reply(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        AM_CMD_CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
    am_cmd_client_t cc;
    am_send_opts_t so = {0};
    Amanat__V1__CaseMessage *m = NULL;
    am_client_t *c = NULL;
    uint8_t id[AM_MSG_ID_LEN], *bufs = NULL, sent[AM_MSG_ID_LEN];
    char hex[33], *had = NULL;
    const char *to[1];
    am_cmsg_t orig;
    int o, rc;

    am_cmd_client_init(&cc);
    if ((o = am_cmd_getopt(&cc, argc, argv, opts)) == 'h')
        return fputs(reply_help, stdout), AM_EXIT_OK;
    if (o == AM_CMD_OPT_FAILED)
        return cc.exit;
    if (o != -1)
        return am_cli_usage("reply", "unknown option");
    if (optind != argc - 2)
        return am_cli_usage("reply", "give the message ID and FILE.json");
    if ((rc = am_cli_load_case(argv[optind + 1], &m)) != 0)
        return rc;
    if (m->body_case != AMANAT__V1__CASE_MESSAGE__BODY_REPLY) {
        rc = am_cli_usage("reply", "%s is not a reply (its body must be "
                          "\"reply\")", argv[optind + 1]);
        goto out;
    }
    if ((rc = am_cmd_client_open(&cc, &c)) != 0 ||
        (rc = am_cmd_resolve(c, argv[optind], id)) != 0)
        goto out;
    if ((rc = am_cstore_get(am_client_store(c), id, &orig, &bufs)) != 0 ||
        orig.outgoing) {
        rc = am_cli_fail(rc ? rc : am_errf(AM_EINVAL, "%s was sent by this "
                                           "agency: reply to what it "
                                           "received", argv[optind]));
        goto out;
    }
    am_client_hex(id, hex);
    had = m->reply->in_reply_to;
    m->reply->in_reply_to = hex;
    to[0] = orig.sender;
    so.to = to;
    so.n_to = 1;
    if ((rc = am_client_send(c, m, &so, sent)) != 0) {
        am_cmd_print_problems("reply", argv[optind + 1],
                              am_client_problems(c));
        rc = am_cli_fail(rc);
    } else {
        rc = am_cmd_print_sent(c, sent, cc.json);
    }
    m->reply->in_reply_to = had;
out:
    am_free(bufs);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    am_client_close(c);
    return rc;
}

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char sync_help[] =
    "usage: amanat sync [--watch] [--json] [--home DIR] [key options]\n"
    "\n"
    "Sends what is queued, then receives everything the relay holds for\n"
    "the agency: messages (each stored before the relay is told it\n"
    "arrived, then a signed receipt goes back), the relay's delivered and\n"
    "expired evidence, receipts and replies.  --watch: stay connected,\n"
    "reconnecting with backoff, until interrupted.\n" AM_CMD_CLIENT_HELP;

int am_cmd_sync(int argc, char **argv)
{
    static const struct option opts[] = {
        {"watch", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        AM_CMD_CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
    am_cmd_client_t cc;
    am_client_t *c = NULL;
    bool watch = false;
    size_t got = 0;
    int o, rc;

    am_cmd_client_init(&cc);
    while ((o = am_cmd_getopt(&cc, argc, argv, opts)) >= 0) {
        if (o == 'w')
            watch = true;
        else if (o == 'h')
            return fputs(sync_help, stdout), AM_EXIT_OK;
        else
            return am_cli_usage("sync", "unknown option");
    }
    if (o == AM_CMD_OPT_FAILED)
        return cc.exit;
    if (optind != argc)
        return am_cli_usage("sync", "takes no file");
    if ((rc = am_cmd_client_open(&cc, &c)) != 0)
        return rc;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = am_client_sync(c, 1500, watch, &stop_flag, &got);
    if (rc != 0)
        rc = am_cli_fail(rc);
    else if (cc.json)
        printf("{\"received\": %zu}\n", got);
    else
        printf("%zu new message%s\n", got, got == 1 ? "" : "s");
    am_client_close(c);
    return rc;
}
