#include "alloc_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relay_fixture.h"

const char *const ap_end_name[] = {"clean exit", "leak", "crash",
                                   "unclean exit", "hang at stop"};

/* Started and not yet reaped: killed by ap_kill_all. */
static pid_t live[4];

static void track(pid_t pid, bool add)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
        if (add && live[i] == 0) {
            live[i] = pid;
            return;
        }
        if (!add && live[i] == pid)
            live[i] = 0;
    }
}

void ap_kill_all(void)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] != 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
}

/* In the child: environment, descriptors, exec; never returns. */
static void exec_relay(const char *bin, const char *data, uint64_t fail_at,
                       const char *counts, const char *log, int out)
{
    char config[160], n[24], pool[2] = {(char)('0' + (fail_at & 1)), 0};
    int err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const char *argv[] = {bin, "--config", config, "--host", "127.0.0.1",
                          "--port", "0", "--data", data,
                          /* no expiry sweeps: they would come at random
                           * moments and make the count vary */
                          "--expire-interval-ms", "3600000",
                          /* both places a handshake runs (conn_hs.c) */
                          "--handshake-offload", pool, NULL};

    snprintf(config, sizeof config, "%s/relay.ini", dir);
    snprintf(n, sizeof n, "%llu", (unsigned long long)fail_at);
    /* the relay does not outlive a test killed by its timeout */
    if (err < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
        dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
        setenv("AM_ALLOC_FAIL_AT", n, 1) != 0 ||
        (counts != NULL ? setenv("AM_ALLOC_COUNT", counts, 1)
                        : unsetenv("AM_ALLOC_COUNT")) != 0)
        _exit(126);
    close(err);
    close(out);
    execv(bin, (char *const *)argv);
    _exit(127);
}

/* "listening on 127.0.0.1:PORT" from the relay's standard output. */
static int read_port(int fd)
{
    char line[256] = {0};
    size_t n = 0;
    int port = 0;

    while (n < sizeof line - 1 && strchr(line, '\n') == NULL) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t got;

        if (poll(&p, 1, 10000) <= 0 ||
            (got = read(fd, line + n, sizeof line - 1 - n)) <= 0)
            break;
        n += (size_t)got;
    }
    if (sscanf(line, "amanat-relay: listening on 127.0.0.1:%d", &port) != 1)
        return 0;
    return port;
}

int ap_start(const char *bin, const char *data, uint64_t fail_at,
             const char *counts, const char *log, ap_relay_t *r)
{
    int fds[2], status;

    memset(r, 0, sizeof *r);
    snprintf(r->log, sizeof r->log, "%s", log);
    snprintf(r->counts, sizeof r->counts, "%s", counts ? counts : "");
    if (pipe(fds) != 0) {
        perror("pipe");
        return -1;
    }
    if ((r->pid = fork()) == 0) {
        close(fds[0]);
        exec_relay(bin, data, fail_at, counts, log, fds[1]);
    }
    close(fds[1]);
    if (r->pid < 0) {
        close(fds[0]);
        perror("fork");
        return -1;
    }
    track(r->pid, true);
    r->port = read_port(fds[0]);
    close(fds[0]);
    if (r->port > 0)
        return 0;
    printf("relay did not start (fail at %llu):\n",
           (unsigned long long)fail_at);
    (void)ap_stop(r, &status);
    ap_print_log(r, 20);
    return -1;
}

int ap_counts(const ap_relay_t *r, uint64_t out[AM_ALLOCFAULT_SLOTS])
{
    size_t size = AM_ALLOCFAULT_SLOTS * sizeof out[0];
    int fd = r->counts[0] ? open(r->counts, O_RDONLY | O_CLOEXEC) : -1;
    ssize_t n = fd >= 0 ? pread(fd, out, size, 0) : -1;

    if (fd >= 0)
        close(fd);
    return n == (ssize_t)size ? 0 : -1;
}

/* The relay's standard error, NUL-terminated (at most cap - 1 bytes, the
 * last ones: sanitizer reports come at the end). */
static size_t read_log(const ap_relay_t *r, char *buf, size_t cap)
{
    int fd = open(r->log, O_RDONLY | O_CLOEXEC);
    off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    off_t from = end > (off_t)(cap - 1) ? end - (off_t)(cap - 1) : 0;
    ssize_t n = end >= 0 ? pread(fd, buf, cap - 1, from) : -1;

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? (size_t)n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static ap_end_t classify(const ap_relay_t *r, int status)
{
    static char log[1 << 16];

    (void)read_log(r, log, sizeof log);
    if (strstr(log, "LeakSanitizer") != NULL)
        return AP_LEAK;
    if (strstr(log, "ERROR: AddressSanitizer") != NULL ||
        strstr(log, "runtime error:") != NULL || WIFSIGNALED(status))
        return AP_CRASH;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? AP_CLEAN
                                                          : AP_UNCLEAN;
}

ap_end_t ap_stop(ap_relay_t *r, int *status)
{
    struct timespec tick = {0, 5000000};

    *status = 0;
    if (r->pid <= 0)
        return AP_UNCLEAN;
    kill(r->pid, SIGTERM);
    for (int i = 0; i < 2000; i++) {
        pid_t got = waitpid(r->pid, status, WNOHANG);

        if (got == r->pid || (got < 0 && errno != EINTR)) {
            track(r->pid, false);
            r->pid = 0;
            return got > 0 ? classify(r, *status) : AP_UNCLEAN;
        }
        nanosleep(&tick, NULL);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, status, 0);
    track(r->pid, false);
    r->pid = 0;
    return AP_HUNG;
}

void ap_print_log(const ap_relay_t *r, int lines)
{
    static char log[1 << 14];
    size_t n = read_log(r, log, sizeof log);
    char *p = log + n;

    /* back over `lines` line ends */
    while (p > log && lines >= 0)
        if (*--p == '\n')
            lines--;
    while (p < log + n) {
        char *end = strchr(p, '\n');
        int len = end ? (int)(end - p) : (int)strlen(p);

        if (len > 0)
            printf("    | %.*s\n", len, p);
        p += len + 1;
    }
}
