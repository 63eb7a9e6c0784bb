/* fuzz_relay.h, first half: the federation's files, the relay thread, the
 * honest sessions that check it still serves, and its orderly stop at
 * exit (SIGTERM, which the relay's own handler turns into its shutdown, so
 * that LeakSanitizer sees a relay that released everything).  The client
 * side is in fuzz_relay_io.c. */
#include "fuzz_relay.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>
#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "frame.h"
#include "fsutil.h"
#include "keyfile.h"
#include "options.h"
#include "server.h"

#define PATH_CAP 128

static struct {
    bool started;
    char dir[PATH_CAP], data[PATH_CAP], root[PATH_CAP], cert[PATH_CAP];
    char key[PATH_CAP], certs[PATH_CAP], crl[PATH_CAP];
    am_relay_opts_t opts;
    pthread_t thread;
    atomic_int done; /* the relay thread returned */
    int rc;
    am_fzr_relay_t relay;
    int peer_port; /* 0: no peer (am_fzr_federate) */
    uint8_t *cert_bytes[AM_FZ_N_AGENCIES];
    size_t cert_len[AM_FZ_N_AGENCIES];
} R;

/* The harness cannot run: say why (stderr may be closed, see am_fz_fail)
 * and abort. */
_Noreturn static void die(const char *what, int rc)
{
    char msg[400];

    snprintf(msg, sizeof msg, "fuzz_relay: %s: %s (%s)", what,
             am_strerror(rc), am_err_detail());
    am_fz_fail(__FILE__, __LINE__, msg);
}

static void path_of(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", a, b);

    if (n < 0 || n >= PATH_CAP)
        die("path too long", AM_EINVAL);
}

static void relay_keys(void)
{
    am_fzr_relay_t *r = &R.relay;

    for (unsigned i = 0; i < 32; i++) {
        r->seed[i] = (uint8_t)(0xa0 + i);
        r->dh_sk[i] = (uint8_t)(0x5a ^ (7 * i));
    }
    if (crypto_sign_seed_keypair(r->sign_pk, r->sign_sk, r->seed) != 0 ||
        crypto_scalarmult_base(r->dh_pk, r->dh_sk) != 0)
        die("relay keys", AM_ECRYPTO);
}

/* Agency i's certificate as the relay serves it: 2020-2100, and homed
 * here unless the relay federates. */
static void agency_cert(int i)
{
    am_cert_t c;
    int rc;

    am_fz_cert_fields(&am_fz_fed()->ag[i], &c);
    c.not_before = AM_FZR_NOT_BEFORE;
    c.not_after = AM_FZR_NOT_AFTER;
    if (R.peer_port == 0)
        snprintf(c.home_relay, sizeof c.home_relay, "%s", AM_FZR_RELAY_ID);
    if ((rc = am_cert_issue(&c, am_fz_fed()->root_sk, &R.cert_bytes[i],
                            &R.cert_len[i])) != 0)
        die("am_cert_issue", rc);
}

static void make_certs(void)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_cert_t c;
    int rc;

    relay_keys();
    memset(&c, 0, sizeof c);
    snprintf(c.agency_id, sizeof c.agency_id, "%s", AM_FZR_RELAY_ID);
    snprintf(c.display_name, sizeof c.display_name, "fuzz relay");
    memcpy(c.country, AM_FZR_RELAY_ID, 2);
    memcpy(c.sign_pk, R.relay.sign_pk, 32);
    memcpy(c.dh_pk, R.relay.dh_pk, 32);
    c.roles = AM_ROLE_RELAY;
    c.serial = 500;
    c.not_before = AM_FZR_NOT_BEFORE;
    c.not_after = AM_FZR_NOT_AFTER;
    if ((rc = am_cert_issue(&c, f->root_sk, &R.relay.cert,
                            &R.relay.cert_len)) != 0)
        die("am_cert_issue", rc);
    for (int i = 0; i < AM_FZ_N_AGENCIES; i++)
        agency_cert(i);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int rc;

    if ((rc = am_file_write(path, data, len, 0600, true)) != 0)
        die("am_file_write", rc);
}

static void write_key(const char *path, am_key_kind_t kind,
                      const char *owner, const uint8_t *key, size_t len)
{
    am_key_t *k = NULL;
    char *text = NULL;
    size_t tlen;
    int rc;

    if ((rc = am_key_new(kind, owner, key, len, &k)) != 0 ||
        (rc = am_keyfile_encode(k, NULL, 0, NULL, &text, &tlen)) != 0)
        die("key file", rc);
    write_file(path, text, tlen);
    am_free(text);
    am_key_free(k);
}

/* root.pub, relay.cert, relay.key, crl, certs/<id>.cert, data/ */
static void write_federation(void)
{
    const am_fz_fed_t *f = am_fz_fed();
    char path[PATH_CAP], name[64];
    uint8_t secret[64];

    snprintf(R.dir, sizeof R.dir, "/tmp/amanat-fuzz-relay-XXXXXX");
    if (mkdtemp(R.dir) == NULL)
        die("mkdtemp", AM_EIO);
    path_of(R.data, R.dir, "data");
    path_of(R.certs, R.dir, "certs");
    path_of(R.root, R.dir, "root.pub");
    path_of(R.cert, R.dir, "relay.cert");
    path_of(R.key, R.dir, "relay.key");
    path_of(R.crl, R.dir, "revocation.crl");
    if (mkdir(R.data, 0700) != 0 || mkdir(R.certs, 0700) != 0)
        die("mkdir", AM_EIO);
    write_key(R.root, AM_KEY_ROOT_PUBLIC, "root", f->root_pk, 32);
    memcpy(secret, R.relay.seed, 32);
    memcpy(secret + 32, R.relay.dh_sk, 32);
    write_key(R.key, AM_KEY_AGENCY_SECRET, AM_FZR_RELAY_ID, secret, 64);
    sodium_memzero(secret, sizeof secret);
    write_file(R.cert, R.relay.cert, R.relay.cert_len);
    write_file(R.crl, f->crl_bytes, f->crl_len);
    for (int i = 0; i < AM_FZ_N_AGENCIES; i++) {
        snprintf(name, sizeof name, "%s.cert", f->ag[i].id);
        path_of(path, R.certs, name);
        write_file(path, R.cert_bytes[i], R.cert_len[i]);
    }
}

/* A port free a moment ago: bind 127.0.0.1:0, read it, close.  Another
 * process may take it before the relay does; launch() then tries again. */
static int free_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    int fd, port = -1;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        die("socket", AM_EIO);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (close(fd) != 0 || port <= 0)
        die("cannot find a free port on 127.0.0.1", AM_EIO);
    return port;
}

static void *serve(void *dir)
{
    R.rc = am_server_run(&R.opts.srv, &R.opts.dir, dir, R.opts.data);
    atomic_store(&R.done, 1);
    return NULL;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The settings, through the relay's own parser, so that everything not
 * named here has amanat-relay's defaults.  A small quota, so that long
 * runs of the frames target reach ERROR_QUOTA too (acknowledgements give
 * room back); a larger one when federated, where envelopes forwarded to
 * PK-NCCIA are never fetched.  The handshake on the thread pool, whatever
 * the machine: of the two ways (conn_hs.c), the one with more states to
 * get wrong. */
static void settings(int port)
{
    static char port_s[16], peer_s[64];
    static char *argv[] = {
        "amanat-relay", "--host", "127.0.0.1", "--port", port_s,
        "--data", R.data, "--root", R.root, "--cert", R.cert,
        "--key", R.key, "--certs", R.certs, "--crl", R.crl,
        "--quota-messages", "500", "--handshake-offload", "1", NULL, NULL,
        NULL};
    const int base = (int)(sizeof argv / sizeof argv[0]) - 3;
    int rc;

    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(peer_s, sizeof peer_s, "%s@127.0.0.1:%d", AM_FZR_PEER_ID,
             R.peer_port);
    if (R.peer_port != 0) {
        argv[base - 3] = "20000";
        argv[base] = "--peer";
        argv[base + 1] = peer_s;
    }
    optind = 0; /* getopt_long starts over */
    rc = am_relay_opts_parse(base + (R.peer_port != 0 ? 2 : 0), argv,
                             &R.opts);
    if (rc != 0)
        die("am_relay_opts_parse", AM_EINVAL);
}

/* Start the relay thread on a fresh port; 0 once it accepted a connection,
 * -1 if it could not start (the port was taken meanwhile). */
static int launch(void)
{
    static am_fzr_conn_t probe;
    am_dir_t *dir = NULL;
    sigset_t block, old;
    int rc;

    settings(free_port());
    if ((rc = am_dir_load(&R.opts.dir, (int64_t)time(NULL), &dir)) != 0)
        die("am_dir_load", rc);
    atomic_store(&R.done, 0);
    /* libFuzzer's timer and its user signals belong to this thread */
    if (sigemptyset(&block) != 0 || sigaddset(&block, SIGALRM) != 0 ||
        sigaddset(&block, SIGUSR1) != 0 || sigaddset(&block, SIGUSR2) != 0 ||
        pthread_sigmask(SIG_BLOCK, &block, &old) != 0)
        die("signal mask", AM_EIO);
    rc = pthread_create(&R.thread, NULL, serve, dir);
    if (pthread_sigmask(SIG_SETMASK, &old, NULL) != 0 || rc != 0)
        die("pthread_create", AM_EIO);
    for (int i = 0; i < 2000; i++) {
        if (atomic_load(&R.done)) {
            if (pthread_join(R.thread, NULL) != 0)
                die("pthread_join", AM_EIO);
            return -1;
        }
        if (am_fzr_open(&probe) == 0) {
            R.started = true;
            (void)am_fzr_close(&probe);
            return 0;
        }
        nap_ms(5);
    }
    die("the relay did not start listening within 10 s", AM_EIO);
}

static void remove_tree(const char *path, int depth)
{
    char sub[PATH_CAP];
    struct dirent *e;
    DIR *d;

    if (depth > 2 || (d = opendir(path)) == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >=
            (int)sizeof sub)
            continue;
        if (unlink(sub) != 0 && errno == EISDIR)
            remove_tree(sub, depth + 1);
    }
    if (closedir(d) != 0 || rmdir(path) != 0)
        fprintf(stderr, "fuzz_relay: cannot remove %s\n", path);
}

/* At exit: SIGTERM reaches the relay's handler (libuv's, installed when it
 * started), the relay closes every connection and its store and returns
 * 0.  If it does not, the run fails (no input is to blame: no crash
 * file). */
static void stop_relay(void)
{
    const char *why = NULL;
    int i;

    if (!atomic_load(&R.done) && kill(getpid(), SIGTERM) == 0)
        for (i = 0; i < 1000 && !atomic_load(&R.done); i++)
            nap_ms(10);
    if (!atomic_load(&R.done))
        why = "fuzz_relay: the relay did not stop within 10 s of SIGTERM";
    else if (pthread_join(R.thread, NULL) != 0 || R.rc != 0)
        why = "fuzz_relay: the relay stopped with an error";
    am_relay_opts_free(&R.opts);
    remove_tree(R.dir, 0);
    if (why != NULL) {
        fprintf(stderr, "%s\n", why);
        __sanitizer_report_error_summary(why);
        _exit(1);
    }
}

_Noreturn static void on_sigpipe(int sig)
{
    (void)sig;
    am_fz_fail(__FILE__, __LINE__, "SIGPIPE: the relay wrote to a "
               "connection its peer had closed");
}

/* The client writes with MSG_NOSIGNAL; the relay's libuv writes with
 * write(), which raises SIGPIPE when the peer has closed or reset, and
 * amanat-relay does not ignore it: a peer that leaves during a burst of
 * answers kills the relay.  Until the relay deals with it, the harness
 * ignores SIGPIPE; AM_FZR_SIGPIPE=abort makes it a crash instead. */
static void sigpipe(void)
{
    const char *how = getenv("AM_FZR_SIGPIPE");
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = how != NULL && strcmp(how, "abort") == 0 ? on_sigpipe
                                                            : SIG_IGN;
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGPIPE, &sa, NULL) != 0)
        die("sigaction", AM_EIO);
}

void am_fzr_federate(int peer_port)
{
    if (R.started)
        die("am_fzr_federate after the relay started", AM_EINVAL);
    R.peer_port = peer_port;
}

void am_fzr_start(void)
{
    if (R.started)
        return;
    (void)am_fz_fed(); /* sodium_init, the fixed federation */
    sigpipe();
    make_certs();
    write_federation();
    for (int attempt = 0; !R.started; attempt++)
        if (launch() != 0 && attempt == 4)
            die("the relay did not start", R.rc);
    if (atexit(stop_relay) != 0)
        die("atexit", AM_EIO);
    am_fzr_check_serving(1);
}

const am_fzr_relay_t *am_fzr_relay(void)
{
    return &R.relay;
}

bool am_fzr_stopped(void)
{
    return R.started && atomic_load(&R.done);
}

int am_fzr_port(void)
{
    return R.opts.srv.port;
}

const uint8_t *am_fzr_cert(int i, size_t *len)
{
    *len = R.cert_len[i];
    return R.cert_bytes[i];
}

void am_fzr_login(am_fzr_conn_t *c, int i, bool receive, uint32_t max_frame)
{
    const am_fz_agency_t *a = &am_fz_fed()->ag[i];
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *r = NULL;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    uint8_t payload[AM_HANDSHAKE_MSG_MAX];
    size_t plen;

    am_fzr_connect(c);
    AM_FZ_CHECK(am_fzr_hs_begin(c, a->dh_sk) == 0);
    AM_FZ_CHECK(am_fzr_payload(1, R.cert_bytes[i], R.cert_len[i], "fuzz", 4,
                               payload, sizeof payload, &plen) == 0);
    AM_FZ_CHECK(am_fzr_hs_end(c, payload, plen) == 0);
    h.protocol_version = 1;
    h.max_frame = max_frame;
    h.receive = receive;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    AM_FZ_CHECK(am_fzr_send_frame(c, &f) == 0);
    AM_FZ_CHECK(am_fzr_recv_frame(c, AM_FZR_WAIT_MS, &r) == 0);
    AM_FZ_CHECK(r->op_case == AMANAT__V1__FRAME__OP_AUTH_RESULT);
    AM_FZ_CHECK(r->auth_result->ok);
    AM_FZ_CHECK(strcmp(r->auth_result->peer_id, a->id) == 0);
    AM_FZ_CHECK(r->auth_result->max_frame == AM_FRAME_MAX_DEFAULT);
    /* the client holds no revocation list: the relay's comes along */
    AM_FZ_CHECK(r->auth_result->crl != NULL);
    am_fzr_check_crl(r->auth_result->crl);
    am_frame_free(r);
}

void am_fzr_check_serving(unsigned every)
{
    static am_fzr_conn_t c;
    static unsigned calls;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *r = NULL;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;

    if (calls++ % every != 0)
        return;
    am_fzr_login(&c, AM_FZ_SENDER, false, 0);
    p.nonce = 0x5e4e1ce0u + calls;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &p;
    AM_FZ_CHECK(am_fzr_send_frame(&c, &f) == 0);
    AM_FZ_CHECK(am_fzr_recv_frame(&c, AM_FZR_WAIT_MS, &r) == 0);
    AM_FZ_CHECK(r->op_case == AMANAT__V1__FRAME__OP_PONG);
    AM_FZ_CHECK(r->pong->nonce == p.nonce);
    am_frame_free(r);
    AM_FZ_CHECK(am_fzr_close(&c) == 0);
}
