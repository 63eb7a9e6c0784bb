/* amanat-relay's network side: a libuv listener and one state machine per
 * connection (conn.c).  The event-loop thread does no disk I/O: storage
 * requests go to the store thread (store.h) and come back through
 * uv_async. */
#ifndef AM_SERVER_H
#define AM_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>
#include <uv.h>

#include "certcache.h"
#include "directory.h"
#include "pb.h"
#include "store.h"
#include "wire.pb-c.h"

/* A peer relay of the federation (docs/OPERATIONS.md, "Joining relays
 * into a federation"): this relay keeps a link to it (link.h). */
#define AM_PEERS_MAX 32
typedef struct {
    char id[AM_AGENCY_ID_MAX + 1]; /* its certificate's agency_id */
    char host[48];                 /* IPv4 address */
    int port;
} am_peer_cfg_t;

typedef struct {
    const char *host;          /* default 127.0.0.1 */
    int port;                  /* 0: any free port (printed) */
    size_t frame_max;          /* largest frame accepted */
    uint64_t handshake_ms;     /* handshake must finish within */
    uint64_t idle_ms;          /* close after this long without a frame */
    size_t max_conns;
    size_t max_preauth_per_ip; /* handshakes in progress per address */
    uint64_t expire_ms;        /* how often expired envelopes are swept */
    uint64_t quota_messages;   /* stored, undelivered, per sending agency */
    uint64_t quota_bytes;      /* the same, in envelope bytes */
    int hs_offload;            /* 0, 1 or AM_HS_OFFLOAD_AUTO: below */
    am_peer_cfg_t peers[AM_PEERS_MAX];
    size_t n_peers;
} am_server_config_t;

/* Where the handshake's X25519 operations and certificate check run
 * (conn_hs.c): 0 on the event loop, 1 on libuv's thread pool.  The pool
 * keeps the loop free for other sessions and can give handshakes the
 * cores the loop cannot use, but each hand-over costs wake-ups and context
 * switches (about a tenth of a handshake's CPU) and, when no core is
 * spare, only adds them: on the 2-vCPU reference machine, shared with the
 * load generator, handshakes on the loop were measured about a quarter
 * faster.  AUTO: the pool when the machine has more than 2 CPUs. */
#define AM_HS_OFFLOAD_AUTO 2

/* Chains of the session index (sessions.c); a power of two is not needed
 * since the hash is keyed. */
#define AM_SESS_BUCKETS 4096
enum { AM_SESS_PREAUTH, AM_SESS_AGENCY, AM_SESS_KINDS };

typedef struct am_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listening;       /* the listener is open (server.c: accept pauses) */
    int announced;       /* "listening on" printed: the port is fixed */
    uv_timer_t relisten; /* listening again after a pause */
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t expire_timer;
    int expiring;
    uv_async_t store_wake;
    am_server_config_t cfg;
    am_dir_config_t dir_cfg; /* to reload on SIGHUP */
    am_dir_t *dir;           /* owned; replaced whole on reload */
    int reloading, reload_again;
    am_store_t *store;
    Amanat__V1__SignedCertificate *self_cert; /* for handshake payloads */
    am_certcache_t *certs;   /* agency certificates whose signature verified */
    size_t n_conns;
    struct conn *conns;                      /* list, for shutdown */
    struct conn *sess[AM_SESS_KINDS][AM_SESS_BUCKETS]; /* sessions.c */
    uint8_t sess_key[crypto_shorthash_KEYBYTES];
    struct am_link *links;   /* link.h: one per configured peer relay */
    size_t n_links;
    int stopping;
    int exit_code; /* 0, or 3 when the store failed */
} am_server_t;

/* Run until SIGTERM or SIGINT; SIGHUP reloads the directory (root,
 * certificates, revocation list) off the loop thread and swaps it in when
 * it loaded whole.  Takes ownership of dir.  Prints "listening on
 * HOST:PORT" to stdout once bound. */
int am_server_run(const am_server_config_t *cfg, const am_dir_config_t *dc,
                  am_dir_t *dir, const char *data_dir);

/* Load the directory again off the loop, as SIGHUP does. */
void am_server_reload(am_server_t *srv);

#endif
