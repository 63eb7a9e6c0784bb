/* SQLite's write-ahead log checksum (store_wal.h), and the one flipped
 * bit that explains a checksum that does not match.
 *
 * The checksum runs over 32-bit words x0, x1, ... two at a time:
 *     s0 += x(2i) + s1;   s1 += x(2i+1) + s0        (mod 2^32)
 * so, the inputs aside, each pair of words maps (s0, s1) through the
 * matrix M = [[1,1],[1,2]], and the final sums are linear in every word:
 * a change d of word 2i moves them by d * M^(P-1-i) (1,1), of word 2i+1
 * by d * M^(P-1-i) (0,1), P being the number of pairs.  Flipping bit b of
 * a word changes it by +2^b or -2^b, so one flipped bit is found by
 * testing, for each word from the last, the 64 changes against the
 * difference between the stored and the computed sums, the matrix power
 * growing one step per pair: a few multiplications per word, no second
 * pass over the page.  M is invertible modulo 2 (det 1), so every single
 * flip changes the sums: none is invisible to SQLite.  A flip that two
 * bits would explain equally is reported as such, never guessed. */
#include "store_wal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "err.h"

static uint32_t word(bool be, const uint8_t *p)
{
    return be ? am_load_be32(p)
              : (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void wal_sum(bool be, const uint8_t *p, size_t n, uint32_t s[2])
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        s[0] += word(be, p + i) + s[1];
        s[1] += word(be, p + i + 4) + s[0];
    }
}

void wal_frame_sum(const wal_t *w, const uint8_t *f, const uint32_t from[2],
                   uint32_t out[2])
{
    uint32_t s[2] = {from[0], from[1]};

    wal_sum(w->be, f, 8, s);
    wal_sum(w->be, f + WAL_FHDR, w->ps, s);
    out[0] = s[0];
    out[1] = s[1];
}

bool wal_chains(const wal_t *w, const uint8_t *f, const uint32_t from[2])
{
    uint32_t s[2];

    if (am_load_be32(f) == 0 || am_load_be32(f + 8) != w->salt[0] ||
        am_load_be32(f + 12) != w->salt[1])
        return false;
    wal_frame_sum(w, f, from, s);
    return s[0] == am_load_be32(f + 16) && s[1] == am_load_be32(f + 20);
}

int wal_read_frame(const wal_t *w, uint64_t k, uint8_t *buf)
{
    size_t len = WAL_FHDR + w->ps, got = 0;
    uint64_t off = WAL_HDR + (k - 1) * len;
    ssize_t r;

    if (k == 0 || k > w->n)
        return AM_EINVAL;
    while (got < len) {
        r = pread(w->fd, buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return AM_EIO; /* the file shrank under us, or the disk failed */
        got += (size_t)r;
    }
    return 0;
}

/* Where bit b (0: least significant) of word j of a then b lies. */
static long bit_at(bool be, size_t j, int b)
{
    size_t byte = 4 * j + (be ? 3 - (size_t)(b / 8) : (size_t)(b / 8));

    return (long)(byte * 8 + (size_t)(b % 8));
}

/* Word j of a (na bytes) then b. */
static const uint8_t *word_ptr(const uint8_t *a, size_t na, const uint8_t *b,
                               size_t j)
{
    return 4 * j < na ? a + 4 * j : b + (4 * j - na);
}

/* The bits of word j whose flip moves the sums by exactly d, given the
 * word's effect v: counted into *n, the last one into *at. */
static void try_word(bool be, size_t j, uint32_t x, const uint32_t v[2],
                     const uint32_t d[2], int *n, long *at)
{
    for (int b = 0; b < 32; b++) {
        uint32_t m = (uint32_t)1 << b, delta = (x & m) ? 0u - m : m;

        if (delta * v[0] == d[0] && delta * v[1] == d[1]) {
            (*n)++;
            *at = bit_at(be, j, b);
        }
    }
}

long wal_one_bit(bool be, const uint8_t *a, size_t na, const uint8_t *b,
                 size_t nb, const uint32_t from[2], const uint32_t want[2])
{
    uint32_t s[2] = {from[0], from[1]}, d[2], r[2][2] = {{1, 0}, {0, 1}};
    size_t pairs = (na + nb) / 8;
    long at = -1;
    int n = 0;

    wal_sum(be, a, na, s);
    if (nb > 0)
        wal_sum(be, b, nb, s);
    d[0] = want[0] - s[0];
    d[1] = want[1] - s[1];
    if (d[0] == 0 && d[1] == 0)
        return -1; /* nothing to explain */
    for (size_t p = pairs; p-- > 0 && n < 2;) {
        const uint32_t even[2] = {r[0][0] + r[0][1], r[1][0] + r[1][1]};
        const uint32_t odd[2] = {r[0][1], r[1][1]};
        uint32_t t[2][2];

        try_word(be, 2 * p, word(be, word_ptr(a, na, b, 2 * p)), even, d, &n,
                 &at);
        try_word(be, 2 * p + 1, word(be, word_ptr(a, na, b, 2 * p + 1)), odd,
                 d, &n, &at);
        /* r = r * M: one more pair after the next one back */
        for (int i = 0; i < 2; i++) {
            t[i][0] = r[i][0] + r[i][1];
            t[i][1] = r[i][0] + 2 * r[i][1];
        }
        memcpy(r, t, sizeof r);
    }
    return n == 0 ? -1 : n == 1 ? at : -2;
}
