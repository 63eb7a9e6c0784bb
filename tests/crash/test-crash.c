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

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crash_load.h"
#include "relay_fixture.h"

static bool fed; /* --federation */
static cl_ids_t acked, got;
static int port_pk, port_de; /* --federation: fixed, so peers find each other */

static void crash_round(void)
{
    cl_load_t *load = cl_load_new(fed ? "DE-LKA" : "DE-BKA");
    relay_t r, rde = {0, 0};
    long t1 = 20 + (long)randombytes_uniform(300);

    if (fed) {
        r = start_relay_linked(false, port_pk, port_de);
        rde = start_relay_linked(true, port_de, port_pk);
    } else {
        r = start_relay();
    }
    cl_load_start(load, r.port, &acked);
    if (fed && randombytes_uniform(2)) { /* either may die first */
        cl_kill_after(&rde, t1);
        cl_kill_after(&r, (long)randombytes_uniform(300));
    } else {
        cl_kill_after(&r, t1);
        if (fed)
            cl_kill_after(&rde, (long)randombytes_uniform(300));
    }
    cl_load_join(load);
}

static int rounds = 20;

static void test_kill_9_under_load(void **state)
{
    size_t lost, dup;
    relay_t r, rde;
    time_t t0 = time(NULL);

    (void)state;
    fx_relay_args = cl_relay_args;
    if (fed) {
        fx_two_relays();
        port_pk = fx_free_port();
        port_de = fx_free_port();
    }
    for (int i = 0; i < rounds; i++)
        crash_round();
    printf("%s%d rounds in %lld s; draining\n", fed ? "federation: " : "",
           rounds, (long long)(time(NULL) - t0));
    if (fed) {
        /* what PK-RELAY acknowledged reaches DE-LKA through the link */
        r = start_relay_linked(false, port_pk, port_de);
        rde = start_relay_linked(true, port_de, port_pk);
        cl_drain(rde.port, &lka, 10000, &got);
        stop_relay(&rde);
    } else {
        r = start_relay();
        cl_drain(r.port, &de, 3000, &got);
    }
    stop_relay(&r);
    cl_count(&acked, &got, &lost, &dup);
    printf("%srounds %d, acked %zu, delivered %zu, lost %zu, duplicated %zu\n",
           fed ? "federation: " : "", rounds, acked.n, got.n, lost, dup);
    printf("%s%lld s in all\n", fed ? "federation: " : "",
           (long long)(time(NULL) - t0));
    assert_true(acked.n > 0); /* the test must have put the relay under load */
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
    cl_ids_free(&acked);
    cl_ids_free(&got);
}

/* 1..100000, or 0 for anything else. */
static int parse_rounds(const char *s)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && n > 0 && n <= 100000
               ? (int)n
               : 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_kill_9_under_load, fx_kill_leftovers),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay [--rounds N]"
                " [--federation]\n", argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--federation") == 0) {
            fed = true;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc &&
                   (rounds = parse_rounds(argv[i + 1])) > 0) {
            i++;
        } else {
            fprintf(stderr, "%s: unknown argument \"%s\"\n", argv[0],
                    argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
