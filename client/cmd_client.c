#include "cmd_client.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "timefmt.h"

void am_cmd_client_init(am_cmd_client_t *cc)
{
    memset(cc, 0, sizeof *cc);
    am_cli_keys_init(&cc->keys);
    optind = 1;
}

/* 1 when opt was one of AM_CMD_CLIENT_OPTIONS (taken), 0 when not, or an
 * exit code after printing why. */
static int client_opt(am_cmd_client_t *cc, int opt, const char *arg)
{
    if (opt == OPT_HOME) {
        cc->home = arg;
        return 1;
    }
    if (opt == OPT_JSON) {
        cc->json = true;
        return 1;
    }
    return am_cli_keys_opt(&cc->keys, opt, arg);
}

int am_cmd_getopt(am_cmd_client_t *cc, int argc, char **argv,
                  const struct option *opts)
{
    int o, rc;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((rc = client_opt(cc, o, optarg)) == 0)
            return o;
        if (rc != 1) {
            cc->exit = rc;
            return AM_CMD_OPT_FAILED;
        }
    }
    return -1;
}

int am_cmd_client_open(const am_cmd_client_t *cc, am_client_t **out)
{
    int rc = am_client_open(cc->home, &cc->keys.pass, out);

    return rc == 0 ? AM_EXIT_OK : am_cli_fail(rc);
}

void am_cmd_print_problems(const char *cmd, const char *file,
                           const am_problems_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "amanat %s: %s: %s: %s\n", cmd, file,
                p->items[i].path, p->items[i].message);
    if (p->more > 0)
        fprintf(stderr, "amanat %s: %s: ... and %zu more problems\n", cmd,
                file, p->more);
}

typedef struct {
    am_cevent_t ev;
    bool found;
} accepted_t;

static int find_accepted(void *ctx, const am_cevent_t *e)
{
    accepted_t *a = ctx;

    if (strcmp(e->kind, "accepted") == 0 && !a->found) {
        a->ev = *e;
        a->ev.signed_bytes = NULL;
        a->found = true;
    }
    return 0;
}

int am_cmd_print_sent(am_client_t *c, const uint8_t id[AM_MSG_ID_LEN],
                      bool json)
{
    accepted_t a = {.found = false};
    char hex[33], when[AM_TIME_TEXT_MAX] = "";
    int rc;

    am_client_hex(id, hex);
    if ((rc = am_cstore_events(am_client_store(c), id, find_accepted, &a)) < 0)
        return am_cli_fail(rc);
    if (!a.found)
        return am_cli_fail(am_errf(AM_ESTATE, "%s is stored but the relay "
                                   "did not accept it", hex));
    (void)am_time_format(a.ev.time, when);
    if (json)
        printf("{\"message_id\": \"%s\", \"accepted_by\": \"%s\", "
               "\"accepted_at\": \"%s\"}\n", hex, a.ev.party, when);
    else
        printf("sent %s\naccepted by %s at %s (signed evidence stored)\n",
               hex, a.ev.party, when);
    return AM_EXIT_OK;
}

int am_cmd_resolve(am_client_t *c, const char *hex,
                   uint8_t id[AM_MSG_ID_LEN])
{
    int rc = am_cstore_resolve(am_client_store(c), hex, id);

    return rc == 0 ? AM_EXIT_OK : am_cli_fail(rc);
}

const char *am_cmd_clean(const char *in, char *out, size_t cap)
{
    size_t i = 0;

    for (; in != NULL && in[i] != '\0' && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];

        out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    out[i] = '\0';
    return out;
}
