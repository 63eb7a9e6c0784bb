/* The power-cut journal: what the shim (powercut.c, preloaded into the
 * relay) writes and the cut (powercut_cut.c, in the test) reads.
 *
 * One record per change to a file or name under the watched folder,
 * appended after the change was made, in the order the changes were made
 * (the shim holds one lock across the change and its record).  A record
 * is a pc_rec_t, then path (path_len bytes, relative to the folder, no
 * NUL; "" is the folder itself), path2 (path2_len), pre (pre_len) and new
 * (new_len).  A SIGKILL may cut the last record short: the reader ignores
 * a torn tail, which stands for a change the relay never saw complete
 * (and a relay started again on the same journal cuts it off first).
 * The journal may hold several relay processes' records in a row (the
 * relay was killed but the power stayed on): offsets are the journal's. */
#ifndef AM_POWERCUT_LOG_H
#define AM_POWERCUT_LOG_H

#include <stdint.h>

#define PC_MAGIC 0x54554350u /* "PCUT" */

typedef enum {
    /* path: bytes new written at off; pre: the bytes they replaced (those
     * below old_size); old_size: the file's size before */
    PC_WRITE = 'W',
    /* path: size set to off (ftruncate, O_TRUNC); pre: the bytes cut off */
    PC_TRUNC = 'T',
    /* path: fsync/fdatasync of a file returned: its content is durable,
     * as journaled before off (the journal's size when the sync began) */
    PC_SYNC = 'S',
    /* path: fsync/fdatasync of a folder returned: the names in it are,
     * as journaled before off */
    PC_DIRSYNC = 'D',
    /* path: a file that did not exist was created */
    PC_CREATE = 'C',
    /* path renamed to path2; flags PC_F_REPLACED: path2 existed, pre is
     * the content it had */
    PC_RENAME = 'R',
    /* path unlinked; pre: its content */
    PC_UNLINK = 'U',
    /* sync() or syncfs(): everything journaled before off is durable */
    PC_SYNCALL = 'A',
} pc_type_t;

#define PC_F_REPLACED 1u

typedef struct {
    uint32_t magic, type, flags, path_len, path2_len, pad;
    uint64_t off, old_size, pre_len, new_len;
} pc_rec_t;

#endif
