/* The write-ahead log a crash left (docs/PROTOCOL.md section 14, "Store
 * check at start"), read before SQLite opens the store: opening runs
 * SQLite's recovery, which may checkpoint and rewrite the log.
 *
 * DESIGN.  An acknowledgement means the transaction's frames are synced
 * in DATA/store.sqlite-wal; a crash leaves them there for the next open
 * to recover.  SQLite's recovery keeps the frames up to the last commit
 * frame before the first frame whose salts are not the header's or whose
 * cumulative checksum does not match, and drops that frame and every
 * later one without a word; a header it does not accept drops them all.
 * One flipped bit would lose acknowledged messages silently.
 *
 * So the relay walks the log itself, frame by frame (two frame buffers,
 * nothing sized by the file), and reads through damage where the frames
 * themselves prove which generation they belong to: a frame that does not
 * pass is still the generation's when its checksum continues the chain
 * but its salt differs (a flipped salt), when its checksum field differs
 * from the sum in one bit (a flipped checksum), when one flipped bit of
 * its page or page number explains the sum (found through the checksum's
 * linearity, store_wal_sum.c, and corrected), or when the next frame,
 * with the generation's salts, continues the chain from this frame's
 * stored checksum (its page damaged as found) or from its computed one
 * (its checksum field damaged).  The walk ends at the first frame none of
 * these explains.  The log is DAMAGED when this walk reaches a commit
 * frame past the last one SQLite's recovery keeps: committed data would
 * be lost.  The store is then salvaged (store_salvage.c) from a working
 * copy whose log is repaired (store_wal_repair): header and frames
 * rewritten with the generation's salts and a new chain of checksums, so
 * that SQLite applies every frame up to that commit.  SQLite's checksum
 * guards against torn and stale frames, not against forgery: repairing
 * it trusts nothing, since the salvage and the store check afterwards
 * check every row, and every envelope against its BLAKE2b-256 hash, as
 * for any salvaged store.
 *
 * Not damage: frames of an older generation past the end of the current
 * one (other salts, left by a restart of the log); frames after the last
 * commit (a transaction a crash cut short, never acknowledged); a partial
 * frame at the end (a crash between SQLite's writes leaves the same).
 * Not detectable: the log cut at a frame boundary (a shorter log, as
 * valid as the longer one), or cut inside a frame; damage of more than
 * one bit in the last frame, which has no next frame to vouch for it. */
#include "store_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"

typedef enum { F_GOOD, F_SALT, F_SUM, F_BIT, F_ASFOUND, F_END } fate_t;

static bool bits1(uint32_t a, uint32_t b)
{
    return (a == 0 && b != 0 && (b & (b - 1)) == 0) ||
           (b == 0 && a != 0 && (a & (a - 1)) == 0);
}

/* Flip bit `bit` of a frame's checksummed bytes (header 0..8, page). */
static void flip(uint8_t *f, long bit)
{
    size_t byte = (size_t)(bit / 8);

    f[byte < 8 ? byte : WAL_FHDR + byte - 8] ^= (uint8_t)(1u << (bit % 8));
}

/* Frame k, in w->cur, failed SQLite's check but for its salt: whether
 * it still belongs to the generation, and the chain as written through
 * it.  One flipped bit is looked for in its checksum field (the sum
 * computed differs in one bit) and in its page number, commit field and
 * page (store_wal_sum.c); the next frame decides between explanations,
 * continuing either the stored checksum (this frame's bytes damaged) or
 * the computed one (its checksum field damaged). */
static int damaged_frame(wal_t *w, uint64_t k, const uint32_t c[2],
                         uint32_t chain[2], fate_t *fate)
{
    uint8_t *f = w->cur;
    const uint32_t st[2] = {am_load_be32(f + 16), am_load_be32(f + 20)};
    bool page = am_load_be32(f) != 0, in_sum, next_st = false,
         next_c = false;
    long bit = wal_one_bit(w->be, f, 8, f + WAL_FHDR, w->ps, chain, st);
    int rc;

    in_sum = page && bits1(c[0] ^ st[0], c[1] ^ st[1]);
    if (k < w->n) {
        if ((rc = wal_read_frame(w, k + 1, w->next)) != 0)
            return rc;
        next_st = wal_chains(w, w->next, st);
        next_c = page && wal_chains(w, w->next, c);
    }
    if (in_sum && (bit == -1 || next_c)) {
        *fate = F_SUM;
        memcpy(chain, c, 2 * sizeof *chain);
    } else if (bit >= 0 && (!in_sum || next_st)) {
        *fate = F_BIT;
        flip(f, bit);
        memcpy(chain, st, sizeof st);
    } else if (bit == -2 || in_sum || next_st) {
        /* one flipped bit, but which the checksum cannot say (it adds
         * words modulo 2^32: a high bit's effect repeats along the page),
         * or more than one bit damaged: the frame is the generation's,
         * its bytes as found */
        *fate = F_ASFOUND;
        w->one_bit = bit == -2;
        memcpy(chain, st, sizeof st);
    } else {
        *fate = next_c ? F_SUM : F_END;
        if (next_c)
            memcpy(chain, c, 2 * sizeof *chain);
    }
    return 0;
}

/* Frame k, in w->cur, against chain (the checksum through frame k-1 as
 * written), which moves on through it when it belongs. */
static int decide(wal_t *w, uint64_t k, uint32_t chain[2], fate_t *fate)
{
    const uint8_t *f = w->cur;
    bool salt = am_load_be32(f + 8) == w->salt[0] &&
                am_load_be32(f + 12) == w->salt[1];
    uint32_t c[2];

    wal_frame_sum(w, f, chain, c);
    if (am_load_be32(f) != 0 && c[0] == am_load_be32(f + 16) &&
        c[1] == am_load_be32(f + 20)) {
        /* another generation's frame cannot continue this chain: only its
         * salt was damaged */
        *fate = salt ? F_GOOD : F_SALT;
        memcpy(chain, c, sizeof c);
        return 0;
    }
    *fate = F_END;
    return salt ? damaged_frame(w, k, c, chain, fate) : 0;
}

static const char *reason(const wal_t *w, const uint8_t *f)
{
    if (am_load_be32(f + 8) != w->salt[0] ||
        am_load_be32(f + 12) != w->salt[1])
        return "its salt is not the header's";
    return am_load_be32(f) == 0 ? "its page number is 0"
                                : "its checksum does not match";
}

static int write_at(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    size_t done = 0;
    ssize_t r;

    while (done < n) {
        r = pwrite(fd, p + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return AM_EIO;
        done += (size_t)r;
    }
    return 0;
}

/* The repair of frame k (w->cur, its bit already corrected): the
 * generation's salts, a page number where it lost its own, the chain's
 * next checksum; written where anything changed. */
static int rewrite(wal_t *w, uint64_t k, fate_t fate, uint32_t fixed[2])
{
    uint8_t *f = w->cur, was[WAL_FHDR];
    uint64_t off = WAL_HDR + (k - 1) * (uint64_t)(WAL_FHDR + w->ps);

    memcpy(was, f, WAL_FHDR);
    if (am_load_be32(f) == 0)
        am_store_be32(f, w->home);
    am_store_be32(f + 8, w->salt[0]);
    am_store_be32(f + 12, w->salt[1]);
    wal_frame_sum(w, f, fixed, fixed);
    am_store_be32(f + 16, fixed[0]);
    am_store_be32(f + 20, fixed[1]);
    if (fate == F_BIT)
        return write_at(w->fd, f, WAL_FHDR + w->ps, off);
    return memcmp(was, f, WAL_FHDR) == 0 ? 0
                                          : write_at(w->fd, f, WAL_FHDR, off);
}

static void count(store_wal_t *r, fate_t fate)
{
    r->bits += fate == F_BIT;
    r->salts += fate == F_SALT;
    r->sums += fate == F_SUM;
    r->as_found += fate == F_ASFOUND;
}

/* The commits before the last, and the last frame taken as found. */
typedef struct {
    uint64_t prev, as_found;
    uint32_t prev_pages;
} tail_t;

/* A frame taken as found in the last transaction, its damage more than
 * one flipped bit: nothing after that transaction's commit vouches for
 * it.
 * SQLite syncs the log once a transaction's frames are all written, so a
 * power cut before that sync can leave a torn frame followed by whole
 * ones: a transaction never acknowledged, which SQLite's recovery rightly
 * drops.  Applying that frame would lay a torn page over the last good
 * version of it.  The last transaction is then left to SQLite, as a
 * transaction a later commit follows cannot be (it was synced first). */
static void unvouched_tail(store_wal_t *r, const tail_t *t)
{
    if (t->as_found == 0 || t->as_found <= t->prev ||
        t->as_found > r->last_commit)
        return;
    r->last_commit = t->prev;
    r->pages = t->prev_pages;
    r->gen_end = t->prev;
    r->unvouched = true;
}

/* Frame by frame: what SQLite's recovery keeps, and how far the
 * generation reaches; when w->fix, frames 1..w->limit rewritten (all the
 * generation's: its frames after the last commit too, whose checks would
 * otherwise depend on the chain before them, rewritten). */
static int walk(wal_t *w, store_wal_t *r)
{
    uint32_t chain[2] = {w->start[0], w->start[1]},
             fixed[2] = {am_load_be32(w->hdr + 24), am_load_be32(w->hdr + 28)};
    bool alive = w->sqlite_reads;
    tail_t t = {0, 0, 0};
    fate_t fate;
    int rc;

    for (uint64_t k = 1; k <= w->n && (!w->fix || k <= w->limit); k++) {
        const char *why;

        if ((rc = wal_read_frame(w, k, w->cur)) != 0)
            return rc;
        why = reason(w, w->cur);
        if ((rc = decide(w, k, chain, &fate)) != 0)
            return rc;
        if (alive && fate != F_GOOD) {
            alive = false;
            r->stop = k;
            r->why = why;
        }
        if (fate == F_END)
            break;
        count(r, fate);
        r->gen_end = k;
        /* one flipped bit is damage since the write, never a torn one */
        t.as_found = fate == F_ASFOUND && !w->one_bit ? k : t.as_found;
        if (am_load_be32(w->cur + 4) != 0) {
            r->sqlite_end = alive ? k : r->sqlite_end;
            t.prev = r->last_commit;
            t.prev_pages = r->pages;
            r->last_commit = k;
            r->pages = am_load_be32(w->cur + 4);
        }
        if (w->fix && (rc = rewrite(w, k, fate, fixed)) != 0)
            return rc;
    }
    unvouched_tail(r, &t);
    return 0;
}

static int walk_begin(wal_t *w, int fd)
{
    struct stat st;

    memset(w, 0, sizeof *w);
    w->fd = fd;
    if (fstat(fd, &st) != 0 || st.st_size < 0)
        return AM_EIO;
    w->size = (uint64_t)st.st_size;
    if ((w->cur = am_malloc(WAL_FRAME_MAX)) == NULL ||
        (w->next = am_malloc(WAL_FRAME_MAX)) == NULL)
        return AM_ENOMEM;
    return 0;
}

static void walk_end(wal_t *w)
{
    am_free(w->cur);
    am_free(w->next);
}

static int scan(wal_t *w, store_wal_t *r)
{
    int rc = wal_head(w);

    memset(r, 0, sizeof *r);
    if (rc != 0)
        return rc < 0 ? rc : 0; /* no frame of any generation */
    r->page_size = w->ps;
    r->frames = w->n;
    r->header_damaged = !w->sqlite_reads;
    return walk(w, r);
}

int store_wal_scan(int fd, store_wal_t *out)
{
    wal_t w;
    store_wal_t r;
    int rc;

    if ((rc = walk_begin(&w, fd)) == 0 && (rc = scan(&w, &r)) == 0)
        *out = r;
    walk_end(&w);
    return rc;
}

int store_wal_repair(int fd, store_wal_t *out)
{
    wal_t w;
    store_wal_t r, again;
    int rc;

    if ((rc = walk_begin(&w, fd)) != 0 || (rc = scan(&w, &r)) != 0)
        goto done;
    if (r.last_commit > r.sqlite_end) {
        memset(&again, 0, sizeof again);
        w.fix = true;
        w.limit = r.gen_end;
        /* past the database's last page: never read, never copied back */
        w.home = r.pages < UINT32_MAX ? r.pages + 1 : UINT32_MAX;
        if ((rc = write_at(fd, w.hdr, WAL_HDR, 0)) != 0 ||
            (rc = walk(&w, &again)) != 0)
            goto done;
    }
    *out = r;
done:
    walk_end(&w);
    return rc;
}

/* The name of path's log, or "" when it does not fit. */
static const char *wal_name(const char *path, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s-wal", path) >= (int)cap)
        out[0] = '\0';
    return out;
}

static void log_damage(const char *wal, const store_wal_t *r)
{
    char where[160];

    if (r->header_damaged)
        snprintf(where, sizeof where, "ignore the whole log (its header is "
                 "damaged)");
    else
        snprintf(where, sizeof where, "stop at frame %llu (byte %llu: %s)",
                 (unsigned long long)r->stop,
                 (unsigned long long)(WAL_HDR + (r->stop - 1) *
                                      (uint64_t)(WAL_FHDR + r->page_size)),
                 r->why);
    fprintf(stderr, "amanat-relay: store check: %s is DAMAGED: of its %llu "
            "frames, SQLite's recovery would %s and drop frames %llu to "
            "%llu, of transactions committed and acknowledged; damaged "
            "frames read through: %llu with a flipped bit located, %llu "
            "with a damaged salt, %llu checksum field, %llu page or page "
            "number damaged beyond one bit\n", wal,
            (unsigned long long)r->frames, where,
            (unsigned long long)r->sqlite_end + 1,
            (unsigned long long)r->last_commit, (unsigned long long)r->bits,
            (unsigned long long)r->salts, (unsigned long long)r->sums,
            (unsigned long long)r->as_found);
}

int store_wal_check(const char *path)
{
    char wal[4200];
    store_wal_t r;
    int fd, rc;

    if (*wal_name(path, wal, sizeof wal) == '\0')
        return am_errf(AM_EIO, "store %s: name too long", path);
    if ((fd = open(wal, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0
                               : am_errf(AM_EIO, "store %s cannot be read "
                                         "(%s): %s", wal, strerror(errno),
                                         store_check_advice);
    rc = store_wal_scan(fd, &r);
    close(fd);
    if (rc != 0)
        return am_errf(AM_EIO, "store %s cannot be read (%s): %s", wal,
                       am_strerror(rc), store_check_advice);
    if (r.unvouched)
        fprintf(stderr, "amanat-relay: store check: %s: its last "
                "transaction holds a frame that does not match its checksum "
                "(a write a power cut tore before the log was synced, never "
                "acknowledged, or damage since): left to SQLite, which drops "
                "that transaction\n", wal);
    if (r.last_commit <= r.sqlite_end)
        return 0;
    log_damage(wal, &r);
    return 1;
}

int store_wal_repair_copy(const char *path)
{
    char wal[4200];
    store_wal_t r;
    int fd, rc;

    if (*wal_name(path, wal, sizeof wal) == '\0')
        return am_errf(AM_EIO, "store salvage: %s: name too long", path);
    if ((fd = open(wal, O_RDWR | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0
                               : am_errf(AM_EIO, "store salvage: cannot open "
                                         "%s: %s", wal, strerror(errno));
    rc = store_wal_repair(fd, &r);
    if (close(fd) != 0 && rc == 0)
        rc = AM_EIO;
    if (rc != 0)
        return am_errf(AM_EIO, "store salvage: cannot repair %s: %s", wal,
                       am_strerror(rc));
    if (r.last_commit > r.sqlite_end)
        fprintf(stderr, "amanat-relay: store salvage: the working copy's "
                "log repaired: SQLite now applies its frames 1 to %llu "
                "(restored: %llu flipped bits, %llu salts, %llu checksum "
                "fields; %llu damaged frames applied as found, their rows "
                "checked)\n", (unsigned long long)r.last_commit,
                (unsigned long long)r.bits, (unsigned long long)r.salts,
                (unsigned long long)r.sums, (unsigned long long)r.as_found);
    return 0;
}
