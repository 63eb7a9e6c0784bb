/* A salvage's names for the messages it lost (store_salvage.h): the ids
 * the message_id index still holds for seqs whose rows were not copied,
 * so that lost.txt can name them.  From the file's own index, read in
 * ranges so that a damaged page of it loses only its entries; then from
 * the index entries the raw reader found on the pages
 * (store_salvage_raw.c), for seqs the first did not name. */
#include "store_salvage.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Out of memory is the only error that stops the salvage. */
static bool fatal(int code)
{
    return (code & 0xff) == SQLITE_NOMEM;
}

/* Whether an index entry names a lost message: its seq within what the
 * table says it held (top) and not copied, and its id not that of a
 * message copied under another seq (a bit flipped in the entry's seq
 * would otherwise list a delivered message as lost, and invent seqs). */
static bool names_lost(salvage_t *v, int64_t seq, const uint8_t *id,
                       int64_t top)
{
    bool held;

    if (seq <= 0 || seq > v->cap || seq > top || sv_got(v, seq))
        return false;
    sqlite3_reset(v->has_id);
    sqlite3_bind_blob(v->has_id, 1, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    held = sqlite3_step(v->has_id) == SQLITE_ROW;
    sqlite3_reset(v->has_id);
    return !held;
}

/* Entries of the message_id index in [lo, hi): the ids of messages whose
 * row was lost.  false when the range could not be read to its end. */
static bool name_range(salvage_t *v, sqlite3_stmt *st, const uint8_t *lo,
                       int lo_n, const uint8_t *hi, int hi_n, int *rc)
{
    sv_named_t n;
    int step = SQLITE_DONE;

    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, lo, lo_n, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hi, hi_n, SQLITE_STATIC);
    while (*rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        n.seq = sqlite3_column_type(st, 0) == SQLITE_INTEGER
                    ? sqlite3_column_int64(st, 0) : -1;
        if (sqlite3_column_type(st, 1) != SQLITE_BLOB ||
            sqlite3_column_bytes(st, 1) != AM_MSG_ID_LEN ||
            !names_lost(v, n.seq, sqlite3_column_blob(st, 1), v->name_top))
            continue;
        memcpy(n.id, sqlite3_column_blob(st, 1), AM_MSG_ID_LEN);
        *rc = sv_push((void **)&v->named, &v->n_named, &v->cap_named,
                      sizeof n, &n);
    }
    if (*rc == 0 && step != SQLITE_DONE && fatal(step))
        *rc = AM_ENOMEM;
    sqlite3_reset(st);
    return *rc != 0 || step == SQLITE_DONE;
}

/* Ids are random: 256 ranges by first byte, a damaged one read again as
 * 256 ranges by its first two bytes, so that a damaged page of the index
 * loses only the entries it held. */
static int name_lost(salvage_t *v)
{
    static const char q[] =
        "SELECT seq, message_id FROM messages INDEXED BY "
        "sqlite_autoindex_messages_1 WHERE message_id >= ?1 AND "
        "message_id < ?2";
    uint8_t lo[2], hi[2], top[AM_MSG_ID_LEN + 1];
    sqlite3_stmt *st = NULL;
    int rc = 0;

    memset(top, 0xff, sizeof top); /* above every id */
    if (sqlite3_prepare_v2(v->src, q, -1, &st, NULL) != SQLITE_OK)
        return 0;
    for (int b = 0; b < 256 && rc == 0; b++) {
        lo[0] = (uint8_t)b;
        hi[0] = (uint8_t)(b + 1);
        if (name_range(v, st, lo, 1, b < 255 ? hi : top, b < 255 ? 1 : 17,
                       &rc))
            continue;
        for (int c = 0; c < 256 && rc == 0; c++) {
            lo[1] = (uint8_t)c;
            hi[0] = (uint8_t)(c < 255 ? b : b + 1);
            hi[1] = (uint8_t)(c + 1);
            (void)name_range(v, st, lo, 2, c < 255 ? hi : b < 255 ? hi : top,
                             c < 255 ? 2 : b < 255 ? 1 : 17, &rc);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = ((const sv_named_t *)a)->seq, y = ((const sv_named_t *)b)->seq;

    return (x > y) - (x < y);
}

/* The message_id index's entries the raw reader found, for lost seqs up
 * to top (no higher: a damaged entry must not make seqs up that never
 * were), and not named already. */
static int raw_names(salvage_t *v, int64_t top)
{
    sqlite3_stmt *st = NULL;
    size_t had = v->n_named;
    int rc = 0, step = SQLITE_DONE;

    if (v->raw == NULL)
        return 0;
    if (had > 0)
        qsort(v->named, had, sizeof *v->named, by_seq);
    if ((rc = sv_raw_prepare(v, "SELECT seq, min(message_id) FROM "
                             "message_ids WHERE seq BETWEEN 1 AND ?1 GROUP "
                             "BY seq", &st)) != 0 || st == NULL)
        return rc;
    sqlite3_bind_int64(st, 1, top);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        sv_named_t n = {sqlite3_column_int64(st, 0), {0}};

        if (sqlite3_column_bytes(st, 1) != AM_MSG_ID_LEN ||
            !names_lost(v, n.seq, sqlite3_column_blob(st, 1), top) ||
            (had > 0 && bsearch(&n, v->named, had, sizeof n, by_seq) != NULL))
            continue;
        memcpy(n.id, sqlite3_column_blob(st, 1), AM_MSG_ID_LEN);
        rc = sv_push((void **)&v->named, &v->n_named, &v->cap_named,
                     sizeof n, &n);
    }
    if (rc == 0 && step != SQLITE_DONE &&
        (sqlite3_errcode(v->raw) & 0xff) == SQLITE_NOMEM)
        rc = AM_ENOMEM;
    sqlite3_finalize(st);
    return rc;
}

int sv_name_lost(salvage_t *v)
{
    const sv_table_t *m = &v->t[SV_MESSAGES];
    int rc;

    /* no seq above what the table says it held (its sqlite_sequence, its
     * highest rowid, the highest row read): a damaged entry must not
     * make seqs up that never were.  When the table cannot say, the
     * index's entries are all there is to name a lost tail by. */
    v->name_top = m->known <= 0               ? INT64_MAX
                  : m->hi > m->known ? m->hi : m->known;
    if (sqlite3_prepare_v2(v->s->db, "SELECT 1 FROM messages WHERE "
                           "message_id = ?1", -1, &v->has_id, NULL) !=
        SQLITE_OK)
        return store_db_error(v->s, "salvage: names");
    if ((rc = name_lost(v)) == 0)
        rc = raw_names(v, m->hi > m->known ? m->hi : m->known);
    sqlite3_finalize(v->has_id);
    v->has_id = NULL;
    return rc;
}
