/* What the amanat subcommands share: exit codes, error printing, and the
 * options that choose where passphrases come from and what sealing costs.
 *
 * Exit codes (also in `amanat --help` and docs/OPERATIONS.md):
 *   0 done;  1 refused: the input is invalid, forged, revoked, expired...;
 *   2 usage: the command line is wrong;  3 system: a file, memory or device.
 */
#ifndef AM_CLI_H
#define AM_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "case.pb-c.h"
#include "keyfile.h"
#include "passphrase.h"

enum { AM_EXIT_OK = 0, AM_EXIT_REFUSED = 1, AM_EXIT_USAGE = 2,
       AM_EXIT_SYSTEM = 3 };

/* Long options shared by commands that read or write secret keys. */
enum {
    OPT_PASS_FD = 1000,
    OPT_PASS_ENV,
    OPT_NO_PASS,
    OPT_KDF,
};
#define AM_CLI_KEY_OPTIONS                                                   \
    {"passphrase-fd", required_argument, NULL, OPT_PASS_FD},                 \
    {"passphrase-env", required_argument, NULL, OPT_PASS_ENV},               \
    {"no-passphrase", no_argument, NULL, OPT_NO_PASS},                       \
    {"kdf", required_argument, NULL, OPT_KDF}

typedef struct {
    am_pass_source_t pass;
    am_key_cost_t cost;
} am_cli_keys_t;

void am_cli_keys_init(am_cli_keys_t *k);
/* 1 when opt was one of AM_CLI_KEY_OPTIONS (handled), 0 when not, or
 * AM_EXIT_USAGE after printing why. */
int am_cli_keys_opt(am_cli_keys_t *k, int opt, const char *arg);

/* Print "amanat: <the recorded sentence>" and map rc to an exit code. */
int am_cli_fail(int rc);
/* Print "amanat <cmd>: <message>" and "see amanat <cmd> --help". */
int am_cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int am_cli_parse_u64(const char *s, uint64_t *out);

/* Read and parse a case message JSON file; on failure the problem is
 * printed ("FILE: $.path: why") and an exit code returned. */
int am_cli_load_case(const char *path, Amanat__V1__CaseMessage **out);
int64_t am_cli_now(void);

/* Subcommands: argv[0] is the subcommand's name. */
int am_cmd_keygen(int argc, char **argv);
int am_cmd_admin(int argc, char **argv);
int am_cmd_show(int argc, char **argv, const char *cmd);
int am_cmd_validate(int argc, char **argv);
int am_cmd_example(int argc, char **argv);
int am_cmd_convert(int argc, char **argv);
int am_cmd_join(int argc, char **argv);
int am_cmd_send(int argc, char **argv);
int am_cmd_sync(int argc, char **argv);
int am_cmd_inbox(int argc, char **argv);
int am_cmd_read(int argc, char **argv);
int am_cmd_reply(int argc, char **argv);
int am_cmd_receipt(int argc, char **argv); /* ack, refuse */
int am_cmd_track(int argc, char **argv);
int am_cmd_evidence(int argc, char **argv);
int am_cmd_prekeys(int argc, char **argv);

#endif
