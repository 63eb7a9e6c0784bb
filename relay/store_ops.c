/* The SQL of each store request, run by the store thread inside the
 * batch's transaction (store_sqlite.c). */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>


#include "alloc.h"
#include "audit.h"
#include "err.h"

const char *const am_store_sql[ST_COUNT] = {
    [ST_FIND] = "SELECT envelope_hash, accepted_at FROM messages "
                "WHERE message_id = ?1",
    [ST_INSERT_MSG] = "INSERT INTO messages (message_id, envelope_hash, "
                      "sender, priority, expires_at, accepted_at, envelope, "
                      "route, accepted_sig) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                      "?7, ?8, ?9)",
    [ST_INSERT_DLV] = "INSERT INTO deliveries (seq, recipient, state, "
                      "priority, agencies) VALUES (?1, ?2, 0, ?3, ?4)",
/* a pending delivery d whose acknowledgement is logged, not yet folded
 * (store_fold.c), is no longer pending: never delivered or expired again */
#define NOT_LOGGED                                                             \
    "NOT EXISTS (SELECT 1 FROM acked a WHERE a.recipient = d.recipient "     \
    "AND a.seq = d.seq)"
#define NEXT_SQL(cond, order)                                                  \
    "SELECT m.message_id, m.priority, m.envelope, m.envelope_hash, "          \
    "m.accepted_at, m.sender, d.seq, coalesce(m.route, m.sender), "         \
    "m.accepted_sig "                                                        \
    "FROM deliveries d JOIN messages m "                                      \
    "ON m.seq = d.seq WHERE d.recipient = ?1 AND d.state = 0 AND "            \
    "m.expires_at > ?3 AND " NOT_LOGGED cond " ORDER BY " order " LIMIT ?2"
    /* from the start; then, paging on from (?4, ?5), the rest of that
     * priority and the lower ones: each walks the pending index in order */
    [ST_NEXT] = NEXT_SQL("", "d.priority DESC, d.seq ASC"),
    [ST_NEXT_SAME] = NEXT_SQL(" AND d.priority = ?4 AND d.seq > ?5",
                              "d.seq ASC"),
    [ST_NEXT_LOWER] = NEXT_SQL(" AND d.priority < ?4",
                               "d.priority DESC, d.seq ASC"),
    [ST_ACK] = "UPDATE deliveries SET state = ?4, acked_at = ?3 "
               "WHERE recipient = ?1 AND state = 0 AND seq = "
               "(SELECT seq FROM messages WHERE message_id = ?2)",
    /* store_fold.c: an agency's acknowledgement of a pending delivery,
     * logged; was it logged or stored before; the oldest logged ones */
    [ST_ACK_LOG] = "INSERT OR IGNORE INTO acked (recipient, seq, time) "
                   "SELECT ?1, d.seq, ?3 FROM messages m JOIN deliveries d "
                   "ON d.seq = m.seq WHERE m.message_id = ?2 AND "
                   "d.recipient = ?1 AND d.state = 0",
    [ST_ACK_SEEN] = "SELECT 1 FROM messages m JOIN deliveries d ON "
                    "d.seq = m.seq WHERE m.message_id = ?2 AND "
                    "d.recipient = ?1 AND (d.state = 2 OR (d.state = 0 AND "
                    "EXISTS (SELECT 1 FROM acked a WHERE a.recipient = ?1 "
                    "AND a.seq = d.seq)))",
    [ST_FOLD_LIST] = "SELECT a.id, a.recipient, a.time, m.message_id, "
                     "coalesce(m.route, m.sender) FROM acked a LEFT JOIN "
                     "messages m ON m.seq = a.seq ORDER BY a.id LIMIT ?1",
    [ST_FOLD_DEL] = "DELETE FROM acked WHERE id = ?1",
    [ST_ACKED] = "SELECT d.seq FROM deliveries d JOIN messages m "
                 "ON m.seq = d.seq WHERE d.recipient = ?1 "
                 "AND m.message_id = ?2 AND d.state = ?3",
    [ST_REMAINING] = "SELECT count(*) FROM deliveries d JOIN messages m "
                     "ON m.seq = d.seq WHERE m.message_id = ?1 "
                     "AND d.state = 0",
    [ST_DROP_BODY] = "UPDATE messages SET envelope = NULL "
                     "WHERE message_id = ?1",
    /* owed to the sender, or to the relay that forwarded the envelope */
    [ST_NOTE] = "INSERT OR IGNORE INTO notices (sender, kind, message_id, "
                "envelope_hash, recipient, time, state, evidence) SELECT "
                "coalesce(route, sender), ?4, message_id, envelope_hash, ?1, "
                "?3, 0, ?5 FROM messages WHERE message_id = ?2",
    [ST_NOTICES] = "SELECT kind, message_id, envelope_hash, recipient, time, "
                   "evidence FROM notices WHERE sender = ?1 AND state = 0 "
                   "ORDER BY id LIMIT ?2",
    [ST_NOTICE_ACK] = "UPDATE notices SET state = 1 WHERE sender = ?1 AND "
                      "kind = ?2 AND message_id = ?3 AND recipient = ?4",
    /* a delivery to relay ?2 that carried message ?1 for agency ?3 */
    [ST_FORWARDED_TO] = "SELECT m.envelope_hash FROM deliveries d JOIN "
                        "messages m ON m.seq = d.seq, json_each(d.agencies) j "
                        "WHERE m.message_id = ?1 AND d.recipient = ?2 AND "
                        "j.value = ?3",
    [ST_HASH] = "SELECT envelope_hash FROM messages WHERE message_id = ?1",
    [ST_USAGE] = "SELECT messages, bytes FROM usage WHERE agency = ?1",
    [ST_PREKEY_GET] = "SELECT prekey_id, created_at, not_after, signed, "
                      "cert_serial FROM prekeys WHERE agency = ?1",
    [ST_PREKEY_SET] = "INSERT OR REPLACE INTO prekeys (agency, prekey_id, "
                      "created_at, not_after, signed, cert_serial) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* per request, so prepared once like the rest */
    [ST_SAVEPOINT] = "SAVEPOINT r",
    [ST_RELEASE] = "RELEASE r",
    [ST_ROLLBACK_TO] = "ROLLBACK TO r",
};

const char am_store_schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;"
    "CREATE TABLE IF NOT EXISTS messages ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT," /* arrival order, never reused */
    "  message_id BLOB NOT NULL UNIQUE,"
    "  envelope_hash BLOB NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  priority INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  accepted_at INTEGER NOT NULL,"
    "  envelope BLOB," /* NULL once every recipient acknowledged */
    "  route TEXT," /* the relay that forwarded it here, or NULL */
    /* what the relay kept of its accepted evidence's signature
     * (relay/evcache.c), or NULL */
    "  accepted_sig BLOB);"
    "CREATE TABLE IF NOT EXISTS deliveries ("
    "  seq INTEGER NOT NULL REFERENCES messages(seq),"
    "  recipient TEXT NOT NULL,"
    /* 0 pending, 2 acknowledged (by an agency, or stored by the home relay
     * it was forwarded to), 3 expired, 4 refused by that home relay,
     * 5 damaged (quarantined by the store check at start: store_check.c) */
    "  state INTEGER NOT NULL,"
    "  priority INTEGER NOT NULL," /* the message's, for the index below */
    "  acked_at INTEGER,"
    "  agencies TEXT," /* to a relay: JSON array of the agencies it is for */
    "  PRIMARY KEY (recipient, seq));"
    /* a recipient's next envelopes come off this index in delivery order,
     * so a backlog of any size costs a batch, not a sort of the backlog */
    "CREATE INDEX IF NOT EXISTS pending ON deliveries "
    "  (recipient, state, priority DESC, seq);"
    /* a message's deliveries (completion, audit, expiry), and the envelopes
     * still held by expiry time: without these, completing or expiring one
     * message scans every delivery ever made */
    "CREATE INDEX IF NOT EXISTS by_message ON deliveries (seq, state);"
    "CREATE INDEX IF NOT EXISTS held_until ON messages (expires_at) "
    "  WHERE envelope IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS notices ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sender TEXT NOT NULL, kind INTEGER NOT NULL,"
    "  message_id BLOB NOT NULL, envelope_hash BLOB NOT NULL,"
    "  recipient TEXT NOT NULL, time INTEGER NOT NULL,"
    "  state INTEGER NOT NULL," /* 0 owed, 1 acknowledged by the sender */
    "  evidence BLOB," /* signed by another relay, passed on as is */
    "  UNIQUE (kind, message_id, recipient));"
    "CREATE INDEX IF NOT EXISTS notices_owed ON notices (sender, state, id);"
    /* what each sender has stored undelivered (its quota), kept by
     * triggers whenever an envelope is stored or its bytes dropped */
    "CREATE TABLE IF NOT EXISTS usage ("
    "  agency TEXT PRIMARY KEY, messages INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS usage_add AFTER INSERT ON messages "
    "WHEN new.envelope IS NOT NULL BEGIN "
    "  INSERT OR IGNORE INTO usage VALUES (new.sender, 0, 0);"
    "  UPDATE usage SET messages = messages + 1, "
    "    bytes = bytes + length(new.envelope) WHERE agency = new.sender;"
    "END;"
    "CREATE TRIGGER IF NOT EXISTS usage_drop AFTER UPDATE OF envelope ON "
    "messages WHEN old.envelope IS NOT NULL AND new.envelope IS NULL BEGIN "
    "  UPDATE usage SET messages = messages - 1, "
    "    bytes = bytes - length(old.envelope) WHERE agency = old.sender;"
    "END;"
    /* a store made before the usage table: count once */
    "INSERT INTO usage SELECT sender, count(*), sum(length(envelope)) "
    "  FROM messages WHERE envelope IS NOT NULL AND NOT EXISTS "
    "  (SELECT 1 FROM usage) GROUP BY sender;"
    /* the newest signed prekey each agency uploaded */
    "CREATE TABLE IF NOT EXISTS prekeys ("
    "  agency TEXT PRIMARY KEY, prekey_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, not_after INTEGER NOT NULL,"
    "  signed BLOB NOT NULL, cert_serial INTEGER NOT NULL) WITHOUT ROWID;"
    /* agencies' acknowledgements not yet folded into the tables above,
     * in the order they came (store_fold.c) */
    "CREATE TABLE IF NOT EXISTS acked ("
    "  id INTEGER PRIMARY KEY,"
    "  recipient TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,"
    "  UNIQUE (recipient, seq));"
    "CREATE TABLE IF NOT EXISTS audit ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT," /* 1, 2, 3... */
    "  record TEXT NOT NULL,"
    "  hash BLOB NOT NULL);"; /* see audit.h */

/* The statement is named by its start: the schema is pages long and
 * would push SQLite's reason out of the 160-byte detail. */
int store_db_error(am_store_t *s, const char *what)
{
    int len = (int)strcspn(what, ";");

    return am_errf(AM_EIO, "store: %.*s%s: %s", len > 32 ? 32 : len, what,
                   len > 32 || what[len] != '\0' ? "..." : "",
                   sqlite3_errmsg(s->db));
}

int store_exec(am_store_t *s, const char *q)
{
    return sqlite3_exec(s->db, q, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : store_db_error(s, q);
}

sqlite3_stmt *store_stmt(am_store_t *s, int which)
{
    sqlite3_stmt *st = s->st[which];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Step a statement that returns no rows. */
static int run(am_store_t *s, sqlite3_stmt *st)
{
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_error(s, "write");
}

int store_run(am_store_t *s, int which)
{
    int rc = run(s, store_stmt(s, which));

    sqlite3_reset(s->st[which]);
    return rc;
}

/* The evcache column as put, if it is whole (its content is checked by
 * the relay: relay/evcache.c). */
static bool evcache(sqlite3_stmt *st, int col, am_store_item_t *it)
{
    const void *b = sqlite3_column_blob(st, col);

    if (sqlite3_column_bytes(st, col) != AM_STORE_EVCACHE_LEN || b == NULL)
        return false;
    memcpy(it->evcache, b, AM_STORE_EVCACHE_LEN);
    return true;
}

/* A new envelope must fit in its sender's quota of stored, undelivered
 * messages and bytes. */
static int check_quota(am_store_t *s, const am_store_put_t *m)
{
    sqlite3_stmt *st = store_stmt(s, ST_USAGE);
    uint64_t msgs = 0, bytes = 0;
    int rc;

    sqlite3_bind_text(st, 1, m->sender, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        msgs = (uint64_t)sqlite3_column_int64(st, 0);
        bytes = (uint64_t)sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        return store_db_error(s, "usage");
    }
    if (msgs + 1 > m->quota_messages ||
        bytes + m->envelope_len > m->quota_bytes)
        return am_errf(AM_ELIMIT, "\"%s\" has %llu envelopes (%llu bytes) "
                       "stored and undelivered; its quota is %llu envelopes, "
                       "%llu bytes", m->sender, (unsigned long long)msgs,
                       (unsigned long long)bytes,
                       (unsigned long long)m->quota_messages,
                       (unsigned long long)m->quota_bytes);
    return 0;
}

/* The delivery of recipient i: to itself when homed here; else one to
 * its home relay for every recipient homed there, made at the first. */
static int put_delivery(am_store_t *s, const am_store_put_t *m,
                        sqlite3_int64 seq, size_t i)
{
    sqlite3_stmt *st = store_stmt(s, ST_INSERT_DLV);
    /* ids are [A-Z]{2}-[A-Z0-9]+: nothing to escape in JSON */
    char list[AM_ENV_MAX_RECIPIENTS * (AM_AGENCY_ID_MAX + 3) + 3];
    size_t used = 0;

    for (size_t k = 0; k < i && m->via[i][0] != '\0'; k++)
        if (strcmp(m->via[k], m->via[i]) == 0)
            return 0; /* made with recipient k */
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, m->via[i][0] ? m->via[i] : m->recipients[i], -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 3, m->priority);
    if (m->via[i][0] != '\0') {
        for (size_t k = i; k < m->n_recipients; k++)
            if (strcmp(m->via[k], m->via[i]) == 0)
                used += (size_t)snprintf(list + used, sizeof list - used,
                                         "%s\"%s\"", used ? "," : "[",
                                         m->recipients[k]);
        snprintf(list + used, sizeof list - used, "]");
        sqlite3_bind_text(st, 4, list, -1, SQLITE_TRANSIENT);
    }
    return run(s, st);
}

int store_do_put(am_store_t *s, req_t *r)
{
    const am_store_put_t *m = &r->put;
    sqlite3_stmt *st = store_stmt(s, ST_FIND);
    sqlite3_int64 seq;
    int rc;

    sqlite3_bind_blob(st, 1, m->message_id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* seen before: the same envelope is the same answer */
        bool same = sqlite3_column_bytes(st, 0) == AM_HASH_LEN &&
                    memcmp(sqlite3_column_blob(st, 0), m->envelope_hash,
                           AM_HASH_LEN) == 0;
        r->accepted_at = sqlite3_column_int64(st, 1);
        return same ? 0 : am_errf(AM_EDUP, "message id already stored with "
                                  "other content");
    }
    if (rc != SQLITE_DONE)
        return store_db_error(s, "find");
    if ((rc = check_quota(s, m)) != 0)
        return rc;
    st = store_stmt(s, ST_INSERT_MSG);
    sqlite3_bind_blob(st, 1, m->message_id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, m->envelope_hash, AM_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, m->priority);
    sqlite3_bind_int64(st, 5, m->expires_at);
    sqlite3_bind_int64(st, 6, r->now);
    sqlite3_bind_blob64(st, 7, m->envelope, m->envelope_len, SQLITE_STATIC);
    if (m->route[0] != '\0')
        sqlite3_bind_text(st, 8, m->route, -1, SQLITE_STATIC);
    if (m->has_evcache)
        sqlite3_bind_blob(st, 9, m->evcache, AM_STORE_EVCACHE_LEN,
                          SQLITE_STATIC);
    if ((rc = run(s, st)) != 0)
        return rc;
    seq = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < m->n_recipients; i++)
        if ((rc = put_delivery(s, m, seq, i)) != 0)
            return rc;
    r->accepted_at = r->now;
    return 0;
}

/* Rows of one next statement, until max items or the byte budget. */
static int next_rows(am_store_t *s, req_t *r, sqlite3_stmt *st)
{
    int rc = SQLITE_DONE;

    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(r->max - r->n_items));
    sqlite3_bind_int64(st, 3, r->now);
    if (sqlite3_bind_parameter_count(st) >= 4) {
        sqlite3_bind_int(st, 4, r->after.priority);
        if (sqlite3_bind_parameter_count(st) >= 5)
            sqlite3_bind_int64(st, 5, r->after.seq);
    }
    while (r->n_items < r->max && r->n_bytes < AM_STORE_NEXT_BYTES &&
           (rc = sqlite3_step(st)) == SQLITE_ROW) {
        am_store_item_t *it = &r->items[r->n_items];
        size_t n = (size_t)sqlite3_column_bytes(st, 2);

        if (sqlite3_column_bytes(st, 0) != AM_MSG_ID_LEN || n == 0 ||
            sqlite3_column_bytes(st, 3) != AM_HASH_LEN)
            return am_errf(AM_EIO, "store: damaged row for %s", r->recipient);
        memcpy(it->message_id, sqlite3_column_blob(st, 0), AM_MSG_ID_LEN);
        memcpy(it->envelope_hash, sqlite3_column_blob(st, 3), AM_HASH_LEN);
        it->accepted_at = sqlite3_column_int64(st, 4);
        snprintf(it->sender, sizeof it->sender, "%s",
                 (const char *)sqlite3_column_text(st, 5));
        it->priority = it->at.priority = sqlite3_column_int(st, 1);
        it->at.seq = sqlite3_column_int64(st, 6);
        snprintf(it->owed, sizeof it->owed, "%s",
                 (const char *)sqlite3_column_text(st, 7));
        it->has_evcache = evcache(st, 8, it);
        if ((it->envelope = am_malloc(n)) == NULL)
            return AM_ENOMEM;
        memcpy(it->envelope, sqlite3_column_blob(st, 2), n);
        it->envelope_len = n;
        r->n_items++;
        r->n_bytes += n;
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
                                                 : store_db_error(s, "next");
}

int store_do_next(am_store_t *s, req_t *r)
{
    int rc;

    if ((r->items = am_calloc(r->max, sizeof *r->items)) == NULL)
        return AM_ENOMEM;
    if (r->after.seq == 0)
        return next_rows(s, r, store_stmt(s, ST_NEXT));
    if ((rc = next_rows(s, r, store_stmt(s, ST_NEXT_SAME))) != 0)
        return rc;
    if (r->n_items == r->max || r->n_bytes >= AM_STORE_NEXT_BYTES)
        return 0;
    return next_rows(s, r, store_stmt(s, ST_NEXT_LOWER));
}

/* A peer relay's accepted evidence must name the envelope stored here. */
static int same_hash(am_store_t *s, const uint8_t id[AM_MSG_ID_LEN],
                     const uint8_t hash[AM_HASH_LEN])
{
    sqlite3_stmt *st = store_stmt(s, ST_HASH);
    int rc;

    sqlite3_bind_blob(st, 1, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_DONE)
        return am_errf(AM_EKEY, "no such message");
    if (rc != SQLITE_ROW)
        return store_db_error(s, "hash");
    return sqlite3_column_bytes(st, 0) == AM_HASH_LEN &&
                   memcmp(sqlite3_column_blob(st, 0), hash, AM_HASH_LEN) == 0
               ? 0
               : am_errf(AM_ECRYPTO, "evidence names another envelope");
}

/* What the sender is owed for an acknowledgement: the relay's own
 * "delivered" evidence, or the home relay's accepted evidence (ev). */
static int note(am_store_t *s, const char *recipient,
                const uint8_t id[AM_MSG_ID_LEN], int64_t now,
                const am_store_notice_t *ev)
{
    sqlite3_stmt *st = store_stmt(s, ST_NOTE);

    sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if (ev != NULL) {
        sqlite3_bind_int(st, 4, 1);
        sqlite3_bind_blob(st, 5, ev->evidence, (int)ev->evidence_len,
                          SQLITE_STATIC);
    } else {
        sqlite3_bind_int(st, 4, 2);
    }
    return run(s, st);
}

/* Every recipient has it: keep the record, drop the sealed bytes. */
static int complete(am_store_t *s, const uint8_t id[AM_MSG_ID_LEN],
                    int64_t now)
{
    sqlite3_stmt *st = store_stmt(s, ST_REMAINING);
    int rc;

    sqlite3_bind_blob(st, 1, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        return store_db_error(s, "remaining");
    if (sqlite3_column_int64(st, 0) > 0)
        return 0;
    if ((rc = am_audit_append(s->audit, id, now)) != 0)
        return rc;
    st = store_stmt(s, ST_DROP_BODY);
    sqlite3_bind_blob(st, 1, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    return run(s, st);
}

int store_ack_now(am_store_t *s, const char *recipient,
                  const uint8_t id[AM_MSG_ID_LEN], int64_t now,
                  int64_t done_at, int kind2, const am_store_notice_t *ev,
                  bool *done)
{
    sqlite3_stmt *st;
    int rc, state = kind2 == ACK_REFUSED ? 4 : 2;

    *done = false;
    if (kind2 == ACK_FORWARDED &&
        (rc = same_hash(s, id, ev->envelope_hash)) != 0)
        return rc;
    st = store_stmt(s, ST_ACK);
    sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, state);
    if ((rc = run(s, st)) != 0)
        return rc;
    if (sqlite3_changes(s->db) == 0) {
        /* acknowledged before (at-least-once delivery): same answer */
        st = store_stmt(s, ST_ACKED);
        sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, id, AM_MSG_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, state);
        return sqlite3_step(st) == SQLITE_ROW
                   ? 0
                   : am_errf(AM_EKEY, "no delivery of that message to %s",
                             recipient);
    }
    *done = true;
    if (kind2 != ACK_REFUSED &&
        (rc = note(s, recipient, id, now,
                   kind2 == ACK_FORWARDED ? ev : NULL)) != 0)
        return rc;
    return complete(s, id, done_at);
}

int store_do_ack(am_store_t *s, req_t *r)
{
    bool done;

    if (r->kind2 == ACK_AGENCY) /* store_fold.c */
        return store_ack_log(s, r);
    return store_ack_now(s, r->recipient, r->id, r->now, r->now, r->kind2,
                         r->notices, &done);
}

int store_do_notices(am_store_t *s, req_t *r)
{
    sqlite3_stmt *st = store_stmt(s, ST_NOTICES);
    int rc;

    if ((r->notices = am_calloc(r->max, sizeof *r->notices)) == NULL)
        return AM_ENOMEM;
    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && r->n_items < r->max) {
        am_store_notice_t *n = &r->notices[r->n_items];
        const char *who = (const char *)sqlite3_column_text(st, 3);

        if (sqlite3_column_bytes(st, 1) != AM_MSG_ID_LEN ||
            sqlite3_column_bytes(st, 2) != AM_HASH_LEN || who == NULL ||
            strlen(who) > AM_AGENCY_ID_MAX)
            return am_errf(AM_EIO, "store: damaged notice for %s",
                           r->recipient);
        n->kind = sqlite3_column_int(st, 0);
        memcpy(n->message_id, sqlite3_column_blob(st, 1), AM_MSG_ID_LEN);
        memcpy(n->envelope_hash, sqlite3_column_blob(st, 2), AM_HASH_LEN);
        memcpy(n->recipient, who, strlen(who) + 1);
        n->time = sqlite3_column_int64(st, 4);
        if ((n->evidence_len = (size_t)sqlite3_column_bytes(st, 5)) >
            sizeof n->evidence)
            return am_errf(AM_EIO, "store: damaged notice for %s",
                           r->recipient);
        if (n->evidence_len > 0)
            memcpy(n->evidence, sqlite3_column_blob(st, 5), n->evidence_len);
        r->n_items++;
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_error(s, "notices");
}

/* One expiry statement; rows of the first column are senders to list. */
static int expire_step(am_store_t *s, req_t *r, const char *q, bool senders)
{
    sqlite3_stmt *st;
    int step;

    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(s, "expire");
    sqlite3_bind_int64(st, 1, r->now);
    while ((step = sqlite3_step(st)) == SQLITE_ROW && senders) {
        const char *who = (const char *)sqlite3_column_text(st, 0);

        if (r->n_senders < EXPIRED_SENDERS && who != NULL &&
            strlen(who) <= AM_AGENCY_ID_MAX)
            memcpy(r->senders[r->n_senders++], who, strlen(who) + 1);
        r->n_senders_all++;
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : store_db_error(s, "expire");
}

/* Envelopes nobody can receive any more: an audit record each, as for
 * those every recipient acknowledged, then their bytes go. */
static int expire_finished(am_store_t *s, req_t *r)
{
    static const char q[] =
        "SELECT message_id FROM messages WHERE envelope IS NOT NULL AND "
        "expires_at <= ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.seq = messages.seq AND d.state = 0)";
    sqlite3_stmt *st;
    int step, rc = 0;

    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
        return store_db_error(s, "expire");
    sqlite3_bind_int64(st, 1, r->now);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != AM_MSG_ID_LEN)
            rc = am_errf(AM_EIO, "store: damaged message id");
        else
            rc = am_audit_append(s->audit, sqlite3_column_blob(st, 0),
                                 r->now);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store_db_error(s, "expire");
    sqlite3_finalize(st);
    return rc != 0 ? rc : expire_step(s, r,
        "UPDATE messages SET envelope = NULL WHERE envelope IS NOT NULL AND "
        "expires_at <= ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d "
        "WHERE d.seq = messages.seq AND d.state = 0)", false);
}

int store_do_expire(am_store_t *s, req_t *r)
{
    int rc;

    if ((rc = expire_step(s, r,
             "SELECT DISTINCT coalesce(m.route, m.sender) FROM deliveries d "
             "JOIN messages m ON m.seq = d.seq WHERE m.envelope IS NOT NULL "
             "AND m.expires_at <= ?1 AND d.state = 0 AND " NOT_LOGGED,
             true)) != 0 ||
        /* a copy still waiting for its home relay expires for each of
         * the agencies it is for */
        (rc = expire_step(s, r,
             "INSERT OR IGNORE INTO notices (sender, kind, message_id, "
             "envelope_hash, recipient, time, state) SELECT "
             "coalesce(m.route, m.sender), 3, m.message_id, m.envelope_hash, "
             "coalesce(j.value, d.recipient), ?1, 0 FROM deliveries d JOIN "
             "messages m ON m.seq = d.seq LEFT JOIN json_each(d.agencies) j "
             "WHERE m.envelope IS NOT NULL AND m.expires_at <= ?1 AND "
             "d.state = 0 AND " NOT_LOGGED, false)) != 0 ||
        (rc = expire_step(s, r,
             "UPDATE deliveries AS d SET state = 3 WHERE state = 0 AND "
             "seq IN (SELECT seq FROM messages WHERE envelope IS NOT NULL "
             "AND expires_at <= ?1) AND " NOT_LOGGED, false)) != 0)
        return rc;
    return expire_finished(s, r);
}

int store_do_notice_ack(am_store_t *s, req_t *r)
{
    sqlite3_stmt *st = store_stmt(s, ST_NOTICE_ACK);
    int rc;

    sqlite3_bind_text(st, 1, r->recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, r->kind2);
    sqlite3_bind_blob(st, 3, r->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->other, -1, SQLITE_STATIC);
    if ((rc = run(s, st)) != 0)
        return rc;
    return sqlite3_changes(s->db) > 0
               ? 0
               : am_errf(AM_EKEY, "no such notice for %s", r->recipient);
}

/* The prekey held for agency into *p (len 0 when none).  */
static int prekey_get(am_store_t *s, const char *agency, am_store_prekey_t *p)
{
    sqlite3_stmt *st = store_stmt(s, ST_PREKEY_GET);
    size_t n;
    int rc;

    p->len = 0;
    if (p->agency != agency) /* a lookup fills the entry it was named in */
        snprintf(p->agency, sizeof p->agency, "%s", agency);
    sqlite3_bind_text(st, 1, agency, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return store_db_error(s, "prekey");
    if ((n = (size_t)sqlite3_column_bytes(st, 3)) == 0 ||
        n > sizeof p->signed_prekey)
        return am_errf(AM_EIO, "store: damaged prekey of %s", agency);
    p->prekey_id = (uint32_t)sqlite3_column_int64(st, 0);
    p->created_at = sqlite3_column_int64(st, 1);
    p->not_after = sqlite3_column_int64(st, 2);
    p->cert_serial = (uint64_t)sqlite3_column_int64(st, 4);
    memcpy(p->signed_prekey, sqlite3_column_blob(st, 3), n);
    p->len = n;
    return 0;
}

int store_do_prekey_put(am_store_t *s, req_t *r)
{
    const am_store_prekey_t *p = &r->prekeys[0];
    am_store_prekey_t held;
    sqlite3_stmt *st;
    int rc;

    if ((rc = prekey_get(s, p->agency, &held)) != 0)
        return rc;
    if (held.len == p->len &&
        memcmp(held.signed_prekey, p->signed_prekey, p->len) == 0)
        return 0; /* uploaded again: the same answer */
    if (held.len > 0 && held.created_at >= p->created_at)
        return am_errf(AM_ESTALE, "prekey %u of %s is not newer than prekey "
                       "%u held", p->prekey_id, p->agency, held.prekey_id);
    st = store_stmt(s, ST_PREKEY_SET);
    sqlite3_bind_text(st, 1, p->agency, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, p->prekey_id);
    sqlite3_bind_int64(st, 3, p->created_at);
    sqlite3_bind_int64(st, 4, p->not_after);
    sqlite3_bind_blob(st, 5, p->signed_prekey, (int)p->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)p->cert_serial);
    return run(s, st);
}

int store_do_prekeys(am_store_t *s, req_t *r)
{
    int rc;

    for (size_t i = 0; i < r->n_items; i++) {
        am_store_prekey_t *p = &r->prekeys[i];

        if ((rc = prekey_get(s, p->agency, p)) != 0)
            return rc;
        if (p->len > 0 && p->not_after <= r->now)
            p->len = 0; /* expired: senders use the certificate's key */
    }
    return 0;
}
