/* relay_bench: pre-sealed envelopes, latency figures, sets of message ids
 * and the check of the relay's accepted evidence.
 *
 * Envelopes are sealed before any timing, by as many threads as there are
 * cores, each as a real client seals one (am_env_seal: a random message
 * id and content key, the key wrapped to the recipient's certificate key,
 * signed by the sender), then encoded once as the Submit frame that will
 * carry it, so that sending one costs only the channel's encryption.
 */
#include "relay_bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "envelope.h"
#include "err.h"
#include "sign.h"

typedef struct {
    rb_pool_t *p;
    const rb_fed_t *fed;
    const uint8_t *content;
    size_t from, step;
    int rc;
    char why[200];
} seal_job_t;

static int seal_one(const rb_fed_t *fed, const uint8_t *content, size_t len,
                    uint8_t **env, size_t *env_len)
{
    const rb_party_t *s = &fed->agencies[RB_SENDER];
    const rb_party_t *r = &fed->agencies[RB_RECIPIENT];
    am_env_recipient_t rcpt = {r->id, r->dh_pk, 0};
    int64_t now = (int64_t)time(NULL);
    am_env_params_t par = {s->id, s->serial, s->sign_sk, now, now + 86400,
                           AM_PRIORITY_ROUTINE, NULL, NULL};

    return am_env_seal(&par, &rcpt, 1, content, len, env, env_len);
}

/* Frame { submit { request_id, envelope } }, encoded. */
static int encode_submit(rb_pool_t *p, size_t i, const uint8_t *env,
                         size_t env_len)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;

    s.request_id = (uint64_t)i + 1;
    s.envelope = (ProtobufCBinaryData){env_len, (uint8_t *)env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &s;
    p->body_len[i] = amanat__v1__frame__get_packed_size(&f);
    if ((p->body[i] = malloc(p->body_len[i])) == NULL)
        return AM_ENOMEM;
    amanat__v1__frame__pack(&f, p->body[i]);
    return am_hash256(env, env_len, p->hash[i]);
}

static void *seal_worker(void *arg)
{
    seal_job_t *j = arg;
    uint8_t *env = NULL;
    size_t len;

    for (size_t i = j->from; i < j->p->n && !rb_interrupted; i += j->step) {
        if ((j->rc = seal_one(j->fed, j->content, j->p->content_len, &env,
                              &len)) != 0) {
            snprintf(j->why, sizeof j->why, "am_env_seal: %s",
                     am_err_detail());
            return NULL;
        }
        j->rc = encode_submit(j->p, i, env, len);
        am_free(env);
        if (j->rc != 0) {
            snprintf(j->why, sizeof j->why, "encoding a Submit: %s",
                     am_strerror(j->rc));
            return NULL;
        }
    }
    if (rb_interrupted) {
        j->rc = AM_EINVAL;
        snprintf(j->why, sizeof j->why, "interrupted");
    }
    return NULL;
}

/* The content length that makes a serialized envelope env_len bytes. */
static int fit_content(rb_pool_t *p, const rb_fed_t *fed,
                       const uint8_t *content)
{
    size_t len = 0, c = p->env_len > 600 ? p->env_len - 400 : p->env_len / 2;
    uint8_t *env;
    int rc;

    for (int tries = 0; tries < 6; tries++) {
        if ((rc = seal_one(fed, content, c, &env, &len)) != 0) {
            fprintf(stderr, "%s: am_env_seal: %s\n", RB_PROG,
                    am_err_detail());
            return -1;
        }
        am_free(env);
        if (len == p->env_len)
            break;
        if (len > p->env_len && len - p->env_len >= c) {
            fprintf(stderr, "%s: envelopes of %zu B are too small to seal\n",
                    RB_PROG, p->env_len);
            return -1;
        }
        c = len > p->env_len ? c - (len - p->env_len)
                             : c + (p->env_len - len);
    }
    p->content_len = c;
    p->env_len = len; /* exact, or within a byte or two of varint steps */
    return 0;
}

static int run_sealers(rb_pool_t *p, const rb_fed_t *fed,
                       const uint8_t *content, unsigned threads)
{
    seal_job_t jobs[16];
    pthread_t tid[16];
    unsigned started = 0;
    int rc = 0;

    threads = threads < 1 ? 1 : threads > 16 ? 16 : threads;
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] = (seal_job_t){p, fed, content, t, threads, 0, ""};
        if (pthread_create(&tid[t], NULL, seal_worker, &jobs[t]) != 0) {
            fprintf(stderr, "%s: pthread_create failed\n", RB_PROG);
            rc = -1;
            break;
        }
        started++;
    }
    for (unsigned t = 0; t < started; t++) {
        (void)pthread_join(tid[t], NULL);
        if (jobs[t].rc != 0 && rc == 0) {
            fprintf(stderr, "%s: sealing: %s\n", RB_PROG, jobs[t].why);
            rc = -1;
        }
    }
    return rc;
}

int rb_pool_make(rb_pool_t *p, const rb_fed_t *fed, size_t n, size_t env_len,
                 unsigned threads)
{
    uint8_t *content = NULL;
    uint64_t t0 = rb_now();
    int rc = -1;

    memset(p, 0, sizeof *p);
    p->n = n;
    p->env_len = env_len;
    if ((content = malloc(env_len)) == NULL ||
        (p->body = calloc(n, sizeof *p->body)) == NULL ||
        (p->body_len = calloc(n, sizeof *p->body_len)) == NULL ||
        (p->hash = calloc(n, sizeof *p->hash)) == NULL) {
        fprintf(stderr, "%s: out of memory for %zu envelopes\n", RB_PROG, n);
        goto out;
    }
    randombytes_buf(content, env_len);
    if (fit_content(p, fed, content) != 0 ||
        run_sealers(p, fed, content, threads) != 0)
        goto out;
    rb_pool_reset(p, n);
    printf("sealed %zu envelopes of %zu B (%zu B of content) in %.1f s\n", n,
           p->env_len, p->content_len, (double)(rb_now() - t0) / 1e9);
    fflush(stdout);
    rc = 0;
out:
    free(content);
    return rc;
}

void rb_pool_free(rb_pool_t *p)
{
    for (size_t i = 0; p->body != NULL && i < p->n; i++)
        free(p->body[i]);
    free(p->body);
    free(p->body_len);
    free(p->hash);
    memset(p, 0, sizeof *p);
}

size_t rb_pool_claim(rb_pool_t *p)
{
    size_t i = atomic_fetch_add(&p->next, 1);

    return i < p->limit ? i : SIZE_MAX;
}

void rb_pool_reset(rb_pool_t *p, size_t limit)
{
    atomic_store(&p->next, 0);
    p->limit = limit < p->n ? limit : p->n;
}

int rb_lat_add(rb_lat_t *l, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint32_t *p = realloc(l->us, cap * sizeof *p);

        if (p == NULL)
            return -1;
        l->us = p;
        l->cap = cap;
    }
    l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    return 0;
}

int rb_lat_merge(rb_lat_t *dst, const rb_lat_t *src)
{
    if (src->n == 0)
        return 0;
    if (dst->n + src->n > dst->cap) {
        uint32_t *p = realloc(dst->us, (dst->n + src->n) * sizeof *p);

        if (p == NULL)
            return -1;
        dst->us = p;
        dst->cap = dst->n + src->n;
    }
    memcpy(dst->us + dst->n, src->us, src->n * sizeof *src->us);
    dst->n += src->n;
    return 0;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

    return (a > b) - (a < b);
}

void rb_lat_sort(rb_lat_t *l)
{
    if (l->n > 1)
        qsort(l->us, l->n, sizeof *l->us, cmp_u32);
}

/* Nearest rank: the smallest value with at least q of the set at or
 * below it. */
double rb_lat_ms(const rb_lat_t *l, double q)
{
    size_t rank;

    if (l->n == 0)
        return 0;
    rank = (size_t)((double)l->n * q + 0.999999);
    rank = rank < 1 ? 1 : rank > l->n ? l->n : rank;
    return (double)l->us[rank - 1] / 1000.0;
}

void rb_lat_free(rb_lat_t *l)
{
    free(l->us);
    memset(l, 0, sizeof *l);
}

int rb_idset_init(rb_idset_t *s, size_t max)
{
    size_t cap = 1024;

    while (cap < 2 * max)
        cap *= 2;
    s->n = 0;
    s->cap = cap;
    s->slot = calloc(cap, sizeof *s->slot);
    return s->slot != NULL ? 0 : -1;
}

/* Ids are random: their first bytes are hash enough.  An id of zeros,
 * which marks an empty slot, is stored as one with its last bit set. */
int rb_idset_add(rb_idset_t *s, const uint8_t id[16])
{
    static const uint8_t zero[16];
    uint8_t key[16];
    uint64_t h = 0;

    memcpy(key, id, 16);
    if (memcmp(key, zero, 16) == 0)
        key[15] = 1;
    for (int i = 0; i < 8; i++)
        h = h << 8 | key[i];
    if (s->n + 1 > s->cap / 2)
        return -1;
    for (size_t i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (memcmp(s->slot[i], zero, 16) == 0) {
            memcpy(s->slot[i], key, 16);
            s->n++;
            return 1;
        }
        if (memcmp(s->slot[i], key, 16) == 0)
            return 0;
    }
}

void rb_idset_free(rb_idset_t *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}

static int check_body(const Amanat__V1__EvidenceBody *b, const uint8_t *hash,
                      char *why, size_t cap)
{
    if (b->version != 1 ||
        b->kind != AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED) {
        snprintf(why, cap, "evidence of version %u, kind %d (want 1, "
                 "ACCEPTED)", b->version, (int)b->kind);
        return -1;
    }
    if (b->message_id.len != 16 || b->envelope_hash.len != 32) {
        snprintf(why, cap, "evidence with a message id of %zu bytes and a "
                 "hash of %zu", b->message_id.len, b->envelope_hash.len);
        return -1;
    }
    if (hash != NULL && memcmp(b->envelope_hash.data, hash, 32) != 0) {
        snprintf(why, cap, "evidence names another envelope (hash differs)");
        return -1;
    }
    if (b->recipient_id != NULL && b->recipient_id[0] != '\0') {
        snprintf(why, cap, "accepted evidence names a recipient");
        return -1;
    }
    return 0;
}

int rb_check_accepted(const Amanat__V1__Evidence *e, const uint8_t *hash,
                      const uint8_t *verify_pk, uint8_t message_id[16],
                      char *why, size_t cap)
{
    Amanat__V1__EvidenceBody *b;
    int rc;

    if (e == NULL || e->body.len == 0) {
        snprintf(why, cap, "no accepted evidence");
        return -1;
    }
    if ((b = amanat__v1__evidence_body__unpack(NULL, e->body.len,
                                               e->body.data)) == NULL) {
        snprintf(why, cap, "evidence body does not parse");
        return -1;
    }
    if ((rc = check_body(b, hash, why, cap)) == 0)
        memcpy(message_id, b->message_id.data, 16);
    amanat__v1__evidence_body__free_unpacked(b, NULL);
    if (rc == 0 && verify_pk != NULL &&
        am_sign_verify(AM_TAG_EVIDENCE, e->body.data, e->body.len,
                       e->signature.data, e->signature.len, verify_pk) != 0) {
        snprintf(why, cap, "evidence signature does not verify under the "
                 "relay's key");
        return -1;
    }
    return rc;
}
