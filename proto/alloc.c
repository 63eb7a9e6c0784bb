#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Atomic so that threads started after the hook was set read it without
 * a data race; production never sets one, and a relaxed load of a NULL
 * pointer is all an allocation then pays. */
static _Atomic(am_alloc_hook_cb) hook_cb;
static void *_Atomic hook_ctx;

void am_alloc_set_hook(am_alloc_hook_cb cb, void *ctx)
{
    atomic_store_explicit(&hook_ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&hook_cb, cb, memory_order_release);
}

static int refused(size_t n)
{
    am_alloc_hook_cb cb = atomic_load_explicit(&hook_cb, memory_order_acquire);

    return cb != NULL &&
           cb(n, atomic_load_explicit(&hook_ctx, memory_order_relaxed)) != 0;
}

void *am_malloc(size_t n)
{
    if (n == 0 || refused(n))
        return NULL;
    return malloc(n);
}

void *am_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0 || size > (size_t)-1 / count)
        return NULL;
    if (refused(count * size))
        return NULL;
    return calloc(count, size);
}

void *am_realloc(void *p, size_t n)
{
    if (n == 0 || refused(n))
        return NULL;
    return realloc(p, n);
}

void am_free(void *p)
{
    free(p);
}
