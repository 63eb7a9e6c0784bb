/* The raw reader of a salvage (store_salvage.h): the rows of the relay's
 * rowid tables read from the pages of the damaged file directly, without
 * SQLite's b-trees, for the rows a lookup from the root cannot reach.
 *
 * DESIGN.  A point lookup (store_salvage_rows.c) walks a b-tree from its
 * root: when page 1 (the header and sqlite_schema) is destroyed, or the
 * schema's text no longer parses, or a table's root or an interior page
 * is destroyed or lies past a cut, the leaves under it are out of reach
 * although they are whole.  This reader visits every page of the file
 * once, in order (store_salvage_wal.c: the main file with the last
 * committed frame of each page of its -wal laid over it), following the
 * file format (https://www.sqlite.org/fileformat2.html): each table leaf
 * page (0x0D) is cut into cells (payload length, rowid, the payload's
 * local part, its overflow chain), each cell's record into columns by
 * their serial types, and a row is taken to be one of the relay's by its
 * shape alone: its number of columns (a store made before a migration
 * has fewer at the end: store_schema.c) and each column's type and, for
 * ids and hashes, length.  The shapes of the relay's tables differ, so no
 * row can be taken for another table's.  Entries of the message_id index
 * (index pages, 0x0A and 0x02: a 16-byte blob and a seq) name lost
 * messages; sqlite_sequence rows say how far each table went.  What it
 * finds goes into a temporary SQLite database (SQLite's "" name: in
 * memory while small, spilled to a temporary file beyond its cache) in
 * plain tables with the relay's column names, where the salvage looks up
 * a rowid it could not read from the file and puts every value through
 * the same checks as any other (store_salvage_rows.c).
 *
 * Stale copies.  A page SQLite freed keeps its old cells (unless SQLite
 * was built with SECURE_DELETE, as Debian's is: it zeroes them); when the
 * header's freelist can be read whole (its trunk chain in bounds, without
 * a loop, and as many pages as the header counts) its pages are skipped.
 * The -wal's superseded frames (older versions of a page) are never read.
 * Otherwise (page 1 destroyed) old copies of rows may be read beside the
 * live ones, and when two copies share a rowid the one that keeps a
 * message alive is kept: an envelope still held, a delivery or notice
 * still pending.  A message delivered twice is dropped by its recipient
 * by id; one lost is lost silently.  Within a page rowids ascend: a cell
 * whose rowid breaks the order its neighbours keep (a bit flipped in it)
 * is not read.
 *
 * Limits.  Rows with overflow are followed along their chain with strict
 * bounds (each page in the file, none twice, never more pages than the
 * payload needs, at most twice the file's pages in all); a message whose
 * chain breaks keeps its row with the envelope marked lost (x''), as a
 * lookup that cannot read the overflow does.  prekeys and usage (WITHOUT
 * ROWID) are not read here.  Everything read is untrusted: every length
 * is bounded before it is used, varints are at most 9 bytes, and the work
 * is bounded by the size of the two files. */
#include "store_salvage.h"

#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"

/* The largest row of the relay: an envelope and its row's other columns. */
#define PAYLOAD_MAX ((uint64_t)AM_ENV_MAX + 65536)
#define COLS_MAX 10
/* A record header of COLS_MAX columns: its length and 9 bytes a column. */
#define HDR_MAX (9 * (COLS_MAX + 1))

enum { K_SEQUENCE = SV_NTABLES, K_IDS, K_N };
enum { C_CUT = 0, C_LOST = -1 }; /* col_t.type besides SQLITE_* */

typedef struct {
    int type;
    int64_t i;
    uint64_t off, len; /* in the payload */
} col_t;

typedef struct {
    uint32_t off, local; /* of the payload on the page; its bytes there */
    uint64_t len;
    int64_t rowid;
} cell_t;

typedef struct {
    sv_pager_t *pg;
    uint32_t usable, count;
    uint8_t *page, *ovfl;
    uint8_t *pay; /* a payload with overflow, put together */
    uint64_t pay_cap;
    cell_t *cells;
    uint8_t *free_map; /* bit per page: on the freelist */
    uint32_t *stamp;   /* per page: the last chain that read it */
    uint32_t chain;
    uint64_t budget;   /* overflow pages left to read */
    sqlite3 *db;
    sqlite3_stmt *put[K_N][2]; /* [kind][live] */
    uint64_t found[K_N];
    sv_raw_stats_t *stats;
} raw_t;

/* Each kind of row: its table here, its columns, the fewest a row can
 * have, and per column the types it may hold: z NULL (an INTEGER PRIMARY
 * KEY, which the record stores as NULL), i integer, I integer or NULL,
 * t text, T text or NULL, B blob or NULL, 1 a 16-byte blob, 2 a 32-byte
 * blob.  The schema: am_store_schema (store_ops.c). */
static const struct {
    const char *table, *cols, *shape;
    int min;
} kinds[K_N] = {
    [SV_MESSAGES] = {"messages", "seq, message_id, envelope_hash, sender, "
                     "priority, expires_at, accepted_at, envelope, route, "
                     "accepted_sig", "z12tiiiBTB", 8},
    [SV_DELIVERIES] = {"deliveries", "seq, recipient, state, priority, "
                       "acked_at, agencies", "itiiIT", 5},
    [SV_NOTICES] = {"notices", "id, sender, kind, message_id, "
                    "envelope_hash, recipient, time, state, evidence",
                    "zti12tiiB", 8},
    [SV_AUDIT] = {"audit", "seq, record, hash", "zt2", 3},
    [SV_ACKED] = {"acked", "id, recipient, seq, time", "ztii", 4},
    [K_SEQUENCE] = {"sequence", "name, seq", "ti", 2},
    [K_IDS] = {"message_ids", "message_id, seq", "1i", 2},
};

/* A varint of at most 9 bytes among the avail at p: its length, 0 when
 * it runs past them. */
static unsigned varint(const uint8_t *p, uint64_t avail, uint64_t *v)
{
    uint64_t x = 0;

    for (unsigned i = 0; i < 9 && i < avail; i++) {
        if (i == 8) {
            *v = x << 8 | p[8];
            return 9;
        }
        x = x << 7 | (p[i] & 0x7f);
        if ((p[i] & 0x80) == 0) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* The bytes of a payload of len on a page of usable size u (section
 * 1.6): all of it up to a limit, else a part that leaves the rest of
 * whole overflow pages, but never less than a minimum. */
static uint32_t local_size(uint32_t u, uint64_t len, bool index)
{
    uint32_t x = index ? (u - 12) * 64 / 255 - 23 : u - 35;
    uint32_t m = (u - 12) * 32 / 255 - 23;
    uint64_t k;

    if (len <= x)
        return (uint32_t)len;
    k = m + (len - m) % (u - 4);
    return k <= x ? (uint32_t)k : m;
}

/* A serial type's column (section 2.1); false for a float or a reserved
 * type, which no column of the relay holds. */
static bool serial(uint64_t t, col_t *c)
{
    static const uint8_t int_len[] = {0, 1, 2, 3, 4, 6, 8};

    c->i = 0;
    if (t == 0 || (t >= 1 && t <= 6) || t == 8 || t == 9) {
        c->type = t == 0 ? SQLITE_NULL : SQLITE_INTEGER;
        c->len = t <= 6 ? int_len[t] : 0;
        c->i = t == 9;
        return true;
    }
    if (t < 12)
        return false;
    c->type = t % 2 == 0 ? SQLITE_BLOB : SQLITE_TEXT;
    c->len = (t - 12) / 2;
    return true;
}

/* The columns of a record of len bytes: 1 when its header is whole
 * among the have at b and adds up to len, 0 when it is no record, -1
 * when its header runs past have. */
static int record(const uint8_t *b, uint64_t have, uint64_t len, col_t *c,
                  int *n)
{
    uint64_t hl, t, body;
    unsigned k = varint(b, have < len ? have : len, &hl);

    if (k == 0)
        return have < len && have < 9 ? -1 : 0;
    if (hl < k || hl > len || hl > HDR_MAX)
        return 0;
    if (hl > have)
        return -1;
    body = hl;
    *n = 0;
    for (uint64_t at = k; at < hl; at += k) {
        if (*n == COLS_MAX || (k = varint(b + at, hl - at, &t)) == 0 ||
            !serial(t, &c[*n]) || c[*n].len > len - body)
            return 0;
        c[*n].off = body;
        body += c[(*n)++].len;
    }
    return body == len;
}

static bool fits(char want, const col_t *c)
{
    switch (want) {
    case 'z': return c->type == SQLITE_NULL;
    case 'i': return c->type == SQLITE_INTEGER;
    case 'I': return c->type == SQLITE_INTEGER || c->type == SQLITE_NULL;
    case 't': return c->type == SQLITE_TEXT;
    case 'T': return c->type == SQLITE_TEXT || c->type == SQLITE_NULL;
    case 'B': return c->type == SQLITE_BLOB || c->type == SQLITE_NULL;
    case '1': return c->type == SQLITE_BLOB && c->len == AM_MSG_ID_LEN;
    case '2': return c->type == SQLITE_BLOB && c->len == AM_HASH_LEN;
    default: return false;
    }
}

/* The kind of row a record's columns make, or -1. */
static int shape(const col_t *c, int n, bool index)
{
    for (int k = index ? K_IDS : 0; k < (index ? K_N : K_IDS); k++) {
        const char *s = kinds[k].shape;
        int i = 0;

        if (n < kinds[k].min || (size_t)n > strlen(s))
            continue;
        while (i < n && fits(s[i], &c[i]))
            i++;
        if (i == n)
            return k;
    }
    return -1;
}

/* Integers read; a column the have bytes end before is cut. */
static void values(const uint8_t *b, uint64_t have, col_t *c, int n)
{
    for (int k = 0; k < n; k++) {
        uint64_t v;

        if (c[k].off + c[k].len > have) {
            c[k].type = C_CUT;
            continue;
        }
        if (c[k].type != SQLITE_INTEGER || c[k].len == 0)
            continue;
        v = b[c[k].off] & 0x80 ? UINT64_MAX : 0; /* the sign */
        for (uint64_t i = 0; i < c[k].len; i++)
            v = v << 8 | b[c[k].off + i];
        c[k].i = (int64_t)v;
    }
}

/* A row whose payload was cut short (its overflow chain broken): a
 * message whose cut falls in its envelope keeps its row with the
 * envelope marked lost and what follows NULL; any other is not read. */
static bool whole(int kind, col_t *c, int n)
{
    int k = 0;

    while (k < n && c[k].type != C_CUT)
        k++;
    if (k == n)
        return true;
    if (kind != SV_MESSAGES || k < 7)
        return false;
    for (int i = k; i < n; i++)
        c[i].type = i == 7 ? C_LOST : SQLITE_NULL;
    return true;
}

static bool is_live(int kind, const col_t *c, int n)
{
    switch (kind) {
    case SV_MESSAGES: return n > 7 && c[7].type != SQLITE_NULL;
    case SV_DELIVERIES: return c[2].type == SQLITE_INTEGER && c[2].i == 0;
    case SV_NOTICES: return c[7].type == SQLITE_INTEGER && c[7].i == 0;
    default: return false;
    }
}

static int bind_col(sqlite3_stmt *st, int at, const col_t *c,
                    const uint8_t *b)
{
    switch (c->type) {
    case SQLITE_INTEGER: return sqlite3_bind_int64(st, at, c->i);
    case SQLITE_TEXT:
        return sqlite3_bind_text(st, at, (const char *)b + c->off,
                                 (int)c->len, SQLITE_STATIC);
    case SQLITE_BLOB:
        return sqlite3_bind_blob(st, at, b + c->off, (int)c->len,
                                 SQLITE_STATIC);
    case C_LOST: return sqlite3_bind_zeroblob(st, at, 0);
    default: return SQLITE_OK; /* NULL */
    }
}

static int db_error(sqlite3 *db)
{
    return (sqlite3_errcode(db) & 0xff) == SQLITE_NOMEM ? AM_ENOMEM : AM_EIO;
}

/* sqlite_sequence's row of a table the salvage reads to its end. */
static bool sequence_of(const col_t *c, const uint8_t *b)
{
    static const char *const names[] = {"messages", "notices", "audit"};

    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (c[0].len == strlen(names[i]) &&
            memcmp(b + c[0].off, names[i], c[0].len) == 0)
            return true;
    return false;
}

/* One row into its table here: ?1 its rowid, ?2... its columns (an
 * INTEGER PRIMARY KEY stands for the rowid, as SQLite reads it). */
static int put_row(raw_t *r, int kind, int64_t rowid, const col_t *c, int n,
                   const uint8_t *b)
{
    sqlite3_stmt *st = r->put[kind][is_live(kind, c, n)];
    int rc = SQLITE_OK, code;

    if (kind == K_SEQUENCE && !sequence_of(c, b))
        return 0;
    if (kind < SV_NTABLES)
        rc = sqlite3_bind_int64(st, 1, rowid);
    for (int k = 0; k < n && rc == SQLITE_OK; k++)
        rc = kinds[kind].shape[k] == 'z' ? sqlite3_bind_int64(st, k + 2, rowid)
                                         : bind_col(st, k + 2, &c[k], b);
    if (rc == SQLITE_OK && sqlite3_step(st) != SQLITE_DONE)
        rc = SQLITE_ERROR;
    code = sqlite3_errcode(r->db) & 0xff;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_OK)
        r->found[kind]++;
    if (rc == SQLITE_OK || code == SQLITE_TOOBIG)
        return 0; /* a row SQLite will not hold is not read */
    return code == SQLITE_NOMEM ? AM_ENOMEM : AM_EIO;
}

/* The payload of c whole in r->pay, as far as its overflow chain can be
 * followed: *have says how far. */
static int assemble(raw_t *r, const cell_t *c, uint64_t *have)
{
    uint32_t next = am_load_be32(r->page + c->off + c->local), u = r->usable;
    uint64_t got = c->local;
    int rc;

    if (c->len > r->pay_cap) {
        uint8_t *p = am_realloc(r->pay, (size_t)c->len);

        if (p == NULL)
            return AM_ENOMEM;
        r->pay = p;
        r->pay_cap = c->len;
    }
    memcpy(r->pay, r->page + c->off, c->local);
    if (++r->chain == 0) { /* stamps wrapped: none is this chain's */
        memset(r->stamp, 0, (size_t)r->count * sizeof *r->stamp);
        r->chain = 1;
    }
    while (got < c->len && next != 0 && next <= r->count && r->budget > 0 &&
           r->stamp[next - 1] != r->chain) {
        uint64_t n = c->len - got < u - 4 ? c->len - got : u - 4;

        r->stamp[next - 1] = r->chain;
        r->budget--;
        if ((rc = sv_pager_read(r->pg, next, r->ovfl)) < 0)
            return rc;
        if (rc == 1)
            break;
        memcpy(r->pay + got, r->ovfl + 4, (size_t)n);
        got += n;
        next = am_load_be32(r->ovfl);
    }
    r->stats->broken += got < c->len;
    *have = got;
    return 0;
}

/* One cell's payload: a row of the relay's, put into its table. */
static int one_cell(raw_t *r, const cell_t *c, bool index)
{
    const uint8_t *b = r->page + c->off;
    uint64_t have = c->local;
    col_t col[COLS_MAX];
    int n = 0, kind = -1, is = record(b, have, c->len, col, &n), rc;

    if (is < 0 && c->local < c->len && !index) { /* its header overflows */
        if ((rc = assemble(r, c, &have)) != 0)
            return rc;
        b = r->pay;
        is = record(b, have, c->len, col, &n);
    }
    if (is <= 0 || (kind = shape(col, n, index)) < 0)
        return 0;
    if (b != r->pay && c->local < c->len) {
        if (index)
            return 0; /* no entry of the message_id index overflows */
        if ((rc = assemble(r, c, &have)) != 0)
            return rc;
        b = r->pay;
    }
    values(b, have, col, n);
    if (!whole(kind, col, n))
        return 0;
    return put_row(r, kind, c->rowid, col, n, b);
}

/* Rowids ascend within a page: a cell out of order with a neighbour is
 * skipped when its neighbours are in order without it (one rowid
 * damaged); when that cannot be told, both are read. */
static bool in_order(const cell_t *c, uint32_t n, uint32_t i)
{
    bool lo = i == 0 || c[i - 1].rowid < c[i].rowid;
    bool hi = i + 1 == n || c[i].rowid < c[i + 1].rowid;

    if (lo && hi)
        return true;
    if (i > 0 && i + 1 < n)
        return c[i - 1].rowid >= c[i + 1].rowid;
    if (i == 0)
        return n < 3 || c[1].rowid >= c[2].rowid;
    return n < 3 || c[n - 3].rowid >= c[n - 2].rowid;
}

/* The cells of a b-tree page of type t whose header is at h. */
static uint32_t cells(raw_t *r, uint32_t h, uint8_t t)
{
    const uint8_t *pg = r->page;
    bool index = t != 0x0D;
    uint32_t u = r->usable, ptrs = h + (t == 0x02 ? 12 : 8), m = 0;
    uint32_t n = am_load_be16(pg + h + 3);
    uint64_t len, rowid = 0;

    if (ptrs + 2 * n > u)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = am_load_be16(pg + ptrs + 2 * i), local;
        unsigned k;

        if (t == 0x02)
            at += 4; /* an interior cell's child first */
        if (at < ptrs + 2 * n || at >= u ||
            (k = varint(pg + at, u - at, &len)) == 0)
            continue;
        at += k;
        if (!index && (k = varint(pg + at, u - at, &rowid)) == 0)
            continue;
        at += index ? 0 : k;
        if (len > PAYLOAD_MAX)
            continue;
        local = local_size(u, len, index);
        /* the local part, and the first overflow page's number */
        if ((uint64_t)local + (local < len ? 4 : 0) > u - at ||
            len - local > (uint64_t)r->count * (u - 4))
            continue;
        r->cells[m++] = (cell_t){at, local, len, (int64_t)rowid};
    }
    return m;
}

static int one_page(raw_t *r, uint32_t pgno)
{
    uint32_t h = pgno == 1 ? 100 : 0, n;
    uint8_t t = r->page[h];
    int rc = 0;

    if (t != 0x0D && t != 0x0A && t != 0x02)
        return 0;
    n = cells(r, h, t);
    for (uint32_t i = 0; i < n && rc == 0; i++)
        if (t != 0x0D || in_order(r->cells, n, i))
            rc = one_cell(r, &r->cells[i], t != 0x0D);
    return rc;
}

static void mark(raw_t *r, uint32_t p)
{
    r->free_map[(p - 1) / 8] |= (uint8_t)(1u << ((p - 1) % 8));
}

static bool marked(const raw_t *r, uint32_t p)
{
    return (r->free_map[(p - 1) / 8] & (1u << ((p - 1) % 8))) != 0;
}

/* The freelist's pages (section 1.5), when page 1's header can be read
 * and its trunk chain is whole and holds as many pages as the header
 * says; else none (their stale rows are read, section DESIGN). */
static int freelist(raw_t *r)
{
    uint32_t trunk, total, found = 0, leaves;
    int rc;

    if ((rc = sv_pager_read(r->pg, 1, r->page)) != 0)
        return rc < 0 ? rc : 0;
    if (memcmp(r->page, "SQLite format 3", 16) != 0)
        return 0;
    trunk = am_load_be32(r->page + 32);
    total = am_load_be32(r->page + 36);
    while (trunk != 0 && found < total) {
        if (trunk > r->count || marked(r, trunk) ||
            (rc = sv_pager_read(r->pg, trunk, r->ovfl)) != 0)
            goto distrust;
        mark(r, trunk);
        found++;
        leaves = am_load_be32(r->ovfl + 4);
        if (leaves > r->usable / 4 - 2 || leaves > total - found)
            goto distrust;
        for (uint32_t i = 0; i < leaves; i++) {
            uint32_t p = am_load_be32(r->ovfl + 8 + 4 * i);

            if (p == 0 || p > r->count || marked(r, p))
                goto distrust;
            mark(r, p);
        }
        found += leaves;
        trunk = am_load_be32(r->ovfl);
    }
    if (trunk == 0 && found == total) {
        r->stats->freelist = true;
        return 0;
    }
distrust:
    memset(r->free_map, 0, (size_t)r->count / 8 + 1);
    return rc < 0 ? rc : 0;
}

static int walk(raw_t *r)
{
    int rc = freelist(r);

    for (uint32_t p = 1; p <= r->count && rc == 0; p++) {
        if (marked(r, p)) {
            r->stats->free++;
            continue;
        }
        if ((rc = sv_pager_read(r->pg, p, r->page)) == 1) {
            rc = 0;
            continue;
        }
        r->stats->pages++;
        if (rc == 0)
            rc = one_page(r, p);
    }
    return rc;
}

/* The tables here and the two inserts of each: a copy that keeps a
 * message alive replaces one with the same rowid, any other is kept only
 * when the first. */
static int make_db(raw_t *r)
{
    char sql[512], vals[64];
    int rc = AM_EIO;

    if (sqlite3_open_v2("", &r->db, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        return r->db == NULL ? AM_ENOMEM : db_error(r->db);
    /* a row here is a payload of the file and its rowid */
    sqlite3_limit(r->db, SQLITE_LIMIT_LENGTH, (int)PAYLOAD_MAX + 4096);
    if (sqlite3_exec(r->db, "PRAGMA journal_mode = OFF; PRAGMA synchronous "
                     "= OFF", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(r->db);
    for (int k = 0; k < K_N; k++) {
        size_t used = 0, n = strlen(kinds[k].shape);

        snprintf(sql, sizeof sql, "CREATE TABLE %s (%s)", kinds[k].table,
                 kinds[k].cols);
        if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return db_error(r->db);
        for (size_t i = 0; i < n; i++)
            used += (size_t)snprintf(vals + used, sizeof vals - used,
                                     "%s?%zu", i ? ", " : "", i + 2);
        for (int live = 0; live < 2; live++) {
            snprintf(sql, sizeof sql, "INSERT OR %s INTO %s (%s%s) VALUES "
                     "(%s%s)", live ? "REPLACE" : "IGNORE", kinds[k].table,
                     k < SV_NTABLES ? "rowid, " : "", kinds[k].cols,
                     k < SV_NTABLES ? "?1, " : "", vals);
            if (sqlite3_prepare_v2(r->db, sql, -1, &r->put[k][live], NULL) !=
                SQLITE_OK)
                return db_error(r->db);
        }
    }
    rc = sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_error(r->db);
}

static int setup(raw_t *r, const char *path)
{
    int rc;

    if ((rc = sv_pager_open(path, &r->pg)) != 0)
        return rc;
    r->usable = sv_pager_page_size(r->pg);
    r->count = sv_pager_count(r->pg);
    r->budget = 2 * (uint64_t)r->count + 64;
    r->stats->page_size = r->usable;
    r->stats->frames = sv_pager_wal_frames(r->pg);
    if ((r->page = am_malloc(r->usable)) == NULL ||
        (r->ovfl = am_malloc(r->usable)) == NULL ||
        (r->cells = am_malloc(r->usable / 2 * sizeof *r->cells)) == NULL ||
        (r->free_map = am_calloc((size_t)r->count / 8 + 1, 1)) == NULL ||
        (r->stamp = am_calloc((size_t)r->count + 1, sizeof *r->stamp)) ==
            NULL)
        return AM_ENOMEM;
    return make_db(r);
}

static void teardown(raw_t *r)
{
    for (int k = 0; k < K_N; k++)
        for (int live = 0; live < 2; live++)
            sqlite3_finalize(r->put[k][live]);
    sv_pager_close(r->pg);
    am_free(r->page);
    am_free(r->ovfl);
    am_free(r->pay);
    am_free(r->cells);
    am_free(r->free_map);
    am_free(r->stamp);
}

int sv_raw_read(const char *path, sqlite3 **out, sv_raw_stats_t *stats)
{
    raw_t r;
    int rc;

    memset(&r, 0, sizeof r);
    memset(stats, 0, sizeof *stats);
    r.stats = stats;
    if ((rc = setup(&r, path)) != 0 || (rc = walk(&r)) != 0)
        goto fail;
    if (sqlite3_exec(r.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(r.db);
        goto fail;
    }
    for (int k = 0; k < SV_NTABLES; k++)
        stats->rows[k] = r.found[k];
    stats->ids = r.found[K_IDS];
    teardown(&r);
    *out = r.db;
    return 0;
fail:
    teardown(&r);
    sqlite3_close(r.db);
    return rc;
}
