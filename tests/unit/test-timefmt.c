/* RFC 3339 UTC times: known values, refusals, and round trips. */
#include "test-util.h"

#include <string.h>

#include "err.h"
#include "timefmt.h"

static void test_known_values(void **state)
{
    char buf[AM_TIME_TEXT_MAX];
    int64_t t;

    (void)state;
    assert_int_equal(am_time_parse("1970-01-01", &t), AM_OK);
    assert_int_equal(t, 0);
    assert_int_equal(am_time_parse("2000-02-29T12:00Z", &t), AM_OK);
    assert_int_equal(t, 951825600);
    assert_int_equal(am_time_parse("2026-12-01T12:00:30Z", &t), AM_OK);
    assert_int_equal(t, 1796126430);
    assert_int_equal(am_time_parse("@-86400", &t), AM_OK);
    assert_int_equal(am_time_format(t, buf), AM_OK);
    assert_string_equal(buf, "1969-12-31T00:00:00Z");
}

static void test_refusals(void **state)
{
    static const char *bad[] = {"2023-02-29", "2026-13-01", "2026-12-01T12:00",
                                "2026-12-01T24:00Z", "2026-12-01T12:00+02:00",
                                "2026-1-01", "yesterday", "@12x", ""};
    int64_t t;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (am_time_parse(bad[i], &t) != AM_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(am_err_detail(), "time"));
    }
}

static void test_round_trip(void **state)
{
    uint64_t rng = t_seed();
    char buf[AM_TIME_TEXT_MAX];
    int64_t t, back;

    (void)state;
    for (int i = 0; i < 100000; i++) {
        t = (int64_t)(t_rand(&rng) % 253402300800ull); /* up to 9999 */
        assert_int_equal(am_time_format(t, buf), AM_OK);
        assert_int_equal(am_time_parse(buf, &back), AM_OK);
        assert_int_equal(back, t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
