/* The pages of a damaged store file as the raw reader sees them
 * (store_salvage_raw.c): the main file, overlaid with the last committed
 * frame of each page in its -wal, as SQLite itself would read them
 * (https://www.sqlite.org/fileformat2.html, sections 1.3 and 4).
 *
 * Page size: the main header's when it is a power of two from 512 to
 * 65536 (1 stands for 65536); else the -wal header's when that header is
 * whole (magic, version, checksum); else 4096, SQLite's default, which
 * the relay never changes.  The usable size is the page size: the relay
 * reserves no bytes at the end of its pages (nothing sets reserved bytes
 * and SQLite's default is none), so a header that says otherwise is
 * damaged and is not believed.
 *
 * The -wal is read as SQLite recovers it: its header's checksum, then
 * frame after frame while each has the header's salts and its cumulative
 * checksum holds; only frames up to the last commit frame count, and of
 * those the last one of each page.  A frame that fails ends the log there
 * (what follows may be an older log's frames, or a write cut short).  A
 * -wal whose page size differs from the main header's is not this file's
 * and is not used.  Everything is read by pread into the caller's buffer:
 * memory is one entry per committed frame, whatever the file's size. */
#include "store_salvage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"

#define WAL_HDR 32
#define FRAME_HDR 24
#define WAL_MAGIC 0x377f0682u /* | 1: checksums of big-endian words */
#define WAL_VERSION 3007000u
#define PAGE_DEFAULT 4096u

typedef struct {
    uint32_t page;
    uint32_t frame; /* 0-based, in the order of the log */
} frame_t;

struct sv_pager {
    int fd, wal_fd;
    uint64_t size;       /* of the main file */
    uint32_t page_size;
    uint32_t count;      /* pages of the database */
    frame_t *frames;     /* by page, one per page */
    size_t n_frames;
    uint64_t wal_frames; /* frames read and valid */
};

static int read_at(int fd, uint8_t *buf, size_t len, uint64_t off,
                   size_t *got)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return AM_EIO;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

static bool size_ok(uint32_t n)
{
    return n >= 512 && n <= 65536 && (n & (n - 1)) == 0;
}

/* The main header's page size, or 0. */
static uint32_t main_page_size(int fd)
{
    uint8_t h[18];
    size_t got;
    uint32_t n;

    if (read_at(fd, h, sizeof h, 0, &got) != 0 || got < sizeof h)
        return 0;
    n = am_load_be16(h + 16);
    n = n == 1 ? 65536 : n;
    return size_ok(n) ? n : 0;
}

static uint32_t word(bool be, const uint8_t *p)
{
    return be ? am_load_be32(p)
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

/* SQLite's -wal checksum over n bytes (a multiple of 8), continued. */
static void wal_sum(bool be, const uint8_t *b, size_t n, uint32_t s[2])
{
    for (size_t i = 0; i + 8 <= n; i += 8) {
        s[0] += word(be, b + i) + s[1];
        s[1] += word(be, b + i + 4) + s[0];
    }
}

typedef struct {
    bool be;
    uint32_t salt[2], sum[2], page_size;
} wal_hdr_t;

static bool wal_header(int fd, wal_hdr_t *w)
{
    uint8_t h[WAL_HDR];
    size_t got;
    uint32_t magic;

    if (read_at(fd, h, sizeof h, 0, &got) != 0 || got < sizeof h)
        return false;
    magic = am_load_be32(h);
    if ((magic & ~1u) != WAL_MAGIC || am_load_be32(h + 4) != WAL_VERSION)
        return false;
    w->be = (magic & 1) != 0;
    w->page_size = am_load_be32(h + 8);
    w->salt[0] = am_load_be32(h + 16);
    w->salt[1] = am_load_be32(h + 20);
    w->sum[0] = w->sum[1] = 0;
    wal_sum(w->be, h, 24, w->sum);
    return size_ok(w->page_size) && w->sum[0] == am_load_be32(h + 24) &&
           w->sum[1] == am_load_be32(h + 28);
}

static int by_page(const void *a, const void *b)
{
    const frame_t *x = a, *y = b;

    if (x->page != y->page)
        return x->page < y->page ? -1 : 1;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

/* The frames up to the last valid commit: their pages, and the size of
 * the database that commit left (0: no commit). */
static int wal_frames(sv_pager_t *p, wal_hdr_t *w, uint64_t wal_size,
                      uint8_t *buf, uint32_t *db_pages)
{
    size_t frame_len = FRAME_HDR + w->page_size, got, cap = 0, n = 0;
    uint64_t max = (wal_size - WAL_HDR) / frame_len;

    *db_pages = 0;
    for (uint64_t i = 0; i < max && i < UINT32_MAX; i++) {
        if (read_at(p->wal_fd, buf, frame_len, WAL_HDR + i * frame_len,
                    &got) != 0)
            return AM_EIO;
        if (got < frame_len || am_load_be32(buf) == 0 ||
            am_load_be32(buf + 8) != w->salt[0] ||
            am_load_be32(buf + 12) != w->salt[1])
            break;
        wal_sum(w->be, buf, 8, w->sum);
        wal_sum(w->be, buf + FRAME_HDR, w->page_size, w->sum);
        if (w->sum[0] != am_load_be32(buf + 16) ||
            w->sum[1] != am_load_be32(buf + 20))
            break;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 64;
            frame_t *f = am_realloc(p->frames, c * sizeof *f);

            if (f == NULL)
                return AM_ENOMEM;
            p->frames = f;
            cap = c;
        }
        p->frames[n++] = (frame_t){am_load_be32(buf), (uint32_t)i};
        if (am_load_be32(buf + 4) != 0) { /* a commit: these frames count */
            *db_pages = am_load_be32(buf + 4);
            p->n_frames = n;
        }
    }
    p->wal_frames = p->n_frames;
    return 0;
}

/* Keep the last committed frame of each page, sorted by page. */
static void last_of_each(sv_pager_t *p)
{
    size_t k = 0;

    if (p->n_frames == 0)
        return;
    qsort(p->frames, p->n_frames, sizeof *p->frames, by_page);
    for (size_t i = 0; i < p->n_frames; i++) {
        if (k > 0 && p->frames[k - 1].page == p->frames[i].page)
            k--;
        p->frames[k++] = p->frames[i];
    }
    p->n_frames = k;
}

static int open_wal(sv_pager_t *p, const char *path, uint32_t main_size,
                    uint32_t *db_pages)
{
    char name[4400];
    struct stat st;
    wal_hdr_t w;
    uint8_t *buf = NULL;
    int rc;

    *db_pages = 0;
    if (snprintf(name, sizeof name, "%s-wal", path) >= (int)sizeof name)
        return 0;
    if ((p->wal_fd = open(name, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : AM_EIO;
    if (fstat(p->wal_fd, &st) != 0)
        return AM_EIO;
    if (!wal_header(p->wal_fd, &w) ||
        (main_size != 0 && w.page_size != main_size) ||
        (uint64_t)st.st_size < WAL_HDR)
        return 0;
    p->page_size = w.page_size;
    if ((buf = am_malloc(FRAME_HDR + w.page_size)) == NULL)
        return AM_ENOMEM;
    rc = wal_frames(p, &w, (uint64_t)st.st_size, buf, db_pages);
    am_free(buf);
    if (rc == 0)
        last_of_each(p);
    return rc;
}

int sv_pager_open(const char *path, sv_pager_t **out)
{
    sv_pager_t *p = am_calloc(1, sizeof *p);
    struct stat st;
    uint32_t main_size, db_pages;
    uint64_t pages;
    int rc = AM_ENOMEM;

    if (p == NULL)
        return rc;
    p->wal_fd = -1;
    rc = AM_EIO;
    if ((p->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
        fstat(p->fd, &st) != 0)
        goto fail;
    p->size = (uint64_t)st.st_size;
    main_size = main_page_size(p->fd);
    p->page_size = main_size != 0 ? main_size : PAGE_DEFAULT;
    if ((rc = open_wal(p, path, main_size, &db_pages)) != 0)
        goto fail;
    pages = (p->size + p->page_size - 1) / p->page_size;
    /* a commit says how many pages the database has: never more than
     * the two files hold */
    if (db_pages != 0)
        pages = db_pages < pages + p->n_frames ? db_pages
                                                : pages + p->n_frames;
    p->count = pages < INT32_MAX ? (uint32_t)pages : INT32_MAX;
    *out = p;
    return 0;
fail:
    sv_pager_close(p);
    return rc;
}

uint32_t sv_pager_page_size(const sv_pager_t *p)
{
    return p->page_size;
}

uint32_t sv_pager_count(const sv_pager_t *p)
{
    return p->count;
}

uint64_t sv_pager_wal_frames(const sv_pager_t *p)
{
    return p->wal_frames;
}

int sv_pager_read(sv_pager_t *p, uint32_t page, uint8_t *buf)
{
    const frame_t *f = NULL;
    size_t lo = 0, hi = p->n_frames, got;
    uint64_t off;

    if (page == 0 || page > p->count)
        return 1;
    while (lo < hi) { /* the frame of page, if the log has one */
        size_t mid = lo + (hi - lo) / 2;

        if (p->frames[mid].page < page)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->n_frames && p->frames[lo].page == page)
        f = &p->frames[lo];
    if (f != NULL) {
        off = WAL_HDR + (uint64_t)f->frame * (FRAME_HDR + p->page_size) +
              FRAME_HDR;
        if (read_at(p->wal_fd, buf, p->page_size, off, &got) != 0)
            return AM_EIO;
        return got == p->page_size ? 0 : 1;
    }
    off = (uint64_t)(page - 1) * p->page_size;
    if (off >= p->size)
        return 1; /* past the end of a file cut short */
    if (read_at(p->fd, buf, p->page_size, off, &got) != 0)
        return AM_EIO;
    memset(buf + got, 0, p->page_size - got);
    return 0;
}

void sv_pager_close(sv_pager_t *p)
{
    if (p == NULL)
        return;
    if (p->fd >= 0)
        close(p->fd);
    if (p->wal_fd >= 0)
        close(p->wal_fd);
    am_free(p->frames);
    am_free(p);
}
