/* A salvage's second source (store_salvage.h): the rows the raw reader
 * (store_salvage_raw.c) found on the damaged file's pages, consulted by
 * the lookups of store_salvage_rows.c where the file's own b-trees fail.
 *
 * The raw reader runs once, the first time a read of the file meets
 * damage (a statement that does not prepare, a lookup that fails, a
 * rowid missing below the table's own end): a store that needs a salvage
 * only for a damaged index or schema text reads nothing twice.  When it
 * cannot run (the working copy unreadable, no room for its temporary
 * database) the salvage goes on with what the file's b-trees give, as
 * before; only running out of memory stops it. */
#include "store_salvage.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

static void log_raw(const salvage_t *v)
{
    const sv_raw_stats_t *s = &v->raw_stats;

    fprintf(stderr, "amanat-relay: store salvage: read %llu pages of %s "
            "directly (%u bytes each; %llu -wal frames laid over them; %s): "
            "found %llu message, %llu delivery, %llu notice, %llu audit and "
            "%llu acknowledgement records, %llu message ids; %llu records "
            "whose overflow pages are lost\n",
            (unsigned long long)s->pages, v->work, s->page_size,
            (unsigned long long)s->frames,
            s->freelist ? "its free pages skipped"
                        : "its free-page list unreadable: old copies of "
                          "records read too",
            (unsigned long long)s->rows[SV_MESSAGES],
            (unsigned long long)s->rows[SV_DELIVERIES],
            (unsigned long long)s->rows[SV_NOTICES],
            (unsigned long long)s->rows[SV_AUDIT],
            (unsigned long long)s->rows[SV_ACKED],
            (unsigned long long)s->ids, (unsigned long long)s->broken);
}

int sv_raw_need(salvage_t *v)
{
    int rc;

    if (v->raw_tried || v->work == NULL)
        return 0;
    v->raw_tried = true;
    rc = sv_raw_read(v->work, &v->raw, &v->raw_stats);
    if (rc == AM_ENOMEM)
        return rc;
    if (rc != 0) {
        v->raw = NULL;
        fprintf(stderr, "amanat-relay: store salvage: cannot read the pages "
                "of %s directly (%s): only what its b-trees reach is read\n",
                v->work, am_strerror(rc));
        return 0;
    }
    log_raw(v);
    return 0;
}

/* One integer from the raw rows, at most cap; -1 when there is none. */
static int64_t raw_int(salvage_t *v, const char *sql, const char *table)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    if (v->raw != NULL &&
        sqlite3_prepare_v2(v->raw, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, v->cap) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) == SQLITE_INTEGER)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int64_t sv_raw_seq(salvage_t *v, const char *table)
{
    return raw_int(v, "SELECT max(seq) FROM sequence WHERE name = ?1 AND "
                   "seq BETWEEN 0 AND ?2", table);
}

int64_t sv_raw_hi(salvage_t *v, const char *table)
{
    char q[128];

    /* table is one of the salvage's own names, never input */
    snprintf(q, sizeof q, "SELECT max(rowid) FROM %s WHERE rowid BETWEEN 1 "
             "AND ?2", table);
    return raw_int(v, q, table);
}

int sv_raw_prepare(salvage_t *v, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    if (v->raw == NULL ||
        sqlite3_prepare_v2(v->raw, sql, -1, st, NULL) == SQLITE_OK)
        return 0;
    return (sqlite3_errcode(v->raw) & 0xff) == SQLITE_NOMEM ? AM_ENOMEM : 0;
}
