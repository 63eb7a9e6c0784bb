/* Error codes shared by every Amanat module.
 *
 * Every function that can fail returns int: 0 on success, a negative AM_E*
 * code otherwise.  The code also tells the caller what to do with the peer:
 * am_err_is_fatal() is true when the connection (or handshake) that produced
 * the error must be closed, false when only the one message is refused.
 */
#ifndef AM_ERR_H
#define AM_ERR_H

#include <stdbool.h>

enum {
    AM_OK = 0,
    AM_ENOMEM = -1,       /* allocation failed */
    AM_EINVAL = -2,       /* caller passed an invalid argument (a bug) */
    AM_EPROTO = -3,       /* peer sent malformed bytes */
    AM_ETOOBIG = -4,      /* a length is over its limit */
    AM_ECRYPTO = -5,      /* authentication tag or signature did not verify */
    AM_ESTATE = -6,       /* call out of order, or object already failed */
    AM_ENONCE = -7,       /* nonce space exhausted; rekey or reconnect */
    AM_EUNSUPPORTED = -8, /* unknown protocol name, version or algorithm */
    AM_ESHORT = -9,       /* output buffer too small */
    AM_EKEY = -10,        /* missing key, or key rejected (low-order point) */
    AM_ELIMIT = -11,      /* a configured limit was reached */
    AM_EREVOKED = -12,    /* certificate revoked */
    AM_EEXPIRED = -13,    /* outside its validity (expired or not yet valid) */
    AM_EROLE = -14,       /* certificate lacks the role the operation needs */
    AM_ESTALE = -15,      /* older than what is already held (revocation list) */
    AM_EIO = -16,         /* a file or device could not be read or written */
    AM_EDUP = -17,        /* an id reused with different content */
};

/* Record a sentence naming the problem and the values involved ("frame
 * length 2000000 over limit 1048576") for the calling thread, and return
 * code, so a failure path reads: return am_errf(AM_ETOOBIG, "...", ...). */
int am_errf(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Put a context before the last sentence ("key.pem: " + "wrong
 * passphrase"); with no last sentence, am_strerror(code) stands in. */
int am_err_wrap(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The sentence of the last am_errf() on this thread, or "" when none.
 * Valid until the next am_errf() on the same thread. */
const char *am_err_detail(void);

/* Forget the last sentence (before a call whose failure is then described
 * from what its parts recorded). */
void am_err_clear(void);

/* A short readable sentence for code, never NULL. */
const char *am_strerror(int code);

/* True when the error leaves the channel unusable: close the connection. */
bool am_err_is_fatal(int code);

#endif
