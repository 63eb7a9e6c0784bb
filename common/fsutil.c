#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"

static int io_error(const char *what, const char *path)
{
    return am_errf(AM_EIO, "%s %s: %s", what, path, strerror(errno));
}

int am_fd_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return am_errf(AM_EIO, "write: %s",
                           n < 0 ? strerror(errno) : "nothing written");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int sync_dir(const char *path)
{
    char copy[4096];
    int fd, rc = 0;

    if (strlen(path) >= sizeof copy)
        return am_errf(AM_EINVAL, "path too long: %.64s...", path);
    memcpy(copy, path, strlen(path) + 1);
    if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY)) < 0)
        return io_error("cannot open the folder of", path);
    if (fsync(fd) != 0)
        rc = io_error("cannot sync the folder of", path);
    close(fd);
    return rc;
}

int am_dir_make(const char *path, mode_t mode)
{
    struct stat st;

    if (mkdir(path, mode) == 0)
        return sync_dir(path);
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return io_error("cannot make the folder", path);
}

int am_file_write(const char *path, const void *data, size_t len, mode_t mode,
                  bool replace)
{
    char tmp[4200];
    int fd, rc = 0;

    if (path == NULL || (data == NULL && len > 0))
        return AM_EINVAL;
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%u", path, randombytes_random()) >=
        (int)sizeof tmp)
        return am_errf(AM_EINVAL, "path too long: %.64s...", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   mode)) < 0)
        return io_error("cannot create", tmp);
    if (fchmod(fd, mode) != 0 || am_fd_write_all(fd, data, len) != 0 ||
        fsync(fd) != 0)
        rc = io_error("cannot write", tmp);
    if (close(fd) != 0 && rc == 0)
        rc = io_error("cannot write", tmp);
    if (rc == 0 && replace && rename(tmp, path) != 0)
        rc = io_error("cannot rename to", path);
    if (rc == 0 && !replace && link(tmp, path) != 0)
        rc = errno == EEXIST
                 ? am_errf(AM_EINVAL, "%s exists: not overwritten", path)
                 : io_error("cannot create", path);
    if (rc != 0 || !replace)
        unlink(tmp);
    return rc == 0 ? sync_dir(path) : rc;
}

int am_file_read(const char *path, size_t max, uint8_t **out, size_t *len,
                 mode_t *mode)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t have = 0;
    int fd, rc = 0;

    if (path == NULL || out == NULL || len == NULL)
        return AM_EINVAL;
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return io_error("cannot open", path);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return am_errf(AM_EINVAL, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return am_errf(AM_ETOOBIG, "%s: %lld bytes, over %zu", path,
                       (long long)st.st_size, max);
    }
    if ((buf = am_malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return AM_ENOMEM;
    }
    while (have < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = io_error("cannot read", path);
            break;
        }
        have += (size_t)n;
    }
    close(fd);
    if (rc != 0) {
        am_free(buf);
        return rc;
    }
    buf[have] = '\0';
    *out = buf;
    *len = have;
    if (mode != NULL)
        *mode = st.st_mode & 07777;
    return 0;
}
