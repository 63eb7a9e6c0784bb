/* The seeds of fuzz_store_wal (its layout: the top of fuzz_store_wal.c):
 * the log it makes, and damage in each place a log's structure lives:
 * the header's magic, page size and salt, a frame's page number, salt,
 * checksum and page (one bit, and eight bytes).  Offsets assume its
 * 512-byte pages: frame k starts at 32 + (k - 1) * 536. */
#include "gen_seeds.h"

#define FRAME(k) (32u + ((k) - 1u) * 536u)

static void put_u24(seed_t *s, unsigned v)
{
    put_u8(s, (v >> 16) & 0xff);
    put_u8(s, (v >> 8) & 0xff);
    put_u8(s, v & 0xff);
}

/* 'W', then n (offset, xor) pairs. */
static void patch(const char *name, const unsigned (*p)[2], size_t n)
{
    static seed_t s;

    s.len = 0;
    put_u8(&s, 'W');
    for (size_t i = 0; i < n; i++) {
        put_u24(&s, p[i][0]);
        put_u8(&s, p[i][1]);
    }
    write_seed("fuzz_store_wal", name, &s);
}

void am_fzw_write_seeds(void)
{
    static const unsigned magic[][2] = {{3, 0x01}};
    static const unsigned size[][2] = {{10, 0x01}};
    static const unsigned salt[][2] = {{17, 0x04}};
    static const unsigned pgno[][2] = {{FRAME(2) + 3, 0x02}};
    static const unsigned fsalt[][2] = {{FRAME(2) + 9, 0x10}};
    static const unsigned sum[][2] = {{FRAME(3) + 17, 0x80}};
    static const unsigned page[][2] = {{FRAME(2) + 24 + 100, 0x01}};
    static const unsigned last[][2] = {{FRAME(8) + 24 + 301, 0x20}};
    static unsigned bytes[8][2];
    static seed_t s;

    for (unsigned i = 0; i < 8; i++) {
        bytes[i][0] = FRAME(4) + 24 + 200 + i;
        bytes[i][1] = 0xff;
    }
    patch("as-made", NULL, 0);
    patch("header-magic", magic, 1);
    patch("header-page-size", size, 1);
    patch("header-salt", salt, 1);
    patch("frame-page-number", pgno, 1);
    patch("frame-salt", fsalt, 1);
    patch("frame-checksum", sum, 1);
    patch("frame-page-bit", page, 1);
    patch("frame-page-bytes", (const unsigned (*)[2])bytes, 8);
    patch("later-frame", last, 1);
    s.len = 0;
    put_be32(&s, 0x377f0682);
    put_be32(&s, 3007000);
    put_be32(&s, 512);
    for (int i = 0; i < 28; i++)
        put_u8(&s, (unsigned)i);
    write_seed("fuzz_store_wal", "not-a-log", &s);
}
