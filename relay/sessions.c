/* Connections indexed by a string: pre-authentication connections by peer
 * address (the per-address handshake limit), authenticated ones by agency
 * id (waking the sessions an envelope or a notice is for).  Each lookup
 * costs the length of one hash chain, not the number of connections, so
 * 10,000 idle sessions do not slow every submit.  Keys are hashed with
 * SipHash (crypto_shorthash) under a per-process random key: a peer cannot
 * choose addresses or ids that pile into one chain. */
#include "conn.h"

#include <string.h>

#include <sodium.h>

void am_sess_init(am_server_t *srv)
{
    randombytes_buf(srv->sess_key, sizeof srv->sess_key);
}

static const char *key_of(const conn_t *c)
{
    return c->sess_kind == AM_SESS_AGENCY ? c->peer.agency_id : c->ip;
}

static conn_t **bucket(am_server_t *srv, int kind, const char *key)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    (void)crypto_shorthash(h, (const uint8_t *)key, strlen(key),
                           srv->sess_key);
    for (size_t i = 0; i < sizeof h; i++)
        v = v << 8 | h[i];
    return &srv->sess[kind][v % AM_SESS_BUCKETS];
}

void am_sess_add(conn_t *c, int kind)
{
    conn_t **head;

    am_sess_remove(c);
    c->sess_kind = kind;
    head = bucket(c->srv, kind, key_of(c));
    c->snext = *head;
    if (*head != NULL)
        (*head)->sprevp = &c->snext;
    *head = c;
    c->sprevp = head;
}

void am_sess_remove(conn_t *c)
{
    if (c->sprevp == NULL)
        return;
    *c->sprevp = c->snext;
    if (c->snext != NULL)
        c->snext->sprevp = c->sprevp;
    c->sprevp = NULL;
    c->snext = NULL;
}

static conn_t *match(conn_t *c, int kind, const char *key)
{
    while (c != NULL && (c->sess_kind != kind || strcmp(key_of(c), key) != 0))
        c = c->snext;
    return c;
}

conn_t *am_sess_first(am_server_t *srv, int kind, const char *key)
{
    return match(*bucket(srv, kind, key), kind, key);
}

conn_t *am_sess_next(const conn_t *c, const char *key)
{
    return match(c->snext, c->sess_kind, key);
}

size_t am_sess_count(am_server_t *srv, int kind, const char *key)
{
    size_t n = 0;

    for (conn_t *c = am_sess_first(srv, kind, key); c != NULL;
         c = am_sess_next(c, key))
        n++;
    return n;
}
