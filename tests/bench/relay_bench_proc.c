/* relay_bench: the operating system's side: the relays killed on signals
 * and at exit, readings from /proc (memory, CPU time per thread), an fsync
 * probe of the store's disk, folders removed, a program's output read. */
#define _GNU_SOURCE /* nftw */

#include "relay_bench.h"
#include "proc_stat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t rb_interrupted;
/* the running relays, 0 in a free slot (read by the signal handler) */
static volatile pid_t guard_pids[RB_MAX_RELAYS];
static double other_max; /* the most other processes used in a row */

void rb_guard_add(pid_t pid)
{
    for (size_t i = 0; i < RB_MAX_RELAYS; i++)
        if (guard_pids[i] <= 0) {
            guard_pids[i] = pid;
            return;
        }
    /* more relays than slots: a bug of the bench, and one unguarded */
    fprintf(stderr, "%s: relay %d is not killed at exit\n", RB_PROG,
            (int)pid);
}

void rb_guard_remove(pid_t pid)
{
    for (size_t i = 0; i < RB_MAX_RELAYS; i++)
        if (guard_pids[i] == pid)
            guard_pids[i] = 0;
}

static void on_signal(int sig)
{
    (void)sig;
    for (size_t i = 0; i < RB_MAX_RELAYS; i++) {
        pid_t pid = guard_pids[i];

        if (pid > 0)
            (void)kill(pid, SIGKILL); /* async-signal-safe */
    }
    rb_interrupted = 1;
}

static void at_exit_kill(void)
{
    for (size_t i = 0; i < RB_MAX_RELAYS; i++) {
        pid_t pid = guard_pids[i];

        if (pid > 0) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, NULL, 0);
            guard_pids[i] = 0;
        }
    }
}

void rb_install_guards(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            fprintf(stderr, "%s: sigaction: %s\n", RB_PROG, strerror(errno));
    sa.sa_handler = SIG_IGN; /* sockets are written with MSG_NOSIGNAL too */
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        fprintf(stderr, "%s: sigaction: %s\n", RB_PROG, strerror(errno));
    if (atexit(at_exit_kill) != 0)
        fprintf(stderr, "%s: atexit failed\n", RB_PROG);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "%s: remove %s: %s\n", RB_PROG, path, strerror(errno));
    return 0;
}

int rb_rmtree(const char *dir)
{
    struct stat st;

    if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return -1;
    return lstat(dir, &st) == 0 ? -1 : 0;
}

static int read_child(int fd, pid_t pid, char *out, size_t cap, size_t *len)
{
    uint64_t end = rb_now() + 5 * RB_NS;
    int rc = -1;

    *len = 0;
    while (*len + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        uint64_t now = rb_now();
        ssize_t got;

        if (now >= end || poll(&p, 1, (int)((end - now) / 1000000 + 1)) <= 0)
            break; /* no end of output within 5 s */
        if ((got = read(fd, out + *len, cap - 1 - *len)) <= 0) {
            rc = 0; /* end of output */
            break;
        }
        *len += (size_t)got;
    }
    if (*len + 1 >= cap)
        rc = 0; /* enough read */
    out[*len] = '\0';
    (void)kill(pid, SIGKILL); /* it has nothing more to say */
    (void)waitpid(pid, NULL, 0);
    return rc;
}

int rb_run_capture(const char *prog, const char *arg, char *out, size_t cap,
                   size_t *len)
{
    int fds[2], rc;
    pid_t pid;

    if (pipe(fds) != 0) {
        fprintf(stderr, "%s: pipe: %s\n", RB_PROG, strerror(errno));
        return -1;
    }
    if ((pid = fork()) == 0) {
        if (dup2(fds[1], 1) < 0)
            _exit(126);
        close(fds[0]);
        close(fds[1]);
        execl(prog, prog, arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        fprintf(stderr, "%s: fork: %s\n", RB_PROG, strerror(errno));
        return -1;
    }
    rc = read_child(fds[0], pid, out, cap, len);
    close(fds[0]);
    if (rc != 0)
        fprintf(stderr, "%s: %s %s did not answer\n", RB_PROG, prog, arg);
    return rc;
}

bool rb_relay_log_has(const rb_fed_t *fed, const char *text)
{
    char line[1024];
    FILE *f = fopen(fed->log, "r");
    bool found = false;

    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

void rb_relay_log_tail(const rb_fed_t *fed, size_t lines)
{
    char buf[8192];
    FILE *f = fopen(fed->log, "r");
    size_t n = 0, seen = 0;
    long size;
    char *p;

    if (f == NULL) {
        fprintf(stderr, "  (cannot read %s: %s)\n", fed->log, strerror(errno));
        return;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0)
        (void)fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1
                                                   : 0, SEEK_SET);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = buf + n;
    if (p > buf && p[-1] == '\n')
        p--;
    for (; p > buf; p--)
        if (p[-1] == '\n' && ++seen == lines)
            break;
    fprintf(stderr, "%s%s", p, n > 0 && buf[n - 1] != '\n' ? "\n" : "");
}

int rb_relay_mem(const rb_fed_t *fed, uint64_t *rss_kib, uint64_t *hwm_kib)
{
    char path[64], line[256];
    unsigned long long v;
    FILE *f;
    int found = 0;

    snprintf(path, sizeof path, "/proc/%d/status", (int)fed->pid);
    if ((f = fopen(path, "r")) == NULL) {
        fprintf(stderr, "%s: %s: %s\n", RB_PROG, path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %llu kB", &v) == 1) {
            *rss_kib = v;
            found |= 1;
        } else if (sscanf(line, "VmHWM: %llu kB", &v) == 1) {
            *hwm_kib = v;
            found |= 2;
        }
    }
    fclose(f);
    if (found != 3) {
        fprintf(stderr, "%s: no VmRSS/VmHWM in %s\n", RB_PROG, path);
        return -1;
    }
    return 0;
}

/* utime + stime of one thread, in clock ticks. */
static int task_ticks(pid_t pid, const char *tid, uint64_t *ticks)
{
    char path[320];

    snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, tid);
    return proc_stat_ticks(path, ticks);
}

/* user + nice + system + irq + softirq + steal of all CPUs, in ticks. */
static uint64_t machine_busy(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n;

    if (f == NULL)
        return 0;
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
               &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    return n == 8 ? v[0] + v[1] + v[2] + v[5] + v[6] + v[7] : 0;
}

void rb_cpu_snap(pid_t pid, rb_cpu_t *s)
{
    char path[64];
    struct rusage ru;
    struct dirent *d;
    DIR *dir;

    memset(s, 0, sizeof *s);
    s->t_ns = rb_now();
    s->sys_busy = machine_busy();
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        s->self_us = (uint64_t)ru.ru_utime.tv_sec * 1000000u +
                     (uint64_t)ru.ru_utime.tv_usec +
                     (uint64_t)ru.ru_stime.tv_sec * 1000000u +
                     (uint64_t)ru.ru_stime.tv_usec;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if (pid <= 0 || (dir = opendir(path)) == NULL)
        return;
    while ((d = readdir(dir)) != NULL && s->n < RB_CPU_TASKS) {
        if (d->d_name[0] == '.' ||
            task_ticks(pid, d->d_name, &s->ticks[s->n]) != 0)
            continue;
        s->tid[s->n++] = (int)strtol(d->d_name, NULL, 10);
    }
    closedir(dir);
}

void rb_cpu_delta(const rb_cpu_t *a, const rb_cpu_t *b, rb_cpu_use_t *u)
{
    double wall = (double)(b->t_ns - a->t_ns) / 1e9;
    double hz = (double)sysconf(_SC_CLK_TCK), busy;
    uint64_t total = 0, top = 0;

    for (size_t i = 0; i < b->n; i++) {
        uint64_t before = 0, d;

        for (size_t k = 0; k < a->n; k++)
            if (a->tid[k] == b->tid[i])
                before = a->ticks[k];
        d = b->ticks[i] >= before ? b->ticks[i] - before : 0;
        total += d;
        top = d > top ? d : top;
    }
    memset(u, 0, sizeof *u);
    if (wall <= 0 || hz <= 0)
        return;
    u->relay = (double)total / hz / wall * 100.0;
    u->top = (double)top / hz / wall * 100.0;
    u->self = (double)(b->self_us - a->self_us) / 1e6 / wall * 100.0;
    busy = (double)(b->sys_busy - a->sys_busy) / hz / wall * 100.0;
    u->other = busy - u->relay - u->self;
    u->other = u->other > 0 ? u->other : 0;
    other_max = u->other > other_max ? u->other : other_max;
}

double rb_cpu_other_max(void)
{
    return other_max;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return (a > b) - (a < b);
}

double rb_fsync_probe(const char *dir)
{
    char path[160], block[4096];
    double us[21];
    size_t n = 0;
    int fd;

    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return -1;
    memset(block, 0x5a, sizeof block);
    for (; n < sizeof us / sizeof us[0]; n++) {
        uint64_t t0 = rb_now();

        if (pwrite(fd, block, sizeof block, (off_t)(n * sizeof block)) !=
                (ssize_t)sizeof block ||
            fdatasync(fd) != 0)
            break;
        us[n] = (double)(rb_now() - t0) / 1e3;
    }
    close(fd);
    (void)unlink(path);
    if (n < sizeof us / sizeof us[0])
        return -1;
    qsort(us, n, sizeof us[0], cmp_double);
    return us[n / 2];
}

/* ../../relay/amanat-relay beside this program. */
const char *rb_default_relay(char *buf, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;

    if (n <= 0)
        return "amanat-relay";
    self[n] = '\0';
    if ((slash = strrchr(self, '/')) != NULL)
        *slash = '\0';
    snprintf(buf, cap, "%s/../../relay/amanat-relay", self);
    return buf;
}

