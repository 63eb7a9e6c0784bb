/* fuzz_relay_link: the relay's own link to a peer relay (relay/link.c,
 * link_recv.c, link_dir.c), where a peer relay, maybe compromised, pushes
 * frames.  The real relay runs in-process (fuzz_relay.h), federated with
 * the peer AM_FZR_PEER_ID at a socket of the harness's: the relay dials
 * it, the harness answers as that peer (fuzz_relay_link.h) and sends the
 * input's frames.  The link is kept from one input to the next while it
 * is in step (the relay would otherwise dial again after its backoff,
 * which this target shortens to milliseconds: __wrap_uv_timer_start).
 *
 * Input: byte 0 holds flags, the rest is a sequence of operations.
 *   bit 0: a fresh link (the current one ends first);
 *   bit 1: a fresh link, AuthResult from 3 bytes: ok, peer id (this relay,
 *     the peer, empty, lower case), list (none, the one held, a newer one,
 *     a newer one by another key, a newer one revoking a serial not used);
 *   bit 2: a fresh link and no AuthResult (frames before it);
 *   bit 3: a fresh link, message 2 with certificate choice from 1 byte
 *     modulo 7 (0 the peer's; DE-BKA's; relay PH-RELAY's; the peer's for
 *     another key; by another root; none; protocol 2): else the input ends;
 *   bit 4: the link ends after the input.
 * An operation is one byte, its kind modulo 8, then its arguments:
 *   0 frame: u16 L, L bytes: one frame body, sealed with its prefix;
 *   1 stream: u16 L, L bytes of transport plaintext (no longer followed);
 *   2 deliver: sender (DE-BKA, PH-NBI, PK-NCCIA, DE-BKA), certificate
 *     (the sender's, DE-BKA's, none, damaged, the peer relay's, PH-NBI's),
 *     hops (1, 1, 0, 7), recipients (bits 0-2: PK-NCCIA, DE-BKA, PH-NBI;
 *     bits 3-4: priority; bit 5: another serial; bit 6: over the size
 *     limit; bit 7: signature forged), expiry (2 days, past, 40 days, 30
 *     days and a half hour, 30 days and 2 hours), rng seed, text length,
 *     u16 position and a byte xored there;
 *   3 receipts: count modulo 20, then per piece a byte: kind (1 + b % 3),
 *     signer (b / 4 % 3: the peer, the peer naming another relay, another
 *     key), signature damaged (bit 4), id (bits 5-7, or the input's);
 *   4 directory: count modulo 36, then per entry a byte: certificate
 *     (DE-BKA's, PK-NCCIA's, PH-NBI's, the peer relay's), damaged (bit 2),
 *     prekey (bits 3-4: none, DE-BKA's, signed by another, expired);
 *   5 revocation list: older, the one held, newer, newer by another key,
 *     newer damaged, newer revoking a serial not used;
 *   6 sync: until the relay has answered everything owed;
 *   7 other frame: Pong, Error, fatal Error, Ping, AuthResult, Hello,
 *     ForwardResult, DirectoryLookup.
 *
 * Invariants: the relay's handshake message 3 carries its certificate
 * and it goes on only with its peer's; Hello asks to receive; whatever
 * arrives decrypts and parses and is a frame a link sends; every Deliver
 * whose envelope parses gets exactly one ForwardResult naming its id,
 * unless the link ends; accepted evidence is the relay's, over exactly the
 * envelope forwarded, and only for hops 1, a root-signed sender homed at
 * the peer, the envelope's sender, a recipient homed here; the crafted
 * Delivers get their codes (AUTH, NOT_HOME, SPOOFED_SENDER, HOP_LIMIT,
 * TOO_BIG, BAD_SIGNATURE for a forged signature or another serial,
 * EXPIRED); a ReceiptRelay naming messages gets one ReceiptAck with those
 * references in order; every Error is fatal, and comes only for a frame
 * the relay ends the link on; the relay ends the link only after such an
 * Error, a refused AuthResult or a refusal that asks for a later session;
 * it dials again; no crash, leak or undefined behaviour.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "alloc.h"
#include "frame.h"
#include "fuzz_relay_link.h"
#include "prekey.h"

/* The link's retry timer (link.c, schedule) fires within 2 ms: the relay
 * dials again at once.  Recognised as the timer inside an am_link_t whose
 * data is that am_link_t; every other timer is left as it is. */
int __real_uv_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout,
                          uint64_t repeat);
int __wrap_uv_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout,
                          uint64_t repeat);

int __wrap_uv_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout,
                          uint64_t repeat)
{
    if (repeat == 0 && t->data != NULL &&
        (char *)t == (char *)t->data + offsetof(am_link_t, retry) &&
        timeout > 2)
        timeout = 2;
    return __real_uv_timer_start(t, cb, timeout, repeat);
}

#define F_FRESH 0x01
#define F_AUTH 0x02
#define F_NO_AUTH 0x04
#define F_HS 0x08
#define F_END 0x10

static void op_bytes(unsigned kind, am_fz_in_t *in)
{
    size_t n = am_fz_len16(in);

    if (kind == 0)
        lk_send_body(in->p, n);
    else
        lk_send_stream(in->p, n);
    in->p += n;
}

/* A crafted Deliver's choices (operation 2). */
typedef struct {
    int sender, cert_of; /* agency indexes; cert_of -1: not an agency's */
    unsigned cert, hops, rcpt, exp, seed, text, at;
    uint8_t x;
} dv_t;

static const int64_t dv_exps[] = {2 * 86400, -60, 40 * 86400,
                                  30 * 86400 + 1800, 30 * 86400 + 7200};

/* The code link_recv.c must answer, in its order of checks. */
static int dv_want(const dv_t *v)
{
    if (v->x != 0)
        return -1;
    if (v->cert_of < 0)
        return AMANAT__V1__ERROR_CODE__ERROR_AUTH;
    if (v->cert_of != AM_FZ_RCPT) /* homed elsewhere than at the peer */
        return AMANAT__V1__ERROR_CODE__ERROR_NOT_HOME;
    if (v->sender != AM_FZ_RCPT)
        return AMANAT__V1__ERROR_CODE__ERROR_SPOOFED_SENDER;
    if (v->hops != 1)
        return AMANAT__V1__ERROR_CODE__ERROR_HOP_LIMIT;
    if (v->rcpt & 0x40)
        return AMANAT__V1__ERROR_CODE__ERROR_TOO_BIG;
    if (v->rcpt & 0xa0) /* another serial, or a forged signature */
        return AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE;
    if (!(v->rcpt & AM_FZL_TO(AM_FZ_SENDER)))
        return AMANAT__V1__ERROR_CODE__ERROR_NOT_HOME;
    if (v->exp == 1 || v->exp == 2 || v->exp == 4)
        return AMANAT__V1__ERROR_CODE__ERROR_EXPIRED;
    return 0;
}

/* The sender certificate of the choice (damaged when 3), or NULL. */
static Amanat__V1__SignedCertificate *dv_cert(dv_t *v)
{
    const int of[] = {v->sender, AM_FZ_RCPT, -1, v->sender, -1, AM_FZ_THIRD};
    const am_fzl_peer_t *p = am_fzl_peer();
    Amanat__V1__SignedCertificate *c;
    const uint8_t *b;
    size_t len;

    v->cert_of = of[v->cert];
    if (v->cert == 2)
        return NULL;
    if (v->cert == 4) {
        b = p->cert;
        len = p->cert_len;
    } else {
        b = am_fzr_cert(v->cert_of, &len);
    }
    c = am_fzl_cert_msg(b, len);
    if (v->cert == 3) {
        v->cert_of = -1;
        c->signature.data[c->signature.len / 2] ^= 0x10;
    }
    return c;
}

/* Text enough for an envelope just over the relay's limit. */
static size_t big_text(void)
{
    static size_t over;
    uint8_t *env = NULL;
    size_t len;

    if (over == 0) {
        AM_FZ_CHECK(am_fzl_seal(AM_FZ_RCPT, AM_FZL_TO(AM_FZ_SENDER), 1, 0,
                                86400, 0, false, &env, &len) == 0);
        am_free(env);
        over = AM_FRAME_MAX_DEFAULT - AM_DELIVER_OVERHEAD - len + 64;
    }
    return over;
}

static void op_deliver(am_fz_in_t *in)
{
    static const int senders[] = {AM_FZ_RCPT, AM_FZ_THIRD, AM_FZ_SENDER,
                                  AM_FZ_RCPT};
    static const unsigned hops[] = {1, 1, 0, 7};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Deliver d = AMANAT__V1__DELIVER__INIT;
    dv_t v = {.sender = senders[am_fz_u8(in) % 4]};
    uint8_t *env = NULL;
    size_t len;

    v.cert = am_fz_u8(in) % 6;
    v.hops = hops[am_fz_u8(in) % 4];
    v.rcpt = am_fz_u8(in);
    v.exp = am_fz_u8(in) % 5;
    v.seed = am_fz_u8(in);
    v.text = am_fz_u8(in) % 64;
    v.at = (unsigned)am_fz_u8(in) << 8;
    v.at |= am_fz_u8(in);
    v.x = (uint8_t)am_fz_u8(in);
    if (am_fzl_seal(v.sender, v.rcpt & 7, 1 + (int)((v.rcpt >> 3) & 3) % 3,
                    v.seed, dv_exps[v.exp],
                    (v.rcpt & 0x40) ? big_text() : v.text,
                    (v.rcpt & 0x20) != 0, &env, &len) != 0)
        return; /* no recipient, or refused by am_env_seal */
    if (v.rcpt & 0x80)
        env[len - 10] ^= 0x80; /* in the signature */
    env[v.at % len] ^= v.x;
    d.envelope = (ProtobufCBinaryData){len, env};
    d.sender_certificate = dv_cert(&v);
    d.hops = v.hops;
    f.op_case = AMANAT__V1__FRAME__OP_DELIVER;
    f.deliver = &d;
    L.want_next = dv_want(&v);
    lk_send_frame(&f);
    if (d.sender_certificate != NULL)
        amanat__v1__signed_certificate__free_unpacked(d.sender_certificate,
                                                      NULL);
    am_free(env);
}

/* One piece of evidence (operation 3), as the peer signs it or not. */
static Amanat__V1__Evidence *piece(unsigned b, am_fz_in_t *in)
{
    const am_fzl_peer_t *p = am_fzl_peer();
    static const int64_t day = 86400;
    uint8_t id[AM_MSG_ID_LEN], hash[AM_HASH_LEN] = {0}, *e = NULL;
    unsigned signer = b / 4 % 3;
    Amanat__V1__Evidence *m;
    size_t len;

    memset(id, (int)(b >> 5), sizeof id);
    if ((b >> 5) == 7)
        for (size_t i = 0; i < sizeof id; i++)
            id[i] = (uint8_t)am_fz_u8(in);
    am_fzl_evidence(1 + (int)(b % 3), id, hash,
                    signer == 1 ? AM_FZR_RELAY_ID : AM_FZR_PEER_ID, "DE-BKA",
                    (int64_t)time(NULL) - day,
                    signer == 2 ? am_fz_fed()->other_sk : p->sign_sk, &e,
                    &len);
    m = am_fzl_evidence_msg(e, len);
    if (b & 0x10)
        m->signature.data[m->signature.len - 1] ^= 0x01;
    am_free(e);
    return m;
}

static void op_receipts(am_fz_in_t *in)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptRelay r = AMANAT__V1__RECEIPT_RELAY__INIT;
    Amanat__V1__Evidence *ev[20];
    size_t n = am_fz_u8(in) % 20;

    for (size_t i = 0; i < n; i++)
        ev[i] = piece(am_fz_u8(in), in);
    r.n_evidence = n;
    r.evidence = ev;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_RELAY;
    f.receipt_relay = &r;
    lk_send_frame(&f);
    for (size_t i = 0; i < n; i++)
        amanat__v1__evidence__free_unpacked(ev[i], NULL);
}

/* DE-BKA's prekey, signed by it or by PK-NCCIA, current or expired. */
static Amanat__V1__SignedPrekey *prekey(unsigned how)
{
    static uint32_t next;
    const am_fz_fed_t *fed = am_fz_fed();
    const am_fz_agency_t *de = &fed->ag[AM_FZ_RCPT];
    int64_t now = (int64_t)time(NULL);
    am_prekey_t p = {.prekey_id = 1 + next++ % 200};
    Amanat__V1__SignedPrekey *m;
    uint8_t *b = NULL;
    size_t len;

    snprintf(p.agency_id, sizeof p.agency_id, "%s", de->id);
    memcpy(p.dh_pk, de->pre_pk, sizeof p.dh_pk);
    p.created_at = how == 3 ? now - 3 * 86400 : now - 3600;
    p.not_after = how == 3 ? now - 86400 : now + 40 * 86400;
    AM_FZ_CHECK(am_prekey_sign(&p, how == 2 ? fed->ag[AM_FZ_SENDER].sign_sk
                                            : de->sign_sk, &b, &len) == 0);
    AM_FZ_CHECK((m = amanat__v1__signed_prekey__unpack(NULL, len, b)) !=
                NULL);
    am_free(b);
    return m;
}

static void entry(Amanat__V1__DirectoryEntry *e, unsigned b)
{
    static const int of[] = {AM_FZ_RCPT, AM_FZ_SENDER, AM_FZ_THIRD, -1};
    const am_fzl_peer_t *p = am_fzl_peer();
    int i = of[b % 4];
    const uint8_t *c = p->cert;
    size_t len = p->cert_len;

    amanat__v1__directory_entry__init(e);
    if (i >= 0)
        c = am_fzr_cert(i, &len);
    e->agency_id = (char *)(i >= 0 ? am_fz_fed()->ag[i].id : AM_FZR_PEER_ID);
    e->certificate = am_fzl_cert_msg(c, len);
    if (b & 4)
        e->certificate->signature.data[3] ^= 0x04;
    if ((b >> 3) & 3)
        e->prekey = prekey((b >> 3) & 3);
}

static void op_directory(am_fz_in_t *in)
{
    static Amanat__V1__DirectoryEntry e[36], *ep[36];
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DirectoryUpdate u = AMANAT__V1__DIRECTORY_UPDATE__INIT;
    size_t n = am_fz_u8(in) % 36;

    for (size_t i = 0; i < n; i++) {
        entry(&e[i], am_fz_u8(in));
        ep[i] = &e[i];
    }
    u.n_entries = n;
    u.entries = ep;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_UPDATE;
    f.directory_update = &u;
    lk_send_frame(&f);
    for (size_t i = 0; i < n; i++) {
        amanat__v1__signed_certificate__free_unpacked(e[i].certificate, NULL);
        if (e[i].prekey != NULL)
            amanat__v1__signed_prekey__free_unpacked(e[i].prekey, NULL);
    }
}

static void op_revocation(am_fz_in_t *in)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__RevocationUpdate u = AMANAT__V1__REVOCATION_UPDATE__INIT;
    unsigned how = am_fz_u8(in) % 6;
    uint64_t seq = how == 0   ? AM_FZ_CRL_SEQUENCE - 1
                   : how == 1 ? AM_FZ_CRL_SEQUENCE
                   : how == 2 || how == 5 ? ++L.crl_seq
                                          : L.crl_seq + 1;
    uint8_t *b = NULL;
    size_t len;

    am_fzl_crl(seq, how == 5 ? 1000 + seq : 0, how == 3, &b, &len);
    u.crl = am_fzl_crl_msg(b, len);
    if (how == 4)
        u.crl->signature.data[7] ^= 0x20;
    f.op_case = AMANAT__V1__FRAME__OP_REVOCATION_UPDATE;
    f.revocation_update = &u;
    lk_send_frame(&f);
    amanat__v1__revocation_list__free_unpacked(u.crl, NULL);
    am_free(b);
}

/* Operation 7: frames a peer relay may send (Pong, Error) and frames a
 * link refuses. */
static void op_other(am_fz_in_t *in)
{
    static char *ids[] = {"PK-NCCIA"};
    static uint8_t id[AM_MSG_ID_LEN];
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Pong pong = AMANAT__V1__PONG__INIT;
    Amanat__V1__Ping ping = AMANAT__V1__PING__INIT;
    Amanat__V1__Error e = AMANAT__V1__ERROR__INIT;
    Amanat__V1__AuthResult a = AMANAT__V1__AUTH_RESULT__INIT;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    Amanat__V1__ForwardResult r = AMANAT__V1__FORWARD_RESULT__INIT;
    Amanat__V1__DirectoryLookup l = AMANAT__V1__DIRECTORY_LOOKUP__INIT;
    unsigned what = am_fz_u8(in) % 8;

    f.pong = &pong; /* each case sets its own member of the union */
    e.code = AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL;
    e.message = "fuzz";
    e.fatal = what == 2;
    a.ok = true;
    a.peer_id = AM_FZR_RELAY_ID;
    h.protocol_version = 1;
    r.message_id = (ProtobufCBinaryData){sizeof id, id};
    r.error = AMANAT__V1__ERROR_CODE__ERROR_QUOTA;
    l.request_id = 1;
    l.n_agency_ids = 1;
    l.agency_ids = ids;
    if (what == 0) {
        f.op_case = AMANAT__V1__FRAME__OP_PONG;
    } else if (what <= 2) {
        f.op_case = AMANAT__V1__FRAME__OP_ERROR;
        f.error = &e;
    } else if (what == 3) {
        f.op_case = AMANAT__V1__FRAME__OP_PING;
        f.ping = &ping;
    } else if (what == 4) {
        f.op_case = AMANAT__V1__FRAME__OP_AUTH_RESULT;
        f.auth_result = &a;
    } else if (what == 5) {
        f.op_case = AMANAT__V1__FRAME__OP_HELLO;
        f.hello = &h;
    } else if (what == 6) {
        f.op_case = AMANAT__V1__FRAME__OP_FORWARD_RESULT;
        f.forward_result = &r;
    } else {
        f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
        f.directory_lookup = &l;
    }
    lk_send_frame(&f);
}

/* The link for this input: the one kept, or a fresh one. */
static bool link_for(unsigned flags, am_fz_in_t *in)
{
    if (L.up && !(flags & (F_FRESH | F_AUTH | F_NO_AUTH | F_HS)))
        return true;
    lk_drop();
    if (!lk_connect((flags & F_HS) ? am_fz_u8(in) % 7 : 0))
        return false;
    if (!(flags & F_NO_AUTH))
        lk_auth((flags & F_AUTH) != 0, in);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    am_fz_in_t in = {data + (size > 0), data + size};
    unsigned flags, kind;

    if (size < 1)
        return 0;
    if (!init) {
        lk_init();
        init = true;
    }
    am_fzr_start();
    flags = data[0];
    if (!link_for(flags, &in))
        return 0;
    while (am_fz_left(&in) > 0 && L.up && !L.doomed) {
        kind = am_fz_u8(&in) % 8;
        if (kind <= 1)
            op_bytes(kind, &in);
        else if (kind == 2)
            op_deliver(&in);
        else if (kind == 3)
            op_receipts(&in);
        else if (kind == 4)
            op_directory(&in);
        else if (kind == 5)
            op_revocation(&in);
        else if (kind == 6)
            lk_sync();
        else
            op_other(&in);
    }
    lk_sync();
    if ((flags & F_END) || !L.up || L.doomed || L.desync || !L.ready ||
        L.fwd_lost || L.acks_lost)
        lk_drop();
    return 0;
}
