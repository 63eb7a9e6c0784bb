/* Delivery with a window of unacknowledged envelopes, against a real
 * amanat-relay on 127.0.0.1: a backlog larger than the window, a late
 * emergency sent first once there is room, every envelope exactly once.
 * usage: test-window PATH/TO/amanat-relay */
#include "../unit/test-util.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "relay_client.h"
#include "relay_fixture.h"

/* The next Deliver's text and message id, opened as DE-BKA, not acked;
 * false when none came within ms. */
static bool next_deliver_wait(rc_client_t *c, int ms, char *text, size_t cap,
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

static void next_deliver(rc_client_t *c, char *text, size_t cap,
                         uint8_t id[AM_MSG_ID_LEN])
{
    assert_true(next_deliver_wait(c, 5000, text, cap, id));
}

static void send_ack(rc_client_t *c, const uint8_t id[AM_MSG_ID_LEN])
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;

    a.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)id};
    f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    f.delivery_ack = &a;
    assert_int_equal(rc_send(c, &f), AM_OK);
}

/* A backlog larger than the relay's window of unacknowledged envelopes:
 * the relay stops at the window; an emergency submitted meanwhile is the
 * next envelope once acknowledgements make room, before the rest of the
 * backlog; every envelope arrives exactly once. */
static void test_window_and_late_emergency(void **state)
{
    enum { BACKLOG = 300 };
    static uint8_t ids[BACKLOG][AM_MSG_ID_LEN];
    static bool seen[BACKLOG];
    rc_client_t pkc, dec;
    relay_t r = start_relay();
    Amanat__V1__Frame *f;
    char text[64];
    uint8_t *env, id[AM_MSG_ID_LEN];
    size_t len, n = 0, k;

    (void)state;
    connect_as(&pkc, r.port, &pk, false);
    for (k = 0; k < BACKLOG; k++) {
        snprintf(text, sizeof text, "routine %zu", k);
        env = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_ROUTINE, text, &len);
        f = submit(&pkc, env, len, k + 1);
        check_accepted(f, env, len, k + 1);
        am_frame_free(f);
        am_free(env);
    }
    connect_as(&dec, r.port, &de, true);
    while (rc_recv(&dec, 700, &f) == AM_OK) { /* the window, in order */
        assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_DELIVER);
        am_frame_free(f);
        n++;
    }
    assert_true(n > 0 && n < BACKLOG);
    env = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_EMERGENCY, "emergency", &len);
    f = submit(&pkc, env, len, 999);
    check_accepted(f, env, len, 999);
    am_frame_free(f);
    am_free(env);
    rc_close(&pkc);
    rc_close(&dec); /* unacknowledged: all of them come again */
    connect_as(&dec, r.port, &de, true);
    next_deliver(&dec, text, sizeof text, id);
    assert_string_equal(text, "emergency");
    send_ack(&dec, id);
    /* the window again, in order, not acknowledged */
    for (n = 0; n < BACKLOG && next_deliver_wait(&dec, 700, text,
                                                 sizeof text, ids[n]); n++)
        assert_int_equal(strtoul(text + 8, NULL, 10), n);
    assert_true(n > 0 && n < BACKLOG);
    /* the window is full: a later emergency waits for room, then comes
     * before the rest of the backlog, and nothing is sent twice */
    connect_as(&pkc, r.port, &pk, false);
    env = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_EMERGENCY, "emergency 2", &len);
    f = submit(&pkc, env, len, 1000);
    check_accepted(f, env, len, 1000);
    am_frame_free(f);
    am_free(env);
    rc_close(&pkc);
    for (k = 0; k < n; k++)
        send_ack(&dec, ids[k]);
    next_deliver(&dec, text, sizeof text, id);
    assert_string_equal(text, "emergency 2");
    send_ack(&dec, id);
    for (k = n; k < BACKLOG; k++) {
        size_t which;

        next_deliver(&dec, text, sizeof text, id);
        which = strtoul(text + 8, NULL, 10);
        assert_true(which >= n && which < BACKLOG && !seen[which]);
        seen[which] = true;
        send_ack(&dec, id);
    }
    assert_int_equal(rc_recv(&dec, 500, &f), AM_EIO);
    rc_close(&dec);
    stop_relay(&r);
}


int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_window_and_late_emergency,
                                  fx_kill_leftovers),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay\n", argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
