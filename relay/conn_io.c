/* Writing to and closing a connection.  A connection is freed when its
 * last reference goes: the TCP handle, the timer and each store request in
 * flight hold one, so a store answer never finds freed memory. */
#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "link.h"

typedef struct {
    uv_write_t req;
    uint8_t *buf;
} write_t;

/* Backpressure: a peer that does not read what we send stops being read,
 * so it cannot make us queue without bound (its frames wait in the kernel
 * and, beyond that, in its own buffers). */
#define WQ_HIGH ((size_t)4 << 20)
#define WQ_LOW ((size_t)1 << 20)
#define STORE_PENDING_MAX 64 /* submits and acks waiting for the store */

void conn_flow(conn_t *c)
{
    size_t q;
    bool full;

    if (c->closing || c->state < 0)
        return;
    q = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    /* while a handshake message is out on the thread pool, what arrives
     * waits in c->stash (server.c), up to AM_STASH_MAX */
    full = c->hs_job && c->stash_len >= AM_STASH_MAX;
    if (!c->paused && (full || q > WQ_HIGH ||
                       c->store_pending > STORE_PENDING_MAX)) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->paused = true;
    } else if (c->paused && !full && q < WQ_LOW &&
               c->store_pending <= STORE_PENDING_MAX / 2) {
        conn_resume(c);
    }
}

/* One line, one write(2): stderr is unbuffered, and a line in pieces
 * costs a system call each on the loop thread. */
void conn_log(const conn_t *c, const char *fmt, ...)
{
    char line[512];
    int n;
    va_list ap;

    n = snprintf(line, sizeof line, "amanat-relay: %s%s%s: ", c->addr,
                 c->peer.agency_id[0] ? " " : "", c->peer.agency_id);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
    va_end(ap);
    n = (int)strlen(line);
    line[n] = '\n';
    (void)fwrite(line, 1, (size_t)n + 1, stderr);
}

void conn_ref(conn_t *c)
{
    c->refs++;
}

void conn_unref(conn_t *c)
{
    if (--c->refs > 0)
        return;
    am_noise_hs_free(c->hs);
    am_framedec_free(c->hsdec);
    am_chan_free(c->chan);
    am_free(c->stash);
    am_free(c->fl);
    am_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

void conn_close(conn_t *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    if (why != NULL)
        conn_log(c, "closed: %s", why);
    if (c->prevp != NULL) {
        *c->prevp = c->next;
        if (c->next != NULL)
            c->next->prevp = c->prevp;
        c->prevp = NULL;
        c->srv->n_conns--;
    }
    am_sess_remove(c);
    if (c->link != NULL)
        link_closed(c); /* dialled again later */
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_written(uv_write_t *req, int status)
{
    write_t *w = (write_t *)req;
    conn_t *c = req->data;

    am_free(w->buf);
    am_free(w);
    if (status < 0 && status != UV_ECANCELED) {
        conn_close(c, uv_strerror(status));
    } else {
        conn_flow(c);
        conn_wrote(c);
    }
    conn_unref(c);
}

/* Takes ownership of buf. */
static int send_buf(conn_t *c, uint8_t *buf, size_t len)
{
    write_t *w;
    uv_buf_t b;
    int n;

    if (c->closing) {
        am_free(buf);
        return AM_ESTATE;
    }
    /* Most messages fit the socket's buffer at once: written now, they
     * need no request, no callback and no poller change.  libuv refuses
     * (UV_EAGAIN) while earlier writes wait, so the order holds; on any
     * error the queued write below meets it and reports it as before. */
    b = uv_buf_init((char *)buf, (unsigned)len);
    if ((n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1)) == (int)len) {
        am_free(buf);
        return 0;
    }
    if (n > 0)
        b = uv_buf_init((char *)buf + n, (unsigned)(len - (size_t)n));
    if ((w = am_calloc(1, sizeof *w)) == NULL) {
        am_free(buf);
        return AM_ENOMEM;
    }
    w->buf = buf;
    w->req.data = c;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        am_free(buf);
        am_free(w);
        return AM_EIO;
    }
    conn_ref(c);
    conn_flow(c);
    return 0;
}

int conn_send_raw(conn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t *buf = am_malloc(2 + len);

    if (buf == NULL)
        return AM_ENOMEM;
    buf[0] = (uint8_t)(len >> 8);
    buf[1] = (uint8_t)len;
    memcpy(buf + 2, msg, len);
    return send_buf(c, buf, 2 + len);
}

int conn_send_frame(conn_t *c, const Amanat__V1__Frame *f)
{
    uint8_t *wire;
    size_t len;
    int rc;

    if ((rc = am_chan_seal_frame(c->chan, f, AM_FRAME_MAX_CEILING, &wire,
                                 &len)) != 0)
        return rc;
    return send_buf(c, wire, len);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;

    (void)status;
    am_free(req);
    conn_close(c, NULL);
    conn_unref(c);
}

void conn_send_error(conn_t *c, Amanat__V1__ErrorCode code, uint64_t req,
                     bool fatal, const char *fmt, ...)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Error e = AMANAT__V1__ERROR__INIT;
    uv_shutdown_t *sd;
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    conn_log(c, "%s: %s", fatal ? "refused, closing" : "refused", msg);
    e.code = code;
    e.message = msg;
    e.request_id = req;
    e.fatal = fatal;
    f.op_case = AMANAT__V1__FRAME__OP_ERROR;
    f.error = &e;
    /* an error that cannot be sent leaves a request unanswered: close */
    if (c->chan == NULL || conn_send_frame(c, &f) != 0) {
        conn_close(c, fatal ? NULL : "cannot send");
        return;
    }
    if (!fatal)
        return;
    /* flush the error, then close */
    if ((sd = am_calloc(1, sizeof *sd)) == NULL) {
        conn_close(c, NULL);
        return;
    }
    sd->data = c;
    if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        am_free(sd);
        conn_close(c, NULL);
        return;
    }
    conn_ref(c);
    c->state = -1; /* read nothing more */
    uv_read_stop((uv_stream_t *)&c->tcp);
}
