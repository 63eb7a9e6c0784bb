/* Store corruption (issue 9, item 5): with the relay stopped, one
 * single-bit flip or one truncation of a store file, at offsets spread
 * over the whole file (the header page, b-tree pages, envelope blobs and
 * their overflow pages); then the relay starts again.  Either it starts,
 * and then DE-BKA receives every undamaged envelope (each verified,
 * opened and compared with what was sealed) and PK-NCCIA receives
 * relay-signed DAMAGED (or EXPIRED) evidence for exactly the ones not
 * delivered; or it refuses to start with a log line naming the damage.
 * Never: it starts and some message is neither delivered nor reported
 * (a silent loss), a damaged envelope is delivered, or it refuses without
 * saying why.
 *
 * usage: test-corrupt PATH/TO/amanat-relay [--rounds N]
 * Under ctest 60 trials; by hand --rounds N trials. */
#include "corrupt.h"

#include "../unit/test-util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "relay_fixture.h"
#include "sign.h"

#define M_MSGS 200

static int trials = 60;
static cr_msgs_t msgs;

typedef struct {
    size_t trials, no_effect, quarantined, quarantined_msgs, expired_msgs,
        refused, refused_silent, truncations, flips, silent_losses,
        bad_deliveries, bad_evidence, contradictions, unclean_stops,
        other_hash;
    size_t delivered, undamaged; /* delivered of those not reported */
} tally_t;

/* PK-NCCIA submits M envelopes to DE-BKA, who stays away. */
static void fill(int port)
{
    static char text[8192];
    Amanat__V1__Frame *f;
    rc_client_t c;
    uint8_t *env;
    size_t len;

    connect_as(&c, port, &pk, false);
    msgs.m = M_MSGS;
    for (size_t i = 0; i < msgs.m; i++) {
        cr_text(i, text, sizeof text);
        env = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_ROUTINE, text, &len);
        f = submit(&c, env, len, i + 1);
        check_accepted(f, env, len, i + 1);
        assert_int_equal(f->submit_result->message_id.len, AM_MSG_ID_LEN);
        memcpy(msgs.id[i], f->submit_result->message_id.data, AM_MSG_ID_LEN);
        assert_int_equal(am_hash256(env, len, msgs.hash[i]), AM_OK);
        am_frame_free(f);
        am_free(env);
    }
    rc_close(&c);
}

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[512];

    assert_true(snprintf(cmd, sizeof cmd, fmt, a, b) < (int)sizeof cmd);
    assert_int_equal(system(cmd), 0);
}

/* The store files a clean stop leaves (the WAL is checkpointed and
 * removed then): their names and sizes. */
static size_t store_files(const char *folder, char names[4][64],
                          long sizes[4])
{
    DIR *d = opendir(folder);
    struct dirent *e;
    struct stat st;
    char path[512];
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL && n < 4) {
        if (strncmp(e->d_name, "store.sqlite", 12) != 0)
            continue;
        if (strlen(e->d_name) >= sizeof names[n] ||
            snprintf(path, sizeof path, "%s/%s", folder, e->d_name) >=
                (int)sizeof path)
            continue;
        assert_int_equal(stat(path, &st), 0);
        memcpy(names[n], e->d_name, strlen(e->d_name) + 1);
        sizes[n++] = (long)st.st_size;
        printf("# after a clean stop: %s, %ld bytes\n", e->d_name,
               (long)st.st_size);
    }
    closedir(d);
    return n;
}

/* Trial t of n: its offset in a file of size bytes (the first trial in
 * the 100-byte header; then a stride over the file, plus a random part
 * of it) and its bit (-1: truncate there, one trial in five). */
static void pick(int t, int n, long size, long *off, int *bit)
{
    long stride = size / n > 1 ? size / n : 1;

    *off = t == 0 ? (long)randombytes_uniform(100)
                  : (long)t * stride + (long)randombytes_uniform(
                                           (uint32_t)stride);
    if (*off >= size)
        *off = size - 1;
    *bit = t % 5 == 4 ? -1 : (int)randombytes_uniform(8);
}

static void account(const cr_seen_t *s, tally_t *y, int t, long off, int bit,
                    const char *log)
{
    size_t lost = 0, damaged = 0, expired = 0, delivered = 0;

    for (size_t i = 0; i < msgs.m; i++) {
        lost += s->fate[i] == CR_NONE;
        damaged += s->fate[i] == CR_DAMAGED;
        expired += s->fate[i] == CR_EXPIRED;
        delivered += s->fate[i] == CR_DELIVERED;
    }
    y->silent_losses += lost;
    y->quarantined += damaged > 0;
    y->quarantined_msgs += damaged;
    y->expired_msgs += expired;
    y->no_effect += delivered == msgs.m;
    y->delivered += delivered;
    y->undamaged += msgs.m - damaged - expired;
    y->bad_deliveries += s->bad_deliveries;
    y->bad_evidence += s->bad_evidence;
    y->contradictions += s->contradictions;
    y->other_hash += s->other_hash;
    if (lost || s->bad_deliveries || s->bad_evidence || s->contradictions)
        printf("# trial %d (%s at %ld): %zu silently lost, %zu bad "
               "deliveries, %zu bad evidence, %zu contradictions\n", t,
               bit < 0 ? "truncation" : "bit flip", off, lost,
               s->bad_deliveries, s->bad_evidence, s->contradictions);
    if (lost || s->bad_deliveries || s->bad_evidence || s->contradictions)
        cr_log_print(log, "store check");
}

static void trial(int t, const char *file, long size, tally_t *y)
{
    char data[128], pristine[128], path[256], log[128];
    static cr_seen_t seen;
    long off;
    int bit, port;
    pid_t pid;

    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(pristine, sizeof pristine, "%s/pristine", dir);
    snprintf(log, sizeof log, "%s/trial.log", dir);
    sh("rm -rf '%s'%s", data, "");
    sh("cp -a '%s' '%s'", pristine, data);
    snprintf(path, sizeof path, "%s/%s", data, file);
    pick(t, trials, size, &off, &bit);
    cr_damage(path, off, bit);
    y->trials++;
    y->truncations += bit < 0;
    y->flips += bit >= 0;
    pid = cr_start(log, &port);
    if (port == 0) {
        bool said = cr_log_has(log, "DAMAGED") || cr_log_has(log, "EMPTY") ||
                    cr_log_has(log, "damaged");
        y->refused++;
        y->refused_silent += !said;
        if (!said)
            printf("# trial %d (%s at %ld): refused without naming the "
                   "damage (log %s)\n", t, bit < 0 ? "truncation" : "flip",
                   off, log);
        if (!said)
            cr_log_print(log, "amanat-relay");
        return;
    }
    memset(&seen, 0, sizeof seen);
    cr_collect(port, &msgs, &seen);
    if (!cr_stop(pid)) {
        y->unclean_stops++;
        printf("# trial %d (%s at %ld): the relay did not stop cleanly\n", t,
               bit < 0 ? "truncation" : "flip", off);
    }
    account(&seen, y, t, off, bit, log);
}

static void report(const tally_t *y, const char *file, long size)
{
    printf("corrupt: %zu trials on %s (%ld KiB; %zu bit flips, %zu "
           "truncations): %zu no effect, %zu with envelopes quarantined "
           "(%zu messages, sender told DAMAGED; %zu of them naming a damaged "
           "hash), %zu messages reported "
           "expired, %zu refused at start naming the damage (salvaged: 0), "
           "%zu refused silently; undamaged delivered %zu/%zu (%.1f%%), "
           "silent losses %zu, damaged deliveries %zu, bad evidence %zu, "
           "contradictions %zu, unclean stops %zu\n",
           y->trials, file, size / 1024, y->flips, y->truncations,
           y->no_effect, y->quarantined, y->quarantined_msgs, y->other_hash,
           y->expired_msgs, y->refused - y->refused_silent,
           y->refused_silent, y->delivered, y->undamaged,
           y->undamaged ? 100.0 * (double)y->delivered / (double)y->undamaged
                        : 100.0,
           y->silent_losses, y->bad_deliveries, y->bad_evidence,
           y->contradictions, y->unclean_stops);
}

static void test_corrupt(void **state)
{
    char data[128], names[4][64];
    long sizes[4];
    tally_t y = {0};
    relay_t r;
    size_t n;

    (void)state;
    r = start_relay();
    fill(r.port);
    stop_relay(&r);
    snprintf(data, sizeof data, "%s/data", dir);
    n = store_files(data, names, sizes);
    assert_true(n >= 1);
    sh("cp -a '%s' '%s/pristine'", data, dir);
    for (int t = 0; t < trials; t++)
        trial(t, names[0], sizes[0], &y);
    report(&y, names[0], sizes[0]);
    assert_int_equal(y.silent_losses, 0);
    assert_int_equal(y.bad_deliveries, 0);
    assert_int_equal(y.bad_evidence, 0);
    assert_int_equal(y.contradictions, 0);
    assert_int_equal(y.refused_silent, 0);
    assert_int_equal(y.unclean_stops, 0);
    assert_int_equal(y.delivered, y.undamaged);
}

static int teardown(void **state)
{
    return fx_kill_leftovers(state);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_corrupt, teardown),
    };
    int rc = fx_args_rounds(argc, argv, 100000, &trials);

    if (rc != 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
