/* What the relay store's tests share (test-store.c, test-store-fed.c): a
 * store in a temporary folder, messages made from a one-byte tag, and
 * requests run to their callback. */
#ifndef AM_FIXTURE_STORE_H
#define AM_FIXTURE_STORE_H

#include "test-util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "err.h"
#include "store.h"

/* Each test program uses only some of what follows. */
#define FX_UNUSED __attribute__((unused))

static char dir[64] FX_UNUSED;

typedef struct {
    int calls, rc;
    int64_t accepted_at;
    size_t n;
    uint8_t ids[16][AM_MSG_ID_LEN];
    int prio[16];
    am_store_cursor_t last; /* the place of the last item */
    bool kept[16];
    uint8_t evcache[16][AM_STORE_EVCACHE_LEN];
} result_t;

static FX_UNUSED void pause_1ms(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

static FX_UNUSED int make_dir(void **state)
{
    (void)state;
    am_store_check_envelopes = false; /* msg() makes no real envelopes */
    return t_make_dir(dir, sizeof dir, "store");
}

static FX_UNUSED int remove_dir(void **state)
{
    (void)state;
    return t_remove_dir(dir);
}

/* The test folder with what a salvage leaves in it (folders too). */
static FX_UNUSED int remove_tree(void **state)
{
    (void)state;
    return t_sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static FX_UNUSED void put_cb(void *ctx, int rc, int64_t accepted_at)
{
    result_t *r = ctx;
    r->calls++;
    r->rc = rc;
    r->accepted_at = accepted_at;
}

static FX_UNUSED void next_cb(void *ctx, int rc, const am_store_item_t *items, size_t n)
{
    result_t *r = ctx;
    r->calls++;
    r->rc = rc;
    r->n = n;
    for (size_t i = 0; i < n && i < 16; i++) {
        memcpy(r->ids[i], items[i].message_id, AM_MSG_ID_LEN);
        r->prio[i] = items[i].priority;
        r->kept[i] = items[i].has_evcache;
        memcpy(r->evcache[i], items[i].evcache, AM_STORE_EVCACHE_LEN);
        assert_true(items[i].envelope_len > 0);
        assert_int_equal(items[i].at.priority, items[i].priority);
        r->last = items[i].at;
    }
}

static FX_UNUSED void done_cb(void *ctx, int rc)
{
    result_t *r = ctx;
    r->calls++;
    r->rc = rc;
}

/* Drain until the result has its callback (bounded: 10 s). */
static FX_UNUSED void wait_for(am_store_t *s, result_t *r, int calls)
{
    for (int i = 0; i < 10000 && r->calls < calls; i++) {
        am_store_drain(s);
        if (r->calls < calls)
            pause_1ms();
    }
    assert_int_equal(r->calls, calls);
}

/* Until the store has folded every logged acknowledgement into its
 * tables (store_fold.c): evidence owed, bodies dropped (bounded: 10 s). */
static FX_UNUSED void settle(am_store_t *s)
{
    am_store_stats_t st;

    for (int i = 0; i < 10000; i++) {
        am_store_drain(s);
        am_store_stats(s, &st);
        if (st.unfolded == 0) {
            am_store_drain(s); /* the fold's callback, queued with it */
            return;
        }
        pause_1ms();
    }
    fail_msg("the store did not fold its acknowledgements in 10 s");
}

typedef struct {
    int calls, rc;
    size_t n;
    am_store_notice_t got[8];
} notices_t;

static FX_UNUSED void notices_cb(void *ctx, int rc, const am_store_notice_t *n,
                       size_t count)
{
    notices_t *r = ctx;

    r->calls++;
    r->rc = rc;
    r->n = count;
    for (size_t i = 0; i < count && i < 8; i++)
        r->got[i] = n[i];
}

/* The notices owed to `to` (the first 8). */
static FX_UNUSED notices_t owed(am_store_t *s, const char *to)
{
    notices_t r = {0};

    assert_int_equal(am_store_notices(s, to, 8, notices_cb, &r), AM_OK);
    for (int i = 0; i < 10000 && r.calls == 0; i++) {
        am_store_drain(s);
        if (r.calls == 0)
            pause_1ms();
    }
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, AM_OK);
    return r;
}

static FX_UNUSED am_store_put_t msg(uint8_t id, int prio, const char *to1,
                          const char *to2)
{
    static const uint8_t body[] = "sealed envelope bytes";
    am_store_put_t m = {0};

    memset(m.message_id, id, sizeof m.message_id);
    memset(m.envelope_hash, id, sizeof m.envelope_hash);
    snprintf(m.sender, sizeof m.sender, "%s", "PK-NCCIA");
    snprintf(m.recipients[0], sizeof m.recipients[0], "%s", to1);
    m.n_recipients = 1;
    if (to2 != NULL) {
        snprintf(m.recipients[1], sizeof m.recipients[1], "%s", to2);
        m.n_recipients = 2;
    }
    m.priority = prio;
    m.expires_at = 2000000000;
    m.envelope = body;
    m.envelope_len = sizeof body;
    m.quota_messages = 1000;
    m.quota_bytes = 1 << 20;
    return m;
}

static FX_UNUSED void put(am_store_t *s, const am_store_put_t *m, int64_t now, int want)
{
    result_t r = {0};

    assert_int_equal(am_store_put(s, m, now, put_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, want);
}

static FX_UNUSED result_t next_after(am_store_t *s, const char *who, size_t max,
                           const am_store_cursor_t *after)
{
    result_t r = {0};

    assert_int_equal(am_store_next(s, who, max, 1000, after, next_cb, &r),
                     AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, AM_OK);
    return r;
}

static FX_UNUSED result_t next(am_store_t *s, const char *who)
{
    result_t r = {0};

    assert_int_equal(am_store_next(s, who, 16, 1000, NULL, next_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    assert_int_equal(r.rc, AM_OK);
    return r;
}

static FX_UNUSED int ack(am_store_t *s, const char *who, uint8_t id)
{
    result_t r = {0};
    uint8_t mid[AM_MSG_ID_LEN];

    memset(mid, id, sizeof mid);
    assert_int_equal(am_store_ack(s, who, mid, 100, done_cb, &r), AM_OK);
    wait_for(s, &r, 1);
    return r.rc;
}

#endif
