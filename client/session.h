/* A client's session with its home relay (docs/PROTOCOL.md sections 4,
 * 5 and 14): TCP, the Noise XX handshake as initiator with the agency's
 * certificate, the relay's certificate checked, Hello and AuthResult; then
 * frames both ways.  Blocking, every wait bounded by a timeout. */
#ifndef AM_SESSION_H
#define AM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "channel.h"
#include "profile.h"

typedef struct am_session am_session_t;

/* Connect to p's relay (p unlocked): it must be the agency's home relay,
 * its certificate valid and not revoked in crl (the newest held, may be
 * NULL); then authenticate; receive: ask the
 * relay to push pending envelopes.  crl_sequence: the revocation list
 * held (the relay sends a newer one in AuthResult: am_session_crl).
 * Errors name the relay and the reason: unreachable, refused (the
 * relay's Error frame, e.g. "certificate revoked"), timeout. */
int am_session_open(const am_profile_t *p, const am_crl_t *crl,
                    bool receive, uint64_t crl_sequence, int timeout_ms,
                    am_session_t **out);
/* The largest frame the relay accepts (AuthResult.max_frame). */
size_t am_session_max_frame(const am_session_t *s);

/* Send one frame. */
int am_session_send(am_session_t *s, const Amanat__V1__Frame *f);

/* The next frame (am_frame_free), waiting at most timeout_ms: AM_ELIMIT
 * when none came in time, AM_EIO when the relay closed.  An Error frame
 * from the relay is returned as a frame like any other. */
int am_session_recv(am_session_t *s, int timeout_ms,
                    Amanat__V1__Frame **out);

/* The relay's certificate, verified; and the newer revocation list it
 * sent at authentication (NULL if none), as serialized bytes. */
const am_cert_t *am_session_relay(const am_session_t *s);
const uint8_t *am_session_relay_cert(const am_session_t *s, size_t *len);
const uint8_t *am_session_crl(const am_session_t *s, size_t *len);
/* The relay's clock at authentication (Unix seconds). */
int64_t am_session_relay_time(const am_session_t *s);

void am_session_close(am_session_t *s);

#endif
