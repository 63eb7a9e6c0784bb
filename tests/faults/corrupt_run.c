/* The moving parts of the corruption test (corrupt.h): damage, a relay
 * that may refuse to start, and the clients that count what it does. */
#include "corrupt.h"

#include "../unit/test-util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cert.h"
#include "err.h"
#include "relay_fixture.h"
#include "sign.h"

size_t cr_text(size_t i, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "corrupt test message %zu: ", i);
    size_t want = i % 7 == 3 ? 5000 : 200 + (i * 37) % 300;

    while (n < want && n + 1 < cap) {
        out[n] = (char)('a' + (i + n) % 26);
        n++;
    }
    out[n] = '\0';
    return n;
}

void cr_damage(const char *path, long off, int bit)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    assert_true(fd >= 0);
    if (bit < 0) {
        assert_int_equal(ftruncate(fd, off), 0);
    } else {
        assert_int_equal(pread(fd, &b, 1, off), 1);
        b ^= (uint8_t)(1u << bit);
        assert_int_equal(pwrite(fd, &b, 1, off), 1);
    }
    assert_int_equal(close(fd), 0);
}

/* The child: its stdout to the pipe, its stderr to the log. */
static void child(int wfd, const char *log, pid_t parent)
{
    char config[160];
    const char *argv[] = {relay_bin, "--config", config, "--host",
                          "127.0.0.1", "--port", "0", NULL};
    int fd;

    snprintf(config, sizeof config, "%s/relay.ini", dir);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dup2(wfd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(127);
    execv(relay_bin, (char *const *)argv);
    _exit(127);
}

static void reap(pid_t pid)
{
    for (int i = 0; i < 1000; i++) {
        struct timespec ts = {0, 10000000};

        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

pid_t cr_start(const char *log, int *port)
{
    char line[256] = {0};
    size_t n = 0;
    pid_t pid, parent = getpid();
    int fds[2];

    *port = 0;
    assert_int_equal(pipe(fds), 0);
    if ((pid = fork()) == 0) {
        close(fds[0]);
        child(fds[1], log, parent);
    }
    assert_true(pid > 0);
    close(fds[1]);
    while (n < sizeof line - 1 && strchr(line, '\n') == NULL) {
        struct pollfd p = {fds[0], POLLIN, 0};
        ssize_t got;

        if (poll(&p, 1, 20000) <= 0 ||
            (got = read(fds[0], line + n, sizeof line - 1 - n)) <= 0)
            break;
        n += (size_t)got;
    }
    close(fds[0]);
    if (sscanf(line, "amanat-relay: listening on 127.0.0.1:%d", port) != 1) {
        *port = 0;
        reap(pid); /* it refused to start: it exits by itself */
    }
    return pid;
}

bool cr_stop(pid_t pid)
{
    int status = -1;

    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        struct timespec ts = {0, 10000000};

        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return false;
}

bool cr_log_has(const char *log, const char *s)
{
    static char text[1 << 16];
    FILE *f = fopen(log, "r");
    size_t n;

    if (f == NULL)
        return false;
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, s) != NULL;
}

void cr_log_print(const char *log, const char *s)
{
    char line[512];
    FILE *f = fopen(log, "r");

    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strstr(line, s) != NULL)
            printf("#   %s", line);
    if (f != NULL)
        fclose(f);
}

static long find(const cr_msgs_t *msgs, const uint8_t *id, size_t len)
{
    for (size_t i = 0; len == AM_MSG_ID_LEN && i < msgs->m; i++)
        if (memcmp(msgs->id[i], id, AM_MSG_ID_LEN) == 0)
            return (long)i;
    return -1;
}

/* One piece of the relay's evidence: signed by it, about one of ours,
 * naming the envelope we sent; DAMAGED or EXPIRED for a message not
 * delivered, DELIVERED (in a second pass) only for one that was. */
static void one_evidence(const Amanat__V1__Evidence *e, const cr_msgs_t *msgs,
                         cr_seen_t *seen)
{
    Amanat__V1__EvidenceBody *b = NULL;
    long i;

    if (am_sign_verify(AM_TAG_EVIDENCE, e->body.data, e->body.len,
                       e->signature.data, e->signature.len,
                       relay.sign_pk) != AM_OK ||
        (b = amanat__v1__evidence_body__unpack(NULL, e->body.len,
                                               e->body.data)) == NULL ||
        (i = find(msgs, b->message_id.data, b->message_id.len)) < 0 ||
        b->envelope_hash.len != AM_HASH_LEN ||
        /* DAMAGED evidence names the hash the relay held, which may be
         * the damaged part (docs/PROTOCOL.md section 13) */
        (memcmp(b->envelope_hash.data, msgs->hash[i], AM_HASH_LEN) != 0 &&
         b->kind != AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DAMAGED) ||
        strcmp(b->recipient_id, "DE-BKA") != 0 ||
        (b->kind != AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DAMAGED &&
         b->kind != AMANAT__V1__EVIDENCE_KIND__EVIDENCE_EXPIRED &&
         (b->kind != AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DELIVERED ||
          seen->fate[i] != CR_DELIVERED))) {
        seen->bad_evidence++;
    } else if (b->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DELIVERED) {
        /* the second pass: what DE-BKA acknowledged */
    } else if (seen->fate[i] == CR_DELIVERED) {
        seen->contradictions++;
    } else {
        seen->other_hash += memcmp(b->envelope_hash.data, msgs->hash[i],
                                   AM_HASH_LEN) != 0;
        seen->fate[i] = b->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DAMAGED
                            ? CR_DAMAGED
                            : CR_EXPIRED;
    }
    if (b != NULL)
        amanat__v1__evidence_body__free_unpacked(b, NULL);
}

/* Acknowledge a ReceiptRelay so that the next batch comes. */
static void ack_receipts(rc_client_t *c, const Amanat__V1__ReceiptRelay *rr)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck ra = AMANAT__V1__RECEIPT_ACK__INIT;
    Amanat__V1__EvidenceRef refs[64], *rp[64];
    Amanat__V1__EvidenceBody *b[64];
    size_t n = 0;

    for (size_t i = 0; i < rr->n_evidence && n < 64; i++) {
        b[n] = amanat__v1__evidence_body__unpack(
            NULL, rr->evidence[i]->body.len, rr->evidence[i]->body.data);
        if (b[n] == NULL)
            continue;
        amanat__v1__evidence_ref__init(&refs[n]);
        refs[n].kind = b[n]->kind;
        refs[n].message_id = b[n]->message_id;
        refs[n].recipient_id = b[n]->recipient_id;
        rp[n] = &refs[n];
        n++;
    }
    ra.n_refs = n;
    ra.refs = rp;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
    f.receipt_ack = &ra;
    assert_int_equal(rc_send(c, &f), AM_OK);
    for (size_t i = 0; i < n; i++)
        amanat__v1__evidence_body__free_unpacked(b[i], NULL);
}

static void sender_side(int port, const cr_msgs_t *msgs, cr_seen_t *seen)
{
    Amanat__V1__Frame *f;
    rc_client_t c;

    connect_as(&c, port, &pk, true);
    while (rc_recv(&c, 300, &f) == AM_OK) {
        if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_RELAY) {
            for (size_t i = 0; i < f->receipt_relay->n_evidence; i++)
                one_evidence(f->receipt_relay->evidence[i], msgs, seen);
            ack_receipts(&c, f->receipt_relay);
        }
        am_frame_free(f);
    }
    rc_close(&c);
}

/* One delivery: it must verify as PK-NCCIA's, open for DE-BKA and hold
 * the text we sealed for its id. */
static long one_delivery(const Amanat__V1__Deliver *d, const am_cert_t *snd,
                         const cr_msgs_t *msgs)
{
    static char want[8192];
    am_env_t *env = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0, n;
    long i = -1;

    if (am_env_parse(d->envelope.data, d->envelope.len, AM_ENV_MAX, &env) ==
            AM_OK &&
        am_env_verify(env, snd) == AM_OK &&
        am_env_open(env, "DE-BKA", de.dh_sk, &plain, &plain_len) == AM_OK &&
        (i = find(msgs, am_env_message_id(env), AM_MSG_ID_LEN)) >= 0) {
        n = cr_text((size_t)i, want, sizeof want);
        if (n != plain_len || memcmp(want, plain, n) != 0)
            i = -1;
    }
    am_free(plain);
    am_env_free(env);
    return i;
}

static bool all_seen(const cr_msgs_t *msgs, const cr_seen_t *seen)
{
    for (size_t i = 0; i < msgs->m; i++)
        if (seen->fate[i] == CR_NONE)
            return false;
    return true;
}

static void recipient_side(int port, const cr_msgs_t *msgs, cr_seen_t *seen)
{
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    Amanat__V1__Frame *f;
    am_cert_t snd;
    rc_client_t c;
    long i;

    assert_int_equal(am_cert_verify(pk.cert, pk.cert_len, &pol, &snd), AM_OK);
    connect_as(&c, port, &de, true);
    /* until every message is accounted for, or 1 s without a delivery */
    while (!all_seen(msgs, seen) && rc_recv(&c, 1000, &f) == AM_OK) {
        if (f->op_case != AMANAT__V1__FRAME__OP_DELIVER) {
            am_frame_free(f);
            continue;
        }
        if ((i = one_delivery(f->deliver, &snd, msgs)) < 0)
            seen->bad_deliveries++;
        else if (seen->fate[i] == CR_DAMAGED || seen->fate[i] == CR_EXPIRED)
            seen->contradictions++;
        else
            seen->fate[i] = CR_DELIVERED;
        /* acknowledge even a bad one, by the id it claims, so that it
         * does not come again */
        if (f->deliver->envelope.len > 0) {
            am_env_t *env = NULL;

            if (am_env_parse(f->deliver->envelope.data,
                             f->deliver->envelope.len, AM_ENV_MAX,
                             &env) == AM_OK)
                fx_ack(&c, am_env_claimed_id(env));
            am_env_free(env);
        }
        am_frame_free(f);
    }
    rc_close(&c);
}

void cr_collect(int port, const cr_msgs_t *msgs, cr_seen_t *seen)
{
    /* the sender first: nothing is delivered yet, so all it is owed is
     * what the store check found (and any expiry) */
    sender_side(port, msgs, seen);
    recipient_side(port, msgs, seen);
    /* a pause of the sender's 300 ms window on a loaded machine must not
     * pass for a loss: what is still unaccounted for, asked again */
    if (!all_seen(msgs, seen))
        sender_side(port, msgs, seen);
}
