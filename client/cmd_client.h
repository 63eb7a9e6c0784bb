/* What the officer's subcommands (send, sync, inbox, read, reply, ack,
 * refuse, track) share: --home, --json, the key options, opening the
 * agency's client, and printing what was sent. */
#ifndef AM_CMD_CLIENT_H
#define AM_CMD_CLIENT_H

#include <stdbool.h>

#include "cli.h"
#include "client.h"

enum { OPT_HOME = 1100, OPT_JSON };

#define AM_CMD_CLIENT_OPTIONS                                                \
    {"home", required_argument, NULL, OPT_HOME},                             \
    {"json", no_argument, NULL, OPT_JSON}, AM_CLI_KEY_OPTIONS

#define AM_CMD_CLIENT_HELP                                                   \
    "\n"                                                                     \
    "  --home DIR            the agency's profile (default: AMANAT_HOME,\n" \
    "                        else ~/.amanat; see amanat join)\n"            \
    "  --json                output for scripts\n"                          \
    "  --passphrase-fd N, --passphrase-env VAR, --no-passphrase: where the\n"\
    "                        agency key's passphrase comes from (default:\n"\
    "                        asked on the terminal)\n"

typedef struct {
    const char *home;
    bool json;
    am_cli_keys_t keys;
    int exit; /* after AM_CMD_OPT_FAILED */
} am_cmd_client_t;

/* Also restarts getopt (optind = 1). */
void am_cmd_client_init(am_cmd_client_t *cc);

#define AM_CMD_OPT_FAILED (-2)
/* The next option of argv by getopt_long over opts (which include
 * AM_CMD_CLIENT_OPTIONS: those are taken into cc, not returned); -1 at
 * the end; AM_CMD_OPT_FAILED when one of them was wrong (said, and the
 * exit code in cc->exit). */
int am_cmd_getopt(am_cmd_client_t *cc, int argc, char **argv,
                  const struct option *opts);
/* Open the agency's client; an exit code after printing why. */
int am_cmd_client_open(const am_cmd_client_t *cc, am_client_t **out);

/* "amanat CMD: FILE: $.path: why" for each problem, on stderr. */
void am_cmd_print_problems(const char *cmd, const char *file,
                           const am_problems_t *p);
/* The id of a message just sent and the relay's accepted evidence. */
int am_cmd_print_sent(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                      bool json);
/* A message id the officer typed (hex prefix). */
int am_cmd_resolve(am_client_t *c, const char *hex,
                   uint8_t id[AM_MSG_ID_LEN]);

/* Text another agency wrote, made safe for a terminal: control
 * characters (escape sequences, carriage returns) become '?'. */
const char *am_cmd_clean(const char *in, char *out, size_t cap);

#endif
