/* The harness of the relay targets (fuzz_relay_preauth, fuzz_relay_frames):
 * the real relay (relay/server.h) running in-process on a thread, on
 * 127.0.0.1 only, serving a federation written to a temporary folder, and
 * a blocking client that speaks to it over TCP with bounded waits.
 *
 * The federation is fuzz_common's fixed one (root, revocation list, the
 * agencies' keys), with certificates reissued here for 2020-2100: the
 * relay checks them against the real clock, not AM_FZ_NOW.  The relay has
 * its own fixed keys.  The client uses the fixed initiator ephemeral of
 * fuzz_common, so what it sends depends only on the input (the relay's
 * ephemeral is random, so the bytes on the wire are not the same twice,
 * but what the relay decrypts is).
 *
 * The relay keeps its state (the SQLite store) from one input to the
 * next, like a real relay; each input opens its own connection and ends
 * it with am_fzr_close, which waits until the relay has closed its side,
 * so connections never pile up against the relay's limits.
 */
#ifndef AM_FUZZ_RELAY_H
#define AM_FUZZ_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "fuzz_common.h"
#include "noise.h"
#include "wire.pb-c.h"

/* Validity of every certificate the relay serves. */
#define AM_FZR_NOT_BEFORE ((int64_t)1577836800) /* 2020-01-01 */
#define AM_FZR_NOT_AFTER ((int64_t)4102444800)  /* 2100-01-01 */
#define AM_FZR_RELAY_ID "PK-RELAY"
/* Longest wait for anything the relay must do (answer, close). */
#define AM_FZR_WAIT_MS 5000

typedef struct {
    uint8_t seed[32]; /* Ed25519 seed, as the relay's key file holds it */
    uint8_t sign_pk[32], sign_sk[64], dh_pk[32], dh_sk[32];
    uint8_t *cert; /* SignedCertificate, role relay */
    size_t cert_len;
} am_fzr_relay_t;

/* The peer relay of the federation targets (fuzz_relay_link.h). */
#define AM_FZR_PEER_ID "DE-RELAY"

/* Before am_fzr_start, for the federation targets: the relay links with
 * AM_FZR_PEER_ID at 127.0.0.1:peer_port, and the agencies keep
 * fuzz_common's home relays (PK-NCCIA here, DE-BKA at the peer, PH-NBI at
 * PH-RELAY, which is not linked).  Without it the relay has no peer and
 * serves every agency as homed here, as before federation. */
void am_fzr_federate(int peer_port);

/* Start the relay on first use (aborts if it cannot: a harness failure);
 * later calls return at once. */
void am_fzr_start(void);
const am_fzr_relay_t *am_fzr_relay(void);
int am_fzr_port(void);
/* The relay thread returned: the relay stopped serving. */
bool am_fzr_stopped(void);
/* The certificate the relay serves for fuzz_common's agency i. */
const uint8_t *am_fzr_cert(int i, size_t *len);

typedef struct {
    int fd;
    int err;       /* errno of a failed am_fzr_open */
    bool closed;   /* the relay closed or reset its side */
    bool corked;   /* writes wait in out[] until am_fzr_flush */
    am_noise_hs_t *hs;     /* during the handshake */
    am_noise_cs_t *send;   /* after it: client to relay */
    am_chan_t *rx;         /* after it: relay to client */
    uint8_t in[1 << 17];   /* read, not yet consumed */
    size_t in_len, in_pos;
    uint8_t out[1 << 17];
    size_t out_len;
    size_t msg2_len; /* handshake message 2 as received */
} am_fzr_conn_t;

/* TCP connection to the relay; 0, or AM_EIO with c->err set to errno. */
int am_fzr_open(am_fzr_conn_t *c);
/* The same, aborting if the relay does not take it (retried while the
 * machine is out of local ports for a moment). */
void am_fzr_connect(am_fzr_conn_t *c);
/* A connection accepted from the relay (its link, fuzz_relay_link): as
 * am_fzr_open leaves c, on fd. */
void am_fzr_adopt(am_fzr_conn_t *c, int fd);
/* One handshake record (2-byte length, then the message); *rec points
 * into c->in until the next read.  AM_EIO when closed or silent. */
int am_fzr_read_record(am_fzr_conn_t *c, const uint8_t **rec, size_t *len);
/* Write all of p (never raises SIGPIPE).  AM_EIO when the relay closed:
 * in the fuzzed paths that is an allowed outcome, not an error. */
int am_fzr_write(am_fzr_conn_t *c, const uint8_t *p, size_t n);
int am_fzr_flush(am_fzr_conn_t *c);
/* One handshake record: 2-byte length, then msg. */
int am_fzr_send_record(am_fzr_conn_t *c, const uint8_t *msg, size_t len);
/* Read more bytes (at most timeout_ms).  1: got some; 0: the relay closed
 * (c->closed); AM_EIO: nothing within the time. */
int am_fzr_read(am_fzr_conn_t *c, int timeout_ms);

/* Handshake message 1 from the fixed initiator ephemeral with static key
 * static_sk, then message 2 read and checked (the relay's key and
 * certificate).  Aborts if the relay answers an honest message 1 wrongly. */
int am_fzr_hs_begin(am_fzr_conn_t *c, const uint8_t static_sk[32]);
/* Message 3 carrying payload, then the transport keys. */
int am_fzr_hs_end(am_fzr_conn_t *c, const uint8_t *payload, size_t len);
/* A HandshakePayload encoded by hand, so that cert may be any bytes:
 * version (omitted when 0), certificate (omitted when cert is NULL),
 * software (omitted when sw_len is 0).  0, or AM_ETOOBIG over cap. */
int am_fzr_payload(uint32_t version, const uint8_t *cert, size_t cert_len,
                   const char *software, size_t sw_len, uint8_t *out,
                   size_t cap, size_t *len);

/* Encrypt p as transport messages (any length; split at 65519). */
int am_fzr_send_plain(am_fzr_conn_t *c, const uint8_t *p, size_t n);
/* [u32 len][body] as transport plaintext. */
int am_fzr_send_body(am_fzr_conn_t *c, const uint8_t *body, size_t n);
int am_fzr_send_frame(am_fzr_conn_t *c, const Amanat__V1__Frame *f);
/* The next frame from the relay, waiting at most timeout_ms.  0 and *f
 * (am_frame_free); AM_EIO when the relay closed (c->closed) or was
 * silent.  Aborts when the relay sends what the client cannot decrypt or
 * parse, or a frame over the default limit: the relay must never do so. */
int am_fzr_recv_frame(am_fzr_conn_t *c, int timeout_ms,
                      Amanat__V1__Frame **f);

/* End the connection: shutdown our side, read until the relay closes its
 * side (aborts if it has not within AM_FZR_WAIT_MS), release everything.
 * Returns how many bytes arrived meanwhile. */
size_t am_fzr_close(am_fzr_conn_t *c);

/* End the connection with a reset (RST) at once, as a peer that vanishes
 * does; the relay's reaction is not waited for. */
void am_fzr_reset(am_fzr_conn_t *c);
/* The length of handshake message 2 (once a handshake went that far). */
size_t am_fzr_msg2_len(void);

/* An honest session: handshake as fuzz_common's agency i with its
 * certificate, Hello, AuthResult ok for that agency (aborts otherwise). */
void am_fzr_login(am_fzr_conn_t *c, int i, bool receive, uint32_t max_frame);
/* Every `every` calls: a fresh honest session answers a Ping (aborts
 * otherwise); the relay still serves after whatever came before. */
void am_fzr_check_serving(unsigned every);

/* fuzz_relay_check.c: what the relay sends after the handshake.  Each
 * aborts when the relay got it wrong. */
/* Evidence signed by the relay, well formed, of kind accepted (recipient
 * empty) or else delivered or expired (recipient an agency id).  Returns
 * its body (free_unpacked). */
Amanat__V1__EvidenceBody *am_fzr_evidence(const Amanat__V1__Evidence *e,
                                          bool accepted);
/* The body names the BLAKE2b-256 of exactly these envelope bytes. */
void am_fzr_check_hash(const Amanat__V1__EvidenceBody *b, const uint8_t *env,
                       size_t len);
/* A delivered envelope: the evidence's, signed by its sender (an agency of
 * the federation), addressed to agency. */
void am_fzr_check_delivered(const ProtobufCBinaryData *env,
                            const Amanat__V1__EvidenceBody *b,
                            const char *agency);
/* A revocation list signed by the federation's root. */
void am_fzr_check_crl(const Amanat__V1__RevocationList *crl);
/* A directory entry for the requested id: a certificate exactly when the
 * id is one of the federation's agencies, signed by the root, with that
 * agency's key; a prekey only with it, signed by that certificate's key. */
void am_fzr_check_entry(const Amanat__V1__DirectoryEntry *e, const char *id);

/* gen_seeds_relay.c, part of fuzz_gen_seeds (not of the targets): the
 * seeds of both relay targets, into DIR/<target>/. */
void am_fzr_write_seeds(const char *dir);

#endif
