/* Relay processes for test-ioerr (ioerr_relay.h). */
#include "ioerr_relay.h"

#include "../unit/test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relay_fixture.h"

const char *const io_op_names[IO_NOPS] = {"write", "fsync", "open", "rename"};

/* Relays running, killed by the teardown if a check fails midway. */
#define TRACKED 4
static pid_t running[TRACKED];

static void track(pid_t pid, bool add)
{
    for (size_t i = 0; i < TRACKED; i++) {
        if (add && running[i] == 0) {
            running[i] = pid;
            return;
        }
        if (!add && running[i] == pid)
            running[i] = 0;
    }
    assert_false(add); /* more relays at once than this test ever starts */
}

int io_relay_kill_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < TRACKED; i++)
        if (running[i] != 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
    return 0;
}

/* In the child: the shim's settings.  An ASan relay refuses a preloaded
 * library ahead of its runtime unless told that the order is intended. */
static void child_env(const io_paths_t *p, const io_fault_t *f)
{
    char n[32], asan[512];
    const char *old = getenv("ASAN_OPTIONS");

    if (!f->shim)
        return;
    snprintf(n, sizeof n, "%lu", f->n);
    snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0",
             old ? old : "", old && *old ? ":" : "");
    if (setenv("LD_PRELOAD", p->shim, 1) != 0 ||
        setenv("IOERR_DIR", p->io, 1) != 0 ||
        setenv("IOERR_COUNT", p->count, 1) != 0 ||
        setenv("ASAN_OPTIONS", asan, 1) != 0 ||
        (f->op >= 0 && (setenv("IOERR_OP", io_op_names[f->op], 1) != 0 ||
                        setenv("IOERR_N", n, 1) != 0 ||
                        setenv("IOERR_ERRNO", f->err, 1) != 0)) ||
        (f->sticky && setenv("IOERR_STICKY", "1", 1) != 0))
        _exit(126);
}

static pid_t spawn(const io_paths_t *p, const io_fault_t *f, int out_fd,
                   int log_fd)
{
    char config[160];
    const char *argv[] = {relay_bin, "--config", config, "--host", "127.0.0.1",
                          "--port", "0", "--data", p->data, "--certs",
                          p->certs,
                          /* no expiry sweeps: each run does the same calls */
                          "--expire-interval-ms", "3600000", NULL};
    pid_t pid, parent = getpid();

    snprintf(config, sizeof config, "%s/relay.ini", dir);
    if ((pid = fork()) == 0) {
        /* the relay dies with the test, even one killed by ctest's
         * timeout, which runs no teardown (or killed before prctl) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent ||
            dup2(out_fd, 1) < 0 || dup2(log_fd, 2) < 0)
            _exit(126);
        child_env(p, f);
        execv(relay_bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* The first line on the relay's standard output, waiting at most ms. */
static void read_line(int fd, char *line, size_t cap, int ms)
{
    size_t n = 0;

    line[0] = '\0';
    while (n < cap - 1 && strchr(line, '\n') == NULL) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t got;

        if (poll(&pfd, 1, ms) <= 0 ||
            (got = read(fd, line + n, cap - 1 - n)) <= 0)
            break;
        n += (size_t)got;
        line[n] = '\0';
    }
}

int io_relay_start(const io_paths_t *p, const io_fault_t *f, const char *log,
                   io_relay_t *r)
{
    char line[256];
    int fds[2], log_fd;

    memset(r, 0, sizeof *r);
    assert_int_equal(pipe(fds), 0);
    log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(log_fd >= 0);
    r->pid = spawn(p, f, fds[1], log_fd);
    assert_true(r->pid > 0);
    track(r->pid, true);
    close(fds[1]);
    close(log_fd);
    read_line(fds[0], line, sizeof line, 10000);
    close(fds[0]);
    if (sscanf(line, "amanat-relay: listening on 127.0.0.1:%d", &r->port) == 1)
        return 0;
    if (!io_relay_wait(r, 10000))
        fail_msg("relay neither listened nor exited within 10 s: \"%s\"",
                 line);
    return 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

bool io_relay_wait(io_relay_t *r, int ms)
{
    for (int waited = 0; !r->reaped; waited += 5) {
        pid_t got = waitpid(r->pid, &r->status, WNOHANG);

        if (got == r->pid) {
            r->reaped = true;
            track(r->pid, false);
            break;
        }
        assert_true(got == 0 || errno == EINTR);
        if (waited >= ms)
            return false;
        sleep_ms(5);
    }
    return true;
}

bool io_relay_stop(io_relay_t *r, int ms)
{
    if (r->reaped)
        return true;
    kill(r->pid, SIGTERM);
    if (io_relay_wait(r, ms))
        return true;
    kill(r->pid, SIGKILL);
    assert_true(io_relay_wait(r, 10000));
    return false;
}

bool io_counts_read(const char *file, unsigned long out[IO_NOPS])
{
    FILE *f = fopen(file, "r");
    int got;

    if (f == NULL)
        return false;
    got = fscanf(f, "write %lu fsync %lu open %lu rename %lu", &out[IO_WRITE],
                 &out[IO_FSYNC], &out[IO_OPEN], &out[IO_RENAME]);
    fclose(f);
    return got == IO_NOPS;
}

void io_log_read(const char *log, char *buf, size_t cap)
{
    FILE *f = fopen(log, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f == NULL)
        return;
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}
