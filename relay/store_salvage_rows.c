/* A salvage's reading (store_salvage.h): every row that can still be
 * read from the damaged file, copied into the new store.
 *
 * A scan of a table stops at its first damaged page (SQLITE_CORRUPT), so
 * rowid tables are read by point lookups, rowid 1, 2, 3... up to the
 * highest rowid the table says it had (its sqlite_sequence value, or
 * max(rowid)), and on until SV_GAP lookups in a row found nothing: the
 * store deletes no row but the acknowledgement log's (folded, store_fold.c,
 * whose rowids are therefore sparse), so rowids are dense and a lookup
 * that fails loses that row only.  Every value read is checked against
 * the schema (type, length, an agency id's syntax, store_col_agency): a
 * damaged row can hold anything.
 * prekeys (WITHOUT ROWID) is scanned from both ends.
 *
 * A row the file cannot give (a lookup that fails, a table its schema no
 * longer names, a rowid missing below the table's own end) is looked up
 * in the rows the raw reader found on its pages (store_salvage_raw.c,
 * store_salvage_fallback.c), and goes through the same checks. */
#include "store_salvage.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "sign.h"

enum { SV_COPIED, SV_DROPPED, SV_LEFT, SV_UNREADABLE, SV_MISS };

typedef int (*sv_row_fn)(salvage_t *v, sqlite3_stmt *st);

int sv_push(void **arr, size_t *n, size_t *cap, size_t size,
            const void *item)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void *p = am_realloc(*arr, c * size);

        if (p == NULL)
            return AM_ENOMEM;
        *arr = p;
        *cap = c;
    }
    memcpy((uint8_t *)*arr + *n * size, item, size);
    (*n)++;
    return 0;
}

bool sv_got(const salvage_t *v, int64_t seq)
{
    return seq > 0 && seq < v->got_n &&
           (v->got[seq / 8] & (1u << (seq % 8))) != 0;
}

static int set_got(salvage_t *v, int64_t seq)
{
    if (seq >= v->got_n) {
        int64_t n = v->got_n ? v->got_n : 4096;
        uint8_t *p;

        while (n <= seq)
            n *= 2;
        if ((p = am_realloc(v->got, (size_t)(n / 8))) == NULL)
            return AM_ENOMEM;
        memset(p + v->got_n / 8, 0, (size_t)((n - v->got_n) / 8));
        v->got = p;
        v->got_n = n;
    }
    v->got[seq / 8] |= (uint8_t)(1u << (seq % 8));
    return 0;
}

/* Out of memory is the only error of the damaged file that stops the
 * salvage: any other loses the row it was reading. */
static bool fatal(int code)
{
    return (code & 0xff) == SQLITE_NOMEM;
}

/* The type of a column; NULL past the last (a store from before a
 * migration has fewer). */
static int ctype(sqlite3_stmt *st, int col)
{
    return col < sqlite3_column_count(st) ? sqlite3_column_type(st, col)
                                          : SQLITE_NULL;
}

static int64_t int_or(sqlite3_stmt *st, int col, int64_t dflt)
{
    return ctype(st, col) == SQLITE_INTEGER ? sqlite3_column_int64(st, col)
                                            : dflt;
}


static bool is_blob(sqlite3_stmt *st, int col, int min, int max)
{
    int n;

    if (ctype(st, col) != SQLITE_BLOB)
        return false;
    n = sqlite3_column_bytes(st, col);
    return n >= min && n <= max;
}

/* One value of the damaged file, by a query of one row and column: -1
 * when it cannot be read, is not an integer, or is beyond what the file
 * could hold; *bad when the query failed (rather than found no row). */
static int64_t one_int(salvage_t *v, const char *sql, const char *arg,
                       bool *bad)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    int step = SQLITE_ERROR;

    if (sqlite3_prepare_v2(v->src, sql, -1, &st, NULL) == SQLITE_OK &&
        (arg == NULL || sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC) ==
                            SQLITE_OK) &&
        (step = sqlite3_step(st)) == SQLITE_ROW)
        n = int_or(st, 0, -1);
    *bad |= step != SQLITE_ROW && step != SQLITE_DONE;
    sqlite3_finalize(st);
    return n >= 0 && n <= v->cap ? n : -1;
}

/* The reading of one table: from the damaged file (st, and retry for
 * fewer columns when the whole row cannot be read: an envelope's broken
 * overflow pages), else from the rows the raw reader found (raw). */
typedef struct {
    sv_table_t *t;
    const char *table;
    sqlite3_stmt *st, *retry, *raw;
    sv_row_fn fn;
    int64_t hint; /* read at least this far */
    int64_t sure; /* the file's own highest rowid: rowids are dense, so a
                     miss at or below it is damage */
    bool dense;   /* no row of the table is ever deleted (all but acked) */
    bool seq_bad; /* its sqlite_sequence value could not be read */
    bool raw_seen; /* the raw rows' figures are in hint and known */
} probe_t;

/* The highest rowid the table says it holds; a failed query is damage,
 * and the raw reader runs. */
static int known_hi(salvage_t *v, probe_t *p)
{
    char q[96];
    bool bad = false;
    int64_t a, b;

    a = one_int(v, "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                p->table, &p->seq_bad);
    snprintf(q, sizeof q, "SELECT coalesce(max(rowid), 0) FROM %s",
             p->table);
    b = one_int(v, q, NULL, &bad);
    p->t->known = p->hint = p->sure = a > b ? a : b;
    return bad || p->seq_bad ? sv_raw_need(v) : 0;
}

/* What the raw rows say of the table: their highest rowid is read to,
 * and their sqlite_sequence value is the table's own where the file's
 * could not be read. */
static void raw_figures(salvage_t *v, probe_t *p)
{
    int64_t seq = p->seq_bad ? sv_raw_seq(v, p->table) : -1;
    int64_t hi = sv_raw_hi(v, p->table);

    p->raw_seen = true;
    if (seq > p->t->known)
        p->t->known = seq;
    if (p->t->known > p->hint)
        p->hint = p->t->known;
    if (hi > p->hint)
        p->hint = hi;
}

static int lookup(sqlite3_stmt *st, int64_t r)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r);
    return sqlite3_step(st);
}

/* Rowid r from the raw rows: as fn says, SV_MISS when they have none. */
static int from_raw(salvage_t *v, probe_t *p, const char *sql, int64_t r)
{
    int rc, step;

    if ((rc = sv_raw_need(v)) != 0)
        return rc;
    if (v->raw == NULL)
        return SV_MISS;
    if (!p->raw_seen)
        raw_figures(v, p);
    if (p->raw == NULL && ((rc = sv_raw_prepare(v, sql, &p->raw)) != 0 ||
                           p->raw == NULL))
        return rc != 0 ? rc : SV_MISS;
    if ((step = lookup(p->raw, r)) == SQLITE_ROW)
        return p->fn(v, p->raw);
    return fatal(step) ? AM_ENOMEM : SV_MISS;
}

/* Rowid r of one table: one of SV_*, or AM_ENOMEM.  A row the file
 * cannot give (or misses below its own end) is taken from the raw rows;
 * failing those, from retry. */
static int probe_one(salvage_t *v, probe_t *p, const char *sql, int64_t r)
{
    int step = p->st != NULL ? lookup(p->st, r) : SQLITE_ERROR, got, again;

    if (step == SQLITE_ROW)
        got = p->fn(v, p->st);
    else if (p->st != NULL && step != SQLITE_DONE &&
             fatal(sqlite3_extended_errcode(v->src)))
        got = AM_ENOMEM;
    else if (step == SQLITE_DONE && (r > p->sure || !p->dense))
        got = SV_MISS;
    else if ((got = from_raw(v, p, sql, r)) >= 0 && got != SV_COPIED &&
             step != SQLITE_DONE && p->retry != NULL) {
        if ((again = lookup(p->retry, r)) == SQLITE_ROW)
            got = p->fn(v, p->retry);
        else if (fatal(again))
            got = AM_ENOMEM;
    }
    if (got == SV_MISS && step != SQLITE_DONE)
        got = SV_UNREADABLE;
    if (p->st != NULL)
        sqlite3_reset(p->st);
    if (p->retry != NULL)
        sqlite3_reset(p->retry);
    if (p->raw != NULL)
        sqlite3_reset(p->raw);
    return got;
}

/* Prepared on the file; a table its schema does not name (or that no
 * longer parses) is read from the raw rows alone, when they have it. */
static int probe_open(salvage_t *v, probe_t *p, const char *sql,
                      const char *retry_sql)
{
    int rc;

    if (sqlite3_prepare_v2(v->src, sql, -1, &p->st, NULL) != SQLITE_OK) {
        p->st = NULL;
        if ((rc = sv_raw_need(v)) != 0)
            return rc;
        p->t->known = -1;
        p->seq_bad = true;
        raw_figures(v, p);
        p->t->readable = sv_raw_hi(v, p->table) > 0;
        return 0;
    }
    p->t->readable = true;
    if (retry_sql != NULL &&
        sqlite3_prepare_v2(v->src, retry_sql, -1, &p->retry, NULL) !=
            SQLITE_OK)
        p->retry = NULL;
    return known_hi(v, p);
}

static int probe(salvage_t *v, probe_t *p, const char *sql,
                 const char *retry_sql)
{
    sv_table_t *t = p->t;
    int64_t miss = 0;
    int rc;

    t->first_gap = -1;
    if ((rc = probe_open(v, p, sql, retry_sql)) != 0 || !t->readable)
        goto done;
    for (int64_t r = 1; r <= v->cap && (r <= p->hint || miss < SV_GAP); r++) {
        int got = probe_one(v, p, sql, r);

        if (got < 0) {
            rc = got;
            break;
        }
        t->copied += got == SV_COPIED;
        t->dropped += got == SV_DROPPED;
        t->left += got == SV_LEFT;
        if (got == SV_UNREADABLE || got == SV_MISS) {
            miss++;
            if (t->first_gap < 0)
                t->first_gap = r;
            continue;
        }
        miss = 0;
        t->hi = r;
    }
    if (t->first_gap > (t->hi > t->known ? t->hi : t->known))
        t->first_gap = -1; /* only misses past the end */
done:
    sqlite3_finalize(p->st);
    sqlite3_finalize(p->retry);
    sqlite3_finalize(p->raw);
    return rc;
}

/* Step an insert into the new store: SV_COPIED, SV_DROPPED when the
 * store refuses the row (a damaged value that breaks a constraint), or
 * the error that stops the salvage. */
static int put(salvage_t *v, sqlite3_stmt *w)
{
    int step = sqlite3_step(w), code;

    sqlite3_reset(w);
    sqlite3_clear_bindings(w);
    if (step == SQLITE_DONE)
        return sqlite3_changes(v->s->db) > 0 ? SV_COPIED : SV_DROPPED;
    code = sqlite3_extended_errcode(v->s->db);
    if ((code & 0xff) == SQLITE_CONSTRAINT)
        return SV_DROPPED;
    return store_db_error(v->s, "salvage: write");
}

static int prepare_put(salvage_t *v, const char *sql, sqlite3_stmt **w)
{
    if (sqlite3_prepare_v2(v->s->db, sql, -1, w, NULL) != SQLITE_OK)
        return store_db_error(v->s, sql);
    return 0;
}

/* Rows are read by position (SELECT rowid, *): a column whose name a
 * bit flip changed is still read, and the rowid stands for the seq or id
 * whatever the declaration of its column says now. */
enum { M_SEQ = 0, M_ID = 2, M_HASH, M_SENDER, M_PRIO, M_EXP, M_ACC, M_ENV,
       M_ROUTE };
enum { D_SEQ = 1, D_TO, D_STATE, D_PRIO, D_ACKED, D_AGENCIES };

/* Bytes that hash to the row's envelope_hash are the bytes whose
 * signature the relay verified (store_check.c): their header is the
 * truth about the message, whatever the row's other columns say. */
static bool authentic(sqlite3_stmt *st, am_env_t **e)
{
    const uint8_t *env;
    uint8_t h[AM_HASH_LEN];

    *e = NULL;
    if (!is_blob(st, M_ENV, 1, (int)AM_ENV_MAX) ||
        !is_blob(st, M_HASH, AM_HASH_LEN, AM_HASH_LEN) ||
        (env = sqlite3_column_blob(st, M_ENV)) == NULL)
        return false;
    return am_hash256(env, (size_t)sqlite3_column_bytes(st, M_ENV), h) == 0 &&
           memcmp(h, sqlite3_column_blob(st, M_HASH), AM_HASH_LEN) == 0 &&
           am_env_parse(env, (size_t)sqlite3_column_bytes(st, M_ENV),
                        AM_ENV_MAX, e) == 0;
}

/* A row whose envelope does not vouch for it is copied as read when it
 * still names its message, hash and sender, with what it may not hold
 * replaced by what fails the envelope check at start (store_check.c):
 * the message is then quarantined and its sender told.  Without them
 * nobody could be told: the row is left out, and lost.txt lists it. */
static bool names_itself(sqlite3_stmt *st)
{
    return is_blob(st, M_ID, AM_MSG_ID_LEN, AM_MSG_ID_LEN) &&
           is_blob(st, M_HASH, AM_HASH_LEN, AM_HASH_LEN) &&
           store_col_agency(st, M_SENDER);
}

/* Whom a row its envelope does not vouch for says to tell must be one who
 * can be told: the relay that forwarded it, or a sender served here (the
 * directory, when there is one).  A damaged sender column that still reads
 * as some valid id would have the evidence owed to nobody, and the real
 * sender would never hear: such a row is left out and lost.txt lists it. */
static bool can_be_told(const salvage_t *v, sqlite3_stmt *st)
{
    char via[AM_AGENCY_ID_MAX + 1];

    if (ctype(st, M_ROUTE) != SQLITE_NULL)
        return store_col_agency(st, M_ROUTE);
    return v->s->route == NULL ||
           v->s->route(v->s->route_ctx, (const char *)sqlite3_column_text(
                           st, M_SENDER), via) == AM_STORE_HERE;
}

static void bind_env(sqlite3_stmt *w, sqlite3_stmt *st, const am_env_t *e)
{
    if (e != NULL) {
        sqlite3_bind_blob(w, 2, am_env_claimed_id(e), AM_MSG_ID_LEN,
                          SQLITE_STATIC);
        sqlite3_bind_text(w, 4, am_env_sender(e), -1, SQLITE_STATIC);
        sqlite3_bind_int(w, 5, am_env_claimed_priority(e));
        sqlite3_bind_int64(w, 6, am_env_claimed_expires_at(e));
    } else {
        sqlite3_bind_blob(w, 2, sqlite3_column_blob(st, M_ID), AM_MSG_ID_LEN,
                          SQLITE_STATIC);
        sqlite3_bind_text(w, 4, (const char *)sqlite3_column_text(st,
                          M_SENDER), -1, SQLITE_STATIC);
        sqlite3_bind_int64(w, 5, int_or(st, M_PRIO, 0));
        sqlite3_bind_int64(w, 6, int_or(st, M_EXP, 0));
    }
    sqlite3_bind_blob(w, 3, sqlite3_column_blob(st, M_HASH), AM_HASH_LEN,
                      SQLITE_STATIC);
    sqlite3_bind_int64(w, 7, int_or(st, M_ACC, 0));
}

static int message_row(salvage_t *v, sqlite3_stmt *st)
{
    sqlite3_stmt *w = v->w;
    int64_t seq = int_or(st, M_SEQ, -1);
    int type = ctype(st, M_ENV), rc;
    bool real;
    am_env_t *e;

    if (seq <= 0 || seq > v->cap)
        return SV_DROPPED;
    real = authentic(st, &e);
    if (!real && (!names_itself(st) || !can_be_told(v, st)))
        return SV_DROPPED;
    sqlite3_bind_int64(w, 1, seq);
    bind_env(w, st, e);
    if (is_blob(st, M_ENV, 1, (int)AM_ENV_MAX))
        sqlite3_bind_blob(w, 8, sqlite3_column_blob(st, M_ENV),
                          sqlite3_column_bytes(st, M_ENV), SQLITE_STATIC);
    else if (type != SQLITE_NULL)
        sqlite3_bind_zeroblob(w, 8, 0); /* held, but its bytes are lost */
    if (ctype(st, M_ROUTE) != SQLITE_NULL)
        sqlite3_bind_text(w, 9, store_col_agency(st, M_ROUTE) ? (const char *)
                          sqlite3_column_text(st, M_ROUTE) : "", -1,
                          SQLITE_STATIC);
    rc = put(v, w);
    am_env_free(e);
    if (rc == SV_COPIED && (rc = set_got(v, seq)) == 0)
        v->held += type != SQLITE_NULL;
    return rc;
}

static bool known_state(int64_t state)
{
    return state == 0 || (state >= 2 && state <= 5);
}

/* A delivery of a message whose row was lost is not copied: its seq
 * could later be given to another message. */
static int orphan(salvage_t *v, sqlite3_stmt *st, int64_t seq)
{
    sv_orphan_t o = {seq, -1, ""};
    int64_t state = int_or(st, D_STATE, -1);

    if (known_state(state))
        o.state = (int)state;
    if (store_col_agency(st, D_TO))
        snprintf(o.who, sizeof o.who, "%s", sqlite3_column_text(st, D_TO));
    return sv_push((void **)&v->orph, &v->n_orph, &v->cap_orph, sizeof o,
                   &o) == 0 ? SV_LEFT : AM_ENOMEM;
}

#define AGENCIES_MAX (AM_ENV_MAX_RECIPIENTS * (AM_AGENCY_ID_MAX + 3) + 3)

/* A list of agencies must be JSON the store can read (json_each). */
static bool json_list(salvage_t *v, sqlite3_stmt *st)
{
    bool ok;

    if (ctype(st, D_AGENCIES) == SQLITE_NULL)
        return true;
    if (ctype(st, D_AGENCIES) != SQLITE_TEXT ||
        sqlite3_column_bytes(st, D_AGENCIES) > AGENCIES_MAX)
        return false;
    sqlite3_reset(v->json);
    sqlite3_bind_text(v->json, 1, (const char *)sqlite3_column_text(st,
                      D_AGENCIES), -1, SQLITE_STATIC);
    ok = sqlite3_step(v->json) == SQLITE_ROW &&
         sqlite3_column_int(v->json, 0) == 1;
    sqlite3_reset(v->json);
    return ok;
}

static int delivery_row(salvage_t *v, sqlite3_stmt *st)
{
    int64_t seq = int_or(st, D_SEQ, -1), state = int_or(st, D_STATE, -1);
    int acked = ctype(st, D_ACKED);
    sqlite3_stmt *w = v->w;
    int rc;

    if (seq <= 0 || seq > v->cap)
        return SV_DROPPED;
    if (!sv_got(v, seq))
        return orphan(v, st, seq);
    if (!store_col_agency(st, D_TO) || !known_state(state) ||
        ctype(st, D_PRIO) != SQLITE_INTEGER ||
        (acked != SQLITE_NULL && acked != SQLITE_INTEGER) || !json_list(v, st))
        return SV_DROPPED; /* a pending one is recreated (sv_fix) */
    sqlite3_bind_int64(w, 1, seq);
    sqlite3_bind_text(w, 2, (const char *)sqlite3_column_text(st, D_TO), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(w, 3, state);
    sqlite3_bind_int64(w, 4, sqlite3_column_int64(st, D_PRIO));
    if (acked == SQLITE_INTEGER)
        sqlite3_bind_int64(w, 5, sqlite3_column_int64(st, D_ACKED));
    if (ctype(st, D_AGENCIES) == SQLITE_TEXT)
        sqlite3_bind_text(w, 6, (const char *)sqlite3_column_text(st,
                          D_AGENCIES), -1, SQLITE_STATIC);
    if ((rc = put(v, w)) == SV_COPIED && state == 0)
        v->pending++;
    return rc;
}

/* Columns from `from` on as parameters 2...; the rowid as parameter 1. */
static int bind_rest(salvage_t *v, sqlite3_stmt *st, int from, int last)
{
    if (sqlite3_bind_int64(v->w, 1, sqlite3_column_int64(st, 0)) != SQLITE_OK)
        return AM_ENOMEM;
    for (int i = from; i <= last; i++)
        if (ctype(st, i) != SQLITE_NULL &&
            sqlite3_bind_value(v->w, i, sqlite3_column_value(st, i)) !=
                SQLITE_OK)
            return AM_ENOMEM;
    return put(v, v->w);
}

/* rowid, id, sender, kind, message_id, envelope_hash, recipient, time,
 * state, evidence */
static int notice_row(salvage_t *v, sqlite3_stmt *st)
{
    int64_t kind = int_or(st, 3, -1), state = int_or(st, 8, -1);

    if (int_or(st, 0, -1) <= 0 || !store_col_agency(st, 2) || kind < 1 ||
        kind > 4 ||
        !is_blob(st, 4, AM_MSG_ID_LEN, AM_MSG_ID_LEN) ||
        !is_blob(st, 5, AM_HASH_LEN, AM_HASH_LEN) || !store_col_agency(st, 6) ||
        ctype(st, 7) != SQLITE_INTEGER || (state != 0 && state != 1) ||
        (ctype(st, 9) != SQLITE_NULL && !is_blob(st, 9, 1, AM_EVIDENCE_MAX)))
        return SV_DROPPED;
    return bind_rest(v, st, 2, 9);
}

/* rowid, seq, record, hash */
static int audit_row(salvage_t *v, sqlite3_stmt *st)
{
    int n = sqlite3_column_bytes(st, 2);

    if (int_or(st, 0, -1) <= 0 || ctype(st, 2) != SQLITE_TEXT || n < 1 ||
        n > AM_AUDIT_TEXT_MAX || !is_blob(st, 3, 32, 32))
        return SV_DROPPED;
    return bind_rest(v, st, 2, 3);
}

/* rowid, id, recipient, seq, time: an acknowledgement not yet folded
 * (store_fold.c); lost, its delivery is made again (at least once).  A
 * cell cut inside seq reads the rest as zeros: seq 260 as 256, time 0.
 * Folded, that would end the delivery of a message nobody received; a
 * time of 0 marks the cut (no acknowledgement is logged at time 0). */
static int acked_row(salvage_t *v, sqlite3_stmt *st)
{
    if (int_or(st, 0, -1) <= 0 || !store_col_agency(st, 2) ||
        int_or(st, 3, 0) <= 0 || int_or(st, 4, 0) <= 0)
        return SV_DROPPED;
    return bind_rest(v, st, 2, 4);
}

/* prekeys has no rowid: a scan from each end, each as far as it reads. */
static int prekeys(salvage_t *v, const char *order)
{
    char q[192];
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    int rc = 0;

    snprintf(q, sizeof q, "SELECT * FROM prekeys ORDER BY 1 %s", order);
    if (sqlite3_prepare_v2(v->src, q, -1, &st, NULL) != SQLITE_OK)
        return 0;
    while (rc == 0 && n++ < v->cap && sqlite3_step(st) == SQLITE_ROW) {
        bool ok = store_col_agency(st, 0) && is_blob(st, 4, 1, AM_PREKEY_MAX);

        for (int i = 1; i < 6 && ok; i++)
            ok = i == 4 || sqlite3_column_type(st, i) == SQLITE_INTEGER;
        for (int i = 0; i < 6 && ok; i++)
            if (sqlite3_bind_value(v->w, i + 1, sqlite3_column_value(st, i)) !=
                SQLITE_OK)
                rc = AM_ENOMEM;
        if (ok && rc == 0 && (rc = put(v, v->w)) == SV_COPIED)
            v->prekeys++;
        rc = rc < 0 ? rc : 0;
    }
    if (rc == 0 && fatal(sqlite3_extended_errcode(v->src)))
        rc = AM_ENOMEM;
    sqlite3_finalize(st);
    return rc;
}

static const struct {
    const char *table, *read, *retry, *write;
    sv_row_fn fn;
} tables[SV_NTABLES] = {
    [SV_MESSAGES] = {"messages",
        "SELECT rowid, * FROM messages WHERE rowid = ?1",
        /* typeof() reads no overflow page: the rest of the row without
         * the envelope, when its bytes cannot be read */
        "SELECT rowid, NULL, message_id, envelope_hash, sender, priority, "
        "expires_at, accepted_at, CASE typeof(envelope) WHEN 'null' THEN "
        "NULL ELSE x'' END, NULL FROM messages WHERE rowid = ?1",
        "INSERT INTO messages (seq, message_id, envelope_hash, sender, "
        "priority, expires_at, accepted_at, envelope, route) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6, ?7, ?8, ?9)", message_row},
    [SV_DELIVERIES] = {"deliveries",
        "SELECT rowid, * FROM deliveries WHERE rowid = ?1", NULL,
        "INSERT OR IGNORE INTO deliveries (seq, recipient, state, priority, "
        "acked_at, agencies) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", delivery_row},
    [SV_NOTICES] = {"notices",
        "SELECT rowid, * FROM notices WHERE rowid = ?1", NULL,
        "INSERT OR IGNORE INTO notices (id, sender, kind, message_id, "
        "envelope_hash, recipient, time, state, evidence) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6, ?7, ?8, ?9)", notice_row},
    [SV_AUDIT] = {"audit",
        "SELECT rowid, * FROM audit WHERE rowid = ?1", NULL,
        "INSERT INTO audit (seq, record, hash) VALUES (?1, ?2, ?3)",
        audit_row},
    [SV_ACKED] = {"acked",
        "SELECT rowid, * FROM acked WHERE rowid = ?1", NULL,
        "INSERT OR IGNORE INTO acked (id, recipient, seq, time) VALUES "
        "(?1, ?2, ?3, ?4)", acked_row},
};

int sv_read_all(salvage_t *v)
{
    int rc = 0;

    if (sqlite3_prepare_v2(v->s->db, "SELECT json_valid(?1)", -1, &v->json,
                           NULL) != SQLITE_OK)
        return store_db_error(v->s, "salvage: json");
    /* messages first: a delivery is copied only with its message */
    for (int i = 0; i < SV_NTABLES && rc == 0; i++) {
        probe_t p = {&v->t[i], tables[i].table, NULL, NULL, NULL,
                     tables[i].fn, 0, -1, i != SV_ACKED, false, false};

        if ((rc = prepare_put(v, tables[i].write, &v->w)) == 0)
            rc = probe(v, &p, tables[i].read, tables[i].retry);
        sqlite3_finalize(v->w);
        v->w = NULL;
    }
    if (rc == 0 && (rc = prepare_put(v, "INSERT OR IGNORE INTO prekeys "
                                     "(agency, prekey_id, created_at, "
                                     "not_after, signed, cert_serial) VALUES "
                                     "(?1, ?2, ?3, ?4, ?5, ?6)", &v->w)) == 0 &&
        (rc = prekeys(v, "ASC")) == 0)
        rc = prekeys(v, "DESC");
    sqlite3_finalize(v->w);
    v->w = NULL;
    sqlite3_finalize(v->json);
    v->json = NULL;
    return rc != 0 ? rc : sv_name_lost(v);
}
