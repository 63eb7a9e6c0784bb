#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Per thread: the relay's loop and its worker threads each keep their own. */
static _Thread_local char detail[160];

int am_errf(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return code;
}

int am_err_wrap(int code, const char *fmt, ...)
{
    char prev[sizeof detail], ctx[sizeof detail];
    va_list ap;

    snprintf(prev, sizeof prev, "%s", detail[0] ? detail : am_strerror(code));
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    /* ctx ": " prev, cut to fit (a long sentence loses its tail) */
    {
        size_t a = strlen(ctx), b = strlen(prev), cap = sizeof detail - 1;
        if (a > cap)
            a = cap;
        memcpy(detail, ctx, a);
        if (a + 2 <= cap) {
            memcpy(detail + a, ": ", 2);
            a += 2;
            if (b > cap - a)
                b = cap - a;
            memcpy(detail + a, prev, b);
            a += b;
        }
        detail[a] = '\0';
    }
    return code;
}

void am_err_clear(void)
{
    detail[0] = '\0';
}

const char *am_err_detail(void)
{
    return detail;
}

const char *am_strerror(int code)
{
    switch (code) {
    case AM_OK: return "success";
    case AM_ENOMEM: return "out of memory";
    case AM_EINVAL: return "invalid argument";
    case AM_EPROTO: return "malformed message";
    case AM_ETOOBIG: return "length over limit";
    case AM_ECRYPTO: return "authentication failed";
    case AM_ESTATE: return "operation not valid in this state";
    case AM_ENONCE: return "nonce space exhausted";
    case AM_EUNSUPPORTED: return "unsupported protocol or version";
    case AM_ESHORT: return "output buffer too small";
    case AM_EKEY: return "missing or invalid key";
    case AM_ELIMIT: return "limit reached";
    case AM_EREVOKED: return "certificate revoked";
    case AM_EEXPIRED: return "outside its validity period";
    case AM_EROLE: return "certificate lacks the required role";
    case AM_ESTALE: return "older than the one already held";
    case AM_EIO: return "input/output error";
    case AM_EDUP: return "id already used with different content";
    }
    return "unknown error";
}

bool am_err_is_fatal(int code)
{
    switch (code) {
    case AM_OK:
    case AM_ESHORT:
    case AM_ELIMIT:
        return false;
    default:
        /* Anything a peer caused on an encrypted channel desynchronises it:
         * nonces have advanced or the stream position is unknown. */
        return true;
    }
}
