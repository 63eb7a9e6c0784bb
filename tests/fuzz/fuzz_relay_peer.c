/* fuzz_relay_peer: a peer relay's session with the relay (relay/conn_peer.c,
 * conn_ops.c peer_frame, docs/PROTOCOL.md sections 18.4 and 18.6), where a
 * configured peer relay, maybe compromised, dials the relay with its relay
 * certificate and pulls what the relay holds for its agencies.  The real
 * relay runs in-process (fuzz_relay.h), federated with the peer
 * AM_FZR_PEER_ID, whose keys the harness holds (fuzz_relay_fed.h): the
 * harness submits envelopes as PK-NCCIA (homed at the relay) for DE-BKA
 * (homed at the peer), then connects as DE-RELAY, asks to receive, and
 * answers the Delivers with the input's frames.  The relay's own link to
 * DE-RELAY dials a port that never listens (fuzz_relay_peer_rx.c).  The
 * session is kept from one input to the next while it is in step.
 *
 * Input: byte 0 holds flags, the rest is a sequence of operations.
 *   bit 0: a fresh session (the current one ends first);
 *   bit 1: the session ends after the input;
 *   bit 2: a fresh session whose Hello does not ask to receive;
 *   bits 3-4: that many envelopes submitted first.
 * An operation is one byte, its kind modulo 11, then its arguments:
 *   0 frame: u16 L, L bytes: one frame body, sealed with its prefix;
 *   1 stream: u16 L, L bytes of transport plaintext (no longer followed);
 *   2 forward result: target (bit 7: 16 bytes of id from the input; bit
 *     6: an envelope followed but not in the window; else the n-th in
 *     it), how (modulo 12: accepted; over another hash; signed by another
 *     key; kind delivered; naming another message; relay_id not the
 *     peer's; signature damaged; accepted with an error code too; a
 *     transient code; any code; a short signature; a body of version 2),
 *     an argument (the code);
 *   3 refused frame: Submit, DeliveryAck, PrekeyUpload, Hello, Error,
 *     AuthResult, Deliver, ReceiptRelay, DirectoryUpdate, RevocationUpdate,
 *     SubmitResult, DirectoryResult, PrekeyResult (modulo 13);
 *   4 receipt ack: count modulo 5, then per reference a byte: kind (b %
 *     4), id (bit 2: of an envelope in the window, else zeros), recipient
 *     (b / 8 % 6: PK-NCCIA, DE-BKA, DE-RELAY, empty, lower case, too long);
 *   5 directory lookup: request id, count modulo 35, then per id a byte
 *     modulo 8 (the agencies, DE-RELAY, PK-RELAY, unknown, empty, lower);
 *   6 ping: nonce;
 *   7 sync: until the relay has answered everything owed;
 *   8 submit: priority, text length, expiry (one, two or 29 days);
 *   9 new session: the current one ends; bit 0 of a byte: no receive;
 *   10 forward result for every envelope in the window: how as above.
 *
 * Invariants: the relay authenticates the configured peer with its relay
 * certificate (AuthResult ok for DE-RELAY, with the root's revocation
 * list); whatever arrives decrypts, parses and is a frame a relay session
 * may get; every Deliver carries hops 1, the sender's certificate as the
 * relay serves it, the relay's accepted evidence over exactly the
 * envelope, an envelope signed by its sender and addressed to DE-BKA, and
 * is one the harness submitted; never twice in one window, never after
 * its delivery ended; DirectoryUpdate lists only the relay's agencies;
 * Pong echoes the nonces in order, each lookup gets one answer; a frame a
 * relay session may not send (Submit, DeliveryAck, PrekeyUpload, ...), a
 * ForwardResult naming no envelope in the window, a bad reference in a
 * ReceiptAck get a fatal ERROR_PROTOCOL, evidence that is not the peer's
 * accepted evidence for that message a fatal ERROR_BAD_SIGNATURE, and the
 * relay then closes, and never closes an in-step session otherwise; an
 * accepted ForwardResult over the envelope's hash, or a refusal for good,
 * ends the delivery (no later session gets it), while a transient
 * refusal, evidence over another hash, or a refused frame leave it
 * pending: the next session gets it again; an envelope submitted during a
 * receiving session is delivered to it; no crash, leak or undefined
 * behaviour.
 */
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "frame.h"
#include "fuzz_relay_peer.h"
#include "prekey.h"

#define F_FRESH 0x01
#define F_END 0x02
#define F_NO_RECEIVE 0x04

static am_fzr_conn_t S; /* PK-NCCIA, submitting */
static bool s_up;

static void op_bytes(unsigned kind, am_fz_in_t *in)
{
    size_t n = am_fz_len16(in);

    if (kind == 0)
        pr_send_body(in->p, n);
    else
        pr_send_stream(in->p, n);
    in->p += n;
}

/* An envelope from PK-NCCIA to DE-BKA, each one new (*out: am_free). */
static void seal(unsigned prio, size_t text, unsigned exp, uint8_t **out,
                 size_t *len)
{
    static const int64_t exps[] = {86400, 2 * 86400, 29 * 86400};
    static uint32_t seq;

    AM_FZ_CHECK(am_fzl_seal(AM_FZ_SENDER, AM_FZL_TO(AM_FZ_RCPT),
                            1 + (int)(prio % 3), 0x9e370000u + ++seq,
                            exps[exp % 3], text, false, out, len) == 0);
}

/* Operation 8: PK-NCCIA submits one; the relay must store it for DE-RELAY
 * (and deliver it to the session, if it receives). */
static void op_submit(unsigned prio, unsigned text, unsigned exp)
{
    static uint64_t req;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *r = NULL;
    Amanat__V1__Submit sub = AMANAT__V1__SUBMIT__INIT;
    Amanat__V1__EvidenceBody *b;
    uint8_t *env = NULL;
    pr_msg_t *m;
    size_t len;

    if ((m = pr_new_msg()) == NULL)
        return; /* enough pending */
    seal(prio, text % 200, exp, &env, &len);
    if (!s_up)
        am_fzr_login(&S, AM_FZ_SENDER, false, 0);
    s_up = true;
    sub.request_id = ++req;
    sub.envelope = (ProtobufCBinaryData){len, env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &sub;
    AM_FZ_CHECK(am_fzr_send_frame(&S, &f) == 0);
    AM_FZ_CHECK(am_fzr_recv_frame(&S, AM_FZR_WAIT_MS, &r) == 0);
    AM_FZ_CHECK(r->op_case == AMANAT__V1__FRAME__OP_SUBMIT_RESULT);
    AM_FZ_CHECK(r->submit_result->request_id == req);
    b = am_fzr_evidence(r->submit_result->accepted, true);
    am_fzr_check_hash(b, env, len);
    memcpy(m->id, b->message_id.data, AM_MSG_ID_LEN);
    memcpy(m->hash, b->envelope_hash.data, AM_HASH_LEN);
    m->state = PM_PENDING;
    m->win = PW_NONE;
    m->live = PR.up && PR.receive && !PR.doomed && !PR.desync;
    amanat__v1__evidence_body__free_unpacked(b, NULL);
    am_frame_free(r);
    am_free(env);
}

/* The n-th envelope followed that is in the window (in) or not. */
static pr_msg_t *pick(unsigned n, bool in)
{
    size_t count = 0, k;

    for (k = 0; k < PR.n_msgs; k++)
        count += (PR.msgs[k].win == PW_IN) == in;
    if (count == 0)
        return NULL;
    n %= (unsigned)count;
    for (k = 0; k < PR.n_msgs; k++)
        if ((PR.msgs[k].win == PW_IN) == in && n-- == 0)
            break;
    return &PR.msgs[k];
}

/* Evidence for a ForwardResult about m (id, hash), made as `how` says. */
static Amanat__V1__Evidence *evidence(unsigned how, const uint8_t *id,
                                      const uint8_t *hash)
{
    const am_fzl_peer_t *p = am_fzl_peer();
    uint8_t other[AM_MSG_ID_LEN], h[AM_HASH_LEN], *e = NULL;
    static const uint8_t v2[] = {0x08, 0x02}; /* EvidenceBody version 2 */
    Amanat__V1__Evidence *m;
    size_t len;

    memcpy(h, hash, sizeof h);
    memcpy(other, id, sizeof other);
    h[0] ^= how == 1 ? 0x01 : 0;
    other[15] ^= how == 4 ? 0x80 : 0;
    am_fzl_evidence(how == 3 ? AM_EVIDENCE_DELIVERED : AM_EVIDENCE_ACCEPTED,
                    other, h, how == 5 ? AM_FZR_RELAY_ID : AM_FZR_PEER_ID,
                    "DE-BKA", (int64_t)time(NULL),
                    how == 2 ? am_fz_fed()->other_sk : p->sign_sk, &e, &len);
    m = am_fzl_evidence_msg(e, len);
    am_free(e);
    if (how == 6)
        m->signature.data[5] ^= 0x40;
    if (how == 10)
        m->signature.len = 63;
    if (how == 11) {
        AM_FZ_CHECK(m->body.len >= sizeof v2);
        memcpy(m->body.data, v2, sizeof v2);
        m->body.len = sizeof v2;
        AM_FZ_CHECK(am_sign(AM_TAG_EVIDENCE, m->body.data, m->body.len,
                            p->sign_sk, m->signature.data) == 0);
    }
    return m;
}

static void forward(const uint8_t *id, const uint8_t *hash, unsigned how,
                    unsigned arg)
{
    static const int transient[] = {AMANAT__V1__ERROR_CODE__ERROR_QUOTA,
                                     AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                                     AMANAT__V1__ERROR_CODE__ERROR_BUSY,
                                     AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ForwardResult r = AMANAT__V1__FORWARD_RESULT__INIT;

    how %= 12;
    r.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, (uint8_t *)id};
    r.message = "fuzz";
    if (how == 7 || how == 9)
        r.error = (Amanat__V1__ErrorCode)(arg % 20);
    else if (how == 8)
        r.error = (Amanat__V1__ErrorCode)transient[arg % 4];
    if (how != 8 && how != 9)
        r.accepted = evidence(how == 7 ? 0 : how, id, hash);
    f.op_case = AMANAT__V1__FRAME__OP_FORWARD_RESULT;
    f.forward_result = &r;
    pr_send_frame(&f);
    if (r.accepted != NULL)
        amanat__v1__evidence__free_unpacked(r.accepted, NULL);
}

/* Operation 2. */
static void op_forward(am_fz_in_t *in)
{
    static const uint8_t zero[AM_HASH_LEN];
    unsigned sel = am_fz_u8(in), how = am_fz_u8(in), arg = am_fz_u8(in);
    uint8_t id[AM_MSG_ID_LEN], hash[AM_HASH_LEN];
    pr_msg_t *m = (sel & 0x80) ? NULL : pick(sel, !(sel & 0x40));

    if (m == NULL) {
        for (size_t i = 0; i < sizeof id; i++)
            id[i] = (uint8_t)am_fz_u8(in);
        forward(id, zero, how, arg);
        return;
    }
    memcpy(id, m->id, sizeof id); /* m may move */
    memcpy(hash, m->hash, sizeof hash);
    forward(id, hash, how, arg);
}

/* Operation 10: one answer for each envelope in the window. */
static void op_forward_all(am_fz_in_t *in)
{
    uint8_t ids[PR_MSGS][AM_MSG_ID_LEN], hashes[PR_MSGS][AM_HASH_LEN];
    unsigned how = am_fz_u8(in), arg = am_fz_u8(in);
    size_t n = 0;

    for (size_t k = 0; k < PR.n_msgs; k++)
        if (PR.msgs[k].win == PW_IN) {
            memcpy(ids[n], PR.msgs[k].id, AM_MSG_ID_LEN);
            memcpy(hashes[n++], PR.msgs[k].hash, AM_HASH_LEN);
        }
    for (size_t k = 0; k < n; k++)
        forward(ids[k], hashes[k], how, arg);
}

/* DE-BKA's prekey, as its client would upload it at its own relay. */
static Amanat__V1__SignedPrekey *prekey(void)
{
    const am_fz_agency_t *de = &am_fz_fed()->ag[AM_FZ_RCPT];
    int64_t now = (int64_t)time(NULL);
    am_prekey_t p = {.prekey_id = 9};
    Amanat__V1__SignedPrekey *m;
    uint8_t *b = NULL;
    size_t len;

    snprintf(p.agency_id, sizeof p.agency_id, "%s", de->id);
    memcpy(p.dh_pk, de->pre_pk, sizeof p.dh_pk);
    p.created_at = now - 3600;
    p.not_after = now + 40 * 86400;
    AM_FZ_CHECK(am_prekey_sign(&p, de->sign_sk, &b, &len) == 0);
    AM_FZ_CHECK((m = amanat__v1__signed_prekey__unpack(NULL, len, b)) !=
                NULL);
    am_free(b);
    return m;
}

/* The frames of operation 3, each with its member of the union set. */
typedef struct {
    Amanat__V1__Submit submit;
    Amanat__V1__DeliveryAck ack;
    Amanat__V1__PrekeyUpload upload;
    Amanat__V1__Hello hello;
    Amanat__V1__Error error;
    Amanat__V1__AuthResult auth;
    Amanat__V1__Deliver deliver;
    Amanat__V1__ReceiptRelay relay;
    Amanat__V1__DirectoryUpdate update;
    Amanat__V1__RevocationUpdate revocation;
    Amanat__V1__SubmitResult submit_result;
    Amanat__V1__DirectoryResult result;
    Amanat__V1__PrekeyResult prekey_result;
} refused_t;

static void refused_init(refused_t *u, uint8_t *id)
{
    amanat__v1__submit__init(&u->submit);
    amanat__v1__delivery_ack__init(&u->ack);
    amanat__v1__prekey_upload__init(&u->upload);
    amanat__v1__hello__init(&u->hello);
    amanat__v1__error__init(&u->error);
    amanat__v1__auth_result__init(&u->auth);
    amanat__v1__deliver__init(&u->deliver);
    amanat__v1__receipt_relay__init(&u->relay);
    amanat__v1__directory_update__init(&u->update);
    amanat__v1__revocation_update__init(&u->revocation);
    amanat__v1__submit_result__init(&u->submit_result);
    amanat__v1__directory_result__init(&u->result);
    amanat__v1__prekey_result__init(&u->prekey_result);
    u->submit.request_id = 7;
    u->ack.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, id};
    u->upload.request_id = 8;
    u->hello.protocol_version = 1;
    u->hello.receive = true;
    u->error.code = AMANAT__V1__ERROR_CODE__ERROR_BUSY;
    u->error.message = "fuzz";
    u->auth.ok = true;
    u->auth.peer_id = AM_FZR_RELAY_ID;
    u->revocation.crl =
        am_fzl_crl_msg(am_fz_fed()->crl_bytes, am_fz_fed()->crl_len);
}

/* Frame f carries u's member for ops[what]. */
static void set_op(Amanat__V1__Frame *f, unsigned what, refused_t *u)
{
    switch (what) {
    case 0: f->submit = &u->submit; break;
    case 1: f->delivery_ack = &u->ack; break;
    case 2: f->prekey_upload = &u->upload; break;
    case 3: f->hello = &u->hello; break;
    case 4: f->error = &u->error; break;
    case 5: f->auth_result = &u->auth; break;
    case 6: f->deliver = &u->deliver; break;
    case 7: f->receipt_relay = &u->relay; break;
    case 8: f->directory_update = &u->update; break;
    case 9: f->revocation_update = &u->revocation; break;
    case 10: f->submit_result = &u->submit_result; break;
    case 11: f->directory_result = &u->result; break;
    default: f->prekey_result = &u->prekey_result; break;
    }
}

/* Operation 3: what a relay session may not send.  A Submit of an honest
 * envelope must not be stored, a DeliveryAck must not end a delivery. */
static void op_refused(am_fz_in_t *in)
{
    static const Amanat__V1__Frame__OpCase ops[] = {
        AMANAT__V1__FRAME__OP_SUBMIT, AMANAT__V1__FRAME__OP_DELIVERY_ACK,
        AMANAT__V1__FRAME__OP_PREKEY_UPLOAD, AMANAT__V1__FRAME__OP_HELLO,
        AMANAT__V1__FRAME__OP_ERROR, AMANAT__V1__FRAME__OP_AUTH_RESULT,
        AMANAT__V1__FRAME__OP_DELIVER, AMANAT__V1__FRAME__OP_RECEIPT_RELAY,
        AMANAT__V1__FRAME__OP_DIRECTORY_UPDATE,
        AMANAT__V1__FRAME__OP_REVOCATION_UPDATE,
        AMANAT__V1__FRAME__OP_SUBMIT_RESULT,
        AMANAT__V1__FRAME__OP_DIRECTORY_RESULT,
        AMANAT__V1__FRAME__OP_PREKEY_RESULT};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    unsigned what = am_fz_u8(in) % 13;
    pr_msg_t *m = pick(am_fz_u8(in), true);
    uint8_t id[AM_MSG_ID_LEN] = {0}, *env = NULL;
    refused_t u;
    size_t len = 0;

    if (m != NULL)
        memcpy(id, m->id, sizeof id);
    refused_init(&u, id);
    if (what == 0) {
        seal(0, 8, 1, &env, &len);
        u.submit.envelope = (ProtobufCBinaryData){len, env};
    }
    if (what == 2)
        u.upload.prekey = prekey();
    f.op_case = ops[what];
    set_op(&f, what, &u);
    pr_send_frame(&f);
    if (u.upload.prekey != NULL)
        amanat__v1__signed_prekey__free_unpacked(u.upload.prekey, NULL);
    if (u.revocation.crl != NULL)
        amanat__v1__revocation_list__free_unpacked(u.revocation.crl, NULL);
    am_free(env);
}

static void op_receipt_ack(am_fz_in_t *in)
{
    static char *rcpts[] = {"PK-NCCIA", "DE-BKA", AM_FZR_PEER_ID, "",
                            "de-bka", "PK-NCCIA-WAY-TOO-LONG-FOR-AN-ID"};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck a = AMANAT__V1__RECEIPT_ACK__INIT;
    Amanat__V1__EvidenceRef refs[4], *rp[4];
    uint8_t ids[4][AM_MSG_ID_LEN] = {{0}};
    size_t n = am_fz_u8(in) % 5;

    for (size_t i = 0; i < n; i++) {
        unsigned b = am_fz_u8(in);
        pr_msg_t *m = (b & 4) ? pick((unsigned)i, true) : NULL;

        amanat__v1__evidence_ref__init(&refs[i]);
        refs[i].kind = (Amanat__V1__EvidenceKind)(b % 4);
        if (m != NULL)
            memcpy(ids[i], m->id, AM_MSG_ID_LEN);
        refs[i].message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN, ids[i]};
        refs[i].recipient_id = rcpts[b / 8 % 6];
        rp[i] = &refs[i];
    }
    a.n_refs = n;
    a.refs = rp;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
    f.receipt_ack = &a;
    pr_send_frame(&f);
}

static void op_lookup(am_fz_in_t *in)
{
    static char *names[] = {"PK-NCCIA", "DE-BKA",   "PH-NBI", AM_FZR_PEER_ID,
                            AM_FZR_RELAY_ID, "XX-NONE", "", "pk-nccia"};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DirectoryLookup l = AMANAT__V1__DIRECTORY_LOOKUP__INIT;
    char *ids[34];

    l.request_id = am_fz_u8(in);
    l.n_agency_ids = am_fz_u8(in) % 35;
    for (size_t i = 0; i < l.n_agency_ids; i++)
        ids[i] = names[am_fz_u8(in) % 8];
    l.agency_ids = ids;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
    f.directory_lookup = &l;
    pr_send_frame(&f);
}

static void op_ping(am_fz_in_t *in)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;

    p.nonce = 0x9100000000ull + am_fz_u8(in);
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &p;
    pr_send_frame(&f);
}

static void op(unsigned kind, am_fz_in_t *in)
{
    if (kind <= 1) {
        op_bytes(kind, in);
    } else if (kind == 2) {
        op_forward(in);
    } else if (kind == 3) {
        op_refused(in);
    } else if (kind == 4) {
        op_receipt_ack(in);
    } else if (kind == 5) {
        op_lookup(in);
    } else if (kind == 6) {
        op_ping(in);
    } else if (kind == 7) {
        pr_sync();
    } else if (kind == 8) {
        unsigned prio = am_fz_u8(in), text = am_fz_u8(in);

        op_submit(prio, text, am_fz_u8(in));
    } else if (kind == 9) {
        pr_sync();
        pr_open(!(am_fz_u8(in) & 1));
    } else {
        op_forward_all(in);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    am_fz_in_t in = {data + (size > 0), data + size};
    unsigned flags;

    if (size < 1)
        return 0;
    if (!init) {
        pr_init();
        init = true;
    }
    am_fzr_start();
    flags = data[0];
    for (unsigned i = 0; i < ((flags >> 3) & 3); i++)
        op_submit(i, 16 * i, 1);
    if (!PR.up || (flags & (F_FRESH | F_NO_RECEIVE)))
        pr_open(!(flags & F_NO_RECEIVE));
    while (am_fz_left(&in) > 0 && PR.up && !PR.doomed)
        op(am_fz_u8(&in) % 11, &in);
    pr_sync();
    if (s_up)
        (void)am_fzr_close(&S);
    s_up = false;
    if ((flags & F_END) || !PR.up || PR.doomed || PR.desync || PR.lost)
        pr_end();
    return 0;
}
