#include "codetable.h"

#include <string.h>

bool am_code_listed(const char *table, size_t n, size_t stride,
                    const char *code, size_t len)
{
    size_t lo = 0, hi = n;

    if (code == NULL || strnlen(code, len + 1) != len)
        return false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(code, table + mid * stride, len);

        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}
