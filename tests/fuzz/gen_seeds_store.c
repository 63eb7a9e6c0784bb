/* The seeds of fuzz_store_salvage (its layout: the top of
 * fuzz_store_salvage.c): the store it makes, cut, and bit flips in the
 * places a store's structure lives (the header, the root pages of the
 * first b-trees, sqlite_sequence, a page of rows); and a file that is not
 * a store at all.  Offsets assume 4096-byte pages, SQLite's default. */
#include <string.h>

#include "gen_seeds.h"

static void put_u24(seed_t *s, unsigned v)
{
    put_u8(s, (v >> 16) & 0xff);
    put_u8(s, (v >> 8) & 0xff);
    put_u8(s, v & 0xff);
}

/* 'P', the cut, then n (offset, xor) pairs. */
static void patch(const char *name, unsigned cut, const unsigned (*p)[2],
                  size_t n)
{
    static seed_t s;

    s.len = 0;
    put_u8(&s, 'P');
    put_u24(&s, cut);
    for (size_t i = 0; i < n; i++) {
        put_u24(&s, p[i][0]);
        put_u8(&s, p[i][1]);
    }
    write_seed("fuzz_store_salvage", name, &s);
}

void am_fzs_write_seeds(void)
{
    static const unsigned count[][2] = {{31, 0x01}};
    static const unsigned root[][2] = {{4096, 0x08}};
    static const unsigned seq[][2] = {{3 * 4096 + 4090, 0x10}};
    static const unsigned rows[][2] = {{4 * 4096 + 200, 0xff},
                                       {4 * 4096 + 8, 0x40}};
    static const unsigned spread[][2] = {{20 * 4096 + 77, 0x04},
                                         {9 * 4096 + 3, 0x80},
                                         {17 * 4096 + 1000, 0x01}};
    static seed_t s;

    patch("as-made", 0, NULL, 0);
    patch("cut-middle", 12 * 4096 + 1234, NULL, 0);
    patch("cut-early", 3 * 4096 + 100, NULL, 0);
    patch("page-count", 0, count, 1);
    patch("root-type", 0, root, 1);
    patch("sequence", 0, seq, 1);
    patch("deliveries", 0, rows, 2);
    patch("spread", 0, spread, 3);
    s.len = 0;
    put(&s, "SQLite format 3", 16);
    for (int i = 0; i < 84; i++)
        put_u8(&s, 0);
    write_seed("fuzz_store_salvage", "not-a-store", &s);
}
