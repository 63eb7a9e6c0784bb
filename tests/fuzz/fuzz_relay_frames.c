/* fuzz_relay_frames: the relay after authentication, where every agency of
 * the federation can reach it: fuzzed application frames on an honest,
 * authenticated session.  The real relay runs in-process (fuzz_relay.h);
 * each input is one session of one of fuzz_common's agencies, whose
 * certificates the relay serves.
 *
 * Input: byte 0 holds flags, the rest is a sequence of operations.
 *   bits 0-1: the agency: PK-NCCIA, DE-BKA, PH-NBI, PK-NCCIA;
 *   bit 2: Hello.receive (deliveries and receipts are pushed);
 *   bit 3: no Hello from the harness: the fuzzed frames come first;
 *   bit 4: Hello.max_frame 16 MiB rather than 0 (the default, 1 MiB);
 *   bit 5: every Deliver is acknowledged at once (DeliveryAck);
 *   bit 6: the session ends with a reset rather than an orderly close.
 * An operation is one byte, its kind modulo 10, then its arguments (u16
 * big-endian; reads past the end give zeros):
 *   0 frame: u16 L, L bytes: one frame body, sealed with its prefix;
 *   1 stream: u16 L, L bytes: transport plaintext as it is, so frame
 *     prefixes, splits and several frames per message are fuzzed too;
 *   2 raw: u16 L, L bytes written outside the encryption (the channel is
 *     broken from there);
 *   3 submit: how (am_fz_seal's bits), rng seed, expiry (0 two days, 1 in
 *     the past, 2 forty days ahead, 3 29 days), text length: a sealed
 *     envelope from am_fz_seal_at, valid at the real clock unless the
 *     expiry or the bits say otherwise;
 *   4 damaged submit: as 3, then u16 position and a byte xored there;
 *   5 delivery ack: selector s; s < 0x80 with deliveries seen acks the
 *     s-th one seen, else a message id of s & 31 bytes from the input;
 *   6 receipt ack: selector s; s < 0x80 with receipts seen acks all (s
 *     bit 0: each twice), else s % 4 references from the input (kind,
 *     16-byte id, recipient choice);
 *   7 ping: u8 nonce;
 *   8 prekey upload: signer (even: the session's agency, odd: another),
 *     agency id (even: the session's, odd: another), prekey id, created
 *     (two days ago, an hour ago, today 00:00, three days ahead), life
 *     (even: 40 days, odd: one day): am_prekey_sign;
 *   9 directory lookup: a count modulo 34, then that many choices among
 *     the federation's agencies, an agency without a certificate here,
 *     and ids that are not agency ids.
 * Operations 3, 4, 8 and 9 wait for their answer, 7 for its Pong; before
 * operations 5 and 6 and at the end the harness waits until the relay has
 * dealt with everything sent (fuzz_relay_frames.h): the answer to the
 * first frame, a Pong when the stream is at a frame boundary, and the
 * answer to every request sent, fuzzed or not.  So what an operation picks
 * from does not depend on timing, everything the relay sends is read and
 * checked, and nothing is left for the next input.
 *
 * Invariants: whatever arrives decrypts and parses; the relay sends only
 * its own operations; a fatal Error is followed by the end of the
 * connection, and the relay never ends a session whose stream is in step
 * without one; every request gets exactly one answer, naming its
 * request_id; Pong echoes the nonce; a fresh, valid submit is accepted
 * (or refused only as a duplicate or over quota), with evidence signed by
 * the relay over the exact envelope; a spoofed sender, a wrong serial or a
 * bad expiry are refused with their codes; Deliver carries the relay's
 * evidence for an envelope signed by its sender and addressed to this
 * agency; receipts are relay-signed; nothing is pushed to a session whose
 * Hello did not ask; a prekey is stored only when it is the session
 * agency's own, valid and signed, and its upload is otherwise refused
 * with its code; a directory lookup of valid ids is answered entry by
 * entry in order, with root-signed certificates exactly for the
 * federation's agencies and prekeys signed by their keys; the relay
 * closes once the client has.
 *
 * The relay keeps its store from one input to the next, as a relay does
 * (envelopes pending for DE-BKA are delivered to its next receiving
 * session): an input replays the same way against the same history, and a
 * crash found late may need the inputs before it (libFuzzer's -runs on the
 * corpus) when it does not reproduce alone.
 */
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "bytes.h"
#include "envelope.h"
#include "frame.h"
#include "fuzz_relay_frames.h"
#include "prekey.h"

#define CASE_TEXT "case 2024/117: request for subscriber records; urgent."

static void op_bytes(unsigned kind, am_fz_in_t *in)
{
    size_t n = am_fz_len16(in);
    uint8_t *buf;

    if (kind == 2) {
        FR.broken = true; /* outside the encryption: the channel is lost */
        if (!FR.over && am_fzr_write(&FR.conn, in->p, n) != 0)
            FR.over = true;
    } else if (kind == 1) {
        fr_send_stream(in->p, n);
    } else {
        AM_FZ_CHECK((buf = am_malloc(4 + n)) != NULL);
        am_store_be32(buf, (uint32_t)n);
        if (n > 0)
            memcpy(buf + 4, in->p, n);
        fr_send_stream(buf, 4 + n);
        am_free(buf);
    }
    in->p += n;
}

/* The outcome of the harness's own request, when known: want is the
 * error code, or ERROR_UNSPECIFIED for an acceptance (which others may
 * replace). */
static void expect(Amanat__V1__ErrorCode want, Amanat__V1__ErrorCode alt1,
                   Amanat__V1__ErrorCode alt2)
{
    if (!FR.answered || FR.ambiguous)
        return; /* the session ended first, or two requests shared an id */
    if (want != AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED)
        AM_FZ_CHECK(!FR.accepted && FR.code == want);
    else
        AM_FZ_CHECK(FR.accepted || FR.code == alt1 || FR.code == alt2);
}

/* What a fresh submit of these bits and expiry must get (section 14's
 * order: sender, signature and serial, recipients, expiry). */
static Amanat__V1__ErrorCode submit_code(unsigned how, unsigned exp)
{
    const am_fz_fed_t *f = am_fz_fed();
    const am_fz_agency_t *from =
        &f->ag[(how & AM_FZ_SEAL_FROM_THIRD) ? AM_FZ_THIRD : AM_FZ_SENDER];

    if (from != FR.ag)
        return AMANAT__V1__ERROR_CODE__ERROR_SPOOFED_SENDER;
    if (how & AM_FZ_SEAL_BAD_SERIAL)
        return AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE;
    if (exp == 1 || exp == 2)
        return AMANAT__V1__ERROR_CODE__ERROR_EXPIRED;
    return AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED;
}

static void op_submit(bool damage, am_fz_in_t *in)
{
    static const int64_t exps[] = {2 * 86400, -86400, 40 * 86400, 29 * 86400};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Submit s = AMANAT__V1__SUBMIT__INIT;
    int64_t day = (int64_t)time(NULL) / 86400 * 86400;
    unsigned how = am_fz_u8(in), seed = am_fz_u8(in), exp = am_fz_u8(in) % 4;
    size_t text = am_fz_u8(in) % sizeof CASE_TEXT, at = 0;
    uint8_t *env = NULL, x = 0;
    size_t len;

    if (damage) {
        at = (size_t)am_fz_u8(in) << 8;
        at |= am_fz_u8(in);
        x = (uint8_t)am_fz_u8(in);
    }
    if (am_fz_seal_at(how, seed, exp == 1 ? day - 10 * 86400 : day,
                      day + exps[exp], (const uint8_t *)CASE_TEXT, text, &env,
                      &len) != 0)
        return; /* priority 0: no envelope */
    env[at % len] ^= x;
    s.request_id = 0x5000 + FR.nonces++;
    s.envelope = (ProtobufCBinaryData){len, env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &s;
    FR.env = env;
    FR.env_len = len;
    fr_request(&f);
    if (x == 0)
        expect(submit_code(how, exp), AMANAT__V1__ERROR_CODE__ERROR_DUPLICATE,
               AMANAT__V1__ERROR_CODE__ERROR_QUOTA);
    FR.env = NULL;
    am_free(env);
}

static void op_delivery_ack(am_fz_in_t *in)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DeliveryAck a = AMANAT__V1__DELIVERY_ACK__INIT;
    unsigned sel = am_fz_u8(in);
    size_t n;

    if (sel < 0x80 && FR.n_ids > 0) {
        a.message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN,
                                             FR.ids[sel % FR.n_ids]};
    } else {
        n = sel & 31u;
        n = n < am_fz_left(in) ? n : am_fz_left(in);
        a.message_id = (ProtobufCBinaryData){n, (uint8_t *)in->p};
        in->p += n;
    }
    f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
    f.delivery_ack = &a;
    fr_send_frame(&f);
}

/* References from the input: kind, 16-byte id, recipient choice. */
static size_t input_refs(am_fz_in_t *in, unsigned count, fr_ref_t *out)
{
    static const char *const ids[] = {"PK-NCCIA", "DE-BKA", "PH-NBI",
                                      "FR-DGSI", "", "de-bka", "XX-NOWHERE",
                                      "DE-BKA-TOO-LONG-FOR-AN-ID"};
    size_t n;

    for (n = 0; n < count; n++) {
        out[n].kind = (int)(am_fz_u8(in) % 5);
        for (size_t i = 0; i < AM_MSG_ID_LEN; i++)
            out[n].id[i] = (uint8_t)am_fz_u8(in);
        snprintf(out[n].rcpt, sizeof out[n].rcpt, "%s",
                 ids[am_fz_u8(in) % 8]);
    }
    return n;
}

static void op_receipt_ack(am_fz_in_t *in)
{
    static fr_ref_t given[4];
    static Amanat__V1__EvidenceRef r[2 * FR_MAX_SEEN], *rp[2 * FR_MAX_SEEN];
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__ReceiptAck a = AMANAT__V1__RECEIPT_ACK__INIT;
    unsigned sel = am_fz_u8(in), twice = 0;
    const fr_ref_t *src = FR.refs;
    size_t n = FR.n_refs, k = 0;

    if (sel >= 0x80 || n == 0) {
        src = given;
        n = input_refs(in, sel % 4, given);
    } else {
        twice = sel & 1;
    }
    for (size_t i = 0; i < n; i++)
        for (unsigned t = 0; t <= twice; t++, k++) {
            amanat__v1__evidence_ref__init(&r[k]);
            r[k].kind = (Amanat__V1__EvidenceKind)src[i].kind;
            r[k].message_id = (ProtobufCBinaryData){AM_MSG_ID_LEN,
                                                    (uint8_t *)src[i].id};
            r[k].recipient_id = (char *)src[i].rcpt;
            rp[k] = &r[k];
        }
    a.n_refs = k;
    a.refs = rp;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
    f.receipt_ack = &a;
    fr_send_frame(&f);
}

static void op_ping(am_fz_in_t *in)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping p = AMANAT__V1__PING__INIT;
    bool answerable = FR.ready && !FR.over && !FR.desync && !FR.broken &&
                      FR.pfx_have == 0;

    p.nonce = am_fz_u8(in);
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &p;
    fr_send_frame(&f);
    if (!answerable)
        return;
    /* Pongs to fuzzed Pings may come first; the order is checked there */
    while (FR.n_pings > 0 && !FR.pings_lost && !FR.over && fr_read_one())
        ;
}

/* Section 14's order: signature and owner, expiry, creation time. */
static void prekey_expect(bool foreign, const am_prekey_t *p)
{
    int64_t now = (int64_t)time(NULL);

    if (foreign)
        expect(AMANAT__V1__ERROR_CODE__ERROR_BAD_SIGNATURE, 0, 0);
    else if (p->not_after < now)
        expect(AMANAT__V1__ERROR_CODE__ERROR_EXPIRED, 0, 0);
    else if (p->created_at > now + 3600)
        expect(AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL, 0, 0);
    else
        expect(AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED,
               AMANAT__V1__ERROR_CODE__ERROR_STALE,
               AMANAT__V1__ERROR_CODE__ERROR_STALE);
}

static void op_prekey(am_fz_in_t *in)
{
    const am_fz_fed_t *fed = am_fz_fed();
    const am_fz_agency_t *other =
        &fed->ag[(FR.ag - fed->ag + 1) % AM_FZ_N_AGENCIES];
    int64_t now = (int64_t)time(NULL), day = now / 86400 * 86400;
    const int64_t created[] = {now - 2 * 86400, now - 3600, day,
                               now + 3 * 86400};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__PrekeyUpload u = AMANAT__V1__PREKEY_UPLOAD__INIT;
    unsigned signer = am_fz_u8(in) & 1, owner = am_fz_u8(in) & 1;
    am_prekey_t p = {.prekey_id = am_fz_u8(in)};
    uint8_t *bytes = NULL;
    size_t len;

    snprintf(p.agency_id, sizeof p.agency_id, "%s",
             owner ? other->id : FR.ag->id);
    memcpy(p.dh_pk, FR.ag->pre_pk, sizeof p.dh_pk);
    p.created_at = created[am_fz_u8(in) % 4];
    p.not_after = p.created_at + ((am_fz_u8(in) & 1) ? 86400 : 40 * 86400);
    if (am_prekey_sign(&p, signer ? other->sign_sk : FR.ag->sign_sk, &bytes,
                       &len) != 0)
        return; /* prekey id 0 */
    AM_FZ_CHECK((u.prekey = amanat__v1__signed_prekey__unpack(NULL, len,
                                                              bytes)) != NULL);
    u.request_id = 0x6000 + FR.nonces++;
    FR.prekey_id = p.prekey_id;
    f.op_case = AMANAT__V1__FRAME__OP_PREKEY_UPLOAD;
    f.prekey_upload = &u;
    fr_request(&f);
    prekey_expect(signer || owner, &p);
    amanat__v1__signed_prekey__free_unpacked(u.prekey, NULL);
    am_free(bytes);
}

static void op_lookup(am_fz_in_t *in)
{
    static const char *const ids[] = {"PK-NCCIA", "DE-BKA", "PH-NBI",
                                      "FR-DGSI", "PK-RELAY", "de-bka", "",
                                      "DE-BKA-AND-MORE-THAN-AN-ID"};
    static char *asked[34];
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__DirectoryLookup l = AMANAT__V1__DIRECTORY_LOOKUP__INIT;
    size_t n = am_fz_u8(in) % 34;
    bool valid = n >= 1 && n <= 32;

    for (size_t i = 0; i < n; i++) {
        asked[i] = (char *)ids[am_fz_u8(in) % 8];
        valid &= am_agency_id_valid(asked[i]);
    }
    l.request_id = 0x7000 + FR.nonces++;
    l.n_agency_ids = n;
    l.agency_ids = asked;
    FR.lookup = asked;
    FR.n_lookup = n;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
    f.directory_lookup = &l;
    fr_request(&f);
    expect(valid ? AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED
                 : AMANAT__V1__ERROR_CODE__ERROR_PROTOCOL,
           AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED,
           AMANAT__V1__ERROR_CODE__ERROR_UNSPECIFIED);
}

/* The session: handshake and, unless the input sends its own, Hello. */
static void start(unsigned flags)
{
    static uint8_t payload[AM_HANDSHAKE_MSG_MAX];
    const am_fz_fed_t *fed = am_fz_fed();
    const uint8_t *cert;
    size_t plen, clen;
    int i = (int)(flags & 3u) % AM_FZ_N_AGENCIES;

    am_free(FR.body);
    memset(&FR, 0, sizeof FR);
    FR.flags = flags;
    FR.ag = &fed->ag[i];
    if (!(flags & F_NO_HELLO)) {
        am_fzr_login(&FR.conn, i, (flags & F_RECEIVE) != 0,
                     (flags & F_BIG_FRAME) ? (uint32_t)AM_FRAME_MAX_CEILING
                                           : 0);
        FR.ready = true;
        FR.receive = (flags & F_RECEIVE) != 0;
        return;
    }
    cert = am_fzr_cert(i, &clen);
    am_fzr_connect(&FR.conn);
    AM_FZ_CHECK(am_fzr_hs_begin(&FR.conn, FR.ag->dh_sk) == 0);
    AM_FZ_CHECK(am_fzr_payload(1, cert, clen, "fuzz", 4, payload,
                               sizeof payload, &plen) == 0);
    AM_FZ_CHECK(am_fzr_hs_end(&FR.conn, payload, plen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_fz_in_t in = {data + (size > 0), data + size};
    unsigned kind;

    if (size < 1)
        return 0;
    am_fzr_start();
    start(data[0]);
    while (am_fz_left(&in) > 0 && !FR.over) {
        kind = am_fz_u8(&in) % 10;
        /* acks pick among what arrived: read all of it first */
        if (kind == 5 || kind == 6)
            fr_sync();
        if (kind <= 2)
            op_bytes(kind, &in);
        else if (kind <= 4)
            op_submit(kind == 4, &in);
        else if (kind == 5)
            op_delivery_ack(&in);
        else if (kind == 6)
            op_receipt_ack(&in);
        else if (kind == 7)
            op_ping(&in);
        else if (kind == 8)
            op_prekey(&in);
        else
            op_lookup(&in);
    }
    fr_sync();
    if (FR.flags & F_RESET)
        am_fzr_reset(&FR.conn);
    else
        (void)am_fzr_close(&FR.conn);
    return 0;
}
