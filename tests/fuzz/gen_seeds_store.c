/* The seeds of fuzz_store_salvage and fuzz_store_salvage_raw (their
 * layouts: the top of each): the store they make, cut, and bit flips in
 * the places a store's structure lives (the header, the root pages of the
 * first b-trees, sqlite_sequence, a page of rows); and a file that is not
 * a store at all.  For the raw reader also the -wal of that store while
 * open, whole, cut in a frame and with a frame's byte flipped, and a
 * main file and -wal made up.  Offsets assume 4096-byte pages, SQLite's
 * default. */
#include <string.h>

#include "gen_seeds.h"

static void put_u24(seed_t *s, unsigned v)
{
    put_u8(s, (v >> 16) & 0xff);
    put_u8(s, (v >> 8) & 0xff);
    put_u8(s, v & 0xff);
}

/* tag, the cut, then n (offset, xor) pairs, for target. */
static void patch_of(const char *target, int tag, const char *name,
                     unsigned cut, const unsigned (*p)[2], size_t n)
{
    static seed_t s;

    s.len = 0;
    put_u8(&s, (unsigned)tag);
    put_u24(&s, cut);
    for (size_t i = 0; i < n; i++) {
        put_u24(&s, p[i][0]);
        put_u8(&s, p[i][1]);
    }
    write_seed(target, name, &s);
}

/* A 'P' seed, for both targets. */
static void patch(const char *name, unsigned cut, const unsigned (*p)[2],
                  size_t n)
{
    patch_of("fuzz_store_salvage", 'P', name, cut, p, n);
    patch_of("fuzz_store_salvage_raw", 'P', name, cut, p, n);
}

/* The raw reader's own: the open store's -wal, and files made up. */
static void raw_seeds(void)
{
    static const unsigned frame[][2] = {{32 + 3 * 4120 + 100, 0x01}};
    static const unsigned salt[][2] = {{32 + 24 + 9, 0x20}};
    static seed_t s;

    patch_of("fuzz_store_salvage_raw", 'W', "wal-as-made", 0, NULL, 0);
    patch_of("fuzz_store_salvage_raw", 'W', "wal-cut", 32 + 5 * 4120 + 77,
             NULL, 0);
    patch_of("fuzz_store_salvage_raw", 'W', "wal-frame", 0, frame, 1);
    patch_of("fuzz_store_salvage_raw", 'W', "wal-salt", 0, salt, 1);
    s.len = 0;
    put_u8(&s, 'M');
    put_u8(&s, 0);
    put_u8(&s, 0);
    put_u8(&s, 100);
    put(&s, "SQLite format 3", 16);
    for (int i = 16; i < 100; i++)
        put_u8(&s, i == 16 ? 2 : 0); /* 512-byte pages */
    put_u8(&s, 0x37);
    put_u8(&s, 0x7f);
    put_u8(&s, 0x06);
    put_u8(&s, 0x82);
    for (int i = 4; i < 64; i++)
        put_u8(&s, (unsigned)i);
    write_seed("fuzz_store_salvage_raw", "made-up", &s);
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
    write_seed("fuzz_store_salvage_raw", "not-a-store", &s);
    raw_seeds();
    am_fzsr_write_seeds();
}
