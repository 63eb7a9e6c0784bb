/* Allocation failure (issue 9, item 4): the Nth allocation of the relay
 * fails, for N over one full submit-and-deliver and the stop after it.
 *
 * A counting run first: amanat-relay-allocfault (alloc_hook.h) with no
 * failure runs the workload once (alloc_work.h), then stops on SIGTERM;
 * its counters give W, the allocations of the workload, and T, those of
 * the workload and the stop.  Then for each N chosen in 1..T, a relay on
 * a fresh store fails its Nth allocation:
 *   - the workload runs; it may end in a clean refusal (an error frame, a
 *     connection closed), but not in silence past the bound (a hang) nor
 *     in a wrong answer;
 *   - if the failure came within it, a next client (fresh connections,
 *     a new envelope) must complete a full submit-and-deliver on the same
 *     relay, which then must stop cleanly on SIGTERM: exit 0, no crash, no
 *     LeakSanitizer report (in the ASan build);
 *   - otherwise SIGTERM now, so that the failure falls in the stop, which
 *     must be as clean; the next client is then served by the relay
 *     started again on the same store;
 *   - either way an envelope acknowledged by a SubmitResult and not yet
 *     delivered must be delivered to the next client.
 * Odd N run the handshakes on libuv's thread pool, even N on the loop
 * (alloc_proc.h), so both error paths are taken.  Which allocation is the
 * Nth varies a little from run to run (the store thread batches what
 * arrives together), so the printed count may too.
 * Prints one line of figures; any failure names its N.
 *
 * usage: test-alloc PATH/TO/amanat-relay-allocfault
 *                   [--rounds R | --every | --at N] [--verbose]
 *   --rounds R  R failing runs, every ceil(T/R)th N from 1 (short mode,
 *               the default: see DEFAULT_ROUNDS)
 *   --every     every N from 1 to T (long mode, by hand)
 *   --at N      that N alone, with the relay's log (to reproduce one) */
#include "../unit/test-util.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>

#include "alloc_proc.h"
#include "alloc_work.h"
#include "err.h"
#include "relay_fixture.h"

/* Short mode's runs: about 20 s on 2 cores (a run takes 0.12 s, 0.17 s
 * under ASan); the bound on one workload, far above its 20 ms. */
#ifdef __SANITIZE_ADDRESS__
#define DEFAULT_ROUNDS 120
#define BOUND_MS 8000
#else
#define DEFAULT_ROUNDS 150
#define BOUND_MS 5000
#endif
#define SHOW_LOGS 3     /* failures whose relay log is printed */
#define MAX_FAILURES 10 /* then stop: each hang costs a bound */

static const char *bin;
static uint64_t rounds = DEFAULT_ROUNDS, only_at;
static bool every, verbose;
static char data[96], counts[96], log_first[96], log_again[96];

typedef struct {
    size_t runs, refused, unaffected, at_stop, not_reached;
    size_t crashes, leaks, hangs, unclean, wrong, lost, served, failed;
} tally_t;

typedef struct {
    uint64_t n;
    uint64_t c[AM_ALLOCFAULT_SLOTS]; /* counters once it fired */
    bool in_work;                    /* it fired within the workload */
    bool owed; /* acknowledged, not given to DE-BKA: the next client is */
    aw_result_t w1, w2;
    ap_end_t end, end2;
    int status, status2; /* as waitpid gave them */
} trial_t;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A fresh store for each relay started from scratch. */
static void fresh_data(void)
{
    if (t_remove_dir(data) != 0 && errno != ENOENT)
        fail_msg("cannot remove %s: %s", data, strerror(errno));
}

static uint8_t *new_envelope(size_t *len)
{
    return seal(&pk, &pk, "DE-BKA", AM_PRIORITY_URGENT, "allocation test",
                len);
}

/* The counters once they stop moving (the store finishes the last
 * acknowledgement after the clients left): at most 5 s. */
static void settled(const ap_relay_t *r, uint64_t c[AM_ALLOCFAULT_SLOTS])
{
    uint64_t last = UINT64_MAX;
    struct timespec tick = {0, 50000000};

    for (int still = 0, i = 0; still < 4 && i < 100; i++) {
        assert_int_equal(ap_counts(r, c), 0);
        still = c[AM_ALLOCFAULT_TOTAL] == last ? still + 1 : 0;
        last = c[AM_ALLOCFAULT_TOTAL];
        nanosleep(&tick, NULL);
    }
}

/* W and T, from one run without failure. */
static void counting_run(uint64_t *work, uint64_t c[AM_ALLOCFAULT_SLOTS])
{
    ap_relay_t r;
    aw_result_t w;
    size_t len;
    uint8_t *env = new_envelope(&len);
    ap_end_t end;
    int status;

    fresh_data();
    assert_int_equal(ap_start(bin, data, 0, counts, log_first, &r), 0);
    aw_run(r.port, env, len, NULL, BOUND_MS, &w);
    am_free(env);
    if (w.outcome != AW_DONE) {
        ap_print_log(&r, 30);
        fail_msg("counting run: %s: %s", aw_outcome_name[w.outcome], w.why);
    }
    settled(&r, c);
    *work = c[AM_ALLOCFAULT_TOTAL];
    if ((end = ap_stop(&r, &status)) != AP_CLEAN) {
        ap_print_log(&r, 30);
        fail_msg("counting run: the relay's %s", ap_end_name[end]);
    }
    assert_int_equal(ap_counts(&r, c), 0);
    assert_true(*work > 0 && c[AM_ALLOCFAULT_TOTAL] >= *work);
}

/* The next client, on a relay of its own when the failing one stopped. */
static void next_client(trial_t *t, ap_relay_t *r, const uint8_t *owed)
{
    size_t len;
    uint8_t *env = new_envelope(&len);
    ap_relay_t again;

    if (t->in_work) {
        aw_run(r->port, env, len, owed, BOUND_MS, &t->w2);
        t->end = ap_stop(r, &t->status);
        t->end2 = AP_CLEAN;
    } else {
        t->end = ap_stop(r, &t->status);
        (void)ap_counts(r, t->c);
        if (ap_start(bin, data, 0, NULL, log_again, &again) != 0) {
            t->w2.outcome = AW_REFUSED;
            snprintf(t->w2.why, sizeof t->w2.why, "the relay did not start "
                     "again on its store");
            t->end2 = AP_UNCLEAN;
        } else {
            aw_run(again.port, env, len, owed, BOUND_MS, &t->w2);
            t->end2 = ap_stop(&again, &t->status2);
        }
    }
    am_free(env);
}

static void trial(uint64_t n, trial_t *t)
{
    ap_relay_t r;
    size_t len;
    uint8_t *env = new_envelope(&len);
    uint8_t owed[AM_MSG_ID_LEN];

    memset(t, 0, sizeof *t);
    t->n = n;
    fresh_data();
    assert_int_equal(ap_start(bin, data, n, counts, log_first, &r), 0);
    aw_run(r.port, env, len, NULL, BOUND_MS, &t->w1);
    am_free(env);
    assert_int_equal(ap_counts(&r, t->c), 0);
    t->in_work = t->c[AM_ALLOCFAULT_FIRED] != 0;
    t->owed = t->w1.accepted && !t->w1.delivered;
    memcpy(owed, t->w1.id, sizeof owed);
    next_client(t, &r, t->owed ? owed : NULL);
    if (t->w2.outcome == AW_DONE && t->owed && !t->w2.owed_seen)
        t->w2.outcome = AW_WRONG; /* cannot be: done waits for it */
}

static void count_end(tally_t *s, ap_end_t e, bool *bad)
{
    s->crashes += e == AP_CRASH;
    s->leaks += e == AP_LEAK;
    s->hangs += e == AP_HUNG;
    s->unclean += e == AP_UNCLEAN;
    *bad |= e != AP_CLEAN;
}

/* "exit 3", "signal 6" */
static const char *how(int status)
{
    static char text[2][32];
    static int k;

    k ^= 1;
    snprintf(text[k], sizeof text[k], "%s %d",
             WIFSIGNALED(status) ? "signal" : "exit",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return text[k];
}

static const char *source(const trial_t *t)
{
    static const char *const name[] = {"?", "project", "SQLite", "libuv"};
    uint64_t s = t->c[AM_ALLOCFAULT_SOURCE];

    return s < 4 ? name[s] : "?";
}

/* Add t to the figures; print it when it failed (or when asked). */
static void judge(tally_t *s, const trial_t *t)
{
    bool bad = false, fired = t->c[AM_ALLOCFAULT_FIRED] != 0;

    s->runs++;
    s->refused += t->in_work && t->w1.outcome == AW_REFUSED;
    s->unaffected += t->w1.outcome == AW_DONE && t->in_work;
    s->at_stop += !t->in_work && fired;
    s->not_reached += !fired;
    s->hangs += t->w1.outcome == AW_STALLED;
    s->wrong += t->w1.outcome == AW_WRONG;
    bad |= t->w1.outcome == AW_STALLED || t->w1.outcome == AW_WRONG;
    count_end(s, t->end, &bad);
    count_end(s, t->end2, &bad);
    s->lost += t->owed && !t->w2.owed_seen;
    s->served += t->w2.outcome == AW_DONE;
    bad |= t->w2.outcome != AW_DONE;
    s->failed += bad;
    if (!bad && !verbose)
        return;
    printf("%s N=%llu (%s%s, %llu bytes): workload %s%s%s; next client "
           "%s%s%s; relay %s (%s)%s%s\n", bad ? "FAIL" : "ok",
           (unsigned long long)t->n, fired ? source(t) : "not reached",
           fired && !t->in_work ? " at stop" : "",
           (unsigned long long)t->c[AM_ALLOCFAULT_SIZE],
           aw_outcome_name[t->w1.outcome], t->w1.why[0] ? ": " : "", t->w1.why,
           aw_outcome_name[t->w2.outcome], t->w2.why[0] ? ": " : "", t->w2.why,
           ap_end_name[t->end], how(t->status),
           t->in_work ? "" : ", restarted: ",
           t->in_work ? "" : ap_end_name[t->end2]);
    if ((bad && s->failed <= SHOW_LOGS) || only_at != 0) {
        ap_relay_t shown = {0};

        snprintf(shown.log, sizeof shown.log, "%s", log_first);
        ap_print_log(&shown, 40);
    }
}

static void print_summary(const tally_t *s, uint64_t total, uint64_t from,
                          uint64_t last, uint64_t step,
                          const struct timespec *t0)
{
    printf("alloc: %llu allocations in one run; failed at N=%llu..%llu step "
           "%llu (%zu runs): request refused cleanly %zu, unaffected %zu, at "
           "stop %zu, not reached %zu; crashes %zu, leaks %zu, hangs %zu, "
           "unclean exits %zu, wrong answers %zu, acked but lost %zu, next "
           "client served %zu/%zu; %.1f s\n", (unsigned long long)total,
           (unsigned long long)from, (unsigned long long)last,
           (unsigned long long)step, s->runs, s->refused, s->unaffected,
           s->at_stop, s->not_reached, s->crashes, s->leaks, s->hangs,
           s->unclean, s->wrong, s->lost, s->served, s->runs,
           seconds_since(t0));
}

static void test_alloc_sweep(void **state)
{
    uint64_t work, c[AM_ALLOCFAULT_SLOTS], step, from = 1, last = 0, to;
    struct timespec t0;
    tally_t s = {0};
    trial_t t;

    (void)state;
    snprintf(data, sizeof data, "%s/run", dir);
    snprintf(counts, sizeof counts, "%s/counts", dir);
    snprintf(log_first, sizeof log_first, "%s/relay.log", dir);
    snprintf(log_again, sizeof log_again, "%s/relay-again.log", dir);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    counting_run(&work, c);
    to = c[AM_ALLOCFAULT_TOTAL];
    printf("alloc: counting run: %llu allocations in one submit-and-deliver, "
           "%llu more to stop (project %llu, SQLite %llu, libuv %llu)\n",
           (unsigned long long)work, (unsigned long long)(to - work),
           (unsigned long long)c[AM_ALLOCFAULT_PROJECT],
           (unsigned long long)c[AM_ALLOCFAULT_SQLITE],
           (unsigned long long)c[AM_ALLOCFAULT_LIBUV]);
    step = every ? 1 : (to + rounds - 1) / rounds;
    if (only_at != 0)
        from = to = only_at;
    printf("alloc: failing N=%llu..%llu, every %llu%s\n",
           (unsigned long long)from, (unsigned long long)to,
           (unsigned long long)step, step == 1 ? "" : " (short mode; "
           "--every for all)");
    fflush(stdout);
    for (uint64_t n = from; n <= to && s.failed < MAX_FAILURES; n += step) {
        trial(n, &t);
        judge(&s, &t);
        last = n;
        fflush(stdout);
    }
    if (s.failed >= MAX_FAILURES)
        printf("alloc: stopped after %d failures\n", MAX_FAILURES);
    print_summary(&s, c[AM_ALLOCFAULT_TOTAL], from, last, step, &t0);
    assert_int_equal(s.failed, 0);
}

static int teardown(void **state)
{
    (void)state;
    ap_kill_all();
    return 0;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        char *end;

        if (strcmp(a, "--every") == 0) {
            every = true;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(a, "--rounds") == 0 || strcmp(a, "--at") == 0) {
            uint64_t x = strtoull(v, &end, 10);

            if (*v < '1' || *v > '9' || *end != '\0')
                return -1;
            *(strcmp(a, "--at") == 0 ? &only_at : &rounds) = x;
            verbose |= only_at != 0;
            i++;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_alloc_sweep, teardown),
    };
    if (argc < 2 || parse_args(argc, argv) != 0) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay-allocfault "
                "[--rounds R | --every | --at N] [--verbose]\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
