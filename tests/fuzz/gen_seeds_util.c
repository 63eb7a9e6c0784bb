/* gen_seeds.h: building and writing seeds. */
#include "gen_seeds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"

const char *out_dir;

_Noreturn void die(const char *what)
{
    fprintf(stderr, "fuzz_gen_seeds: %s\n", what);
    exit(1);
}

void put(seed_t *s, const void *p, size_t n)
{
    if (n > SEED_MAX - s->len)
        die("seed too large");
    if (n > 0)
        memcpy(s->b + s->len, p, n);
    s->len += n;
}

void put_u8(seed_t *s, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(s, &b, 1);
}

void put_be16(seed_t *s, size_t v)
{
    uint8_t b[2];
    am_store_be16(b, (uint16_t)v);
    put(s, b, 2);
}

void put_be32(seed_t *s, size_t v)
{
    uint8_t b[4];
    am_store_be32(b, (uint32_t)v);
    put(s, b, 4);
}

void write_seed(const char *target, const char *name, const seed_t *s)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    if ((f = fopen(path, "wb")) == NULL)
        die(path);
    if (fwrite(s->b, 1, s->len, f) != s->len || fclose(f) != 0)
        die(path);
}

