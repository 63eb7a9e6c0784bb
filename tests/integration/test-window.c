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
    fx_next_deliver(&dec, text, sizeof text, id);
    assert_string_equal(text, "emergency");
    fx_ack(&dec, id);
    /* the window again, in order, not acknowledged */
    for (n = 0; n < BACKLOG && fx_next_deliver_wait(&dec, 700, text,
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
        fx_ack(&dec, ids[k]);
    fx_next_deliver(&dec, text, sizeof text, id);
    assert_string_equal(text, "emergency 2");
    fx_ack(&dec, id);
    for (k = n; k < BACKLOG; k++) {
        size_t which;

        fx_next_deliver(&dec, text, sizeof text, id);
        which = strtoul(text + 8, NULL, 10);
        assert_true(which >= n && which < BACKLOG && !seen[which]);
        seen[which] = true;
        fx_ack(&dec, id);
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
