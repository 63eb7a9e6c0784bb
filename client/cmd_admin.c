/* amanat admin: the federation administrator's commands.
 *
 * The federation's state is a folder (--dir, default "."): root.key (the
 * root's secret, sealed, 0600), root.pub, next-serial, crl-sequence,
 * revoked (one "serial<TAB>agency<TAB>time<TAB>reason" line per revoked
 * certificate) and issued/ (a copy of every certificate, SERIAL-ID.cert).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "cert.h"
#include "cli.h"
#include "err.h"
#include "fsutil.h"
#include "keystore.h"
#include "timefmt.h"

#define PATH_MAX_LEN 4096

static const char help[] =
    "usage: amanat admin SUBCOMMAND [OPTIONS]\n"
    "\n"
    "  root-init [--dir D] [key options]\n"
    "      create the federation root (D/root.key, D/root.pub)\n"
    "  issue --pub ID.pub --name TEXT [--role agency|relay]\n"
    "        [--home-relay ID] [--days N] [--not-before TIME] [--out FILE]\n"
    "        [--dir D] [key options]\n"
    "      sign a certificate for the holder of ID.pub (default out: ID.cert)\n"
    "  revoke --serial N [--reason TEXT] [--dir D]\n"
    "      add a certificate to the revocation list (takes effect with crl)\n"
    "  crl --out FILE [--dir D] [key options]\n"
    "      sign the current revocation list with the next sequence number\n"
    "  show FILE [--json]\n"
    "      a key file, certificate, revocation list or envelope header\n"
    "  verify CERT --root root.pub [--crl FILE] [--at TIME]\n"
    "         [--role agency|relay]\n"
    "      check a certificate against the root at a time (default now)\n"
    "\n"
    "TIME is UTC: 2026-12-01, 2026-12-01T12:00Z or @UNIXSECONDS.\n"
    "key options: --passphrase-fd N, --passphrase-env VAR, --no-passphrase,\n"
    "             --kdf interactive|moderate|sensitive (see keygen --help)\n";

static int dir_path(char *out, const char *dir, const char *name)
{
    if (snprintf(out, PATH_MAX_LEN, "%s/%s", dir, name) >= PATH_MAX_LEN)
        return am_errf(AM_EINVAL, "path too long: %.64s...", dir);
    return 0;
}

static int read_counter(const char *dir, const char *name, uint64_t *v)
{
    char path[PATH_MAX_LEN];
    uint8_t *buf;
    size_t len;
    int rc;

    if ((rc = dir_path(path, dir, name)) != 0 ||
        (rc = am_file_read(path, 64, &buf, &len, NULL)) != 0)
        return rc;
    buf[strcspn((char *)buf, "\n")] = '\0';
    rc = am_cli_parse_u64((char *)buf, v) == 0
             ? 0
             : am_errf(AM_EPROTO, "%s: not a number", path);
    am_free(buf);
    return rc;
}

static int write_counter(const char *dir, const char *name, uint64_t v)
{
    char path[PATH_MAX_LEN], text[32];
    int rc, n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)v);

    if ((rc = dir_path(path, dir, name)) != 0)
        return rc;
    return am_file_write(path, text, (size_t)n, 0644, true);
}

static int root_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        AM_CLI_KEY_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".";
    char path[PATH_MAX_LEN];
    uint8_t pk[32], sk[64];
    am_key_t *sec = NULL, *pub = NULL;
    am_cli_keys_t keys;
    int c, rc;

    am_cli_keys_init(&keys);
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((rc = am_cli_keys_opt(&keys, c, optarg)) != 0) {
            if (rc != 1)
                return rc;
        } else if (c == 'd') {
            dir = optarg;
        } else {
            return c == 'h' ? (fputs(help, stdout), AM_EXIT_OK)
                            : am_cli_usage("admin root-init", "bad option");
        }
    }
    if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
        return am_cli_usage("admin root-init", "cannot use folder %s", dir);
    if (crypto_sign_keypair(pk, sk) != 0)
        return am_cli_fail(AM_ECRYPTO);
    /* the file keeps the 32-byte seed; libsodium's sk is seed || pk */
    if ((rc = am_key_new(AM_KEY_ROOT_SECRET, "root", sk, 32, &sec)) == 0 &&
        (rc = am_key_new(AM_KEY_ROOT_PUBLIC, "root", pk, 32, &pub)) == 0 &&
        (rc = dir_path(path, dir, "root.key")) == 0 &&
        (rc = am_keystore_save(path, sec, &keys.pass, &keys.cost)) == 0 &&
        (rc = dir_path(path, dir, "root.pub")) == 0 &&
        (rc = am_keystore_save(path, pub, &keys.pass, &keys.cost)) == 0 &&
        (rc = write_counter(dir, "next-serial", 1)) == 0 &&
        (rc = write_counter(dir, "crl-sequence", 0)) == 0 &&
        (rc = dir_path(path, dir, "issued")) == 0 && mkdir(path, 0755) != 0)
        rc = am_errf(AM_EIO, "cannot create %s", path);
    sodium_memzero(sk, sizeof sk);
    am_key_free(sec);
    am_key_free(pub);
    if (rc != 0)
        return am_cli_fail(rc);
    printf("federation root created in %s: root.key (secret, keep offline), "
           "root.pub (give to every relay and agency)\n", dir);
    return AM_EXIT_OK;
}

/* The root's libsodium secret key (seed || pk) from D/root.key. */
static int load_root_sk(const char *dir, const am_cli_keys_t *keys,
                        uint8_t sk[64])
{
    char path[PATH_MAX_LEN];
    uint8_t pk[32];
    am_key_t *k = NULL;
    int rc;

    if ((rc = dir_path(path, dir, "root.key")) != 0 ||
        (rc = am_keystore_load(path, AM_KEY_ROOT_SECRET, &keys->pass, &k)) != 0)
        return rc;
    if (crypto_sign_seed_keypair(pk, sk, k->key) != 0)
        rc = am_errf(AM_EKEY, "%s: not an Ed25519 seed", path);
    am_key_free(k);
    return rc;
}

typedef struct {
    const char *dir, *pub, *name, *role, *home, *out;
    uint64_t days;
    int64_t not_before;
    am_cli_keys_t keys;
} issue_args_t;

static int issue_parse(int argc, char **argv, issue_args_t *a)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"pub", required_argument, NULL, 'p'},
        {"name", required_argument, NULL, 'n'},
        {"role", required_argument, NULL, 'r'},
        {"home-relay", required_argument, NULL, 'H'},
        {"days", required_argument, NULL, 'D'},
        {"not-before", required_argument, NULL, 'b'},
        {"out", required_argument, NULL, 'o'},
        AM_CLI_KEY_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c, rc;

    *a = (issue_args_t){.dir = ".", .role = "agency", .days = 365,
                        .not_before = am_cli_now()};
    am_cli_keys_init(&a->keys);
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((rc = am_cli_keys_opt(&a->keys, c, optarg)) != 0) {
            if (rc != 1)
                return rc;
            continue;
        }
        switch (c) {
        case 'd': a->dir = optarg; break;
        case 'p': a->pub = optarg; break;
        case 'n': a->name = optarg; break;
        case 'r': a->role = optarg; break;
        case 'H': a->home = optarg; break;
        case 'o': a->out = optarg; break;
        case 'D':
            if (am_cli_parse_u64(optarg, &a->days) != 0 || a->days == 0 ||
                a->days > 3650)
                return am_cli_usage("admin issue", "--days: 1 to 3650");
            break;
        case 'b':
            if (am_time_parse(optarg, &a->not_before) != 0) {
                am_cli_fail(AM_EINVAL);
                return AM_EXIT_USAGE;
            }
            break;
        default:
            return am_cli_usage("admin issue", "bad option");
        }
    }
    if (a->pub == NULL || a->name == NULL)
        return am_cli_usage("admin issue", "--pub and --name are required");
    if (strcmp(a->role, "agency") != 0 && strcmp(a->role, "relay") != 0)
        return am_cli_usage("admin issue", "--role: agency or relay");
    return 0;
}

/* The certificate's fields from the arguments and the public key file. */
static int issue_fields(const issue_args_t *a, uint64_t serial, am_cert_t *c)
{
    am_key_t *pub = NULL;
    int rc;

    if ((rc = am_keystore_load(a->pub, AM_KEY_AGENCY_PUBLIC, &a->keys.pass,
                               &pub)) != 0)
        return rc;
    if (!am_agency_id_valid(pub->owner)) {
        rc = am_errf(AM_EINVAL, "%s: owner \"%s\" is not an agency id",
                     a->pub, pub->owner);
        am_key_free(pub);
        return rc;
    }
    memset(c, 0, sizeof *c);
    memcpy(c->agency_id, pub->owner, strlen(pub->owner) + 1);
    snprintf(c->display_name, sizeof c->display_name, "%s", a->name);
    memcpy(c->country, pub->owner, 2);
    memcpy(c->sign_pk, pub->key, 32);
    memcpy(c->dh_pk, pub->key + 32, 32);
    am_key_free(pub);
    c->roles = strcmp(a->role, "relay") == 0 ? AM_ROLE_RELAY : AM_ROLE_AGENCY;
    if (a->home != NULL)
        snprintf(c->home_relay, sizeof c->home_relay, "%s", a->home);
    c->not_before = a->not_before;
    c->not_after = a->not_before + (int64_t)a->days * 86400;
    c->serial = serial;
    if (strlen(a->name) > AM_DISPLAY_NAME_MAX)
        return am_errf(AM_EINVAL, "--name: at most %d bytes",
                       AM_DISPLAY_NAME_MAX);
    return 0;
}

static int issue(int argc, char **argv)
{
    char out[PATH_MAX_LEN], copy[PATH_MAX_LEN], t1[AM_TIME_TEXT_MAX],
        t2[AM_TIME_TEXT_MAX];
    uint8_t sk[64], *cert = NULL;
    size_t cert_len;
    uint64_t serial;
    issue_args_t a;
    am_cert_t c;
    int rc;

    if ((rc = issue_parse(argc, argv, &a)) != 0)
        return rc;
    if ((rc = read_counter(a.dir, "next-serial", &serial)) != 0 ||
        (rc = issue_fields(&a, serial, &c)) != 0 ||
        (rc = load_root_sk(a.dir, &a.keys, sk)) != 0)
        return am_cli_fail(rc);
    rc = am_cert_issue(&c, sk, &cert, &cert_len);
    sodium_memzero(sk, sizeof sk);
    if (rc != 0)
        return am_cli_fail(rc);
    snprintf(out, sizeof out, "%s", a.out ? a.out : c.agency_id);
    if (a.out == NULL)
        strncat(out, ".cert", sizeof out - strlen(out) - 1);
    snprintf(copy, sizeof copy, "%s/issued/%llu-%s.cert", a.dir,
             (unsigned long long)serial, c.agency_id);
    /* the serial is spent before the certificate exists: never reused */
    if ((rc = write_counter(a.dir, "next-serial", serial + 1)) != 0 ||
        (rc = am_file_write(copy, cert, cert_len, 0644, false)) != 0 ||
        (rc = am_file_write(out, cert, cert_len, 0644, false)) != 0) {
        am_free(cert);
        return am_cli_fail(rc);
    }
    am_free(cert);
    if (am_time_format(c.not_before, t1) != 0 ||
        am_time_format(c.not_after, t2) != 0)
        return am_cli_fail(AM_EINVAL);
    printf("%s: certificate of %s (%s), serial %llu, valid %s to %s\n", out,
           c.agency_id, a.role, (unsigned long long)serial, t1, t2);
    return AM_EXIT_OK;
}

/* The agency id of issued/SERIAL-ID.cert. */
static int issued_id(const char *dir, uint64_t serial, char id[32])
{
    char path[PATH_MAX_LEN], prefix[32];
    struct dirent *e;
    DIR *d;
    int rc = am_errf(AM_EINVAL, "no certificate with serial %llu was issued "
                     "from %s", (unsigned long long)serial, dir);

    snprintf(prefix, sizeof prefix, "%llu-", (unsigned long long)serial);
    if (dir_path(path, dir, "issued") != 0 || (d = opendir(path)) == NULL)
        return am_errf(AM_EIO, "cannot read %s/issued", dir);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && n > 5 &&
            strcmp(e->d_name + n - 5, ".cert") == 0 &&
            n - 5 - strlen(prefix) < 32) {
            snprintf(id, 32, "%.*s", (int)(n - 5 - strlen(prefix)),
                     e->d_name + strlen(prefix));
            rc = 0;
            break;
        }
    }
    closedir(d);
    return rc;
}

static int revoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"serial", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".", *reason = "";
    char path[PATH_MAX_LEN], id[32], line[512];
    uint8_t *old = NULL, *all;
    size_t old_len = 0;
    uint64_t serial = 0;
    int c, rc, n;

    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'r')
            reason = optarg;
        else if (c != 's' || am_cli_parse_u64(optarg, &serial) != 0)
            return am_cli_usage("admin revoke", "bad option or serial");
    }
    if (serial == 0)
        return am_cli_usage("admin revoke", "--serial N is required");
    if (strpbrk(reason, "\t\n") != NULL || strlen(reason) > AM_REASON_MAX)
        return am_cli_usage("admin revoke", "--reason: one line, at most %d "
                            "bytes", AM_REASON_MAX);
    if ((rc = issued_id(dir, serial, id)) != 0 ||
        (rc = dir_path(path, dir, "revoked")) != 0)
        return am_cli_fail(rc);
    if (access(path, F_OK) == 0 &&
        (rc = am_file_read(path, AM_CRL_MAX, &old, &old_len, NULL)) != 0)
        return am_cli_fail(rc);
    /* "\nSERIAL\t" anywhere, or "SERIAL\t" at the start: already there */
    n = snprintf(line, sizeof line, "\n%llu\t", (unsigned long long)serial);
    if (old != NULL && (strncmp((char *)old, line + 1, (size_t)n - 1) == 0 ||
                        strstr((char *)old, line) != NULL)) {
        am_free(old);
        return am_cli_fail(am_errf(AM_EINVAL, "serial %llu is already revoked",
                                   (unsigned long long)serial));
    }
    n = snprintf(line, sizeof line, "%llu\t%s\t%lld\t%s\n",
                 (unsigned long long)serial, id, (long long)am_cli_now(),
                 reason);
    if ((all = am_malloc(old_len + (size_t)n)) == NULL) {
        am_free(old);
        return am_cli_fail(AM_ENOMEM);
    }
    if (old_len > 0)
        memcpy(all, old, old_len);
    memcpy(all + old_len, line, (size_t)n);
    rc = am_file_write(path, all, old_len + (size_t)n, 0644, true);
    am_free(all);
    am_free(old);
    if (rc != 0)
        return am_cli_fail(rc);
    printf("serial %llu (%s) revoked; run `amanat admin crl` to publish\n",
           (unsigned long long)serial, id);
    return AM_EXIT_OK;
}

#define REVOKED_MAX 100000

/* Parse the revoked file (text we wrote) into r; strings point into buf,
 * which is modified in place. */
static int parse_revoked(char *buf, am_revoked_t *r, size_t *n)
{
    char *save = NULL, *line;

    *n = 0;
    for (line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[4] = {NULL, NULL, NULL, ""}, *s2 = NULL, *tok;
        int i = 0;
        uint64_t t;

        for (tok = strtok_r(line, "\t", &s2); tok && i < 4;
             tok = strtok_r(NULL, "\t", &s2))
            f[i++] = tok;
        if (i < 3 || *n >= REVOKED_MAX ||
            am_cli_parse_u64(f[0], &r[*n].serial) != 0 ||
            am_cli_parse_u64(f[2], &t) != 0)
            return am_errf(AM_EPROTO, "revoked list: bad line %zu", *n + 1);
        r[*n].agency_id = f[1];
        r[*n].revoked_at = (int64_t)t;
        r[*n].reason = f[3];
        (*n)++;
    }
    return 0;
}

static int crl_sign(const char *dir, const char *out, const am_cli_keys_t *k,
                    uint64_t *seq)
{
    char path[PATH_MAX_LEN];
    uint8_t *text = NULL, *crl = NULL, sk[64];
    size_t len = 0, n = 0, crl_len;
    am_revoked_t *r = NULL;
    int rc;

    if ((rc = read_counter(dir, "crl-sequence", seq)) != 0 ||
        (rc = dir_path(path, dir, "revoked")) != 0)
        return rc;
    (*seq)++;
    if (access(path, F_OK) == 0 &&
        (rc = am_file_read(path, AM_CRL_MAX, &text, &len, NULL)) != 0)
        return rc;
    if ((r = am_calloc(REVOKED_MAX, sizeof *r)) == NULL) {
        rc = AM_ENOMEM;
        goto out;
    }
    if ((text && (rc = parse_revoked((char *)text, r, &n)) != 0) ||
        (rc = load_root_sk(dir, k, sk)) != 0)
        goto out;
    rc = am_crl_issue(sk, *seq, am_cli_now(), r, n, &crl, &crl_len);
    sodium_memzero(sk, sizeof sk);
    if (rc == 0 && (rc = am_file_write(out, crl, crl_len, 0644, true)) == 0)
        rc = write_counter(dir, "crl-sequence", *seq);
out:
    am_free(crl);
    am_free(r);
    am_free(text);
    return rc;
}

static int crl(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        AM_CLI_KEY_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *dir = ".", *out = NULL;
    am_cli_keys_t keys;
    uint64_t seq;
    int c, rc;

    am_cli_keys_init(&keys);
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((rc = am_cli_keys_opt(&keys, c, optarg)) != 0) {
            if (rc != 1)
                return rc;
        } else if (c == 'd') {
            dir = optarg;
        } else if (c == 'o') {
            out = optarg;
        } else {
            return am_cli_usage("admin crl", "bad option");
        }
    }
    if (out == NULL)
        return am_cli_usage("admin crl", "--out FILE is required");
    if ((rc = crl_sign(dir, out, &keys, &seq)) != 0)
        return am_cli_fail(rc);
    printf("%s: revocation list, sequence %llu\n", out,
           (unsigned long long)seq);
    return AM_EXIT_OK;
}

typedef struct {
    const char *cert, *root, *crl;
    int64_t at;
    unsigned role;
} verify_args_t;

static int verify_parse(int argc, char **argv, verify_args_t *a)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"crl", required_argument, NULL, 'c'},
        {"at", required_argument, NULL, 'a'},
        {"role", required_argument, NULL, 'R'},
        {NULL, 0, NULL, 0},
    };
    int c;

    *a = (verify_args_t){.at = am_cli_now()};
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r') {
            a->root = optarg;
        } else if (c == 'c') {
            a->crl = optarg;
        } else if (c == 'a') {
            if (am_time_parse(optarg, &a->at) != 0)
                return am_cli_usage("admin verify", "--at: %s",
                                    am_err_detail());
        } else if (c == 'R' && strcmp(optarg, "agency") == 0) {
            a->role = AM_ROLE_AGENCY;
        } else if (c == 'R' && strcmp(optarg, "relay") == 0) {
            a->role = AM_ROLE_RELAY;
        } else {
            return am_cli_usage("admin verify", "bad option");
        }
    }
    if (optind != argc - 1 || a->root == NULL)
        return am_cli_usage("admin verify", "one CERT and --root are needed");
    a->cert = argv[optind];
    return 0;
}

/* The root's public key and, when given, the revocation list it signed. */
static int verify_inputs(const verify_args_t *a, uint8_t root_pk[32],
                         am_crl_t **crl)
{
    am_pass_source_t none = {-1, NULL, 1};
    uint8_t *b = NULL;
    size_t len;
    am_key_t *k = NULL;
    int rc;

    if ((rc = am_keystore_load(a->root, AM_KEY_ROOT_PUBLIC, &none, &k)) != 0)
        return rc;
    memcpy(root_pk, k->key, 32);
    am_key_free(k);
    if (a->crl == NULL)
        return 0;
    if ((rc = am_file_read(a->crl, AM_CRL_MAX, &b, &len, NULL)) != 0)
        return rc;
    rc = am_crl_verify(b, len, root_pk, 0, crl);
    am_free(b);
    return rc != 0 ? am_err_wrap(rc, "%s", a->crl) : 0;
}

static int verify(int argc, char **argv)
{
    uint8_t root_pk[32], *b = NULL;
    char until[AM_TIME_TEXT_MAX];
    size_t len;
    am_crl_t *list = NULL;
    verify_args_t a;
    am_cert_policy_t p;
    am_cert_t c;
    int rc;

    if ((rc = verify_parse(argc, argv, &a)) != 0)
        return rc;
    if ((rc = verify_inputs(&a, root_pk, &list)) != 0 ||
        (rc = am_file_read(a.cert, AM_CERT_MAX, &b, &len, NULL)) != 0) {
        am_crl_free(list);
        return am_cli_fail(rc);
    }
    p = (am_cert_policy_t){root_pk, a.at, a.role, list};
    rc = am_cert_verify(b, len, &p, &c);
    am_free(b);
    am_crl_free(list);
    if (rc != 0) {
        fprintf(stderr, "invalid: %s: %s\n", a.cert, am_err_detail());
        return AM_EXIT_REFUSED;
    }
    if (am_time_format(c.not_after, until) != 0)
        return am_cli_fail(AM_EINVAL);
    printf("valid: %s, %s (serial %llu), %s%s, until %s\n", a.cert,
           c.agency_id, (unsigned long long)c.serial,
           c.roles & AM_ROLE_RELAY ? "relay" : "agency",
           a.crl ? ", not revoked" : " (no revocation list checked)", until);
    return AM_EXIT_OK;
}

int am_cmd_admin(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"root-init", root_init}, {"issue", issue}, {"revoke", revoke},
                {"crl", crl}, {"verify", verify}};

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? AM_EXIT_USAGE : AM_EXIT_OK;
    }
    if (strcmp(argv[1], "show") == 0)
        return am_cmd_show(argc - 1, argv + 1, "admin show");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    return am_cli_usage("admin", "unknown subcommand \"%s\"", argv[1]);
}
