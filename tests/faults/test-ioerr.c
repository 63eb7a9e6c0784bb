/* I/O errors (issue 9, item 3): ENOSPC and EIO injected at the Nth write,
 * fsync, open and rename of the relay's files (the ioerr.c shim), for N
 * over a short submit-and-deliver run (ioerr_run.h), on a new store and on
 * an existing one; then a real full disk (ioerr_disk.c).  In every run:
 * a submit is acknowledged only if it was stored; a failed fsync of the
 * store stops the relay (exit non-zero, a log line naming the failure),
 * never passes as success; the relay, restarted without faults, opens the
 * store and delivers every envelope acknowledged (in the run or before
 * it), once.  Prints one line of figures per store, call and errno.
 *
 * Per kind of store, first a run that only counts the calls (C of each);
 * then, per call and errno, the runs failing call N.  Short mode (the
 * ctest): rounds[] points per call and errno, evenly spread over 1..C,
 * ENOSPC and EIO on alternate points (so both together cover twice as
 * many, 1 and C among them).  By hand: --rounds R for R points each, or
 * --every for every N with both errnos (the long mode, some minutes).
 * usage: test-ioerr RELAY SHIM [--rounds R | --every] [--ops write,...]
 *                   [--store new|existing] [--no-disk] [--at N] [-v]
 * --at N fails call N only (of the --ops given), to look at one case;
 * -v prints a line per run: the shim's line and the relay's. */
#include "../unit/test-util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "ioerr_disk.h"
#include "ioerr_relay.h"
#include "ioerr_run.h"
#include "relay_fixture.h"

static const char *const errnos[] = {"ENOSPC", "EIO"};
static const char *const kinds[] = {"new store", "existing store"};
static bool kind_on[2] = {true, true};

/* Short mode's points per call and errno: 52 runs per kind of store, 104
 * in all (about 30 s; 36 s under ASan), most on write and fsync, the
 * calls that commit; rename has 2 calls, both always run. */
static unsigned rounds[IO_NOPS] = {9, 9, 6, 2};
static bool every, no_disk, op_on[IO_NOPS] = {true, true, true, true};
static unsigned long at_n; /* --at N: that N only (with --ops), to look */
static bool verbose;       /* -v: one line per run */
static io_paths_t paths;

typedef struct {
    unsigned runs, reached, listened, refused, stopped, went_on, restarted;
    unsigned went_at_stop, went_folder, went_other, went_store;
    unsigned acked, errors, unavailable, lost_conn, rx_ended, stored_unacked,
        error_stored, redelivered, lost, duplicated, violations;
    unsigned before;
    unsigned long n_lo, n_hi;
} agg_t;

static void add(agg_t *a, const io_result_t *r, unsigned long n)
{
    int st = r->status;

    a->n_lo = a->runs == 0 || n < a->n_lo ? n : a->n_lo;
    a->n_hi = n > a->n_hi ? n : a->n_hi;
    a->runs++;
    a->reached += r->injected;
    a->restarted += r->restarted;
    if (r->start == IO_START_REFUSED)
        a->refused++;
    else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        a->stopped++;
    else if (r->injected) {
        a->went_on++;
        a->went_at_stop += !r->during;
        a->went_folder += r->during && r->folder;
        a->went_other += r->during && !r->folder && !r->store_file;
        a->went_store += r->during && r->store_file;
    }
    a->acked += r->acked;
    a->before += r->before;
    a->errors += r->errors;
    a->unavailable += r->unavailable;
    a->lost_conn += r->lost_conn;
    a->rx_ended += r->rx_ended;
    a->stored_unacked += r->stored_unacked;
    a->error_stored += r->error_stored;
    a->redelivered += r->redelivered;
    a->lost += r->lost;
    a->duplicated += r->duplicated;
    a->violations += r->violations;
}

static void print_agg(int kind, int op, const char *err, const agg_t *a)
{
    printf("ioerr: %s, %s %s N=%lu..%lu, %u runs (%u reached the fault): "
           "acked %u (and %u before), error frames %u (unavailable %u), "
           "connection lost %u, receiving sessions ended %u; delivered "
           "unacked %u (after an error frame "
           "%u), redelivered %u; lost %u, duplicated %u, violations %u\n"
           "    relay stopped itself %u, refused to start %u, went on %u (at "
           "the stop %u, folder syncs SQLite ignores %u, other files %u, "
           "store %u); restarted clean %u/%u\n",
           kinds[kind], io_op_names[op], err, a->n_lo, a->n_hi, a->runs,
           a->reached, a->acked, a->before, a->errors, a->unavailable,
           a->lost_conn, a->rx_ended, a->stored_unacked, a->error_stored,
           a->redelivered,
           a->lost, a->duplicated, a->violations, a->stopped, a->refused,
           a->went_on, a->went_at_stop, a->went_folder, a->went_other,
           a->went_store, a->restarted, a->runs);
    fflush(stdout);
}

/* The N to fail for call count c, errno e (0 or 1), r points (0: all). */
static size_t points(unsigned long c, int e, unsigned r, unsigned long *ns,
                     size_t cap)
{
    size_t k = 0;

    for (unsigned long i = 0; (r == 0 || c <= r) && i < c && k < cap; i++)
        ns[k++] = i + 1;
    for (unsigned i = 0; r != 0 && c > r && i < r && k < cap; i++) {
        unsigned long n = 1 + ((2 * i + (unsigned)e) * (c - 1)) / (2 * r - 1);

        if (k == 0 || ns[k - 1] != n)
            ns[k++] = n;
    }
    return k;
}

static void print_run(int op, int e, unsigned long n, const io_result_t *r)
{
    printf("  %s %s N=%lu: %s, status %d, acked %u, errors %u, lost "
           "connection %u, redelivered %u: %s%s%s\n", io_op_names[op],
           errnos[e], n, r->start == IO_START_REFUSED ? "refused to start"
           : r->during ? "fault before the stop" : "fault at the stop",
           r->status, r->acked, r->errors, r->lost_conn, r->redelivered,
           r->injected ? r->where : "not reached",
           r->fault_logged ? "\n    " : "", r->said);
}

static void sweep(int kind, int op, int e, unsigned long c, agg_t *total)
{
    static unsigned long ns[4096];
    io_fault_t f = {.shim = true, .op = op, .err = errnos[e]};
    size_t n = at_n ? 1 : points(c, e, every ? 0 : rounds[op], ns, 4096);
    agg_t a = {0};
    io_result_t r;

    for (size_t i = 0; i < n; i++) {
        f.n = at_n ? at_n : ns[i];
        io_run(&paths, &f, kind == 1, &r);
        add(&a, &r, f.n);
        if (verbose)
            print_run(op, e, f.n, &r);
        if (r.violations > 0)
            printf("ioerr: %s, %s %s N=%lu: %s\n  %s\n", kinds[kind],
                   io_op_names[op], errnos[e], f.n, r.violation,
                   r.injected ? r.where : "(the fault was not reached)");
    }
    if (n > 0)
        print_agg(kind, op, errnos[e], &a);
    total->runs += a.runs;
    total->lost += a.lost;
    total->duplicated += a.duplicated;
    total->violations += a.violations;
    total->acked += a.acked;
}

/* A run that only counts, then the faults, on one kind of store. */
static void sweep_kind(int kind, agg_t *total)
{
    io_fault_t count = {.shim = true, .op = -1};
    io_result_t r;

    io_run(&paths, &count, kind == 1, &r);
    printf("ioerr: %s: a run without faults makes %lu writes, %lu fsyncs, "
           "%lu opens, %lu renames under %s; acked %u (and %u before), "
           "delivered %u, lost %u\n", kinds[kind], r.counts[IO_WRITE],
           r.counts[IO_FSYNC], r.counts[IO_OPEN], r.counts[IO_RENAME],
           paths.io, r.acked, r.before, r.delivered, r.lost);
    if (r.violations > 0)
        fail_msg("without faults: %s", r.violation);
    assert_int_equal(r.acked, IO_SENDERS * IO_PER_SENDER + 1);
    assert_int_equal(r.delivered, r.acked + r.before);
    /* the shim must see each kind of call, or it watches nothing */
    for (int op = 0; op < IO_NOPS; op++)
        assert_true(r.counts[op] > 0);
    for (int op = 0; op < IO_NOPS; op++)
        for (int e = 0; e < 2 && op_on[op]; e++)
            sweep(kind, op, e, r.counts[op], total);
}

static void test_sweep(void **state)
{
    agg_t total = {0};
    time_t t0 = time(NULL);

    (void)state;
    for (int kind = 0; kind < 2; kind++)
        if (kind_on[kind])
            sweep_kind(kind, &total);
    printf("ioerr: %u runs in %lld s: acked %u, lost %u, duplicated %u, "
           "violations %u\n", total.runs, (long long)(time(NULL) - t0),
           total.acked, total.lost, total.duplicated, total.violations);
    assert_true(total.runs > 0);
    assert_int_equal(total.lost, 0);
    assert_int_equal(total.duplicated, 0);
    assert_int_equal(total.violations, 0);
}

static void test_disk(void **state)
{
    (void)state;
    if (no_disk) {
        printf("ioerr: full disk: not run (--no-disk)\n");
        return;
    }
    io_full_disk(&paths);
}

static int parse_ops(const char *list)
{
    for (int op = 0; op < IO_NOPS; op++)
        op_on[op] = false;
    for (const char *at = list; *at != '\0';) {
        size_t len = strcspn(at, ",");
        int found = -1;

        for (int op = 0; op < IO_NOPS; op++)
            if (strlen(io_op_names[op]) == len &&
                strncmp(at, io_op_names[op], len) == 0)
                found = op;
        if (found < 0)
            return -1;
        op_on[found] = true;
        at += len + (at[len] == ',');
    }
    return 0;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 3; i < argc; i++) {
        char *end;
        long v;

        if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--every") == 0) {
            every = true;
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            kind_on[0] = strcmp(argv[++i], "new") == 0;
            kind_on[1] = strcmp(argv[i], "existing") == 0;
            if (!kind_on[0] && !kind_on[1])
                return -1;
        } else if (strcmp(argv[i], "--no-disk") == 0) {
            no_disk = true;
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            if (parse_ops(argv[++i]) != 0)
                return -1;
        } else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc &&
                   (v = strtol(argv[i + 1], &end, 10)) > 0 && *end == '\0') {
            at_n = (unsigned long)v;
            i++;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc &&
                   (v = strtol(argv[i + 1], &end, 10)) > 0 && *end == '\0' &&
                   v <= 4096) {
            for (int op = 0; op < IO_NOPS; op++)
                rounds[op] = (unsigned)v;
            i++;
        } else {
            return -1;
        }
    }
    return 0;
}

/* The runs' folders are on a tmpfs when there is one: the faults are
 * injected, not real, and a disk's fsync would only cost time (seconds,
 * on a busy CI disk).  The full disk mounts its own. */
static char runs_dir[64];

static int setup(void **state)
{
    if (fx_federation(state) != 0)
        return -1;
    snprintf(runs_dir, sizeof runs_dir, "/dev/shm/amanat-ioerr-XXXXXX");
    if (mkdtemp(runs_dir) == NULL)
        snprintf(runs_dir, sizeof runs_dir, "%s", dir);
    snprintf(paths.io, sizeof paths.io, "%s/io", runs_dir);
    snprintf(paths.data, sizeof paths.data, "%s/data", paths.io);
    snprintf(paths.certs, sizeof paths.certs, "%s/certs", paths.io);
    snprintf(paths.count, sizeof paths.count, "%s/counts", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    if (strcmp(runs_dir, dir) != 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", runs_dir);
        if (system(cmd) != 0)
            return -1;
    }
    return fx_cleanup(state);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sweep, io_relay_kill_all),
        cmocka_unit_test_teardown(test_disk, io_full_disk_teardown),
    };

    if (argc < 3 || parse_args(argc, argv) != 0) {
        fprintf(stderr, "usage: %s RELAY SHIM [--rounds R | --every] "
                "[--ops write,fsync,open,rename] [--store new|existing] [--no-disk] "
                "[--at N] [-v]\n", argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    paths.shim = argv[2];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
