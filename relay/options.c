/* One table describes every setting, so a flag, its configuration-file key,
 * its bounds and its default cannot drift apart. */
#include "options.h"

#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "country.h"
#include "frame.h"

const char am_relay_usage[] =
    "usage: amanat-relay [--config FILE] --data DIR --root root.pub\n"
    "                    --cert RELAY.cert --key RELAY.key --certs DIR\n"
    "                    [--crl FILE] [--host 127.0.0.1] [--port N]\n"
    "                    [--passphrase-env VAR] [--frame-max BYTES]\n"
    "                    [--expire-interval-ms MS] [--max-conns N]\n"
    "                    [--max-preauth-per-ip N] [--handshake-timeout-ms MS]\n"
    "                    [--idle-timeout-ms MS] [--quota-messages N]\n"
    "                    [--quota-bytes BYTES] [--handshake-offload 0|1|2]\n"
    "                    [--peer RELAY-ID@ADDRESS:PORT]...\n"
    "\n"
    "  --config FILE     INI file, section [relay], keys as the flags with '_'\n"
    "                    (data = /var/lib/amanat); flags win over the file\n"
    "  --data DIR        folder of the store (store.sqlite)\n"
    "  --certs DIR       certificates (*.cert) of the agencies served\n"
    "  --port N          0 (default): any free port; the port is printed\n"
    "  --quota-messages, --quota-bytes: what one agency may have stored and\n"
    "                    undelivered at once (default 100000 and 1 GiB)\n"
    "  --handshake-offload 0: handshake cryptography on the event loop; 1: on\n"
    "                    the thread pool; 2 (default): the pool when the\n"
    "                    machine has more than 2 CPUs\n"
    "  --peer ID@A:P     a relay of the federation to link with (repeat for\n"
    "                    each; in the file: section [peers], ID = A:P)\n"
    "\n"
    "       amanat-relay audit verify --data DIR\n"
    "  checks the audit log's hash chain; exit 1 at the first broken link\n"
    "Stops cleanly on SIGTERM or SIGINT; SIGHUP reloads certificates and\n"
    "the revocation list.\n";

enum { T_STR, T_U64 };

typedef struct {
    const char *name;
    int type;
    void *dst;          /* const char ** or uint64_t * */
    uint64_t min, max;  /* T_U64 */
} opt_t;

/* The settings of o, with their bounds; defaults are set here too. */
static size_t table(am_relay_opts_t *o, opt_t *t, uint64_t *v)
{
    static const struct {
        const char *name;
        uint64_t def, min, max;
    } nums[] = {
        {"port", 0, 0, 65535},
        {"frame-max", AM_FRAME_MAX_DEFAULT, 65536, AM_FRAME_MAX_CEILING},
        {"expire-interval-ms", 5000, 100, 3600000},
        {"max-conns", 10000, 1, 1000000},
        {"max-preauth-per-ip", 64, 1, 100000},
        {"handshake-timeout-ms", 10000, 100, 600000},
        {"idle-timeout-ms", 300000, 1000, 86400000},
        {"quota-messages", 100000, 1, UINT64_C(1) << 40},
        {"quota-bytes", UINT64_C(1) << 30, 65536, UINT64_C(1) << 50},
        {"handshake-offload", AM_HS_OFFLOAD_AUTO, 0, AM_HS_OFFLOAD_AUTO},
    };
    const char **strs[] = {&o->data, &o->dir.root_pub, &o->dir.cert,
                           &o->dir.key, &o->dir.certs_dir, &o->dir.crl,
                           &o->srv.host, &o->dir.pass_env};
    static const char *const snames[] = {"data", "root", "cert", "key",
                                         "certs", "crl", "host",
                                         "passphrase-env"};
    size_t n = 0;

    _Static_assert(sizeof strs / sizeof strs[0] + sizeof nums / sizeof nums[0]
                       <= AM_RELAY_OPTS_MAX,
                   "AM_RELAY_OPTS_MAX is too small for the settings");
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        t[n++] = (opt_t){snames[i], T_STR, strs[i], 0, 0};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        v[i] = nums[i].def;
        t[n++] = (opt_t){nums[i].name, T_U64, &v[i], nums[i].min,
                         nums[i].max};
    }
    return n;
}

static int set(const opt_t *t, const char *val, const char *where)
{
    unsigned long long x;
    char *end;

    if (t->type == T_STR) {
        *(const char **)t->dst = val;
        return 0;
    }
    errno = 0;
    x = strtoull(val, &end, 10);
    if (*val < '0' || *val > '9' || *end != '\0' || errno != 0 ||
        x < t->min || x > t->max) {
        fprintf(stderr, "amanat-relay: %s%s: \"%s\" is not a number from "
                "%llu to %llu\n", where, t->name, val,
                (unsigned long long)t->min, (unsigned long long)t->max);
        return 2;
    }
    *(uint64_t *)t->dst = x;
    return 0;
}

typedef struct {
    am_relay_opts_t *o;
    opt_t t[AM_RELAY_OPTS_MAX];
    uint64_t v[AM_RELAY_OPTS_MAX];
    bool given[AM_RELAY_OPTS_MAX];   /* by a flag */
    bool in_file[AM_RELAY_OPTS_MAX]; /* already set by the file */
    size_t n, n_owned;
    int rc;
} parse_t;

/* ID@HOST:PORT (a flag) or ID and HOST:PORT (the file's [peers]). */
static int add_peer(am_server_config_t *srv, const char *id,
                    const char *addr, const char *where)
{
    am_peer_cfg_t *pc = &srv->peers[srv->n_peers];
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sa;
    char *end;
    long port;

    if (srv->n_peers == AM_PEERS_MAX) {
        fprintf(stderr, "amanat-relay: %smore than %d peers\n", where,
                AM_PEERS_MAX);
        return 2;
    }
    for (size_t i = 0; i < srv->n_peers; i++)
        if (strcmp(srv->peers[i].id, id) == 0) {
            fprintf(stderr, "amanat-relay: %speer %s named twice\n", where,
                    id);
            return 2;
        }
    port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!am_agency_id_valid(id) || colon == NULL ||
        (size_t)(colon - addr) >= sizeof pc->host || colon[1] == '\0' ||
        *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "amanat-relay: %speer \"%s\" at \"%s\": want "
                "RELAY-ID@IPV4:PORT\n", where, id, addr);
        return 2;
    }
    memcpy(pc->host, addr, (size_t)(colon - addr));
    pc->host[colon - addr] = '\0';
    if (uv_ip4_addr(pc->host, (int)port, &sa) != 0) {
        fprintf(stderr, "amanat-relay: %speer %s: \"%s\" is not an IPv4 "
                "address\n", where, id, pc->host);
        return 2;
    }
    snprintf(pc->id, sizeof pc->id, "%s", id);
    pc->port = (int)port;
    srv->n_peers++;
    return 0;
}

static int peer_flag(am_server_config_t *srv, const char *spec)
{
    char id[AM_AGENCY_ID_MAX + 2];
    const char *at = strchr(spec, '@');

    if (at == NULL || (size_t)(at - spec) >= sizeof id) {
        fprintf(stderr, "amanat-relay: --peer \"%s\": want "
                "RELAY-ID@IPV4:PORT\n", spec);
        return 2;
    }
    memcpy(id, spec, (size_t)(at - spec));
    id[at - spec] = '\0';
    return add_peer(srv, id, at + 1, "--");
}

static int on_ini(void *user, const char *section, const char *name,
                  const char *value)
{
    parse_t *p = user;
    char key[64], where[512];
    size_t i;

    if (p->rc != 0)
        return 0;
    if (strcmp(section, "peers") == 0) {
        snprintf(where, sizeof where, "%s: [peers] ", p->o->config);
        p->rc = add_peer(&p->o->srv, name, value, where);
        return p->rc == 0;
    }
    snprintf(key, sizeof key, "%s", name);
    for (char *k = key; *k; k++)
        *k = *k == '_' ? '-' : *k;
    for (i = 0; i < p->n && strcmp(p->t[i].name, key) != 0; i++)
        ;
    if (strcmp(section, "relay") != 0 || i == p->n) {
        fprintf(stderr, "amanat-relay: %s: unknown setting [%s] %s\n",
                p->o->config, section, name);
        p->rc = 2;
        return 0;
    }
    if (p->in_file[i]) {
        /* also what inih makes of an indented line: a continuation */
        fprintf(stderr, "amanat-relay: %s: %s set twice (or an indented "
                "line continues it)\n", p->o->config, name);
        p->rc = 2;
        return 0;
    }
    p->in_file[i] = true;
    if (p->given[i]) /* the flag wins */
        return 1;
    if (p->t[i].type == T_STR) {
        if (p->n_owned == AM_RELAY_OPTS_MAX ||
            (p->o->owned[p->n_owned] = strdup(value)) == NULL) {
            p->rc = 2;
            return 0;
        }
        value = p->o->owned[p->n_owned++];
    }
    snprintf(where, sizeof where, "%s: ", p->o->config);
    if ((p->rc = set(&p->t[i], value, where)) != 0)
        return 0;
    return 1;
}

static int read_config(parse_t *p)
{
    int line = ini_parse(p->o->config, on_ini, p);

    if (p->rc != 0)
        return p->rc;
    if (line < 0) {
        fprintf(stderr, "amanat-relay: cannot read %s: %s\n", p->o->config,
                line == -1 ? strerror(errno) : "out of memory");
        return 2;
    }
    if (line > 0) {
        fprintf(stderr, "amanat-relay: %s line %d: not \"key = value\"\n",
                p->o->config, line);
        return 2;
    }
    return 0;
}

static int parse_flags(parse_t *p, int argc, char **argv)
{
    struct option opts[AM_RELAY_OPTS_MAX + 4];
    size_t i;
    int c;

    for (i = 0; i < p->n; i++)
        opts[i] = (struct option){p->t[i].name, required_argument, NULL,
                                  256 + (int)i};
    opts[i++] = (struct option){"config", required_argument, NULL, 'F'};
    opts[i++] = (struct option){"peer", required_argument, NULL, 'P'};
    opts[i++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[i] = (struct option){NULL, 0, NULL, 0};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(am_relay_usage, stdout);
            return 1;
        }
        if (c == 'F') {
            p->o->config = optarg;
        } else if (c == 'P') {
            if (peer_flag(&p->o->srv, optarg) != 0)
                return 2;
        } else if (c >= 256) {
            p->given[c - 256] = true;
            if (set(&p->t[c - 256], optarg, "--") != 0)
                return 2;
        } else {
            fputs(am_relay_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "amanat-relay: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    return 0;
}

int am_relay_opts_parse(int argc, char **argv, am_relay_opts_t *o)
{
    parse_t p = {.o = o};
    int rc;

    memset(o, 0, sizeof *o);
    o->srv.host = "127.0.0.1";
    p.n = table(o, p.t, p.v);
    if ((rc = parse_flags(&p, argc, argv)) != 0 ||
        (o->config != NULL && (rc = read_config(&p)) != 0))
        return rc;
    /* the numbers, in table order after the strings */
    o->srv.port = (int)p.v[0];
    o->srv.frame_max = (size_t)p.v[1];
    o->srv.expire_ms = p.v[2];
    o->srv.max_conns = (size_t)p.v[3];
    o->srv.max_preauth_per_ip = (size_t)p.v[4];
    o->srv.handshake_ms = p.v[5];
    o->srv.idle_ms = p.v[6];
    o->srv.quota_messages = p.v[7];
    o->srv.quota_bytes = p.v[8];
    o->srv.hs_offload = (int)p.v[9];
    if (o->data == NULL || o->dir.root_pub == NULL || o->dir.cert == NULL ||
        o->dir.key == NULL || o->dir.certs_dir == NULL) {
        fprintf(stderr, "amanat-relay: --data, --root, --cert, --key and "
                "--certs are required (flags or configuration file)\n%s",
                am_relay_usage);
        return 2;
    }
    return 0;
}

void am_relay_opts_free(am_relay_opts_t *o)
{
    for (size_t i = 0; i < AM_RELAY_OPTS_MAX; i++) {
        free(o->owned[i]);
        o->owned[i] = NULL;
    }
}
