/* The salvage's accounting of what it could not read back
 * (relay/store_salvage_fix.c), on a new store made in memory with the
 * relay's schema and the salvage's state set by hand: which rules a
 * message must meet before the salvage calls it finished, or takes its
 * sender for told, when some delivery records were lost. */
#include "store_salvage.h"

#include "test-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static am_store_t store;
static salvage_t v;

static int setup(void **state)
{
    (void)state;
    memset(&store, 0, sizeof store);
    memset(&v, 0, sizeof v);
    if (sqlite3_open(":memory:", &store.db) != SQLITE_OK ||
        sqlite3_exec(store.db, am_store_schema, NULL, NULL, NULL) !=
            SQLITE_OK)
        return -1;
    v.s = &store;
    v.t[SV_DELIVERIES].readable = true;
    v.t[SV_DELIVERIES].first_gap = -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    am_free(v.orph);
    am_free(v.untold);
    am_free(v.named);
    am_free(v.got);
    sqlite3_close(store.db);
    return 0;
}

/* lost.txt as sv_write_lost writes it. */
static void write_lost(char *out, size_t cap)
{
    FILE *f = fmemopen(out, cap, "w");

    assert_non_null(f);
    assert_int_equal(sv_write_lost(&v, f), 0);
    assert_int_equal(fclose(f), 0);
}

/* Message 1's row lost; the one delivery row read back for it is done. */
static void one_done_orphan(void)
{
    sv_orphan_t o = {1, 2, "DE-BKA"};

    assert_int_equal(sv_push((void **)&v.orph, &v.n_orph, &v.cap_orph,
                             sizeof o, &o), 0);
    v.seq_hi = 1;
}

/* Every delivery row read: the message was finished; not listed. */
static void test_finished_when_all_read(void **state)
{
    char text[4096];

    (void)state;
    one_done_orphan();
    write_lost(text, sizeof text);
    assert_int_equal(v.finished, 1);
    assert_int_equal(v.lost, 0);
}

/* A delivery row lost somewhere: it may have been this message's pending
 * one, so the message is listed (it used to count as finished). */
static void test_listed_when_a_row_was_lost(void **state)
{
    char text[4096];

    (void)state;
    one_done_orphan();
    v.t[SV_DELIVERIES].first_gap = 7;
    write_lost(text, sizeof text);
    assert_int_equal(v.finished, 0);
    assert_int_equal(v.lost, 1);
    assert_non_null(strstr(text, "seq 1 "));
}

/* A held message whose bytes are not its envelope, one delivery row of it
 * read back (done), another lost: whom it was also for is unknown, so it
 * is listed (the store check would tell its sender of no recipient). */
static void test_unreadable_listed_when_a_row_was_lost(void **state)
{
    char text[4096];

    (void)state;
    assert_int_equal(sqlite3_exec(store.db, "INSERT INTO messages (seq, "
        "message_id, envelope_hash, sender, priority, expires_at, "
        "accepted_at, envelope) VALUES (1, zeroblob(16), zeroblob(32), "
        "'PK-NCCIA', 1, 2000000000, 1000, x''); INSERT INTO deliveries "
        "(seq, recipient, state, priority) VALUES (1, 'DE-BKA', 2, 1)",
        NULL, NULL, NULL), SQLITE_OK);
    v.t[SV_DELIVERIES].dropped = 1;
    assert_int_equal(sv_fix(&v), 0);
    assert_int_equal(v.n_untold, 1);
    write_lost(text, sizeof text);
    assert_non_null(strstr(text, "seq 1 held"));
}

/* The same with every delivery row read: its recipients are known (the
 * store check ends what is pending, telling the sender); not listed. */
static void test_unreadable_not_listed_when_all_read(void **state)
{
    (void)state;
    assert_int_equal(sqlite3_exec(store.db, "INSERT INTO messages (seq, "
        "message_id, envelope_hash, sender, priority, expires_at, "
        "accepted_at, envelope) VALUES (1, zeroblob(16), zeroblob(32), "
        "'PK-NCCIA', 1, 2000000000, 1000, x''); INSERT INTO deliveries "
        "(seq, recipient, state, priority) VALUES (1, 'DE-BKA', 0, 1)",
        NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sv_fix(&v), 0);
    assert_int_equal(v.n_untold, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_finished_when_all_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listed_when_a_row_was_lost,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_unreadable_listed_when_a_row_was_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_unreadable_not_listed_when_all_read, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
