/* The relay's memory, descriptors and CPU time, read from /proc; a thread
 * that samples them while the attacks run, keeping the maxima.
 *
 * DESIGN: one sampler thread writes the figures under a mutex; the main
 * thread reads a copy (hx_sampler_read) and resets the maxima between
 * rounds.  A sample every 20 ms catches the peak of 1,000 connections,
 * which the relay holds for a whole handshake timeout (seconds). */
#include "hostile.h"
#include "proc_stat.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t hx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hx_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* "Key:   1234 kB" lines of /proc/PID/status. */
static bool status_kib(const char *line, const char *key, long *out)
{
    size_t n = strlen(key);
    char *end;
    long v;

    if (strncmp(line, key, n) != 0)
        return false;
    errno = 0;
    v = strtol(line + n, &end, 10);
    if (errno != 0 || end == line + n || v < 0)
        return false;
    *out = v;
    return true;
}

int hx_proc_mem(pid_t pid, long *rss_kib, long *hwm_kib)
{
    char path[64], line[256];
    long rss = -1, hwm = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (!status_kib(line, "VmRSS:", &rss))
            (void)status_kib(line, "VmHWM:", &hwm);
    fclose(f);
    if (rss < 0 || hwm < 0)
        return -1;
    *rss_kib = rss;
    *hwm_kib = hwm;
    return 0;
}

int hx_proc_fds(pid_t pid)
{
    char path[64];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* utime + stime of the whole process. */
int hx_proc_cpu(pid_t pid, unsigned long long *ticks)
{
    char path[64];
    uint64_t t;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (proc_stat_ticks(path, &t) != 0)
        return -1;
    *ticks = t;
    return 0;
}

/* /proc/net/tcp: for a listening socket (state 0A) the rx_queue column
 * is its accept queue, connections the kernel completed that the relay
 * has not yet accepted. */
int hx_accept_queue(int port)
{
    char line[512], want[32];
    unsigned long tx, rx;
    int n = -1;
    FILE *f;

    if ((f = fopen("/proc/net/tcp", "r")) == NULL)
        return -1;
    snprintf(want, sizeof want, "0100007F:%04X 00000000:0000 0A ", port);
    while (n < 0 && fgets(line, sizeof line, f) != NULL) {
        char *p = strstr(line, want);

        if (p != NULL &&
            sscanf(p + strlen(want), "%lx:%lx", &tx, &rx) == 2)
            n = (int)rx;
    }
    fclose(f);
    return n;
}

static void *sample_loop(void *arg)
{
    hx_sampler_t *s = arg;
    long rss = 0, hwm = 0;
    int fds = -1;

    while (!atomic_load(&s->stop)) {
        bool ok = hx_proc_mem(s->pid, &rss, &hwm) == 0 &&
                  (fds = hx_proc_fds(s->pid)) >= 0;

        pthread_mutex_lock(&s->mu);
        if (!ok) {
            s->failed = true;
        } else {
            s->rss_kib = rss;
            s->fds = fds;
            if (rss > s->rss_max_kib)
                s->rss_max_kib = rss;
            if (fds > s->fds_max)
                s->fds_max = fds;
            s->samples++;
        }
        pthread_mutex_unlock(&s->mu);
        hx_sleep_ms(20);
    }
    return NULL;
}

int hx_sampler_start(hx_sampler_t *s, pid_t pid)
{
    memset(s, 0, sizeof *s);
    s->pid = pid;
    atomic_init(&s->stop, false);
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return -1;
    if (pthread_create(&s->thread, NULL, sample_loop, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        return -1;
    }
    return 0;
}

int hx_sampler_stop(hx_sampler_t *s)
{
    int rc;

    atomic_store(&s->stop, true);
    if ((rc = pthread_join(s->thread, NULL)) != 0)
        return rc;
    return pthread_mutex_destroy(&s->mu);
}

void hx_sampler_reset(hx_sampler_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->rss_max_kib = s->rss_kib;
    s->fds_max = s->fds;
    pthread_mutex_unlock(&s->mu);
}

void hx_sampler_read(hx_sampler_t *s, hx_sampler_t *out)
{
    pthread_mutex_lock(&s->mu);
    out->rss_kib = s->rss_kib;
    out->rss_max_kib = s->rss_max_kib;
    out->fds = s->fds;
    out->fds_max = s->fds_max;
    out->samples = s->samples;
    out->failed = s->failed;
    pthread_mutex_unlock(&s->mu);
}
