/* The client's local store (cstore.h): one SQLite connection, used by one
 * thread.  This file holds the SQL, opening, transactions, put, get and
 * resolve; cstore_list.c the lists, marks, events, directory cache and
 * revocation list.  Every statement is prepared once; every length read
 * back from the file is bounded before it is copied, since the file can be
 * damaged or edited behind our back. */
#include "cstore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "err.h"

#define CSTORE_VERSION 1 /* PRAGMA user_version; no migrations yet */

/* in the order of the C_* columns (cstore_internal.h) */
#define MSG_COLS                                                             \
    "id, outgoing, sent, sender, recipients, kind, priority, created_at, "  \
    "expires_at, deadline, in_reply_to, case_ref, stored_at, read_at, state"

/* The inbox and sent lists hold requests and notifications; the replies
 * and receipts are shown under the message they answer. */
#define NOT_ANSWER " AND kind NOT IN ('reply', 'receipt')"

static const char *const cstore_sql[CS_COUNT] = {
    [CS_BEGIN] = "BEGIN IMMEDIATE",
    [CS_COMMIT] = "COMMIT",
    [CS_ROLLBACK] = "ROLLBACK",
    /* DO NOTHING on the id only: a NOT NULL violation stays an error */
    [CS_PUT] = "INSERT INTO messages (" MSG_COLS ", envelope, content) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
               "?13, ?14, ?15, ?16, ?17) ON CONFLICT (id) DO NOTHING",
    [CS_GET] = "SELECT " MSG_COLS ", envelope, content FROM messages "
               "WHERE id = ?1",
    /* a prefix is a range of the primary key: ?1 the prefix padded with
     * zeros, ?2 the next prefix (memcmp order, as SQLite orders blobs) */
    [CS_RESOLVE] = "SELECT id FROM messages WHERE id >= ?1 AND id < ?2 "
                   "ORDER BY id LIMIT 2",
    [CS_INBOX] = "SELECT " MSG_COLS " FROM messages WHERE outgoing = 0"
                 NOT_ANSWER " ORDER BY read_at = 0 DESC, priority DESC, "
                 "created_at DESC, rowid DESC",
    [CS_SENT] = "SELECT " MSG_COLS " FROM messages WHERE outgoing = 1"
                NOT_ANSWER " ORDER BY created_at, rowid",
    [CS_UNSENT] = "SELECT " MSG_COLS " FROM messages "
                  "WHERE outgoing = 1 AND sent = 0 ORDER BY rowid",
    [CS_MARK_SENT] = "UPDATE messages SET sent = 1 WHERE id = ?1",
    /* counts as a change even when read already, so changes() = 0 still
     * means "no such message" */
    [CS_MARK_READ] = "UPDATE messages SET read_at = CASE read_at WHEN 0 "
                     "THEN ?2 ELSE read_at END WHERE id = ?1",
    [CS_SET_STATE] = "UPDATE messages SET state = ?2 WHERE id = ?1",
    [CS_EVENT_PUT] = "INSERT INTO events (message_id, kind, party, time, "
                     "signed, source, detail) VALUES (?1, ?2, ?3, ?4, ?5, "
                     "?6, ?7) ON CONFLICT (message_id, kind, party, source) "
                     "DO NOTHING",
    [CS_EVENTS] = "SELECT message_id, kind, party, time, signed, source, "
                  "detail FROM events WHERE message_id = ?1 "
                  "ORDER BY time, seq",
    [CS_DIR_PUT] = "INSERT OR REPLACE INTO dir (agency, cert, prekey, "
                   "fetched_at) VALUES (?1, ?2, ?3, ?4)",
    [CS_DIR_GET] = "SELECT cert, prekey, fetched_at FROM dir "
                   "WHERE agency = ?1",
    [CS_CRL_PUT] = "INSERT INTO crl (id, sequence, bytes) VALUES (1, ?1, ?2) "
                   "ON CONFLICT (id) DO UPDATE SET sequence = "
                   "excluded.sequence, bytes = excluded.bytes "
                   "WHERE excluded.sequence > crl.sequence",
    [CS_CRL_GET] = "SELECT sequence, bytes FROM crl WHERE id = 1",
};

/* Run inside BEGIN IMMEDIATE on a file with user_version 0 and no
 * tables, so two processes creating it at once cannot both do it. */
static const char cstore_schema[] =
    "CREATE TABLE IF NOT EXISTS messages ("
    "  id BLOB NOT NULL PRIMARY KEY," /* AM_MSG_ID_LEN bytes */
    "  outgoing INTEGER NOT NULL, sent INTEGER NOT NULL,"
    "  sender TEXT NOT NULL, recipients TEXT NOT NULL, kind TEXT NOT NULL,"
    "  priority INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL, deadline INTEGER NOT NULL,"
    "  in_reply_to BLOB, case_ref TEXT NOT NULL,"
    "  envelope BLOB NOT NULL, content BLOB NOT NULL,"
    "  stored_at INTEGER NOT NULL, read_at INTEGER NOT NULL,"
    "  state TEXT NOT NULL);"
    /* inbox and sent: one direction, sent walked in created_at order
     * (the inbox's unread-first order is sorted; an inbox is small) */
    "CREATE INDEX IF NOT EXISTS by_direction ON messages "
    "  (outgoing, created_at);"
    /* unsent: few rows, walked in rowid (stored) order */
    "CREATE INDEX IF NOT EXISTS unsent ON messages (outgoing) "
    "  WHERE sent = 0;"
    "CREATE TABLE IF NOT EXISTS events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  message_id BLOB NOT NULL, kind TEXT NOT NULL, party TEXT NOT NULL,"
    "  time INTEGER NOT NULL, signed BLOB,"
    /* x'', not NULL, when none: NULLs are distinct in a UNIQUE */
    "  source BLOB NOT NULL DEFAULT x'',"
    "  detail TEXT NOT NULL,"
    "  UNIQUE (message_id, kind, party, source));"
    "CREATE INDEX IF NOT EXISTS events_of ON events (message_id, time);"
    "CREATE TABLE IF NOT EXISTS dir ("
    "  agency TEXT NOT NULL PRIMARY KEY, cert BLOB NOT NULL, prekey BLOB,"
    "  fetched_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS crl ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  sequence INTEGER NOT NULL, bytes BLOB NOT NULL);"
    "PRAGMA user_version = 1;";

int cstore_db_error(am_cstore_t *s, const char *what)
{
    return am_errf(AM_EIO, "%s: %s: %s", s->path, what,
                   sqlite3_errmsg(s->db));
}

int cstore_damaged(am_cstore_t *s, const char *field, int n)
{
    return am_errf(AM_EIO, "%s: damaged row: %s is %d bytes", s->path,
                   field, n);
}

int cstore_no_message(const uint8_t id[AM_MSG_ID_LEN])
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * AM_MSG_ID_LEN + 1];

    for (size_t i = 0; i < AM_MSG_ID_LEN; i++) {
        hex[2 * i] = digits[id[i] >> 4];
        hex[2 * i + 1] = digits[id[i] & 15];
    }
    hex[2 * AM_MSG_ID_LEN] = '\0';
    return am_errf(AM_EKEY, "no message %s", hex);
}

static int exec(am_cstore_t *s, const char *sql, const char *what)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : cstore_db_error(s, what);
}

sqlite3_stmt *cstore_stmt(am_cstore_t *s, int which)
{
    sqlite3_stmt *st = s->st[which];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int cstore_run(am_cstore_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : cstore_db_error(s, what);

    sqlite3_reset(st);
    return rc;
}

int cstore_bound(am_cstore_t *s, sqlite3_stmt *st, int b, const char *what)
{
    if (b == SQLITE_OK)
        return 0;
    sqlite3_reset(st);
    return cstore_db_error(s, what);
}

int cstore_col_text(am_cstore_t *s, sqlite3_stmt *st, int col,
                    const char *field, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);

    if (n < 0 || (size_t)n >= cap)
        return cstore_damaged(s, field, n);
    if (n > 0 && t == NULL)
        return AM_ENOMEM;
    if (n > 0)
        memcpy(dst, t, (size_t)n);
    dst[n] = '\0';
    return 0;
}

int cstore_col_id(am_cstore_t *s, sqlite3_stmt *st, int col,
                  const char *field, uint8_t id[AM_MSG_ID_LEN],
                  bool *present)
{
    const void *b = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);

    if (present != NULL && n == 0) {
        *present = false;
        return 0;
    }
    if (n != (int)AM_MSG_ID_LEN || b == NULL)
        return cstore_damaged(s, field, n);
    memcpy(id, b, AM_MSG_ID_LEN);
    if (present != NULL)
        *present = true;
    return 0;
}

int cstore_row_msg(am_cstore_t *s, sqlite3_stmt *st, am_cmsg_t *m)
{
    int rc;

    memset(m, 0, sizeof *m);
    if ((rc = cstore_col_id(s, st, C_ID, "message id", m->id, NULL)) ||
        (rc = cstore_col_text(s, st, C_SENDER, "sender", m->sender,
                              sizeof m->sender)) ||
        (rc = cstore_col_text(s, st, C_RECIPIENTS, "recipients",
                              m->recipients, sizeof m->recipients)) ||
        (rc = cstore_col_text(s, st, C_KIND, "kind", m->kind,
                              sizeof m->kind)) ||
        (rc = cstore_col_id(s, st, C_REPLY_TO, "in_reply_to",
                            m->in_reply_to, &m->has_reply_to)) ||
        (rc = cstore_col_text(s, st, C_CASE_REF, "case_ref", m->case_ref,
                              sizeof m->case_ref)) ||
        (rc = cstore_col_text(s, st, C_STATE, "state", m->state,
                              sizeof m->state)))
        return rc;
    m->outgoing = sqlite3_column_int(st, C_OUTGOING) != 0;
    m->sent = sqlite3_column_int(st, C_SENT) != 0;
    m->priority = sqlite3_column_int(st, C_PRIORITY);
    m->created_at = sqlite3_column_int64(st, C_CREATED);
    m->expires_at = sqlite3_column_int64(st, C_EXPIRES);
    m->deadline = sqlite3_column_int64(st, C_DEADLINE);
    m->stored_at = sqlite3_column_int64(st, C_STORED);
    m->read_at = sqlite3_column_int64(st, C_READ);
    return 0;
}

/* Envelope then content in one new buffer, m pointing into it. */
static int row_bytes(am_cstore_t *s, sqlite3_stmt *st, am_cmsg_t *m,
                     uint8_t **out)
{
    const uint8_t *env = sqlite3_column_blob(st, C_ENVELOPE);
    int elen = sqlite3_column_bytes(st, C_ENVELOPE);
    const uint8_t *con = sqlite3_column_blob(st, C_CONTENT);
    int clen = sqlite3_column_bytes(st, C_CONTENT);
    uint8_t *buf;

    if (elen <= 0 || (size_t)elen > AM_ENV_MAX)
        return cstore_damaged(s, "envelope", elen);
    if (clen < 0 || (size_t)clen > AM_ENV_MAX)
        return cstore_damaged(s, "content", clen);
    if (env == NULL || (clen > 0 && con == NULL) ||
        (buf = am_malloc((size_t)elen + (size_t)clen)) == NULL)
        return AM_ENOMEM;
    memcpy(buf, env, (size_t)elen);
    if (clen > 0)
        memcpy(buf + elen, con, (size_t)clen);
    m->envelope = buf;
    m->envelope_len = (size_t)elen;
    m->content = buf + elen;
    m->content_len = (size_t)clen;
    *out = buf;
    return 0;
}

/* ---- opening ---------------------------------------------------------- */

/* Created here, not by SQLite (which would use 0644): the store holds
 * case files.  SQLite gives its -wal and -shm files the same mode. */
static int make_file(const char *path, bool *created)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    *created = fd >= 0;
    if (fd < 0 && errno != EEXIST)
        return am_errf(AM_EIO, "%s: cannot create: %s", path,
                       strerror(errno));
    if (fd >= 0 && close(fd) != 0)
        return am_errf(AM_EIO, "%s: cannot close: %s", path,
                       strerror(errno));
    return 0;
}

/* The file is new: make its directory entry durable too. */
static int sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096] = ".";
    size_t n;
    int fd, rc = 0;

    if (slash != NULL) {
        n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return am_errf(AM_EINVAL, "%s: folder name too long", path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = am_errf(AM_EIO, "%s: cannot sync its folder: %s", path,
                     strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

static int read_version(am_cstore_t *s, int *version, int *tables)
{
    static const char q[] = "SELECT (SELECT user_version FROM "
                            "pragma_user_version), (SELECT count(*) FROM "
                            "sqlite_master)";
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = cstore_db_error(s, "reading its version");
    } else {
        *version = sqlite3_column_int(st, 0);
        *tables = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return rc;
}

/* 0 when the file is a store of this version; *empty when it is a new
 * file (version 0, no tables) that needs the schema. */
static int check_version(am_cstore_t *s, bool *empty)
{
    int version = 0, tables = 0, rc;

    if ((rc = read_version(s, &version, &tables)) != 0)
        return rc;
    *empty = version == 0 && tables == 0;
    if (version == CSTORE_VERSION || *empty)
        return 0;
    if (version == 0)
        return am_errf(AM_EUNSUPPORTED, "%s: holds other tables: not an "
                       "amanat store", s->path);
    return am_errf(AM_EUNSUPPORTED, "%s: store version %d; this amanat "
                   "reads version %d only", s->path, version, CSTORE_VERSION);
}

static int create_schema(am_cstore_t *s)
{
    bool empty = false;
    int rc;

    if ((rc = exec(s, "BEGIN IMMEDIATE", "creating its tables")) != 0)
        return rc;
    /* again, inside the lock: another process may have been first */
    if ((rc = check_version(s, &empty)) == 0 && empty)
        rc = exec(s, cstore_schema, "creating its tables");
    if (rc == 0)
        rc = exec(s, "COMMIT", "creating its tables");
    if (rc != 0 && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int open_db(am_cstore_t *s)
{
    bool empty = false;
    int rc;

    if (sqlite3_open_v2(s->path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return s->db != NULL ? cstore_db_error(s, "cannot open") : AM_ENOMEM;
    /* another amanat (a second command, a backup) may hold it briefly */
    if (sqlite3_busy_timeout(s->db, 5000) != SQLITE_OK)
        return cstore_db_error(s, "busy timeout");
    /* before anything writes to it: an unknown file is left as it is */
    if ((rc = check_version(s, &empty)) != 0)
        return rc;
    if ((rc = exec(s, "PRAGMA journal_mode = WAL; "
                      "PRAGMA synchronous = FULL; "
                      "PRAGMA foreign_keys = OFF;", "settings")) != 0)
        return rc;
    if (empty && (rc = create_schema(s)) != 0)
        return rc;
    for (int i = 0; i < CS_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, cstore_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK)
            return cstore_db_error(s, "preparing its statements");
    return 0;
}

int am_cstore_open(const char *path, am_cstore_t **out)
{
    am_cstore_t *s = NULL;
    size_t n;
    bool created = false;
    int rc = AM_ENOMEM;

    if (path == NULL || path[0] == '\0' || out == NULL)
        return am_errf(AM_EINVAL, "store: no file name");
    n = strlen(path) + 1;
    if ((s = am_calloc(1, sizeof *s)) == NULL ||
        (s->path = am_malloc(n)) == NULL)
        goto fail;
    memcpy(s->path, path, n);
    if ((rc = make_file(path, &created)) != 0 || (rc = open_db(s)) != 0 ||
        (created && (rc = sync_dir(path)) != 0))
        goto fail;
    *out = s;
    return 0;
fail:
    am_cstore_close(s);
    return rc;
}

void am_cstore_close(am_cstore_t *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < CS_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    /* every statement is finalized, so this closes (an open transaction
     * is rolled back) */
    sqlite3_close(s->db);
    am_free(s->path);
    am_free(s);
}

/* ---- transactions ----------------------------------------------------- */

int am_cstore_begin(am_cstore_t *s)
{
    if (s == NULL)
        return AM_EINVAL;
    if (!sqlite3_get_autocommit(s->db))
        return am_errf(AM_ESTATE, "%s: a transaction is open already",
                       s->path);
    return cstore_run(s, cstore_stmt(s, CS_BEGIN), "begin");
}

/* On failure the transaction may still be open (busy): the caller's
 * am_cstore_rollback ends it. */
int am_cstore_commit(am_cstore_t *s)
{
    if (s == NULL)
        return AM_EINVAL;
    if (sqlite3_get_autocommit(s->db))
        return am_errf(AM_ESTATE, "%s: no transaction to commit", s->path);
    return cstore_run(s, cstore_stmt(s, CS_COMMIT), "commit");
}

void am_cstore_rollback(am_cstore_t *s)
{
    /* SQLite may have rolled back already (after an I/O error) */
    if (s == NULL || sqlite3_get_autocommit(s->db))
        return;
    /* nothing more to do on failure: the sentence is recorded, and
     * closing the store rolls back */
    (void)cstore_run(s, cstore_stmt(s, CS_ROLLBACK), "rollback");
}

/* ---- messages --------------------------------------------------------- */

int cstore_fits(const char *field, const char *a, size_t cap)
{
    return memchr(a, '\0', cap) != NULL
               ? 0
               : am_errf(AM_EINVAL, "%s: over %zu bytes", field, cap - 1);
}

static int check_msg(const am_cmsg_t *m)
{
#define FITS(f) cstore_fits("message " #f, m->f, sizeof m->f)
    int rc;

    if ((rc = FITS(sender)) || (rc = FITS(recipients)) || (rc = FITS(kind)) ||
        (rc = FITS(case_ref)) || (rc = FITS(state)))
        return rc;
#undef FITS
    if (m->envelope == NULL || m->envelope_len == 0 ||
        m->envelope_len > AM_ENV_MAX)
        return am_errf(AM_EINVAL, "message envelope of %zu bytes: must be "
                       "1 to %zu", m->envelope_len, AM_ENV_MAX);
    if ((m->content == NULL && m->content_len > 0) ||
        m->content_len > AM_ENV_MAX)
        return am_errf(AM_EINVAL, "message content of %zu bytes: over %zu "
                       "or missing", m->content_len, AM_ENV_MAX);
    return 0;
}

int am_cstore_put(am_cstore_t *s, const am_cmsg_t *m, bool *existed)
{
    sqlite3_stmt *st;
    int b, rc;

    if (s == NULL || m == NULL)
        return AM_EINVAL;
    if ((rc = check_msg(m)) != 0)
        return rc;
    st = cstore_stmt(s, CS_PUT);
    b = sqlite3_bind_blob(st, C_ID + 1, m->id, AM_MSG_ID_LEN, SQLITE_STATIC);
    b |= sqlite3_bind_int(st, C_OUTGOING + 1, m->outgoing);
    b |= sqlite3_bind_int(st, C_SENT + 1, m->sent);
    b |= sqlite3_bind_text(st, C_SENDER + 1, m->sender, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, C_RECIPIENTS + 1, m->recipients, -1,
                           SQLITE_STATIC);
    b |= sqlite3_bind_text(st, C_KIND + 1, m->kind, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int(st, C_PRIORITY + 1, m->priority);
    b |= sqlite3_bind_int64(st, C_CREATED + 1, m->created_at);
    b |= sqlite3_bind_int64(st, C_EXPIRES + 1, m->expires_at);
    b |= sqlite3_bind_int64(st, C_DEADLINE + 1, m->deadline);
    if (m->has_reply_to)
        b |= sqlite3_bind_blob(st, C_REPLY_TO + 1, m->in_reply_to,
                               AM_MSG_ID_LEN, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, C_CASE_REF + 1, m->case_ref, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, C_STORED + 1, m->stored_at);
    b |= sqlite3_bind_int64(st, C_READ + 1, m->read_at);
    b |= sqlite3_bind_text(st, C_STATE + 1, m->state, -1, SQLITE_STATIC);
    b |= sqlite3_bind_blob64(st, C_ENVELOPE + 1, m->envelope, m->envelope_len,
                             SQLITE_STATIC);
    /* a non-NULL pointer even when empty: NULL would bind SQL NULL */
    b |= sqlite3_bind_blob64(st, C_CONTENT + 1,
                             m->content_len ? (const void *)m->content : "",
                             m->content_len, SQLITE_STATIC);
    if ((rc = cstore_bound(s, st, b, "put")) != 0 ||
        (rc = cstore_run(s, st, "put")) != 0)
        return rc;
    if (existed != NULL)
        *existed = sqlite3_changes(s->db) == 0;
    return 0;
}

int am_cstore_get(am_cstore_t *s, const uint8_t id[AM_MSG_ID_LEN],
                  am_cmsg_t *m, uint8_t **bufs)
{
    sqlite3_stmt *st;
    am_cmsg_t got;
    uint8_t *buf = NULL;
    int rc;

    if (s == NULL || id == NULL || m == NULL || bufs == NULL)
        return AM_EINVAL;
    st = cstore_stmt(s, CS_GET);
    rc = sqlite3_bind_blob(st, 1, id, AM_MSG_ID_LEN, SQLITE_STATIC);
    if ((rc = cstore_bound(s, st, rc, "get")) != 0)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        rc = cstore_no_message(id);
    else if (rc != SQLITE_ROW)
        rc = cstore_db_error(s, "get");
    else if ((rc = cstore_row_msg(s, st, &got)) == 0 &&
             (rc = row_bytes(s, st, &got, &buf)) == 0) {
        *m = got;
        *bufs = buf;
    }
    sqlite3_reset(st);
    return rc;
}

/* The key range of the messages whose hex id starts with hex: lo the
 * prefix padded with zeros, hi the next prefix (17 bytes of 0xff, above
 * every id, when the prefix is all f). */
static int prefix_range(const char *hex, uint8_t lo[AM_MSG_ID_LEN],
                        uint8_t hi[AM_MSG_ID_LEN + 1], size_t *hi_len)
{
    uint8_t nib[2 * AM_MSG_ID_LEN] = {0};
    size_t n = strnlen(hex, 2 * AM_MSG_ID_LEN + 1), i;

    if (n < 6 || n > 2 * AM_MSG_ID_LEN)
        return am_errf(AM_EINVAL, "message id \"%.40s\": give 6 to %u hex "
                       "digits", hex, 2 * AM_MSG_ID_LEN);
    for (i = 0; i < n; i++) {
        char c = hex[i];

        if (c >= '0' && c <= '9')
            nib[i] = (uint8_t)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            nib[i] = (uint8_t)((c | 0x20) - 'a' + 10);
        else
            return am_errf(AM_EINVAL, "message id \"%s\": character %zu is "
                           "not a hex digit", hex, i + 1);
    }
    for (i = 0; i < AM_MSG_ID_LEN; i++)
        lo[i] = (uint8_t)(nib[2 * i] << 4 | nib[2 * i + 1]);
    for (i = n; i > 0 && nib[i - 1] == 15; i--)
        nib[i - 1] = 0;
    if (i == 0) {
        memset(hi, 0xff, AM_MSG_ID_LEN + 1);
        *hi_len = AM_MSG_ID_LEN + 1;
        return 0;
    }
    nib[i - 1]++;
    for (i = 0; i < AM_MSG_ID_LEN; i++)
        hi[i] = (uint8_t)(nib[2 * i] << 4 | nib[2 * i + 1]);
    *hi_len = AM_MSG_ID_LEN;
    return 0;
}

int am_cstore_resolve(am_cstore_t *s, const char *hex,
                      uint8_t id[AM_MSG_ID_LEN])
{
    uint8_t lo[AM_MSG_ID_LEN], hi[AM_MSG_ID_LEN + 1], got[AM_MSG_ID_LEN];
    size_t hi_len = 0;
    sqlite3_stmt *st;
    int rc, step = SQLITE_DONE, found = 0;

    if (s == NULL || hex == NULL || id == NULL)
        return AM_EINVAL;
    if ((rc = prefix_range(hex, lo, hi, &hi_len)) != 0)
        return rc;
    st = cstore_stmt(s, CS_RESOLVE);
    rc = sqlite3_bind_blob(st, 1, lo, sizeof lo, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(st, 2, hi, (int)hi_len, SQLITE_STATIC);
    if ((rc = cstore_bound(s, st, rc, "resolve")) != 0)
        return rc;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = cstore_col_id(s, st, 0, "message id", got, NULL)) == 0)
            found++;
    if (rc == 0 && step != SQLITE_DONE)
        rc = cstore_db_error(s, "resolve");
    sqlite3_reset(st);
    if (rc != 0)
        return rc;
    if (found == 0)
        return am_errf(AM_EKEY, "no message starts with %s", hex);
    if (found > 1)
        return am_errf(AM_EINVAL, "message id %s is ambiguous: give more "
                       "digits", hex);
    memcpy(id, got, AM_MSG_ID_LEN);
    return 0;
}
