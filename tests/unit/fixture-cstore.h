/* What the local store's tests share (test-cstore.c, test-cstore-robust.c):
 * a store in a temporary folder, messages and events made from a one-byte
 * tag, and checks of the three lists and of a message's events. */
#ifndef AM_FIXTURE_CSTORE_H
#define AM_FIXTURE_CSTORE_H

#include "test-util.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "alloc.h"
#include "cert.h"
#include "cstore.h"
#include "err.h"
#include "prekey.h"

/* Each test program uses only some of what follows. */
#define FX_UNUSED __attribute__((unused))

/* the temporary folder and the store file in it */
static char dir[64] FX_UNUSED;
static char path[128] FX_UNUSED;

static const uint8_t env_bytes[] FX_UNUSED = "exact signed envelope bytes";
static const uint8_t content_bytes[] FX_UNUSED = "serialized CaseMessage";

static inline int make_dir(void **state)
{
    (void)state;
    if (t_make_dir(dir, sizeof dir, "cstore") != 0)
        return -1;
    snprintf(path, sizeof path, "%s/store.db", dir);
    return 0;
}

static inline int remove_dir(void **state)
{
    (void)state;
    am_alloc_set_hook(NULL, NULL);
    return t_remove_dir(dir);
}

static inline am_cstore_t *open_store(void)
{
    am_cstore_t *s = NULL;

    if (am_cstore_open(path, &s) != AM_OK)
        fail_msg("am_cstore_open %s: %s", path, am_err_detail());
    assert_non_null(s);
    return s;
}

/* A message whose id is 16 times tag (a letter, so lists read as words). */
static inline am_cmsg_t msg(uint8_t tag, bool outgoing, const char *kind,
                             int prio, int64_t created)
{
    am_cmsg_t m;

    memset(&m, 0, sizeof m);
    memset(m.id, tag, sizeof m.id);
    m.outgoing = outgoing;
    snprintf(m.sender, sizeof m.sender, "%s",
             outgoing ? "PK-NCCIA" : "DE-BKA");
    snprintf(m.recipients, sizeof m.recipients, "%s",
             outgoing ? "DE-BKA,PH-NBI" : "PK-NCCIA");
    snprintf(m.kind, sizeof m.kind, "%s", kind);
    m.priority = prio;
    m.created_at = created;
    m.expires_at = created + 86400;
    m.envelope = env_bytes;
    m.envelope_len = sizeof env_bytes;
    m.content = content_bytes;
    m.content_len = sizeof content_bytes;
    m.stored_at = created + 1;
    return m;
}

static inline void put(am_cstore_t *s, const am_cmsg_t *m)
{
    bool existed = true;

    if (am_cstore_put(s, m, &existed) != AM_OK)
        fail_msg("put: %s", am_err_detail());
    assert_false(existed);
}

static inline void id_of(uint8_t tag, uint8_t id[AM_MSG_ID_LEN])
{
    memset(id, tag, AM_MSG_ID_LEN);
}

/* Run sql on the store's file through a connection of our own. */
static inline void db_exec(const char *file, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;

    assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
    sqlite3_close(db);
}

/* ---- lists -------------------------------------------------------------- */

typedef struct {
    char tags[40]; /* the first id byte of each message listed, in order */
    size_t n;
    size_t stop_after; /* 0: never stop */
} seen_t;

static inline int collect_cb(void *ctx, const am_cmsg_t *m)
{
    seen_t *r = ctx;

    /* lists carry no bytes */
    assert_null(m->envelope);
    assert_null(m->content);
    assert_int_equal(m->envelope_len, 0);
    assert_int_equal(m->content_len, 0);
    assert_true(r->n + 1 < sizeof r->tags);
    r->tags[r->n++] = (char)m->id[0];
    r->tags[r->n] = '\0';
    return r->stop_after != 0 && r->n == r->stop_after ? 7 : 0;
}

static inline void expect_list(am_cstore_t *s, int which, const char *want)
{
    seen_t r = {0};

    if (am_cstore_list(s, which, collect_cb, &r) != AM_OK)
        fail_msg("list %d: %s", which, am_err_detail());
    assert_string_equal(r.tags, want);
}

/* ---- events ------------------------------------------------------------- */

typedef struct {
    char lines[1024]; /* "kind/party/time/source tag/detail;" each */
    size_t used;
    int signed_seen; /* events whose signed bytes came back exactly */
    size_t stop_after;
    size_t n;
} events_t;

static const uint8_t evidence_queued[] FX_UNUSED = "relay evidence: queued";

static inline int event_cb(void *ctx, const am_cevent_t *e)
{
    events_t *r = ctx;
    int k;

    k = snprintf(r->lines + r->used, sizeof r->lines - r->used,
                 "%s/%s/%lld/%c/%s;", e->kind, e->party, (long long)e->time,
                 e->has_source ? (char)e->source[0] : '-', e->detail);
    assert_true(k > 0 && (size_t)k < sizeof r->lines - r->used);
    r->used += (size_t)k;
    /* only the queued evidence was stored with bytes */
    if (e->signed_len > 0) {
        assert_string_equal(e->kind, "queued");
        assert_int_equal(e->signed_len, sizeof evidence_queued);
        assert_memory_equal(e->signed_bytes, evidence_queued,
                            sizeof evidence_queued);
        r->signed_seen++;
    } else {
        assert_null(e->signed_bytes);
    }
    r->n++;
    return r->stop_after != 0 && r->n == r->stop_after ? 9 : 0;
}

static inline am_cevent_t event(uint8_t msg_tag, const char *kind,
                                const char *party, int64_t time,
                                uint8_t source_tag, const char *detail)
{
    am_cevent_t e;

    memset(&e, 0, sizeof e);
    id_of(msg_tag, e.message_id);
    snprintf(e.kind, sizeof e.kind, "%s", kind);
    snprintf(e.party, sizeof e.party, "%s", party);
    e.time = time;
    if (source_tag != 0) {
        e.has_source = true;
        id_of(source_tag, e.source);
    }
    snprintf(e.detail, sizeof e.detail, "%s", detail);
    return e;
}

static inline void add_event(am_cstore_t *s, const am_cevent_t *e)
{
    if (am_cstore_event(s, e) != AM_OK)
        fail_msg("event: %s", am_err_detail());
}

static inline void expect_events(am_cstore_t *s, uint8_t tag, const char *want)
{
    uint8_t id[AM_MSG_ID_LEN];
    events_t r = {0};

    id_of(tag, id);
    if (am_cstore_events(s, id, event_cb, &r) != AM_OK)
        fail_msg("events: %s", am_err_detail());
    assert_string_equal(r.lines, want);
}

/* ---- tests -------------------------------------------------------------- */

#endif
