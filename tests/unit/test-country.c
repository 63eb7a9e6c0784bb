/* Country table and agency ids; the table is checked against Debian's
 * iso-codes data when it is installed, so it cannot silently drift. */
#include "test-util.h"

#include <jansson.h>
#include <string.h>

#include "country.h"

#define ISO_3166 "/usr/share/iso-codes/json/iso_3166-1.json"

static void test_agency_ids(void **state)
{
    static const char *good[] = {"PK-NCCIA", "DE-BKA", "PH-NBI", "US-FBI",
                                 "GB-NCA", "DE-0123456789ABCDEF", "FR-OF"};
    static const char *bad[] = {
        "XX-POLICE",  /* no such country */
        "pk-NCCIA",   /* lower case */
        "PK-nccia", "PK_NCCIA", "PK-N", /* name too short */
        "DE-0123456789ABCDEFG",          /* name too long */
        "PK-NC CIA", "PK-", "PK", "", "PKK-NCCIA", "PK-NCCIA\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(am_agency_id_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (am_agency_id_valid(bad[i]))
            fail_msg("accepted agency id \"%s\"", bad[i]);
    }
    assert_false(am_agency_id_valid(NULL));
    assert_false(am_country_valid("XK"));
    assert_true(am_country_valid("PH"));
}

static void test_table_matches_iso_codes(void **state)
{
    json_t *root, *list, *e;
    size_t i, n = 0;

    (void)state;
    root = json_load_file(ISO_3166, 0, NULL);
    if (root == NULL)
        skip(); /* iso-codes not installed: only the ids test speaks */
    list = json_object_get(root, "3166-1");
    json_array_foreach(list, i, e) {
        const char *cc = json_string_value(json_object_get(e, "alpha_2"));
        assert_non_null(cc);
        if (!am_country_valid(cc))
            fail_msg("iso-codes has %s, the table does not", cc);
        n++;
    }
    assert_int_equal(n, am_country_count());
    for (i = 1; i < am_country_count(); i++)
        assert_true(strcmp(am_country_at(i - 1), am_country_at(i)) < 0);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agency_ids),
        cmocka_unit_test(test_table_matches_iso_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
