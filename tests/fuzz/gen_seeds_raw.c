/* Seeds of fuzz_store_salvage_raw made by hand, in its last layout (the
 * file as it is): a store of 512-byte pages holding one message row whose
 * envelope overflows into two pages, an entry of the message_id index and
 * a freelist trunk; then the same with the overflow chain looping on
 * itself, with the freelist trunk looping on itself, and with a payload
 * length beyond any the relay writes.  The file format:
 * https://www.sqlite.org/fileformat2.html. */
#include <string.h>

#include "bytes.h"
#include "gen_seeds.h"

#define PG 512
#define N_PAGES 6
#define ENV_LEN 1100
/* the record: header (12), id, hash, sender, three 1-byte integers, env */
#define HDR_LEN 12
#define PAYLOAD (HDR_LEN + 16 + 32 + 8 + 3 + ENV_LEN)
#define LOCAL 155 /* M + (PAYLOAD - M) % (U - 4), M = 39, U = 512 */

enum { LOOP_CHAIN = 1, LOOP_FREE = 2, TOO_LONG = 4 };

static void record(uint8_t *p)
{
    static const uint8_t hdr[HDR_LEN] = {HDR_LEN, 0, 12 + 2 * 16,
                                         12 + 2 * 32, 13 + 2 * 8, 1, 1, 1,
                                         0x80 | ((12 + 2 * ENV_LEN) >> 7),
                                         (12 + 2 * ENV_LEN) & 0x7f, 0, 0};
    size_t at = 0;

    memcpy(p, hdr, sizeof hdr);
    at += sizeof hdr;
    memset(p + at, 0x11, 16); /* message id */
    at += 16;
    memset(p + at, 0x22, 32); /* envelope hash */
    at += 32;
    memcpy(p + at, "PK-NCCIA", 8);
    at += 8;
    p[at++] = 2;    /* priority */
    p[at++] = 0x7f; /* expires_at */
    p[at++] = 5;    /* accepted_at */
    for (size_t i = 0; i < ENV_LEN; i++)
        p[at + i] = (uint8_t)i;
}

/* Page 1: the header and an empty sqlite_schema leaf. */
static void first_page(uint8_t *f)
{
    memcpy(f, "SQLite format 3", 16);
    am_store_be16(f + 16, PG);
    f[18] = f[19] = 1;
    f[21] = 64;
    f[22] = f[23] = 32;
    am_store_be32(f + 28, N_PAGES);
    am_store_be32(f + 32, 5); /* freelist trunk */
    am_store_be32(f + 36, 1);
    f[100] = 0x0D;
    am_store_be16(f + 105, PG);
}

/* Page 2: a table leaf with the message's cell; pages 3 and 4 its
 * overflow; page 5 the freelist trunk; page 6 an index leaf. */
static void pages(uint8_t *f, unsigned how)
{
    static uint8_t pay[PAYLOAD];
    uint8_t *p2 = f + PG, *p6 = f + 5 * PG;
    size_t cell = PG - (2 + 1 + LOCAL + 4), at = cell;

    record(pay);
    p2[0] = 0x0D;
    am_store_be16(p2 + 3, 1);
    am_store_be16(p2 + 5, (uint16_t)cell);
    am_store_be16(p2 + 8, (uint16_t)cell);
    p2[at++] = (uint8_t)(how & TOO_LONG ? 0xff : 0x80 | (PAYLOAD >> 7));
    p2[at++] = (uint8_t)(how & TOO_LONG ? 0xff : PAYLOAD & 0x7f);
    p2[at++] = 1; /* rowid */
    memcpy(p2 + at, pay, LOCAL);
    am_store_be32(p2 + at + LOCAL, 3);
    am_store_be32(f + 2 * PG, how & LOOP_CHAIN ? 3 : 4);
    memcpy(f + 2 * PG + 4, pay + LOCAL, PG - 4);
    memcpy(f + 3 * PG + 4, pay + LOCAL + PG - 4, PG - 4);
    am_store_be32(f + 4 * PG, how & LOOP_FREE ? 5 : 0);
    p6[0] = 0x0A;
    am_store_be16(p6 + 3, 1);
    am_store_be16(p6 + 5, PG - 21);
    am_store_be16(p6 + 8, PG - 21);
    memcpy(p6 + PG - 21, "\x14\x03\x2c\x01", 4); /* 20 bytes: blob16, int */
    memset(p6 + PG - 17, 0x11, 16);
    p6[PG - 1] = 1;
}

static void one(const char *name, unsigned how)
{
    static seed_t s;

    memset(s.b, 0, N_PAGES * PG);
    first_page(s.b);
    pages(s.b, how);
    s.len = N_PAGES * PG;
    write_seed("fuzz_store_salvage_raw", name, &s);
}

void am_fzsr_write_seeds(void)
{
    one("crafted", 0);
    one("crafted-chain-loop", LOOP_CHAIN);
    one("crafted-freelist-loop", LOOP_FREE);
    one("crafted-too-long", TOO_LONG);
}
