/* ISO 639-1 two-letter language codes, sorted: the alpha_2 codes of
 * iso-codes 4.15.0 (Debian 12) iso_639-2.json, 184 in all.  Lower case
 * only, as ISO writes them; the withdrawn "iw", "in" and "ji" (now "he",
 * "id", "yi") are refused so that one language has one code.
 * tests/unit/test-language.c checks the table against /usr/share/iso-codes
 * when it is installed. */
#include "language.h"

#include "codetable.h"

#include <string.h>

static const char codes[][3] = {
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh",
    "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da",
    "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
    "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz",
    "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj",
    "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln",
    "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb",
    "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi",
    "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti",
    "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo",
    "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
};

bool am_language_valid(const char *code)
{
    return am_code_listed(codes[0], sizeof codes / sizeof codes[0],
                          sizeof codes[0], code, 2);
}

size_t am_language_count(void)
{
    return sizeof codes / sizeof codes[0];
}

const char *am_language_at(size_t i)
{
    return i < am_language_count() ? codes[i] : NULL;
}
