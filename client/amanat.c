/* amanat: the command line of liaison officers and federation
 * administrators.  Each subcommand lives in cmd_<name>.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

static const char usage[] =
    "usage: amanat COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  keygen --agency ID      create an agency's (or relay's) keys\n"
    "  admin SUBCOMMAND        federation administration: root-init, issue,\n"
    "                          revoke, crl, show, verify\n"
    "  show FILE [--json]      show a key file, certificate, revocation list\n"
    "                          or envelope header\n"
    "  validate FILE.json      check a case message (docs/SCHEMAS.md)\n"
    "  example TYPE            print a valid case message of that kind\n"
    "  convert FILE            case message JSON <-> binary\n"
    "\n"
    "an agency's officers (profile: --home, AMANAT_HOME or ~/.amanat):\n"
    "  join                    make the profile from key, certificate, root\n"
    "  send FILE.json --to ID  validate, seal and send a case message\n"
    "  sync [--watch]          receive what the relay holds; send queued\n"
    "  inbox                   received requests, unread and emergency first\n"
    "  read ID                 one message, as text and JSON\n"
    "  reply ID FILE.json      answer a received request\n"
    "  ack ID, refuse ID       signed receipt: taken on, or refused (--reason)\n"
    "  track [ID]              the requests sent, overdue first; or one's\n"
    "                          timeline\n"
    "  evidence ID --out FILE  a court-ready evidence bundle of a message;\n"
    "  evidence verify FILE    checked offline with --root root.pub\n"
    "  prekeys rotate          renew the signed prekey, give it to the relay\n"
    "\n"
    "Each command has --help.  Exit codes: 0 done; 1 refused (invalid,\n"
    "forged, revoked or expired input); 2 wrong command line; 3 system\n"
    "error (file, memory).\n";

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "amanat: libsodium failed to start\n");
        return AM_EXIT_SYSTEM;
    }
    /* a relay that closes on us is an error to report, not a signal */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? AM_EXIT_USAGE : AM_EXIT_OK;
    }
    if (strcmp(argv[1], "keygen") == 0)
        return am_cmd_keygen(argc - 1, argv + 1);
    if (strcmp(argv[1], "admin") == 0)
        return am_cmd_admin(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return am_cmd_show(argc - 1, argv + 1, "show");
    if (strcmp(argv[1], "validate") == 0)
        return am_cmd_validate(argc - 1, argv + 1);
    if (strcmp(argv[1], "example") == 0)
        return am_cmd_example(argc - 1, argv + 1);
    if (strcmp(argv[1], "convert") == 0)
        return am_cmd_convert(argc - 1, argv + 1);
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } officer[] = {
        {"join", am_cmd_join},   {"send", am_cmd_send},
        {"sync", am_cmd_sync},   {"inbox", am_cmd_inbox},
        {"read", am_cmd_read},   {"reply", am_cmd_reply},
        {"ack", am_cmd_receipt}, {"refuse", am_cmd_receipt},
        {"track", am_cmd_track}, {"evidence", am_cmd_evidence},
        {"prekeys", am_cmd_prekeys},
    };
    for (size_t i = 0; i < sizeof officer / sizeof officer[0]; i++)
        if (strcmp(argv[1], officer[i].name) == 0)
            return officer[i].run(argc - 1, argv + 1);
    return am_cli_usage("", "unknown command \"%s\"", argv[1]);
}
