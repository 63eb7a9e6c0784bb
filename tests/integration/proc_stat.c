/* See proc_stat.h. */
#include "proc_stat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fields 14 (utime) and 15 (stime); the command name (field 2) may hold
 * spaces and parentheses, so counting starts after its last ')'. */
int proc_stat_ticks(const char *path, uint64_t *ticks)
{
    char buf[1024], *p, *end;
    unsigned long long v[2];
    size_t n;
    FILE *f;

    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL)
        return -1;
    /* the space before each of fields 3 (state) to 14 (utime) */
    for (int field = 3; field <= 14; field++)
        if ((p = strchr(p + 1, ' ')) == NULL)
            return -1;
    for (int i = 0; i < 2; i++) {
        errno = 0;
        v[i] = strtoull(p + 1, &end, 10);
        if (errno != 0 || end == p + 1)
            return -1;
        p = end;
    }
    *ticks = (uint64_t)(v[0] + v[1]);
    return 0;
}
