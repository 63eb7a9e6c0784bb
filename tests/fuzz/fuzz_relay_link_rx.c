/* fuzz_relay_link, second file: the link (fuzz_relay_link.h).  The harness
 * is the peer relay AM_FZR_PEER_ID: it listens where the relay dials,
 * answers its handshake as the responder, and checks everything the relay
 * sends on its link. */
#include "fuzz_relay_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alloc.h"
#include "bytes.h"
#include "frame.h"
#include "noise_internal.h" /* am_noise_hs_set_fixed_ephemeral */

lk_sess_t L;

void lk_init(void)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    AM_FZ_CHECK((L.lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    AM_FZ_CHECK(bind(L.lfd, (struct sockaddr *)&a, sizeof a) == 0);
    AM_FZ_CHECK(listen(L.lfd, 8) == 0);
    AM_FZ_CHECK(getsockname(L.lfd, (struct sockaddr *)&a, &alen) == 0);
    L.crl_seq = AM_FZ_CRL_SEQUENCE;
    L.conn.fd = -1;
    (void)am_fzl_peer();
    am_fzr_federate(ntohs(a.sin_port));
}

/* The relay dials again within milliseconds (fuzz_relay_link.c shortens
 * its backoff); ten seconds without a dial is a relay that stopped. */
static int accept_dial(void)
{
    struct pollfd pf = {L.lfd, POLLIN, 0};
    int pr, fd;

    do
        pr = poll(&pf, 1, 10000);
    while (pr < 0 && errno == EINTR);
    AM_FZ_CHECK(pr == 1); /* the relay dials its peer again */
    AM_FZ_CHECK((fd = accept(L.lfd, NULL, NULL)) >= 0);
    return fd;
}

/* Message 2's payload: the peer's certificate, or one to refuse. */
static void msg2_payload(unsigned choice, uint8_t *out, size_t *len)
{
    const am_fzl_peer_t *p = am_fzl_peer();
    const uint8_t *cert = p->cert;
    uint8_t *own = NULL;
    size_t clen = p->cert_len;

    if (choice == 1) /* an agency's: DE-BKA's */
        cert = am_fzr_cert(AM_FZ_RCPT, &clen);
    else if (choice == 2) /* a relay, but not the one dialled */
        am_fzl_cert("PH-RELAY", AM_ROLE_RELAY, false, false, &own, &clen);
    else if (choice == 3) /* for a key the handshake did not prove */
        am_fzl_cert(AM_FZR_PEER_ID, AM_ROLE_RELAY, true, false, &own, &clen);
    else if (choice == 4) /* not from this federation's root */
        am_fzl_cert(AM_FZR_PEER_ID, AM_ROLE_RELAY, false, true, &own, &clen);
    if (own != NULL)
        cert = own;
    AM_FZ_CHECK(am_fzr_payload(choice == 6 ? 2 : 1, choice == 5 ? NULL : cert,
                               clen, "fuzz peer", 9, out,
                               AM_HANDSHAKE_MSG_MAX - 128, len) == 0);
    am_free(own);
}

/* Message 3's payload: protocol 1 and exactly the relay's certificate. */
static void check_msg3(const uint8_t *p, size_t len)
{
    const am_fzr_relay_t *r = am_fzr_relay();
    Amanat__V1__HandshakePayload *hp;
    uint8_t cert[AM_CERT_MAX];

    hp = amanat__v1__handshake_payload__unpack(NULL, len, p);
    AM_FZ_CHECK(hp != NULL && hp->protocol_version == 1);
    AM_FZ_CHECK(hp->certificate != NULL &&
                amanat__v1__signed_certificate__get_packed_size(
                    hp->certificate) == r->cert_len);
    (void)amanat__v1__signed_certificate__pack(hp->certificate, cert);
    AM_FZ_CHECK(memcmp(cert, r->cert, r->cert_len) == 0);
    amanat__v1__handshake_payload__free_unpacked(hp, NULL);
}

/* Messages 1 to 3 as the responder; false when the relay (rightly) ended
 * it after message 2. */
static bool handshake(unsigned choice)
{
    static uint8_t msg[AM_NOISE_MSG_MAX], pl[AM_NOISE_MSG_MAX];
    am_fzr_conn_t *c = &L.conn;
    am_noise_cs_t *recv = NULL;
    uint8_t rs[AM_NOISE_DHLEN];
    const uint8_t *rec;
    size_t len, plen;

    AM_FZ_CHECK(am_noise_hs_new(&c->hs, AM_NOISE_PROTOCOL, AM_NOISE_RESPONDER,
                                (const uint8_t *)AM_NOISE_PROLOGUE,
                                strlen(AM_NOISE_PROLOGUE)) == 0);
    AM_FZ_CHECK(am_noise_hs_set_local_static(c->hs, am_fzl_peer()->dh_sk) ==
                0);
    AM_FZ_CHECK(am_noise_hs_set_fixed_ephemeral(c->hs,
                                                am_fz_resp_ephemeral) == 0);
    AM_FZ_CHECK(am_noise_hs_start(c->hs) == 0);
    AM_FZ_CHECK(am_fzr_read_record(c, &rec, &len) == 0);
    AM_FZ_CHECK(am_noise_hs_read(c->hs, rec, len, pl, sizeof pl, &plen) == 0);
    AM_FZ_CHECK(plen == 0);
    msg2_payload(choice, pl, &plen);
    AM_FZ_CHECK(am_noise_hs_write(c->hs, pl, plen, msg, sizeof msg, &len) ==
                0);
    if (am_fzr_send_record(c, msg, len) != 0 || am_fzr_flush(c) != 0 ||
        am_fzr_read_record(c, &rec, &len) != 0) {
        AM_FZ_CHECK(choice != 0 && c->closed); /* refused: no message 3 */
        return false;
    }
    /* the relay went on: only with the certificate of its peer */
    AM_FZ_CHECK(choice == 0);
    AM_FZ_CHECK(am_noise_hs_read(c->hs, rec, len, pl, sizeof pl, &plen) == 0);
    AM_FZ_CHECK(am_noise_hs_remote_static(c->hs, rs) == 0 &&
                memcmp(rs, am_fzr_relay()->dh_pk, sizeof rs) == 0);
    check_msg3(pl, plen);
    AM_FZ_CHECK(am_noise_hs_split(c->hs, &c->send, &recv) == 0);
    AM_FZ_CHECK(am_chan_new(&c->rx, NULL, recv, AM_FRAME_MAX_DEFAULT) == 0);
    am_noise_hs_free(c->hs);
    c->hs = NULL;
    return true;
}

static void reset_session(void)
{
    L.up = L.ready = L.doomed = L.quiet = L.desync = L.fatal = false;
    L.n_fwd = L.n_acks = L.pings = 0;
    L.fwd_lost = L.acks_lost = false;
    L.want_next = -1;
}

bool lk_connect(unsigned cert_choice)
{
    Amanat__V1__Frame *f = NULL;

    reset_session();
    am_fzr_adopt(&L.conn, accept_dial());
    if (!handshake(cert_choice)) {
        (void)am_fzr_close(&L.conn);
        return false;
    }
    L.up = true;
    /* Hello first: receive, any frame size, the list it holds */
    AM_FZ_CHECK(am_fzr_recv_frame(&L.conn, AM_FZR_WAIT_MS, &f) == 0);
    AM_FZ_CHECK(f->op_case == AMANAT__V1__FRAME__OP_HELLO);
    AM_FZ_CHECK(f->hello->protocol_version == 1 && f->hello->receive);
    AM_FZ_CHECK(f->hello->max_frame == AM_FRAME_MAX_CEILING);
    AM_FZ_CHECK(f->hello->crl_sequence >= AM_FZ_CRL_SEQUENCE &&
                f->hello->crl_sequence <= L.crl_seq);
    am_frame_free(f);
    return true;
}

void lk_auth(bool fuzzed, am_fz_in_t *in)
{
    static const char *const ids[] = {AM_FZR_RELAY_ID, AM_FZR_PEER_ID, "",
                                      "pk-relay"};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__AuthResult a = AMANAT__V1__AUTH_RESULT__INIT;
    unsigned ok = 1, id = 0, crl = 0;
    uint8_t *b = NULL;
    size_t len;

    if (fuzzed) {
        ok = am_fz_u8(in) & 1;
        id = am_fz_u8(in) % 4;
        crl = am_fz_u8(in) % 5;
    }
    a.ok = ok != 0;
    a.peer_id = (char *)ids[id];
    a.max_frame = (uint32_t)AM_FRAME_MAX_DEFAULT;
    a.relay_time = (int64_t)time(NULL);
    if (crl == 1) /* the one held, or older */
        am_fzl_crl(AM_FZ_CRL_SEQUENCE, 0, false, &b, &len);
    else if (crl >= 2) { /* newer; signed by another key when 3 */
        uint64_t seq = crl == 3 ? L.crl_seq + 1 : ++L.crl_seq;

        am_fzl_crl(seq, crl == 4 ? 1000 + seq : 0, crl == 3, &b, &len);
    }
    if (b != NULL)
        a.crl = am_fzl_crl_msg(b, len);
    f.op_case = AMANAT__V1__FRAME__OP_AUTH_RESULT;
    f.auth_result = &a;
    lk_send_frame(&f);
    if (a.crl != NULL)
        amanat__v1__revocation_list__free_unpacked(a.crl, NULL);
    am_free(b);
}

/* What the relay may accept: hops 1, a sender certificate signed by the
 * root (checked with libsodium too) for an agency homed at the peer, the
 * envelope's sender, whose signature it bears, and a recipient homed here
 * (PK-NCCIA: no other agency is), within the size. */
static bool may_accept(const Amanat__V1__Deliver *d, am_env_t *env)
{
    am_cert_policy_t pol = {am_fz_fed()->root_pk, (int64_t)time(NULL),
                            AM_ROLE_AGENCY, NULL};
    char id[AM_AGENCY_ID_MAX + 1], home[AM_AGENCY_ID_MAX + 1];
    uint8_t cert[AM_CERT_MAX];
    bool agency, here = false;
    am_cert_t sender;
    size_t len;

    if (d->hops != 1 || d->sender_certificate == NULL ||
        d->envelope.len > AM_FRAME_MAX_DEFAULT - AM_DELIVER_OVERHEAD ||
        (len = amanat__v1__signed_certificate__get_packed_size(
             d->sender_certificate)) > sizeof cert)
        return false;
    (void)amanat__v1__signed_certificate__pack(d->sender_certificate, cert);
    if (!am_fzl_root_cert(cert, len, id, home, &agency) || !agency ||
        strcmp(home, AM_FZR_PEER_ID) != 0 ||
        strcmp(id, am_env_sender(env)) != 0 ||
        am_cert_verify(cert, len, &pol, &sender) != 0 ||
        am_env_verify(env, &sender) != 0)
        return false;
    for (size_t i = 0; i < am_env_recipient_count(env); i++)
        here |= strcmp(am_env_recipient(env, i), "PK-NCCIA") == 0;
    return here;
}

static void sent_deliver(const Amanat__V1__Deliver *d)
{
    am_env_t *env = NULL;
    lk_fwd_t *w;

    if (am_env_parse(d->envelope.data, d->envelope.len, AM_FRAME_MAX_CEILING,
                     &env) != 0) {
        L.doomed = true; /* no id to answer with: the link ends */
        return;
    }
    if (L.n_fwd == LK_MAX) {
        L.fwd_lost = true;
    } else {
        w = &L.fwd[L.n_fwd++];
        memcpy(w->id, am_env_claimed_id(env), AM_MSG_ID_LEN);
        w->want = L.want_next;
        w->may_accept = may_accept(d, env);
        AM_FZ_CHECK(crypto_generichash(w->hash, sizeof w->hash,
                                       d->envelope.data, d->envelope.len,
                                       NULL, 0) == 0);
    }
    am_env_free(env);
}

/* A ReceiptAck is owed when a piece can be named (link_receipts). */
static void sent_receipts(const Amanat__V1__ReceiptRelay *r)
{
    uint8_t b[AM_EVIDENCE_MAX];
    am_evidence_t ev;
    lk_ack_t *a;
    size_t len;

    if (r->n_evidence > AM_NOTICE_BATCH) {
        L.doomed = true;
        return;
    }
    if (L.n_acks == LK_MAX) {
        L.acks_lost = true;
        return;
    }
    a = &L.acks[L.n_acks];
    a->n = 0;
    for (size_t i = 0; i < r->n_evidence; i++) {
        if ((len = amanat__v1__evidence__get_packed_size(r->evidence[i])) >
            sizeof b)
            continue;
        (void)amanat__v1__evidence__pack(r->evidence[i], b);
        if (am_evidence_peek(b, len, &ev) != 0)
            continue;
        a->kinds[a->n] = ev.kind;
        memcpy(a->ids[a->n++], ev.message_id, AM_MSG_ID_LEN);
    }
    if (a->n > 0)
        L.n_acks++;
}

/* Before an accepted AuthResult only AuthResult and Error are read. */
static void sent_unready(const Amanat__V1__Frame *f)
{
    const Amanat__V1__AuthResult *a = f->auth_result;

    if (f->op_case == AMANAT__V1__FRAME__OP_ERROR) {
        L.doomed = L.quiet = L.doomed || f->error->fatal;
    } else if (f->op_case != AMANAT__V1__FRAME__OP_AUTH_RESULT) {
        L.doomed = true;
    } else if (a->ok && strcmp(a->peer_id, AM_FZR_RELAY_ID) == 0) {
        L.ready = true;
    } else {
        L.doomed = L.quiet = true; /* closed without a word */
    }
}

static void sent_frame(const uint8_t *body, size_t len)
{
    Amanat__V1__Frame *f = NULL;

    /* the channel ends on these, without a word (as fuzz_relay_frames) */
    if (len == 0 || len > AM_FRAME_MAX_DEFAULT) {
        L.doomed = L.quiet = true;
        return;
    }
    if (am_frame_parse(body, len, AM_FRAME_MAX_DEFAULT, &f) != 0) {
        L.doomed = true;
        return;
    }
    if (!L.ready)
        sent_unready(f);
    else if (f->op_case == AMANAT__V1__FRAME__OP_DELIVER)
        sent_deliver(f->deliver);
    else if (f->op_case == AMANAT__V1__FRAME__OP_RECEIPT_RELAY)
        sent_receipts(f->receipt_relay);
    else if (f->op_case == AMANAT__V1__FRAME__OP_DIRECTORY_UPDATE)
        L.doomed |= f->directory_update->n_entries > AM_STORE_LOOKUP_MAX;
    else if (f->op_case == AMANAT__V1__FRAME__OP_ERROR)
        L.doomed = L.quiet = L.doomed || f->error->fatal;
    else if (f->op_case == AMANAT__V1__FRAME__OP_PING)
        L.pings++; /* answered with Pong */
    else if (f->op_case != AMANAT__V1__FRAME__OP_REVOCATION_UPDATE &&
             f->op_case != AMANAT__V1__FRAME__OP_PONG)
        L.doomed = true; /* not for a relay's link */
    am_frame_free(f);
}

void lk_send_body(const uint8_t *body, size_t len)
{
    uint8_t *buf;

    if (!L.up)
        return;
    /* after a frame the relay closes on, it reads nothing more */
    if (!L.doomed && !L.desync)
        sent_frame(body, len);
    L.want_next = -1;
    AM_FZ_CHECK((buf = am_malloc(4 + len)) != NULL);
    am_store_be32(buf, (uint32_t)len);
    if (len > 0)
        memcpy(buf + 4, body, len);
    (void)am_fzr_send_plain(&L.conn, buf, 4 + len); /* closed: reads tell */
    am_free(buf);
}

void lk_send_frame(const Amanat__V1__Frame *f)
{
    uint8_t *wire = NULL;
    size_t len;

    AM_FZ_CHECK(am_frame_encode(f, AM_FRAME_MAX_CEILING, &wire, &len) == 0);
    lk_send_body(wire + 4, len - 4);
    am_free(wire);
}

void lk_send_stream(const uint8_t *p, size_t n)
{
    if (!L.up)
        return;
    L.desync = true;
    (void)am_fzr_send_plain(&L.conn, p, n);
}

/* Whether a ForwardResult (b: its accepted evidence, or NULL) is a right
 * answer to the Deliver w: evidence over exactly its envelope, and only
 * for one the relay may take; else its code. */
static bool fits(const lk_fwd_t *w, const Amanat__V1__ForwardResult *r,
                 const Amanat__V1__EvidenceBody *b)
{
    int code = (int)r->error;

    if (b != NULL)
        return memcmp(b->envelope_hash.data, w->hash, AM_HASH_LEN) == 0 &&
               w->may_accept && w->want <= 0;
    if (w->want > 0)
        return code == w->want;
    if (w->want == 0)
        return code == AMANAT__V1__ERROR_CODE__ERROR_DUPLICATE ||
               code == AMANAT__V1__ERROR_CODE__ERROR_QUOTA ||
               code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
    return true;
}

/* The first owed Deliver of that id whose expectation the answer fits,
 * a definite one (want >= 0) first: answers come in any order (a
 * signature is checked on the thread pool, a refusal before it is not),
 * so a fuzzed Deliver, which any answer fits, must not take another's. */
static size_t find_fwd(const Amanat__V1__ForwardResult *r,
                       const Amanat__V1__EvidenceBody *b)
{
    for (int any = 0; any < 2; any++)
        for (size_t i = 0; i < L.n_fwd; i++)
            if ((L.fwd[i].want < 0) == (any == 1) &&
                memcmp(L.fwd[i].id, r->message_id.data, AM_MSG_ID_LEN) == 0 &&
                fits(&L.fwd[i], r, b))
                return i;
    return L.n_fwd;
}

/* The Deliver answered (two envelopes may claim one id), removed. */
static void match_fwd(const Amanat__V1__ForwardResult *r,
                      const Amanat__V1__EvidenceBody *b)
{
    size_t i = find_fwd(r, b);

    /* an answer to a Deliver never sent, a second answer, a wrong one */
    AM_FZ_CHECK(i < L.n_fwd || L.fwd_lost || L.desync);
    if (i == L.n_fwd)
        return;
    memmove(&L.fwd[i], &L.fwd[i + 1], (L.n_fwd - i - 1) * sizeof L.fwd[0]);
    L.n_fwd--;
}

static void on_forward_result(const Amanat__V1__ForwardResult *r)
{
    Amanat__V1__EvidenceBody *b = NULL;
    int code = (int)r->error;

    AM_FZ_CHECK(r->message_id.len == AM_MSG_ID_LEN);
    if (r->accepted != NULL) {
        /* signed by the relay, for the message named */
        b = am_fzr_evidence(r->accepted, true);
        AM_FZ_CHECK(memcmp(b->message_id.data, r->message_id.data,
                           AM_MSG_ID_LEN) == 0);
    } else {
        AM_FZ_CHECK(code != AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED);
        if (code == AMANAT__V1__ERROR_CODE__ERROR_QUOTA ||
            code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE)
            L.quiet = true; /* may end the link: dialled again later */
    }
    match_fwd(r, b);
    if (b != NULL)
        amanat__v1__evidence_body__free_unpacked(b, NULL);
}

/* The owed ReceiptAck with exactly these references, in order. */
static void on_receipt_ack(const Amanat__V1__ReceiptAck *a)
{
    for (size_t i = 0; i < L.n_acks; i++) {
        const lk_ack_t *w = &L.acks[i];
        bool same = w->n == a->n_refs;

        for (size_t k = 0; same && k < w->n; k++)
            same = (int)a->refs[k]->kind == w->kinds[k] &&
                   a->refs[k]->message_id.len == AM_MSG_ID_LEN &&
                   memcmp(a->refs[k]->message_id.data, w->ids[k],
                          AM_MSG_ID_LEN) == 0;
        if (same) {
            memmove(&L.acks[i], &L.acks[i + 1],
                    (L.n_acks - i - 1) * sizeof L.acks[0]);
            L.n_acks--;
            return;
        }
    }
    AM_FZ_CHECK(L.acks_lost || L.desync);
}

static void take(const Amanat__V1__Frame *f)
{
    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_FORWARD_RESULT:
        on_forward_result(f->forward_result);
        break;
    case AMANAT__V1__FRAME__OP_RECEIPT_ACK:
        on_receipt_ack(f->receipt_ack);
        break;
    case AMANAT__V1__FRAME__OP_ERROR:
        /* every Error on a link ends it, and only for a frame that
         * deserved it */
        AM_FZ_CHECK(f->error->fatal);
        AM_FZ_CHECK(f->error->code !=
                    AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED);
        AM_FZ_CHECK(L.doomed || L.desync);
        L.fatal = true;
        break;
    case AMANAT__V1__FRAME__OP_PING: /* keeps the link up: not answered */
        AM_FZ_CHECK(L.ready);
        break;
    case AMANAT__V1__FRAME__OP_PONG: /* only for a Ping of the harness */
        AM_FZ_CHECK(L.pings > 0 || L.desync);
        if (L.pings > 0)
            L.pings--;
        break;
    default: /* Hello again, or what a link does not send */
        AM_FZ_CHECK(false);
    }
}

/* One frame from the relay, checked; false once it ended the link. */
static bool read_one(void)
{
    Amanat__V1__Frame *f = NULL;

    if (am_fzr_recv_frame(&L.conn, AM_FZR_WAIT_MS, &f) != 0) {
        AM_FZ_CHECK(L.conn.closed); /* neither answered nor closed */
        /* never without a fatal Error, a bad AuthResult or a refusal
         * that asks for a later session */
        AM_FZ_CHECK(L.fatal || L.quiet || L.desync);
        L.up = false;
        return false;
    }
    take(f);
    am_frame_free(f);
    return true;
}

void lk_sync(void)
{
    static uint8_t *barrier;
    static size_t blen;
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Deliver d = AMANAT__V1__DELIVER__INIT;

    if (!L.up)
        return;
    /* everything until the end: the relay ends the link itself after a
     * frame it refuses, and after the harness's end when out of step */
    if (L.desync && L.conn.fd >= 0 && shutdown(L.conn.fd, SHUT_WR) != 0)
        L.conn.closed = true;
    if (L.doomed || L.desync) {
        while (read_one())
            ;
        return;
    }
    if (!L.ready)
        return; /* it awaits AuthResult: lk_drop ends it */
    /* a Deliver without a sender certificate is refused at once, after
     * everything before it was read */
    if (barrier == NULL)
        AM_FZ_CHECK(am_fzl_seal(AM_FZ_RCPT, AM_FZL_TO(AM_FZ_SENDER), 1,
                                0xba771e5u, 2 * 86400, 0, false, &barrier,
                                &blen) == 0);
    d.envelope = (ProtobufCBinaryData){blen, barrier};
    d.hops = 1;
    f.op_case = AMANAT__V1__FRAME__OP_DELIVER;
    f.deliver = &d;
    L.want_next = AMANAT__V1__ERROR_CODE__ERROR_AUTH;
    lk_send_frame(&f);
    while ((L.n_fwd > 0 || L.n_acks > 0) && read_one())
        ;
}

void lk_drop(void)
{
    (void)am_fzr_close(&L.conn);
    L.up = false;
}
