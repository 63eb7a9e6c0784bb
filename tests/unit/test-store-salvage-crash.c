/* A salvage killed at random moments (relay/store_salvage.c, its
 * DESIGN): the process that opens a damaged store is sent SIGKILL while
 * it salvages; the next open must end where an uninterrupted salvage
 * ends (the same pending deliveries), leave no work files and no marker,
 * and every kept copy of the damaged file must be the damaged file byte
 * for byte.  The store is large enough (20,000 messages) for a salvage
 * to take a while (about 250 ms here); the kills are spread over that
 * time, half of them over its end. */
#include "fixture-store.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#define MESSAGES 20000
#define TRIALS 16

static char work[128], damaged[160];

static int setup(void **state)
{
    if (sodium_init() < 0 || make_dir(state) != 0)
        return -1;
    am_store_check_envelopes = false; /* msg() makes no real envelopes */
    return 0;
}

static int teardown(void **state)
{
    am_store_check_envelopes = true;
    return remove_tree(state);
}

/* dir/damaged: a store of MESSAGES pending deliveries, its last pages
 * cut off (the integrity check fails: a salvage at open). */
static void make_damaged(void)
{
    am_store_t *s;
    char db[200];
    struct stat st;

    snprintf(work, sizeof work, "%s/work", dir);
    snprintf(damaged, sizeof damaged, "%s/damaged", dir);
    assert_int_equal(mkdir(damaged, 0700), 0);
    result_t r = {0};

    assert_int_equal(am_store_open(damaged, NULL, NULL, &s), AM_OK);
    for (int i = 1; i <= MESSAGES; i++) {
        am_store_put_t m = msg((uint8_t)i, AM_PRIORITY_ROUTINE, "DE-BKA",
                               NULL);

        m.message_id[1] = (uint8_t)(i >> 8);
        m.message_id[2] = (uint8_t)(i >> 16);
        m.quota_messages = MESSAGES;
        /* queued, committed in batches: the callbacks counted below */
        assert_int_equal(am_store_put(s, &m, 10, put_cb, &r), AM_OK);
    }
    wait_for(s, &r, MESSAGES);
    assert_int_equal(r.rc, AM_OK);
    assert_int_equal(am_store_close(s), AM_OK);
    snprintf(db, sizeof db, "%s/store.sqlite", damaged);
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(truncate(db, st.st_size - 3 * 4096 - 100), 0);
}

/* Open the store in work in a child; SIGKILL it after ms (< 0: never).
 * Whether it exited by itself with 0. */
static bool open_in_child(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    am_store_t *s = NULL;
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(am_store_open(work, NULL, NULL, &s) == AM_OK &&
                      am_store_close(s) == AM_OK
                  ? 0
                  : 1);
    if (ms >= 0) {
        nanosleep(&t, NULL);
        kill(pid, SIGKILL);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int64_t pending(void)
{
    char db[200];
    sqlite3 *h;
    sqlite3_stmt *st;
    int64_t n;

    snprintf(db, sizeof db, "%s/store.sqlite", work);
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM deliveries "
                                        "WHERE state = 0", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* No marker, no work file; every damaged-* folder's store.sqlite is the
 * damaged file; at least one has its lost.txt (a salvage killed before
 * its marker leaves a folder without one, maybe empty, and the next start
 * salvages from the file in place again).  How many folders. */
static int check_folder(void)
{
    char path[600];
    struct dirent *e;
    DIR *d = opendir(work);
    int kept = 0, listed = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, "store.salvage") == 0 ||
            strncmp(e->d_name, "store.sqlite.new", 16) == 0 ||
            strncmp(e->d_name, "store.sqlite.salvage", 20) == 0)
            fail_msg("%s left in the folder", e->d_name);
        if (strncmp(e->d_name, "damaged-", 8) != 0)
            continue;
        kept++;
        snprintf(path, sizeof path, "%s/%s/store.sqlite", work, e->d_name);
        if (access(path, F_OK) != 0)
            continue; /* killed between its mkdir and its first link */
        snprintf(path, sizeof path, "cmp -s '%s/%s/store.sqlite' "
                 "'%s/store.sqlite'", work, e->d_name, damaged);
        assert_int_equal(system(path), 0);
        snprintf(path, sizeof path, "%s/%s/lost.txt", work, e->d_name);
        listed += access(path, F_OK) == 0;
    }
    closedir(d);
    assert_true(listed >= 1);
    return kept;
}

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void test_salvage_killed(void **state)
{
    char marker[200];
    int64_t want;
    double t0, took = 0;
    int extra = 0, killed = 0, resumed = 0;

    (void)state;
    make_damaged();
    /* the shorter of two uninterrupted salvages (the first may read a
     * cold file) */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t_sh("rm -rf '%s'", work), 0);
        assert_int_equal(t_sh("cp -a '%s' '%s'", damaged, work), 0);
        t0 = now_ms();
        assert_true(open_in_child(-1));
        if (i == 0 || now_ms() - t0 < took)
            took = now_ms() - t0;
    }
    want = pending();
    assert_true(want > MESSAGES / 2 && want < MESSAGES);
    assert_int_equal(check_folder(), 1);
    for (int i = 0; i < TRIALS; i++) {
        /* half spread over the whole salvage, half over its end (the
         * marker is written once every row is read: the resumed path) */
        long ms = i % 2 == 0
                      ? (long)randombytes_uniform((uint32_t)(took * 1.2) + 1)
                      : (long)(took * 0.85) + (long)randombytes_uniform(
                                                  (uint32_t)(took * 0.2) + 1);

        assert_int_equal(t_sh("rm -rf '%s'", work), 0);
        assert_int_equal(t_sh("cp -a '%s' '%s'", damaged, work), 0);
        killed += !open_in_child(ms);
        snprintf(marker, sizeof marker, "%s/store.salvage", work);
        resumed += access(marker, F_OK) == 0;
        assert_true(open_in_child(-1));
        assert_int_equal(pending(), want);
        extra += check_folder() - 1;
    }
    printf("salvage of %d messages (%.0f ms), SIGKILL at a random moment "
           "%d times (%d before it ended, %d of them after the marker: "
           "resumed from the kept files): every next open ended with the "
           "same %lld pending deliveries; %d extra kept folders (killed "
           "before the marker)\n", MESSAGES, took, TRIALS, killed, resumed,
           (long long)want, extra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_salvage_killed, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
