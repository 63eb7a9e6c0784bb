/* The corruption test's view of the store files (corrupt.h): which seq
 * each message got, which messages a cut leaves whole, what a salvage
 * kept and what its lost.txt names. */
#include "corrupt.h"

#include "../unit/test-util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static sqlite3 *open_ro(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    return db;
}

static long find_id(const cr_msgs_t *msgs, const uint8_t *id)
{
    for (size_t i = 0; i < msgs->m; i++)
        if (memcmp(msgs->id[i], id, AM_MSG_ID_LEN) == 0)
            return (long)i;
    return -1;
}

static long find_seq(const cr_msgs_t *msgs, int64_t seq)
{
    for (size_t i = 0; i < msgs->m; i++)
        if (msgs->seq[i] == seq)
            return (long)i;
    return -1;
}

void cr_seqs(const char *db_path, cr_msgs_t *msgs)
{
    sqlite3 *db = open_ro(db_path);
    sqlite3_stmt *st;
    long i;

    assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, message_id FROM "
                                        "messages", -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_int_equal(sqlite3_column_bytes(st, 1), AM_MSG_ID_LEN);
        i = find_id(msgs, sqlite3_column_blob(st, 1));
        assert_true(i >= 0);
        msgs->seq[i] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    for (size_t k = 0; k < msgs->m; k++)
        assert_true(msgs->seq[k] > 0);
}

/* One page of the messages b-tree, from SQLite's dbstat table: path
 * "/" for the root, "/00a/003/" for a descendant, a cell's overflow
 * pages "<page's path>003+000001". */
static bool page_whole(sqlite3_stmt *st, long cut, long page_size)
{
    return sqlite3_column_int64(st, 1) * page_size <= cut;
}

/* Whether the interior pages above the page at path are all whole. */
static bool ancestors_whole(char (*paths)[64], const bool *ok, size_t n,
                            const char *path)
{
    for (size_t k = 0; k < n; k++)
        if (!ok[k] && strncmp(paths[k], path, strlen(paths[k])) == 0)
            return false;
    return true;
}

size_t cr_before_cut(const char *db_path, long cut, const cr_msgs_t *msgs,
                     bool *whole)
{
    static char paths[4096][64];
    static bool ok[4096];
    sqlite3 *db = open_ro(db_path);
    sqlite3_stmt *st;
    long page_size, i;
    int64_t base = 0, leaf_base = 0;
    size_t n = 0, count = 0;

    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    page_size = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    memset(whole, 0, msgs->m * sizeof *whole);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT path, pageno, pagetype, "
                                        "ncell FROM dbstat WHERE name = "
                                        "'messages' ORDER BY path", -1, &st,
                                        NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && n < 4096) {
        const char *path = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 2);
        const char *plus = strchr(path, '+');
        bool good = page_whole(st, cut, page_size) &&
                    ancestors_whole(paths, ok, n, path);

        if (plus != NULL) { /* an overflow page of cell (3 hex digits) */
            if (!good && (i = find_seq(msgs, leaf_base + 1 +
                                       strtol(plus - 3, NULL, 16))) >= 0)
                whole[i] = false;
            continue;
        }
        snprintf(paths[n], sizeof paths[n], "%s", path);
        ok[n++] = good;
        if (strcmp(type, "leaf") != 0)
            continue;
        leaf_base = base; /* rowids are dense: the leaves hold them in order */
        for (int64_t r = base + 1; r <= base + sqlite3_column_int64(st, 3); r++)
            if ((i = find_seq(msgs, r)) >= 0)
                whole[i] = good;
        base += sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    for (size_t k = 0; k < msgs->m; k++)
        count += whole[k];
    return count;
}

/* The folder a salvage kept under data (damaged-*), or false. */
bool cr_kept_dir(const char *data, char *out, size_t cap)
{
    DIR *d = opendir(data);
    struct dirent *e;
    bool found = false;

    assert_non_null(d);
    while (!found && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "damaged-", 8) == 0) {
            assert_true(snprintf(out, cap, "%s/%s", data, e->d_name) <
                        (int)cap);
            found = true;
        }
    closedir(d);
    return found;
}

/* lost.txt: "ID seq N ..." or "- seq N ..." or "- seq A..B ...", after
 * comment lines.  Every message it names becomes CR_LOST but one its
 * sender was told of; one that was delivered, or listed twice, is a
 * contradiction. */
static void mark_lost(long i, bool by_id, cr_seen_t *seen)
{
    if (i < 0) {
        seen->lost_unknown++;
        return;
    }
    /* listed and delivered contradict each other; listed and reported
     * DAMAGED (its sender told for the recipients whose rows were read)
     * do not: the list may say more than the evidence */
    if (seen->fate[i] == CR_DELIVERED || seen->fate[i] == CR_LOST)
        seen->contradictions++;
    if (seen->fate[i] != CR_DAMAGED && seen->fate[i] != CR_EXPIRED)
        seen->fate[i] = CR_LOST;
    seen->lost_by_id += by_id;
    seen->lost_by_seq += !by_id;
}

void cr_lost(const char *path, const cr_msgs_t *msgs, cr_seen_t *seen)
{
    char line[1024], id[64];
    uint8_t bin[AM_MSG_ID_LEN];
    long long a, b;
    FILE *f = fopen(path, "r");

    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (line[0] == '#')
            continue;
        assert_int_equal(sscanf(line, "%63s seq %lld", id, &a), 2);
        if (sscanf(line, "%*s seq %lld..%lld", &a, &b) != 2)
            b = a;
        if (strlen(id) == 2 * AM_MSG_ID_LEN) {
            for (size_t k = 0; k < AM_MSG_ID_LEN; k++) {
                unsigned x;

                assert_int_equal(sscanf(id + 2 * k, "%2x", &x), 1);
                bin[k] = (uint8_t)x;
            }
            mark_lost(find_id(msgs, bin), true, seen);
            continue;
        }
        assert_string_equal(id, "-");
        for (long long s = a; s <= b; s++)
            mark_lost(find_seq(msgs, s), false, seen);
    }
    fclose(f);
}

bool cr_same_file(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int c = EOF;
    bool same = x != NULL && y != NULL;

    while (same) {
        c = getc(x);
        same = c == getc(y);
        if (c == EOF)
            break;
    }
    if (x != NULL)
        fclose(x);
    if (y != NULL)
        fclose(y);
    return same;
}
