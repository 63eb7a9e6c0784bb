#include "passphrase.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/readpassphrase.h>
#include <sodium.h>

#include "err.h"

static int from_fd(int fd, char *buf, size_t *len)
{
    size_t n = 0;

    while (n < AM_PASS_MAX) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || buf[n] == '\n')
            break;
        n++;
    }
    if (n == AM_PASS_MAX)
        return am_errf(AM_EKEY, "passphrase on fd %d longer than %d bytes",
                       fd, AM_PASS_MAX - 1);
    buf[n] = '\0';
    *len = n;
    return 0;
}

static int from_tty(const char *prompt, int confirm, char *buf, size_t *len)
{
    char *again;
    int rc = 0;

    if (readpassphrase(prompt, buf, AM_PASS_MAX, RPP_REQUIRE_TTY) == NULL)
        return am_errf(AM_EKEY, "no terminal to ask for the passphrase: use "
                       "--passphrase-fd or --passphrase-env");
    *len = strlen(buf);
    if (!confirm)
        return 0;
    if ((again = sodium_malloc(AM_PASS_MAX)) == NULL)
        return AM_ENOMEM;
    if (readpassphrase("Same passphrase again: ", again, AM_PASS_MAX,
                       RPP_REQUIRE_TTY) == NULL ||
        strcmp(again, buf) != 0)
        rc = am_errf(AM_EKEY, "the two passphrases differ");
    sodium_free(again);
    return rc;
}

int am_pass_get(const am_pass_source_t *src, const char *prompt, int confirm,
                char **buf, size_t *len)
{
    char *b;
    int rc = 0;

    if (src == NULL || buf == NULL || len == NULL)
        return AM_EINVAL;
    if ((b = sodium_malloc(AM_PASS_MAX)) == NULL)
        return AM_ENOMEM;
    if (src->fd >= 0) {
        rc = from_fd(src->fd, b, len);
    } else if (src->env != NULL) {
        const char *v = getenv(src->env);
        if (v == NULL || strlen(v) >= AM_PASS_MAX)
            rc = am_errf(AM_EKEY, "environment variable %s is %s", src->env,
                         v == NULL ? "not set" : "too long");
        else
            memcpy(b, v, (*len = strlen(v)) + 1);
    } else {
        rc = from_tty(prompt, confirm, b, len);
    }
    if (rc == 0 && *len == 0)
        rc = am_errf(AM_EKEY, "empty passphrase");
    if (rc != 0) {
        sodium_free(b);
        return rc;
    }
    *buf = b;
    return 0;
}
