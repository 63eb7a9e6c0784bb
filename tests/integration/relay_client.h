/* A small blocking client for integration tests: connects to a real
 * amanat-relay on 127.0.0.1, runs the Noise XX handshake as an agency,
 * and exchanges frames.  Every wait is bounded (receive timeout). */
#ifndef AM_RELAY_CLIENT_H
#define AM_RELAY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "frame.h"
#include "wire.pb-c.h"

typedef struct {
    int fd;
    am_chan_t *chan;
    uint8_t relay_static[32];
    uint8_t wire[65536]; /* read from the socket, not yet fed */
    size_t wire_len, wire_pos;
} rc_client_t;

/* Connect and authenticate with the agency's X25519 secret and its
 * serialized certificate; then send Hello.  Returns 0, or a negative
 * AM_E code (the relay refused or closed: see am_err_detail()). */
int rc_connect(rc_client_t *c, int port, const uint8_t dh_sk[32],
               const uint8_t *cert, size_t cert_len, bool receive);
/* The handshake alone: the caller sends its own Hello. */
int rc_connect_hs(rc_client_t *c, int port, const uint8_t dh_sk[32],
                  const uint8_t *cert, size_t cert_len);
/* The handshake alone on a connected socket, keeping the transport
 * cipher states (the caller frees them with am_noise_cs_free): for tests
 * that write transport messages of their own making. */
int rc_handshake(int fd, const uint8_t dh_sk[32], const uint8_t *cert,
                 size_t cert_len, uint8_t relay_static[32],
                 am_noise_cs_t **send, am_noise_cs_t **recv);
int rc_send(rc_client_t *c, const Amanat__V1__Frame *f);
/* The next frame (free with am_frame_free), waiting at most timeout_ms. */
int rc_recv(rc_client_t *c, int timeout_ms, Amanat__V1__Frame **out);
void rc_close(rc_client_t *c);

#endif
