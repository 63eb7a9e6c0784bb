/* The listener, reading, timers and shutdown.  DESIGN: one event loop
 * thread does all network work; the store thread (store.h) does all disk
 * work and wakes the loop through store_wake when answers are ready.
 * SIGTERM/SIGINT: stop accepting, close connections, let the store finish
 * and commit what it holds (am_store_close), then leave the loop. */
#include "server.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "conn.h"
#include "err.h"
#include "link.h"

static uint8_t read_buf[65536]; /* the loop is one thread: one buffer */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init((char *)read_buf, sizeof read_buf);
}

static void restart_timer(conn_t *c, uint64_t ms);

/* Keep what the peer sent behind a handshake message handed to the
 * thread pool until its answer is back.  An honest client sends nothing
 * meanwhile but Hello after message 3; past AM_STASH_MAX reading stops
 * (conn_flow).  p never points into c->stash: conn_hs.c takes the stash
 * from c before feeding it back. */
static void stash(conn_t *c, const uint8_t *p, size_t left)
{
    uint8_t *keep;

    if (left > SIZE_MAX - c->stash_len ||
        (keep = am_realloc(c->stash, c->stash_len + left)) == NULL) {
        conn_close(c, "out of memory");
        return;
    }
    memcpy(keep + c->stash_len, p, left);
    c->stash = keep;
    c->stash_len += left;
    conn_flow(c);
}

/* Bytes from the peer: handshake records first, then the channel. */
void conn_input(conn_t *c, const uint8_t *p, size_t left)
{
    uint8_t *rec, *body;
    size_t used, len;
    int rc;

    while (!c->closing && c->state >= CONN_HS1 && c->state < CONN_HELLO &&
           left > 0) {
        if (c->hs_job) {
            stash(c, p, left);
            return;
        }
        if ((rc = am_framedec_feed(c->hsdec, p, left, &used)) < 0) {
            conn_close(c, am_err_detail());
            return;
        }
        p += used;
        left -= used;
        if (rc == 1 && am_framedec_take(c->hsdec, &rec, &len) == 0) {
            conn_hs_message(c, rec, len);
            am_free(rec);
        }
    }
    if (c->state >= CONN_HELLO && c->hsdec != NULL) {
        /* authenticated: the handshake decoder and timeout are done */
        am_framedec_free(c->hsdec);
        c->hsdec = NULL;
        restart_timer(c, c->srv->cfg.idle_ms);
    }
    while (!c->closing && c->state >= CONN_HELLO) {
        if ((rc = am_chan_feed(c->chan, p, left, &used)) < 0) {
            if (rc == AM_ETOOBIG)
                conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG, 0,
                                true, "%s", am_err_detail());
            else
                conn_close(c, am_err_detail());
            return;
        }
        p += used;
        left -= used;
        if (rc == 0)
            break;
        if (am_chan_take(c->chan, &body, &len) == 0) {
            restart_timer(c, c->srv->cfg.idle_ms);
            conn_frame(c, body, len);
            am_free(body);
        }
    }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = st->data;

    if (n < 0)
        conn_close(c, n == UV_EOF ? "peer closed" : uv_strerror((int)n));
    else if (n > 0)
        conn_input(c, (const uint8_t *)buf->base, (size_t)n);
}

void conn_resume(conn_t *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c, "cannot read");
    else
        c->paused = false;
}

void conn_on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;

    conn_close(c, c->state < CONN_HELLO ? "handshake timeout" : "idle");
}

static void restart_timer(conn_t *c, uint64_t ms)
{
    uv_timer_start(&c->timer, conn_on_timeout, ms, 0);
}

static void peer_name(conn_t *c)
{
    struct sockaddr_storage ss = {0};
    int len = sizeof ss;
    char ip[48] = "?";

    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 &&
        ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
    snprintf(c->ip, sizeof c->ip, "%s", ip);
    snprintf(c->addr, sizeof c->addr, "%s:%d", ip,
             ss.ss_family == AF_INET
                 ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                 : 0);
}

/* Out of memory for a connection: accept it anyway and close it, since
 * libuv stops watching a listener whose pending connection is not taken. */
static uv_tcp_t reject_handle;
static bool reject_busy;

static void on_rejected(uv_handle_t *h)
{
    (void)h;
    reject_busy = false;
}

static void reject(uv_stream_t *listener)
{
    if (reject_busy || uv_tcp_init(listener->loop, &reject_handle) != 0)
        return;
    reject_busy = true;
    (void)uv_accept(listener, (uv_stream_t *)&reject_handle); /* closed next */
    uv_close((uv_handle_t *)&reject_handle, on_rejected);
}

conn_t *conn_new(am_server_t *srv)
{
    conn_t *c = am_calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->srv = srv;
    c->tcp.data = c->timer.data = c;
    /* neither fails on a live loop (libuv); a handle half made could not
     * be released safely, so stop rather than guess */
    if (uv_timer_init(srv->loop, &c->timer) != 0 ||
        uv_tcp_init(srv->loop, &c->tcp) != 0)
        abort();
    c->refs = 2;
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prevp = &c->next;
    srv->conns = c;
    c->prevp = &srv->conns;
    srv->n_conns++;
    return c;
}

static void pause_accepting(am_server_t *srv, const char *why);

static void on_connection(uv_stream_t *listener, int status)
{
    am_server_t *srv = listener->data;
    conn_t *c;

    if (status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOBUFS ||
        status == UV_ENOMEM) {
        pause_accepting(srv, uv_strerror(status));
        return;
    }
    if (status < 0) /* that connection's own error: it is gone */
        return;
    if ((c = conn_new(srv)) == NULL) {
        reject(listener);
        return;
    }
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, "accept failed");
        return;
    }
    peer_name(c);
    /* frames are whole messages: no 40 ms Nagle/delayed-ACK stalls */
    (void)uv_tcp_nodelay(&c->tcp, 1);
    am_sess_add(c, AM_SESS_PREAUTH);
    if (srv->n_conns > srv->cfg.max_conns) {
        conn_close(c, "too many connections");
        return;
    }
    if (am_sess_count(srv, AM_SESS_PREAUTH, c->ip) >
        srv->cfg.max_preauth_per_ip) {
        conn_close(c, "too many handshakes from this address");
        return;
    }
    if (conn_hs_start(c) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c, "cannot start");
        return;
    }
    uv_timer_start(&c->timer, conn_on_timeout, srv->cfg.handshake_ms, 0);
    conn_log(c, "connected");
}

static void shutdown_server(am_server_t *srv, const char *why);

/* Senders now owed evidence: those connected are told. */
static void kick_senders(am_server_t *srv,
                         const char (*senders)[AM_AGENCY_ID_MAX + 1],
                         size_t n_listed, size_t n)
{
    for (size_t i = 0; i < n_listed; i++)
        conn_kick_notices(srv, senders[i]);
    if (n > n_listed) /* more than listed: every receiving session looks */
        conn_kick_notices_all(srv);
}

static void on_expired(void *ctx, int rc,
                       const char (*senders)[AM_AGENCY_ID_MAX + 1],
                       size_t n_listed, size_t n)
{
    am_server_t *srv = ctx;

    srv->expiring = 0;
    if (rc != 0 || srv->stopping)
        return;
    if (n > 0)
        fprintf(stderr, "amanat-relay: expired deliveries for %zu senders\n",
                n);
    kick_senders(srv, senders, n_listed, n);
}

/* Acknowledgements folded (store_fold.c): delivered evidence is owed. */
static void on_folded(void *ctx, int rc,
                      const char (*senders)[AM_AGENCY_ID_MAX + 1],
                      size_t n_listed, size_t n)
{
    am_server_t *srv = ctx;

    if (rc == 0 && !srv->stopping)
        kick_senders(srv, senders, n_listed, n);
}

static void on_expire_tick(uv_timer_t *t)
{
    am_server_t *srv = t->data;

    if (!srv->expiring && !srv->stopping &&
        am_store_expire(srv->store, (int64_t)time(NULL), on_expired, srv) == 0)
        srv->expiring = 1;
}

static void on_store_wake(uv_async_t *a)
{
    am_server_t *srv = a->data;

    am_store_drain(srv->store);
    if (am_store_failed(srv->store)) {
        srv->exit_code = 3;
        shutdown_server(srv, "the store failed to commit; stopping so that "
                        "nothing is acknowledged that is not on disk");
    }
}

static void store_notify(void *ctx)
{
    uv_async_send(ctx);
}

typedef struct {
    uv_work_t req;
    am_server_t *srv;
    am_dir_t *dir;
    int rc;
    char why[160];
} reload_t;

/* On a thread-pool thread: the loop never reads files. */
static void reload_work(uv_work_t *w)
{
    reload_t *r = w->data;

    r->rc = am_dir_load(&r->srv->dir_cfg, (int64_t)time(NULL), &r->dir);
    if (r->rc != 0)
        snprintf(r->why, sizeof r->why, "%s", am_err_detail());
}

static uint64_t crl_seq(const am_dir_t *d)
{
    return am_dir_crl(d) != NULL ? am_crl_sequence(am_dir_crl(d)) : 0;
}

/* Sessions whose certificate the new revocation list revokes end now. */
static void close_revoked(am_server_t *srv)
{
    const am_crl_t *crl = am_dir_crl(srv->dir);

    for (conn_t *c = srv->conns, *next; c != NULL && crl != NULL; c = next) {
        next = c->next;
        if (c->state >= CONN_HELLO && am_crl_revoked(crl, c->peer.serial))
            conn_send_error(c, AMANAT__V1__ERROR_CODE__ERROR_REVOKED, 0, true,
                            "certificate of \"%s\" revoked", c->peer.agency_id);
    }
}

static void reload_done(uv_work_t *w, int status)
{
    reload_t *r = w->data;
    am_server_t *srv = r->srv;
    Amanat__V1__SignedCertificate *self = NULL;
    const uint8_t *bytes;
    uint64_t held = crl_seq(srv->dir);
    size_t len;

    srv->reloading = 0;
    if (r->rc == 0 && status == 0 && !srv->stopping &&
        crl_seq(r->dir) < held)
        snprintf(r->why, sizeof r->why, "its revocation list is older "
                 "(sequence %llu) than the one held (%llu)",
                 (unsigned long long)crl_seq(r->dir),
                 (unsigned long long)held), r->rc = AM_ESTALE;
    if (r->rc == 0 && status == 0 && !srv->stopping) {
        bytes = am_dir_self_cert(r->dir, &len);
        self = amanat__v1__signed_certificate__unpack(NULL, len, bytes);
    }
    if (self == NULL) {
        fprintf(stderr, "amanat-relay: reload refused, keeping the current "
                "directory: %s\n", r->rc ? r->why : "stopping or bad "
                "certificate");
        am_dir_free(r->dir);
    } else {
        amanat__v1__signed_certificate__free_unpacked(srv->self_cert, NULL);
        srv->self_cert = self;
        (void)am_dir_carry_learned(r->dir, srv->dir, (int64_t)time(NULL));
        am_dir_free(srv->dir);
        srv->dir = r->dir;
        fprintf(stderr, "amanat-relay: reloaded certificates and revocation "
                "list (sequence %llu)\n", (unsigned long long)crl_seq(srv->dir));
        if (crl_seq(srv->dir) > held) {
            close_revoked(srv);
            conn_push_crl(srv); /* peers learn it from this relay */
        }
    }
    free(r);
    if (srv->reload_again) {
        srv->reload_again = 0;
        am_server_reload(srv);
    }
}

void am_server_reload(am_server_t *srv)
{
    reload_t *r;

    if (srv->reloading) /* once this one is done: it may miss a change */
        srv->reload_again = 1;
    if (srv->reloading || srv->stopping || (r = calloc(1, sizeof *r)) == NULL)
        return;
    r->srv = srv;
    r->req.data = r;
    if (uv_queue_work(srv->loop, &r->req, reload_work, reload_done) != 0) {
        free(r);
        return;
    }
    srv->reloading = 1;
}

static void on_sighup(uv_signal_t *sig, int signum)
{
    (void)signum;
    am_server_reload(sig->data);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    char why[32];

    snprintf(why, sizeof why, "signal %d", signum);
    shutdown_server(sig->data, why);
}

static void shutdown_server(am_server_t *srv, const char *why)
{
    if (srv->stopping)
        return;
    srv->stopping = 1;
    fprintf(stderr, "amanat-relay: %s: stopping\n", why);
    if (srv->listening)
        uv_close((uv_handle_t *)&srv->listener, NULL);
    srv->listening = 0;
    uv_close((uv_handle_t *)&srv->relisten, NULL);
    am_links_stop(srv);
    while (srv->conns != NULL)
        conn_close(srv->conns, NULL);
    /* the signal watchers stay, no longer keeping the loop alive, until
     * serve() closes every handle: closed now, a SIGTERM while the store
     * finishes would kill the relay mid-commit and turn exit 3 (the store
     * failed) into a death by signal */
    uv_unref((uv_handle_t *)&srv->sigterm);
    uv_unref((uv_handle_t *)&srv->sigint);
    uv_unref((uv_handle_t *)&srv->sighup);
    uv_close((uv_handle_t *)&srv->expire_timer, NULL);
    /* commits in flight finish; their callbacks find closed connections.
     * One that fails now (acknowledgements read before the stop) must
     * still make the exit code say that the store failed. */
    if (am_store_close(srv->store) != 0)
        srv->exit_code = 3;
    srv->store = NULL;
    uv_close((uv_handle_t *)&srv->store_wake, NULL);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int listen_on(am_server_t *srv)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound, rc;

    if ((rc = uv_ip4_addr(srv->cfg.host, srv->cfg.port, &addr)) != 0 ||
        (rc = uv_tcp_init(srv->loop, &srv->listener)) != 0)
        return am_errf(AM_EINVAL, "listen address %s:%d: %s", srv->cfg.host,
                       srv->cfg.port, uv_strerror(rc));
    srv->listener.data = srv;
    srv->listening = 1;
    if ((rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0)) ||
        (rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection)) ||
        (rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound,
                                 &len)))
        return am_errf(AM_EIO, "cannot listen on %s:%d: %s", srv->cfg.host,
                       srv->cfg.port, uv_strerror(rc));
    if (srv->announced)
        return 0;
    /* listening again after a pause takes the same port */
    srv->cfg.port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    srv->announced = 1;
    printf("amanat-relay: listening on %s:%d\n", srv->cfg.host, srv->cfg.port);
    fflush(stdout);
    return 0;
}

/* An accept() that fails for want of descriptors or memory fails again at
 * once, and libuv retries it at once, inside one loop turn: after
 * EMFILE it first closes a spare descriptor and sheds what is queued, but
 * once another thread (a reload, a certificate written on the thread
 * pool) has taken that spare, it calls us with the error and retries for
 * as long as a connection is queued.  No timer then fires, so no session
 * times out to give a descriptor back: the relay spins for good.  So stop
 * listening (the kernel resets what is queued) and listen again a moment
 * later, and again after that while it still fails. */
#define ACCEPT_PAUSE_MS 250

static void on_relisten(uv_timer_t *t)
{
    am_server_t *srv = t->data;

    if (srv->stopping || srv->listening || listen_on(srv) == 0)
        return;
    if (srv->listening) /* made, not listening: close it, then again */
        pause_accepting(srv, am_err_detail());
    else
        (void)uv_timer_start(&srv->relisten, on_relisten, ACCEPT_PAUSE_MS, 0);
}

static void on_listener_closed(uv_handle_t *h)
{
    am_server_t *srv = h->data;

    if (!srv->stopping)
        (void)uv_timer_start(&srv->relisten, on_relisten, ACCEPT_PAUSE_MS, 0);
}

static void pause_accepting(am_server_t *srv, const char *why)
{
    if (!srv->listening)
        return;
    srv->listening = 0;
    fprintf(stderr, "amanat-relay: accepting connections failed (%s): not "
            "listening for %d ms\n", why, ACCEPT_PAUSE_MS);
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}

static int start_listening(am_server_t *srv)
{
    srv->relisten.data = srv;
    if (uv_timer_init(srv->loop, &srv->relisten) != 0)
        return am_errf(AM_EIO, "cannot start the listener's timer");
    return listen_on(srv);
}

static int watch_signals(am_server_t *srv)
{
    srv->sigterm.data = srv->sigint.data = srv->sighup.data = srv;
    if (uv_signal_init(srv->loop, &srv->sigterm) != 0 ||
        uv_signal_init(srv->loop, &srv->sigint) != 0 ||
        uv_signal_init(srv->loop, &srv->sighup) != 0 ||
        uv_signal_start(&srv->sigterm, on_signal, SIGTERM) != 0 ||
        uv_signal_start(&srv->sigint, on_signal, SIGINT) != 0 ||
        uv_signal_start(&srv->sighup, on_sighup, SIGHUP) != 0)
        return am_errf(AM_EIO, "cannot watch signals");
    return 0;
}

/* What the store owes senders over time: expiry on a timer, and the
 * delivered evidence of each fold of acknowledgements. */
static int start_expiry(am_server_t *srv)
{
    am_store_on_folded(srv->store, on_folded, srv);
    srv->expire_timer.data = srv;
    if (uv_timer_init(srv->loop, &srv->expire_timer) != 0 ||
        uv_timer_start(&srv->expire_timer, on_expire_tick, srv->cfg.expire_ms,
                       srv->cfg.expire_ms) != 0)
        return am_errf(AM_EIO, "cannot start the expiry timer");
    return 0;
}

/* Where a salvage of the store sends a recipient's lost delivery
 * (store.h): as a Submit routes it (conn_submit.c), by the directory
 * loaded at start; an expired certificate does not matter here, the
 * envelope was accepted while it was valid. */
static int salvage_route(void *ctx, const char *agency,
                         char via[static AM_AGENCY_ID_MAX + 1])
{
    am_server_t *srv = ctx;
    const am_cert_t *c = am_dir_find(srv->dir, agency);

    if (c == NULL || !(c->roles & AM_ROLE_AGENCY))
        return AM_STORE_NOWHERE;
    if (strcmp(c->home_relay, am_dir_self(srv->dir)->agency_id) == 0)
        return AM_STORE_HERE;
    for (size_t i = 0; i < srv->cfg.n_peers; i++)
        if (strcmp(srv->cfg.peers[i].id, c->home_relay) == 0) {
            snprintf(via, AM_AGENCY_ID_MAX + 1, "%s", c->home_relay);
            return AM_STORE_VIA;
        }
    return AM_STORE_NOWHERE;
}

static int serve(am_server_t *srv, const char *data_dir)
{
    size_t len;
    const uint8_t *self = am_dir_self_cert(srv->dir, &len);
    int rc = 0;

    srv->loop = uv_default_loop();
    am_sess_init(srv);
    srv->store_wake.data = srv;
    if ((srv->self_cert = amanat__v1__signed_certificate__unpack(NULL, len,
                                                                 self)) == NULL)
        rc = am_errf(AM_EPROTO, "relay certificate does not parse");
    else if (uv_async_init(srv->loop, &srv->store_wake, on_store_wake) != 0)
        rc = am_errf(AM_EIO, "cannot start the loop");
    else if ((rc = am_store_open_routed(data_dir, store_notify,
                                        &srv->store_wake, salvage_route, srv,
                                        &srv->store)) == 0 &&
             ((rc = start_listening(srv)) != 0 ||
              (rc = watch_signals(srv)) != 0 || (rc = start_expiry(srv)) != 0 ||
              (rc = am_links_start(srv)) != 0))
        am_store_close(srv->store);
    if (rc == 0) {
        uv_run(srv->loop, UV_RUN_DEFAULT);
        rc = srv->exit_code ? am_errf(AM_EIO, "store failed") : 0;
    }
    /* a failed start leaves handles to close: let the loop close them */
    uv_walk(srv->loop, close_any, NULL);
    uv_run(srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(srv->loop);
    am_free(srv->links);
    if (srv->self_cert != NULL)
        amanat__v1__signed_certificate__free_unpacked(srv->self_cert, NULL);
    return rc;
}

int am_server_run(const am_server_config_t *cfg, const am_dir_config_t *dc,
                  am_dir_t *dir, const char *data_dir)
{
    /* on the heap: the session chains take 64 KiB */
    am_server_t *srv = am_calloc(1, sizeof *srv);
    int rc;

    if (srv == NULL) {
        am_dir_free(dir);
        return am_errf(AM_ENOMEM, "out of memory starting the server");
    }
    srv->cfg = *cfg;
    srv->dir_cfg = *dc;
    srv->dir = dir;
    if (srv->cfg.hs_offload == AM_HS_OFFLOAD_AUTO)
        srv->cfg.hs_offload = uv_available_parallelism() > 2;
    fprintf(stderr, "amanat-relay: handshakes on the %s\n",
            srv->cfg.hs_offload ? "thread pool" : "event loop");
    if ((rc = am_certcache_new(&srv->certs)) == 0)
        rc = serve(srv, data_dir);
    /* the loop has run dry: no worker holds the cache any more */
    am_certcache_free(srv->certs);
    am_dir_free(srv->dir);
    am_free(srv);
    return rc;
}
