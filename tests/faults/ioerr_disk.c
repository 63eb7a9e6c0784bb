/* A real full disk (ioerr_disk.h): the relay's data folder on a 1 MiB
 * tmpfs of its own.  PK-NCCIA submits 8 KiB envelopes one at a time until
 * the store cannot grow: from then on a submit must get an Error frame
 * (or find the relay gone), never an ack, and a relay that stops must
 * exit non-zero naming the failure.  The relay is restarted once on the
 * full disk (it must serve or refuse with such a line, not crash); then
 * the tmpfs grows (remount to 16 MiB: room for the deliveries' own
 * commits too) and it restarts again: every acknowledged envelope must
 * reach DE-BKA, once. */
#define _GNU_SOURCE /* unshare: a mount namespace of the test's own */
#include "ioerr_disk.h"

#include "../unit/test-util.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "relay_fixture.h"

#define DISK_BYTES (1024 * 1024)
#define GROWN "size=16m"
#define BODY_BYTES 8000
#define MAX_SUBMITS 1000 /* 8 MB: far past what 1 MiB holds */
#define REFUSALS 3       /* refusals in a row that say the disk is full */

static char mnt[192];
static bool mounted;
static uint8_t acked[MAX_SUBMITS + 1][AM_MSG_ID_LEN];
static size_t n_acked;

int io_full_disk_teardown(void **state)
{
    (void)io_relay_kill_all(state);
    if (mounted && umount2(mnt, MNT_DETACH) == 0)
        mounted = false;
    return 0;
}

static bool mount_disk(void)
{
    char opts[64];

    snprintf(mnt, sizeof mnt, "%s/disk", dir);
    assert_true(mkdir(mnt, 0700) == 0 || errno == EEXIST);
    snprintf(opts, sizeof opts, "size=%d,mode=0700", DISK_BYTES);
    /* in a mount namespace of the test's own, when it may have one: the
     * tmpfs then goes with the test and its relays, however they end
     * (ctest's timeout runs no teardown) */
    if (unshare(CLONE_NEWNS) == 0 &&
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        fail_msg("mount namespace: cannot make / private: %s",
                 strerror(errno));
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
        printf("ioerr: full disk: SKIPPED, not faked: mount -t tmpfs on %s "
               "refused: %s (needs root with CAP_SYS_ADMIN)\n", mnt,
               strerror(errno));
        return false;
    }
    mounted = true;
    return true;
}

/* Room again, as an operator would make it: a bigger volume. */
static void grow_disk(void)
{
    if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV,
              GROWN) != 0)
        fail_msg("remount %s with %s: %s", mnt, GROWN, strerror(errno));
}

/* An 8 KiB envelope from PK-NCCIA to DE-BKA (prio: the marker is routine,
 * the rest urgent, so the marker is delivered last). */
static uint8_t *body_env(int prio, size_t *len, uint8_t id[AM_MSG_ID_LEN])
{
    static char text[BODY_BYTES + 1];
    uint8_t *env;
    am_env_t *e;

    memset(text, 'x', BODY_BYTES);
    env = seal(&pk, &pk, "DE-BKA", prio, text, len);
    assert_int_equal(am_env_parse(env, *len, AM_ENV_MAX, &e), AM_OK);
    memcpy(id, am_env_claimed_id(e), AM_MSG_ID_LEN);
    am_env_free(e);
    return env;
}

typedef struct {
    unsigned acked, errors, lost;
} fill_t;

/* Submit until REFUSALS in a row are refused or the relay is gone. */
static void fill(int port, fill_t *out)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;
    unsigned refused = 0;
    rc_client_t c;

    connect_as(&c, port, &pk, false);
    for (uint64_t i = 1; i <= MAX_SUBMITS && refused < REFUSALS; i++) {
        uint8_t id[AM_MSG_ID_LEN], *env;
        size_t len;

        env = body_env(AM_PRIORITY_URGENT, &len, id);
        s.request_id = i;
        s.envelope = (ProtobufCBinaryData){len, env};
        f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
        f.submit = &s;
        if (rc_send(&c, &f) != 0 || rc_recv(&c, 10000, &ans) != 0) {
            out->lost++; /* the relay stopped */
            am_free(env);
            break;
        }
        if (ans->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT) {
            check_accepted(ans, env, len, i);
            memcpy(acked[n_acked++], id, AM_MSG_ID_LEN);
            out->acked++;
            refused = 0; /* acks after a refusal: room came back */
        } else {
            assert_int_equal(ans->op_case, AMANAT__V1__FRAME__OP_ERROR);
            assert_int_equal(ans->error->code,
                             AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE);
            out->errors++;
            refused++;
        }
        am_frame_free(ans);
        am_free(env);
    }
    rc_close(&c);
}

/* Whether a line of the relay's log names a full disk. */
static bool log_says_full(const char *log)
{
    static char text[1 << 16];

    io_log_read(log, text, sizeof text);
    return strstr(text, "amanat-relay: ") != NULL &&
           (strstr(text, "database or disk is full") != NULL ||
            strstr(text, "No space left on device") != NULL);
}

/* After the disk filled: a relay still serving stops cleanly on SIGTERM;
 * one that stopped by itself exited non-zero and said why.  The words
 * for the figures. */
static const char *judge_stop(io_relay_t *r, const char *log)
{
    if (!io_relay_wait(r, 5000)) {
        assert_true(io_relay_stop(r, 10000));
        assert_true(WIFEXITED(r->status));
        assert_int_equal(WEXITSTATUS(r->status), 0);
        return "kept serving, stopped cleanly on SIGTERM";
    }
    if (!WIFEXITED(r->status))
        fail_msg("relay on a full disk died of signal %d",
                 WTERMSIG(r->status));
    assert_int_not_equal(WEXITSTATUS(r->status), 0);
    if (!log_says_full(log))
        fail_msg("relay on a full disk exited %d without saying the disk "
                 "is full", WEXITSTATUS(r->status));
    return "stopped itself, exit 3, log names the full disk";
}

/* Restart on the still full disk: it serves (and refuses or takes one
 * more envelope), or exits non-zero saying why; never crashes. */
static const char *restart_full(const io_paths_t *p, const char *log)
{
    io_fault_t none = {.shim = false, .op = -1};
    fill_t one = {0};
    io_relay_t r;

    if (io_relay_start(p, &none, log, &r) != 0) {
        assert_true(WIFEXITED(r.status));
        assert_int_not_equal(WEXITSTATUS(r.status), 0);
        assert_true(log_says_full(log));
        return "refused to start, exit non-zero, log names the full disk";
    }
    fill(r.port, &one);
    (void)judge_stop(&r, log);
    return one.acked > 0 ? "served, took more (room was left)"
                         : "served, refused more";
}

static bool was_acked(const uint8_t id[AM_MSG_ID_LEN])
{
    for (size_t i = 0; i < n_acked; i++)
        if (memcmp(acked[i], id, AM_MSG_ID_LEN) == 0)
            return true;
    return false;
}

/* DE-BKA takes everything up to the marker; counts per id in seen. */
static void drain_all(int port, const uint8_t marker[AM_MSG_ID_LEN],
                      unsigned *seen, unsigned *unacked)
{
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    Amanat__V1__Frame *f;
    am_cert_t cert;
    rc_client_t c;
    bool done = false;

    assert_int_equal(am_cert_verify(pk.cert, pk.cert_len, &pol, &cert), AM_OK);
    connect_as(&c, port, &de, true);
    while (!done && rc_recv(&c, 10000, &f) == 0) {
        uint8_t id[AM_MSG_ID_LEN];
        am_env_t *env;

        assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_DELIVER);
        assert_int_equal(am_env_parse(f->deliver->envelope.data,
                                      f->deliver->envelope.len, AM_ENV_MAX,
                                      &env), AM_OK);
        assert_int_equal(am_env_verify(env, &cert), AM_OK);
        memcpy(id, am_env_message_id(env), AM_MSG_ID_LEN);
        am_env_free(env);
        am_frame_free(f);
        done = memcmp(id, marker, AM_MSG_ID_LEN) == 0;
        for (size_t i = 0; i < n_acked; i++)
            seen[i] += memcmp(acked[i], id, AM_MSG_ID_LEN) == 0;
        *unacked += !done && !was_acked(id);
        fx_ack(&c, id);
    }
    rc_close(&c);
    assert_true(done); /* the marker came: nothing is left before it */
}

/* Room again: the store opens, takes a marker, delivers everything. */
static void deliver_after(const io_paths_t *p, const char *log)
{
    static unsigned seen[MAX_SUBMITS + 1];
    io_fault_t none = {.shim = false, .op = -1};
    uint8_t marker[AM_MSG_ID_LEN], *env;
    unsigned lost = 0, dup = 0, unacked = 0;
    Amanat__V1__Frame *ans;
    io_relay_t r;
    rc_client_t c;
    size_t len;

    assert_int_equal(io_relay_start(p, &none, log, &r), 0);
    connect_as(&c, r.port, &pk, false);
    env = body_env(AM_PRIORITY_ROUTINE, &len, marker);
    ans = submit(&c, env, len, 1);
    check_accepted(ans, env, len, 1);
    am_frame_free(ans);
    am_free(env);
    rc_close(&c);
    memset(seen, 0, sizeof seen);
    drain_all(r.port, marker, seen, &unacked);
    assert_true(io_relay_stop(&r, 10000));
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    for (size_t i = 0; i < n_acked; i++) {
        lost += seen[i] == 0;
        dup += seen[i] > 1;
    }
    printf("ioerr: full disk: grown to 16 MiB, restarted: delivered %zu/%zu "
           "acknowledged (and %u unacknowledged that were stored), lost %u, "
           "duplicated %u\n", n_acked - lost, n_acked, unacked, lost, dup);
    assert_int_equal(lost, 0);
    assert_int_equal(dup, 0);
}

void io_full_disk(const io_paths_t *sweep)
{
    io_fault_t none = {.shim = false, .op = -1};
    io_paths_t p = *sweep;
    char log[256];
    const char *stop, *again;
    fill_t fl = {0};
    io_relay_t r;

    if (!mount_disk())
        return;
    n_acked = 0;
    snprintf(p.io, sizeof p.io, "%s", mnt);
    snprintf(p.data, sizeof p.data, "%s/data", mnt);
    snprintf(p.certs, sizeof p.certs, "%s/certs", dir);
    snprintf(log, sizeof log, "%s/disk.log", dir);
    assert_int_equal(io_relay_start(&p, &none, log, &r), 0);
    fill(r.port, &fl);
    stop = judge_stop(&r, log);
    printf("ioerr: full disk (tmpfs %d KiB, envelopes of %d "
           "bytes): acked %u, then error frames %u, connection lost %u; "
           "relay %s\n", DISK_BYTES / 1024, BODY_BYTES,
           fl.acked, fl.errors, fl.lost, stop);
    assert_true(fl.acked > 0);               /* it stored until full */
    assert_true(fl.errors + fl.lost > 0);    /* and then refused */
    again = restart_full(&p, log);
    printf("ioerr: full disk: restarted while still full: %s\n", again);
    grow_disk();
    deliver_after(&p, log);
    assert_int_equal(umount2(mnt, 0), 0);
    mounted = false;
}
