/* amanat prekeys rotate: the agency's signed prekey, renewed and given to
 * the relay. */
#include <stdio.h>
#include <string.h>

#include "cmd_client.h"
#include "err.h"

static const char help[] =
    "usage: amanat prekeys rotate [--period DAYS] [--grace DAYS]\n"
    "                             [--home DIR] [key options]\n"
    "\n"
    "Makes a new signed prekey when the current one is older than the\n"
    "period (default 7 days), deletes the secrets of prekeys replaced more\n"
    "than the grace period ago (default 14 days: envelopes sealed to them\n"
    "may still be on their way), and uploads the current prekey to the\n"
    "relay, which gives it to senders.  Run it daily.\n" AM_CMD_CLIENT_HELP;

static int days(const char *s, int64_t *out)
{
    uint64_t v;

    if (am_cli_parse_u64(s, &v) != 0 || v > 3650)
        return am_cli_usage("prekeys", "not a number of days: %s", s);
    *out = (int64_t)v * 86400;
    return 0;
}

int am_cmd_prekeys(int argc, char **argv)
{
    static const struct option opts[] = {
        {"period", required_argument, NULL, 'p'},
        {"grace", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        AM_CMD_CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
    am_prekey_policy_t pol = {7 * 86400, 14 * 86400};
    am_prekey_rotation_t r;
    am_cmd_client_t cc;
    am_client_t *c = NULL;
    int o, rc;

    am_cmd_client_init(&cc);
    while ((o = am_cmd_getopt(&cc, argc, argv, opts)) >= 0) {
        if (o == 'p' && (rc = days(optarg, &pol.period)) != 0)
            return rc;
        if (o == 'g' && (rc = days(optarg, &pol.grace)) != 0)
            return rc;
        if (o == 'h')
            return fputs(help, stdout), AM_EXIT_OK;
        if (o != 'p' && o != 'g')
            return am_cli_usage("prekeys", "unknown option");
    }
    if (o == AM_CMD_OPT_FAILED)
        return cc.exit;
    if (optind != argc - 1 || strcmp(argv[optind], "rotate") != 0)
        return am_cli_usage("prekeys", "the subcommand is rotate");
    if (pol.period == 0)
        return am_cli_usage("prekeys", "--period must be at least 1 day");
    if ((rc = am_cmd_client_open(&cc, &c)) != 0)
        return rc;
    if ((rc = am_client_prekeys_rotate(c, &pol, &r)) != 0) {
        rc = am_cli_fail(rc);
    } else {
        if (r.created_id != 0)
            printf("made prekey %u\n", r.created_id);
        if (r.deleted > 0)
            printf("deleted %u old prekey secret%s\n", r.deleted,
                   r.deleted == 1 ? "" : "s");
        printf("prekey %u is current and held by the relay\n", r.current_id);
    }
    am_client_close(c);
    return rc;
}
