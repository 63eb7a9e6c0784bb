/* The power-cut shim (see powercut.c): syncs, names (rename, unlink),
 * copies of descriptors, and the calls it refuses to model. */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE

#include "powercut_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The sync returned: what was journaled before it began (records that
 * start below seq, a journal offset) is durable, the file's content or,
 * for a folder, the names in it. */
static int sync_watched(int fd, int (*real)(int))
{
    char rel[PATH_MAX];
    pc_fd_t *f;
    bool watched, dir = false;
    uint64_t seq = 0;
    int rc, err;

    pc_lock();
    if ((watched = (f = pc_fd_get(fd)) != NULL)) {
        memcpy(rel, f->rel, strlen(f->rel) + 1);
        dir = f->dir;
        seq = pc_journal_end();
    }
    pc_unlock();
    /* the real sync, outside the lock: while the disk works the relay
     * has not been told, and a cut may still discard the writes */
    rc = real(fd);
    if (!watched || rc != 0)
        return rc;
    err = errno;
    pc_lock();
    pc_log(dir ? PC_DIRSYNC : PC_SYNC, 0, rel, NULL, seq, 0, NULL, 0, NULL, 0);
    pc_unlock();
    errno = err;
    return rc;
}

int fsync(int fd)
{
    if (!pc_init() || !pc_fd_watched(fd))
        return pc_real.fsync(fd);
    return sync_watched(fd, pc_real.fsync);
}

int fdatasync(int fd)
{
    if (!pc_init() || !pc_fd_watched(fd))
        return pc_real.fdatasync(fd);
    return sync_watched(fd, pc_real.fdatasync);
}

static void sync_all_done(uint64_t seq)
{
    pc_lock();
    pc_log(PC_SYNCALL, 0, "", NULL, seq, 0, NULL, 0, NULL, 0);
    pc_unlock();
}

void sync(void)
{
    uint64_t seq;

    if (!pc_init()) {
        pc_real.sync();
        return;
    }
    pc_lock();
    seq = pc_journal_end();
    pc_unlock();
    pc_real.sync();
    sync_all_done(seq);
}

int syncfs(int fd)
{
    uint64_t seq;
    int rc, err;

    if (!pc_init())
        return pc_real.syncfs(fd);
    pc_lock();
    seq = pc_journal_end();
    pc_unlock();
    if ((rc = pc_real.syncfs(fd)) == 0) {
        err = errno;
        sync_all_done(seq);
        errno = err;
    }
    return rc;
}

/* Journal a rename that happened; from or to may lie outside the folder
 * (then it is an unlink or a create, as far as the folder goes). */
static void log_rename(const char *ro, const char *rn, int ndir,
                       const char *new, const uint8_t *backup, size_t blen,
                       bool replaced)
{
    uint8_t *moved;
    size_t mlen = 0;

    if (replaced && rn != NULL)
        pc_fd_renamed(rn, NULL); /* the replaced file has no name now */
    if (ro != NULL && rn != NULL) {
        pc_log(PC_RENAME, replaced ? PC_F_REPLACED : 0, ro, rn, 0, 0, backup,
               blen, NULL, 0);
        pc_fd_renamed(ro, rn);
    } else if (ro != NULL) {
        if ((moved = pc_read_file(ndir, new, &mlen)) == NULL)
            pc_die("\"%s\" moved out and unreadable", ro);
        pc_log(PC_UNLINK, 0, ro, NULL, 0, mlen, moved, mlen, NULL, 0);
        pc_fd_renamed(ro, NULL);
        free(moved);
    } else {
        if (replaced)
            pc_log(PC_UNLINK, 0, rn, NULL, 0, blen, backup, blen, NULL, 0);
        pc_log(PC_CREATE, 0, rn, NULL, 0, 0, NULL, 0, NULL, 0);
    }
}

static int rename_watched(int odir, const char *old, int ndir,
                          const char *new, unsigned flags)
{
    char ro[PATH_MAX], rn[PATH_MAX];
    struct stat st;
    uint8_t *backup = NULL;
    size_t blen = 0;
    bool wo, wn, replaced = false;
    int rc, err;

    if (!pc_init())
        return pc_real.renameat2(odir, old, ndir, new, flags);
    wo = pc_rel(odir, old, ro);
    wn = pc_rel(ndir, new, rn);
    if (!wo && !wn)
        return pc_real.renameat2(odir, old, ndir, new, flags);
    if (flags & RENAME_EXCHANGE)
        pc_die("RENAME_EXCHANGE of \"%s\" is not modelled", wo ? ro : rn);
    pc_lock();
    if (fstatat(odir, old, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISREG(st.st_mode))
        pc_die("renaming \"%s\", not a file, is not modelled", wo ? ro : rn);
    if (wn && fstatat(ndir, new, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        replaced = true;
        if ((backup = pc_read_file(ndir, new, &blen)) == NULL)
            pc_die("\"%s\", replaced by a rename, is not a readable file",
                   rn);
    }
    rc = pc_real.renameat2(odir, old, ndir, new, flags);
    err = errno;
    if (rc == 0)
        log_rename(wo ? ro : NULL, wn ? rn : NULL, ndir, new, backup, blen,
                   replaced);
    pc_unlock();
    free(backup);
    errno = err;
    return rc;
}

int rename(const char *old, const char *new)
{
    return rename_watched(AT_FDCWD, old, AT_FDCWD, new, 0);
}

int renameat(int odir, const char *old, int ndir, const char *new)
{
    return rename_watched(odir, old, ndir, new, 0);
}

int renameat2(int odir, const char *old, int ndir, const char *new,
              unsigned flags)
{
    return rename_watched(odir, old, ndir, new, flags);
}

static int unlink_watched(int dirfd, const char *path, int flags)
{
    char rel[PATH_MAX];
    struct stat st;
    uint8_t *backup = NULL;
    size_t blen = 0;
    int rc, err;

    /* folders removed are not modelled: the relay removes none */
    if (!pc_init() || (flags & AT_REMOVEDIR) || !pc_rel(dirfd, path, rel))
        return pc_real.unlinkat(dirfd, path, flags);
    pc_lock();
    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        (backup = pc_read_file(dirfd, path, &blen)) == NULL)
        pc_die("unlinking \"%s\", not a readable file, is not modelled", rel);
    rc = pc_real.unlinkat(dirfd, path, flags);
    err = errno;
    if (rc == 0) {
        pc_log(PC_UNLINK, 0, rel, NULL, 0, blen, backup, blen, NULL, 0);
        pc_fd_renamed(rel, NULL);
    }
    pc_unlock();
    free(backup);
    errno = err;
    return rc;
}

int unlink(const char *path)
{
    return unlink_watched(AT_FDCWD, path, 0);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    return unlink_watched(dirfd, path, flags);
}

/* Two names for one file: not modelled (the relay links only key files,
 * never in its data folder). */
int linkat(int odir, const char *old, int ndir, const char *new, int flags)
{
    char rel[PATH_MAX];

    if (pc_init() && pc_rel(ndir, new, rel))
        pc_die("a hard link \"%s\" is not modelled", rel);
    return pc_real.linkat(odir, old, ndir, new, flags);
}

int link(const char *old, const char *new)
{
    return linkat(AT_FDCWD, old, AT_FDCWD, new, 0);
}

/* After a successful dup: the copy is watched like the original. */
static int dup_done(int from, int to)
{
    int err = errno;
    pc_fd_t *f;

    if (to >= 0 && to != from) {
        pc_fd_clear(to);
        if ((f = pc_fd_get(from)) != NULL)
            pc_fd_set(to, f->rel, f->append ? O_APPEND : 0);
    }
    pc_unlock();
    errno = err;
    return to;
}

int dup(int fd)
{
    if (!pc_init() || !pc_fd_watched(fd))
        return pc_real.dup(fd);
    pc_lock();
    return dup_done(fd, pc_real.dup(fd));
}

int dup2(int fd, int to)
{
    if (!pc_init() || !(pc_fd_watched(fd) || pc_fd_watched(to)))
        return pc_real.dup2(fd, to);
    pc_lock();
    return dup_done(fd, pc_real.dup2(fd, to));
}

int dup3(int fd, int to, int flags)
{
    if (!pc_init() || !(pc_fd_watched(fd) || pc_fd_watched(to)))
        return pc_real.dup3(fd, to, flags);
    pc_lock();
    return dup_done(fd, pc_real.dup3(fd, to, flags));
}

/* Refuse what would change a watched file where the shim cannot see. */
static void refuse(int fd, const char *what)
{
    pc_fd_t *f;

    if (!pc_fd_watched(fd))
        return;
    pc_lock();
    if ((f = pc_fd_get(fd)) != NULL && !f->dir)
        pc_die("%s of \"%s\" is not modelled", what, f->rel);
    pc_unlock();
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (pc_init() && fd >= 0 && (prot & PROT_WRITE) && (flags & MAP_SHARED))
        refuse(fd, "a shared writable mapping");
    return pc_real.mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    if (pc_init())
        refuse(fd, "fallocate");
    return pc_real.fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
    return fallocate(fd, mode, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len)
{
    if (pc_init())
        refuse(fd, "posix_fallocate");
    return pc_real.posix_fallocate(fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len)
{
    return posix_fallocate(fd, off, len);
}
