/* One run of test-ioerr (ioerr_run.h): the workload under the shim, then a
 * clean restart that delivers the rest, then the accounting. */
#include "ioerr_run.h"

#include "../unit/test-util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "fsutil.h"
#include "relay_fixture.h"

#define N_WORK (IO_SENDERS * IO_PER_SENDER)
#define W0 IO_BEFORE                 /* the workload's first */
#define MARK_A (W0 + N_WORK)         /* ends the faulted run's deliveries */
#define MARK_B (MARK_A + 1)          /* ends the clean restart's */
#define N_MSG (MARK_B + 1)

typedef enum { M_UNSENT, M_ACKED, M_ERROR, M_LOST } mstate_t;

typedef struct {
    const party_t *from;
    uint8_t *env;
    size_t len;
    uint8_t id[AM_MSG_ID_LEN];
    mstate_t state;
    unsigned seen[2]; /* deliveries: faulted run, clean restart */
} msg_t;

static msg_t msgs[N_MSG];

static const party_t *sender(size_t k)
{
    return k == 0 ? &fr : &ph;
}

static const party_t *party(const char *id)
{
    return strcmp(id, pk.id) == 0 ? &pk : strcmp(id, fr.id) == 0 ? &fr : &ph;
}

/* PK-NCCIA's envelopes stored before, the workload's, the two markers. */
static void make_msgs(void)
{
    for (size_t i = 0; i < N_MSG; i++) {
        msg_t *m = &msgs[i];
        /* urgent and emergency, so that the routine markers come last */
        int prio = i >= MARK_A ? AM_PRIORITY_ROUTINE
                               : AM_PRIORITY_URGENT + (int)(i / 2 % 2);
        char text[32];
        am_env_t *e;

        memset(m, 0, sizeof *m);
        m->from = i < W0 ? &pk : i >= MARK_A ? &fr : sender(i % IO_SENDERS);
        snprintf(text, sizeof text, "ioerr %zu", i);
        m->env = seal(m->from, m->from, "DE-BKA", prio, text, &m->len);
        assert_int_equal(am_env_parse(m->env, m->len, AM_ENV_MAX, &e), AM_OK);
        memcpy(m->id, am_env_claimed_id(e), AM_MSG_ID_LEN);
        am_env_free(e);
    }
}

static void free_msgs(void)
{
    for (size_t i = 0; i < N_MSG; i++) {
        am_free(msgs[i].env);
        msgs[i].env = NULL;
    }
}

/* One violation of what must hold in every run; the first is kept. */
static void violation(io_result_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violation(io_result_t *out, const char *fmt, ...)
{
    va_list ap;

    if (out->violations++ == 0) {
        va_start(ap, fmt);
        vsnprintf(out->violation, sizeof out->violation, fmt, ap);
        va_end(ap);
    }
}

/* Connect and authenticate; false (nothing open) if the relay is gone. */
static bool connect_try(rc_client_t *c, int port, const party_t *p,
                        bool receive)
{
    Amanat__V1__Frame *f;
    bool ok;

    if (rc_connect(c, port, p->dh_sk, p->cert, p->cert_len, receive) != 0) {
        rc_close(c);
        return false;
    }
    if (rc_recv(c, 5000, &f) != 0) {
        rc_close(c);
        return false;
    }
    ok = f->op_case == AMANAT__V1__FRAME__OP_AUTH_RESULT && f->auth_result->ok;
    am_frame_free(f);
    if (!ok)
        rc_close(c);
    return ok;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The answer to an Error frame: this submit refused, or (fatal, for the
 * whole connection) the connection lost. */
static bool answered_error(const Amanat__V1__Error *e, msg_t *m, uint64_t req,
                           io_result_t *out)
{
    if (e->request_id != req) {
        if (!e->fatal)
            violation(out, "an Error for request %llu answered %llu",
                      (unsigned long long)e->request_id,
                      (unsigned long long)req);
        m->state = M_LOST;
        out->lost_conn++;
        return false;
    }
    m->state = M_ERROR;
    out->errors++;
    out->unavailable += e->code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
    return !e->fatal;
}

/* Submit m and classify the answer; false once the connection is over. */
static bool submit_one(rc_client_t *c, msg_t *m, uint64_t req,
                       io_result_t *out)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;
    long t0 = now_ms();
    bool more = true;

    s.request_id = req;
    s.envelope = (ProtobufCBinaryData){m->len, m->env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &s;
    if (rc_send(c, &f) != 0 || rc_recv(c, 10000, &ans) != 0) {
        m->state = M_LOST;
        if (now_ms() - t0 >= 10000)
            out->hung++; /* open, yet silent: never right */
        else
            out->lost_conn++;
        return false;
    }
    if (ans->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT) {
        check_accepted(ans, m->env, m->len, req);
        assert_memory_equal(ans->submit_result->message_id.data, m->id,
                            AM_MSG_ID_LEN);
        m->state = M_ACKED;
        out->acked++;
    } else if (ans->op_case == AMANAT__V1__FRAME__OP_ERROR) {
        more = answered_error(ans->error, m, req, out);
    } else {
        violation(out, "a Submit answered by frame %d", (int)ans->op_case);
        more = false;
    }
    am_frame_free(ans);
    return more;
}

/* The message a Deliver carries, verified under its sender's certificate;
 * NULL for one that was never submitted. */
static msg_t *delivered(const Amanat__V1__Deliver *d)
{
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    const party_t *from;
    am_cert_t cert;
    am_env_t *env;
    msg_t *found = NULL;

    assert_int_equal(am_env_parse(d->envelope.data, d->envelope.len,
                                  AM_ENV_MAX, &env), AM_OK);
    from = party(am_env_sender(env));
    assert_int_equal(am_cert_verify(from->cert, from->cert_len, &pol, &cert),
                     AM_OK);
    assert_int_equal(am_env_verify(env, &cert), AM_OK);
    for (size_t i = 0; i < N_MSG && found == NULL; i++)
        if (memcmp(msgs[i].id, am_env_message_id(env), AM_MSG_ID_LEN) == 0)
            found = &msgs[i];
    am_env_free(env);
    return found;
}

/* The relay ends a receiving session it cannot serve for now, e.g. when
 * it could not store an acknowledgement (PROTOCOL.md 15.2): a fatal
 * ERROR_UNAVAILABLE, then the connection closes. */
static bool unavailable(const Amanat__V1__Frame *f)
{
    return f->op_case == AMANAT__V1__FRAME__OP_ERROR && f->error->fatal &&
           f->error->code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
}

/* Receive on c, acknowledging each envelope, until the marker comes, the
 * connection ends, or ms pass without a frame; true if the marker came. */
static bool drain(rc_client_t *c, const msg_t *marker, int phase, int ms,
                  io_result_t *out)
{
    Amanat__V1__Frame *f;
    bool done = false;

    while (!done && rc_recv(c, ms, &f) == 0) {
        msg_t *m = NULL;

        if (f->op_case == AMANAT__V1__FRAME__OP_DELIVER &&
            (m = delivered(f->deliver)) == NULL)
            out->stray++;
        else if (unavailable(f))
            out->rx_ended++;
        else if (f->op_case != AMANAT__V1__FRAME__OP_DELIVER)
            violation(out, "the receiver got frame %d", (int)f->op_case);
        am_frame_free(f);
        if (m == NULL)
            continue;
        m->seen[phase]++;
        done = m == marker;
        if (fx_send_ack(c, m->id) != 0)
            break;
    }
    return done;
}

/* The workload against the faulted relay: whatever it answers, or not. */
static void faulted_work(int port, io_result_t *out)
{
    rc_client_t rx, tx[IO_SENDERS];
    bool rx_ok, tx_ok[IO_SENDERS];
    msg_t *mark = &msgs[MARK_A];

    rx_ok = connect_try(&rx, port, &de, true);
    for (size_t k = 0; k < IO_SENDERS; k++)
        tx_ok[k] = connect_try(&tx[k], port, sender(k), false);
    for (size_t i = W0; i < W0 + N_WORK; i++) {
        size_t k = i % IO_SENDERS;

        if (!tx_ok[k]) {
            msgs[i].state = M_LOST;
            out->lost_conn++;
        } else if (!submit_one(&tx[k], &msgs[i], i + 1, out)) {
            tx_ok[k] = false;
        }
    }
    if (tx_ok[0]) {
        tx_ok[0] = submit_one(&tx[0], mark, MARK_A + 1, out);
    } else {
        mark->state = M_LOST;
        out->lost_conn++;
    }
    if (rx_ok && !drain(&rx, mark, 0, mark->state == M_ACKED ? 5000 : 1000,
                        out))
        out->closed = true;
    out->closed |= out->errors > 0 || out->lost_conn > 0;
    for (size_t k = 0; k < IO_SENDERS; k++)
        if (tx[k].fd >= 0)
            rc_close(&tx[k]);
    if (rx.fd >= 0)
        rc_close(&rx);
}

/* What a relay's log line says of a failed file call: SQLite's words for
 * SQLITE_IOERR, SQLITE_FULL and SQLITE_CANTOPEN, the system's for ENOSPC
 * and EIO, the relay's when SQLite fell back to reading only. */
static const char *const fault_words[] = {
    "disk I/O error", "database or disk is full",
    "unable to open database file", "No space left on device",
    "Input/output error", "for writing",
};

/* The first line of the relay's that names the failure, in said. */
static bool names_fault(const char *log, char *said, size_t cap)
{
    char line[1024];

    for (const char *at = log; *at != '\0';) {
        size_t len = strcspn(at, "\n");

        snprintf(line, sizeof line, "%.*s", (int)len, at);
        at += len + (at[len] == '\n');
        if (strncmp(line, "amanat-relay:", 13) != 0)
            continue;
        for (size_t i = 0; i < sizeof fault_words / sizeof *fault_words; i++)
            if (strstr(line, fault_words[i]) != NULL) {
                size_t n = strlen(line) < cap - 1 ? strlen(line) : cap - 1;

                memcpy(said, line, n); /* cut to fit, as a log line may */
                said[n] = '\0';
                return true;
            }
    }
    return false;
}

/* The log of the faulted relay: the shim's line, and the relay's own. */
static void read_fault(const io_paths_t *p, const char *log, io_result_t *out)
{
    static char text[1 << 16];
    char data[240];
    const char *at;

    io_log_read(log, text, sizeof text);
    out->fault_logged = names_fault(text, out->said, sizeof out->said);
    out->commit_failed = strstr(text, "amanat-relay: store: COMMIT: ") != NULL;
    if ((at = strstr(text, "ioerr: injected ")) == NULL)
        return;
    out->injected = true;
    snprintf(out->where, sizeof out->where, "%.*s", (int)strcspn(at, "\n"),
             at);
    snprintf(data, sizeof data, " on %s/", p->data);
    out->folder = strstr(out->where, "(a folder)") != NULL;
    out->store_file = !out->folder && strstr(out->where, data) != NULL;
}

/* Whether the relay has begun to stop by itself (its log says so). */
static bool stopping(const char *log)
{
    static char text[1 << 16];

    io_log_read(log, text, sizeof text);
    return strstr(text, ": stopping\n") != NULL;
}

/* Wait (at most 2 s) until the relay's file calls have been still for
 * 30 ms: the acknowledgements it read last are then committed, or their
 * commit failed and it is stopping. */
static void settle(const char *count)
{
    unsigned long was[IO_NOPS], now[IO_NOPS];
    struct timespec ms5 = {0, 5000000};
    int still = 0;

    if (!io_counts_read(count, was))
        return;
    for (int waited = 0; waited < 2000 && still < 30; waited += 5) {
        nanosleep(&ms5, NULL);
        if (!io_counts_read(count, now))
            return;
        still = memcmp(was, now, sizeof was) == 0 ? still + 5 : 0;
        memcpy(was, now, sizeof was);
    }
}

/* Stop the faulted relay (if it has not stopped itself), noting whether
 * the fault came before the stop.  One that is stopping by itself is
 * left to finish: after it has closed its signal watchers (its last
 * moments; long under ASan, whose leak check runs at exit) a SIGTERM
 * would kill it and hide its exit code. */
static void stop_faulted(const io_paths_t *p, const io_fault_t *f,
                         const char *log, io_relay_t *r, io_result_t *out)
{
    unsigned long before[IO_NOPS] = {0};

    if (!out->closed && f->shim)
        settle(p->count);
    if (io_relay_wait(r, out->closed || stopping(log) ? 10000 : 0))
        out->during = true;
    else if (io_counts_read(p->count, before) && f->op >= 0 &&
             before[f->op] >= f->n)
        out->during = true;
    if (!io_relay_stop(r, 10000))
        violation(out, "the relay did not stop within 10 s of SIGTERM");
    out->status = r->status;
}

/* What the faulted relay must have done: exit, not die; name the failure
 * when it exits non-zero; stop after a failed fsync of its store. */
static void check_faulted(const io_fault_t *f, io_result_t *out)
{
    int st = out->status;

    if (WIFSIGNALED(st))
        violation(out, "the relay died of signal %d", WTERMSIG(st));
    else if (WEXITSTATUS(st) != 0 && !out->injected)
        violation(out, "the relay exited %d with no fault", WEXITSTATUS(st));
    else if (WEXITSTATUS(st) != 0 && !out->fault_logged)
        violation(out, "the relay exited %d with no log line naming the "
                  "failure", WEXITSTATUS(st));
    else if (out->start == IO_START_REFUSED && WEXITSTATUS(st) == 0)
        violation(out, "the relay exited 0 without serving");
    if (out->commit_failed && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        violation(out, "a commit failed and the relay exited 0");
    if (f->op == IO_FSYNC && out->injected && out->during &&
        out->store_file && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        violation(out, "a failed fsync of the store did not stop the relay "
                  "(%s)", out->where);
}

/* Without the shim the relay must open the store, take a new envelope and
 * deliver everything stored before it. */
static void clean_restart(const io_paths_t *p, io_result_t *out)
{
    io_fault_t none = {.shim = false, .op = -1};
    io_result_t marker = {0};
    char log[256];
    io_relay_t r;
    rc_client_t tx = {.fd = -1}, rx = {.fd = -1};

    snprintf(log, sizeof log, "%s/clean.log", dir);
    if (io_relay_start(p, &none, log, &r) != 0) {
        violation(out, "the restart without faults did not serve (status "
                  "%d)", r.status);
        return;
    }
    out->restarted = true;
    if (!connect_try(&tx, r.port, &fr, false) ||
        !submit_one(&tx, &msgs[MARK_B], 1, &marker) || marker.acked != 1)
        violation(out, "the restarted relay did not store a new envelope");
    else if (!connect_try(&rx, r.port, &de, true) ||
             !drain(&rx, &msgs[MARK_B], 1, 10000, out))
        violation(out, "the restarted relay did not deliver up to the new "
                  "envelope");
    if (tx.fd >= 0)
        rc_close(&tx);
    if (rx.fd >= 0)
        rc_close(&rx);
    if (!io_relay_stop(&r, 10000) || !WIFEXITED(r.status) ||
        WEXITSTATUS(r.status) != 0)
        violation(out, "the restarted relay did not stop cleanly (status "
                  "%d)", r.status);
}

static void tally(io_result_t *out)
{
    for (size_t i = 0; i < N_MSG; i++) {
        const msg_t *m = &msgs[i];
        unsigned seen = m->seen[0] + m->seen[1];

        out->duplicated += m->seen[0] > 1 || m->seen[1] > 1;
        if (i == MARK_B)
            continue; /* the clean restart's own */
        out->delivered += seen > 0;
        out->redelivered += m->seen[0] > 0 && m->seen[1] > 0;
        out->lost += m->state == M_ACKED && seen == 0;
        out->stored_unacked += m->state != M_ACKED && seen > 0;
        out->error_stored += m->state == M_ERROR && seen > 0;
    }
    if (out->lost > 0)
        violation(out, "%u acknowledged envelopes lost", out->lost);
    if (out->duplicated > 0)
        violation(out, "%u envelopes delivered twice in one session",
                  out->duplicated);
    if (out->stray > 0)
        violation(out, "%u envelopes delivered that were never submitted",
                  out->stray);
    if (out->hung > 0)
        violation(out, "%u submits unanswered for 10 s on an open "
                  "connection", out->hung);
}

void io_fresh(const io_paths_t *p)
{
    char cmd[256], cert[256];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->io);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mkdir(p->io, 0700), 0);
    assert_int_equal(mkdir(p->certs, 0700), 0);
    snprintf(cert, sizeof cert, "%s/DE-BKA.cert", p->certs);
    assert_int_equal(am_file_write(cert, de.cert, de.cert_len, 0600, false),
                     AM_OK);
    snprintf(cert, sizeof cert, "%s/PK-NCCIA.cert", p->certs);
    assert_int_equal(am_file_write(cert, pk.cert, pk.cert_len, 0600, false),
                     AM_OK);
}

/* The first run that breaks a rule shows both relays' logs. */
static void show_logs(void)
{
    static bool shown;
    static char text[1 << 16];
    const char *logs[] = {"faulted", "clean"};
    char log[256];

    if (shown)
        return;
    shown = true;
    for (size_t i = 0; i < 2; i++) {
        snprintf(log, sizeof log, "%s/%s.log", dir, logs[i]);
        io_log_read(log, text, sizeof text);
        printf("--- %s relay's log ---\n%s", logs[i], text);
    }
}

/* A store made by a relay without faults, holding IO_BEFORE envelopes it
 * acknowledged: the faulted run must not lose them. */
static void make_store(const io_paths_t *p, io_result_t *out)
{
    io_fault_t none = {.shim = false, .op = -1};
    io_result_t before = {0};
    rc_client_t tx = {.fd = -1};
    char log[256];
    io_relay_t r;

    snprintf(log, sizeof log, "%s/before.log", dir);
    assert_int_equal(io_relay_start(p, &none, log, &r), 0);
    assert_true(connect_try(&tx, r.port, &pk, false));
    for (size_t i = 0; i < IO_BEFORE; i++)
        assert_true(submit_one(&tx, &msgs[i], i + 1, &before));
    rc_close(&tx);
    assert_true(io_relay_stop(&r, 10000));
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(before.acked, IO_BEFORE);
    out->before = IO_BEFORE;
}

void io_run(const io_paths_t *p, const io_fault_t *f, bool existing,
            io_result_t *out)
{
    char log[256];
    io_relay_t r;

    memset(out, 0, sizeof *out);
    io_fresh(p);
    make_msgs();
    if (existing)
        make_store(p, out);
    snprintf(log, sizeof log, "%s/faulted.log", dir);
    if (io_relay_start(p, f, log, &r) == 0) {
        out->start = IO_START_LISTENED;
        faulted_work(r.port, out);
        stop_faulted(p, f, log, &r, out);
    } else {
        out->start = IO_START_REFUSED;
        out->status = r.status;
        out->during = true;
    }
    if (f->shim && !io_counts_read(p->count, out->counts))
        violation(out, "the shim left no counts in %s", p->count);
    read_fault(p, log, out);
    check_faulted(f, out);
    clean_restart(p, out);
    tally(out);
    if (out->violations > 0)
        show_logs();
    free_msgs();
}
