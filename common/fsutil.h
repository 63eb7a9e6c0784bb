/* Files the client writes and reads: keys, certificates, lists.
 *
 * New files are written the durable way: a temporary file in the same
 * folder (O_EXCL, the final mode from the start), fsync, then link() to the
 * final name, which fails rather than overwrite, and fsync of the folder.
 */
#ifndef AM_FSUTIL_H
#define AM_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write data to path with mode.  replace: an existing file is replaced
 * (rename); otherwise an existing path is refused (AM_EINVAL, "exists").
 * Errors carry a sentence with the path and the system's reason. */
int am_file_write(const char *path, const void *data, size_t len, mode_t mode,
                  bool replace);

/* Write all of p to fd, retrying short writes and EINTR.  AM_EIO with
 * the system's reason (errno is left as write set it). */
int am_fd_write_all(int fd, const void *p, size_t len);

/* Make folder path with mode unless it exists (as a folder), and fsync
 * the folder holding it, so that the new name survives a power loss. */
int am_dir_make(const char *path, mode_t mode);

/* Read at most max bytes of a regular file (not a symlink); *mode gets its
 * permission bits.  *out is NUL-terminated and owned by the caller
 * (am_free; wipe it first when it held a secret). */
int am_file_read(const char *path, size_t max, uint8_t **out, size_t *len,
                 mode_t *mode);

#endif
