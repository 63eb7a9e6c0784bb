/* The power-cut shim's bookkeeping: the real functions, the watched
 * folder and descriptors, the journal.  The interposed functions are in
 * powercut.c; the format is powercut_log.h. */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include "powercut_shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

pc_real_t pc_real;

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* One lock for every watched change and its record: records are in the
 * order of the changes, and a change and its pre-image are one step. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char watched[PATH_MAX]; /* canonical; "" when nothing is watched */
static size_t watched_len;
static int log_fd = -1;
static uint64_t journal_end; /* bytes in the journal */
static uint64_t kill_after, logged; /* POWERCUT_KILL_AFTER; records so far */
static pc_fd_t fds[PC_MAX_FD];
/* Whether fds[fd] is set, read without the lock: calls on other
 * descriptors (sockets, pipes) pass straight through, so a signal
 * handler that writes to a pipe (libuv's) never waits for the lock its
 * own thread may hold. */
static atomic_bool flagged[PC_MAX_FD];

static bool read_full(int fd, void *buf, size_t len, off_t off);

void pc_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("powercut: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    _exit(70);
}

/* dlsym gives an object pointer; POSIX guarantees it converts to a
 * function pointer. */
#define RESOLVE(field, name)                                                 \
    do {                                                                     \
        void *p_ = dlsym(RTLD_NEXT, name);                                   \
        if (p_ == NULL)                                                      \
            pc_die("no %s after the shim", name);                            \
        memcpy(&pc_real.field, &p_, sizeof p_);                              \
    } while (0)

static void resolve(void)
{
    RESOLVE(openat, "openat64");
    RESOLVE(close, "close");
    RESOLVE(write, "write");
    RESOLVE(pwrite, "pwrite64");
    RESOLVE(writev, "writev");
    RESOLVE(pwritev, "pwritev64");
    RESOLVE(pwritev2, "pwritev64v2");
    RESOLVE(ftruncate, "ftruncate64");
    RESOLVE(truncate, "truncate64");
    RESOLVE(fsync, "fsync");
    RESOLVE(fdatasync, "fdatasync");
    RESOLVE(sync, "sync");
    RESOLVE(syncfs, "syncfs");
    RESOLVE(renameat2, "renameat2");
    RESOLVE(unlinkat, "unlinkat");
    RESOLVE(linkat, "linkat");
    RESOLVE(dup, "dup");
    RESOLVE(dup2, "dup2");
    RESOLVE(dup3, "dup3");
    RESOLVE(mmap, "mmap64");
    RESOLVE(fallocate, "fallocate64");
    RESOLVE(posix_fallocate, "posix_fallocate64");
}

/* The end of the last whole record of the journal at log.  A SIGKILL can
 * cut a record short (a long write stops between pages when a fatal
 * signal is pending); a relay started with the power on appends after
 * that torn record, which would then sit in the middle of the journal.
 * Cutting it off first keeps the journal a sequence of whole records: the
 * torn change stands, as one the killed relay never saw complete. */
static uint64_t whole_records(const char *log, uint64_t size)
{
    int fd = pc_real.openat(AT_FDCWD, log, O_RDONLY | O_CLOEXEC, 0);
    uint64_t pos = 0;
    pc_rec_t h;

    if (fd < 0)
        pc_die("POWERCUT_LOG \"%s\": %s", log, strerror(errno));
    while (size - pos >= sizeof h && read_full(fd, &h, sizeof h, (off_t)pos)) {
        uint64_t len = sizeof h + (uint64_t)h.path_len + h.path2_len +
                       h.pre_len + h.new_len;

        if (h.magic != PC_MAGIC || len > size - pos)
            break;
        pos += len;
    }
    pc_real.close(fd);
    return pos;
}

/* At load, once libc is initialised: a sanitizer's runtime may call the
 * shim (mmap) from the executable's preinit, before the environment is
 * set; until then every call passes through, and nothing touches the
 * relay's files before main.  POWERCUT_KILL_AFTER=N (N > 0): the process
 * SIGKILLs itself right after its N-th record. */
__attribute__((constructor)) static void activate(void)
{
    const char *dir = getenv("POWERCUT_DIR"), *log = getenv("POWERCUT_LOG");
    const char *append = getenv("POWERCUT_APPEND");
    const char *kill_at = getenv("POWERCUT_KILL_AFTER");
    bool fresh = append == NULL || strcmp(append, "1") != 0;
    struct stat st;

    if (pthread_once(&once, resolve) != 0)
        pc_die("pthread_once failed");
    if (dir == NULL || log == NULL)
        return;
    if (realpath(dir, watched) == NULL)
        pc_die("POWERCUT_DIR \"%s\": %s", dir, strerror(errno));
    watched_len = strlen(watched);
    if (kill_at != NULL) {
        char *end;

        errno = 0;
        kill_after = strtoull(kill_at, &end, 10);
        if (errno != 0 || end == kill_at || *end != '\0' || kill_at[0] == '-')
            pc_die("POWERCUT_KILL_AFTER \"%s\": not a count", kill_at);
    }
    /* a fresh journal, when the test applied the last one before it
     * started the relay again; POWERCUT_APPEND=1 when it did not (the
     * relay was killed, the power stayed on): what the killed relay left
     * unsynced may still be lost by a later cut */
    log_fd = pc_real.openat(AT_FDCWD, log,
                            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
                                (fresh ? O_TRUNC : 0),
                            0600);
    if (log_fd < 0 || fstat(log_fd, &st) != 0)
        pc_die("POWERCUT_LOG \"%s\": %s", log, strerror(errno));
    journal_end = whole_records(log, (uint64_t)st.st_size);
    if (journal_end < (uint64_t)st.st_size &&
        pc_real.ftruncate(log_fd, (off_t)journal_end) != 0)
        pc_die("POWERCUT_LOG \"%s\": %s", log, strerror(errno));
}

bool pc_init(void)
{
    if (pthread_once(&once, resolve) != 0)
        pc_die("pthread_once failed");
    return log_fd >= 0;
}

void pc_lock(void)
{
    if (pthread_mutex_lock(&mu) != 0)
        pc_die("lock failed");
}

void pc_unlock(void)
{
    if (pthread_mutex_unlock(&mu) != 0)
        pc_die("unlock failed");
}

/* dirfd's path (AT_FDCWD: the working folder) into base. */
static bool base_of(int dirfd, char base[static PATH_MAX])
{
    char link[64];
    ssize_t n;

    if (dirfd == AT_FDCWD)
        return getcwd(base, PATH_MAX) != NULL;
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    if ((n = readlink(link, base, PATH_MAX - 1)) <= 0)
        return false;
    base[n] = '\0';
    return true;
}

/* The canonical form of path: its folder through realpath (a name that
 * does not exist yet, being created, has a folder that does), then its
 * last component. */
static bool canonical(int dirfd, const char *path, char out[static PATH_MAX])
{
    char abs[PATH_MAX], parent[PATH_MAX], *slash;
    size_t n;
    int len;

    if (path[0] == '/')
        len = snprintf(abs, sizeof abs, "%s", path);
    else if (base_of(dirfd, parent))
        len = snprintf(abs, sizeof abs, "%s/%s", parent, path);
    else
        return false;
    if (len <= 0 || (size_t)len >= sizeof abs)
        return false;
    for (n = (size_t)len; n > 1 && abs[n - 1] == '/'; n--)
        abs[n - 1] = '\0';
    slash = strrchr(abs, '/');
    if (slash == NULL || strcmp(slash, "/.") == 0 || strcmp(slash, "/..") == 0)
        return realpath(abs, out) != NULL;
    *slash = '\0';
    if (realpath(slash == abs ? "/" : abs, parent) == NULL)
        return false;
    len = snprintf(out, PATH_MAX, "%s/%s", strcmp(parent, "/") ? parent : "",
                   slash + 1);
    return len > 0 && len < PATH_MAX;
}

bool pc_rel(int dirfd, const char *path, char rel[static PATH_MAX])
{
    char full[PATH_MAX];
    const char *name;
    size_t n;

    if (watched_len == 0 || path == NULL || !canonical(dirfd, path, full) ||
        strncmp(full, watched, watched_len) != 0 ||
        (full[watched_len] != '\0' && full[watched_len] != '/'))
        return false;
    name = full + watched_len + (full[watched_len] == '/');
    memcpy(rel, name, strlen(name) + 1);
    n = strlen(rel);
    return !(n >= 4 && strcmp(rel + n - 4, "-shm") == 0);
}

pc_fd_t *pc_fd_get(int fd)
{
    struct stat st;

    if (fd < 0 || fd >= PC_MAX_FD || fds[fd].rel == NULL)
        return NULL;
    if (fstat(fd, &st) != 0 || st.st_dev != fds[fd].dev ||
        st.st_ino != fds[fd].ino) {
        pc_fd_clear(fd); /* closed unseen and reused: not ours any more */
        return NULL;
    }
    return &fds[fd];
}

void pc_fd_set(int fd, const char *rel, int flags)
{
    struct stat st;
    char *copy;

    if (fd < 0)
        return;
    if (fd >= PC_MAX_FD)
        pc_die("descriptor %d on \"%s\" beyond the shim's table", fd, rel);
    if (fstat(fd, &st) != 0)
        pc_die("fstat of \"%s\": %s", rel, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return;
    if ((copy = strdup(rel)) == NULL)
        pc_die("out of memory");
    pc_fd_clear(fd);
    fds[fd] = (pc_fd_t){copy, st.st_dev, st.st_ino, S_ISDIR(st.st_mode),
                        (flags & O_APPEND) != 0};
    atomic_store(&flagged[fd], true);
}

bool pc_fd_watched(int fd)
{
    return fd >= 0 && fd < PC_MAX_FD &&
           atomic_load_explicit(&flagged[fd], memory_order_relaxed);
}

void pc_fd_clear(int fd)
{
    if (fd >= 0 && fd < PC_MAX_FD) {
        atomic_store(&flagged[fd], false);
        free(fds[fd].rel);
        fds[fd].rel = NULL;
    }
}

void pc_fd_renamed(const char *from, const char *to)
{
    for (int fd = 0; fd < PC_MAX_FD; fd++) {
        char *copy;

        if (fds[fd].rel == NULL || strcmp(fds[fd].rel, from) != 0)
            continue;
        if (to == NULL) {
            pc_fd_clear(fd);
            continue;
        }
        if ((copy = strdup(to)) == NULL)
            pc_die("out of memory");
        free(fds[fd].rel);
        fds[fd].rel = copy;
    }
}

void pc_log(pc_type_t type, uint32_t flags, const char *rel, const char *rel2,
            uint64_t off, uint64_t old_size, const void *pre, size_t pre_len,
            const void *nw, size_t new_len)
{
    pc_rec_t h = {PC_MAGIC, (uint32_t)type, flags, (uint32_t)strlen(rel),
                  rel2 ? (uint32_t)strlen(rel2) : 0, 0, off, old_size,
                  pre_len, new_len};
    struct iovec v[5] = {{&h, sizeof h},
                         {(void *)rel, h.path_len},
                         {(void *)(rel2 ? rel2 : ""), h.path2_len},
                         {(void *)pre, pre_len},
                         {(void *)nw, new_len}};
    struct iovec *p = v;
    int left = 5;

    /* plain writes, no fsync: a SIGKILL leaves the page cache, and only
     * the relay's process dies, never the machine */
    while (left > 0) {
        ssize_t n = pc_real.writev(log_fd, p, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            pc_die("journal: %s", strerror(errno));
        while (left > 0 && (size_t)n >= p->iov_len) {
            n -= (ssize_t)p->iov_len;
            p++;
            left--;
        }
        if (left > 0) {
            p->iov_base = (uint8_t *)p->iov_base + n;
            p->iov_len -= (size_t)n;
        }
    }
    journal_end += sizeof h + h.path_len + h.path2_len + pre_len + new_len;
    /* a crash point counted in file changes, not time: it lands as often
     * in a checkpoint or a WAL restart as in a commit */
    if (kill_after != 0 && ++logged == kill_after)
        raise(SIGKILL);
}

uint64_t pc_journal_end(void)
{
    return journal_end;
}

static bool read_full(int fd, void *buf, size_t len, off_t off)
{
    size_t have = 0;

    while (have < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + have, len - have,
                          off + (off_t)have);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    return true;
}

void pc_read_at(int fd, void *buf, size_t len, off_t off)
{
    char path[64];
    int rfd;
    bool ok;

    if (len == 0 || read_full(fd, buf, len, off))
        return;
    if (errno != EBADF)
        pc_die("pre-image of descriptor %d: %s", fd, strerror(errno));
    /* opened write-only: read the same file through another descriptor */
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if ((rfd = pc_real.openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC)) < 0)
        pc_die("reopen %s: %s", path, strerror(errno));
    ok = read_full(rfd, buf, len, off);
    pc_real.close(rfd);
    if (!ok)
        pc_die("pre-image of descriptor %d: %s", fd, strerror(errno));
}

uint8_t *pc_read_file(int dirfd, const char *path, size_t *len)
{
    struct stat st;
    uint8_t *buf;
    int fd = pc_real.openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        pc_real.close(fd);
        return NULL;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
        pc_die("out of memory for a %lld-byte backup", (long long)st.st_size);
    if (!read_full(fd, buf, (size_t)st.st_size, 0))
        pc_die("backup of \"%s\": %s", path, strerror(errno));
    pc_real.close(fd);
    *len = (size_t)st.st_size;
    return buf;
}
