/* The cache of root-verified certificates (certcache.h). */
#include "certcache.h"

#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "alloc.h"
#include "err.h"

#define KEY_LEN 32

typedef struct {
    uint8_t key[KEY_LEN];
    uint64_t used; /* tick of the last hit or insertion; 0: empty */
    am_cert_t cert;
} slot_t;

struct am_certcache {
    uv_mutex_t lock;
    uint64_t tick, hits, misses;
    slot_t slot[AM_CERTCACHE_SLOTS];
};

int am_certcache_new(am_certcache_t **out)
{
    am_certcache_t *cc = am_calloc(1, sizeof *cc);

    if (cc == NULL)
        return am_errf(AM_ENOMEM, "out of memory for the certificate cache");
    if (uv_mutex_init(&cc->lock) != 0) {
        am_free(cc);
        return am_errf(AM_EIO, "certificate cache: cannot make a mutex");
    }
    *out = cc;
    return 0;
}

void am_certcache_free(am_certcache_t *cc)
{
    if (cc == NULL)
        return;
    uv_mutex_destroy(&cc->lock);
    am_free(cc);
}

/* BLAKE2b-256(root_pk || cert): the root is fixed-length, so the pair is
 * read back unambiguously. */
static int cache_key(const uint8_t *cert, size_t len, const uint8_t *root_pk,
                     uint8_t key[KEY_LEN])
{
    crypto_generichash_state st;

    if (crypto_generichash_init(&st, NULL, 0, KEY_LEN) != 0 ||
        crypto_generichash_update(&st, root_pk, AM_SIGN_PK_LEN) != 0 ||
        crypto_generichash_update(&st, cert, len) != 0 ||
        crypto_generichash_final(&st, key, KEY_LEN) != 0)
        return AM_ECRYPTO;
    return 0;
}

/* With the lock held: the slot holding key, or NULL. */
static slot_t *find(am_certcache_t *cc, const uint8_t key[KEY_LEN])
{
    for (size_t i = 0; i < AM_CERTCACHE_SLOTS; i++)
        if (cc->slot[i].used != 0 &&
            memcmp(cc->slot[i].key, key, KEY_LEN) == 0)
            return &cc->slot[i];
    return NULL;
}

/* With the lock held: an empty slot, else the least recently used. */
static slot_t *victim(am_certcache_t *cc)
{
    slot_t *v = &cc->slot[0];

    for (size_t i = 1; i < AM_CERTCACHE_SLOTS && v->used != 0; i++)
        if (cc->slot[i].used < v->used)
            v = &cc->slot[i];
    return v;
}

static bool lookup(am_certcache_t *cc, const uint8_t key[KEY_LEN],
                   am_cert_t *out)
{
    slot_t *s;

    uv_mutex_lock(&cc->lock);
    if ((s = find(cc, key)) != NULL) {
        s->used = ++cc->tick;
        *out = s->cert;
        cc->hits++;
    } else {
        cc->misses++;
    }
    uv_mutex_unlock(&cc->lock);
    return s != NULL;
}

static void insert(am_certcache_t *cc, const uint8_t key[KEY_LEN],
                   const am_cert_t *c)
{
    slot_t *s;

    uv_mutex_lock(&cc->lock);
    if (find(cc, key) == NULL) {
        s = victim(cc);
        memcpy(s->key, key, KEY_LEN);
        s->cert = *c;
        s->used = ++cc->tick;
    }
    uv_mutex_unlock(&cc->lock);
}

int am_certcache_verify(am_certcache_t *cc, const uint8_t *cert, size_t len,
                        const uint8_t root_pk[static AM_SIGN_PK_LEN],
                        am_cert_t *out)
{
    uint8_t key[KEY_LEN];
    am_cert_t c;
    int rc;

    if (cc == NULL || cert == NULL || out == NULL)
        return AM_EINVAL;
    /* bounded before hashing, as am_cert_verify_signed bounds it */
    if (len > AM_CERT_MAX)
        return am_errf(AM_ETOOBIG, "certificate of %zu bytes over %d", len,
                       AM_CERT_MAX);
    if ((rc = cache_key(cert, len, root_pk, key)) != 0)
        return rc;
    if (lookup(cc, key, out))
        return 0;
    if ((rc = am_cert_verify_signed(cert, len, root_pk, &c)) != 0)
        return rc;
    insert(cc, key, &c);
    *out = c;
    return 0;
}

void am_certcache_stats(am_certcache_t *cc, uint64_t *hits, uint64_t *misses)
{
    uv_mutex_lock(&cc->lock);
    *hits = cc->hits;
    *misses = cc->misses;
    uv_mutex_unlock(&cc->lock);
}
