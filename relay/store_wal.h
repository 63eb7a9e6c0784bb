/* Shared by the three files that read a write-ahead log left by a crash
 * (docs/PROTOCOL.md section 14): store_wal_sum.c (SQLite's checksum, and
 * the one flipped bit that explains a checksum that does not match),
 * store_wal_head.c (the header, as written or as it must have been) and
 * store_wal.c (the frames: what SQLite's recovery keeps, what it would
 * drop, the repair of a salvage's working copy).  The format is SQLite's
 * (https://www.sqlite.org/fileformat2.html, "The WAL File Format"):
 * every integer big-endian; the checksum reads the bytes as 32-bit words
 * in the order the magic's lowest bit names.  Nothing else includes this;
 * the rest of the store sees store_internal.h. */
#ifndef AM_STORE_WAL_H
#define AM_STORE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_internal.h"

#define WAL_HDR 32u       /* the log's header */
#define WAL_FHDR 24u      /* a frame's header, before its page */
#define WAL_MAGIC 0x377f0682u /* | 1: checksum words big-endian */
#define WAL_VERSION 3007000u
#define WAL_PS_MIN 512u
#define WAL_PS_MAX 65536u
#define WAL_FRAME_MAX (WAL_FHDR + WAL_PS_MAX)

/* One walk over the log.  cur and next hold one frame each (allocated
 * for the largest page size, so no length read from the file sizes an
 * allocation). */
typedef struct {
    int fd;
    uint64_t size;          /* of the file, when the walk began */
    bool fix;               /* the repair: frames rewritten as it walks */
    uint64_t limit;         /* the repair: frames 1..limit rewritten */
    uint32_t home;          /* the repair: a page number past the database,
                               for a frame whose own was lost */
    uint32_t ps;            /* the generation's page size */
    bool be;                /* its checksum words are big-endian */
    uint32_t salt[2];
    uint64_t n;             /* whole frames in the file */
    bool sqlite_reads;      /* SQLite's recovery accepts the header found */
    uint32_t start[2];      /* the checksum frame 1 continues, as written */
    uint8_t hdr[WAL_HDR];   /* the header as it must have been, summed */
    uint8_t *cur, *next;
    bool one_bit;           /* the frame just taken as found has one
                               flipped bit the checksum cannot single out */
} wal_t;

/* store_wal_sum.c.  wal_sum: SQLite's checksum of n bytes (a multiple of
 * 8) continued from s.  wal_frame_sum: a frame's (its header's first 8
 * bytes, then its page) continued from `from`.  wal_one_bit: the one bit
 * of a (na bytes) then b (nb bytes) whose flip makes their checksum from
 * `from` equal want, as a bit offset (byte * 8 + bit); -1 when none does,
 * -2 when more than one would. */
void wal_sum(bool be, const uint8_t *p, size_t n, uint32_t s[2]);
void wal_frame_sum(const wal_t *w, const uint8_t *f, const uint32_t from[2],
                   uint32_t out[2]);
long wal_one_bit(bool be, const uint8_t *a, size_t na, const uint8_t *b,
                 size_t nb, const uint32_t from[2], const uint32_t want[2]);
/* Frame k (1-based) into buf; AM_EIO when it cannot be read whole. */
int wal_read_frame(const wal_t *w, uint64_t k, uint8_t *buf);
/* Whether frame f's stored checksum is what `from` continued over f
 * gives; its salts are the generation's and its page number not 0. */
bool wal_chains(const wal_t *w, const uint8_t *f, const uint32_t from[2]);

/* store_wal_head.c: the generation the log holds, from its header as
 * written or, when SQLite would ignore that header, as it must have been
 * (one flipped bit found, or its fields inferred from the frames):
 * 0 found, 1 none (no frame of any generation recognised), AM_EIO. */
int wal_head(wal_t *w);

#endif
