/* The local store's lists, marks, events, directory cache and revocation
 * list (cstore.h); the SQL is in cstore.c. */
#include "cstore_internal.h"

#include <string.h>

#include "alloc.h"
#include "cert.h"
#include "country.h"
#include "err.h"
#include "prekey.h"
#include "receipt.h"

/* An event's signed bytes: a SignedReceipt, or a relay's Evidence, which
 * is smaller (a short body and one signature). */
#define CSTORE_SIGNED_MAX AM_RECEIPT_MAX

/* A blob column copied into a new buffer (NULL when empty), its length
 * within [min, max]. */
static int col_dup(am_cstore_t *s, sqlite3_stmt *st, int col,
                   const char *field, size_t min, size_t max, uint8_t **out,
                   size_t *len)
{
    const void *b = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);

    *out = NULL;
    *len = 0;
    if (n < 0 || (size_t)n < min || (size_t)n > max)
        return cstore_damaged(s, field, n);
    if (n == 0)
        return 0;
    if (b == NULL || (*out = am_malloc((size_t)n)) == NULL)
        return AM_ENOMEM;
    memcpy(*out, b, (size_t)n);
    *len = (size_t)n;
    return 0;
}

/* A list or events walk owns its statement until it ends: a callback
 * that starts the same walk again would reset it under the first. */
static int walk_start(am_cstore_t *s, int which, sqlite3_stmt **st)
{
    if (s->walking & (1u << which))
        return am_errf(AM_ESTATE, "%s: a list cannot be walked again from "
                       "its own callback", s->path);
    s->walking |= 1u << which;
    *st = cstore_stmt(s, which);
    return 0;
}

static int walk_end(am_cstore_t *s, int which, int step, int rc,
                    const char *what)
{
    if (rc == 0 && step != SQLITE_DONE)
        rc = cstore_db_error(s, what);
    sqlite3_reset(s->st[which]);
    s->walking &= ~(1u << which);
    return rc;
}

int am_cstore_list(am_cstore_t *s, int which, am_cmsg_cb cb, void *ctx)
{
    static const int list_stmt[] = {[AM_CLIST_INBOX] = CS_INBOX,
                                    [AM_CLIST_SENT] = CS_SENT,
                                    [AM_CLIST_UNSENT] = CS_UNSENT};
    sqlite3_stmt *st = NULL;
    int rc, step, q;

    if (s == NULL || cb == NULL)
        return AM_EINVAL;
    if (which < AM_CLIST_INBOX || which > AM_CLIST_UNSENT)
        return am_errf(AM_EINVAL, "no list %d", which);
    q = list_stmt[which];
    if ((rc = walk_start(s, q, &st)) != 0)
        return rc;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        am_cmsg_t m;

        if ((rc = cstore_row_msg(s, st, &m)) != 0 ||
            (rc = cb(ctx, &m)) != 0)
            break;
    }
    return walk_end(s, q, step, rc, "list");
}

static int update_one(am_cstore_t *s, sqlite3_stmt *st,
                      const uint8_t id[AM_MSG_ID_LEN], int b,
                      const char *what)
{
    int rc;

    b |= sqlite3_bind_blob(st, 1, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if ((rc = cstore_bound(s, st, b, what)) != 0 ||
        (rc = cstore_run(s, st, what)) != 0)
        return rc;
    return sqlite3_changes(s->db) == 0 ? cstore_no_message(id) : 0;
}

int am_cstore_mark_sent(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN])
{
    if (s == NULL || id == NULL)
        return AM_EINVAL;
    return update_one(s, cstore_stmt(s, CS_MARK_SENT), id, SQLITE_OK,
                      "mark sent");
}

int am_cstore_mark_read(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                        int64_t at)
{
    sqlite3_stmt *st = NULL;

    if (s == NULL || id == NULL)
        return AM_EINVAL;
    if (at == 0)
        return am_errf(AM_EINVAL, "read time 0 means unread");
    st = cstore_stmt(s, CS_MARK_READ);
    return update_one(s, st, id, sqlite3_bind_int64(st, 2, at), "mark read");
}

int am_cstore_set_state(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                        const char *state)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (s == NULL || id == NULL || state == NULL)
        return AM_EINVAL;
    if ((rc = cstore_fits("message state", state,
                          sizeof ((am_cmsg_t){0}).state)) != 0)
        return rc;
    st = cstore_stmt(s, CS_SET_STATE);
    return update_one(s, st, id,
                      sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC),
                      "set state");
}

/* ---- events ----------------------------------------------------------- */

static int check_event(const am_cevent_t *e)
{
    int rc;

    if ((rc = cstore_fits("event kind", e->kind, sizeof e->kind)) != 0 ||
        (rc = cstore_fits("event party", e->party, sizeof e->party)) != 0 ||
        (rc = cstore_fits("event detail", e->detail, sizeof e->detail)) != 0)
        return rc;
    if ((e->signed_bytes == NULL && e->signed_len > 0) ||
        e->signed_len > CSTORE_SIGNED_MAX)
        return am_errf(AM_EINVAL, "event: signed bytes of %zu: over %d or "
                       "missing", e->signed_len, CSTORE_SIGNED_MAX);
    return 0;
}

int am_cstore_event(am_cstore_t *s, const am_cevent_t *e)
{
    sqlite3_stmt *st = NULL;
    int b, rc;

    if (s == NULL || e == NULL)
        return AM_EINVAL;
    if ((rc = check_event(e)) != 0)
        return rc;
    st = cstore_stmt(s, CS_EVENT_PUT);
    b = sqlite3_bind_blob(st, 1, e->message_id, AM_MSG_ID_LEN, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 2, e->kind, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 3, e->party, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 4, e->time);
    if (e->signed_len > 0)
        b |= sqlite3_bind_blob(st, 5, e->signed_bytes, (int)e->signed_len,
                               SQLITE_STATIC);
    b |= e->has_source ? sqlite3_bind_blob(st, 6, e->source, AM_MSG_ID_LEN,
                                           SQLITE_STATIC)
                       : sqlite3_bind_zeroblob(st, 6, 0);
    b |= sqlite3_bind_text(st, 7, e->detail, -1, SQLITE_STATIC);
    if ((rc = cstore_bound(s, st, b, "event")) != 0)
        return rc;
    return cstore_run(s, st, "event");
}

static int row_event(am_cstore_t *s, sqlite3_stmt *st, am_cevent_t *e)
{
    int rc, n;

    memset(e, 0, sizeof *e);
    if ((rc = cstore_col_id(s, st, 0, "event message id", e->message_id,
                            NULL)) ||
        (rc = cstore_col_text(s, st, 1, "event kind", e->kind,
                              sizeof e->kind)) ||
        (rc = cstore_col_text(s, st, 2, "event party", e->party,
                              sizeof e->party)) ||
        (rc = cstore_col_id(s, st, 5, "event source", e->source,
                            &e->has_source)) ||
        (rc = cstore_col_text(s, st, 6, "event detail", e->detail,
                              sizeof e->detail)))
        return rc;
    e->time = sqlite3_column_int64(st, 3);
    /* valid until the next step: the callback's time only */
    e->signed_bytes = sqlite3_column_blob(st, 4);
    n = sqlite3_column_bytes(st, 4);
    if (n < 0 || (size_t)n > CSTORE_SIGNED_MAX)
        return cstore_damaged(s, "event signed bytes", n);
    if (n > 0 && e->signed_bytes == NULL)
        return AM_ENOMEM;
    e->signed_len = (size_t)n;
    return 0;
}

int am_cstore_events(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                     am_cevent_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc, step = SQLITE_DONE;

    if (s == NULL || id == NULL || cb == NULL)
        return AM_EINVAL;
    if ((rc = walk_start(s, CS_EVENTS, &st)) != 0)
        return rc;
    if (sqlite3_bind_blob(st, 1, id, AM_MSG_ID_LEN, SQLITE_STATIC) !=
        SQLITE_OK)
        rc = cstore_db_error(s, "events");
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        am_cevent_t e;

        if ((rc = row_event(s, st, &e)) != 0 || (rc = cb(ctx, &e)) != 0)
            break;
    }
    return walk_end(s, CS_EVENTS, step, rc, "events");
}

/* ---- directory cache and revocation list ------------------------------ */

int am_cstore_dir_put(am_cstore_t *s, const char *agency, const uint8_t *cert,
                      size_t clen, const uint8_t *prekey, size_t plen,
                      int64_t fetched_at)
{
    sqlite3_stmt *st = NULL;
    int b, rc;

    if (s == NULL || agency == NULL)
        return AM_EINVAL;
    if (!am_agency_id_valid(agency))
        return am_errf(AM_EINVAL, "directory: \"%.32s\" is not an agency id",
                       agency);
    if (cert == NULL || clen == 0 || clen > AM_CERT_MAX)
        return am_errf(AM_EINVAL, "directory: certificate of %s is %zu "
                       "bytes: must be 1 to %d", agency, clen, AM_CERT_MAX);
    if ((prekey == NULL && plen > 0) || plen > AM_PREKEY_MAX)
        return am_errf(AM_EINVAL, "directory: prekey of %s is %zu bytes: "
                       "over %d or missing", agency, plen, AM_PREKEY_MAX);
    st = cstore_stmt(s, CS_DIR_PUT);
    b = sqlite3_bind_text(st, 1, agency, -1, SQLITE_STATIC);
    b |= sqlite3_bind_blob(st, 2, cert, (int)clen, SQLITE_STATIC);
    if (plen > 0)
        b |= sqlite3_bind_blob(st, 3, prekey, (int)plen, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 4, fetched_at);
    if ((rc = cstore_bound(s, st, b, "directory put")) != 0)
        return rc;
    return cstore_run(s, st, "directory put");
}

int am_cstore_dir_get(am_cstore_t *s, const char *agency, uint8_t **cert,
                      size_t *clen, uint8_t **prekey, size_t *plen,
                      int64_t *fetched_at)
{
    uint8_t *c = NULL, *p = NULL;
    size_t cn = 0, pn = 0;
    sqlite3_stmt *st = NULL;
    int rc;

    if (s == NULL || agency == NULL || cert == NULL || clen == NULL ||
        prekey == NULL || plen == NULL || fetched_at == NULL)
        return AM_EINVAL;
    st = cstore_stmt(s, CS_DIR_GET);
    rc = sqlite3_bind_text(st, 1, agency, -1, SQLITE_STATIC);
    if ((rc = cstore_bound(s, st, rc, "directory")) != 0)
        return rc;
    if ((rc = sqlite3_step(st)) == SQLITE_DONE)
        rc = am_errf(AM_EKEY, "no certificate of %.32s cached", agency);
    else if (rc != SQLITE_ROW)
        rc = cstore_db_error(s, "directory");
    else if ((rc = col_dup(s, st, 0, "certificate", 1, AM_CERT_MAX, &c,
                           &cn)) == 0 &&
             (rc = col_dup(s, st, 1, "prekey", 0, AM_PREKEY_MAX, &p,
                           &pn)) == 0) {
        *fetched_at = sqlite3_column_int64(st, 2);
        *cert = c;
        *clen = cn;
        *prekey = p;
        *plen = pn;
        c = p = NULL;
    }
    sqlite3_reset(st);
    am_free(c);
    am_free(p);
    return rc;
}

int am_cstore_crl_put(am_cstore_t *s, uint64_t sequence, const uint8_t *b,
                      size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (s == NULL)
        return AM_EINVAL;
    /* 0 is "none held"; SQLite integers are signed */
    if (sequence == 0 || sequence > INT64_MAX)
        return am_errf(AM_EINVAL, "revocation list sequence %llu: must be "
                       "1 to 2^63-1", (unsigned long long)sequence);
    if (b == NULL || len == 0 || len > AM_CRL_MAX)
        return am_errf(AM_EINVAL, "revocation list of %zu bytes: must be 1 "
                       "to %zu", len, AM_CRL_MAX);
    st = cstore_stmt(s, CS_CRL_PUT);
    rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)sequence);
    rc |= sqlite3_bind_blob(st, 2, b, (int)len, SQLITE_STATIC);
    if ((rc = cstore_bound(s, st, rc, "revocation list put")) != 0)
        return rc;
    return cstore_run(s, st, "revocation list put");
}

int am_cstore_crl_get(am_cstore_t *s, uint64_t *sequence, uint8_t **b,
                      size_t *len)
{
    sqlite3_stmt *st = NULL;
    sqlite3_int64 seq = 0;
    uint8_t *got = NULL;
    size_t n = 0;
    int rc;

    if (s == NULL || sequence == NULL || b == NULL || len == NULL)
        return AM_EINVAL;
    st = cstore_stmt(s, CS_CRL_GET);
    if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
        rc = 0;
    } else if (rc != SQLITE_ROW) {
        rc = cstore_db_error(s, "revocation list");
    } else if ((seq = sqlite3_column_int64(st, 0)) <= 0) {
        rc = am_errf(AM_EIO, "%s: damaged row: revocation list sequence "
                     "%lld", s->path, (long long)seq);
    } else {
        rc = col_dup(s, st, 1, "revocation list", 1, AM_CRL_MAX, &got, &n);
    }
    sqlite3_reset(st);
    if (rc != 0)
        return rc;
    *sequence = (uint64_t)seq;
    *b = got;
    *len = n;
    return 0;
}
