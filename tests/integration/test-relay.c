/* A real amanat-relay process on 127.0.0.1 (ephemeral port, temporary
 * folder): submit and deliver, priority order, an offline recipient served
 * after a relay restart, idempotent resubmission, a spoofed sender, an
 * unknown recipient, and a foreign-root certificate refused at the
 * handshake.  usage: test-relay PATH/TO/amanat-relay */
#include "../unit/test-util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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
#include "relay_client.h"

static const char *relay_bin;
static char dir[64];
static uint8_t root_pk[32], root_sk[64], other_sk[64], other_pk[32];

typedef struct {
    const char *id;
    unsigned roles;
    uint8_t seed[32], sign_pk[32], sign_sk[64], dh_sk[32], dh_pk[32];
    uint8_t *cert;
    size_t cert_len;
} party_t;

static party_t relay = {.id = "PK-RELAY", .roles = AM_ROLE_RELAY};
static party_t pk = {.id = "PK-NCCIA", .roles = AM_ROLE_AGENCY};
static party_t de = {.id = "DE-BKA", .roles = AM_ROLE_AGENCY};
static party_t gb = {.id = "GB-NCA", .roles = AM_ROLE_AGENCY}; /* foreign */

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
        snprintf(c.home_relay, sizeof c.home_relay, "%s", "PK-RELAY");
    c.not_before = time(NULL) - 3600;
    c.not_after = time(NULL) + 86400;
    c.serial = (uint64_t)randombytes_uniform(1000000) + 1;
    assert_int_equal(am_cert_issue(&c, sk, &p->cert, &p->cert_len), AM_OK);
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(am_file_write(path, data, len, 0600, true), AM_OK);
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

static int federation(void **state)
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
    write_key("root.pub", AM_KEY_ROOT_PUBLIC, "root", root_pk, 32);
    memcpy(secret, relay.seed, 32);
    memcpy(secret + 32, relay.dh_sk, 32);
    write_key("relay.key", AM_KEY_AGENCY_SECRET, "PK-RELAY", secret, 64);
    write_file("relay.cert", relay.cert, relay.cert_len);
    write_file("certs/PK-NCCIA.cert", pk.cert, pk.cert_len);
    write_file("certs/DE-BKA.cert", de.cert, de.cert_len);
    return 0;
}

static int cleanup(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct {
    pid_t pid;
    int port;
} relay_t;

/* Relays still running, killed by the teardown if a test fails midway:
 * no process outlives the test. */
static pid_t running[4];

static void track(pid_t pid, bool add)
{
    for (size_t i = 0; i < 4; i++) {
        if (add && running[i] == 0) {
            running[i] = pid;
            return;
        }
        if (!add && running[i] == pid)
            running[i] = 0;
    }
}

static int kill_leftovers(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++)
        if (running[i] != 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
    return 0;
}

/* Start the relay and read "listening on 127.0.0.1:PORT" (at most 10 s). */
static relay_t start_relay(void)
{
    char a[6][160], line[256] = {0};
    relay_t r = {0, 0};
    int fds[2];
    size_t n = 0;

    snprintf(a[0], sizeof a[0], "%s/data", dir);
    snprintf(a[1], sizeof a[1], "%s/root.pub", dir);
    snprintf(a[2], sizeof a[2], "%s/relay.cert", dir);
    snprintf(a[3], sizeof a[3], "%s/relay.key", dir);
    snprintf(a[4], sizeof a[4], "%s/certs", dir);
    assert_int_equal(pipe(fds), 0);
    if ((r.pid = fork()) == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(relay_bin, relay_bin, "--host", "127.0.0.1", "--port", "0",
              "--data", a[0], "--root", a[1], "--cert", a[2], "--key", a[3],
              "--certs", a[4], (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    track(r.pid, true);
    while (n < sizeof line - 1 && strchr(line, '\n') == NULL) {
        struct pollfd p = {fds[0], POLLIN, 0};
        ssize_t got;

        if (poll(&p, 1, 10000) <= 0 ||
            (got = read(fds[0], line + n, sizeof line - 1 - n)) <= 0)
            break;
        n += (size_t)got;
    }
    close(fds[0]);
    if (sscanf(line, "amanat-relay: listening on 127.0.0.1:%d", &r.port) != 1)
        fail_msg("relay did not start: \"%s\"", line);
    return r;
}

/* SIGTERM, then wait (at most 10 s) for a clean exit. */
static void stop_relay(relay_t *r)
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

static void connect_as(rc_client_t *c, int port, const party_t *p,
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
static uint8_t *seal(const party_t *signer, const party_t *claimed,
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
static Amanat__V1__Frame *submit(rc_client_t *c, const uint8_t *env,
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
static void check_accepted(const Amanat__V1__Frame *f, const uint8_t *env,
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

static void expect_error(Amanat__V1__Frame *f, Amanat__V1__ErrorCode code,
                         const char *text)
{
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_ERROR);
    assert_int_equal(f->error->code, code);
    if (strstr(f->error->message, text) == NULL)
        fail_msg("error \"%s\" does not say \"%s\"", f->error->message, text);
    am_frame_free(f);
}

/* The next Deliver: opened as DE-BKA, its text returned; then acked. */
static void receive_text(rc_client_t *c, char *text, size_t cap)
{
    Amanat__V1__Frame *f, ack = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    uint8_t *plain;
    size_t plain_len;
    am_env_t *env;
    am_cert_t sender;

    assert_int_equal(rc_recv(c, 5000, &f), AM_OK);
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
    a.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN,
                                         (uint8_t *)am_env_message_id(env)};
    ack.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    ack.delivery_ack = &a;
    assert_int_equal(rc_send(c, &ack), AM_OK);
    am_free(plain);
    am_env_free(env);
    am_frame_free(f);
}

static void test_store_restart_priority(void **state)
{
    const char *texts[3] = {"routine r1", "urgent u1", "emergency e1"};
    int prio[3] = {AM_PRIORITY_ROUTINE, AM_PRIORITY_URGENT,
                   AM_PRIORITY_EMERGENCY};
    uint8_t *env[3];
    size_t len[3];
    rc_client_t c;
    relay_t r = start_relay();
    char got[64];
    Amanat__V1__Frame *f;

    (void)state;
    /* DE-BKA is offline: three envelopes wait at the relay */
    connect_as(&c, r.port, &pk, false);
    for (int i = 0; i < 3; i++) {
        env[i] = seal(&pk, &pk, "DE-BKA", prio[i], texts[i], &len[i]);
        f = submit(&c, env[i], len[i], (uint64_t)(i + 1));
        check_accepted(f, env[i], len[i], (uint64_t)(i + 1));
        am_frame_free(f);
    }
    /* the same envelope again: the same answer, stored once */
    f = submit(&c, env[1], len[1], 9);
    check_accepted(f, env[1], len[1], 9);
    am_frame_free(f);
    rc_close(&c);
    /* what was acknowledged survives a restart */
    stop_relay(&r);
    r = start_relay();
    connect_as(&c, r.port, &de, true);
    receive_text(&c, got, sizeof got);
    assert_string_equal(got, "emergency e1");
    receive_text(&c, got, sizeof got);
    assert_string_equal(got, "urgent u1");
    receive_text(&c, got, sizeof got);
    assert_string_equal(got, "routine r1");
    rc_close(&c);
    /* all acknowledged: nothing comes again */
    connect_as(&c, r.port, &de, true);
    assert_int_equal(rc_recv(&c, 500, &f), AM_EIO);
    rc_close(&c);
    stop_relay(&r);
    for (int i = 0; i < 3; i++)
        am_free(env[i]);
}

static void test_refusals_and_live_delivery(void **state)
{
    rc_client_t c, rx, bad;
    relay_t r = start_relay();
    uint8_t *e;
    size_t len;
    char got[64];
    Amanat__V1__Frame *f;

    (void)state;
    connect_as(&c, r.port, &pk, false);
    /* DE-BKA's key speaking in DE-BKA's name, over PK-NCCIA's session */
    e = seal(&de, &de, "DE-BKA", AM_PRIORITY_URGENT, "x", &len);
    expect_error(submit(&c, e, len, 1),
                 AMANAT__V1__ERROR_CODE__ERROR_SPOOFED_SENDER,
                 "is not the authenticated agency");
    am_free(e);
    /* PK-NCCIA's name, DE-BKA's key */
    e = seal(&de, &pk, "DE-BKA", AM_PRIORITY_URGENT, "x", &len);
    expect_error(submit(&c, e, len, 2),
                 AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE,
                 "does not verify");
    am_free(e);
    e = seal(&pk, &pk, "FR-DGSI", AM_PRIORITY_URGENT, "x", &len);
    expect_error(submit(&c, e, len, 3),
                 AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT,
                 "\"FR-DGSI\"");
    am_free(e);
    /* a connected recipient gets a new envelope at once */
    connect_as(&rx, r.port, &de, true);
    e = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_ROUTINE, "live", &len);
    f = submit(&c, e, len, 4);
    check_accepted(f, e, len, 4);
    am_frame_free(f);
    receive_text(&rx, got, sizeof got);
    assert_string_equal(got, "live");
    am_free(e);
    /* a certificate from another federation's root: refused */
    if (rc_connect(&bad, r.port, gb.dh_sk, gb.cert, gb.cert_len, false) == 0) {
        assert_int_equal(rc_recv(&bad, 5000, &f), AM_OK);
        expect_error(f, AMANAT__V1__ERROR_CODE__ERROR_AUTH,
                     "another federation's root");
    }
    rc_close(&bad);
    rc_close(&rx);
    rc_close(&c);
    stop_relay(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_store_restart_priority,
                                  kill_leftovers),
        cmocka_unit_test_teardown(test_refusals_and_live_delivery,
                                  kill_leftovers),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay\n", argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, federation, cleanup);
}
