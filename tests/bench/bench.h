/* Helpers shared by the benchmarks: the timing loop, the clock, the
 * --seconds option, error reports and the lines that describe the host.
 *
 * Every function that reports on stderr takes the program's name (prog,
 * "noise_bench") to begin its line with, so that a benchmark's messages
 * read the same whichever helper printed them.
 */
#ifndef AM_BENCH_H
#define AM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One operation of a measurement; checked runs compare outputs and are
 * outside the timed window.  Returns 0, or the error already reported. */
typedef int (*bench_op_cb)(void *ctx, bool checked);

/* What a timed run did: ops operations in secs seconds of wall time. */
typedef struct {
    uint64_t ops;
    double secs;
} bench_run_t;

/* Reports "prog: what: ..." on stderr: am_strerror(rc) and the library's
 * last sentence (am_err_detail) when rc is negative, "check failed"
 * otherwise.  Returns rc when negative, else AM_EINVAL, so that a check
 * reads: return bench_fail(prog, "hashes differ", 1). */
int bench_fail(const char *prog, const char *what, int rc);

/* *t = CLOCK_MONOTONIC in seconds.  AM_EINVAL (reported) when the clock
 * cannot be read; *t is then untouched. */
int bench_now(const char *prog, double *t);

/* One checked op, then timed batches of ops until seconds of wall time
 * have passed, then one more checked op.  *out is set only on success;
 * the first failing op's code is returned as is (it has reported). */
int bench_run_for(const char *prog, bench_op_cb op, void *ctx,
                  double seconds, bench_run_t *out);

/* "model name" of the first CPU from /proc/cpuinfo into out (cap bytes,
 * NUL-terminated), or "unknown" (some ARM kernels omit it). */
void bench_cpu_model(char *out, size_t cap);

/* Prints the host's lines of a benchmark's header: "cpu:", "cores:" and
 * "time:" (seconds per measurement), each ending in one newline. */
void bench_print_host(double seconds);

/* The same lines with another sentence after the count of cores, for a
 * benchmark whose figures do not come from one thread on one core. */
void bench_print_host_note(double seconds, const char *cores_note);

/* Parses [--seconds S], S in (0, 3600], into *seconds (left as is when
 * the option is absent).  On a bad value or argument prints the reason or
 * the usage on stderr and returns -1; the caller exits 2. */
int bench_parse_seconds(const char *prog, int argc, char **argv,
                        double *seconds);

#endif
