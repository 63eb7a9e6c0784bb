/* A real full disk for test-ioerr: the relay's store on a small tmpfs. */
#ifndef AM_IOERR_DISK_H
#define AM_IOERR_DISK_H

#include "ioerr_relay.h"

/* Fill the store's disk until submits fail; then free room and check that
 * every acknowledged envelope is delivered.  Skips, saying so, when tmpfs
 * cannot be mounted. */
void io_full_disk(const io_paths_t *p);

/* cmocka teardown: kill its relays, unmount the tmpfs if still mounted. */
int io_full_disk_teardown(void **state);

#endif
