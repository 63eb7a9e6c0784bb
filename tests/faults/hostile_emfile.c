/* The relay out of file descriptors.  Its soft RLIMIT_NOFILE is lowered
 * from outside (prlimit) to a few descriptors above what it holds, then:
 *
 *   burst:  many connections at once.  accept() fails with EMFILE; the
 *           relay must shed the surplus (libuv closes its spare
 *           descriptor, accepts and closes what is queued, and takes the
 *           spare back) and hold the rest until the handshake timeout.
 *   storm:  connections arriving without pause while SIGHUP makes the
 *           relay reload its certificates on the thread pool every 1 ms.
 *           A reload opening a file can take libuv's spare descriptor in
 *           the instant it is free; libuv then retries accept() in a loop
 *           for as long as a connection is queued, and the relay spun
 *           there for good (fixed in relay/server.c: the relay stops
 *           listening for a moment).  Before the fix this reproduced
 *           within a second or two of storm on 2 cores.
 *   quiet:  a second with no connections: a spinning relay burns a whole
 *           core, an idle one nothing; and the connections held since the
 *           burst must be closed by the handshake timeout, which no
 *           spinning loop ever runs.
 *
 * The limit is put back at the end whatever happened, so that a failed
 * check never leaves the relay crippled. */
#define _GNU_SOURCE /* prlimit */
#include "hostile.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define WINDOW_MS 1000 /* shed at once, or held until the timeout */
#define HUP_EVERY_MS 1
#define STORM_BATCH 32

static void burst(hx_emfile_t *e)
{
    char src[32];

    for (int i = 0; i < e->n; i++) {
        /* 50 per address: under the per-address handshake limit */
        snprintf(src, sizeof src, "127.0.0.%d", 40 + i / 50);
        if ((e->fd[i] = hx_connect_from(src, e->port, 3000)) < 0)
            e->failed++;
        else
            e->opened++;
        if (i % 16 == 15)
            hx_pace(e->port);
    }
}

/* The relay's CPU time over ms of waiting, as a share of one core. */
static int cpu_over(hx_emfile_t *e, int64_t ms, double *share)
{
    unsigned long long c0, c1;
    long hz = sysconf(_SC_CLK_TCK);
    int64_t t0 = hx_now_ms();

    if (hz <= 0 || hx_proc_cpu(e->pid, &c0) != 0)
        return -1;
    hx_sleep_ms(ms);
    if (hx_proc_cpu(e->pid, &c1) != 0)
        return -1;
    *share = (double)(c1 - c0) / (double)hz /
             ((double)(hx_now_ms() - t0) / 1e3);
    return 0;
}

static int limit_relay(hx_emfile_t *e)
{
    struct rlimit low;
    int fds = hx_proc_fds(e->pid);

    if (fds < 0 || prlimit(e->pid, RLIMIT_NOFILE, NULL, &e->old) != 0)
        return -1;
    low.rlim_cur = (rlim_t)(fds + e->room);
    low.rlim_max = e->old.rlim_max;
    if (low.rlim_cur > e->old.rlim_cur ||
        prlimit(e->pid, RLIMIT_NOFILE, &low, NULL) != 0)
        return -1;
    e->limited = true;
    e->fds_before = fds;
    e->limit = (int)low.rlim_cur;
    return 0;
}

int hx_emfile_begin(hx_emfile_t *e)
{
    if ((e->fd = calloc((size_t)e->n, sizeof *e->fd)) == NULL) {
        snprintf(e->why, sizeof e->why, "out of memory");
        return -1;
    }
    for (int i = 0; i < e->n; i++)
        e->fd[i] = -1;
    if (limit_relay(e) != 0) {
        snprintf(e->why, sizeof e->why, "cannot lower the relay's descriptor "
                 "limit: %s", strerror(errno));
        return -1;
    }
    e->t_burst = hx_now_ms();
    burst(e);
    if (cpu_over(e, WINDOW_MS, &e->cpu_burst) != 0) {
        snprintf(e->why, sizeof e->why, "cannot read the relay's CPU time");
        return -1;
    }
    e->fds_at_limit = hx_proc_fds(e->pid);
    for (int i = 0; i < e->n; i++)
        if (e->fd[i] >= 0 && hx_wait_closed(e->fd[i], 0)) {
            e->shed++;
            close(e->fd[i]);
            e->fd[i] = -1;
        }
    return 0;
}

static void *hupper(void *arg)
{
    hx_emfile_t *e = arg;

    while (!atomic_load(&e->hup_stop)) {
        if (kill(e->pid, SIGHUP) == 0)
            e->hups++;
        hx_sleep_ms(HUP_EVERY_MS);
    }
    return NULL;
}

int hx_emfile_storm(hx_emfile_t *e)
{
    pthread_t t;
    int64_t end;
    int fd[STORM_BATCH];

    atomic_init(&e->hup_stop, false);
    if (pthread_create(&t, NULL, hupper, e) != 0) {
        snprintf(e->why, sizeof e->why, "no thread for SIGHUP");
        return -1;
    }
    for (end = hx_now_ms() + e->storm_ms; hx_now_ms() < end;) {
        /* queued together, so that libuv's spare stays closed longer */
        for (int i = 0; i < STORM_BATCH; i++, e->storm_tries++)
            fd[i] = hx_connect_from("127.0.0.60", e->port, 200);
        for (int i = 0; i < STORM_BATCH; i++)
            if (fd[i] >= 0)
                close(fd[i]);
    }
    atomic_store(&e->hup_stop, true);
    if (pthread_join(t, NULL) != 0) {
        snprintf(e->why, sizeof e->why, "SIGHUP thread not joined");
        return -1;
    }
    if (cpu_over(e, WINDOW_MS, &e->cpu_quiet) != 0) {
        snprintf(e->why, sizeof e->why, "cannot read the relay's CPU time");
        return -1;
    }
    return 0;
}

int hx_emfile_end(hx_emfile_t *e)
{
    int64_t end = e->t_burst + e->hs_ms + 3000; /* one deadline for all */
    int rc = 0;

    /* still limited: only a loop that runs its timers closes them */
    for (int i = 0; e->fd != NULL && i < e->n; i++)
        if (e->fd[i] >= 0)
            e->held_closed += hx_wait_closed(
                e->fd[i], end > hx_now_ms() ? (int)(end - hx_now_ms()) : 0);
    if (e->limited && prlimit(e->pid, RLIMIT_NOFILE, &e->old, NULL) != 0) {
        snprintf(e->why, sizeof e->why, "cannot restore the relay's "
                 "descriptor limit: %s", strerror(errno));
        rc = -1;
    }
    e->limited = false;
    for (int i = 0; e->fd != NULL && i < e->n; i++)
        if (e->fd[i] >= 0)
            close(e->fd[i]);
    free(e->fd);
    e->fd = NULL;
    return rc;
}
