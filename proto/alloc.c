#include "alloc.h"

#include <stdlib.h>

static am_alloc_hook_cb hook_cb;
static void *hook_ctx;

void am_alloc_set_hook(am_alloc_hook_cb cb, void *ctx)
{
    hook_cb = cb;
    hook_ctx = ctx;
}

static int refused(size_t n)
{
    return hook_cb != NULL && hook_cb(n, hook_ctx) != 0;
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
