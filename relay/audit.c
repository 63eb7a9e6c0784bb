#include "audit.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

int am_audit_text(const uint8_t id[16], const char *sender,
                  const char *recipients, int64_t size, int64_t accepted_at,
                  int64_t completed_at, const uint8_t hash[32], char *out,
                  size_t cap, size_t *len)
{
    char idh[33], hh[65];
    int n;

    sodium_bin2hex(idh, sizeof idh, id, 16);
    sodium_bin2hex(hh, sizeof hh, hash, 32);
    n = snprintf(out, cap, "amanat-audit/2|%s|%s|%s|%lld|%lld|%lld|%s", idh,
                 sender, recipients, (long long)size, (long long)accepted_at,
                 (long long)completed_at, hh);
    if (n < 0 || (size_t)n >= cap)
        return am_errf(AM_ETOOBIG, "audit record too long");
    *len = (size_t)n;
    return 0;
}

static int link_hash(const uint8_t prev[32], const char *text, size_t len,
                     uint8_t out[32])
{
    crypto_generichash_state st;

    if (crypto_generichash_init(&st, NULL, 0, 32) != 0 ||
        crypto_generichash_update(&st, prev, 32) != 0 ||
        crypto_generichash_update(&st, (const uint8_t *)text, len) != 0 ||
        crypto_generichash_final(&st, out, 32) != 0)
        return am_errf(AM_ECRYPTO, "audit: BLAKE2b failed");
    return 0;
}

static int db_err(sqlite3 *db, const char *what)
{
    return am_errf(AM_EIO, "audit: %s: %s", what, sqlite3_errmsg(db));
}

const char *const am_audit_sql[AM_AUDIT_NSTMT] = {
    /* the facts of message ?1, as the store has them */
    [AM_AUDIT_FACTS] =
        /* a copy forwarded to a peer relay: RELAY(AGENCY+AGENCY):state */
        "SELECT m.sender, group_concat(d.recipient || coalesce('(' ||"
        " (SELECT group_concat(value, '+') FROM json_each(d.agencies))"
        " || ')', '') || ':' || CASE d.state WHEN 2 THEN CASE WHEN"
        " d.agencies IS NULL THEN 'delivered' ELSE 'forwarded' END"
        " WHEN 3 THEN 'expired' WHEN 4 THEN 'refused' WHEN 5 THEN 'damaged'"
        " ELSE 'pending' END,"
        " ','), length(m.envelope),"
        " m.accepted_at, m.envelope_hash FROM messages m JOIN deliveries d"
        " ON d.seq = m.seq WHERE m.message_id = ?1 GROUP BY m.seq",
    [AM_AUDIT_LAST] = "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
    [AM_AUDIT_INSERT] = "INSERT INTO audit (record, hash) VALUES (?1, ?2)",
};

/* Statements are reset after each use, so none holds a read open. */
static int facts(sqlite3_stmt *st, const uint8_t id[16], char *sender,
                 size_t scap, char *rcpts, size_t rcap, int64_t *size,
                 int64_t *accepted, uint8_t hash[32])
{
    int rc = 0;

    sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 4) != 32) {
        rc = am_errf(AM_EIO, "audit: message not found");
    } else {
        snprintf(sender, scap, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(rcpts, rcap, "%s", (const char *)sqlite3_column_text(st, 1));
        *size = sqlite3_column_int64(st, 2);
        *accepted = sqlite3_column_int64(st, 3);
        memcpy(hash, sqlite3_column_blob(st, 4), 32);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int last_hash(sqlite3_stmt *st, uint8_t prev[32])
{
    int rc = 0, step;

    memset(prev, 0, 32);
    if ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == 32)
            memcpy(prev, sqlite3_column_blob(st, 0), 32);
        else
            rc = am_errf(AM_EIO, "audit: damaged last record");
    } else if (step != SQLITE_DONE) {
        rc = db_err(sqlite3_db_handle(st), "read");
    }
    sqlite3_reset(st);
    return rc;
}

int am_audit_append(sqlite3_stmt *const st[AM_AUDIT_NSTMT],
                    const uint8_t id[16], int64_t now)
{
    char sender[32], rcpts[1536], text[AM_AUDIT_TEXT_MAX];
    uint8_t hash[32], prev[32], link[32];
    int64_t size = 0, accepted = 0;
    size_t len;
    sqlite3_stmt *ins = st[AM_AUDIT_INSERT];
    int rc;

    if ((rc = facts(st[AM_AUDIT_FACTS], id, sender, sizeof sender, rcpts,
                    sizeof rcpts, &size, &accepted, hash)) != 0 ||
        (rc = am_audit_text(id, sender, rcpts, size, accepted, now, hash, text,
                            sizeof text, &len)) != 0 ||
        (rc = last_hash(st[AM_AUDIT_LAST], prev)) != 0 ||
        (rc = link_hash(prev, text, len, link)) != 0)
        return rc;
    sqlite3_bind_text(ins, 1, text, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 2, link, 32, SQLITE_STATIC);
    rc = sqlite3_step(ins) == SQLITE_DONE
             ? 0 : db_err(sqlite3_db_handle(ins), "insert");
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    return rc;
}

int am_audit_verify(sqlite3 *db, uint64_t *records, uint64_t *bad)
{
    uint8_t prev[32] = {0}, link[32];
    sqlite3_stmt *st;
    int rc = 0, step;

    *records = *bad = 0;
    if (sqlite3_prepare_v2(db, "SELECT seq, record, hash FROM audit ORDER BY "
                           "seq", -1, &st, NULL) != SQLITE_OK)
        return db_err(db, "prepare");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);

        if (text == NULL || (rc = link_hash(prev, text, len, link)) != 0)
            break;
        if (sqlite3_column_bytes(st, 2) != 32 ||
            sodium_memcmp(link, sqlite3_column_blob(st, 2), 32) != 0 ||
            (uint64_t)sqlite3_column_int64(st, 0) != *records + 1) {
            *bad = *records + 1;
            rc = am_errf(AM_ECRYPTO, "audit record %llu: the chain is broken "
                         "here (changed, removed or reordered)",
                         (unsigned long long)*bad);
            break;
        }
        memcpy(prev, link, 32);
        (*records)++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_err(db, "read");
    sqlite3_finalize(st);
    return rc;
}
