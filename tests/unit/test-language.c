/* Language table; checked against Debian's iso-codes data when it is
 * installed, so it cannot silently drift. */
#include "test-util.h"

#include <jansson.h>
#include <string.h>

#include "language.h"

#define ISO_639_2 "/usr/share/iso-codes/json/iso_639-2.json"

static void test_codes(void **state)
{
    static const char *good[] = {"en", "de", "ur", "tl", "pa", "fr", "ar",
                                 "he", "id", "yi"};
    static const char *bad[] = {"EN", "eng", "e", "iw", "in", "ji", "xx", "",
                                "en-GB", "en_US", "de ", "fil"};

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!am_language_valid(good[i]))
            fail_msg("refused language \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (am_language_valid(bad[i]))
            fail_msg("accepted language \"%s\"", bad[i]);
    assert_false(am_language_valid(NULL));
    assert_null(am_language_at(am_language_count()));
}

/* ISO 639-1 is the alpha_2 column of iso-codes' ISO 639-2 list. */
static void test_table_matches_iso_codes(void **state)
{
    json_t *root, *list, *e;
    size_t i, n = 0;

    (void)state;
    root = json_load_file(ISO_639_2, 0, NULL);
    if (root == NULL)
        skip(); /* iso-codes not installed: only the codes test speaks */
    list = json_object_get(root, "639-2");
    assert_true(json_array_size(list) > 100);
    json_array_foreach(list, i, e) {
        const char *code = json_string_value(json_object_get(e, "alpha_2"));
        if (code == NULL)
            continue; /* a language without a two-letter code */
        if (!am_language_valid(code))
            fail_msg("iso-codes has %s, the table does not", code);
        n++;
    }
    assert_int_equal(n, am_language_count());
    for (i = 1; i < am_language_count(); i++)
        assert_true(strcmp(am_language_at(i - 1), am_language_at(i)) < 0);
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
