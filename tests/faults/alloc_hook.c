/* The hooks of the allocation-failure build (alloc_hook.h).
 *
 * DESIGN.  Three allocators lead here: the project's (am_alloc_set_hook,
 * proto/alloc.c: proto/, common/ and relay/ allocate through it, and
 * protobuf-c too when given am_pb_unpack's allocator), SQLite's
 * (SQLITE_CONFIG_MALLOC, which must come before sqlite3_initialize) and
 * libuv's (uv_replace_allocator, before libuv allocates).  All three are
 * set first thing in main, while the relay has one thread, and never
 * changed again.  libsodium allocates nothing after start-up, and the
 * relay does not use jansson, so neither is hooked.
 *
 * They count nothing until a 0 ms timer on the default loop fires: the
 * relay's server runs on uv_default_loop(), and libuv runs due timers at
 * the top of each turn, before it polls for I/O, so counting begins once
 * the relay listens and before it accepts anyone.  From then on every
 * allocation, on any thread (the loop, the store thread, libuv's thread
 * pool), takes the next number from one atomic counter; the one numbered
 * AM_ALLOC_FAIL_AT fails, once.  Nothing here allocates: the counters sit
 * in a shared mapping made at start-up, and the report of the failure is
 * written with write(2). */
#include "alloc_hook.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "alloc.h"

static _Atomic uint64_t own_slots[AM_ALLOCFAULT_SLOTS]; /* without FILE */
static _Atomic uint64_t *slots = own_slots;
static atomic_bool armed;
static uint64_t fail_at; /* 0: none; set once, before any thread */
static bool trace;
static sqlite3_mem_methods sq_default;
static uv_timer_t arm_timer;

static const char *const source_name[] = {"", "project", "SQLite", "libuv"};

static void say(const char *line, int len)
{
    if (len > 0)
        (void)!write(2, line, (size_t)len);
}

static void report(uint64_t k, int src, size_t n)
{
    char line[160];
    void *frames[48];
    int len = snprintf(line, sizeof line, "amanat-relay-allocfault: "
                       "allocation %llu (%s, %zu bytes) fails\n",
                       (unsigned long long)k, source_name[src], n);

    say(line, len < (int)sizeof line ? len : (int)sizeof line - 1);
    if (trace)
        backtrace_symbols_fd(frames, backtrace(frames, 48), 2);
}

/* Whether this allocation fails: the counting itself. */
static bool refuse(int src, size_t n)
{
    uint64_t k;

    if (!atomic_load_explicit(&armed, memory_order_acquire))
        return false;
    k = atomic_fetch_add(&slots[AM_ALLOCFAULT_TOTAL], 1) + 1;
    atomic_fetch_add(&slots[src], 1);
    if (k != fail_at)
        return false;
    atomic_store(&slots[AM_ALLOCFAULT_SOURCE], (uint64_t)src);
    atomic_store(&slots[AM_ALLOCFAULT_SIZE], (uint64_t)n);
    atomic_store(&slots[AM_ALLOCFAULT_FIRED], k);
    report(k, src, n);
    return true;
}

static int project_hook(size_t n, void *ctx)
{
    (void)ctx;
    return refuse(AM_ALLOCFAULT_PROJECT, n);
}

static void *sq_malloc(int n)
{
    return n > 0 && refuse(AM_ALLOCFAULT_SQLITE, (size_t)n)
               ? NULL
               : sq_default.xMalloc(n);
}

static void *sq_realloc(void *p, int n)
{
    return n > 0 && refuse(AM_ALLOCFAULT_SQLITE, (size_t)n)
               ? NULL
               : sq_default.xRealloc(p, n);
}

static void *uv_malloc_hook(size_t n)
{
    return refuse(AM_ALLOCFAULT_LIBUV, n) ? NULL : malloc(n);
}

static void *uv_realloc_hook(void *p, size_t n)
{
    return refuse(AM_ALLOCFAULT_LIBUV, n) ? NULL : realloc(p, n);
}

static void *uv_calloc_hook(size_t count, size_t size)
{
    return refuse(AM_ALLOCFAULT_LIBUV, count * size) ? NULL
                                                     : calloc(count, size);
}

static void on_arm(uv_timer_t *t)
{
    (void)t;
    atomic_store_explicit(&armed, true, memory_order_release);
}

/* The figures, on stderr at a clean exit (the file has them anyway). */
static void summary(void)
{
    char line[256];
    int len = snprintf(
        line, sizeof line, "amanat-relay-allocfault: %llu allocations "
        "counted (project %llu, SQLite %llu, libuv %llu); failed: %llu\n",
        (unsigned long long)slots[AM_ALLOCFAULT_TOTAL],
        (unsigned long long)slots[AM_ALLOCFAULT_PROJECT],
        (unsigned long long)slots[AM_ALLOCFAULT_SQLITE],
        (unsigned long long)slots[AM_ALLOCFAULT_LIBUV],
        (unsigned long long)slots[AM_ALLOCFAULT_FIRED]);

    say(line, len < (int)sizeof line ? len : (int)sizeof line - 1);
}

static int fail(const char *what)
{
    fprintf(stderr, "amanat-relay-allocfault: %s\n", what);
    return -1;
}

static int read_env(void)
{
    const char *v = getenv("AM_ALLOC_FAIL_AT");
    char *end;

    if (v != NULL && *v != '\0') {
        errno = 0;
        fail_at = strtoull(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || errno != 0)
            return fail("AM_ALLOC_FAIL_AT: not a number");
    }
    v = getenv("AM_ALLOC_TRACE");
    trace = v != NULL && strcmp(v, "1") == 0;
    if (trace) { /* its first call loads libgcc: not while failing */
        void *f[2];
        (void)backtrace(f, 2);
    }
    return 0;
}

/* The counters in FILE, shared, so the test reads them live. */
static int map_counts(void)
{
    const char *path = getenv("AM_ALLOC_COUNT");
    size_t size = sizeof own_slots;
    void *m;
    int fd;

    if (path == NULL || *path == '\0')
        return 0;
    if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return fail("AM_ALLOC_COUNT: cannot create the file");
    if (ftruncate(fd, (off_t)size) != 0 ||
        (m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED) {
        close(fd);
        return fail("AM_ALLOC_COUNT: cannot map the file");
    }
    close(fd); /* the mapping stays until the process ends */
    slots = m;
    return 0;
}

static int hook_sqlite(void)
{
    sqlite3_mem_methods m;

    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sq_default) != SQLITE_OK)
        return fail("cannot read SQLite's allocator");
    m = sq_default;
    m.xMalloc = sq_malloc;
    m.xRealloc = sq_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK)
        return fail("cannot set SQLite's allocator (initialised already?)");
    return 0;
}

int am_allocfault_install(void)
{
    uv_loop_t *loop;

    if (read_env() != 0 || map_counts() != 0 || hook_sqlite() != 0)
        return -1;
    if (uv_replace_allocator(uv_malloc_hook, uv_realloc_hook, uv_calloc_hook,
                             free) != 0)
        return fail("cannot set libuv's allocator");
    am_alloc_set_hook(project_hook, NULL);
    if ((loop = uv_default_loop()) == NULL ||
        uv_timer_init(loop, &arm_timer) != 0 ||
        uv_timer_start(&arm_timer, on_arm, 0, 0) != 0)
        return fail("cannot start the arming timer");
    if (atexit(summary) != 0)
        return fail("cannot register the summary");
    fprintf(stderr, "amanat-relay-allocfault: allocation %llu will fail "
            "(0: none); counting from the loop's first turn\n",
            (unsigned long long)fail_at);
    return 0;
}
