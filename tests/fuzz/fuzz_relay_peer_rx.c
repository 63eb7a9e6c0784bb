/* fuzz_relay_peer, second file: the peer relay's session
 * (fuzz_relay_peer.h).  The harness is DE-RELAY: it dials the relay with
 * its relay certificate, asks to receive, follows what it sends and checks
 * everything the relay sends back. */
#include "fuzz_relay_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "alloc.h"
#include "bytes.h"
#include "conn.h" /* AM_EVIDENCE_BODY_MAX, AM_NOTICE_BATCH */
#include "country.h"
#include "err.h"
#include "frame.h"
#include "sign.h"

pr_sess_t PR;

static bool ending; /* the harness ended its side: the relay closes */

/* The relay dials DE-RELAY at a port that is bound and never listens: each
 * attempt is refused at once and retried after the link's backoff, away
 * from the sessions of the harness (the relay's own link is
 * fuzz_relay_link's business). */
void pr_init(void)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    AM_FZ_CHECK((PR.hold_fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    AM_FZ_CHECK(bind(PR.hold_fd, (struct sockaddr *)&a, sizeof a) == 0);
    AM_FZ_CHECK(getsockname(PR.hold_fd, (struct sockaddr *)&a, &alen) == 0);
    PR.conn.fd = -1;
    (void)am_fzl_peer();
    am_fzr_federate(ntohs(a.sin_port));
}

pr_msg_t *pr_find(const uint8_t id[AM_MSG_ID_LEN])
{
    for (size_t i = 0; i < PR.n_msgs; i++)
        if (memcmp(PR.msgs[i].id, id, AM_MSG_ID_LEN) == 0)
            return &PR.msgs[i];
    return NULL;
}

pr_msg_t *pr_new_msg(void)
{
    size_t pending = 0, i;
    pr_msg_t *m;

    for (i = 0; i < PR.n_msgs; i++)
        pending += PR.msgs[i].state != PM_ENDED;
    if (pending >= PR_PENDING)
        return NULL;
    if (PR.n_msgs == PR_MSGS) {
        /* forget the oldest ended one that is no longer in the window */
        for (i = 0; i < PR.n_msgs; i++)
            if (PR.msgs[i].state == PM_ENDED &&
                (PR.msgs[i].win == PW_NONE || PR.msgs[i].win == PW_OUT))
                break;
        if (i == PR.n_msgs)
            return NULL;
        memmove(&PR.msgs[i], &PR.msgs[i + 1],
                (PR.n_msgs - i - 1) * sizeof PR.msgs[0]);
        PR.n_msgs--;
    }
    m = &PR.msgs[PR.n_msgs++];
    memset(m, 0, sizeof *m);
    return m;
}

/* ------------------------------------------------------------------ */
/* What the relay sends                                                */

static bool read_one(void);

/* A lookup's entry: fuzz_common's agencies as fuzz_relay_check.c checks
 * them; any other id gets a root-signed certificate of that id, or none. */
static void check_entry(const Amanat__V1__DirectoryEntry *e, const char *id)
{
    char cid[AM_AGENCY_ID_MAX + 1], home[AM_AGENCY_ID_MAX + 1];
    uint8_t b[AM_CERT_MAX];
    bool agency;
    size_t len;

    if (am_fz_agency(id) != NULL) {
        am_fzr_check_entry(e, id);
        return;
    }
    AM_FZ_CHECK(strcmp(e->agency_id, id) == 0);
    AM_FZ_CHECK(e->prekey == NULL || e->certificate != NULL);
    if (e->certificate == NULL)
        return;
    len = amanat__v1__signed_certificate__get_packed_size(e->certificate);
    AM_FZ_CHECK(len <= sizeof b);
    (void)amanat__v1__signed_certificate__pack(e->certificate, b);
    AM_FZ_CHECK(am_fzl_root_cert(b, len, cid, home, &agency));
    AM_FZ_CHECK(strcmp(cid, id) == 0);
}

static void on_result(const Amanat__V1__DirectoryResult *r)
{
    size_t i;

    for (i = 0; i < PR.n_look; i++)
        if (PR.look[i].id == r->request_id && !PR.look[i].error)
            break;
    /* a result for a lookup never made, or made badly, or twice */
    AM_FZ_CHECK(i < PR.n_look || PR.lost || PR.desync);
    if (i == PR.n_look)
        return;
    AM_FZ_CHECK(r->n_entries == PR.look[i].n);
    for (size_t k = 0; k < r->n_entries; k++)
        check_entry(r->entries[k], PR.look[i].ids[k]);
    if (r->request_id == PR.barrier_id)
        PR.barrier_done = true;
    memmove(&PR.look[i], &PR.look[i + 1],
            (PR.n_look - i - 1) * sizeof PR.look[0]);
    PR.n_look--;
}

static void on_error(const Amanat__V1__Error *e)
{
    size_t i;

    if (e->fatal) {
        /* only for a frame that deserved it, with its code */
        AM_FZ_CHECK(PR.doomed || PR.desync);
        if (!PR.desync && PR.want >= 0)
            AM_FZ_CHECK((int)e->code == PR.want);
        PR.fatal = true;
        return;
    }
    /* a non-fatal Error answers a lookup: badly made (at once), or the
     * store down */
    for (i = 0; i < PR.n_look; i++)
        if (PR.look[i].id == e->request_id && PR.look[i].error)
            break;
    for (i = i < PR.n_look ? i : 0; i < PR.n_look; i++)
        if (PR.look[i].id == e->request_id)
            break;
    AM_FZ_CHECK(i < PR.n_look || PR.lost || PR.desync);
    if (i == PR.n_look)
        return;
    AM_FZ_CHECK(e->code == (PR.look[i].error
                                ? AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL
                                : AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE));
    memmove(&PR.look[i], &PR.look[i + 1],
            (PR.n_look - i - 1) * sizeof PR.look[0]);
    PR.n_look--;
}

/* The sender certificate is the one the relay serves for the envelope's
 * sender (homed here); the envelope is signed by it, the relay's accepted
 * evidence is over exactly it, and DE-BKA (homed at DE-RELAY) is among its
 * recipients.  Returns the evidence's body (free_unpacked). */
static Amanat__V1__EvidenceBody *check_deliver(const Amanat__V1__Deliver *d)
{
    const am_fz_fed_t *fed = am_fz_fed();
    const am_fz_agency_t *from;
    Amanat__V1__EvidenceBody *b;
    uint8_t cert[AM_CERT_MAX];
    am_env_t *env = NULL;
    const uint8_t *want;
    size_t len, wlen;

    AM_FZ_CHECK(d->hops == 1);
    AM_FZ_CHECK(d->sender_certificate != NULL);
    AM_FZ_CHECK(am_env_parse(d->envelope.data, d->envelope.len, AM_ENV_MAX,
                             &env) == 0);
    AM_FZ_CHECK((from = am_fz_agency(am_env_sender(env))) != NULL);
    AM_FZ_CHECK(strcmp(from->cert.home_relay, AM_FZR_RELAY_ID) == 0);
    want = am_fzr_cert((int)(from - fed->ag), &wlen);
    len = amanat__v1__signed_certificate__get_packed_size(
        d->sender_certificate);
    AM_FZ_CHECK(len == wlen && len <= sizeof cert);
    (void)amanat__v1__signed_certificate__pack(d->sender_certificate, cert);
    AM_FZ_CHECK(memcmp(cert, want, len) == 0);
    am_env_free(env);
    b = am_fzr_evidence(d->accepted, true);
    /* signed by its sender, addressed to DE-BKA, the evidence's */
    am_fzr_check_delivered(&d->envelope, b, fed->ag[AM_FZ_RCPT].id);
    return b;
}

static void on_deliver(const Amanat__V1__Deliver *d)
{
    Amanat__V1__EvidenceBody *b;
    pr_msg_t *m;

    AM_FZ_CHECK(PR.receive); /* nothing pushed to a session not asking */
    b = check_deliver(d);
    /* the relay holds for DE-RELAY only what the harness submitted */
    AM_FZ_CHECK((m = pr_find(b->message_id.data)) != NULL);
    AM_FZ_CHECK(memcmp(m->hash, b->envelope_hash.data, AM_HASH_LEN) == 0);
    /* an envelope whose delivery ended (accepted, refused for good) */
    AM_FZ_CHECK(m->state != PM_ENDED);
    /* never twice in the window; again only after it left it unended */
    AM_FZ_CHECK(m->win == PW_NONE || m->win == PW_MAYBE ||
                (m->win == PW_LEAVING && m->after == PW_MAYBE));
    if (m->state == PM_UNKNOWN)
        m->state = PM_PENDING;
    m->win = PW_IN;
    m->seen = true;
    PR.delivers++;
    amanat__v1__evidence_body__free_unpacked(b, NULL);
}

/* The relay's agencies: PK-NCCIA is the only one homed here. */
static void on_update(const Amanat__V1__DirectoryUpdate *u)
{
    AM_FZ_CHECK(u->n_entries >= 1 && u->n_entries <= AM_STORE_LOOKUP_MAX);
    for (size_t i = 0; i < u->n_entries; i++) {
        const am_fz_agency_t *a = am_fz_agency(u->entries[i]->agency_id);

        AM_FZ_CHECK(a != NULL &&
                    strcmp(a->cert.home_relay, AM_FZR_RELAY_ID) == 0);
        AM_FZ_CHECK(u->entries[i]->certificate != NULL);
        am_fzr_check_entry(u->entries[i], a->id);
    }
}

static void on_receipts(const Amanat__V1__ReceiptRelay *r)
{
    AM_FZ_CHECK(PR.receive);
    AM_FZ_CHECK(r->n_evidence >= 1 && r->n_evidence <= AM_NOTICE_BATCH);
    for (size_t i = 0; i < r->n_evidence; i++)
        amanat__v1__evidence_body__free_unpacked(
            am_fzr_evidence(r->evidence[i], false), NULL);
}

static void on_pong(const Amanat__V1__Pong *p)
{
    AM_FZ_CHECK(PR.n_pings > 0 || PR.lost || PR.desync);
    if (PR.n_pings == 0)
        return;
    /* in order, echoing the nonce */
    AM_FZ_CHECK(p->nonce == PR.pings[0] || PR.lost || PR.desync);
    memmove(&PR.pings[0], &PR.pings[1], --PR.n_pings * sizeof PR.pings[0]);
}

/* Only the frames a relay session may get; nothing after a fatal Error. */
static void take(const Amanat__V1__Frame *f)
{
    AM_FZ_CHECK(!PR.fatal);
    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_DELIVER:
        on_deliver(f->deliver);
        break;
    case AMANAT__V1__FRAME__OP_RECEIPT_RELAY:
        on_receipts(f->receipt_relay);
        break;
    case AMANAT__V1__FRAME__OP_DIRECTORY_UPDATE:
        on_update(f->directory_update);
        break;
    case AMANAT__V1__FRAME__OP_REVOCATION_UPDATE:
        AM_FZ_CHECK(f->revocation_update->crl != NULL);
        am_fzr_check_crl(f->revocation_update->crl);
        break;
    case AMANAT__V1__FRAME__OP_DIRECTORY_RESULT:
        on_result(f->directory_result);
        break;
    case AMANAT__V1__FRAME__OP_PONG:
        on_pong(f->pong);
        break;
    case AMANAT__V1__FRAME__OP_ERROR:
        on_error(f->error);
        break;
    default: /* AuthResult again, Ping, SubmitResult, ... */
        AM_FZ_CHECK(false);
    }
}

/* One frame from the relay, checked; false once it closed. */
static bool read_one(void)
{
    Amanat__V1__Frame *f = NULL;

    if (!PR.up)
        return false;
    if (am_fzr_recv_frame(&PR.conn, AM_FZR_WAIT_MS, &f) != 0) {
        AM_FZ_CHECK(PR.conn.closed); /* neither answered nor closed */
        /* never without a fatal Error, unless the harness ended it, or
         * sent what the channel drops without a word */
        AM_FZ_CHECK(PR.fatal || PR.desync || ending ||
                    (PR.doomed && PR.want < 0));
        PR.up = false;
        return false;
    }
    take(f);
    am_frame_free(f);
    return true;
}

/* ------------------------------------------------------------------ */
/* What the harness sends                                              */

static void doom(int want)
{
    PR.doomed = true;
    PR.want = want;
}

/* From here on the relay reads what the harness does not follow: any
 * envelope not ended may end, or leave the window and come back. */
static void lose_step(void)
{
    PR.desync = true;
    for (size_t i = 0; i < PR.n_msgs; i++) {
        if (PR.msgs[i].state == PM_PENDING)
            PR.msgs[i].state = PM_UNKNOWN;
        if (PR.msgs[i].win == PW_IN || PR.msgs[i].win == PW_LEAVING)
            PR.msgs[i].win = PW_MAYBE;
    }
}

/* The peer's accepted evidence for id, as section 18.6 step 3 wants it
 * (checked with libsodium and protobuf-c, not proto/'s verifier); its
 * envelope hash into hash. */
static bool evidence_ok(const Amanat__V1__Evidence *e,
                        const uint8_t id[AM_MSG_ID_LEN],
                        uint8_t hash[AM_HASH_LEN])
{
    static const char tag[] = AM_TAG_EVIDENCE;
    uint8_t m[sizeof tag + AM_EVIDENCE_BODY_MAX];
    Amanat__V1__EvidenceBody *b;
    bool ok;

    if (amanat__v1__evidence__get_packed_size(e) > AM_EVIDENCE_MAX ||
        e->signature.len != crypto_sign_BYTES ||
        e->body.len > AM_EVIDENCE_BODY_MAX)
        return false;
    memcpy(m, tag, sizeof tag);
    if (e->body.len > 0)
        memcpy(m + sizeof tag, e->body.data, e->body.len);
    if (crypto_sign_verify_detached(e->signature.data, m,
                                    sizeof tag + e->body.len,
                                    am_fzl_peer()->sign_pk) != 0 ||
        (b = amanat__v1__evidence_body__unpack(NULL, e->body.len,
                                               e->body.data)) == NULL)
        return false;
    ok = b->version == 1 &&
         b->kind == AMANAT__V1__EVIDENCE_KIND__EVIDENCE_ACCEPTED &&
         b->message_id.len == AM_MSG_ID_LEN &&
         memcmp(b->message_id.data, id, AM_MSG_ID_LEN) == 0 &&
         b->envelope_hash.len == AM_HASH_LEN &&
         strcmp(b->relay_id, AM_FZR_PEER_ID) == 0 && b->recipient_id[0] == 0;
    if (ok)
        memcpy(hash, b->envelope_hash.data, AM_HASH_LEN);
    amanat__v1__evidence_body__free_unpacked(b, NULL);
    return ok;
}

static bool transient(int code)
{
    return code == AMANAT__V1__ERROR_CODE__ERROR_QUOTA ||
           code == AMANAT__V1__ERROR_CODE__ERROR_UNAVAILABLE ||
           code == AMANAT__V1__ERROR_CODE__ERROR_BUSY ||
           code == AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED;
}

static void leave(pr_msg_t *m, int after, bool ended)
{
    m->win = PW_LEAVING;
    m->after = after;
    if (ended)
        m->state = PM_ENDED;
}

static bool barrier(void);

/* Section 18.6, in its order. */
static void sent_forward(const Amanat__V1__ForwardResult *r)
{
    uint8_t hash[AM_HASH_LEN];
    pr_msg_t *m = NULL;

    if (r->message_id.len == AM_MSG_ID_LEN)
        m = pr_find(r->message_id.data);
    /* whether it is in the window must not depend on timing */
    if (m != NULL && (m->win == PW_LEAVING || m->live) && !barrier())
        return;
    if (m != NULL && m->win == PW_MAYBE) {
        /* it may come back into the window at any moment */
        lose_step();
        return;
    }
    if (m == NULL || m->win != PW_IN) {
        doom(AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL);
        return;
    }
    if (r->accepted == NULL) {
        if (!transient((int)r->error))
            leave(m, PW_OUT, true); /* refused for good */
        return;                     /* else kept in the window */
    }
    if (!evidence_ok(r->accepted, m->id, hash))
        doom(AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE);
    else if (memcmp(hash, m->hash, AM_HASH_LEN) == 0)
        leave(m, PW_OUT, true); /* forwarded: done */
    else
        leave(m, PW_MAYBE, false); /* another envelope: still pending */
}

static void sent_lookup(const Amanat__V1__DirectoryLookup *l)
{
    pr_look_t *q;

    if (PR.n_look == PR_REQS) {
        PR.lost = true;
        return;
    }
    q = &PR.look[PR.n_look++];
    q->id = l->request_id;
    q->n = l->n_agency_ids;
    q->error = q->n == 0 || q->n > AM_STORE_LOOKUP_MAX;
    for (size_t i = 0; !q->error && i < q->n; i++) {
        q->error = !am_agency_id_valid(l->agency_ids[i]);
        snprintf(q->ids[i], sizeof q->ids[i], "%s", l->agency_ids[i]);
    }
}

static void sent_parsed(const Amanat__V1__Frame *f)
{
    const Amanat__V1__ReceiptAck *a = f->receipt_ack;

    switch (f->op_case) {
    case AMANAT__V1__FRAME__OP_FORWARD_RESULT:
        sent_forward(f->forward_result);
        break;
    case AMANAT__V1__FRAME__OP_RECEIPT_ACK:
        for (size_t i = 0; i < a->n_refs; i++)
            if (a->refs[i]->message_id.len != AM_MSG_ID_LEN ||
                !am_agency_id_valid(a->refs[i]->recipient_id)) {
                doom(AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL);
                break;
            }
        break;
    case AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP:
        sent_lookup(f->directory_lookup);
        break;
    case AMANAT__V1__FRAME__OP_PING:
        if (PR.n_pings == PR_REQS)
            PR.lost = true;
        else
            PR.pings[PR.n_pings++] = f->ping->nonce;
        break;
    case AMANAT__V1__FRAME__OP_PONG:
        break;
    default: /* Submit, DeliveryAck, PrekeyUpload, Hello, Error, ... */
        doom(AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL);
    }
}

static void sent_frame(const uint8_t *body, size_t len)
{
    Amanat__V1__Frame *f = NULL;
    int rc;

    /* the channel ends on these, without a word */
    if (len == 0 || len > AM_FRAME_MAX_DEFAULT) {
        doom(-1);
        return;
    }
    if ((rc = am_frame_parse(body, len, AM_FRAME_MAX_DEFAULT, &f)) != 0) {
        doom(rc == AM_ETOOBIG ? AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG
                              : AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL);
        return;
    }
    sent_parsed(f);
    am_frame_free(f);
}

void pr_send_body(const uint8_t *body, size_t len)
{
    uint8_t *buf;

    if (!PR.up)
        return;
    /* after a frame the relay closes on, it reads nothing more */
    if (!PR.doomed && !PR.desync)
        sent_frame(body, len);
    if (!PR.up)
        return; /* ended by a barrier meanwhile */
    AM_FZ_CHECK((buf = am_malloc(4 + len)) != NULL);
    am_store_be32(buf, (uint32_t)len);
    if (len > 0)
        memcpy(buf + 4, body, len);
    (void)am_fzr_send_plain(&PR.conn, buf, 4 + len); /* closed: reads tell */
    am_free(buf);
}

void pr_send_frame(const Amanat__V1__Frame *f)
{
    uint8_t *wire = NULL;
    size_t len;

    AM_FZ_CHECK(am_frame_encode(f, AM_FRAME_MAX_CEILING, &wire, &len) == 0);
    pr_send_body(wire + 4, len - 4);
    am_free(wire);
}

void pr_send_stream(const uint8_t *p, size_t n)
{
    if (!PR.up)
        return;
    lose_step();
    (void)am_fzr_send_plain(&PR.conn, p, n);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */

/* An envelope stored for DE-RELAY while its session receives must reach
 * it within LIVE_BARRIERS barriers.  The relay once lost that wake-up when
 * a fetch it had asked for before the commit was still out (conn_kick
 * found c->fetching; on_pending did not fetch again when that one found
 * nothing): found by this target, fixed with c->kicked (conn_ops.c).  The
 * fetch that follows is asked for only when the one out comes back, which
 * may be after the harness's lookup: a second barrier is then needed. */
#define LIVE_BARRIERS 3

/* After a barrier: what was leaving has left; what was submitted while
 * the session received has been delivered, or is given another barrier
 * (true then). */
static bool settle(void)
{
    bool again = false;

    for (size_t i = 0; i < PR.n_msgs; i++) {
        pr_msg_t *m = &PR.msgs[i];

        if (m->win == PW_LEAVING)
            m->win = m->after;
        if (m->live && !m->seen && PR.receive && !PR.desync &&
            ++m->late < LIVE_BARRIERS) {
            again = true;
            continue;
        }
        AM_FZ_CHECK(!m->live || m->seen || !PR.receive || PR.desync);
        m->live = false;
        m->late = 0;
    }
    return again;
}

/* A lookup of the harness's, answered after every store request made
 * before it: false when the session ended first. */
static bool barrier(void)
{
    static uint64_t next = (uint64_t)1 << 62;
    static char *ids[] = {"PK-NCCIA"};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DirectoryLookup l = AMANAT__V1__DIRECTORY_LOOKUP__INIT;

    if (!PR.up || PR.doomed || PR.desync)
        return false;
    l.n_agency_ids = 1;
    l.agency_ids = ids;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
    f.directory_lookup = &l;
    do {
        l.request_id = PR.barrier_id = next++;
        PR.barrier_done = false;
        pr_send_frame(&f);
        while (!PR.barrier_done && read_one())
            ;
        if (!PR.barrier_done)
            return false;
    } while (settle());
    return true;
}

void pr_sync(void)
{
    if (!PR.up)
        return;
    /* the relay ends it after a frame it refuses; out of step, after the
     * harness's end */
    if (PR.desync && shutdown(PR.conn.fd, SHUT_WR) != 0)
        PR.conn.closed = true;
    if (PR.doomed || PR.desync) {
        while (read_one())
            ;
        return;
    }
    AM_FZ_CHECK(barrier());
    /* every Ping and lookup sent before was answered before it */
    AM_FZ_CHECK((PR.n_pings == 0 && PR.n_look == 0) || PR.lost);
}

void pr_end(void)
{
    if (PR.up) {
        ending = true;
        if (shutdown(PR.conn.fd, SHUT_WR) != 0)
            PR.conn.closed = true;
        while (read_one())
            ;
        ending = false;
    }
    (void)am_fzr_close(&PR.conn);
    PR.up = false;
}

static void hello(bool receive)
{
    const am_fzl_peer_t *p = am_fzl_peer();
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *r = NULL;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    uint8_t payload[AM_HANDSHAKE_MSG_MAX];
    size_t plen;

    am_fzr_connect(&PR.conn);
    AM_FZ_CHECK(am_fzr_hs_begin(&PR.conn, p->dh_sk) == 0);
    AM_FZ_CHECK(am_fzr_payload(1, p->cert, p->cert_len, "fuzz peer", 9,
                               payload, sizeof payload, &plen) == 0);
    AM_FZ_CHECK(am_fzr_hs_end(&PR.conn, payload, plen) == 0);
    h.protocol_version = 1;
    h.max_frame = (uint32_t)AM_FRAME_MAX_CEILING; /* as a link says */
    h.receive = receive;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    AM_FZ_CHECK(am_fzr_send_frame(&PR.conn, &f) == 0);
    /* a configured peer with its relay certificate: a relay session */
    AM_FZ_CHECK(am_fzr_recv_frame(&PR.conn, AM_FZR_WAIT_MS, &r) == 0);
    AM_FZ_CHECK(r->op_case == AMANAT__V1__FRAME__OP_AUTH_RESULT);
    AM_FZ_CHECK(r->auth_result->ok);
    AM_FZ_CHECK(strcmp(r->auth_result->peer_id, AM_FZR_PEER_ID) == 0);
    AM_FZ_CHECK(r->auth_result->max_frame == AM_FRAME_MAX_DEFAULT);
    AM_FZ_CHECK(r->auth_result->crl != NULL); /* it held none */
    am_fzr_check_crl(r->auth_result->crl);
    am_frame_free(r);
}

static void reset_session(bool receive)
{
    PR.up = true;
    PR.receive = receive;
    PR.doomed = PR.desync = PR.fatal = PR.lost = false;
    PR.want = -1;
    PR.n_pings = PR.n_look = 0;
    PR.delivers = 0;
    for (size_t i = 0; i < PR.n_msgs; i++) {
        PR.msgs[i].win = PW_NONE;
        PR.msgs[i].seen = PR.msgs[i].live = false;
    }
}

void pr_open(bool receive)
{
    unsigned before;

    pr_end();
    hello(receive);
    reset_session(receive);
    /* everything held for DE-RELAY: until a barrier brings nothing new */
    for (int round = 0; round < 8; round++) {
        before = PR.delivers;
        AM_FZ_CHECK(barrier()); /* an honest session goes on */
        if (PR.delivers == before)
            break;
    }
    if (!receive)
        return;
    for (size_t i = 0; i < PR.n_msgs; i++) {
        pr_msg_t *m = &PR.msgs[i];

        /* a transient refusal, another envelope's evidence, a session
         * that ended first: delivered again */
        AM_FZ_CHECK(m->state != PM_PENDING || m->seen);
        if (m->state == PM_UNKNOWN)
            m->state = m->seen ? PM_PENDING : PM_ENDED;
    }
}
