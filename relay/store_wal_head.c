/* The header of a write-ahead log (store_wal.h): the generation its
 * frames belong to (page size, checksum byte order, salts) and the
 * checksum frame 1 continues.
 *
 * SQLite's recovery reads no frame at all when the header's magic, page
 * size or checksum is wrong: one flipped bit there drops every
 * transaction the log holds.  What the header must have been is found,
 * in this order: (1) one flipped bit: each of its 256 bits flipped in
 * turn, kept when the header's checksum then matches; (2) otherwise its
 * fields inferred from the frames: a page size and byte order, frame 1's
 * salts.  Either is taken only when the frames confirm it: frame 1's
 * checksum continues the header's, or (frame 1 damaged too) frame 2's
 * continues frame 1's.  The checksum alone does not decide between two
 * flips that explain it equally (a salt's bit, the checksum's own); a
 * 64-bit checksum that matches across a frame does.  A header nothing
 * confirms means no frame is recognised, and nothing is said to be
 * lost. */
#include "store_wal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "err.h"

static bool ps_ok(uint32_t ps)
{
    return ps >= WAL_PS_MIN && ps <= WAL_PS_MAX && (ps & (ps - 1)) == 0;
}

/* What SQLite needs of a header besides its checksum. */
static bool fields_ok(const uint8_t *h)
{
    return (am_load_be32(h) & ~1u) == WAL_MAGIC &&
           am_load_be32(h + 4) == WAL_VERSION && ps_ok(am_load_be32(h + 8));
}

/* The checksum of header h into s; whether its checksum field holds it. */
static bool sum_ok(const uint8_t *h, uint32_t s[2])
{
    s[0] = s[1] = 0;
    wal_sum((h[3] & 1) != 0, h, 24, s);
    return s[0] == am_load_be32(h + 24) && s[1] == am_load_be32(h + 28);
}

/* The generation of header h (its fields valid), frame 1 continuing
 * start; w->hdr gets h with its own checksum. */
static void take(wal_t *w, const uint8_t *h, const uint32_t start[2])
{
    uint32_t s[2];

    memcpy(w->hdr, h, WAL_HDR);
    (void)sum_ok(w->hdr, s);
    am_store_be32(w->hdr + 24, s[0]);
    am_store_be32(w->hdr + 28, s[1]);
    w->be = (h[3] & 1) != 0;
    w->ps = am_load_be32(h + 8);
    w->salt[0] = am_load_be32(h + 16);
    w->salt[1] = am_load_be32(h + 20);
    w->start[0] = start[0];
    w->start[1] = start[1];
    w->n = (w->size - WAL_HDR) / (WAL_FHDR + w->ps);
    if (w->n > UINT32_MAX) /* SQLite counts frames in 32 bits */
        w->n = UINT32_MAX;
}

/* Header h (its fields valid), frame 1 continuing start: 1 when the
 * frames confirm it (and it is taken), 0 when not, AM_EIO.  Frame 1
 * continues start, or (frame 1 damaged too) frame 2 continues frame 1,
 * both with h's salts. */
static int confirm(wal_t *w, const uint8_t *h, const uint32_t start[2])
{
    uint32_t f1[2];
    int rc;

    take(w, h, start);
    if (w->n < 1)
        return 0;
    if ((rc = wal_read_frame(w, 1, w->cur)) != 0)
        return rc;
    if (wal_chains(w, w->cur, start))
        return 1;
    if (w->n < 2 || am_load_be32(w->cur + 8) != w->salt[0] ||
        am_load_be32(w->cur + 12) != w->salt[1] ||
        (rc = wal_read_frame(w, 2, w->next)) != 0)
        return rc;
    f1[0] = am_load_be32(w->cur + 16);
    f1[1] = am_load_be32(w->cur + 20);
    return wal_chains(w, w->next, f1) ? 1 : 0;
}

/* One flipped bit anywhere in the header (the checksum field too): every
 * one of the 256 tried, since the checksum alone can leave two
 * explanations (a salt's bit and the checksum's own); the frames decide
 * between them.  1 when found (and taken), 0 when not, AM_EIO. */
static int one_flip(wal_t *w, const uint8_t *h)
{
    uint8_t t[WAL_HDR];
    uint32_t s[2];
    int rc;

    memcpy(t, h, WAL_HDR);
    for (size_t bit = 0; bit < 8 * WAL_HDR; bit++) {
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (fields_ok(t) && sum_ok(t, s) && (rc = confirm(w, t, s)) != 0)
            return rc;
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    return 0;
}

/* Page size ps and byte order be, with frame 1's salts: 1 when the
 * frames confirm them (and they are taken), 0 when not, AM_EIO. */
static int try_layout(wal_t *w, const uint8_t *h, uint32_t ps, bool be)
{
    const uint32_t stored[2] = {am_load_be32(h + 24), am_load_be32(h + 28)};
    uint8_t t[WAL_HDR];
    uint32_t s[2];
    int rc;

    if (w->size < WAL_HDR + (uint64_t)(WAL_FHDR + ps))
        return 0;
    memcpy(t, h, WAL_HDR);
    am_store_be32(t, WAL_MAGIC | (be ? 1u : 0u));
    am_store_be32(t + 4, WAL_VERSION);
    am_store_be32(t + 8, ps);
    take(w, t, stored); /* the layout, to read frame 1 */
    if ((rc = wal_read_frame(w, 1, w->cur)) != 0)
        return rc;
    memcpy(t + 16, w->cur + 8, 8);
    (void)sum_ok(t, s);
    /* frame 1 continues the header rebuilt (a damaged salt or field), or
     * the checksum as written (a damaged checkpoint number) */
    if ((rc = confirm(w, t, s)) != 0)
        return rc;
    return confirm(w, t, stored);
}

/* Every layout, the header's own page size and byte order first. */
static int infer(wal_t *w, const uint8_t *h)
{
    uint32_t hps = am_load_be32(h + 8), sizes[9];
    bool hbe = (h[3] & 1) != 0;
    size_t n = 0;
    int rc;

    if (ps_ok(hps))
        sizes[n++] = hps;
    for (uint32_t ps = WAL_PS_MIN; ps <= WAL_PS_MAX; ps *= 2)
        if (ps != hps)
            sizes[n++] = ps;
    for (int o = 0; o < 2; o++)
        for (size_t i = 0; i < n; i++)
            if ((rc = try_layout(w, h, sizes[i], o == 0 ? hbe : !hbe)) != 0)
                return rc;
    return 0;
}

static int read_head(const wal_t *w, uint8_t *h)
{
    ssize_t r;

    do
        r = pread(w->fd, h, WAL_HDR, 0);
    while (r < 0 && errno == EINTR);
    return r == (ssize_t)WAL_HDR ? 0 : AM_EIO;
}

int wal_head(wal_t *w)
{
    uint8_t h[WAL_HDR];
    uint32_t s[2];
    int rc;

    w->sqlite_reads = false;
    /* SQLite reads a header only from a file longer than it */
    if (w->size <= WAL_HDR)
        return 1;
    if ((rc = read_head(w, h)) != 0)
        return rc;
    if (ps_ok(am_load_be32(h + 8)) && (am_load_be32(h) & ~1u) == WAL_MAGIC &&
        sum_ok(h, s)) {
        /* a version SQLite does not know, under a valid checksum, is not
         * damage: SQLite refuses to open the store, and says so */
        if (am_load_be32(h + 4) != WAL_VERSION)
            return 1;
        take(w, h, s);
        w->sqlite_reads = true;
        return 0;
    }
    if ((rc = one_flip(w, h)) == 0)
        rc = infer(w, h);
    return rc == 1 ? 0 : rc == 0 ? 1 : rc;
}
