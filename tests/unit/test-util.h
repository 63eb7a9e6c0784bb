/* Helpers shared by the unit tests: a seeded PRNG (reproducible failures:
 * the seed is printed) and an allocation counter on the am_alloc hook. */
#ifndef AM_TEST_UTIL_H
#define AM_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "alloc.h"

/* splitmix64: deterministic, good enough to pick sizes and split points. */
static inline uint64_t t_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline size_t t_uniform(uint64_t *state, size_t n)
{
    return n == 0 ? 0 : (size_t)(t_rand(state) % n);
}

static inline uint64_t t_seed(void)
{
    const char *s = getenv("AM_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed0a3a7a7ull;
    printf("# AM_TEST_SEED=0x%llx\n", (unsigned long long)seed);
    return seed;
}

typedef struct {
    size_t calls;
    size_t fail_at; /* 1-based call number to fail; 0: never */
    size_t largest; /* largest size requested */
} t_alloc_ctx_t;

static inline int t_alloc_hook(size_t n, void *ctx)
{
    t_alloc_ctx_t *c = ctx;
    c->calls++;
    if (n > c->largest)
        c->largest = n;
    return c->fail_at != 0 && c->calls == c->fail_at;
}

/* A fresh folder under /tmp for one test, and its removal (files only,
 * one level deep: what the tests write). */
#include <dirent.h>
#include <unistd.h>

/* A shell command made from fmt (the caller quotes paths): system()'s
 * result, or -1 when the command does not fit. */
static inline int t_sh(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline int t_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return n < 0 || n >= (int)sizeof cmd ? -1 : system(cmd);
}

static inline int t_make_dir(char *path, size_t cap, const char *name)
{
    snprintf(path, cap, "/tmp/amanat-%s-XXXXXX", name);
    return mkdtemp(path) == NULL ? -1 : 0;
}

static inline int t_remove_dir(const char *path)
{
    char file[512];
    struct dirent *e;
    DIR *d = opendir(path);

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        unlink(file);
    }
    if (d != NULL)
        closedir(d);
    return rmdir(path);
}

#endif
