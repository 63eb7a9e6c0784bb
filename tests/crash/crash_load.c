#include "crash_load.h"

#include "../unit/test-util.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "envelope.h"
#include "err.h"

#define PER_THREAD 400 /* envelopes sealed per thread per round */
#define THREADS 2

typedef struct {
    cl_load_t *load;
    uint8_t *env[PER_THREAD];
    size_t len[PER_THREAD];
} worker_t;

struct cl_load {
    int port;
    cl_ids_t *acked;
    pthread_mutex_t mu; /* guards acked */
    worker_t w[THREADS];
    pthread_t t[THREADS];
    int started;
};

const char *const cl_relay_args[] = {"--quota-messages", "100000000",
                                     "--quota-bytes", "1099511627776", NULL};

void cl_ids_add(cl_ids_t *s, const uint8_t id[static AM_MSG_ID_LEN])
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        void *p = realloc(s->id, cap * sizeof s->id[0]);

        assert_non_null(p);
        s->id = p;
        s->cap = cap;
    }
    memcpy(s->id[s->n++], id, AM_MSG_ID_LEN);
}

void cl_ids_free(cl_ids_t *s)
{
    free(s->id);
    memset(s, 0, sizeof *s);
}

/* Submit until the relay dies; record what it acknowledged. */
static void *submitter(void *arg)
{
    worker_t *w = arg;
    cl_load_t *l = w->load;
    rc_client_t c;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;

    if (rc_connect(&c, l->port, pk.dh_sk, pk.cert, pk.cert_len, false) != 0 ||
        rc_recv(&c, 5000, &ans) != 0) {
        rc_close(&c);
        return NULL;
    }
    am_frame_free(ans);
    for (size_t i = 0; i < PER_THREAD; i++) {
        s.request_id = i + 1;
        s.envelope = (ProtobufCBinaryData){w->len[i], w->env[i]};
        f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
        f.submit = &s;
        if (rc_send(&c, &f) != 0 || rc_recv(&c, 5000, &ans) != 0)
            break;
        if (ans->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT &&
            ans->submit_result->message_id.len == AM_MSG_ID_LEN) {
            pthread_mutex_lock(&l->mu);
            cl_ids_add(l->acked, ans->submit_result->message_id.data);
            pthread_mutex_unlock(&l->mu);
        }
        am_frame_free(ans);
    }
    rc_close(&c);
    return NULL;
}

cl_load_t *cl_load_new(const char *to)
{
    cl_load_t *l = calloc(1, sizeof *l);

    assert_non_null(l);
    assert_int_equal(pthread_mutex_init(&l->mu, NULL), 0);
    for (int k = 0; k < THREADS; k++) {
        l->w[k].load = l;
        for (size_t i = 0; i < PER_THREAD; i++)
            l->w[k].env[i] = seal(&pk, &pk, to, 1 + (int)(i % 3), "crash",
                                  &l->w[k].len[i]);
    }
    return l;
}

void cl_load_start(cl_load_t *l, int port, cl_ids_t *acked)
{
    l->port = port;
    l->acked = acked;
    for (int k = 0; k < THREADS; k++) {
        assert_int_equal(pthread_create(&l->t[k], NULL, submitter, &l->w[k]),
                         0);
        l->started++;
    }
}

void cl_load_join(cl_load_t *l)
{
    for (int k = 0; k < l->started; k++)
        pthread_join(l->t[k], NULL);
    for (int k = 0; k < THREADS; k++)
        for (size_t i = 0; i < PER_THREAD; i++)
            am_free(l->w[k].env[i]);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

void cl_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The relay is dead or dying: reap it.  It must have died of SIGKILL
 * (ours, or a crash point's), not of anything of its own. */
static void reap(relay_t *r, int status)
{
    if (status == -1)
        assert_int_equal(waitpid(r->pid, &status, 0), r->pid);
    forget_relay(r);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("relay %d died before it was killed: %s %d", (int)r->pid,
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

void cl_kill_after(relay_t *r, long ms)
{
    cl_sleep_ms(ms);
    /* a child that died already is a zombie: kill succeeds, and reap
     * sees how it died */
    assert_int_equal(kill(r->pid, SIGKILL), 0);
    reap(r, -1);
}

bool cl_wait_or_kill(relay_t *r, long ms)
{
    int status;

    for (long t = 0; t < ms; t += 5) {
        pid_t got = waitpid(r->pid, &status, WNOHANG);

        assert_true(got == 0 || got == r->pid);
        if (got == r->pid) {
            reap(r, status);
            return true;
        }
        cl_sleep_ms(5);
    }
    assert_int_equal(kill(r->pid, SIGKILL), 0);
    reap(r, -1);
    return false;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, AM_MSG_ID_LEN);
}

size_t cl_drain(int port, const party_t *to, int quiet_ms, cl_ids_t *got)
{
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    Amanat__V1__Frame *f;
    am_cert_t sender;
    rc_client_t c;
    size_t n = 0;

    assert_int_equal(am_cert_verify(pk.cert, pk.cert_len, &pol, &sender),
                     AM_OK);
    connect_as(&c, port, to, true);
    while (rc_recv(&c, quiet_ms, &f) == 0) {
        am_env_t *env = NULL;

        assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_DELIVER);
        assert_int_equal(am_env_parse(f->deliver->envelope.data,
                                      f->deliver->envelope.len, AM_ENV_MAX,
                                      &env), AM_OK);
        assert_int_equal(am_env_verify(env, &sender), AM_OK);
        cl_ids_add(got, am_env_message_id(env));
        n++;
        fx_ack(&c, got->id[got->n - 1]);
        am_env_free(env);
        am_frame_free(f);
    }
    rc_close(&c);
    return n;
}

void cl_count(cl_ids_t *acked, cl_ids_t *got, size_t *lost, size_t *dup)
{
    *lost = *dup = 0;
    if (got->n > 0)
        qsort(got->id, got->n, sizeof got->id[0], cmp_id);
    for (size_t i = 1; i < got->n; i++)
        *dup += memcmp(got->id[i - 1], got->id[i], AM_MSG_ID_LEN) == 0;
    for (size_t i = 0; i < acked->n; i++)
        *lost += got->n == 0 || bsearch(acked->id[i], got->id, got->n,
                                        sizeof got->id[0], cmp_id) == NULL;
}
