/* utime + stime from a /proc stat file, for the tests and benchmarks that
 * watch a relay's CPU (tests/faults/hostile_proc.c,
 * tests/bench/relay_bench_proc.c). */
#ifndef AM_TEST_PROC_STAT_H
#define AM_TEST_PROC_STAT_H

#include <stdint.h>

/* path: /proc/PID/stat or /proc/PID/task/TID/stat.  0, or -1 when it
 * cannot be read or parsed. */
int proc_stat_ticks(const char *path, uint64_t *ticks);

#endif
