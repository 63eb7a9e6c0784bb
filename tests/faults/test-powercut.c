/* Simulated power loss under load (issue 9): the relay runs with the
 * power-cut shim preloaded (powercut.c), which journals every change to
 * its data folder, while two clients submit continuously.  Each round
 * ends with the relay SIGKILLed at a random moment, or (half the rounds
 * after the first) killing itself after a random number of file changes,
 * or (one in ten) stopped cleanly.  Then the cut (powercut_cut.c)
 * discards, as a power loss could, what no fsync had made durable: a
 * random suffix or subset of each file's unsynced writes, torn writes,
 * unsynced creations, renames and unlinks, and SQLite's -shm at random.
 * One round in five the power stays on: no cut, and the journal goes on
 * into the next round, whose cut may then discard what this one left
 * unsynced.  The relay restarts on what is left: it must start (its store
 * opens) every time.  Afterwards DE-BKA drains its mailbox: every message
 * the relay acknowledged (a SubmitResult) must arrive, none twice, and
 * the store must pass SQLite's integrity check.  Prints
 * "powercut: rounds R, cuts with discarded writes W, acked N, delivered N,
 * lost 0, duplicated 0" and what the cuts discarded in all.
 * usage: test-powercut PATH/TO/amanat-relay PRELOAD [--rounds N]
 *        [--seed S]
 * PRELOAD: LD_PRELOAD for the relay (the shim, after the sanitizer
 * runtime when the relay is built with one). */
#include "../unit/test-util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "crash_load.h"
#include "powercut_cut.h"
#include "relay_fixture.h"

static int rounds = 20;
static uint64_t seed;
static bool seeded; /* --seed given */
static char env_preload[4096], env_dir[256], env_log[256];
static char env_append[32] = "POWERCUT_APPEND=0";
static char env_kill[48] = "POWERCUT_KILL_AFTER=0";
static const char *relay_env_vars[] = {env_preload, env_dir,    env_log,
                                       env_append,  env_kill,   NULL};
static char data_dir[128], log_path[128];
static cl_ids_t acked, got;
static pc_cut_stats_t stats;
static int clean_stops, shm_removed, starts, power_on, self_killed;
static int killed_starting; /* of those, before the relay listened */

/* The relay's data folder is watched; the journal lies outside it. */
static void set_paths(void)
{
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(log_path, sizeof log_path, "%s/powercut.log", dir);
    snprintf(env_dir, sizeof env_dir, "POWERCUT_DIR=%s", data_dir);
    snprintf(env_log, sizeof env_log, "POWERCUT_LOG=%s", log_path);
    fx_relay_env = relay_env_vars;
}

/* The wal-index, rebuilt from the WAL when the store opens: after a power
 * loss it may be there, stale, or not at all. */
static void maybe_remove_shm(uint64_t *rng)
{
    char path[192];

    if (t_uniform(rng, 2) == 0)
        return;
    snprintf(path, sizeof path, "%s/store.sqlite-shm", data_dir);
    if (unlink(path) == 0)
        shm_removed++;
    else
        assert_int_equal(errno, ENOENT);
}

/* How a round ends. */
typedef struct {
    bool cut;         /* a power cut; else the power stays on */
    bool clean;       /* the relay stopped cleanly before the cut */
    unsigned long at; /* killed by the shim after this many changes */
    long ms;          /* otherwise killed after ms */
    pc_cut_mode_t mode;
} plan_t;

static plan_t plan_round(int i, uint64_t *rng)
{
    plan_t p;

    p.cut = i == rounds - 1 || t_uniform(rng, 5) != 0;
    p.clean = p.cut && t_uniform(rng, 10) == 0;
    /* half the kills at a random file change rather than a random time
     * (a time mostly falls in an fsync); not in round 1, whose relay
     * creates its store (a kill before the store exists proves nothing);
     * later it may fall while the relay opens its store */
    p.at = i > 0 && !p.clean && t_uniform(rng, 2) ? 1 + t_uniform(rng, 3000)
                                                  : 0;
    p.ms = 20 + (long)t_uniform(rng, 300);
    p.mode = t_uniform(rng, 2) ? PC_CUT_SUBSET : PC_CUT_PREFIX;
    return p;
}

/* The relay under load ends as the plan says: stopped cleanly, killed by
 * the shim at a file change, or killed by us at a moment. */
static void end_relay(relay_t *r, const plan_t *p)
{
    if (p->clean) {
        cl_sleep_ms(p->ms);
        stop_relay(r);
        clean_stops++;
    } else if (p->at > 0) {
        self_killed += cl_wait_or_kill(r, 1000);
    } else {
        cl_kill_after(r, p->ms);
    }
}

static void power_round(int i, uint64_t *rng)
{
    cl_load_t *load = cl_load_new("DE-BKA");
    plan_t p = plan_round(i, rng);
    char label[32];
    relay_t r;
    bool killed = false;

    snprintf(env_kill, sizeof env_kill, "POWERCUT_KILL_AFTER=%lu", p.at);
    /* fails the test if the store did not open; a crash point counted in
     * file changes may fall while the relay opens its store (recovery,
     * the store check's checkpoint): a crash like any other, then a cut */
    r = p.at > 0 ? fx_start_relay_or_kill(&killed) : start_relay();
    if (killed) {
        self_killed++;
        killed_starting++;
    } else {
        starts++;
        cl_load_start(load, r.port, &acked);
        end_relay(&r, &p);
    }
    cl_load_join(load);
    snprintf(label, sizeof label, "round %d", i + 1);
    /* the next relay starts a fresh journal after a cut, and carries
     * this one on when the power stayed on */
    snprintf(env_append, sizeof env_append, "POWERCUT_APPEND=%d", !p.cut);
    if (!p.cut) {
        printf("%s: killed, power on: no cut\n", label);
        power_on++;
        return;
    }
    assert_int_equal(pc_cut(data_dir, log_path, p.mode, rng, label, &stats),
                     0);
    maybe_remove_shm(rng);
}

/* SQLite's own check of the store the relay left after the last run. */
static void check_integrity(void)
{
    char path[192];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    snprintf(path, sizeof path, "%s/store.sqlite", data_dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    printf("powercut: integrity_check: %s\n", sqlite3_column_text(st, 0));
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void print_totals(time_t t0)
{
    printf("powercut: %zu records journaled; writes %zu, unsynced at the "
           "cut %zu, discarded %zu, torn %zu; truncations discarded %zu of "
           "%zu; names discarded %zu of %zu (creates %zu, renames %zu, "
           "unlinks %zu)\n",
           stats.records, stats.writes, stats.writes_unsynced,
           stats.writes_discarded, stats.writes_torn, stats.truncs_discarded,
           stats.truncs_unsynced,
           stats.creates_discarded + stats.renames_discarded +
               stats.unlinks_discarded,
           stats.names_unsynced, stats.creates_discarded,
           stats.renames_discarded, stats.unlinks_discarded);
    printf("powercut: relay started and its store opened %d times; cuts "
           "%zu, of them after a clean stop %d; kills with the power on %d; "
           "killed at a file change %d (%d while starting); -shm removed %d; journal tails torn "
           "by SIGKILL %zu; seed 0x%llx; %lld s\n",
           starts, stats.cuts, clean_stops, power_on, self_killed,
           killed_starting, shm_removed, stats.torn_tails,
           (unsigned long long)seed, (long long)(time(NULL) - t0));
}

static void test_power_cut_under_load(void **state)
{
    uint64_t rng = seed;
    size_t lost, dup;
    time_t t0 = time(NULL);
    relay_t r;

    (void)state;
    set_paths();
    fx_relay_args = cl_relay_args;
    for (int i = 0; i < rounds; i++)
        power_round(i, &rng);
    snprintf(env_kill, sizeof env_kill, "POWERCUT_KILL_AFTER=0");
    r = start_relay();
    starts++;
    cl_drain(r.port, &de, 3000, &got);
    stop_relay(&r);
    cl_count(&acked, &got, &lost, &dup);
    printf("powercut: rounds %d, cuts with discarded writes %zu, acked %zu, "
           "delivered %zu, lost %zu, duplicated %zu\n",
           rounds, stats.cuts_discarding, acked.n, got.n, lost, dup);
    print_totals(t0);
    check_integrity();
    assert_true(acked.n > 0); /* the relay was under load */
    assert_true(stats.writes > 0); /* and the shim saw its writes */
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
    cl_ids_free(&acked);
    cl_ids_free(&got);
}

/* A positive count, at most max, or 0. */
static unsigned long long parse_count(const char *s, unsigned long long max)
{
    char *end;
    unsigned long long n;

    errno = 0;
    n = strtoull(s, &end, 0);
    return errno == 0 && end != s && *end == '\0' && s[0] != '-' && n <= max
               ? n
               : 0;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc &&
            (rounds = (int)parse_count(argv[i + 1], 100000)) > 0) {
            i++;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc &&
                   (seed = parse_count(argv[i + 1], UINT64_MAX)) > 0) {
            seeded = true;
            i++;
        } else {
            fprintf(stderr, "%s: bad argument \"%s\"\n", argv[0], argv[i]);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_power_cut_under_load,
                                  fx_kill_leftovers),
    };

    if (argc < 3) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay PRELOAD [--rounds N]"
                " [--seed S]\n", argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    if (snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", argv[2]) >=
            (int)sizeof env_preload ||
        parse_args(argc, argv) != 0)
        return 2;
    if (sodium_init() < 0)
        return 2;
    /* a new seed each run unless given: CI covers more cuts over time */
    if (!seeded && getenv("AM_TEST_SEED") != NULL)
        seed = t_seed();
    else if (!seeded)
        randombytes_buf(&seed, sizeof seed);
    printf("powercut: seed 0x%llx (--seed to repeat the cuts' choices)\n",
           (unsigned long long)seed);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
