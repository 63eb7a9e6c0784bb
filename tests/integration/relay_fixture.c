#include "relay_fixture.h"

#include "../unit/test-util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "fsutil.h"
#include "keyfile.h"
#include "keystore.h"

const char *relay_bin;
const char *const *fx_relay_env;
const char *const *fx_relay_args;
const char *fx_relay_log;
char dir[64];
uint8_t root_pk[32], root_sk[64], other_sk[64], other_pk[32];


party_t relay = {.id = "PK-RELAY", .roles = AM_ROLE_RELAY};
party_t pk = {.id = "PK-NCCIA", .roles = AM_ROLE_AGENCY};
party_t de = {.id = "DE-BKA", .roles = AM_ROLE_AGENCY};
party_t fr = {.id = "FR-DGSI", .roles = AM_ROLE_AGENCY};
party_t gb = {.id = "GB-NCA", .roles = AM_ROLE_AGENCY}; /* foreign */
party_t ph = {.id = "PH-NBI", .roles = AM_ROLE_AGENCY}; /* never in certs/ */
party_t relay_de = {.id = "DE-RELAY", .roles = AM_ROLE_RELAY};
party_t lka = {.id = "DE-LKA", .roles = AM_ROLE_AGENCY, .home = "DE-RELAY"};

static void make_party(party_t *p, const uint8_t *sk)
{
    am_cert_t c = {0};

    randombytes_buf(p->seed, 32);
    randombytes_buf(p->dh_sk, 32);
    assert_int_equal(crypto_sign_seed_keypair(p->sign_pk, p->sign_sk, p->seed),
                     0);
    assert_int_equal(crypto_scalarmult_base(p->dh_pk, p->dh_sk), 0);
    snprintf(c.agency_id, sizeof c.agency_id, "%s", p->id);
    snprintf(c.display_name, sizeof c.display_name, "%s test", p->id);
    memcpy(c.country, p->id, 2);
    memcpy(c.sign_pk, p->sign_pk, 32);
    memcpy(c.dh_pk, p->dh_pk, 32);
    c.roles = p->roles;
    if (p->roles & AM_ROLE_AGENCY)
        snprintf(c.home_relay, sizeof c.home_relay, "%s",
                 p->home ? p->home : "PK-RELAY");
    c.not_before = time(NULL) - 3600;
    c.not_after = time(NULL) + 86400;
    c.serial = p->serial = (uint64_t)randombytes_uniform(1000000) + 1;
    assert_int_equal(am_cert_issue(&c, sk, &p->cert, &p->cert_len), AM_OK);
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(am_file_write(path, data, len, 0600, true), AM_OK);
}

/* The relay's files, named in its configuration file (so that every
 * test also starts the relay the way an operator does). */
static void write_config(void)
{
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "# written by the relay fixture\n[relay]\n"
                     "data = %s/data\nroot = %s/root.pub\n"
                     "cert = %s/relay.cert\nkey = %s/relay.key\n"
                     "certs = %s/certs\nport = 1\n",
                     dir, dir, dir, dir, dir);

    assert_true(n > 0 && (size_t)n < sizeof text);
    write_file("relay.ini", text, (size_t)n);
}

static void write_key(const char *name, am_key_kind_t kind, const char *owner,
                      const uint8_t *key, size_t len)
{
    am_key_t *k;
    char *text;
    size_t tlen;

    assert_int_equal(am_key_new(kind, owner, key, len, &k), AM_OK);
    assert_int_equal(am_keyfile_encode(k, NULL, 0, NULL, &text, &tlen), AM_OK);
    write_file(name, text, tlen);
    am_free(text);
    am_key_free(k);
}

int fx_federation(void **state)
{
    uint8_t secret[64];
    char path[128];

    (void)state;
    if (sodium_init() < 0)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/amanat-relay-test-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/certs", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/data", dir);
    mkdir(path, 0700);
    crypto_sign_keypair(root_pk, root_sk);
    crypto_sign_keypair(other_pk, other_sk);
    make_party(&relay, root_sk);
    make_party(&pk, root_sk);
    make_party(&de, root_sk);
    make_party(&gb, other_sk);
    make_party(&fr, root_sk);
    make_party(&ph, root_sk);
    write_key("root.pub", AM_KEY_ROOT_PUBLIC, "root", root_pk, 32);
    memcpy(secret, relay.seed, 32);
    memcpy(secret + 32, relay.dh_sk, 32);
    write_key("relay.key", AM_KEY_AGENCY_SECRET, "PK-RELAY", secret, 64);
    write_file("relay.cert", relay.cert, relay.cert_len);
    write_file("certs/PK-NCCIA.cert", pk.cert, pk.cert_len);
    write_file("certs/DE-BKA.cert", de.cert, de.cert_len);
    write_config();
    return 0;
}

int fx_cleanup(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}


/* Relays still running, killed by the teardown if a test fails midway:
 * no process outlives the test. */
static pid_t running[8];

static void track(pid_t pid, bool add)
{
    for (size_t i = 0; i < 8; i++) {
        if (add && running[i] == 0) {
            running[i] = pid;
            return;
        }
        if (!add && running[i] == pid)
            running[i] = 0;
    }
}

int fx_kill_leftovers(void **state)
{
    (void)state;
    for (size_t i = 0; i < 8; i++)
        if (running[i] != 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
    return 0;
}

relay_t start_relay(void)
{
    return start_relay_with(NULL);
}

/* Start the relay and read "listening on 127.0.0.1:PORT" (at most 10 s).
 * The flags win over the file's port.  The _line form leaves the check
 * of what the relay printed to its caller. */
static relay_t start_relay_line(const char *ini, const char *const *extra,
                                char *line, size_t cap);
static relay_t start_relay_config(const char *ini,
                                  const char *const *extra);

relay_t fx_start_relay_or_kill(bool *killed)
{
    char line[256];
    relay_t r = start_relay_line("relay.ini", NULL, line, sizeof line);
    int status;

    *killed = false;
    if (sscanf(line, "amanat-relay: listening on 127.0.0.1:%d", &r.port) == 1)
        return r;
    /* it ended before it listened: only SIGKILL is a result */
    if (waitpid(r.pid, &status, 0) != r.pid || !WIFSIGNALED(status) ||
        WTERMSIG(status) != SIGKILL)
        fail_msg("relay did not start: \"%s\"", line);
    track(r.pid, false);
    *killed = true;
    return r;
}

relay_t start_relay_with(const char *const *extra)
{
    return start_relay_config("relay.ini", extra);
}

extern char **environ;

/* The test's environment with fx_relay_env's variables set, built before
 * fork: the child of a threaded test must not allocate. */
static void relay_env(const char **envp, size_t cap)
{
    size_t n = 0;

    for (char **e = environ; *e != NULL; e++) {
        bool replaced = false;

        for (const char *const *x = fx_relay_env; x && *x && !replaced; x++)
            replaced = strncmp(*e, *x, strcspn(*x, "=") + 1) == 0;
        if (!replaced) {
            assert_true(n + 1 < cap);
            envp[n++] = *e;
        }
    }
    for (const char *const *x = fx_relay_env; x && *x; x++) {
        assert_true(n + 1 < cap);
        envp[n++] = *x;
    }
    envp[n] = NULL;
}

/* Start the relay and read "listening on 127.0.0.1:PORT" (at most 10 s).
 * The flags win over the file's port. */
static relay_t start_relay_config(const char *ini, const char *const *extra)
{
    char line[256];
    relay_t r = start_relay_line(ini, extra, line, sizeof line);

    if (sscanf(line, "amanat-relay: listening on 127.0.0.1:%d", &r.port) != 1)
        fail_msg("relay did not start: \"%s\"", line);
    return r;
}

static relay_t start_relay_line(const char *ini, const char *const *extra,
                                char *line, size_t cap)
{
    char config[160];
    const char *argv[24] = {relay_bin, "--config", config, "--host",
                            "127.0.0.1", "--port", "0",
                            "--expire-interval-ms", "200"};
    const char *envp[512];
    relay_t r = {0, 0};
    pid_t parent;
    int fds[2];
    size_t n = 0, argc = 9;

    snprintf(config, sizeof config, "%s/%s", dir, ini);
    while (extra != NULL && *extra != NULL && argc < 23)
        argv[argc++] = *extra++;
    for (const char *const *a = fx_relay_args; a && *a && argc < 23; a++)
        argv[argc++] = *a;
    assert_true(argc < 23); /* nothing was left out */
    argv[argc] = NULL;
    relay_env(envp, sizeof envp / sizeof envp[0]);
    assert_int_equal(pipe(fds), 0);
    parent = getpid();
    if ((r.pid = fork()) == 0) {
        int log;

        /* a test killed from outside (ctest's TIMEOUT) takes its relays
         * with it; the check covers a parent gone before the prctl */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (fx_relay_log != NULL &&
            (log = open(fx_relay_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                        0600)) >= 0)
            dup2(log, 2); /* the copy on 2 survives exec; log does not */
        execve(relay_bin, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(fds[1]);
    track(r.pid, true);
    memset(line, 0, cap);
    while (n < cap - 1 && strchr(line, '\n') == NULL) {
        struct pollfd p = {fds[0], POLLIN, 0};
        ssize_t got;

        if (poll(&p, 1, 10000) <= 0 ||
            (got = read(fds[0], line + n, cap - 1 - n)) <= 0)
            break;
        n += (size_t)got;
    }
    close(fds[0]);
    return r;
}

void fx_two_relays(void)
{
    static bool made;
    uint8_t secret[64];
    char path[128], text[512];
    int n;

    if (made)
        return;
    made = true;
    make_party(&relay_de, root_sk);
    make_party(&lka, root_sk);
    snprintf(path, sizeof path, "%s/de", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/de/certs", dir);
    mkdir(path, 0700);
    memcpy(secret, relay_de.seed, 32);
    memcpy(secret + 32, relay_de.dh_sk, 32);
    write_key("de/relay.key", AM_KEY_AGENCY_SECRET, "DE-RELAY", secret, 64);
    sodium_memzero(secret, sizeof secret);
    write_file("de/relay.cert", relay_de.cert, relay_de.cert_len);
    write_file("de/certs/DE-LKA.cert", lka.cert, lka.cert_len);
    write_file("certs/DE-LKA.cert", lka.cert, lka.cert_len);
    n = snprintf(text, sizeof text, "[relay]\ndata = %s/de/data\n"
                 "root = %s/root.pub\ncert = %s/de/relay.cert\n"
                 "key = %s/de/relay.key\ncerts = %s/de/certs\n",
                 dir, dir, dir, dir, dir);
    assert_true(n > 0 && (size_t)n < sizeof text);
    write_file("de.ini", text, (size_t)n);
}

relay_t start_relay_linked(bool de_relay, int port, int peer_port)
{
    char p[16], peer[64];
    const char *extra[] = {"--port", p, "--peer", peer, NULL};

    snprintf(p, sizeof p, "%d", port);
    snprintf(peer, sizeof peer, "%s@127.0.0.1:%d",
             de_relay ? "PK-RELAY" : "DE-RELAY", peer_port);
    return start_relay_config(de_relay ? "de.ini" : "relay.ini", extra);
}

int fx_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    assert_true(port > 0);
    return port;
}

void fx_write(const char *name, const void *data, size_t len)
{
    write_file(name, data, len);
}

void fx_serve(const party_t *p)
{
    char name[64];

    snprintf(name, sizeof name, "certs/%s.cert", p->id);
    write_file(name, p->cert, p->cert_len);
}

void forget_relay(relay_t *r)
{
    track(r->pid, false);
}

/* SIGTERM, then wait (at most 10 s) for a clean exit. */
void stop_relay(relay_t *r)
{
    int status = -1;

    kill(r->pid, SIGTERM);
    track(r->pid, false);
    for (int i = 0; i < 1000; i++) {
        struct timespec ts = {0, 10000000};
        if (waitpid(r->pid, &status, WNOHANG) == r->pid)
            break;
        nanosleep(&ts, NULL);
    }
    if (!WIFEXITED(status)) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, &status, 0);
        fail_msg("relay did not stop on SIGTERM");
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

void connect_as(rc_client_t *c, int port, const party_t *p,
                       bool receive)
{
    Amanat__V1__Frame *f;

    if (rc_connect(c, port, p->dh_sk, p->cert, p->cert_len, receive) != 0)
        fail_msg("connect as %s: %s", p->id, am_err_detail());
    assert_int_equal(rc_recv(c, 5000, &f), AM_OK);
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_AUTH_RESULT);
    assert_true(f->auth_result->ok);
    assert_string_equal(f->auth_result->peer_id, p->id);
    am_frame_free(f);
}

/* An envelope claiming to be from claimed (its id and serial), signed
 * with signer's key, to one recipient (DE-BKA's certificate key). */
uint8_t *seal(const party_t *signer, const party_t *claimed,
                     const char *to, int prio, const char *text, size_t *len)
{
    am_env_recipient_t r = {to, de.dh_pk, 0};
    am_env_params_t p = {claimed->id, 0, signer->sign_sk, time(NULL),
                         time(NULL) + 3600, prio, NULL, NULL};
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    am_cert_t c;
    uint8_t *out;

    assert_int_equal(am_cert_verify(claimed->cert, claimed->cert_len, &pol,
                                    &c), AM_OK);
    p.sender_serial = c.serial;
    assert_int_equal(am_env_seal(&p, &r, 1, (const uint8_t *)text,
                                 strlen(text), &out, len), AM_OK);
    return out;
}


/* Submit; returns the answering frame (caller frees). */
Amanat__V1__Frame *submit(rc_client_t *c, const uint8_t *env,
                                 size_t len, uint64_t req)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *answer;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;

    s.request_id = req;
    s.envelope = (ProtobufCBinaryData){len, (uint8_t *)env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &s;
    assert_int_equal(rc_send(c, &f), AM_OK);
    assert_int_equal(rc_recv(c, 5000, &answer), AM_OK);
    return answer;
}

/* The accepted evidence must be the relay's signature over a body naming
 * this envelope. */
void check_accepted(const Amanat__V1__Frame *f, const uint8_t *env,
                           size_t len, uint64_t req)
{
    Amanat__V1__EvidenceBody *b;
    uint8_t hash[32];

    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_SUBMIT_RESULT);
    assert_int_equal(f->submit_result->request_id, req);
    assert_non_null(f->submit_result->accepted);
    assert_int_equal(am_sign_verify(AM_TAG_EVIDENCE,
                                    f->submit_result->accepted->body.data,
                                    f->submit_result->accepted->body.len,
                                    f->submit_result->accepted->signature.data,
                                    f->submit_result->accepted->signature.len,
                                    relay.sign_pk), AM_OK);
    b = amanat__v1__evidence_body__unpack(
        NULL, f->submit_result->accepted->body.len,
        f->submit_result->accepted->body.data);
    assert_non_null(b);
    assert_int_equal(b->kind, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED);
    assert_int_equal(am_hash256(env, len, hash), AM_OK);
    assert_memory_equal(b->envelope_hash.data, hash, 32);
    assert_string_equal(b->relay_id, "PK-RELAY");
    amanat__v1__evidence_body__free_unpacked(b, NULL);
}


/* The next Deliver's text and message id, opened as DE-BKA, not acked;
 * false when none came within ms. */
bool fx_next_deliver_wait(rc_client_t *c, int ms, char *text, size_t cap,
                          uint8_t id[AM_MSG_ID_LEN])
{
    Amanat__V1__Frame *f;
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    uint8_t *plain;
    size_t plain_len;
    am_env_t *env;
    am_cert_t sender;

    if (rc_recv(c, ms, &f) != AM_OK)
        return false;
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_DELIVER);
    assert_int_equal(am_env_parse(f->deliver->envelope.data,
                                  f->deliver->envelope.len, AM_ENV_MAX, &env),
                     AM_OK);
    assert_int_equal(am_cert_verify(pk.cert, pk.cert_len, &pol, &sender),
                     AM_OK);
    assert_int_equal(am_env_verify(env, &sender), AM_OK);
    assert_int_equal(am_env_open(env, "DE-BKA", de.dh_sk, &plain, &plain_len),
                     AM_OK);
    snprintf(text, cap, "%.*s", (int)plain_len, (char *)plain);
    memcpy(id, am_env_message_id(env), AM_MSG_ID_LEN);
    am_free(plain);
    am_env_free(env);
    am_frame_free(f);
    return true;
}

void fx_next_deliver(rc_client_t *c, char *text, size_t cap,
                     uint8_t id[AM_MSG_ID_LEN])
{
    assert_true(fx_next_deliver_wait(c, 5000, text, cap, id));
}

int fx_send_ack(rc_client_t *c, const uint8_t id[AM_MSG_ID_LEN])
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;

    a.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)id};
    f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    f.delivery_ack = &a;
    return rc_send(c, &f);
}

void fx_ack(rc_client_t *c, const uint8_t id[AM_MSG_ID_LEN])
{
    assert_int_equal(fx_send_ack(c, id), AM_OK);
}

int fx_args_rounds(int argc, char **argv, int max, int *rounds)
{
    char *end;
    long n;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay [--rounds N]\n",
                argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") != 0 || i + 1 >= argc) {
            fprintf(stderr, "%s: unknown argument \"%s\"\n", argv[0], argv[i]);
            return 2;
        }
        errno = 0;
        n = strtol(argv[++i], &end, 10);
        if (errno != 0 || *end != '\0' || n < 1 || n > max) {
            fprintf(stderr, "%s: --rounds: 1 to %d\n", argv[0], max);
            return 2;
        }
        *rounds = (int)n;
    }
    return 0;
}
