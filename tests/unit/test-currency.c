/* Currency table; checked against Debian's iso-codes data when it is
 * installed, so it cannot silently drift. */
#include "test-util.h"

#include <jansson.h>
#include <string.h>

#include "currency.h"

#define ISO_4217 "/usr/share/iso-codes/json/iso_4217.json"

/* In iso-codes, left out of the table: they name no money. */
static const char *const left_out[] = {"XTS", "XXX"};
/* In the table, newer than iso-codes 4.15.0. */
static const char *const newer[] = {"XCG", "ZWG"};

static bool listed(const char *const *list, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], code) == 0)
            return true;
    return false;
}

static void test_codes(void **state)
{
    static const char *good[] = {"EUR", "PKR", "PHP", "USD", "HRK", "ZWG",
                                 "XCG", "XAU", "CHF"};
    static const char *bad[] = {"eur", "EU", "EURO", "XTS", "XXX", "", "EUX",
                                "BTC", "PK", "PKR ", " PKR", "E R"};

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!am_currency_valid(good[i]))
            fail_msg("refused currency \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (am_currency_valid(bad[i]))
            fail_msg("accepted currency \"%s\"", bad[i]);
    assert_false(am_currency_valid(NULL));
    assert_null(am_currency_at(am_currency_count()));
}

static void test_table_matches_iso_codes(void **state)
{
    json_t *root, *list, *e;
    size_t i, n = 0, extra = 0;

    (void)state;
    root = json_load_file(ISO_4217, 0, NULL);
    if (root == NULL)
        skip(); /* iso-codes not installed: only the codes test speaks */
    list = json_object_get(root, "4217");
    assert_true(json_array_size(list) > 100);
    json_array_foreach(list, i, e) {
        const char *code = json_string_value(json_object_get(e, "alpha_3"));
        assert_non_null(code);
        if (listed(left_out, 2, code))
            continue;
        if (!am_currency_valid(code))
            fail_msg("iso-codes has %s, the table does not", code);
        n++;
        extra += listed(newer, 2, code); /* a newer iso-codes has them */
    }
    assert_int_equal(n + 2 - extra, am_currency_count());
    for (i = 1; i < am_currency_count(); i++)
        assert_true(strcmp(am_currency_at(i - 1), am_currency_at(i)) < 0);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_table_matches_iso_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
