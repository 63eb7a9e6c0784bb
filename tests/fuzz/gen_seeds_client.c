/* The seeds of fuzz_client_receive and fuzz_client_ini, for
 * fuzz_gen_seeds: DIR/<target>, in the layouts described at the top of
 * each target.  The envelopes, receipts and evidence come from the fixed
 * parts of fuzz_client.h, so they verify in the target: a receipt and
 * evidence about the message the client's store holds as sent, a reply
 * naming it. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "case.pb-c.h"
#include "evidence.h"
#include "frame.h"
#include "fuzz_client.h"
#include "gen_seeds.h"
#include "receipt.h"

#define RX "fuzz_client_receive"
#define INI "fuzz_client_ini"
#define PRIO(p) ((unsigned)(p) << AM_FZ_SEAL_PRIO_SHIFT)

enum { C_NOTE, C_RECEIPT_ACK, C_RECEIPT_REFUSED, C_REPLY, C_REPLY_OTHER };

static void put_owned(seed_t *s, uint8_t *p, size_t n)
{
    put(s, p, n);
    am_free(p);
}

/* PK-NCCIA's signed receipt about the message DE-BKA sent. */
static uint8_t *signed_receipt(int status, size_t *len)
{
    const am_fz_agency_t *a = &am_fz_fed()->ag[AM_FZ_SENDER];
    const am_fzc_fix_t *x = am_fzc_fix();
    am_env_t *env = NULL;
    am_receipt_t r;
    uint8_t *out = NULL;

    if (am_env_parse(x->sent, x->sent_len, AM_ENV_MAX, &env) != 0 ||
        am_env_verify(env, &am_fz_fed()->ag[AM_FZC_ME].cert) != 0 ||
        am_receipt_for(env, a->id, status, AM_FZ_NOW + 60,
                       status == AM_RECEIPT_REFUSED ? "no legal basis" : NULL,
                       &r) != 0 ||
        am_receipt_sign(&r, a->sign_sk, &out, len) != 0)
        die("signed receipt");
    am_env_free(env);
    return out;
}

/* The case messages the seeds carry, serialized (am_free). */
static uint8_t *content(int which, size_t *len)
{
    Amanat__V1__CaseMessage m = AMANAT__V1__CASE_MESSAGE__INIT;
    Amanat__V1__CaseNotification n = AMANAT__V1__CASE_NOTIFICATION__INIT;
    Amanat__V1__Reply rep = AMANAT__V1__REPLY__INIT;
    Amanat__V1__CaseReference ref = AMANAT__V1__CASE_REFERENCE__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Timestamp dl = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Amanat__V1__SignedReceipt *sr = NULL;
    char hex[2 * AM_MSG_ID_LEN + 1];
    uint8_t *b, *out;
    size_t blen;

    m.schema_version = 1;
    ts.seconds = AM_FZ_NOW;
    m.created_at = &ts;
    if (which == C_NOTE) {
        ref.sender_ref = "NCCIA/2026/881";
        m.case_ref = &ref;
        dl.seconds = AM_FZ_NOW + 86400;
        m.deadline = &dl;
        n.summary = "fuzz: a notification";
        m.body_case = AMANAT__V1__CASE_MESSAGE__BODY_NOTIFICATION;
        m.notification = &n;
    } else if (which == C_REPLY || which == C_REPLY_OTHER) {
        /* to our request, or to a message that is not ours */
        sodium_bin2hex(hex, sizeof hex, which == C_REPLY
                       ? am_fzc_fix()->sent_id
                       : (const uint8_t *)"not our request.", AM_MSG_ID_LEN);
        rep.in_reply_to = hex;
        rep.status = AMANAT__V1__REPLY_STATUS__REPLY_STATUS_ANSWERED;
        rep.explanation = "records attached";
        m.body_case = AMANAT__V1__CASE_MESSAGE__BODY_REPLY;
        m.reply = &rep;
    } else {
        b = signed_receipt(which == C_RECEIPT_ACK ? AM_RECEIPT_ACKNOWLEDGED
                                                  : AM_RECEIPT_REFUSED,
                           &blen);
        if ((sr = amanat__v1__signed_receipt__unpack(NULL, blen, b)) == NULL)
            die("receipt");
        am_free(b);
        m.body_case = AMANAT__V1__CASE_MESSAGE__BODY_RECEIPT;
        m.receipt = sr;
    }
    *len = protobuf_c_message_get_packed_size(&m.base);
    if ((out = am_malloc(*len)) == NULL)
        die("content");
    protobuf_c_message_pack(&m.base, out);
    if (sr != NULL)
        amanat__v1__signed_receipt__free_unpacked(sr, NULL);
    return out;
}

static void put_frame(seed_t *s, const Amanat__V1__Frame *f)
{
    uint8_t *b;
    size_t len;

    if (am_fzc_frame_bytes(f, &b, &len) != 0)
        die("frame");
    put_owned(s, b, len);
}

/* A relay's evidence body about the sent message (am_free). */
static uint8_t *relay_body(const char *relay, int kind, const char *rcpt,
                           size_t *len)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    uint8_t *b;

    if (am_fzc_evidence_body(kind, x->sent_id, x->sent_hash, relay, rcpt,
                             AM_FZ_NOW + 30, &b, len) != 0)
        die("evidence body");
    return b;
}

/* DE-RELAY's. */
static uint8_t *sent_body(int kind, const char *rcpt, size_t *len)
{
    return relay_body(AM_FZC_RELAY_ID, kind, rcpt, len);
}

/* mode 0: a Deliver frame of PK-NCCIA's envelope with its evidence. */
static void frame_deliver_seed(const char *name, int which, unsigned seed)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Deliver d = AMANAT__V1__DELIVER__INIT;
    Amanat__V1__Evidence e;
    static seed_t s; /* 256 KiB: not on the stack */
    uint8_t *c, *env, *body, sig[AM_SIG_LEN];
    size_t clen, len, blen;
    am_env_t *pe = NULL;

    s.len = 0;
    c = content(which, &clen);
    if (am_fz_seal_at(PRIO(AM_PRIORITY_ROUTINE), seed, AM_FZ_NOW,
                      AM_FZ_NOW + 7 * 86400, c, clen, &env, &len) != 0 ||
        am_env_parse(env, len, AM_ENV_MAX, &pe) != 0 ||
        am_env_verify(pe, &am_fz_fed()->ag[AM_FZ_SENDER].cert) != 0 ||
        am_fzc_evidence_body(AM_EVIDENCE_ACCEPTED, am_env_message_id(pe),
                             am_env_hash(pe), AM_FZC_RELAY_ID, NULL,
                             AM_FZ_NOW, &body, &blen) != 0)
        die("sealed envelope");
    am_fzc_evidence(&e, body, blen, am_fzc_fix()->relay_sign_sk, sig);
    d.envelope = (ProtobufCBinaryData){len, env};
    d.accepted = &e;
    f.op_case = AMANAT__V1__FRAME__OP_DELIVER;
    f.deliver = &d;
    put_u8(&s, 0x00);
    put_frame(&s, &f);
    write_seed(RX, name, &s);
    am_env_free(pe);
    am_free(body);
    am_free(env);
    am_free(c);
}

static void frame_receipt_relay_seed(void)
{
    static const struct { int kind; const char *rcpt; } ev[] = {
        {AM_EVIDENCE_DELIVERED, "PK-NCCIA"},
        {AM_EVIDENCE_EXPIRED, "PH-NBI"},
        {AM_EVIDENCE_ACCEPTED, NULL},
    };
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptRelay r = AMANAT__V1__RECEIPT_RELAY__INIT;
    Amanat__V1__Evidence e[3], *ep[3];
    uint8_t *body[3], sig[3][AM_SIG_LEN];
    size_t blen[3];
    static seed_t s; /* 256 KiB: not on the stack */

    s.len = 0;
    for (int i = 0; i < 3; i++) {
        body[i] = sent_body(ev[i].kind, ev[i].rcpt, &blen[i]);
        am_fzc_evidence(&e[i], body[i], blen[i],
                        am_fzc_fix()->relay_sign_sk, sig[i]);
        ep[i] = &e[i];
    }
    r.n_evidence = 3;
    r.evidence = ep;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_RELAY;
    f.receipt_relay = &r;
    put_u8(&s, 0x00);
    put_frame(&s, &f);
    write_seed(RX, "frame-receipt-relay", &s);
    for (int i = 0; i < 3; i++)
        am_free(body[i]);
}

/* mode 1, with the script (a Frame) when one is given. */
static void sealed_seed(const char *name, unsigned flags, unsigned how,
                        unsigned seed, unsigned ek, int which,
                        const Amanat__V1__Frame *script)
{
    static seed_t s, sc; /* 256 KiB each: not on the stack */
    uint8_t *c;
    size_t clen;

    s.len = sc.len = 0;
    put_u8(&s, 0x01 | flags | (script != NULL ? 0x04 : 0));
    if (script != NULL) {
        put_frame(&sc, script);
        put_be16(&s, sc.len);
        put(&s, sc.b, sc.len);
    }
    put_u8(&s, how);
    put_u8(&s, seed);
    put_u8(&s, ek);
    c = content(which, &clen);
    put_owned(&s, c, clen);
    write_seed(RX, name, &s);
}

static void scripted_seeds(void)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Error err = AMANAT__V1__ERROR__INIT;
    Amanat__V1__DirectoryResult dr = AMANAT__V1__DIRECTORY_RESULT__INIT;
    Amanat__V1__DirectoryEntry de = AMANAT__V1__DIRECTORY_ENTRY__INIT, *dp;
    const am_fzc_fix_t *x = am_fzc_fix();

    err.request_id = 1;
    err.code = AMANAT__V1__ERROR_CODE__ERROR_QUOTA;
    err.message = "quota reached";
    f.op_case = AMANAT__V1__FRAME__OP_ERROR;
    f.error = &err;
    sealed_seed("sealed-receipt-submit-refused", 0, PRIO(AM_PRIORITY_URGENT),
                6, 1, C_NOTE, &f);
    de.agency_id = "PH-NBI";
    de.certificate = amanat__v1__signed_certificate__unpack(
        NULL, x->cert_len[AM_FZ_THIRD], x->cert[AM_FZ_THIRD]);
    if (de.certificate == NULL)
        die("certificate");
    dp = &de;
    dr.request_id = 1;
    dr.n_entries = 1;
    dr.entries = &dp;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_RESULT;
    f.directory_result = &dr;
    sealed_seed("sealed-third-lookup-scripted", 0x08,
                AM_FZ_SEAL_FROM_THIRD | PRIO(AM_PRIORITY_ROUTINE), 7, 1,
                C_NOTE, &f);
    amanat__v1__signed_certificate__free_unpacked(de.certificate, NULL);
}

/* mode 2: evidence PH-RELAY signed, passed on by DE-RELAY (its
 * certificate from the directory), and two pieces signed with the other
 * relay's key than the one they name. */
static void peer_relay_seed(void)
{
    static const struct {
        unsigned how;
        const char *relay;
        int kind;
        const char *rcpt;
    } p[] = {
        {0x04, AM_FZC_RELAY2_ID, AM_EVIDENCE_ACCEPTED, NULL},
        {0x04, AM_FZC_RELAY2_ID, AM_EVIDENCE_DELIVERED, "PH-NBI"},
        {0x00, AM_FZC_RELAY_ID, AM_EVIDENCE_EXPIRED, "PH-NBI"},
        {0x00, AM_FZC_RELAY2_ID, AM_EVIDENCE_DELIVERED, "PH-NBI"},
        {0x04, AM_FZC_RELAY_ID, AM_EVIDENCE_ACCEPTED, NULL},
    };
    static seed_t s; /* 256 KiB: not on the stack */
    uint8_t *b;
    size_t len;

    s.len = 0;
    put_u8(&s, 0x02);
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        put_u8(&s, p[i].how);
        b = relay_body(p[i].relay, p[i].kind, p[i].rcpt, &len);
        put_be16(&s, len);
        put_owned(&s, b, len);
    }
    write_seed(RX, "evidence-peer-relay", &s);
}

/* mode 2: pieces of evidence, signed in the target. */
static void evidence_seeds(void)
{
    const am_fzc_fix_t *x = am_fzc_fix();
    static seed_t s; /* 256 KiB: not on the stack */
    uint8_t other[AM_MSG_ID_LEN] = {0x42}, *b;
    size_t len;

    s.len = 0;
    put_u8(&s, 0x02);
    put_u8(&s, 0x00);
    b = sent_body(AM_EVIDENCE_DELIVERED, "PK-NCCIA", &len);
    put_be16(&s, len);
    put_owned(&s, b, len);
    put_u8(&s, 0x00);
    b = sent_body(AM_EVIDENCE_EXPIRED, "PH-NBI", &len);
    put_be16(&s, len);
    put_owned(&s, b, len);
    put_u8(&s, 0x01); /* PK-NCCIA is no relay */
    b = sent_body(AM_EVIDENCE_DELIVERED, "PH-NBI", &len);
    put_be16(&s, len);
    put_owned(&s, b, len);
    put_u8(&s, 0x02); /* damaged */
    b = sent_body(AM_EVIDENCE_DELIVERED, "PH-NBI", &len);
    put_be16(&s, len);
    put_owned(&s, b, len);
    write_seed(RX, "evidence-pieces", &s);

    s.len = 0;
    put_u8(&s, 0x02);
    put_u8(&s, 0x00);
    if (am_fzc_evidence_body(AM_EVIDENCE_DELIVERED, other, x->sent_hash,
                             AM_FZC_RELAY_ID, "PK-NCCIA", AM_FZ_NOW, &b,
                             &len) != 0)
        die("evidence body");
    put_be16(&s, len);
    put_owned(&s, b, len);
    write_seed(RX, "evidence-unknown-message", &s);
    peer_relay_seed();
}

static void receive_seeds(void)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping ping = AMANAT__V1__PING__INIT;
    static seed_t s; /* 256 KiB: not on the stack */

    s.len = 0;
    frame_deliver_seed("frame-deliver-notification", C_NOTE, 1);
    frame_deliver_seed("frame-deliver-receipt", C_RECEIPT_ACK, 2);
    frame_deliver_seed("frame-deliver-reply", C_REPLY, 3);
    frame_receipt_relay_seed();
    ping.nonce = 7;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &ping;
    put_u8(&s, 0x00);
    put_frame(&s, &f);
    write_seed(RX, "frame-ping", &s);

    sealed_seed("sealed-notification", 0, PRIO(AM_PRIORITY_ROUTINE), 1, 1,
                C_NOTE, NULL);
    sealed_seed("sealed-receipt-ack", 0, PRIO(AM_PRIORITY_ROUTINE), 2, 1,
                C_RECEIPT_ACK, NULL);
    sealed_seed("sealed-receipt-refused", 0, PRIO(AM_PRIORITY_URGENT), 3, 0,
                C_RECEIPT_REFUSED, NULL);
    sealed_seed("sealed-reply", 0, PRIO(AM_PRIORITY_ROUTINE), 4, 1, C_REPLY,
                NULL);
    sealed_seed("sealed-third-prekey-lookup", 0x08, AM_FZ_SEAL_FROM_THIRD |
                AM_FZ_SEAL_PREKEY | PRIO(AM_PRIORITY_EMERGENCY), 5, 2,
                C_REPLY, NULL);
    sealed_seed("sealed-reply-not-ours", 0, PRIO(AM_PRIORITY_ROUTINE), 8, 1,
                C_REPLY_OTHER, NULL);
    /* set aside: the header names another certificate serial */
    sealed_seed("sealed-bad-serial", 0, AM_FZ_SEAL_BAD_SERIAL |
                PRIO(AM_PRIORITY_ROUTINE), 9, 1, C_NOTE, NULL);
    /* one message id, two senders: the second is taken as a copy */
    sealed_seed("sealed-same-id-1", 0, PRIO(AM_PRIORITY_ROUTINE), 10, 1,
                C_NOTE, NULL);
    sealed_seed("sealed-same-id-2", 0, AM_FZ_SEAL_FROM_THIRD |
                PRIO(AM_PRIORITY_ROUTINE), 10, 1, C_NOTE, NULL);
    scripted_seeds();
    evidence_seeds();
}

static void ini_seed(const char *name, const char *text)
{
    static seed_t s; /* 256 KiB: not on the stack */

    s.len = 0;
    put(&s, text, strlen(text));
    write_seed(INI, name, &s);
}

static void ini_seeds(void)
{
    ini_seed("valid", "[agency]\nid = DE-BKA\nrelay = 127.0.0.1:7400\n");
    ini_seed("joined", "# written by amanat join\n[agency]\nid = DE-BKA\n"
             "relay = relay.bka.example:7400\n");
    ini_seed("ipv6-crlf", "[agency]\r\nrelay = [::1]:65535\r\n"
             "id = DE-BKA\r\n");
    ini_seed("comments", "; profile\n\n[agency] ; ours\nid=DE-BKA ; note\n"
             "  relay=h:1\n");
    ini_seed("bom", "\xef\xbb\xbf[agency]\nid = DE-BKA\nrelay = h:7400\n");
    ini_seed("other-agency", "[agency]\nid = PK-NCCIA\nrelay = h:7400\n");
    ini_seed("repeated", "[agency]\nid = DE-BKA\nid = DE-BKA\n"
             "relay = h:7400\n");
    ini_seed("unknown-section", "[relay]\nport = 7400\n");
    ini_seed("port-zero", "[agency]\nid = DE-BKA\nrelay = h:0\n");
    ini_seed("port-plus", "[agency]\nid = DE-BKA\nrelay = h:+070000\n");
    ini_seed("no-host", "[agency]\nid = DE-BKA\nrelay = :7400\n");
    ini_seed("no-relay", "[agency]\nid = DE-BKA\n");
    ini_seed("multiline", "[agency]\nid = DE-BKA\nrelay = h:7400\n"
             "  continued\n");
}

void am_fzc_write_seeds(void)
{
    receive_seeds();
    ini_seeds();
}
