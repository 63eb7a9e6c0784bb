/* amanat evidence ID --out FILE: one message's evidence bundle;
 * amanat evidence verify BUNDLE --root root.pub: check one offline. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "bundle.h"
#include "cmd_client.h"
#include "err.h"
#include "fsutil.h"
#include "keystore.h"
#include "timefmt.h"

static const char help[] =
    "usage: amanat evidence ID --out FILE [--home DIR] [key options]\n"
    "       amanat evidence verify BUNDLE --root root.pub [--at TIME]\n"
    "\n"
    "The first writes one file holding everything that proves what\n"
    "happened to message ID: the signed envelope, the certificates of its\n"
    "sender, recipients and relays, the revocation list in force, the\n"
    "relays' signed evidence and the recipients' signed receipts.\n"
    "The second checks such a file with nothing but the federation's root\n"
    "key (offline) and lists what it proves, each fact with its signer;\n"
    "exit 0 when every signature holds, 1 at the first that does not.\n"
    "--at: also refuse anything dated after TIME (RFC 3339).\n"
    AM_CMD_CLIENT_HELP;

static void print_party(const char *role, const am_bundle_party_t *p)
{
    char when[AM_TIME_TEXT_MAX] = "";

    printf("%-10s %-10s serial %llu  %s", role, p->agency_id,
           (unsigned long long)p->serial, p->display_name);
    if (p->revoked && am_time_format(p->revoked_at, when) == 0)
        printf("  (revoked %s)", when);
    printf("\n");
}

static void print_report(const am_bundle_report_t *r)
{
    char hex[65], when[AM_TIME_TEXT_MAX];

    sodium_bin2hex(hex, sizeof hex, r->message_id, AM_MSG_ID_LEN);
    printf("message    %s\n", hex);
    sodium_bin2hex(hex, sizeof hex, r->envelope_hash, AM_HASH_LEN);
    printf("envelope   BLAKE2b-256 %s\n", hex);
    print_party("sender", &r->sender);
    for (size_t i = 0; i < r->n_recipients; i++)
        print_party("recipient", &r->recipients[i]);
    for (size_t i = 0; i < r->n_relays; i++)
        print_party("relay", &r->relays[i]);
    (void)am_time_format(r->crl_issued_at, when);
    printf("revocation list %llu of %s\n\nwhat the signatures prove:\n",
           (unsigned long long)r->crl_sequence, when);
    for (size_t i = 0; i < r->n_facts; i++) {
        const am_bundle_fact_t *f = &r->facts[i];

        (void)am_time_format(f->time, when);
        printf("  %s  %-12s signed by %-10s%s%s%s%s\n", when,
               am_bundle_fact_name(f->kind), f->signer,
               f->subject[0] ? " for " : "", f->subject,
               f->reason[0] ? "  reason: " : "", f->reason);
    }
}

static int verify(const char *path, const char *root_path, const char *at)
{
    am_pass_source_t none = {-1, NULL, 1};
    am_bundle_report_t *r = NULL;
    am_key_t *root = NULL;
    uint8_t *b = NULL;
    size_t len;
    int64_t now = 0;
    int rc;

    if (at != NULL && am_time_parse(at, &now) != 0)
        return am_cli_usage("evidence", "--at: not an RFC 3339 time: %s", at);
    if ((rc = am_keystore_load(root_path, AM_KEY_ROOT_PUBLIC, &none,
                               &root)) != 0 ||
        (rc = am_file_read(path, AM_BUNDLE_MAX, &b, &len, NULL)) != 0)
        goto out;
    if ((r = am_calloc(1, sizeof *r)) == NULL) {
        rc = AM_ENOMEM;
        goto out;
    }
    if ((rc = am_bundle_verify(b, len, root->key, now, r)) == 0) {
        printf("%s: valid: every signature verifies under the root %s\n\n",
               path, root_path);
        print_report(r);
    }
out:
    am_free(r);
    am_free(b);
    am_key_free(root);
    return rc == 0 ? AM_EXIT_OK : am_cli_fail(am_err_wrap(rc, "%s", path));
}

static int export(const am_cmd_client_t *cc, const char *hex, const char *out)
{
    am_client_t *c = NULL;
    uint8_t id[AM_MSG_ID_LEN], *b = NULL;
    size_t len = 0;
    int rc;

    if ((rc = am_cmd_client_open(cc, &c)) != 0 ||
        (rc = am_cmd_resolve(c, hex, id)) != 0)
        goto out;
    if ((rc = am_client_bundle(c, id, &b, &len)) != 0 ||
        (rc = am_file_write(out, b, len, 0644, false)) != 0) {
        rc = am_cli_fail(rc);
        goto out;
    }
    printf("%s: evidence bundle of %s (%zu bytes); check it with\n"
           "  amanat evidence verify %s --root root.pub\n", out, hex, len,
           out);
out:
    am_free(b);
    am_client_close(c);
    return rc;
}

int am_cmd_evidence(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"root", required_argument, NULL, 'r'},
        {"at", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        AM_CMD_CLIENT_OPTIONS, {NULL, 0, NULL, 0}};
    const char *out = NULL, *root = NULL, *at = NULL;
    am_cmd_client_t cc;
    int o;

    am_cmd_client_init(&cc);
    while ((o = am_cmd_getopt(&cc, argc, argv, opts)) >= 0) {
        if (o == 'o')
            out = optarg;
        else if (o == 'r')
            root = optarg;
        else if (o == 'a')
            at = optarg;
        else if (o == 'h')
            return fputs(help, stdout), AM_EXIT_OK;
        else
            return am_cli_usage("evidence", "unknown option");
    }
    if (o == AM_CMD_OPT_FAILED)
        return cc.exit;
    if (optind == argc - 2 && strcmp(argv[optind], "verify") == 0) {
        if (root == NULL || out != NULL)
            return am_cli_usage("evidence", "verify needs --root, not --out");
        return verify(argv[optind + 1], root, at);
    }
    if (optind != argc - 1 || out == NULL || root != NULL)
        return am_cli_usage("evidence", "give a message ID and --out FILE");
    return export(&cc, argv[optind], out);
}
