/* The allocation-failure build of amanat-relay (amanat-relay-allocfault,
 * tests/faults/alloc.cmake): a test-only binary, never installed, in which
 * the Nth allocation fails.  The production amanat-relay has none of it.
 *
 * Environment, read once at start-up (the network cannot reach it):
 *   AM_ALLOC_FAIL_AT=N  the Nth counted allocation fails, once (1-based;
 *                       unset or 0: none fails, the run only counts)
 *   AM_ALLOC_COUNT=FILE the counters below, kept in FILE while it runs
 *   AM_ALLOC_TRACE=1    a backtrace on stderr where the allocation fails
 *
 * FILE holds AM_ALLOCFAULT_SLOTS native uint64_t, updated live (the
 * relay maps it shared), so the test reads them at any moment, also after
 * a crash. */
#ifndef AM_ALLOC_HOOK_H
#define AM_ALLOC_HOOK_H

enum {
    AM_ALLOCFAULT_TOTAL,   /* counted allocations, every source */
    AM_ALLOCFAULT_PROJECT, /* through am_malloc and friends (proto/alloc.c) */
    AM_ALLOCFAULT_SQLITE,  /* SQLite's, through SQLITE_CONFIG_MALLOC */
    AM_ALLOCFAULT_LIBUV,   /* libuv's, through uv_replace_allocator */
    AM_ALLOCFAULT_FIRED,   /* the number that failed; 0 while none did */
    AM_ALLOCFAULT_SOURCE,  /* its source: one of the three above */
    AM_ALLOCFAULT_SIZE,    /* its size in bytes */
    AM_ALLOCFAULT_SLOTS
};

/* Install the three hooks, unarmed: first thing in main, before SQLite
 * initialises and before libuv allocates.  Counting starts on the event
 * loop's first turn, once the relay listens (start-up is not counted).
 * Returns 0, or -1 with a line on stderr (bad environment, SQLite already
 * initialised, FILE not writable). */
int am_allocfault_install(void);

#endif
