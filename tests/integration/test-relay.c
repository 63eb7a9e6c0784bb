/* A real amanat-relay process on 127.0.0.1 (ephemeral port, temporary
 * folder): submit and deliver, priority order, an offline recipient served
 * after a relay restart, idempotent resubmission, a spoofed sender, an
 * unknown recipient, and a foreign-root certificate refused at the
 * handshake.  usage: test-relay PATH/TO/amanat-relay */
#include "../unit/test-util.h"

#define AM_DELIVER_MAX 16

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "fsutil.h"
#include "keyfile.h"
#include "keystore.h"
#include "relay_client.h"
#include "relay_fixture.h"

static void expect_error(Amanat__V1__Frame *f, Amanat__V1__ErrorCode code,
                         const char *text)
{
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_ERROR);
    assert_int_equal(f->error->code, code);
    if (strstr(f->error->message, text) == NULL)
        fail_msg("error \"%s\" does not say \"%s\"", f->error->message, text);
    am_frame_free(f);
}

/* The next Deliver: opened as DE-BKA, its text returned; then acked. */
static void receive_text(rc_client_t *c, char *text, size_t cap)
{
    uint8_t id[AM_MSG_ID_LEN];

    fx_next_deliver(c, text, cap, id);
    fx_ack(c, id);
}

static void test_store_restart_priority(void **state)
{
    const char *texts[3] = {"routine r1", "urgent u1", "emergency e1"};
    int prio[3] = {AM_PRIORITY_ROUTINE, AM_PRIORITY_URGENT,
                   AM_PRIORITY_EMERGENCY};
    uint8_t *env[3];
    size_t len[3];
    rc_client_t c;
    relay_t r = start_relay();
    char got[64];
    Amanat__V1__Frame *f;

    (void)state;
    /* DE-BKA is offline: three envelopes wait at the relay */
    connect_as(&c, r.port, &pk, false);
    for (int i = 0; i < 3; i++) {
        env[i] = seal(&pk, &pk, "DE-BKA", prio[i], texts[i], &len[i]);
        f = submit(&c, env[i], len[i], (uint64_t)(i + 1));
        check_accepted(f, env[i], len[i], (uint64_t)(i + 1));
        am_frame_free(f);
    }
    /* the same envelope again: the same answer, stored once */
    f = submit(&c, env[1], len[1], 9);
    check_accepted(f, env[1], len[1], 9);
    am_frame_free(f);
    rc_close(&c);
    /* what was acknowledged survives a restart */
    stop_relay(&r);
    r = start_relay();
    connect_as(&c, r.port, &de, true);
    receive_text(&c, got, sizeof got);
    assert_string_equal(got, "emergency e1");
    receive_text(&c, got, sizeof got);
    assert_string_equal(got, "urgent u1");
    receive_text(&c, got, sizeof got);
    assert_string_equal(got, "routine r1");
    rc_close(&c);
    /* all acknowledged: nothing comes again */
    connect_as(&c, r.port, &de, true);
    assert_int_equal(rc_recv(&c, 500, &f), AM_EIO);
    rc_close(&c);
    stop_relay(&r);
    /* the three completed messages are in an intact audit chain */
    {
        char cmd[512], out[256] = {0};
        FILE *p;
        snprintf(cmd, sizeof cmd, "'%s' audit verify --data '%s/data'",
                 relay_bin, dir);
        assert_non_null(p = popen(cmd, "r"));
        assert_non_null(fgets(out, sizeof out, p));
        assert_int_equal(pclose(p), 0);
        assert_string_equal(out, "audit: 3 records, chain intact\n");
    }
    for (int i = 0; i < 3; i++)
        am_free(env[i]);
}

/* The handshake on the event loop and on the thread pool (conn_hs.c). */
static const char *const on_loop[] = {"--handshake-offload", "0", NULL};
static const char *const on_pool[] = {"--handshake-offload", "1", NULL};

static void refusals_and_live_delivery(const char *const *flags)
{
    rc_client_t c, rx, bad;
    relay_t r = start_relay_with(flags);
    uint8_t *e;
    size_t len;
    char got[64];
    Amanat__V1__Frame *f;

    connect_as(&c, r.port, &pk, false);
    /* DE-BKA's key speaking in DE-BKA's name, over PK-NCCIA's session */
    e = seal(&de, &de, "DE-BKA", AM_PRIORITY_URGENT, "x", &len);
    expect_error(submit(&c, e, len, 1),
                 AMANAT__V1__ERROR_CODE__ERROR_SPOOFED_SENDER,
                 "is not the authenticated agency");
    am_free(e);
    /* PK-NCCIA's name, DE-BKA's key */
    e = seal(&de, &pk, "DE-BKA", AM_PRIORITY_URGENT, "x", &len);
    expect_error(submit(&c, e, len, 2),
                 AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE,
                 "does not verify");
    am_free(e);
    e = seal(&pk, &pk, "FR-DGSI", AM_PRIORITY_URGENT, "x", &len);
    expect_error(submit(&c, e, len, 3),
                 AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT,
                 "\"FR-DGSI\"");
    am_free(e);
    /* a connected recipient gets a new envelope at once */
    connect_as(&rx, r.port, &de, true);
    e = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_ROUTINE, "live", &len);
    f = submit(&c, e, len, 4);
    check_accepted(f, e, len, 4);
    am_frame_free(f);
    receive_text(&rx, got, sizeof got);
    assert_string_equal(got, "live");
    am_free(e);
    /* a certificate from another federation's root: refused */
    if (rc_connect(&bad, r.port, gb.dh_sk, gb.cert, gb.cert_len, false) == 0) {
        assert_int_equal(rc_recv(&bad, 5000, &f), AM_OK);
        expect_error(f, AMANAT__V1__ERROR_CODE__ERROR_AUTH,
                     "another federation's root");
    }
    rc_close(&bad);
    rc_close(&rx);
    rc_close(&c);
    stop_relay(&r);
}

static void test_refusals_and_live_delivery(void **state)
{
    (void)state;
    refusals_and_live_delivery(on_loop);
    refusals_and_live_delivery(on_pool);
}

/* A sender may keep only so much stored undelivered: past its quota a
 * submit is refused with a sentence naming it, and room comes back as the
 * recipient acknowledges.  Its own store folder, so earlier tests' envelopes
 * do not count. */
static void test_quota(void **state)
{
    char data[128];
    const char *flags[] = {"--data", data, "--quota-messages", "3", NULL};
    rc_client_t c, rx;
    relay_t r;
    uint8_t *e[5];
    size_t len[5];
    char got[64];
    Amanat__V1__Frame *f = NULL;

    (void)state;
    snprintf(data, sizeof data, "%s/data-quota", dir);
    r = start_relay_with(flags);
    connect_as(&c, r.port, &pk, false);
    for (int i = 0; i < 5; i++) {
        char text[16];
        snprintf(text, sizeof text, "q%d", i);
        e[i] = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_ROUTINE, text, &len[i]);
    }
    for (int i = 0; i < 3; i++) {
        f = submit(&c, e[i], len[i], (uint64_t)i + 1);
        check_accepted(f, e[i], len[i], (uint64_t)i + 1);
        am_frame_free(f);
    }
    expect_error(submit(&c, e[3], len[3], 4),
                 AMANAT__V1__ERROR_CODE__ERROR_QUOTA, "quota of 3 envelopes");
    /* the same envelope again is still the same answer, not a quota error */
    f = submit(&c, e[0], len[0], 5);
    check_accepted(f, e[0], len[0], 5);
    am_frame_free(f);
    connect_as(&rx, r.port, &de, true);
    receive_text(&rx, got, sizeof got); /* and acknowledged */
    assert_string_equal(got, "q0");
    /* the acknowledgement commits on the relay's own time: retry a while */
    for (int tries = 0; tries < 100; tries++) {
        f = submit(&c, e[3], len[3], 6);
        if (f->op_case != AMANAT__V1__FRAME__OP_ERROR)
            break;
        expect_error(f, AMANAT__V1__ERROR_CODE__ERROR_QUOTA, "quota");
        f = NULL;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    assert_non_null(f);
    check_accepted(f, e[3], len[3], 6);
    am_frame_free(f);
    expect_error(submit(&c, e[4], len[4], 7),
                 AMANAT__V1__ERROR_CODE__ERROR_QUOTA, "PK-NCCIA");
    for (int i = 0; i < 5; i++)
        am_free(e[i]);
    rc_close(&rx);
    rc_close(&c);
    stop_relay(&r);
}

/* Found by review: an envelope too big to be delivered must be refused at
 * submit; envelopes of a sender that leaves before its commit still reach
 * a connected recipient; a repeated acknowledgement does not release the
 * rest of a batch early. */
static void test_review_findings(void **state)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans;
    Amanat__V1__Submit sub = AMANAT__V1__SUBMIT__INIT;
    rc_client_t c, rx;
    relay_t r = start_relay();
    char *big = malloc(1048000), got[64];
    uint8_t *e;
    size_t len;

    (void)state;
    assert_non_null(big);
    memset(big, 'x', 1047999);
    big[1047999] = '\0';
    connect_as(&c, r.port, &pk, false);
    e = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_URGENT, big, &len);
    expect_error(submit(&c, e, len, 1), AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG,
                 "over this relay's limit");
    am_free(e);
    free(big);
    /* the session goes on after that refusal */
    connect_as(&rx, r.port, &de, true);
    for (uint64_t i = 0; i < 5; i++) {
        e = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_ROUTINE, "sent and gone", &len);
        sub.request_id = 10 + i;
        sub.envelope = (ProtobufCBinaryData){len, e};
        f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
        f.submit = &sub;
        assert_int_equal(rc_send(&c, &f), AM_OK);
        am_free(e);
    }
    rc_close(&c); /* before any answer */
    for (int i = 0; i < 5; i++) {
        receive_text(&rx, got, sizeof got);
        assert_string_equal(got, "sent and gone");
    }
    assert_int_equal(rc_recv(&rx, 300, &ans), AM_EIO);
    rc_close(&rx);
    stop_relay(&r);
}

/* SIGHUP reloads the certificates: an agency added while the relay runs
 * becomes a valid recipient without a restart. */
static void test_sighup_reload(void **state)
{
    rc_client_t c;
    relay_t r = start_relay();
    Amanat__V1__Frame *f = NULL;
    uint8_t *e;
    size_t len;

    (void)state;
    connect_as(&c, r.port, &pk, false);
    e = seal(&pk, &pk, "FR-DGSI", AM_PRIORITY_URGENT, "bonjour", &len);
    expect_error(submit(&c, e, len, 1),
                 AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT, "FR-DGSI");
    fx_serve(&fr);
    kill(r.pid, SIGHUP);
    /* the reload runs off the loop: try again for up to 5 s */
    for (int i = 0; i < 50; i++) {
        struct timespec ts = {0, 100000000};
        f = submit(&c, e, len, (uint64_t)(2 + i));
        if (f->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT)
            break;
        am_frame_free(f);
        f = NULL;
        nanosleep(&ts, NULL);
    }
    assert_non_null(f);
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_SUBMIT_RESULT);
    am_frame_free(f);
    am_free(e);
    rc_close(&c);
    stop_relay(&r);
}

/* The next frame must be a ReceiptRelay of one DELIVERED evidence for
 * DE-BKA, signed by the relay; it is acknowledged. */
static void expect_delivered(rc_client_t *c)
{
    Amanat__V1__Frame *f, ack = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck ra = AMANAT__V1__RECEIPT_ACK__INIT;
    Amanat__V1__EvidenceRef ref = AMANAT__V1__EVIDENCE_REF__INIT, *refs[1];
    Amanat__V1__EvidenceBody *b;
    Amanat__V1__Evidence *e;

    assert_int_equal(rc_recv(c, 5000, &f), AM_OK);
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_RECEIPT_RELAY);
    assert_int_equal(f->receipt_relay->n_evidence, 1);
    e = f->receipt_relay->evidence[0];
    assert_int_equal(am_sign_verify(AM_TAG_EVIDENCE, e->body.data, e->body.len,
                                    e->signature.data, e->signature.len,
                                    relay.sign_pk), AM_OK);
    b = amanat__v1__evidence_body__unpack(NULL, e->body.len, e->body.data);
    assert_non_null(b);
    assert_int_equal(b->kind, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DELIVERED);
    assert_string_equal(b->recipient_id, "DE-BKA");
    ref.kind = b->kind;
    ref.message_id = b->message_id;
    ref.recipient_id = b->recipient_id;
    refs[0] = &ref;
    ra.n_refs = 1;
    ra.refs = refs;
    ack.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
    ack.receipt_ack = &ra;
    assert_int_equal(rc_send(c, &ack), AM_OK);
    amanat__v1__evidence_body__free_unpacked(b, NULL);
    am_frame_free(f);
}

static void drain_notices(rc_client_t *c);

/* Send raw bytes on a fresh connection; 1 when the relay then closed it
 * (read returns 0 or an error) within 5 s, having sent at most some
 * handshake bytes. */
static int closed_after(int port, const uint8_t *bytes, size_t len)
{
    struct sockaddr_in a = {0};
    uint8_t buf[4096];
    int fd = socket(AF_INET, SOCK_STREAM, 0), closed = 0;

    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (write(fd, bytes, len) != (ssize_t)len)
        closed = 1; /* already gone */
    for (int i = 0; i < 50 && !closed; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        if ((n = read(fd, buf, sizeof buf)) <= 0)
            closed = 1;
    }
    close(fd);
    return closed;
}

/* Hostile bytes before authentication: each connection is closed, and an
 * honest agency is served all the same. */
static void hostile_peers(const char *const *flags)
{
    uint8_t junk[600], msg1[34] = {0, 32};
    rc_client_t c;
    relay_t r = start_relay_with(flags);
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *ans;
    Amanat__V1__Ping ping = AMANAT__V1__PING__INIT;

    randombytes_buf(junk, sizeof junk);
    junk[0] = 0xff; /* a 65535-byte handshake message: over the 4096 cap */
    junk[1] = 0xff;
    assert_true(closed_after(r.port, junk, sizeof junk));
    junk[0] = 0;    /* message 1 of 31 bytes */
    junk[1] = 31;
    assert_true(closed_after(r.port, junk, 33));
    /* a well-formed message 1 then garbage as message 3 */
    randombytes_buf(msg1 + 2, 32);
    memcpy(junk, msg1, sizeof msg1);
    junk[34] = 0;
    junk[35] = 200;
    assert_true(closed_after(r.port, junk, 36 + 200));
    connect_as(&c, r.port, &pk, false);
    ping.nonce = 77;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &ping;
    assert_int_equal(rc_send(&c, &f), AM_OK);
    assert_int_equal(rc_recv(&c, 5000, &ans), AM_OK);
    assert_int_equal(ans->op_case, AMANAT__V1__FRAME__OP_PONG);
    assert_int_equal(ans->pong->nonce, 77);
    am_frame_free(ans);
    rc_close(&c);
    stop_relay(&r);
}

static void test_hostile_peers(void **state)
{
    (void)state;
    hostile_peers(on_loop);
    hostile_peers(on_pool);
}

/* An envelope that expires undelivered: the sender is told, with the
 * relay's signature, and the recipient never gets it. */
static void test_expiry_notice(void **state)
{
    am_env_recipient_t to = {"DE-BKA", de.dh_pk, 0};
    am_cert_policy_t pol = {root_pk, time(NULL), 0, NULL};
    am_env_params_t p = {"PK-NCCIA", 0, pk.sign_sk, time(NULL),
                         time(NULL) + 2, AM_PRIORITY_EMERGENCY, NULL, NULL};
    Amanat__V1__Frame *f;
    Amanat__V1__EvidenceBody *b;
    rc_client_t tx, rx;
    relay_t r = start_relay();
    am_cert_t c;
    uint8_t *e;
    size_t len;

    (void)state;
    assert_int_equal(am_cert_verify(pk.cert, pk.cert_len, &pol, &c), AM_OK);
    p.sender_serial = c.serial;
    assert_int_equal(am_env_seal(&p, &to, 1, (const uint8_t *)"too late", 8,
                                 &e, &len), AM_OK);
    connect_as(&tx, r.port, &pk, true);
    drain_notices(&tx);
    f = submit(&tx, e, len, 1);
    check_accepted(f, e, len, 1);
    am_frame_free(f);
    am_free(e);
    /* DE-BKA stays away; within a few seconds the evidence arrives */
    assert_int_equal(rc_recv(&tx, 8000, &f), AM_OK);
    assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_RECEIPT_RELAY);
    assert_int_equal(f->receipt_relay->n_evidence, 1);
    assert_int_equal(am_sign_verify(AM_TAG_EVIDENCE,
                                    f->receipt_relay->evidence[0]->body.data,
                                    f->receipt_relay->evidence[0]->body.len,
                                    f->receipt_relay->evidence[0]->signature.data,
                                    f->receipt_relay->evidence[0]->signature.len,
                                    relay.sign_pk), AM_OK);
    b = amanat__v1__evidence_body__unpack(
        NULL, f->receipt_relay->evidence[0]->body.len,
        f->receipt_relay->evidence[0]->body.data);
    assert_non_null(b);
    assert_int_equal(b->kind, AMANAT__V1__EVIDENCE_KIND__EVIDENCE_EXPIRED);
    assert_string_equal(b->recipient_id, "DE-BKA");
    amanat__v1__evidence_body__free_unpacked(b, NULL);
    am_frame_free(f);
    connect_as(&rx, r.port, &de, true);
    assert_int_equal(rc_recv(&rx, 500, &f), AM_EIO);
    rc_close(&rx);
    rc_close(&tx);
    stop_relay(&r);
}

/* Acknowledge every ReceiptRelay already owed to c (from earlier tests). */
static void drain_notices(rc_client_t *c)
{
    Amanat__V1__Frame *f, ack = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck ra = AMANAT__V1__RECEIPT_ACK__INIT;

    while (rc_recv(c, 500, &f) == AM_OK) {
        Amanat__V1__EvidenceRef refs[AM_DELIVER_MAX], *rp[AM_DELIVER_MAX];

        assert_int_equal(f->op_case, AMANAT__V1__FRAME__OP_RECEIPT_RELAY);
        assert_true(f->receipt_relay->n_evidence <= AM_DELIVER_MAX);
        for (size_t i = 0; i < f->receipt_relay->n_evidence; i++) {
            Amanat__V1__Evidence *e = f->receipt_relay->evidence[i];
            Amanat__V1__EvidenceBody *b = amanat__v1__evidence_body__unpack(
                NULL, e->body.len, e->body.data);
            assert_non_null(b);
            amanat__v1__evidence_ref__init(&refs[i]);
            refs[i].kind = b->kind;
            refs[i].message_id.len = b->message_id.len;
            refs[i].message_id.data = malloc(b->message_id.len);
            memcpy(refs[i].message_id.data, b->message_id.data,
                   b->message_id.len);
            refs[i].recipient_id = strdup(b->recipient_id);
            rp[i] = &refs[i];
            amanat__v1__evidence_body__free_unpacked(b, NULL);
        }
        ra.n_refs = f->receipt_relay->n_evidence;
        ra.refs = rp;
        ack.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
        ack.receipt_ack = &ra;
        assert_int_equal(rc_send(c, &ack), AM_OK);
        for (size_t i = 0; i < ra.n_refs; i++) {
            free(refs[i].message_id.data);
            free(refs[i].recipient_id);
        }
        am_frame_free(f);
    }
}

/* The sender learns, with the relay's signature, that its envelope was
 * delivered: at once when connected, or when it next connects. */
static void test_delivered_evidence(void **state)
{
    rc_client_t tx, rx;
    relay_t r = start_relay();
    Amanat__V1__Frame *f;
    char got[64];
    uint8_t *e;
    size_t len;

    (void)state;
    connect_as(&tx, r.port, &pk, true);
    drain_notices(&tx);
    connect_as(&rx, r.port, &de, true);
    e = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_URGENT, "tracked", &len);
    f = submit(&tx, e, len, 1);
    check_accepted(f, e, len, 1);
    am_frame_free(f);
    am_free(e);
    receive_text(&rx, got, sizeof got);
    expect_delivered(&tx);
    rc_close(&tx);
    /* offline sender: the evidence waits for it */
    connect_as(&tx, r.port, &pk, false);
    e = seal(&pk, &pk, "DE-BKA", AM_PRIORITY_URGENT, "tracked 2", &len);
    f = submit(&tx, e, len, 2);
    am_frame_free(f);
    am_free(e);
    rc_close(&tx);
    receive_text(&rx, got, sizeof got);
    assert_string_equal(got, "tracked 2");
    connect_as(&tx, r.port, &pk, true);
    expect_delivered(&tx);
    rc_close(&tx);
    /* acknowledged: not sent again */
    connect_as(&tx, r.port, &pk, true);
    assert_int_equal(rc_recv(&tx, 500, &f), AM_EIO);
    rc_close(&tx);
    rc_close(&rx);
    stop_relay(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_store_restart_priority,
                                  fx_kill_leftovers),
        cmocka_unit_test_teardown(test_refusals_and_live_delivery,
                                  fx_kill_leftovers),
        cmocka_unit_test_teardown(test_review_findings, fx_kill_leftovers),
        cmocka_unit_test_teardown(test_sighup_reload, fx_kill_leftovers),
        cmocka_unit_test_teardown(test_delivered_evidence, fx_kill_leftovers),
        cmocka_unit_test_teardown(test_expiry_notice, fx_kill_leftovers),
        cmocka_unit_test_teardown(test_hostile_peers, fx_kill_leftovers),
        cmocka_unit_test_teardown(test_quota, fx_kill_leftovers),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/amanat-relay\n", argv[0]);
        return 2;
    }
    relay_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, fx_federation, fx_cleanup);
}
