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
};

/* A short readable sentence for code, never NULL. */
const char *am_strerror(int code);

/* True when the error leaves the channel unusable: close the connection. */
bool am_err_is_fatal(int code);

#endif
