/* The store's part in federation (docs/PROTOCOL.md section 18): what a
 * peer relay answered for the copies forwarded to it, the evidence it
 * sends back for their senders, and the columns federation added to
 * stores made before it. */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

/* Columns added since the first schema: a store made before gets them. */
int store_migrate(am_store_t *s)
{
    static const char *const cols[][3] = {
        {"messages", "route", "TEXT"},
        {"deliveries", "agencies", "TEXT"},
        {"notices", "evidence", "BLOB"},
        {"messages", "accepted_sig", "BLOB"},
    };
    char q[128];

    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        sqlite3_stmt *st = NULL;
        int rc;

        snprintf(q, sizeof q, "SELECT %s FROM %s LIMIT 0", cols[i][1],
                 cols[i][0]);
        rc = sqlite3_prepare_v2(s->db, q, -1, &st, NULL);
        sqlite3_finalize(st);
        if (rc == SQLITE_OK)
            continue;
        snprintf(q, sizeof q, "ALTER TABLE %s ADD COLUMN %s %s", cols[i][0],
                 cols[i][1], cols[i][2]);
        if (store_exec(s, q) != 0)
            return AM_EIO;
    }
    return 0;
}

static int relay_ack(am_store_t *s, const char *relay,
                     const uint8_t id[AM_MSG_ID_LEN],
                     const am_store_notice_t *ev, int64_t now,
                     am_store_done_cb cb, void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || cb == NULL || !am_agency_id_valid(relay) ||
        (ev != NULL && (ev->evidence_len == 0 ||
                        ev->evidence_len > sizeof ev->evidence)))
        return AM_EINVAL;
    if ((r = store_new_req(REQ_ACK, ctx, now)) == NULL)
        return AM_ENOMEM;
    r->kind2 = ev != NULL ? ACK_FORWARDED : ACK_REFUSED;
    memcpy(r->id, id, AM_MSG_ID_LEN);
    memcpy(r->recipient, relay, strlen(relay) + 1);
    r->done_cb = cb;
    if (ev != NULL && (r->notices = am_malloc(sizeof *r->notices)) == NULL) {
        store_req_free(r);
        return AM_ENOMEM;
    }
    if (ev != NULL)
        *r->notices = *ev;
    if ((rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}

int am_store_forwarded(am_store_t *s, const char *relay,
                       const uint8_t id[static AM_MSG_ID_LEN],
                       const am_store_notice_t *ev, int64_t now,
                       am_store_done_cb cb, void *ctx)
{
    if (ev == NULL)
        return AM_EINVAL;
    return relay_ack(s, relay, id, ev, now, cb, ctx);
}

int am_store_refused(am_store_t *s, const char *relay,
                     const uint8_t id[static AM_MSG_ID_LEN], int64_t now,
                     am_store_done_cb cb, void *ctx)
{
    return relay_ack(s, relay, id, NULL, now, cb, ctx);
}

int am_store_notice_put(am_store_t *s, const char *relay,
                        const am_store_notice_t *ev, am_store_done_cb cb,
                        void *ctx)
{
    req_t *r;
    int rc;

    if (s == NULL || ev == NULL || cb == NULL || !am_agency_id_valid(relay) ||
        !am_agency_id_valid(ev->recipient) || ev->evidence_len == 0 ||
        ev->evidence_len > sizeof ev->evidence)
        return AM_EINVAL;
    if ((r = store_new_req(REQ_NOTICE_PUT, ctx, ev->time)) == NULL ||
        (r->notices = am_malloc(sizeof *r->notices)) == NULL) {
        am_free(r);
        return AM_ENOMEM;
    }
    *r->notices = *ev;
    memcpy(r->other, relay, strlen(relay) + 1);
    r->done_cb = cb;
    if ((rc = store_enqueue(s, r)) != 0)
        store_req_free(r);
    return rc;
}

/* The evidence must be about a copy this relay forwarded to that relay
 * for that recipient, and name the envelope stored here. */
int store_do_notice_put(am_store_t *s, req_t *r)
{
    const am_store_notice_t *n = r->notices;
    sqlite3_stmt *st = s->st[ST_FORWARDED_TO];
    int rc;

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_blob(st, 1, n->message_id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->other, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, n->recipient, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_DONE)
        return am_errf(AM_EKEY, "no message forwarded to %s for %s",
                       r->other, n->recipient);
    if (rc != SQLITE_ROW)
        return store_db_error(s, "forwarded");
    if (sqlite3_column_bytes(st, 0) != AM_HASH_LEN ||
        memcmp(sqlite3_column_blob(st, 0), n->envelope_hash, AM_HASH_LEN) != 0)
        return am_errf(AM_ECRYPTO, "evidence names another envelope");
    sqlite3_reset(st);
    st = s->st[ST_NOTE];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, n->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, n->message_id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n->time);
    sqlite3_bind_int(st, 4, n->kind);
    sqlite3_bind_blob(st, 5, n->evidence, (int)n->evidence_len,
                      SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_error(s, "notice");
    sqlite3_reset(st);
    return rc;
}
