/* Store corruption (issue 9, item 5): with the relay stopped, one
 * single-bit flip or one truncation of a store file, at offsets spread
 * over the whole file (the header page, b-tree pages, envelope blobs and
 * their overflow pages); then the relay starts again.  It starts as it
 * was (a flip SQLite's integrity check does not see), or salvages the
 * file (it fails that check: the file is kept under data/damaged-*, what
 * can be read is copied into a new store), or refuses to start with a
 * log line naming the damage (nothing could be read).  When it starts,
 * every message of the pristine store must be: delivered to DE-BKA
 * (verified, opened, compared with what was sealed), or reported to
 * PK-NCCIA by relay-signed DAMAGED (or EXPIRED) evidence, or named in the
 * salvage's lost.txt (by id, or by seq where the id could not be read).
 * Anything else is a silent loss and fails the test, as do a damaged
 * envelope delivered, a message both delivered and reported or listed, a
 * kept file that is not byte for byte what the test wrote, and a refusal
 * that does not say why.
 *
 * A second test cuts the store in the middle and checks that every
 * message whose pages all lie before the cut is delivered.
 *
 * A third fills a second relay and kills it (SIGKILL), so that its store
 * has a -wal holding the acknowledged transactions SQLite had not yet
 * checkpointed, and flips one bit per trial in that -wal (SQLite's own
 * recovery would drop every transaction from the damaged frame on, or
 * the whole log for its header: relay/store_wal.c must find it) and in
 * the -shm (SQLite rebuilds it from the log at the first open), with the
 * same accounting.  No truncations there: a log cut at a frame boundary
 * is a shorter log, as valid as the longer one.
 *
 * usage: test-corrupt PATH/TO/amanat-relay [--rounds N]
 * Environment, for a post-mortem by hand: AM_CORRUPT_KEEP=DIR keeps each
 * failing trial's files under DIR/trial-T; AM_CORRUPT_CUTS=1 makes every
 * store file trial a truncation.
 * Under ctest 60 trials on the store file, 40 on the -wal, 8 on the
 * -shm; by hand --rounds N trials on the store file and on the -wal, N/5
 * on the -shm. */
#include "corrupt.h"

#include "../unit/test-util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "relay_fixture.h"
#include "sign.h"

#define M_MSGS 200

static int trials = 60, wal_trials = 40, shm_trials = 8;
/* The messages of the pristine folder the trials damage (pristine_dir):
 * sets[0] those of the clean stop's, sets[1] the crash's. */
static cr_msgs_t msgs, sets[2];
static const char *pristine_dir = "pristine";

typedef struct {
    size_t trials, no_effect, quarantined, quarantined_msgs, expired_msgs,
        refused, refused_silent, truncations, flips, silent_losses,
        bad_deliveries, bad_evidence, contradictions, unclean_stops,
        other_hash;
    size_t salvaged, lost_by_id, lost_by_seq, lost_unknown, kept_bad,
        salvage_unlogged;
    size_t delivered, undamaged; /* delivered of those not reported */
    /* the -wal's damage the relay found (relay/store_wal.c), from its
     * log: whole header, and frames by how they were repaired */
    size_t wal_found, wal_header, wal_bits, wal_salts, wal_sums,
        wal_as_found;
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


/* The store files a stop (how: its word) leaves: their names and sizes.
 * A clean stop checkpoints the WAL and removes it; a crash leaves it. */
static size_t store_files(const char *folder, const char *how,
                          char names[4][64], long sizes[4])
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
        printf("# after a %s: %s, %ld bytes\n", how, e->d_name,
               (long)st.st_size);
    }
    closedir(d);
    return n;
}

/* Trial t of n: its offset in a file of size bytes (the first trial in
 * the first `head` bytes, the file's header; then a stride over the file,
 * plus a random part of it) and its bit (-1: truncate there, one trial in
 * five when cuts). */
static void pick(int t, int n, long size, long head, bool cuts, long *off,
                 int *bit)
{
    long stride = size / n > 1 ? size / n : 1;

    *off = t == 0 ? (long)randombytes_uniform((uint32_t)head)
                  : (long)t * stride + (long)randombytes_uniform(
                                           (uint32_t)stride);
    if (*off >= size)
        *off = size - 1;
    *bit = cuts && (t % 5 == 4 || getenv("AM_CORRUPT_CUTS") != NULL)
               ? -1
               : (int)randombytes_uniform(8);
}

/* Whether the trial failed the strict check. */
static bool account(const cr_seen_t *s, tally_t *y, int t, long off, int bit,
                    const char *log)
{
    size_t lost = 0, damaged = 0, expired = 0, delivered = 0, listed = 0;

    for (size_t i = 0; i < msgs.m; i++) {
        lost += s->fate[i] == CR_NONE;
        damaged += s->fate[i] == CR_DAMAGED;
        expired += s->fate[i] == CR_EXPIRED;
        delivered += s->fate[i] == CR_DELIVERED;
        listed += s->fate[i] == CR_LOST;
    }
    y->silent_losses += lost;
    y->quarantined += damaged > 0;
    y->quarantined_msgs += damaged;
    y->expired_msgs += expired;
    y->no_effect += delivered == msgs.m;
    y->delivered += delivered;
    y->undamaged += msgs.m - damaged - expired - listed;
    y->bad_deliveries += s->bad_deliveries;
    y->bad_evidence += s->bad_evidence;
    y->contradictions += s->contradictions;
    y->other_hash += s->other_hash;
    y->lost_by_id += s->lost_by_id;
    y->lost_by_seq += s->lost_by_seq;
    y->lost_unknown += s->lost_unknown;
    if (lost || s->bad_deliveries || s->bad_evidence || s->contradictions ||
        s->lost_unknown)
        printf("# trial %d (%s at %ld): %zu silently lost, %zu bad "
               "deliveries, %zu bad evidence, %zu contradictions, %zu lines "
               "of lost.txt naming none of ours\n", t,
               bit < 0 ? "truncation" : "bit flip", off, lost,
               s->bad_deliveries, s->bad_evidence, s->contradictions,
               s->lost_unknown);
    if (lost || s->bad_deliveries || s->bad_evidence || s->contradictions)
        cr_log_print(log, "store ");
    return lost || s->bad_deliveries || s->bad_evidence || s->contradictions ||
           s->lost_unknown;
}

/* With AM_CORRUPT_KEEP=DIR, a failing trial's pristine folder, damaged
 * file, data folder after the run and relay log are copied to
 * DIR/trial-T for a post-mortem (the test folder itself is removed). */
static void keep_failed(int t)
{
    const char *to = getenv("AM_CORRUPT_KEEP");
    char dst[256], cmd[1024];

    if (to == NULL || *to == '\0')
        return;
    snprintf(dst, sizeof dst, "%s/trial-%d", to, t);
    if (snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp -a '%s/%s' "
                 "'%s/data' '%s/damaged.copy' '%s/trial.log' '%s/'", dst, dir,
                 pristine_dir, dir, dir, dir, dst) >= (int)sizeof cmd ||
        system(cmd) != 0)
        printf("# trial %d: could not keep it under %s\n", t, dst);
    else
        printf("# trial %d: kept under %s\n", t, dst);
}

/* A relay that started on a damaged store salvaged it when it kept a
 * damaged-* folder: its copy of the damaged file must hold the bytes the
 * test wrote, and its lost.txt names what the relay could not read
 * back. */
static void salvaged(int t, const char *data, const char *file,
                     const char *copy, const char *log, tally_t *y,
                     cr_seen_t *seen)
{
    char kept[256], path[320];

    if (!cr_kept_dir(data, kept, sizeof kept))
        return;
    y->salvaged++;
    snprintf(path, sizeof path, "%s/%s", kept, file);
    if (!cr_same_file(path, copy)) {
        y->kept_bad++;
        printf("# trial %d: %s is not the damaged file\n", t, path);
    }
    if (!cr_log_has(log, "store salvage: ")) {
        y->salvage_unlogged++;
        printf("# trial %d: salvaged without saying so\n", t);
    }
    snprintf(path, sizeof path, "%s/lost.txt", kept);
    cr_lost(path, &msgs, seen);
}

static void refused(int t, long off, int bit, const char *log, tally_t *y)
{
    bool said = cr_log_has(log, "DAMAGED") || cr_log_has(log, "EMPTY") ||
                cr_log_has(log, "damaged");

    y->refused++;
    y->refused_silent += !said;
    if (said)
        return;
    printf("# trial %d (%s at %ld): refused without naming the damage (log "
           "%s)\n", t, bit < 0 ? "truncation" : "flip", off, log);
    cr_log_print(log, "amanat-relay");
}

/* The relay's words about a damaged -wal: found, and repaired how. */
static void wal_repairs(const char *log, tally_t *y)
{
    unsigned long long n[4];
    char line[1024];
    const char *at;
    FILE *f = fopen(log, "r");

    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "store.sqlite-wal is DAMAGED") != NULL) {
            y->wal_found++;
            y->wal_header += strstr(line, "its header is damaged") != NULL;
        }
        if ((at = strstr(line, "(restored: ")) != NULL &&
            sscanf(at, "(restored: %llu flipped bits, %llu salts, %llu "
                   "checksum fields; %llu", &n[0], &n[1], &n[2], &n[3]) == 4) {
            y->wal_bits += n[0];
            y->wal_salts += n[1];
            y->wal_sums += n[2];
            y->wal_as_found += n[3];
        }
    }
    if (f != NULL)
        fclose(f);
}

/* One trial: a fresh copy of the pristine folder, damaged at off (bit
 * < 0: cut there), the relay started on it; what each message became
 * into *seen.  Whether the relay started. */
static bool trial_at(int t, const char *file, long off, int bit, tally_t *y,
                     cr_seen_t *seen)
{
    char data[128], pristine[128], path[256], log[128], copy[128];
    int port;
    pid_t pid;

    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(pristine, sizeof pristine, "%s/%s", dir, pristine_dir);
    snprintf(log, sizeof log, "%s/trial.log", dir);
    snprintf(copy, sizeof copy, "%s/damaged.copy", dir);
    assert_int_equal(t_sh("rm -rf '%s'", data), 0);
    assert_int_equal(t_sh("cp -a '%s' '%s'", pristine, data), 0);
    snprintf(path, sizeof path, "%s/%s", data, file);
    cr_damage(path, off, bit);
    assert_int_equal(t_sh("cp '%s' '%s'", path, copy), 0);
    y->trials++;
    y->truncations += bit < 0;
    y->flips += bit >= 0;
    pid = cr_start(log, &port);
    memset(seen, 0, sizeof *seen);
    if (port == 0) {
        refused(t, off, bit, log, y);
        return false;
    }
    cr_collect(port, &msgs, seen);
    if (!cr_stop(pid)) {
        y->unclean_stops++;
        printf("# trial %d (%s at %ld): the relay did not stop cleanly\n", t,
               bit < 0 ? "truncation" : "flip", off);
    }
    salvaged(t, data, file, copy, log, y, seen);
    wal_repairs(log, y);
    if (account(seen, y, t, off, bit, log))
        keep_failed(t);
    return true;
}

/* Trial t of n on file (size bytes, a header of head bytes), with
 * truncations when cuts. */
static void trial(int t, int n, const char *file, long size, long head,
                  bool cuts, tally_t *y)
{
    static cr_seen_t seen;
    long off;
    int bit;

    pick(t, n, size, head, cuts, &off, &bit);
    (void)trial_at(t, file, off, bit, y, &seen);
}

static void report(const tally_t *y, const char *file, long size)
{
    printf("corrupt: %zu trials on %s (%ld KiB; %zu bit flips, %zu "
           "truncations): %zu no effect, %zu with envelopes quarantined "
           "(%zu messages, sender told DAMAGED; %zu of them naming a damaged "
           "hash), %zu messages reported expired, %zu salvaged at start "
           "(%zu messages named lost in lost.txt: %zu by id, %zu by seq; "
           "kept files not as written %zu), %zu refused at start naming the "
           "damage, %zu refused silently; undamaged delivered %zu/%zu "
           "(%.1f%%), silent losses %zu, damaged deliveries %zu, bad "
           "evidence %zu, contradictions %zu, unclean stops %zu\n",
           y->trials, file, size / 1024, y->flips, y->truncations,
           y->no_effect, y->quarantined, y->quarantined_msgs, y->other_hash,
           y->expired_msgs, y->salvaged, y->lost_by_id + y->lost_by_seq,
           y->lost_by_id, y->lost_by_seq, y->kept_bad,
           y->refused - y->refused_silent, y->refused_silent, y->delivered,
           y->undamaged,
           y->undamaged ? 100.0 * (double)y->delivered / (double)y->undamaged
                        : 100.0,
           y->silent_losses, y->bad_deliveries, y->bad_evidence,
           y->contradictions, y->unclean_stops);
}

static void check(const tally_t *y)
{
    assert_int_equal(y->silent_losses, 0);
    assert_int_equal(y->bad_deliveries, 0);
    assert_int_equal(y->bad_evidence, 0);
    assert_int_equal(y->contradictions, 0);
    assert_int_equal(y->refused_silent, 0);
    assert_int_equal(y->unclean_stops, 0);
    assert_int_equal(y->kept_bad, 0);
    assert_int_equal(y->salvage_unlogged, 0);
    assert_int_equal(y->lost_unknown, 0);
    assert_int_equal(y->delivered, y->undamaged);
}

/* The pristine folder, made once for both tests: its store file. */
static char names[4][64];
static long sizes[4];

static void pristine(void)
{
    char data[128], db[192];
    relay_t r;

    if (names[0][0] != '\0') {
        msgs = sets[0];
        pristine_dir = "pristine";
        return;
    }
    r = start_relay();
    fill(r.port);
    stop_relay(&r);
    snprintf(data, sizeof data, "%s/data", dir);
    assert_true(store_files(data, "clean stop", names, sizes) >= 1);
    assert_int_equal(t_sh("cp -a '%s' '%s/pristine'", data, dir), 0);
    snprintf(db, sizeof db, "%s/pristine/store.sqlite", dir);
    cr_seqs(db, &msgs);
    sets[0] = msgs;
}

static void test_corrupt(void **state)
{
    tally_t y = {0};

    (void)state;
    pristine();
    for (int t = 0; t < trials; t++)
        trial(t, trials, names[0], sizes[0], 100, true, &y);
    report(&y, names[0], sizes[0]);
    check(&y);
}

/* Cut in the middle: a salvage, and every message whose pages all lie
 * before the cut delivered. */
static void test_cut_middle(void **state)
{
    static cr_seen_t seen;
    static bool whole[CR_MAX_MSGS];
    char db[192];
    tally_t y = {0};
    size_t n, got = 0;
    long cut;

    (void)state;
    pristine();
    cut = sizes[0] / 2;
    snprintf(db, sizeof db, "%s/pristine/store.sqlite", dir);
    n = cr_before_cut(db, cut, &msgs, whole);
    assert_true(n > 0 && n < msgs.m);
    assert_true(trial_at(-1, names[0], cut, -1, &y, &seen));
    assert_int_equal(y.salvaged, 1);
    for (size_t i = 0; i < msgs.m; i++) {
        got += whole[i] && seen.fate[i] == CR_DELIVERED;
        if (whole[i] && seen.fate[i] != CR_DELIVERED)
            printf("# message %zu (seq %lld) lay before the cut: fate %d\n",
                   i, (long long)msgs.seq[i], seen.fate[i]);
    }
    printf("corrupt: cut at %ld of %ld bytes: salvaged; %zu messages lay "
           "wholly before the cut, %zu of them delivered; all: %zu "
           "delivered, %zu named lost (%zu by id, %zu by seq), %zu "
           "reported damaged, silent losses %zu\n", cut, sizes[0], n, got,
           y.delivered, y.lost_by_id + y.lost_by_seq, y.lost_by_id,
           y.lost_by_seq, y.quarantined_msgs, y.silent_losses);
    assert_int_equal(got, n);
    check(&y);
}

/* The second pristine folder: the relay SIGKILLed after the fill, so
 * that its store's -wal holds the transactions SQLite had not yet
 * checkpointed into the file (acknowledged, so synced in the log). */
static char wal_names[4][64];
static long wal_sizes[4];
static size_t wal_n;

static long size_of(const char *name)
{
    for (size_t i = 0; i < wal_n; i++)
        if (strcmp(wal_names[i], name) == 0)
            return wal_sizes[i];
    return -1;
}

static void pristine_wal(void)
{
    char data[128], db[192];
    relay_t r;
    int status;

    if (wal_n == 0) {
        snprintf(data, sizeof data, "%s/data", dir);
        assert_int_equal(
            t_sh("rm -rf '%s' && mkdir -m 700 '%s'", data, data), 0);
        r = start_relay();
        fill(r.port);
        assert_int_equal(kill(r.pid, SIGKILL), 0);
        assert_int_equal(waitpid(r.pid, &status, 0), r.pid);
        forget_relay(&r);
        wal_n = store_files(data, "crash (SIGKILL)", wal_names, wal_sizes);
        assert_true(size_of("store.sqlite-wal") > 0);
        assert_int_equal(t_sh("cp -a '%s' '%s/pristine-wal'", data, dir), 0);
        /* SQLite's recovery rewrites the -shm: read the seqs from a copy */
        assert_int_equal(
            t_sh("cp -a '%s/pristine-wal' '%s/seqs'", dir, dir), 0);
        snprintf(db, sizeof db, "%s/seqs/store.sqlite", dir);
        cr_seqs(db, &msgs);
        assert_int_equal(t_sh("rm -rf '%s/seqs'", dir), 0);
        sets[1] = msgs;
    }
    msgs = sets[1];
    pristine_dir = "pristine-wal";
}

/* After a crash: bit flips in the -wal (no truncations: a log cut at a
 * frame boundary is a shorter log, as valid as the longer one, and the
 * relay cannot tell), the first in its 32-byte header; and in the -shm,
 * which SQLite rebuilds from the log when the first connection opens
 * (no effect expected).  The same accounting as for the store file. */
static void test_corrupt_wal(void **state)
{
    tally_t y = {0}, z = {0};
    long size;

    (void)state;
    pristine_wal();
    size = size_of("store.sqlite-wal");
    for (int t = 0; t < wal_trials; t++)
        trial(t, wal_trials, "store.sqlite-wal", size, 32, false, &y);
    report(&y, "store.sqlite-wal", size);
    printf("corrupt: the -wal's damage found in %zu trials (SQLite's "
           "recovery would have dropped committed frames; %zu of them its "
           "whole header); frames repaired: %zu flipped bits located and "
           "corrected, %zu salts, %zu checksum fields, %zu applied as found"
           "\n", y.wal_found, y.wal_header, y.wal_bits, y.wal_salts,
           y.wal_sums, y.wal_as_found);
    if ((size = size_of("store.sqlite-shm")) > 0) {
        for (int t = 0; t < shm_trials; t++)
            trial(t, shm_trials, "store.sqlite-shm", size, 136, false, &z);
        report(&z, "store.sqlite-shm", size);
    }
    check(&y);
    check(&z);
}

static int teardown(void **state)
{
    return fx_kill_leftovers(state);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_corrupt, teardown),
        cmocka_unit_test_teardown(test_cut_middle, teardown),
        cmocka_unit_test_teardown(test_corrupt_wal, teardown),
    };
    int rc = fx_args_rounds(argc, argv, 100000, &trials);

    if (rc != 0)
        return rc;
    if (argc > 2) { /* --rounds N: N trials on the log too */
        wal_trials = trials;
        shm_trials = trials / 5 > 0 ? trials / 5 : 1;
    }
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
