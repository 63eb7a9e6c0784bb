/* Allocation wrappers: every heap allocation in proto/ goes through these so
 * that tests can count allocations (to prove a length is refused *before*
 * memory is reserved) and make the Nth one fail (allocation-failure tests).
 */
#ifndef AM_ALLOC_H
#define AM_ALLOC_H

#include <stddef.h>

void *am_malloc(size_t n);
void *am_calloc(size_t count, size_t size);
void *am_realloc(void *p, size_t n);
void am_free(void *p);

/* Test hook: called before each allocation with the requested size; a
 * non-zero return makes that allocation fail.  NULL removes the hook.
 * Setting it is atomic, but cb and ctx are two stores: set, change or
 * remove it only while no other thread allocates (unit tests, or the
 * relay's allocation-failure build before its threads start,
 * tests/faults/alloc_hook.c).  The hook itself is then called from every
 * thread that allocates (the relay's loop, its store thread, libuv's
 * thread pool) and must be thread-safe. */
typedef int (*am_alloc_hook_cb)(size_t n, void *ctx);
void am_alloc_set_hook(am_alloc_hook_cb cb, void *ctx);

#endif
