/* This relay's links to its peer relays (docs/PROTOCOL.md section 18).
 *
 * DESIGN.  Forwarding is a pull: each relay dials every configured peer as
 * a Noise XX initiator with its relay certificate, sends Hello with
 * receive set, and is then delivered what the peer stores for the
 * agencies homed here, exactly as an agency's client is delivered its
 * mailbox (the peer's delivery window, priorities and cursor are reused
 * unchanged).  This relay verifies each forwarded envelope itself, stores
 * it durably for its own agencies and only then answers ForwardResult with
 * its own signed accepted evidence; the peer keeps its copy until that
 * answer.  Evidence about envelopes this relay forwarded (delivered,
 * expired) comes as ReceiptRelay and is acknowledged once stored.  The
 * peer also pushes the certificates and prekeys of its agencies and newer
 * revocation lists.  Two relays that peer keep two links, one each way.
 * A link that fails is dialled again after a backoff with jitter.
 *
 * A link is a conn_t (conn.h) with c->link set: reading, writing, framing
 * and timers are the server's; the handshake and frames are here. */
#ifndef AM_LINK_H
#define AM_LINK_H

#include "conn.h"

typedef struct am_link {
    am_server_t *srv;
    am_peer_cfg_t cfg;
    conn_t *c;            /* while connected or connecting */
    uv_timer_t retry;     /* the next attempt */
    uv_timer_t ping;      /* keeps the link from going idle */
    uint64_t backoff_ms;
} am_link_t;

/* Dial every peer in srv->cfg.peers. */
int am_links_start(am_server_t *srv);
/* Stop dialling (shutdown); the connections close with the others. */
void am_links_stop(am_server_t *srv);
/* The configured peer relay id, or NULL. */
am_link_t *link_find(am_server_t *srv, const char *id);

/* link.c, from the server's reading and closing */
void link_hs_message(conn_t *c, const uint8_t *msg, size_t len);
void link_frame(conn_t *c, const Amanat__V1__Frame *f);
void link_closed(conn_t *c);
void link_send_error(conn_t *c, Amanat__V1__ErrorCode code, const char *why);

/* link_recv.c: envelopes forwarded to this relay, evidence sent back */
void link_deliver(conn_t *c, const Amanat__V1__Deliver *d);
void link_receipts(conn_t *c, const Amanat__V1__ReceiptRelay *r);

/* link_dir.c: the peer's agencies, and revocation lists */
void link_directory(conn_t *c, const Amanat__V1__DirectoryUpdate *u);
/* A revocation list from a peer relay (bytes as serialized): kept when
 * the root signed it and it is newer than the one held. */
void link_crl(am_server_t *srv, const Amanat__V1__RevocationList *crl,
              const char *from);

#endif
