/* The power-cut shim, preloaded into the relay (LD_PRELOAD): it journals
 * every change to the files and names under POWERCUT_DIR, with what the
 * change replaced, into POWERCUT_LOG (powercut_log.h), so that after the
 * relay is SIGKILLed the test can throw away, as a power cut would, the
 * changes no fsync made durable (powercut_cut.c).
 *
 * DESIGN.  Write-through with an undo journal: each change is made for
 * real and its record appended after it, under one lock, with the bytes
 * it overwrote (read just before) and the bytes it wrote.  Nothing is
 * held back, so the relay runs unchanged, and a SIGKILL loses nothing the
 * journal needs: the page cache survives the process.  A file's writes
 * become durable when an fsync or fdatasync of it returns (the record is
 * appended after the real call returns: while the disk works, a cut may
 * still discard them); a name (create, rename, unlink) becomes durable
 * when an fsync of its folder returns.  Each sync record says how many
 * records came before the sync began, so a write made during the sync by
 * another thread is not counted as covered.
 *
 * What is seen: the calls SQLite and the relay make, checked with strace
 * (open/openat, pwrite, write, ftruncate, fdatasync/fsync, rename,
 * unlink, close) and their other forms.  SQLite's -shm file is not
 * watched: it is the WAL's index, memory-mapped (its writes cannot be
 * seen by any shim) and rebuilt from the WAL by the first connection
 * after a crash, so it carries no durable state.  Calls that would change
 * a watched file unseen (a shared writable mapping, fallocate, O_TMPFILE,
 * hard links) stop the relay with a message instead: the test must not
 * pass on a model it does not have.  Not seen: stdio streams (glibc
 * calls itself internally), fcntl(F_DUPFD); neither touches the store. */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include "powercut_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* open's third argument exists only when the flags create a file. */
#define MODE_ARG(flags, mode)                                                \
    do {                                                                     \
        (mode) = 0;                                                          \
        if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) {     \
            va_list ap_;                                                     \
            va_start(ap_, flags);                                            \
            (mode) = (mode_t)va_arg(ap_, unsigned);                          \
            va_end(ap_);                                                     \
        }                                                                    \
    } while (0)

static int open_watched(int dirfd, const char *path, int flags, mode_t mode)
{
    char rel[PATH_MAX];
    struct stat st;
    uint8_t *pre = NULL;
    size_t pre_len = 0;
    bool existed;
    int fd, err;

    if (!pc_init() || !pc_rel(dirfd, path, rel))
        return pc_real.openat(dirfd, path, flags, mode);
    if ((flags & O_TMPFILE) == O_TMPFILE)
        pc_die("O_TMPFILE in \"%s\" is not modelled", rel);
    pc_lock();
    existed = fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if ((flags & O_TRUNC) && existed && S_ISREG(st.st_mode) &&
        st.st_size > 0 && (flags & O_ACCMODE) != O_RDONLY)
        pre = pc_read_file(dirfd, path, &pre_len);
    fd = pc_real.openat(dirfd, path, flags, mode);
    err = errno;
    if (fd >= 0) {
        pc_fd_set(fd, rel, flags);
        if ((flags & O_CREAT) && !existed)
            pc_log(PC_CREATE, 0, rel, NULL, 0, 0, NULL, 0, NULL, 0);
        if (pre != NULL)
            pc_log(PC_TRUNC, 0, rel, NULL, 0, pre_len, pre, pre_len, NULL, 0);
    }
    pc_unlock();
    free(pre);
    errno = err;
    return fd;
}

int open(const char *path, int flags, ...)
{
    mode_t mode;

    MODE_ARG(flags, mode);
    return open_watched(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode;

    MODE_ARG(flags, mode);
    return open_watched(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode;

    MODE_ARG(flags, mode);
    return open_watched(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode;

    MODE_ARG(flags, mode);
    return open_watched(dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode)
{
    return open_watched(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return open_watched(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int close(int fd)
{
    int rc, err;

    if (!pc_init() || !pc_fd_watched(fd))
        return pc_real.close(fd);
    pc_lock();
    pc_fd_clear(fd);
    rc = pc_real.close(fd);
    err = errno;
    pc_unlock();
    errno = err;
    return rc;
}

/* A write in progress to a watched file. */
typedef struct {
    const char *rel;
    off_t off;
    uint64_t old_size;
    uint8_t *pre;
    size_t pre_len;
} pend_t;

/* Before writing len bytes to fd at off (-1: at its position).  False,
 * without the lock, when fd is not watched; otherwise true, holding the
 * lock, with the bytes about to be overwritten in p->pre. */
static bool write_begin(int fd, off_t off, size_t len, pend_t *p)
{
    struct stat st;
    pc_fd_t *f;

    if (!pc_init() || !pc_fd_watched(fd))
        return false;
    pc_lock();
    if ((f = pc_fd_get(fd)) == NULL || f->dir) {
        pc_unlock();
        return false;
    }
    if (fstat(fd, &st) != 0)
        pc_die("fstat of \"%s\": %s", f->rel, strerror(errno));
    if (off < 0)
        off = f->append ? st.st_size : lseek(fd, 0, SEEK_CUR);
    if (off < 0)
        pc_die("position in \"%s\": %s", f->rel, strerror(errno));
    p->rel = f->rel;
    p->off = off;
    p->old_size = (uint64_t)st.st_size;
    p->pre_len = off >= st.st_size ? 0
                 : (uint64_t)(st.st_size - off) < len
                     ? (size_t)(st.st_size - off)
                     : len;
    if ((p->pre = malloc(p->pre_len + 1)) == NULL)
        pc_die("out of memory");
    pc_read_at(fd, p->pre, p->pre_len, off);
    return true;
}

/* After the write returned n: journal it, release the lock. */
static void write_end(pend_t *p, ssize_t n, const struct iovec *iov,
                      int iovcnt)
{
    int err = errno;
    uint8_t *nw;
    size_t have = 0;

    if (n > 0) {
        if ((nw = malloc((size_t)n)) == NULL)
            pc_die("out of memory");
        for (int i = 0; i < iovcnt && have < (size_t)n; i++) {
            size_t k = iov[i].iov_len < (size_t)n - have ? iov[i].iov_len
                                                         : (size_t)n - have;
            memcpy(nw + have, iov[i].iov_base, k);
            have += k;
        }
        pc_log(PC_WRITE, 0, p->rel, NULL, (uint64_t)p->off, p->old_size,
               p->pre, p->pre_len < (size_t)n ? p->pre_len : (size_t)n, nw,
               (size_t)n);
        free(nw);
    }
    pc_unlock();
    free(p->pre);
    errno = err;
}

static size_t iov_len(const struct iovec *iov, int n)
{
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    return len;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    struct iovec v = {(void *)buf, len};
    pend_t p;
    ssize_t n;

    if (!write_begin(fd, -1, len, &p))
        return pc_real.write(fd, buf, len);
    n = pc_real.write(fd, buf, len);
    write_end(&p, n, &v, 1);
    return n;
}

static ssize_t pwrite_watched(int fd, const void *buf, size_t len, off_t off)
{
    struct iovec v = {(void *)buf, len};
    pend_t p;
    ssize_t n;

    if (off < 0 || !write_begin(fd, off, len, &p))
        return pc_real.pwrite(fd, buf, len, off);
    n = pc_real.pwrite(fd, buf, len, off);
    write_end(&p, n, &v, 1);
    return n;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return pwrite_watched(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    return pwrite_watched(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    pend_t p;
    ssize_t n;

    if (iovcnt < 0 || !write_begin(fd, -1, iov_len(iov, iovcnt), &p))
        return pc_real.writev(fd, iov, iovcnt);
    n = pc_real.writev(fd, iov, iovcnt);
    write_end(&p, n, iov, iovcnt);
    return n;
}

static ssize_t pwritev_watched(int fd, const struct iovec *iov, int iovcnt,
                               off_t off, int flags)
{
    pend_t p;
    ssize_t n;

    if (flags & RWF_APPEND)
        pc_die("pwritev2 with RWF_APPEND is not modelled");
    if (iovcnt < 0 || !write_begin(fd, off, iov_len(iov, iovcnt), &p))
        return pc_real.pwritev2(fd, iov, iovcnt, off, flags);
    n = pc_real.pwritev2(fd, iov, iovcnt, off, flags);
    write_end(&p, n, iov, iovcnt);
    return n;
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (off < 0) {
        pc_init();
        return pc_real.pwritev(fd, iov, iovcnt, off); /* EINVAL */
    }
    return pwritev_watched(fd, iov, iovcnt, off, 0);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return pwritev(fd, iov, iovcnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off,
                 int flags)
{
    return pwritev_watched(fd, iov, iovcnt, off, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off_t off,
                    int flags)
{
    return pwritev_watched(fd, iov, iovcnt, off, flags);
}

/* A size change of a watched file: journal the bytes a shrink cuts off.
 * Called with the lock held; fd is open on the file. */
static int trunc_watched(int fd, const char *rel, off_t len,
                         int (*set)(int, const char *, off_t),
                         const char *path)
{
    struct stat st;
    uint8_t *pre = NULL;
    size_t pre_len = 0;
    int rc, err;

    if (fstat(fd, &st) != 0)
        pc_die("fstat of \"%s\": %s", rel, strerror(errno));
    if (len >= 0 && len < st.st_size) {
        pre_len = (size_t)(st.st_size - len);
        if ((pre = malloc(pre_len)) == NULL)
            pc_die("out of memory");
        pc_read_at(fd, pre, pre_len, len);
    }
    rc = set(fd, path, len);
    err = errno;
    if (rc == 0)
        pc_log(PC_TRUNC, 0, rel, NULL, (uint64_t)len, (uint64_t)st.st_size,
               pre, pre_len, NULL, 0);
    free(pre);
    errno = err;
    return rc;
}

static int set_by_fd(int fd, const char *path, off_t len)
{
    (void)path;
    return pc_real.ftruncate(fd, len);
}

static int set_by_path(int fd, const char *path, off_t len)
{
    (void)fd;
    return pc_real.truncate(path, len);
}

static int ftruncate_watched(int fd, off_t len)
{
    pc_fd_t *f;
    int rc, err;

    if (!pc_init() || !pc_fd_watched(fd))
        return pc_real.ftruncate(fd, len);
    pc_lock();
    if ((f = pc_fd_get(fd)) == NULL || f->dir) {
        pc_unlock();
        return pc_real.ftruncate(fd, len);
    }
    rc = trunc_watched(fd, f->rel, len, set_by_fd, NULL);
    err = errno;
    pc_unlock();
    errno = err;
    return rc;
}

int ftruncate(int fd, off_t len)
{
    return ftruncate_watched(fd, len);
}

int ftruncate64(int fd, off_t len)
{
    return ftruncate_watched(fd, len);
}

static int truncate_watched(const char *path, off_t len)
{
    char rel[PATH_MAX];
    int fd, rc, err;

    if (!pc_init() || !pc_rel(AT_FDCWD, path, rel))
        return pc_real.truncate(path, len);
    pc_lock();
    if ((fd = pc_real.openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC)) < 0) {
        /* cannot read what it would cut off: fine only if it fails */
        err = errno;
        if ((rc = pc_real.truncate(path, len)) == 0)
            pc_die("\"%s\" truncated unseen: %s", rel, strerror(err));
        err = errno;
        pc_unlock();
        errno = err;
        return rc;
    }
    rc = trunc_watched(fd, rel, len, set_by_path, path);
    err = errno;
    pc_real.close(fd);
    pc_unlock();
    errno = err;
    return rc;
}

int truncate(const char *path, off_t len)
{
    return truncate_watched(path, len);
}

int truncate64(const char *path, off_t len)
{
    return truncate_watched(path, len);
}
