/* The schema check at start (store_check.c): the store file's schema
 * against the one the relay makes (am_store_schema, built in memory).
 *
 * SQLite keeps the schema as SQL text on the first page; a bit flipped
 * in it that still parses passes integrity_check, and then: a renamed
 * table would let CREATE TABLE IF NOT EXISTS make an empty one in its
 * place (an empty queue where the old one stands unused); a column whose
 * declaration lost INTEGER PRIMARY KEY reads NULL for every seq; a
 * trigger naming a column that does not exist fails every store
 * statement.  So: every object of the file must be one the relay makes;
 * every table has the relay's columns (name, type, NOT NULL, key), but
 * for the columns added since at the end of messages, deliveries and
 * notices (store_migrate adds them) and for the tables added since the
 * first schema (usage, prekeys, audit, acked: CREATE IF NOT EXISTS makes
 * them);
 * the triggers are the relay's text; and, on a store that needs no
 * migration, every statement of the store prepares. */
#include "store_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* Each table of the relay: how many columns at its end store_migrate
 * (store_fed.c) adds to a store made before them, and whether a store
 * made before the table lacks it (CREATE IF NOT EXISTS makes it). */
static const struct {
    const char *name;
    int migrated;
    bool added;
} tables[] = {
    {"messages", 2, false}, /* route, accepted_sig */
    {"deliveries", 1, false}, {"notices", 1, false}, {"usage", 0, true},
    {"prekeys", 0, true},   {"audit", 0, true},      {"acked", 0, true},
};

/* The columns of table in db, "name type notnull pk,..."; "" when it has
 * none (no such table). */
static int columns(sqlite3 *db, const char *table, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    const char *t;
    int rc = SQLITE_ERROR;

    out[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT group_concat(name || ' ' || type || "
                           "' ' || \"notnull\" || ' ' || pk, ',') FROM "
                           "(SELECT * FROM pragma_table_info(?1) ORDER BY "
                           "cid)", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK &&
        (rc = sqlite3_step(st)) == SQLITE_ROW) {
        t = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", t != NULL ? t : "");
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static void problem(const char *path, int *n, const char *what,
                    const char *name)
{
    char safe[80];
    size_t i;

    for (i = 0; name[i] != '\0' && i + 1 < sizeof safe; i++)
        safe[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    safe[i] = '\0';
    fprintf(stderr, "amanat-relay: store check: %s: its schema is damaged: "
            "%s %s\n", path, what, safe);
    (*n)++;
}

/* The tables; *old when the file needs the migration (or lacks a table
 * the relay creates when it opens it). */
static int check_tables(sqlite3 *db, sqlite3 *ref, const char *path,
                        bool *old)
{
    char have[1024], want[1024], *cut;
    int n = 0;

    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        bool same;

        if (columns(db, tables[i].name, have, sizeof have) != SQLITE_OK ||
            columns(ref, tables[i].name, want, sizeof want) != SQLITE_OK)
            return -1;
        same = strcmp(have, want) == 0;
        /* made before its last columns: the same but for them */
        for (int k = 0; !same && k < tables[i].migrated &&
                        (cut = strrchr(want, ',')) != NULL;
             k++) {
            *cut = '\0';
            *old |= same = strcmp(have, want) == 0;
        }
        if (!same && tables[i].added && have[0] == '\0') {
            *old = true;
            continue;
        }
        if (!same)
            problem(path, &n, "not the relay's columns: table",
                    tables[i].name);
    }
    return n;
}

/* Every object of the file is one the relay makes; its triggers are the
 * relay's, word for word. */
static int check_objects(sqlite3 *db, sqlite3 *ref, const char *path)
{
    sqlite3_stmt *st = NULL, *q = NULL;
    int n = 0, step = SQLITE_ERROR;

    if (sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_master",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(ref, "SELECT sql FROM sqlite_master WHERE type = "
                           "?1 AND name = ?2", -1, &q, NULL) != SQLITE_OK)
        goto done;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *sql = (const char *)sqlite3_column_text(st, 2), *want;

        if (type == NULL || name == NULL) {
            problem(path, &n, "an object without a", "name");
            continue;
        }
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_ROW)
            problem(path, &n, "an object the relay does not make:", name);
        else if (strcmp(type, "trigger") == 0 &&
                 ((want = (const char *)sqlite3_column_text(q, 0)) == NULL ||
                  sql == NULL || strcmp(sql, want) != 0))
            problem(path, &n, "not the relay's trigger", name);
    }
done:
    sqlite3_finalize(st);
    sqlite3_finalize(q);
    return step == SQLITE_DONE ? n : -1;
}

/* What the store prepares when it opens (store_sqlite.c). */
static int check_statements(sqlite3 *db, const char *path)
{
    sqlite3_stmt *st;
    int n = 0;

    for (int i = 0; i < ST_COUNT + AM_AUDIT_NSTMT; i++) {
        const char *sql = i < ST_COUNT ? am_store_sql[i]
                                       : am_audit_sql[i - ST_COUNT];

        st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            problem(path, &n, "a statement of the store does not prepare:",
                    sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    return n;
}

int store_schema_check(sqlite3 *db, const char *path)
{
    sqlite3 *ref = NULL;
    bool old = false;
    int n = -1, m;

    if (sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE, NULL) == SQLITE_OK &&
        sqlite3_exec(ref, am_store_schema, NULL, NULL, NULL) == SQLITE_OK &&
        (n = check_tables(db, ref, path, &old)) >= 0 &&
        (m = check_objects(db, ref, path)) >= 0) {
        n += m;
        if (n == 0 && !old)
            n = check_statements(db, path);
    }
    sqlite3_close(ref);
    return n;
}
