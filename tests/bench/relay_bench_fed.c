/* relay_bench: the federation's files and the relay process.
 *
 * A root, the relay PK-RELAY and RB_N_AGENCIES agencies served by it, each
 * with fresh keys and a certificate valid for a day, written the way an
 * operator lays them out (root.pub, relay.cert, relay.key, certs/ID.cert)
 * in a new folder under /tmp.  Every relay gets a new, empty store
 * (data-N) and its stdout and stderr go to relay-N.log there: the relay
 * logs a line per connection and per stored envelope, and a terminal or
 * a pipe would slow it down more than a file does.
 *
 * A layout (rb_fed_create_layout) may name more relays and home each
 * agency at one of them (the certificate's home_relay): the first relay's
 * files are in the folder, each other's in a sub-folder named after it,
 * and every certs/ holds every agency's certificate, so that each relay
 * knows the agencies homed at the others from the start.  A relay is
 * started with the port and extra flags (--peer ...) its rb_fed_t names.
 */
#define _GNU_SOURCE /* prctl, PR_SET_PDEATHSIG */

#include "relay_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "cert.h"
#include "err.h"
#include "fsutil.h"
#include "keyfile.h"

static const rb_layout_t one_relay = {
    "amanat-relay-bench", 1, {"PK-RELAY"},
    {"PK-NCCIA", "PH-NBI", "DE-BKA", "FR-OFMIN",
     "NL-NHTCU", "GB-NCA", "BR-PF",  "KE-DCI"},
    {0},
};

static int fail_am(const char *what, int rc)
{
    const char *d = am_err_detail();

    fprintf(stderr, "%s: %s: %s\n", RB_PROG, what,
            d[0] != '\0' ? d : am_strerror(rc));
    return -1;
}

static int make_payload(rb_party_t *p)
{
    Amanat__V1__HandshakePayload hp = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;
    Amanat__V1__SignedCertificate *sc;

    sc = amanat__v1__signed_certificate__unpack(NULL, p->cert_len, p->cert);
    if (sc == NULL) {
        fprintf(stderr, "%s: the certificate of %s does not parse\n",
                RB_PROG, p->id);
        return -1;
    }
    hp.protocol_version = 1;
    hp.certificate = sc;
    hp.software = RB_PROG;
    p->hs_payload_len = amanat__v1__handshake_payload__get_packed_size(&hp);
    if ((p->hs_payload = malloc(p->hs_payload_len)) == NULL) {
        amanat__v1__signed_certificate__free_unpacked(sc, NULL);
        fprintf(stderr, "%s: out of memory\n", RB_PROG);
        return -1;
    }
    amanat__v1__handshake_payload__pack(&hp, p->hs_payload);
    amanat__v1__signed_certificate__free_unpacked(sc, NULL);
    return 0;
}

/* An agency homed at home, or (home NULL) a relay. */
static int make_party(rb_fed_t *fed, rb_party_t *p, const char *id,
                      const char *home, uint64_t serial)
{
    unsigned roles = home != NULL ? AM_ROLE_AGENCY : AM_ROLE_RELAY;
    am_cert_t c;
    time_t now = time(NULL);
    int rc;

    memset(&c, 0, sizeof c);
    snprintf(p->id, sizeof p->id, "%s", id);
    randombytes_buf(p->seed, sizeof p->seed);
    randombytes_buf(p->dh_sk, sizeof p->dh_sk);
    if (crypto_sign_seed_keypair(p->sign_pk, p->sign_sk, p->seed) != 0 ||
        crypto_scalarmult_base(p->dh_pk, p->dh_sk) != 0)
        return fail_am("key derivation", AM_EKEY);
    snprintf(c.agency_id, sizeof c.agency_id, "%s", id);
    snprintf(c.display_name, sizeof c.display_name, "%s (relay_bench)", id);
    memcpy(c.country, id, 2);
    memcpy(c.sign_pk, p->sign_pk, 32);
    memcpy(c.dh_pk, p->dh_pk, 32);
    c.roles = roles;
    if (home != NULL)
        snprintf(c.home_relay, sizeof c.home_relay, "%s", home);
    c.not_before = (int64_t)now - 3600;
    c.not_after = (int64_t)now + 86400;
    c.serial = serial;
    p->serial = serial;
    if ((rc = am_cert_issue(&c, fed->root_sk, &p->cert, &p->cert_len)) != 0)
        return fail_am("am_cert_issue", rc);
    return make_payload(p);
}

static int write_file(const rb_fed_t *fed, const char *name, const void *data,
                      size_t len)
{
    char path[256];
    int rc;

    snprintf(path, sizeof path, "%s/%s", fed->dir, name);
    if ((rc = am_file_write(path, data, len, 0600, false)) != 0)
        return fail_am("write", rc);
    return 0;
}

static int write_key(const rb_fed_t *fed, const char *name,
                     am_key_kind_t kind, const char *owner,
                     const uint8_t *key, size_t len)
{
    am_key_t *k = NULL;
    char *text = NULL;
    size_t tlen;
    int rc;

    if ((rc = am_key_new(kind, owner, key, len, &k)) != 0 ||
        (rc = am_keyfile_encode(k, NULL, 0, NULL, &text, &tlen)) != 0) {
        am_key_free(k);
        return fail_am("key file", rc);
    }
    rc = write_file(fed, name, text, tlen);
    am_free(text);
    am_key_free(k);
    return rc;
}

static int write_files(rb_fed_t *fed)
{
    uint8_t secret[64];
    char name[64];
    int rc;

    memcpy(secret, fed->relay.seed, 32);
    memcpy(secret + 32, fed->relay.dh_sk, 32);
    rc = write_key(fed, "root.pub", AM_KEY_ROOT_PUBLIC, "root", fed->root_pk,
                   32);
    if (rc == 0)
        rc = write_key(fed, "relay.key", AM_KEY_AGENCY_SECRET,
                       fed->relay.id, secret, 64);
    sodium_memzero(secret, sizeof secret);
    if (rc == 0)
        rc = write_file(fed, "relay.cert", fed->relay.cert,
                        fed->relay.cert_len);
    for (size_t i = 0; rc == 0 && i < RB_N_AGENCIES; i++) {
        snprintf(name, sizeof name, "certs/%s.cert", fed->agencies[i].id);
        rc = write_file(fed, name, fed->agencies[i].cert,
                        fed->agencies[i].cert_len);
    }
    return rc;
}

/* Which of the flags this bench may pass the relay knows: it is being
 * extended while the bench is written, so ask it (--help). */
static int probe_flags(rb_fed_t *fed)
{
    char help[8192];
    size_t n = 0;

    if (rb_run_capture(fed->relay_bin, "--help", help, sizeof help, &n) != 0)
        return -1;
    fed->has_max_conns = strstr(help, "--max-conns") != NULL;
    fed->has_quota = strstr(help, "--quota-messages") != NULL &&
                     strstr(help, "--quota-bytes") != NULL;
    return 0;
}

static int make_dir(const char *dir, const char *sub)
{
    char path[128];

    snprintf(path, sizeof path, "%s%s", dir, sub);
    if (mkdir(path, 0700) != 0) {
        fprintf(stderr, "%s: mkdir %s: %s\n", RB_PROG, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Relay i's view of feds[0]: the same root and agencies, its own relay
 * and files in feds[0].dir/RELAY-ID. */
static int make_view(rb_fed_t *feds, size_t i, const rb_layout_t *lay)
{
    rb_fed_t *v = &feds[i];
    char base[sizeof v->dir]; /* i is never 0, but the compiler cannot know */

    memcpy(base, feds[0].dir, sizeof base);
    memset(v, 0, sizeof *v);
    v->view = true;
    v->relay_bin = feds[0].relay_bin;
    v->has_max_conns = feds[0].has_max_conns;
    v->has_quota = feds[0].has_quota;
    memcpy(v->root_pk, feds[0].root_pk, sizeof v->root_pk);
    memcpy(v->root_sk, feds[0].root_sk, sizeof v->root_sk);
    memcpy(v->agencies, feds[0].agencies, sizeof v->agencies);
    if ((size_t)snprintf(v->dir, sizeof v->dir, "%s/%s", base,
                         lay->relay_ids[i]) >= sizeof v->dir) {
        fprintf(stderr, "%s: folder name too long\n", RB_PROG);
        return -1;
    }
    if (make_dir(v->dir, "") != 0 || make_dir(v->dir, "/certs") != 0 ||
        make_party(v, &v->relay, lay->relay_ids[i], NULL,
                   RB_N_AGENCIES + 1 + i) != 0)
        return -1;
    return write_files(v);
}

int rb_fed_create_layout(rb_fed_t *feds, const rb_layout_t *lay,
                         const char *relay_bin)
{
    rb_fed_t *fed = &feds[0];

    memset(fed, 0, sizeof *fed);
    fed->relay_bin = relay_bin;
    if (lay->n_relays < 1 || lay->n_relays > RB_MAX_RELAYS) {
        fprintf(stderr, "%s: %zu relays: want 1 to %d\n", RB_PROG,
                lay->n_relays, RB_MAX_RELAYS);
        return -1;
    }
    if (access(relay_bin, X_OK) != 0) {
        fprintf(stderr, "%s: relay %s: %s (give its path with --relay)\n",
                RB_PROG, relay_bin, strerror(errno));
        return -1;
    }
    if (probe_flags(fed) != 0)
        return -1;
    snprintf(fed->dir, sizeof fed->dir, "/tmp/%.40s-XXXXXX", lay->tmp_name);
    if (mkdtemp(fed->dir) == NULL) {
        fprintf(stderr, "%s: mkdtemp: %s\n", RB_PROG, strerror(errno));
        fed->dir[0] = '\0';
        return -1;
    }
    if (make_dir(fed->dir, "/certs") != 0)
        return -1;
    if (crypto_sign_keypair(fed->root_pk, fed->root_sk) != 0)
        return fail_am("root key", AM_EKEY);
    if (make_party(fed, &fed->relay, lay->relay_ids[0], NULL, 1) != 0)
        return -1;
    for (size_t i = 0; i < RB_N_AGENCIES; i++)
        if (lay->home[i] >= lay->n_relays ||
            make_party(fed, &fed->agencies[i], lay->agency_ids[i],
                       lay->relay_ids[lay->home[i]], (uint64_t)i + 2) != 0)
            return -1;
    if (write_files(fed) != 0)
        return -1;
    for (size_t i = 1; i < lay->n_relays; i++)
        if (make_view(feds, i, lay) != 0)
            return -1;
    return 0;
}

int rb_fed_create(rb_fed_t *fed, const char *relay_bin)
{
    return rb_fed_create_layout(fed, &one_relay, relay_bin);
}

static void party_free(rb_party_t *p)
{
    am_free(p->cert);
    free(p->hs_payload);
    sodium_memzero(p, sizeof *p);
}

void rb_fed_destroy(rb_fed_t *fed, bool keep)
{
    if (fed->pid > 0)
        (void)rb_relay_stop(fed);
    if (fed->view) { /* the agencies and the folder are feds[0]'s */
        party_free(&fed->relay);
        sodium_memzero(fed, sizeof *fed);
        return;
    }
    if (fed->dir[0] != '\0') {
        if (keep)
            printf("kept %s (keys, certificates, relay logs)\n", fed->dir);
        else if (rb_rmtree(fed->dir) != 0)
            fprintf(stderr, "%s: could not remove all of %s\n", RB_PROG,
                    fed->dir);
    }
    party_free(&fed->relay);
    for (size_t i = 0; i < RB_N_AGENCIES; i++)
        party_free(&fed->agencies[i]);
    sodium_memzero(fed->root_sk, sizeof fed->root_sk);
}

/* The command line of run N: argv (pointing into store) and, for the
 * report, the same with the folder written $DIR. */
typedef struct {
    char store[32][200];
    char *argv[34];
} argv_t;

static void add_arg(argv_t *a, size_t *n, rb_fed_t *fed, const char *opt,
                    const char *val_fmt, const char *val)
{
    size_t len = strlen(fed->flags);

    snprintf(a->store[*n], sizeof a->store[0], "%s", opt);
    a->argv[*n + 1] = a->store[*n];
    (*n)++;
    snprintf(fed->flags + len, sizeof fed->flags - len, "%s%s", len ? " " : "",
             opt);
    if (val_fmt == NULL)
        return;
    snprintf(a->store[*n], sizeof a->store[0], val_fmt, fed->dir, val);
    a->argv[*n + 1] = a->store[*n];
    (*n)++;
    len = strlen(fed->flags);
    snprintf(fed->flags + len, sizeof fed->flags - len, " ");
    len = strlen(fed->flags);
    snprintf(fed->flags + len, sizeof fed->flags - len, val_fmt, "$DIR", val);
}

static void build_argv(rb_fed_t *fed, argv_t *a, size_t max_conns)
{
    char data[32], conns[32], port[16];
    size_t n = 0;

    snprintf(data, sizeof data, "data-%u", fed->runs);
    snprintf(conns, sizeof conns, "%zu", max_conns);
    snprintf(port, sizeof port, "%d", fed->listen_port);
    fed->flags[0] = '\0';
    a->argv[0] = (char *)fed->relay_bin;
    add_arg(a, &n, fed, "--host", "%.0s%s", "127.0.0.1");
    add_arg(a, &n, fed, "--port", "%.0s%s", port);
    add_arg(a, &n, fed, "--data", "%s/%s", data);
    add_arg(a, &n, fed, "--root", "%s/%s", "root.pub");
    add_arg(a, &n, fed, "--cert", "%s/%s", "relay.cert");
    add_arg(a, &n, fed, "--key", "%s/%s", "relay.key");
    add_arg(a, &n, fed, "--certs", "%s/%s", "certs");
    if (max_conns > 0 && fed->has_max_conns)
        add_arg(a, &n, fed, "--max-conns", "%.0s%s", conns);
    if (fed->has_quota) {
        /* measure the store, not the per-agency quota */
        add_arg(a, &n, fed, "--quota-messages", "%.0s%s", "100000000");
        add_arg(a, &n, fed, "--quota-bytes", "%.0s%s", "1099511627776");
    }
    for (size_t i = 0; i < fed->n_extra && i < RB_EXTRA_MAX; i++)
        add_arg(a, &n, fed, fed->extra[i], NULL, NULL);
    a->argv[n + 1] = NULL;
}

void rb_relay_describe(rb_fed_t *fed, size_t max_conns)
{
    argv_t a;

    fed->runs++; /* the next run's folder */
    build_argv(fed, &a, max_conns);
    fed->runs--;
}

static void describe_status(int status, char *out, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, cap, "ended (status %#x)", (unsigned)status);
}

/* 0 while the relay runs.  Else it has ended: -2 when taken_ok and it
 * could not listen on the port it was given, which another process took
 * (nothing reported); -1 otherwise, reported with its log. */
static int reap(rb_fed_t *fed, bool taken_ok)
{
    char what[96];
    int status = 0;
    pid_t r, pid = fed->pid;

    if ((r = waitpid(pid, &status, WNOHANG)) == 0)
        return 0;
    fed->pid = 0;
    rb_guard_remove(pid);
    if (taken_ok && r == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) != 0 &&
        rb_relay_log_has(fed, "address already in use"))
        return -2;
    if (r < 0)
        snprintf(what, sizeof what, "cannot be waited for: %s",
                 strerror(errno));
    else
        describe_status(status, what, sizeof what);
    fprintf(stderr, "%s: the relay %s (pid %d) %s; its log, %s, ends:\n",
            RB_PROG, fed->relay.id, (int)pid, what, fed->log);
    rb_relay_log_tail(fed, 15);
    return -1;
}

int rb_relay_check(rb_fed_t *fed)
{
    if (fed->pid <= 0) {
        fprintf(stderr, "%s: the relay %s is not running\n", RB_PROG,
                fed->relay.id);
        return -1;
    }
    return reap(fed, false);
}

/* Waits (at most 10 s) for "listening on 127.0.0.1:PORT" in the log.
 * 0, -1 or -2 (see reap). */
static int wait_listening(rb_fed_t *fed)
{
    char buf[8192];

    for (int i = 0; i < 1000 && !rb_interrupted; i++) {
        FILE *f = fopen(fed->log, "r");
        const char *p = NULL;
        size_t n = 0;
        int rc;

        if (f != NULL) {
            n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
        }
        buf[n] = '\0';
        if ((p = strstr(buf, "listening on 127.0.0.1:")) != NULL &&
            strchr(p, '\n') != NULL &&
            sscanf(p, "listening on 127.0.0.1:%d", &fed->port) == 1)
            return 0;
        if ((rc = reap(fed, fed->listen_port != 0)) != 0)
            return rc;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "%s: the relay %s did not print \"listening on\" "
            "within 10 s\n", RB_PROG, fed->relay.id);
    rb_relay_log_tail(fed, 10);
    return -1;
}

static pid_t spawn(const argv_t *a, int log_fd)
{
    pid_t parent = getpid(), pid = fork();

    if (pid != 0)
        return pid;
    /* the child: never outlive the bench, even if it is killed -9 */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(126);
    if (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
        _exit(126);
    execv(a->argv[0], a->argv);
    _exit(127);
}

/* Removes the store of the run that just ended (it can be large). */
static void remove_store(const rb_fed_t *fed)
{
    char data[128];

    snprintf(data, sizeof data, "%s/data-%u", fed->dir, fed->runs);
    if (rb_rmtree(data) != 0)
        fprintf(stderr, "%s: could not remove %s\n", RB_PROG, data);
}

int rb_relay_start(rb_fed_t *fed, size_t max_conns)
{
    char data[128];
    argv_t a;
    int fd, rc;

    if (fed->pid > 0 && rb_relay_stop(fed) != 0)
        return -1;
    fed->runs++;
    snprintf(data, sizeof data, "%s/data-%u", fed->dir, fed->runs);
    snprintf(fed->log, sizeof fed->log, "%s/relay-%u.log", fed->dir,
             fed->runs);
    if (mkdir(data, 0700) != 0) {
        fprintf(stderr, "%s: mkdir %s: %s\n", RB_PROG, data, strerror(errno));
        return -1;
    }
    build_argv(fed, &a, max_conns);
    if ((fd = open(fed->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0600)) < 0) {
        fprintf(stderr, "%s: %s: %s\n", RB_PROG, fed->log, strerror(errno));
        return -1;
    }
    fed->pid = spawn(&a, fd);
    close(fd);
    if (fed->pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", RB_PROG, strerror(errno));
        fed->pid = 0;
        return -1;
    }
    rb_guard_add(fed->pid);
    if ((rc = wait_listening(fed)) == -2)
        remove_store(fed);
    return rc;
}

int rb_relay_settle(rb_fed_t *fed)
{
    for (int i = 0; i < 100; i++) {
        struct timespec ts = {0, 10000000};

        if (rb_relay_check(fed) != 0)
            return -1;
        nanosleep(&ts, NULL);
    }
    return 0;
}

int rb_relay_stop(rb_fed_t *fed)
{
    char what[96];
    int status = 0, rc = -1;
    pid_t r = 0, pid = fed->pid;

    if (pid <= 0)
        return 0;
    (void)kill(fed->pid, SIGTERM);
    for (int i = 0; i < 1000 && (r = waitpid(fed->pid, &status, WNOHANG)) ==
                                    0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        (void)kill(fed->pid, SIGKILL);
        (void)waitpid(fed->pid, &status, 0);
        fprintf(stderr, "%s: the relay %s did not stop within 10 s of "
                "SIGTERM; killed\n", RB_PROG, fed->relay.id);
        rb_relay_log_tail(fed, 10);
    } else if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        describe_status(status, what, sizeof what);
        fprintf(stderr, "%s: on SIGTERM the relay %s %s\n", RB_PROG,
                fed->relay.id, r < 0 ? strerror(errno) : what);
        rb_relay_log_tail(fed, 10);
    } else {
        rc = 0;
    }
    fed->pid = 0;
    rb_guard_remove(pid);
    remove_store(fed);
    return rc;
}
