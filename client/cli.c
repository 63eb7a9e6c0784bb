#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

void am_cli_keys_init(am_cli_keys_t *k)
{
    k->pass = AM_PASS_SOURCE_TTY;
    k->cost = AM_KEY_COST_DEFAULT;
}

int am_cli_keys_opt(am_cli_keys_t *k, int opt, const char *arg)
{
    uint64_t fd;

    switch (opt) {
    case OPT_PASS_FD:
        if (am_cli_parse_u64(arg, &fd) != 0 || fd > 1024)
            return am_cli_usage("", "--passphrase-fd: not a descriptor: %s",
                                arg);
        k->pass.fd = (int)fd;
        return 1;
    case OPT_PASS_ENV:
        k->pass.env = arg;
        return 1;
    case OPT_NO_PASS:
        k->pass.none = 1;
        return 1;
    case OPT_KDF:
        if (strcmp(arg, "interactive") == 0)
            k->cost = (am_key_cost_t){crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                      crypto_pwhash_MEMLIMIT_INTERACTIVE};
        else if (strcmp(arg, "moderate") == 0)
            k->cost = AM_KEY_COST_DEFAULT;
        else if (strcmp(arg, "sensitive") == 0)
            k->cost = (am_key_cost_t){crypto_pwhash_OPSLIMIT_SENSITIVE,
                                      crypto_pwhash_MEMLIMIT_SENSITIVE};
        else
            return am_cli_usage("", "--kdf: interactive, moderate or "
                                "sensitive, not %s", arg);
        return 1;
    }
    return 0;
}

int am_cli_fail(int rc)
{
    const char *d = am_err_detail();

    fprintf(stderr, "amanat: %s\n", d[0] ? d : am_strerror(rc));
    switch (rc) {
    case AM_ENOMEM:
    case AM_EIO:
        return AM_EXIT_SYSTEM;
    default:
        return AM_EXIT_REFUSED;
    }
}

int am_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "amanat%s%s: ", cmd[0] ? " " : "", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see: amanat%s%s --help)\n", cmd[0] ? " " : "", cmd);
    return AM_EXIT_USAGE;
}

int am_cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int64_t am_cli_now(void)
{
    return (int64_t)time(NULL);
}
