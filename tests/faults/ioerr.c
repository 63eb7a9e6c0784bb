/* ioerr: an LD_PRELOAD shim that makes one file call of the process fail,
 * for tests/faults/test-ioerr.c (issue 9: I/O errors).
 *
 * DESIGN.  Only calls on files under one folder count (IOERR_DIR: paths
 * that are the folder or below it; descriptors opened there are tracked
 * until closed).  Four kinds of call, each with the variants the relay and
 * SQLite really make (strace of a relay run; nm -D of libsqlite3):
 *   write   write, pwrite, pwrite64, writev, pwritev, pwritev64
 *   fsync   fsync, fdatasync
 *   open    open, open64, openat, openat64, creat
 *   rename  rename, renameat, renameat2
 * IOERR_OP names one kind; the IOERR_N'th call of it (from 1) fails with
 * IOERR_ERRNO (ENOSPC or EIO) without reaching the kernel, and the later
 * ones succeed again (a transient fault) unless IOERR_STICKY=1.  The
 * failure is said on standard error, which is the relay's log:
 *   ioerr: injected EIO into fdatasync #7 on /tmp/x/data/store.sqlite-wal
 * with " (a folder)" when the descriptor is a directory.
 * IOERR_COUNT=FILE keeps in FILE, rewritten in place after every counted
 * call (the relay may be killed: nothing waits for exit), one line:
 *   write W fsync F open O rename R
 * Without IOERR_OP the shim only counts.  Descriptors duplicated with dup
 * or fcntl are not followed: neither the relay nor SQLite does that to
 * its files.  Calls glibc makes internally (fopen, opendir) bypass any
 * shim; they are not the store's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE, OP_FSYNC, OP_OPEN, OP_RENAME, OP_COUNT, OP_NONE = -1 };

static const char *const op_names[OP_COUNT] = {"write", "fsync", "open",
                                               "rename"};

#define MAX_FD 65536 /* descriptors above are never tracked */

static struct {
    bool ready;
    char dir[PATH_MAX];
    size_t dir_len;
    int op;                 /* OP_NONE: count only */
    unsigned long n;        /* the call that fails, from 1 */
    int err;
    bool sticky;
    int count_fd;           /* -1: no count file */
    unsigned long calls[OP_COUNT];
    /* read without the lock: libuv's signal handler writes to its pipe,
     * and may interrupt a thread of the relay that holds the lock */
    atomic_uchar tracked[MAX_FD];
    pthread_mutex_t mu;             /* calls[] and the count file */
} g = {.op = OP_NONE, .count_fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

/* The next definitions of what this file replaces, found once. */
#define REAL(ret, name, args)                                                  \
    static ret(*real_##name) args;                                             \
    static ret(*get_##name(void)) args                                         \
    {                                                                          \
        if (real_##name == NULL)                                               \
            *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                  \
        return real_##name;                                                    \
    }

REAL(ssize_t, write, (int, const void *, size_t))
REAL(ssize_t, pwrite, (int, const void *, size_t, off_t))
REAL(ssize_t, pwrite64, (int, const void *, size_t, off64_t))
REAL(ssize_t, writev, (int, const struct iovec *, int))
REAL(ssize_t, pwritev, (int, const struct iovec *, int, off_t))
REAL(ssize_t, pwritev64, (int, const struct iovec *, int, off64_t))
REAL(int, fsync, (int))
REAL(int, fdatasync, (int))
REAL(int, open, (const char *, int, ...))
REAL(int, open64, (const char *, int, ...))
REAL(int, openat, (int, const char *, int, ...))
REAL(int, openat64, (int, const char *, int, ...))
REAL(int, creat, (const char *, mode_t))
REAL(int, close, (int))
REAL(int, rename, (const char *, const char *))
REAL(int, renameat, (int, const char *, int, const char *))
REAL(int, renameat2, (int, const char *, int, const char *, unsigned))

static int parse_errno(const char *s)
{
    if (s != NULL && strcmp(s, "EIO") == 0)
        return EIO;
    return ENOSPC; /* the default, and the only other one */
}

__attribute__((constructor)) static void ioerr_init(void)
{
    const char *dir = getenv("IOERR_DIR"), *op = getenv("IOERR_OP");
    const char *n = getenv("IOERR_N"), *count = getenv("IOERR_COUNT");
    const char *sticky = getenv("IOERR_STICKY");

    if (dir == NULL || dir[0] != '/' || strlen(dir) >= sizeof g.dir)
        return; /* nothing to watch: every call passes untouched */
    memcpy(g.dir, dir, strlen(dir) + 1);
    g.dir_len = strlen(dir);
    while (g.dir_len > 1 && g.dir[g.dir_len - 1] == '/')
        g.dir[--g.dir_len] = '\0';
    for (int i = 0; op != NULL && i < OP_COUNT; i++)
        if (strcmp(op, op_names[i]) == 0)
            g.op = i;
    g.n = n != NULL ? strtoul(n, NULL, 10) : 0;
    if (g.n == 0)
        g.op = OP_NONE;
    g.err = parse_errno(getenv("IOERR_ERRNO"));
    g.sticky = sticky != NULL && strcmp(sticky, "1") == 0;
    if (count != NULL)
        g.count_fd = get_open()(count, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                                0600);
    g.ready = true;
}

static bool is_tracked(int fd)
{
    return g.ready && fd >= 0 && fd < MAX_FD &&
           atomic_load_explicit(&g.tracked[fd], memory_order_relaxed) != 0;
}

static void set_tracked(int fd, bool on)
{
    if (fd >= 0 && fd < MAX_FD)
        atomic_store_explicit(&g.tracked[fd], on, memory_order_relaxed);
}

/* Whether path names the folder or something below it.  Relative paths
 * count from the working folder, or from dirfd when that is tracked. */
static bool is_under(int dirfd, const char *path)
{
    char cwd[PATH_MAX], full[PATH_MAX];

    if (!g.ready || path == NULL)
        return false;
    if (path[0] != '/') {
        if (dirfd != AT_FDCWD)
            return is_tracked(dirfd);
        if (getcwd(cwd, sizeof cwd) == NULL ||
            snprintf(full, sizeof full, "%s/%s", cwd, path) >= (int)sizeof full)
            return false;
        path = full;
    }
    return strncmp(path, g.dir, g.dir_len) == 0 &&
           (path[g.dir_len] == '/' || path[g.dir_len] == '\0');
}

/* Rewrite the count file: fixed width, so each write replaces the last. */
static void save_counts(void)
{
    char line[128];
    int len = snprintf(line, sizeof line, "write %10lu fsync %10lu open %10lu "
                       "rename %10lu\n", g.calls[OP_WRITE], g.calls[OP_FSYNC],
                       g.calls[OP_OPEN], g.calls[OP_RENAME]);

    if (g.count_fd >= 0 && len > 0 && len < (int)sizeof line &&
        get_pwrite()(g.count_fd, line, (size_t)len, 0) != len)
        g.count_fd = -1; /* the driver sees a short file and says so */
}

/* Count one call of op; true when this one must fail. */
static bool counted_fails(int op)
{
    bool fail;

    pthread_mutex_lock(&g.mu);
    g.calls[op]++;
    fail = op == g.op &&
           (g.calls[op] == g.n || (g.sticky && g.calls[op] > g.n));
    save_counts();
    pthread_mutex_unlock(&g.mu);
    return fail;
}

/* Say what failed, on standard error (the relay's log); the real write,
 * since fd 2 is never under the folder. */
static void say(const char *call, int fd, const char *path)
{
    char self[64], where[PATH_MAX] = "?", line[PATH_MAX + 128];
    struct stat st;
    ssize_t n;
    int len;

    if (path == NULL && fd >= 0) {
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        if ((n = readlink(self, where, sizeof where - 1)) > 0)
            where[n] = '\0';
        path = where;
    }
    len = snprintf(line, sizeof line, "ioerr: injected %s into %s #%lu on "
                   "%s%s\n", g.err == EIO ? "EIO" : "ENOSPC", call,
                   g.n, path, fd >= 0 && fstat(fd, &st) == 0 &&
                   S_ISDIR(st.st_mode) ? " (a folder)" : "");
    /* nothing to do if the log cannot be written: the driver then finds
     * no such line and says so */
    if (len > 0 && len < (int)sizeof line &&
        get_write()(2, line, (size_t)len) != len)
        return;
}

static bool fail_fd(int op, const char *call, int fd)
{
    if (!is_tracked(fd) || !counted_fails(op))
        return false;
    say(call, fd, NULL);
    errno = g.err;
    return true;
}

static bool fail_path(int op, const char *call, int dirfd, const char *path)
{
    if (!is_under(dirfd, path) || !counted_fails(op))
        return false;
    say(call, -1, path);
    errno = g.err;
    return true;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    return fail_fd(OP_WRITE, "write", fd) ? -1 : get_write()(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return fail_fd(OP_WRITE, "pwrite", fd) ? -1
                                           : get_pwrite()(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
    return fail_fd(OP_WRITE, "pwrite64", fd)
               ? -1
               : get_pwrite64()(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    return fail_fd(OP_WRITE, "writev", fd) ? -1 : get_writev()(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    return fail_fd(OP_WRITE, "pwritev", fd) ? -1
                                            : get_pwritev()(fd, iov, n, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
    return fail_fd(OP_WRITE, "pwritev64", fd)
               ? -1
               : get_pwritev64()(fd, iov, n, off);
}

int fsync(int fd)
{
    return fail_fd(OP_FSYNC, "fsync", fd) ? -1 : get_fsync()(fd);
}

int fdatasync(int fd)
{
    return fail_fd(OP_FSYNC, "fdatasync", fd) ? -1 : get_fdatasync()(fd);
}

/* The mode argument exists only when the flags create a file. */
static mode_t mode_of(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE
               ? (mode_t)va_arg(ap, unsigned)
               : 0;
}

/* What the open family does once the call went through: track it. */
static int opened(int dirfd, const char *path, int fd)
{
    if (fd >= 0 && is_under(dirfd, path))
        set_tracked(fd, true);
    return fd;
}

#define OPEN_BODY(call, dirfd, path, expr)                                     \
    do {                                                                       \
        if (fail_path(OP_OPEN, call, dirfd, path))                             \
            return -1;                                                         \
        return opened(dirfd, path, (expr));                            \
    } while (0)

int open(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = mode_of(flags, ap);
    va_end(ap);
    OPEN_BODY("open", AT_FDCWD, path, get_open()(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = mode_of(flags, ap);
    va_end(ap);
    OPEN_BODY("open64", AT_FDCWD, path, get_open64()(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = mode_of(flags, ap);
    va_end(ap);
    OPEN_BODY("openat", dirfd, path, get_openat()(dirfd, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;

    va_start(ap, flags);
    mode = mode_of(flags, ap);
    va_end(ap);
    OPEN_BODY("openat64", dirfd, path,
              get_openat64()(dirfd, path, flags, mode));
}

int creat(const char *path, mode_t mode)
{
    OPEN_BODY("creat", AT_FDCWD, path, get_creat()(path, mode));
}

/* Forget the descriptor before it is closed: once closed, another thread
 * may get the same number for a file that is not ours. */
int close(int fd)
{
    if (is_tracked(fd))
        set_tracked(fd, false);
    return get_close()(fd);
}

static bool fail_rename(const char *call, int olddirfd, const char *from,
                        int newdirfd, const char *to)
{
    if (!is_under(olddirfd, from) && !is_under(newdirfd, to))
        return false;
    if (!counted_fails(OP_RENAME))
        return false;
    say(call, -1, to);
    errno = g.err;
    return true;
}

int rename(const char *from, const char *to)
{
    return fail_rename("rename", AT_FDCWD, from, AT_FDCWD, to)
               ? -1
               : get_rename()(from, to);
}

int renameat(int olddirfd, const char *from, int newdirfd, const char *to)
{
    return fail_rename("renameat", olddirfd, from, newdirfd, to)
               ? -1
               : get_renameat()(olddirfd, from, newdirfd, to);
}

int renameat2(int olddirfd, const char *from, int newdirfd, const char *to,
              unsigned flags)
{
    return fail_rename("renameat2", olddirfd, from, newdirfd, to)
               ? -1
               : get_renameat2()(olddirfd, from, newdirfd, to, flags);
}
