/* fuzz_relay_preauth: the relay before it has authenticated its peer, the
 * part of it anyone who can reach its port talks to.  The real relay runs
 * in-process (fuzz_relay.h) and each input is one TCP connection from
 * 127.0.0.1 carrying fuzzed handshake messages 1 and 3.
 *
 * Input: byte 0 holds flags, the rest is "rest".
 *   bits 0-2, the mode (6 and 7 repeat 3 and 5):
 *     0  raw: rest is written as it is, handshake records and all;
 *     1  message 1: rest as one handshake record;
 *     2  raw message 3: an honest message 1, the relay's message 2, then
 *        rest written as it is;
 *     3  payload: honest messages 1 and 2, then a genuine message 3 whose
 *        payload (HandshakePayload) is rest; rest[0] picks the static key
 *        (below) and is not part of the payload;
 *     4  certificate: as 3, the payload built here: rest[0] the key,
 *        rest[1] the version (below), rest[2] the software string's length
 *        modulo 80, then the certificate field's bytes;
 *     5  issued: as 3 with a certificate issued here from the choices
 *        rest[0..7], each byte modulo its number of choices: static key;
 *        certificate key (0-2 the agencies', 3 the spare initiator key, 4
 *        the relay's); signer (even: the root, odd: a foreign root);
 *        serial (the agency's, revoked 13, revoked 77, an unlisted one);
 *        validity (2020-2100, expired, not yet valid); roles (agency,
 *        relay, both); agency id (the key's owner, another agency,
 *        FR-DGSI which has no certificate on file, PK-LOST which the
 *        revocation list names); version; then the software string.  A
 *        root-signed certificate the relay did not hold is learned by its
 *        directory when the handshake completes, so that path runs too.
 *   bit 3: message 3 and the Hello leave in one write;
 *   bit 4: the connection ends with a reset instead of an orderly close.
 * Static key, modulo 4: the agencies PK-NCCIA, DE-BKA, PH-NBI, or the
 * spare initiator key of fuzz_common, which no certificate names.
 * Version byte: below 0xf0 means 1, else the byte minus 0xf0.
 *
 * Invariants: the relay answers an honest message 1 with its certificate
 * and key; it sends nothing to a message 1 that is not 32 bytes and
 * nothing after message 2 unless message 3 was genuine; after a genuine
 * message 3 and a Hello it answers AuthResult or a fatal Error
 * (ERROR_AUTH, ERROR_REVOKED, ERROR_VERSION) and closes.  It
 * authenticates only a peer whose certificate verifies here, without
 * sharing the relay's code (am_fz_signed_by, protobuf-c's own parser):
 * signed by this root, names the very key of the handshake, valid now,
 * agency role, not revoked; for issued certificates, exactly those.  It
 * closes every connection once the client has, and keeps serving: every
 * 64 inputs an honest agency must still get through.
 */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alloc.h"
#include "frame.h"
#include "fuzz_relay.h"
#include "identity.pb-c.h"

#define MODE_RAW 0
#define MODE_MSG1 1
#define MODE_RAW_MSG3 2
#define MODE_PAYLOAD 3
#define MODE_CERT 4
#define MODE_ISSUED 5

#define FLAG_CORK 0x08
#define FLAG_RESET 0x10

#define N_KEYS 4
#define SPARE_KEY 3
#define SOFTWARE_MAX 64

typedef enum { OUT_AUTH, OUT_REFUSED, OUT_CLOSED } outcome_t;

typedef struct {
    unsigned flags;
    uint8_t sk[32], pk[32];    /* the static key of the handshake */
    uint8_t payload[AM_NOISE_MSG_MAX];
    size_t payload_len;
    outcome_t out;
    Amanat__V1__ErrorCode code; /* OUT_REFUSED */
    char peer[AM_AGENCY_ID_MAX + 1]; /* OUT_AUTH */
} run_t;

static am_fzr_conn_t conn;
static const char sw_text[80] =
    "fuzz software string, long enough to go past the 64-byte limit ......";

static void pick_key(run_t *r, unsigned b)
{
    const am_fz_fed_t *f = am_fz_fed();

    b %= N_KEYS;
    memcpy(r->sk, b == SPARE_KEY ? am_fz_ini_static : f->ag[b].dh_sk, 32);
    AM_FZ_CHECK(crypto_scalarmult_base(r->pk, r->sk) == 0);
}

static uint32_t pick_version(unsigned b)
{
    return b < 0xf0 ? 1u : b - 0xf0u;
}

/* Nothing beyond message 2, or message 2 alone when message 1 can have
 * been a genuine 32-byte record. */
static void end_raw(run_t *r, bool msg1_possible)
{
    size_t got;

    if (r->flags & FLAG_RESET) {
        am_fzr_reset(&conn);
        return;
    }
    got = am_fzr_close(&conn);
    if (msg1_possible)
        AM_FZ_CHECK(got == 0 || (am_fzr_msg2_len() > 0 &&
                                 got == 2 + am_fzr_msg2_len()));
    else
        AM_FZ_CHECK(got == 0);
}

static void run_raw(run_t *r, const uint8_t *rest, size_t len)
{
    bool msg1 = len >= 34 && rest[0] == 0 && rest[1] == 32;

    (void)am_fzr_write(&conn, rest, len);
    end_raw(r, msg1);
}

static void run_msg1(run_t *r, const uint8_t *rest, size_t len)
{
    if (len > 0xffff)
        len = 0xffff;
    (void)am_fzr_send_record(&conn, rest, len);
    end_raw(r, len == 32);
}

/* After message 3 and a Hello: AuthResult, or a fatal Error and the end,
 * or (message 3 over the handshake limit) only the end. */
static void observe(run_t *r)
{
    Amanat__V1__Frame *f = NULL;

    if (am_fzr_recv_frame(&conn, AM_FZR_WAIT_MS, &f) != 0) {
        AM_FZ_CHECK(conn.closed); /* neither answered nor closed */
        r->out = OUT_CLOSED;
        return;
    }
    if (f->op_case == AMANAT__V1__FRAME__OP_AUTH_RESULT) {
        AM_FZ_CHECK(f->auth_result->ok);
        snprintf(r->peer, sizeof r->peer, "%s", f->auth_result->peer_id);
        r->out = OUT_AUTH;
    } else {
        AM_FZ_CHECK(f->op_case == AMANAT__V1__FRAME__OP_ERROR);
        AM_FZ_CHECK(f->error->fatal);
        r->code = f->error->code;
        AM_FZ_CHECK(r->code == AMANAT__V1__ERROR_CODE__ERROR_AUTH ||
                    r->code == AMANAT__V1__ERROR_CODE__ERROR_REVOKED ||
                    r->code == AMANAT__V1__ERROR_CODE__ERROR_VERSION);
        r->out = OUT_REFUSED;
        am_frame_free(f);
        f = NULL;
        /* nothing more, then the end */
        AM_FZ_CHECK(am_fzr_recv_frame(&conn, AM_FZR_WAIT_MS, &f) != 0);
        AM_FZ_CHECK(conn.closed);
    }
    am_frame_free(f);
}

/* Message 3 with r->payload, then a Hello; what the relay made of it. */
static void send_msg3(run_t *r)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    size_t msg3_len = r->payload_len + AM_NOISE_DHLEN + 2 * AM_NOISE_TAGLEN;

    conn.corked = (r->flags & FLAG_CORK) != 0;
    h.protocol_version = 1;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    if (am_fzr_hs_end(&conn, r->payload, r->payload_len) == 0)
        (void)am_fzr_send_frame(&conn, &f);
    conn.corked = false;
    (void)am_fzr_flush(&conn);
    observe(r);
    /* a genuine message 3 within the limit is answered, not dropped */
    AM_FZ_CHECK(r->out != OUT_CLOSED || msg3_len > AM_HANDSHAKE_MSG_MAX);
}

static bool has_agency_role(const Amanat__V1__AgencyCertificate *b)
{
    for (size_t i = 0; i < b->n_roles; i++)
        if (b->roles[i] == AMANAT__V1__ROLE__ROLE_AGENCY)
            return true;
    return false;
}

/* The relay authenticated r->peer: the payload must deserve it. */
static void check_deserved(const run_t *r)
{
    const am_fz_fed_t *fed = am_fz_fed();
    Amanat__V1__HandshakePayload *p;
    Amanat__V1__AgencyCertificate *b;
    const Amanat__V1__SignedCertificate *sc;
    static uint8_t cert[AM_NOISE_MSG_MAX];
    int64_t now = (int64_t)time(NULL);
    size_t len;

    p = amanat__v1__handshake_payload__unpack(NULL, r->payload_len,
                                              r->payload);
    AM_FZ_CHECK(p != NULL && p->protocol_version == 1);
    AM_FZ_CHECK(p->software == NULL || strlen(p->software) <= SOFTWARE_MAX);
    AM_FZ_CHECK((sc = p->certificate) != NULL);
    len = amanat__v1__signed_certificate__get_packed_size(sc);
    AM_FZ_CHECK(len <= sizeof cert);
    (void)amanat__v1__signed_certificate__pack(sc, cert);
    AM_FZ_CHECK(am_fz_signed_by(AM_TAG_CERT, cert, len, fed->root_pk));
    b = amanat__v1__agency_certificate__unpack(NULL, sc->body.len,
                                               sc->body.data);
    AM_FZ_CHECK(b != NULL);
    AM_FZ_CHECK(b->dh_pk.len == 32 && memcmp(b->dh_pk.data, r->pk, 32) == 0);
    AM_FZ_CHECK(has_agency_role(b));
    AM_FZ_CHECK(b->not_before <= now + 60 && b->not_after >= now - 60);
    AM_FZ_CHECK(b->serial != AM_FZ_REVOKED_A && b->serial != AM_FZ_REVOKED_B);
    AM_FZ_CHECK(strcmp(b->agency_id, r->peer) == 0);
    amanat__v1__agency_certificate__free_unpacked(b, NULL);
    amanat__v1__handshake_payload__free_unpacked(p, NULL);
}

/* Once authenticated, the session works. */
static void check_session(void)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *g = NULL;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;

    p.nonce = 0x1234;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &p;
    AM_FZ_CHECK(am_fzr_send_frame(&conn, &f) == 0);
    AM_FZ_CHECK(am_fzr_recv_frame(&conn, AM_FZR_WAIT_MS, &g) == 0);
    AM_FZ_CHECK(g->op_case == AMANAT__V1__FRAME__OP_PONG);
    AM_FZ_CHECK(g->pong->nonce == p.nonce);
    am_frame_free(g);
}

static void run_cert(run_t *r, am_fz_in_t *in)
{
    uint32_t version;
    size_t sw;

    pick_key(r, am_fz_u8(in));
    version = pick_version(am_fz_u8(in));
    sw = am_fz_u8(in) % sizeof sw_text;
    AM_FZ_CHECK(am_fzr_payload(version, in->p, am_fz_left(in), sw_text, sw,
                               r->payload, sizeof r->payload,
                               &r->payload_len) == 0);
}

/* Mode 5: the certificate and what the relay must make of it. */
typedef struct {
    bool foreign, revoked, time_ok, role_ok, key_ok;
    uint32_t version;
    size_t sw;
} issued_t;

static void issued_fields(run_t *r, am_fz_in_t *in, am_cert_t *c, issued_t *e)
{
    static const char *const ids[] = {NULL, NULL, "FR-DGSI", "PK-LOST"};
    static const uint64_t serials[] = {0, AM_FZ_REVOKED_A, AM_FZ_REVOKED_B,
                                       4242};
    static const unsigned roles[] = {AM_ROLE_AGENCY, AM_ROLE_RELAY,
                                     AM_ROLE_AGENCY | AM_ROLE_RELAY};
    const am_fz_fed_t *f = am_fz_fed();
    unsigned key = am_fz_u8(in) % N_KEYS, ck = am_fz_u8(in) % 5;
    unsigned v, id;

    pick_key(r, key);
    am_fz_cert_fields(&f->ag[key == SPARE_KEY ? 0 : key], c);
    if (ck == 4)
        memcpy(c->dh_pk, am_fzr_relay()->dh_pk, 32);
    else if (ck == SPARE_KEY)
        AM_FZ_CHECK(crypto_scalarmult_base(c->dh_pk, am_fz_ini_static) == 0);
    else
        memcpy(c->dh_pk, f->ag[ck].dh_pk, 32);
    e->key_ok = memcmp(c->dh_pk, r->pk, 32) == 0;
    e->foreign = (am_fz_u8(in) & 1) != 0;
    v = am_fz_u8(in) % 4;
    if (v != 0)
        c->serial = serials[v];
    e->revoked = v == 1 || v == 2;
    v = am_fz_u8(in) % 3; /* 2020-2100, 2000-2010, 2096-2099 */
    c->not_before = v == 0 ? AM_FZR_NOT_BEFORE : v == 1 ? 946684800
                                                        : 4000000000;
    c->not_after = v == 0 ? AM_FZR_NOT_AFTER : v == 1 ? 1262304000
                                                      : 4100000000;
    e->time_ok = v == 0;
    c->roles = roles[am_fz_u8(in) % 3];
    e->role_ok = (c->roles & AM_ROLE_AGENCY) != 0;
    id = am_fz_u8(in) % 4;
    if (id == 1)
        snprintf(c->agency_id, sizeof c->agency_id, "%s",
                 f->ag[(key + 1) % AM_FZ_N_AGENCIES].id);
    else if (id > 1)
        snprintf(c->agency_id, sizeof c->agency_id, "%s", ids[id]);
    memcpy(c->country, c->agency_id, 2);
    e->version = pick_version(am_fz_u8(in));
    e->sw = am_fz_left(in) < sizeof sw_text ? am_fz_left(in) : sizeof sw_text;
}

static void run_issued(run_t *r, am_fz_in_t *in)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_cert_t c;
    issued_t e;
    uint8_t *cert = NULL;
    size_t cert_len;
    bool cert_ok, sw_ok, ok;

    issued_fields(r, in, &c, &e);
    AM_FZ_CHECK(am_cert_issue(&c, e.foreign ? f->other_sk : f->root_sk, &cert,
                              &cert_len) == 0);
    AM_FZ_CHECK(am_fzr_payload(e.version, cert, cert_len,
                               (const char *)in->p, e.sw, r->payload,
                               sizeof r->payload, &r->payload_len) == 0);
    am_free(cert);
    send_msg3(r);
    /* the relay reads software as a C string: up to a zero byte */
    sw_ok = strnlen((const char *)in->p, e.sw) <= SOFTWARE_MAX;
    cert_ok = !e.foreign && e.time_ok && e.role_ok;
    ok = cert_ok && !e.revoked && e.key_ok && e.version == 1 && sw_ok;
    AM_FZ_CHECK((r->out == OUT_AUTH) == ok);
    if (ok)
        AM_FZ_CHECK(strcmp(r->peer, c.agency_id) == 0);
    else if (e.version != 1)
        AM_FZ_CHECK(r->code == AMANAT__V1__ERROR_CODE__ERROR_VERSION);
    else if (!sw_ok || (!e.revoked && cert_ok))
        AM_FZ_CHECK(r->code == AMANAT__V1__ERROR_CODE__ERROR_AUTH);
    else if (cert_ok)
        AM_FZ_CHECK(r->code == AMANAT__V1__ERROR_CODE__ERROR_REVOKED);
    else /* refused for its certificate, maybe also revoked */
        AM_FZ_CHECK(r->code == AMANAT__V1__ERROR_CODE__ERROR_AUTH ||
                    r->code == AMANAT__V1__ERROR_CODE__ERROR_REVOKED);
}

static void run_handshake(run_t *r, unsigned mode, am_fz_in_t *in)
{
    size_t left;

    if (mode == MODE_ISSUED) {
        pick_key(r, in->p < in->end ? *in->p : 0);
        AM_FZ_CHECK(am_fzr_hs_begin(&conn, r->sk) == 0);
        run_issued(r, in);
    } else {
        if (mode == MODE_CERT) {
            run_cert(r, in);
        } else {
            pick_key(r, am_fz_u8(in));
            left = am_fz_left(in);
            r->payload_len = left < sizeof r->payload - 64
                                 ? left : sizeof r->payload - 64;
            if (r->payload_len > 0)
                memcpy(r->payload, in->p, r->payload_len);
        }
        AM_FZ_CHECK(am_fzr_hs_begin(&conn, r->sk) == 0);
        send_msg3(r);
    }
    if (r->out == OUT_AUTH) {
        check_deserved(r);
        check_session();
    }
    if (r->flags & FLAG_RESET)
        am_fzr_reset(&conn);
    else
        (void)am_fzr_close(&conn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run_t r;
    am_fz_in_t in = {data + (size > 0), data + size};
    unsigned mode;

    if (size < 1)
        return 0;
    am_fzr_start();
    am_fzr_check_serving(64);
    memset(&r, 0, sizeof r);
    r.flags = data[0];
    mode = data[0] & 7u;
    mode = mode == 6 ? MODE_PAYLOAD : mode == 7 ? MODE_ISSUED : mode;
    am_fzr_connect(&conn);
    if (mode == MODE_RAW) {
        run_raw(&r, in.p, am_fz_left(&in));
    } else if (mode == MODE_MSG1) {
        run_msg1(&r, in.p, am_fz_left(&in));
    } else if (mode == MODE_RAW_MSG3) {
        AM_FZ_CHECK(am_fzr_hs_begin(&conn, am_fz_ini_static) == 0);
        (void)am_fzr_write(&conn, in.p, am_fz_left(&in));
        end_raw(&r, false);
    } else {
        run_handshake(&r, mode, &in);
    }
    return 0;
}
