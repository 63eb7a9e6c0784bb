/* Inside the power-cut shim (powercut.c, powercut_track.c): the real
 * libc functions, the watched folder, the table of watched descriptors
 * and the journal (powercut_log.h).  Nothing here is exported from the
 * shared object: only the interposed libc names are. */
#ifndef AM_POWERCUT_SHIM_H
#define AM_POWERCUT_SHIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "powercut_log.h"

#define PC_HIDDEN __attribute__((visibility("hidden")))
#define PC_MAX_FD 4096

/* The next definitions of the interposed names (libc, or a sanitizer's
 * interceptor when one comes first); the shim calls only these, never
 * its own wrappers, so that it does not journal itself. */
typedef struct {
    int (*openat)(int, const char *, int, ...);
    int (*close)(int);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*pwrite)(int, const void *, size_t, off_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
    ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
    int (*ftruncate)(int, off_t);
    int (*truncate)(const char *, off_t);
    int (*fsync)(int);
    int (*fdatasync)(int);
    void (*sync)(void);
    int (*syncfs)(int);
    int (*renameat2)(int, const char *, int, const char *, unsigned);
    int (*unlinkat)(int, const char *, int);
    int (*linkat)(int, const char *, int, const char *, int);
    int (*dup)(int);
    int (*dup3)(int, int, int);
    int (*dup2)(int, int);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*fallocate)(int, int, off_t, off_t);
    int (*posix_fallocate)(int, off_t, off_t);
} pc_real_t;

/* A watched descriptor: its name relative to the folder, and the file it
 * was opened on (a descriptor closed where the shim cannot see, then
 * reused for another file, is recognised as stale by its inode). */
typedef struct {
    char *rel;
    dev_t dev;
    ino_t ino;
    bool dir, append;
} pc_fd_t;

PC_HIDDEN extern pc_real_t pc_real;

/* Resolve pc_real (once).  Returns whether a folder is watched: when
 * the shim was loaded, POWERCUT_DIR and POWERCUT_LOG were set and a fresh
 * journal started; otherwise it only passes calls through. */
PC_HIDDEN bool pc_init(void);
PC_HIDDEN void pc_lock(void);
PC_HIDDEN void pc_unlock(void);
/* Whether path (relative to dirfd like openat's) names the watched
 * folder or something in it; rel gets the name relative to the folder.
 * SQLite's -shm files are not watched: see powercut.c. */
PC_HIDDEN bool pc_rel(int dirfd, const char *path, char rel[static PATH_MAX]);

/* Without the lock: whether fd may be watched (false: certainly not;
 * true: ask pc_fd_get, under the lock). */
PC_HIDDEN bool pc_fd_watched(int fd);
/* Under the lock.  The watched descriptor fd, or NULL. */
PC_HIDDEN pc_fd_t *pc_fd_get(int fd);
PC_HIDDEN void pc_fd_set(int fd, const char *rel, int flags);
PC_HIDDEN void pc_fd_clear(int fd);
/* A name changed: descriptors open on from now carry to (NULL: the
 * name is gone, and so is the watch on them). */
PC_HIDDEN void pc_fd_renamed(const char *from, const char *to);

/* Under the lock.  Append one record (powercut_log.h). */
PC_HIDDEN void pc_log(pc_type_t type, uint32_t flags, const char *rel,
                      const char *rel2, uint64_t off, uint64_t old_size,
                      const void *pre, size_t pre_len, const void *nw,
                      size_t new_len);
/* The journal's size: where the next record starts. */
PC_HIDDEN uint64_t pc_journal_end(void);

/* len bytes at off of the open file fd (even when fd is write-only). */
PC_HIDDEN void pc_read_at(int fd, void *buf, size_t len, off_t off);
/* The whole content of a regular file (malloc'd; NULL when it is not a
 * regular file or does not exist). */
PC_HIDDEN uint8_t *pc_read_file(int dirfd, const char *path, size_t *len);

/* Something the shim cannot model, or cannot do: say so and stop the
 * process (exit status 70), rather than journal a lie. */
PC_HIDDEN _Noreturn void pc_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
