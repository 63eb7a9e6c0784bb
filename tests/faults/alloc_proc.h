/* Processes of the allocation-failure test: amanat-relay-allocfault
 * started on 127.0.0.1 with the test federation's files (relay_fixture.h)
 * and its own data folder, its standard error kept in a file, stopped
 * with SIGTERM, and how it ended.  Every process started here is stopped
 * by ap_stop or, if a test fails midway, by ap_kill_all. */
#ifndef AM_ALLOC_PROC_H
#define AM_ALLOC_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "alloc_hook.h"

typedef struct {
    pid_t pid;
    int port;
    char log[128];    /* its standard error */
    char counts[128]; /* AM_ALLOC_COUNT; "" for none */
} ap_relay_t;

/* How a relay ended. */
typedef enum {
    AP_CLEAN,   /* exit 0 */
    AP_LEAK,    /* LeakSanitizer's report */
    AP_CRASH,   /* a signal, or a sanitizer's error report */
    AP_UNCLEAN, /* another exit code */
    AP_HUNG     /* still running 10 s after SIGTERM: killed */
} ap_end_t;

extern const char *const ap_end_name[];

/* Start bin with data folder data (created by the relay), AM_ALLOC_FAIL_AT
 * fail_at (0: none fails), counters in counts (NULL: none) and standard
 * error in log; wait at most 10 s for "listening".  Handshakes run on the
 * thread pool when fail_at is odd, on the event loop when it is even.  Returns 0, or -1 with
 * the reason printed (the process is stopped then). */
int ap_start(const char *bin, const char *data, uint64_t fail_at,
             const char *counts, const char *log, ap_relay_t *r);

/* The relay's counters, as they stand (alloc_hook.h); 0 or -1. */
int ap_counts(const ap_relay_t *r, uint64_t out[AM_ALLOCFAULT_SLOTS]);

/* SIGTERM, then wait for it to end (10 s at most, then SIGKILL).  A relay
 * that ended by itself before is reaped the same way. */
ap_end_t ap_stop(ap_relay_t *r, int *status);

/* Print the last lines of the relay's standard error, indented. */
void ap_print_log(const ap_relay_t *r, int lines);

/* SIGKILL and reap whatever ap_start started and ap_stop did not stop. */
void ap_kill_all(void);

#endif
