/* kill -9 under load: two clients submit continuously while the relay is
 * killed with SIGKILL at a random moment, then restarted, round after
 * round.  Afterwards the recipient drains its mailbox: every message the
 * relay acknowledged must be delivered, and none twice.  Prints
 * "rounds R, acked N, delivered N, lost 0, duplicated 0".
 *
 * --federation: the same across two relays (docs/PROTOCOL.md section
 * 18).  PK-NCCIA submits to PK-RELAY envelopes for DE-LKA, homed at
 * DE-RELAY; both relays run, linked, and each round both are SIGKILLed,
 * each at its own random moment (the forwarding one while it forwards,
 * the receiving one while it stores), then both restart.  Afterwards
 * DE-LKA drains its mailbox at DE-RELAY.
 * usage: test-crash PATH/TO/amanat-relay [--rounds N] [--federation] */
#include "../unit/test-util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "envelope.h"
#include "err.h"
#include "relay_fixture.h"

#define PER_THREAD 400 /* envelopes sealed per thread per round */
#define THREADS 2
#define MAX_IDS 100000

typedef struct {
    uint8_t id[AM_MSG_ID_LEN];
} mid_t;

static bool fed; /* --federation */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static mid_t acked[MAX_IDS];
static size_t n_acked;

typedef struct {
    int port;
    uint8_t *env[PER_THREAD];
    size_t len[PER_THREAD];
} worker_t;

/* Submit until the relay dies; record what it acknowledged. */
static void *submitter(void *arg)
{
    worker_t *w = arg;
    rc_client_t c;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;

    if (rc_connect(&c, w->port, pk.dh_sk, pk.cert, pk.cert_len, false) != 0 ||
        rc_recv(&c, 5000, &ans) != 0) {
        rc_close(&c);
        return NULL;
    }
    am_frame_free(ans);
    for (size_t i = 0; i < PER_THREAD; i++) {
        s.request_id = i + 1;
        s.envelope = (ProtobufCBinaryData){w->len[i], w->env[i]};
        f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
        f.submit = &s;
        if (rc_send(&c, &f) != 0 || rc_recv(&c, 5000, &ans) != 0)
            break;
        if (ans->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT &&
            ans->submit_result->message_id.len == AM_MSG_ID_LEN) {
            pthread_mutex_lock(&mu);
            if (n_acked < MAX_IDS)
                memcpy(acked[n_acked++].id, ans->submit_result->message_id.data,
                       AM_MSG_ID_LEN);
            pthread_mutex_unlock(&mu);
        }
        am_frame_free(ans);
    }
    rc_close(&c);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* SIGKILL r after ms, then reap it. */
static void kill_after(relay_t *r, long ms)
{
    int status;

    sleep_ms(ms);
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &status, 0);
    forget_relay(r);
}

static int port_pk, port_de; /* --federation: fixed, so peers find each other */

static void crash_round(void)
{
    worker_t w[THREADS];
    pthread_t t[THREADS];
    relay_t r, rde = {0, 0};
    long t1 = 20 + (long)randombytes_uniform(300);

    for (int k = 0; k < THREADS; k++)
        for (size_t i = 0; i < PER_THREAD; i++)
            w[k].env[i] = seal(&pk, &pk, fed ? "DE-LKA" : "DE-BKA",
                               1 + (int)(i % 3), "crash", &w[k].len[i]);
    if (fed) {
        r = start_relay_linked(false, port_pk, port_de);
        rde = start_relay_linked(true, port_de, port_pk);
    } else {
        r = start_relay();
    }
    for (int k = 0; k < THREADS; k++) {
        w[k].port = r.port;
        pthread_create(&t[k], NULL, submitter, &w[k]);
    }
    if (fed && randombytes_uniform(2)) { /* either may die first */
        kill_after(&rde, t1);
        kill_after(&r, (long)randombytes_uniform(300));
    } else {
        kill_after(&r, t1);
        if (fed)
            kill_after(&rde, (long)randombytes_uniform(300));
    }
    for (int k = 0; k < THREADS; k++) {
        pthread_join(t[k], NULL);
        for (size_t i = 0; i < PER_THREAD; i++)
            am_free(w[k].env[i]);
    }
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, AM_MSG_ID_LEN);
}

/* Receive everything pending for the recipient (acking each), in ids,
 * until quiet_ms pass without a delivery. */
static size_t drain(int port, const party_t *to, int quiet_ms, mid_t *ids,
                    size_t cap)
{
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    Amanat__V1__Frame *f, ack = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;
    am_cert_t sender;
    rc_client_t c;
    size_t n = 0;

    assert_int_equal(am_cert_verify(pk.cert, pk.cert_len, &pol, &sender),
                     AM_OK);
    connect_as(&c, port, to, true);
    while (rc_recv(&c, quiet_ms, &f) == 0) {
        am_env_t *env = NULL;

        assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_DELIVER);
        assert_int_equal(am_env_parse(f->deliver->envelope.data,
                                      f->deliver->envelope.len, AM_ENV_MAX,
                                      &env), AM_OK);
        assert_int_equal(am_env_verify(env, &sender), AM_OK);
        assert_true(n < cap);
        memcpy(ids[n++].id, am_env_message_id(env), AM_MSG_ID_LEN);
        a.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, ids[n - 1].id};
        ack.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
        ack.delivery_ack = &a;
        assert_int_equal(rc_send(&c, &ack), AM_OK);
        am_env_free(env);
        am_frame_free(f);
    }
    rc_close(&c);
    return n;
}

static int rounds = 20;

static void test_kill_9_under_load(void **state)
{
    static mid_t got[MAX_IDS];
    size_t n_got, lost = 0, dup = 0;
    relay_t r, rde;

    (void)state;
    if (fed) {
        fx_two_relays();
        port_pk = fx_free_port();
        port_de = fx_free_port();
    }
    for (int i = 0; i < rounds; i++)
        crash_round();
    if (fed) {
        /* what PK-RELAY acknowledged reaches DE-LKA through the link */
        r = start_relay_linked(false, port_pk, port_de);
        rde = start_relay_linked(true, port_de, port_pk);
        n_got = drain(rde.port, &lka, 10000, got, MAX_IDS);
        stop_relay(&rde);
    } else {
        r = start_relay();
        n_got = drain(r.port, &de, 3000, got, MAX_IDS);
    }
    stop_relay(&r);
    qsort(got, n_got, sizeof got[0], cmp_id);
    for (size_t i = 1; i < n_got; i++)
        dup += memcmp(got[i - 1].id, got[i].id, AM_MSG_ID_LEN) == 0;
    for (size_t i = 0; i < n_acked; i++)
        lost += bsearch(&acked[i], got, n_got, sizeof got[0], cmp_id) == NULL;
    printf("%srounds %d, acked %zu, delivered %zu, lost %zu, duplicated %zu\n",
           fed ? "federation: " : "", rounds, n_acked, n_got, lost, dup);
    assert_true(n_acked > 0); /* the test must have put the relay under load */
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill_9_under_load, fx_kill_leftovers),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay [--rounds N]\n",
                argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--federation") == 0) {
            fed = true;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc &&
                   strtol(argv[i + 1], NULL, 10) > 0) {
            rounds = (int)strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "%s: unknown argument \"%s\"\n", argv[0],
                    argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
