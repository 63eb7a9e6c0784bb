/* fuzz_gen_seeds DIR: writes the seed inputs of every fuzz target into
 * DIR/<target>/ (the committed tests/fuzz/corpus).  The layouts are those
 * described at the top of each fuzz_*.c; the Noise messages come from the
 * fixed keys of fuzz_common.c, so the transcripts stay valid, and the
 * certificates, revocation lists and envelopes from its fixed federation,
 * so they verify in the targets.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "bytes.h"
#include "cert.h"
#include "channel.h"
#include "envelope.h"
#include "frame.h"
#include "fuzz_bundle.h"
#include "fuzz_client.h"
#include "fuzz_common.h"
#include "fuzz_relay.h"
#include "gen_seeds.h"

static am_fz_transcript_t transcript;

static void put_fill(seed_t *s, size_t n, unsigned start)
{
    for (size_t i = 0; i < n; i++)
        put_u8(s, start + (unsigned)i);
}

/* The frames every frame-carrying seed draws from. */
static uint8_t *encode_frame(int which, size_t *len)
{
    static uint8_t envelope[] = "\x0a\x10header-bytes....\x12\x05ctext";
    static uint8_t msg_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                 14, 15, 16};
    static uint8_t sig[64] = {0x5a};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping ping = AMANAT__V1__PING__INIT;
    Amanat__V1__Submit submit = AMANAT__V1__SUBMIT__INIT;
    Amanat__V1__Error error = AMANAT__V1__ERROR__INIT;
    Amanat__V1__Hello hello = AMANAT__V1__HELLO__INIT;
    Amanat__V1__AuthResult auth = AMANAT__V1__AUTH_RESULT__INIT;
    Amanat__V1__RevocationList crl = AMANAT__V1__REVOCATION_LIST__INIT;
    Amanat__V1__SubmitResult result = AMANAT__V1__SUBMIT_RESULT__INIT;
    Amanat__V1__Evidence ev = AMANAT__V1__EVIDENCE__INIT;
    Amanat__V1__Evidence *evs[2] = {&ev, &ev};
    Amanat__V1__Deliver deliver = AMANAT__V1__DELIVER__INIT;
    Amanat__V1__DeliveryAck ack = AMANAT__V1__DELIVERY_ACK__INIT;
    Amanat__V1__ReceiptRelay receipt = AMANAT__V1__RECEIPT_RELAY__INIT;
    Amanat__V1__Pong pong = AMANAT__V1__PONG__INIT;
    uint8_t *out = NULL;

    ev.body.data = envelope;
    ev.body.len = sizeof envelope - 1;
    ev.signature.data = sig;
    ev.signature.len = sizeof sig;
    switch (which) {
    case 0:
        ping.nonce = 0x0123456789abcdefull;
        f.op_case = AMANAT__V1__FRAME__OP_PING;
        f.ping = &ping;
        break;
    case 1:
        submit.request_id = 7;
        submit.envelope.data = envelope;
        submit.envelope.len = sizeof envelope - 1;
        f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
        f.submit = &submit;
        break;
    case 2:
        error.code = AMANAT__V1__ERROR_CODE__ERROR_UNKNOWN_RECIPIENT;
        error.message = "recipient \"DE-BKA1\": unknown agency";
        error.request_id = 7;
        error.fatal = 1;
        f.op_case = AMANAT__V1__FRAME__OP_ERROR;
        f.error = &error;
        break;
    case 3:
        hello.protocol_version = 1;
        hello.max_frame = 1 << 20;
        hello.receive = 1;
        hello.crl_sequence = 42;
        f.op_case = AMANAT__V1__FRAME__OP_HELLO;
        f.hello = &hello;
        break;
    case 4:
        crl.body.data = envelope;
        crl.body.len = sizeof envelope - 1;
        crl.signature.data = sig;
        crl.signature.len = sizeof sig;
        auth.ok = 1;
        auth.peer_id = "PK-NCCIA";
        auth.max_frame = 1 << 20;
        auth.relay_time = 1700000000;
        auth.crl = &crl;
        f.op_case = AMANAT__V1__FRAME__OP_AUTH_RESULT;
        f.auth_result = &auth;
        break;
    case 5:
        result.request_id = 7;
        result.message_id.data = msg_id;
        result.message_id.len = sizeof msg_id;
        result.accepted = &ev;
        f.op_case = AMANAT__V1__FRAME__OP_SUBMIT_RESULT;
        f.submit_result = &result;
        break;
    case 6:
        deliver.envelope.data = envelope;
        deliver.envelope.len = sizeof envelope - 1;
        deliver.accepted = &ev;
        f.op_case = AMANAT__V1__FRAME__OP_DELIVER;
        f.deliver = &deliver;
        break;
    case 7:
        ack.message_id.data = msg_id;
        ack.message_id.len = sizeof msg_id;
        f.op_case = AMANAT__V1__FRAME__OP_DELIVERY_ACK;
        f.delivery_ack = &ack;
        break;
    case 8:
        receipt.n_evidence = 2;
        receipt.evidence = evs;
        f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_RELAY;
        f.receipt_relay = &receipt;
        break;
    default:
        f.op_case = AMANAT__V1__FRAME__OP_PONG; /* nonce 0: empty Pong */
        f.pong = &pong;
        break;
    }
    if (am_frame_encode(&f, AM_FRAME_MAX_DEFAULT, &out, len) != 0)
        die("am_frame_encode");
    return out;
}

#define N_FRAMES 10

static void seeds_frame_parse(void)
{
    static const char *names[N_FRAMES] = {
        "ping", "submit", "error", "hello", "auth_result", "submit_result",
        "deliver", "delivery_ack", "receipt_relay", "pong"};
    seed_t s;

    for (int i = 0; i < N_FRAMES; i++) {
        size_t len;
        uint8_t *enc = encode_frame(i, &len);

        s.len = 0;
        put(&s, enc + AM_FRAME_PREFIX, len - AM_FRAME_PREFIX);
        write_seed("fuzz_frame_parse", names[i], &s);
        am_free(enc);
    }
    /* Hello with an unknown field numbered 0 behind an overlong tag, which
     * protobuf-c accepts but cannot read back once re-encoded */
    s.len = 0;
    put(&s, "\x0a\x0a\x08\x01\x80\x00\x80\x18\x10\x01\x20\x2a", 12);
    write_seed("fuzz_frame_parse", "hello-field0", &s);
}

/* Header: flags, max (2), min, seed, max2. */
static void framedec_hdr(seed_t *s, unsigned flags, size_t max, unsigned min,
                         unsigned seed, unsigned max2)
{
    s->len = 0;
    put_u8(s, flags | (max - 1 > 0xffff ? 0x40u : 0u));
    put_be16(s, (max - 1) & 0xffff);
    put_u8(s, min - 1);
    put_u8(s, seed);
    put_u8(s, max2);
}

static void seeds_framedec(void)
{
    seed_t s;

    /* 2-byte prefixes, max 100, 1..8-byte chunks: three records */
    framedec_hdr(&s, 0x00, 100, 1, 1, 0);
    put_be16(&s, 5);
    put(&s, "hello", 5);
    put_be16(&s, 1);
    put_u8(&s, 0xff);
    put_be16(&s, 100);
    put_fill(&s, 100, 0);
    write_seed("fuzz_framedec", "prefix2-three", &s);

    /* 4-byte prefixes, max 70000, any chunks, failing allocations */
    framedec_hdr(&s, 0x01 | 0x06 | 0x08, 70000, 1, 2, 0);
    put_be32(&s, 5000);
    put_fill(&s, 5000, 7);
    put_be32(&s, 3);
    put(&s, "abc", 3);
    put_be32(&s, 9000);
    put_fill(&s, 100, 3); /* unfinished */
    write_seed("fuzz_framedec", "prefix4-big-allocfail", &s);

    /* over the limit: AM_ETOOBIG on the second header */
    framedec_hdr(&s, 0x02, 16, 1, 3, 0);
    put_be16(&s, 16);
    put_fill(&s, 16, 1);
    put_be16(&s, 17);
    put_fill(&s, 17, 1);
    write_seed("fuzz_framedec", "prefix2-toobig", &s);

    /* under min (16, as for transport messages): AM_EPROTO */
    framedec_hdr(&s, 0x04, 65535, 16, 4, 0);
    put_be16(&s, 32);
    put_fill(&s, 32, 9);
    put_be16(&s, 15);
    put_fill(&s, 15, 9);
    write_seed("fuzz_framedec", "prefix2-tooshort", &s);

    /* switching limits, feeding before take */
    framedec_hdr(&s, 0x01 | 0x10 | 0x20, 64, 1, 5, 1);
    put_be32(&s, 64);
    put_fill(&s, 64, 2);
    put_be32(&s, 64);
    put_fill(&s, 64, 2);
    write_seed("fuzz_framedec", "prefix4-switch-probe", &s);
}

static void seeds_noise_responder(void)
{
    const am_fz_transcript_t *t = &transcript;
    seed_t s;

    /* path 0: a real message 1 alone, then the full transcript */
    s.len = 0;
    put_u8(&s, 0x00);
    put_be16(&s, t->msg1_len);
    put(&s, t->msg1, t->msg1_len);
    write_seed("fuzz_noise_responder", "msg1", &s);
    put(&s, t->msg3, t->msg3_len);
    write_seed("fuzz_noise_responder", "transcript", &s);

    /* path 0: e = 0, a low-order point: the ee DH of message 2 fails */
    s.len = 0;
    put_u8(&s, 0x00);
    put_be16(&s, AM_NOISE_DHLEN);
    for (unsigned i = 0; i < AM_NOISE_DHLEN; i++)
        put_u8(&s, 0);
    write_seed("fuzz_noise_responder", "msg1-low-order", &s);

    /* path 1: genuine message 1, message 3 genuine or garbage */
    s.len = 0;
    put_u8(&s, 0x01);
    put(&s, t->msg3, t->msg3_len);
    write_seed("fuzz_noise_responder", "genuine1-msg3", &s);
    s.len = 0;
    put_u8(&s, 0x01 | 0x04);
    put_fill(&s, 80, 0x30);
    write_seed("fuzz_noise_responder", "genuine1-garbage", &s);

    /* path 2: message 3 with a payload; message 2 with one too */
    s.len = 0;
    put_u8(&s, 0x02 | 0x08);
    put(&s, "client PK-NCCIA", 15);
    write_seed("fuzz_noise_responder", "genuine3-payload", &s);

    /* path 3: damaged message 3 */
    s.len = 0;
    put_u8(&s, 0x03);
    put_be16(&s, 0x0010);
    put(&s, "payload", 7);
    write_seed("fuzz_noise_responder", "damaged3", &s);
}

/* Header: flags, frame_max (2), seed, damage at (2), damage xor. */
static void channel_hdr(seed_t *s, unsigned flags, size_t frame_max,
                        unsigned seed, size_t at, unsigned xor)
{
    s->len = 0;
    put_u8(s, flags | (frame_max - 1 > 0xffff ? 0x40u : 0u));
    put_be16(s, (frame_max - 1) & 0xffff);
    put_u8(s, seed);
    put_be16(s, at);
    put_u8(s, xor);
}

/* Wire 0 seed: frames sealed by a fresh channel on the fixed keys, which
 * the target's receiver (same keys, nonce 0) can open. */
static void put_sealed_frames(seed_t *s)
{
    am_noise_cs_t *send = NULL;
    am_chan_t *tx = NULL;
    am_fz_transcript_t *t = malloc(sizeof *t);

    if (t == NULL ||
        am_fz_handshake(t, NULL, 0, &send, NULL, NULL, NULL) != 0 ||
        am_chan_new(&tx, send, NULL, AM_FRAME_MAX_DEFAULT) != 0)
        die("handshake");
    for (int i = 0; i < N_FRAMES; i += 3) {
        Amanat__V1__Frame *f = NULL;
        uint8_t *enc, *wire;
        size_t len, wire_len;

        enc = encode_frame(i, &len);
        if (am_frame_parse(enc + AM_FRAME_PREFIX, len - AM_FRAME_PREFIX,
                           AM_FRAME_MAX_DEFAULT, &f) != 0 ||
            am_chan_seal_frame(tx, f, AM_FRAME_MAX_DEFAULT, &wire,
                               &wire_len) != 0)
            die("am_chan_seal_frame");
        put(s, wire, wire_len);
        am_free(wire);
        am_free(enc);
        am_frame_free(f);
    }
    am_chan_free(tx);
    free(t);
}

static void put_frames_stream(seed_t *s, int from, int to)
{
    for (int i = from; i < to; i++) {
        size_t len;
        uint8_t *enc = encode_frame(i, &len);
        put(s, enc, len);
        am_free(enc);
    }
}

static void seeds_channel(void)
{
    seed_t s;

    channel_hdr(&s, 0x00 | 0x08, 4096, 1, 0, 0);
    put_sealed_frames(&s);
    write_seed("fuzz_channel", "raw-sealed", &s);

    channel_hdr(&s, 0x00, 4096, 2, 0, 0);
    put_fill(&s, 64, 0x41);
    write_seed("fuzz_channel", "raw-garbage", &s);

    channel_hdr(&s, 0x01, 4096, 3, 0, 0);
    put_frames_stream(&s, 0, N_FRAMES);
    write_seed("fuzz_channel", "stream-frames", &s);

    /* a zero length after two frames: AM_EPROTO */
    channel_hdr(&s, 0x01 | 0x08, 65536, 4, 0, 0);
    put_frames_stream(&s, 0, 2);
    put_be32(&s, 0);
    write_seed("fuzz_channel", "stream-zero-length", &s);

    /* a frame over frame_max (64): AM_ETOOBIG */
    channel_hdr(&s, 0x01 | 0x10, 64, 5, 0, 0);
    put_frames_stream(&s, 0, 1);
    put_be32(&s, 65);
    put_fill(&s, 65, 0);
    write_seed("fuzz_channel", "stream-too-big", &s);

    /* damaged stream */
    channel_hdr(&s, 0x01 | 0x04, 4096, 6, 40, 0x20);
    put_frames_stream(&s, 0, 4);
    write_seed("fuzz_channel", "stream-damaged", &s);

    /* sealed bodies: small ones and one of ~70 KiB (two transport
     * messages), with the AM_ESHORT probe */
    channel_hdr(&s, 0x02 | 0x20 | 0x18, 70000, 7, 0, 0);
    put_u8(&s, 4);
    put(&s, "hello", 5);
    put_u8(&s, 0x80 | 67);
    put_u8(&s, 100);
    put_u8(&s, 0);
    put_u8(&s, 'x');
    write_seed("fuzz_channel", "sealed-bodies", &s);
}

static void put_be64(seed_t *s, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        put_u8(s, (unsigned)(v >> (8 * i)) & 0xffu);
}

static void put_str8(seed_t *s, const char *str)
{
    size_t n = strlen(str);

    put_u8(s, (unsigned)n);
    put(s, str, n);
}

static void put_owned(seed_t *s, uint8_t *p, size_t n)
{
    put(s, p, n);
    am_free(p);
}

/* A certificate of the fixed federation, signed by sk. */
static void put_cert(seed_t *s, const am_cert_t *c, const uint8_t *sk)
{
    uint8_t *cert;
    size_t len;

    if (am_cert_issue(c, sk, &cert, &len) != 0)
        die("am_cert_issue");
    put_owned(s, cert, len);
}

/* fuzz_cert's round-trip layout. */
static void put_cert_fields(seed_t *s, const am_cert_t *c, size_t at,
                            unsigned xor)
{
    put_str8(s, c->agency_id);
    put_str8(s, c->display_name);
    put_str8(s, c->country);
    put_str8(s, c->home_relay);
    put_u8(s, c->roles);
    put_be64(s, (uint64_t)c->not_before);
    put_be64(s, (uint64_t)c->not_after);
    put_be64(s, c->serial);
    put_be16(s, at);
    put_u8(s, xor);
    put(s, c->sign_pk, sizeof c->sign_pk);
    put(s, c->dh_pk, sizeof c->dh_pk);
}

static void cert_seed(const char *name, unsigned flags, const am_cert_t *c,
                      const uint8_t *sk)
{
    seed_t s = {.len = 0};

    put_u8(&s, flags);
    if (flags & 1u)
        put_cert_fields(&s, c, 40, 0x04);
    else
        put_cert(&s, c, sk);
    write_seed("fuzz_cert", name, &s);
}

static void seeds_cert(void)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_cert_t c, relay, root;
    seed_t s = {.len = 0};

    am_fz_cert_fields(&f->ag[AM_FZ_SENDER], &c);
    relay = c;
    snprintf(relay.agency_id, sizeof relay.agency_id, "%s", "PK-RELAY");
    snprintf(relay.display_name, sizeof relay.display_name, "%s",
             "Pakistan federation relay");
    relay.roles = AM_ROLE_RELAY;
    relay.home_relay[0] = '\0';
    relay.serial = 20;
    root = relay;
    snprintf(root.agency_id, sizeof root.agency_id, "%s", "CH-ROOT");
    memcpy(root.country, "CH", 2);
    root.roles = AM_ROLE_ROOT | AM_ROLE_RELAY;
    root.serial = 1;

    /* verify: flags bit 1 requires the agency role, bit 2 the CRL */
    put_u8(&s, 0x06);
    put(&s, f->ag[AM_FZ_SENDER].cert_bytes, f->ag[AM_FZ_SENDER].cert_len);
    write_seed("fuzz_cert", "agency-role-crl", &s);
    s.len = 0;
    put_u8(&s, 0x00);
    put(&s, f->ag[AM_FZ_RCPT].cert_bytes, f->ag[AM_FZ_RCPT].cert_len);
    write_seed("fuzz_cert", "agency", &s);
    cert_seed("relay-wants-agency", 0x02, &relay, f->root_sk);
    cert_seed("root-relay", 0x00, &root, f->root_sk);
    cert_seed("foreign-root", 0x00, &c, f->other_sk);
    c.serial = AM_FZ_REVOKED_A;
    cert_seed("revoked", 0x04, &c, f->root_sk);
    c.serial = 10;
    c.not_after = AM_FZ_NOW - 1;
    cert_seed("expired", 0x00, &c, f->root_sk);
    c.not_after = AM_FZ_NOW + 86400;
    c.not_before = AM_FZ_NOW + 1;
    cert_seed("not-yet-valid", 0x00, &c, f->root_sk);

    /* round trip: bit 3 takes now = not_after */
    am_fz_cert_fields(&f->ag[AM_FZ_SENDER], &c);
    cert_seed("rt-agency-role-crl", 0x07, &c, NULL);
    cert_seed("rt-relay-wants-agency", 0x03 | 0x08, &relay, NULL);
    cert_seed("rt-root", 0x01, &root, NULL);
    c.serial = AM_FZ_REVOKED_B;
    cert_seed("rt-revoked", 0x05, &c, NULL);
    memcpy(c.country, "DE", 2);
    cert_seed("rt-wrong-country", 0x01, &c, NULL);
    am_fz_cert_fields(&f->ag[AM_FZ_RCPT], &c);
    snprintf(c.agency_id, sizeof c.agency_id, "%s", "DE-BKA0123456789ABCD");
    memset(c.display_name, 'n', AM_DISPLAY_NAME_MAX);
    c.display_name[AM_DISPLAY_NAME_MAX] = '\0';
    c.not_before = INT64_MIN;
    c.not_after = INT64_MAX;
    c.serial = UINT64_MAX;
    cert_seed("rt-longest", 0x09, &c, NULL);
}

static void crl_seed(const char *name, uint64_t held, const uint8_t *sk,
                     uint64_t seq, const am_revoked_t *r, size_t n)
{
    seed_t s = {.len = 0};
    uint8_t *list;
    size_t len;

    put_u8(&s, 0x00);
    put_be64(&s, held);
    if (am_crl_issue(sk, seq, AM_FZ_NOW, r, n, &list, &len) != 0)
        die("am_crl_issue");
    put_owned(&s, list, len);
    write_seed("fuzz_crl", name, &s);
}

/* fuzz_crl's round-trip layout. */
static void crl_rt_seed(const char *name, uint64_t seq, size_t n)
{
    seed_t s = {.len = 0};

    put_u8(&s, 0x01);
    put_be64(&s, seq);
    put_be64(&s, (uint64_t)AM_FZ_NOW);
    put_be16(&s, 25);
    put_u8(&s, 0x10);
    for (size_t i = 0; i < n; i++) {
        put_be64(&s, 100 + 7 * i);
        put_u8(&s, (unsigned)i);
        put_str8(&s, i % 2 ? "" : "compromised key");
    }
    write_seed("fuzz_crl", name, &s);
}

static void seeds_crl(void)
{
    const am_fz_fed_t *f = am_fz_fed();
    am_revoked_t r[20];
    seed_t s = {.len = 0};

    put_u8(&s, 0x00);
    put_be64(&s, 0);
    put(&s, f->crl_bytes, f->crl_len);
    write_seed("fuzz_crl", "held0", &s);
    s.len = 0;
    put_u8(&s, 0x00);
    put_be64(&s, AM_FZ_CRL_SEQUENCE + 1);
    put(&s, f->crl_bytes, f->crl_len);
    write_seed("fuzz_crl", "stale", &s);
    crl_seed("empty", 1, f->root_sk, 1, NULL, 0);
    for (size_t i = 0; i < 20; i++)
        r[i] = (am_revoked_t){1000 - 31 * i, i % 3 ? "PK-NCCIA" : "DE-BKA",
                              AM_FZ_NOW - (int64_t)i, i % 2 ? NULL : "left"};
    crl_seed("twenty", 9, f->root_sk, 9, r, 20);
    crl_seed("foreign-root", 0, f->other_sk, 4, r, 2);

    crl_rt_seed("rt-three", 5, 3);
    crl_rt_seed("rt-sequence0", 0, 1);
    crl_rt_seed("rt-max-sequence", UINT64_MAX, 2);
}

#define CASE_TEXT "case 2024/117: request for subscriber records"

static void envelope_seed(const char *name, unsigned how, unsigned seed,
                          const char *text)
{
    seed_t s = {.len = 0};
    uint8_t *env;
    size_t len;

    put_u8(&s, 0x00);
    if (am_fz_seal(how, seed, (const uint8_t *)text, strlen(text), &env,
                   &len) != 0)
        die("am_fz_seal");
    put_owned(&s, env, len);
    write_seed("fuzz_envelope", name, &s);
}

static void envelope_mode_seed(const char *name, unsigned mode, unsigned how,
                               unsigned seed, size_t at, unsigned xor)
{
    seed_t s = {.len = 0};

    put_u8(&s, mode);
    put_u8(&s, how);
    put_u8(&s, seed);
    if (mode == 2) {
        put_be16(&s, at);
        put_u8(&s, xor);
    }
    put(&s, CASE_TEXT, sizeof CASE_TEXT - 1);
    write_seed("fuzz_envelope", name, &s);
}

#define PRIO(p) ((unsigned)(p) << AM_FZ_SEAL_PRIO_SHIFT)

static void seeds_envelope(void)
{
    uint8_t *env;
    size_t len;

    envelope_seed("cert-key", PRIO(AM_PRIORITY_ROUTINE), 1, CASE_TEXT);
    envelope_seed("prekey-urgent", AM_FZ_SEAL_PREKEY |
                  PRIO(AM_PRIORITY_URGENT), 2, CASE_TEXT);
    envelope_seed("two-emergency", AM_FZ_SEAL_TWO |
                  PRIO(AM_PRIORITY_EMERGENCY), 3, CASE_TEXT);
    envelope_seed("two-swapped-prekey", AM_FZ_SEAL_TWO | AM_FZ_SEAL_SWAP |
                  AM_FZ_SEAL_PREKEY | PRIO(AM_PRIORITY_ROUTINE), 4, "");
    envelope_seed("from-third", AM_FZ_SEAL_FROM_THIRD |
                  PRIO(AM_PRIORITY_URGENT), 5, CASE_TEXT);
    envelope_seed("bad-serial", AM_FZ_SEAL_BAD_SERIAL |
                  PRIO(AM_PRIORITY_ROUTINE), 6, CASE_TEXT);

    envelope_mode_seed("seal-cert-key", 1, PRIO(AM_PRIORITY_ROUTINE), 7, 0,
                       0);
    envelope_mode_seed("seal-two-prekey", 1, AM_FZ_SEAL_TWO |
                       AM_FZ_SEAL_PREKEY | PRIO(AM_PRIORITY_URGENT), 8, 0, 0);
    envelope_mode_seed("seal-no-priority", 1, AM_FZ_SEAL_TWO, 9, 0, 0);
    envelope_mode_seed("damage-header", 2, PRIO(AM_PRIORITY_ROUTINE), 10, 30,
                       0x01);
    /* the envelope ends with its signature: damage 10 bytes before */
    if (am_fz_seal(AM_FZ_SEAL_TWO | PRIO(AM_PRIORITY_EMERGENCY), 11,
                   (const uint8_t *)CASE_TEXT, sizeof CASE_TEXT - 1, &env,
                   &len) != 0)
        die("am_fz_seal");
    am_free(env);
    envelope_mode_seed("damage-signature", 2, AM_FZ_SEAL_TWO |
                       PRIO(AM_PRIORITY_EMERGENCY), 11, len - 10, 0x80);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_gen_seeds DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        die(out_dir);
    if (am_fz_handshake(&transcript, NULL, 0, NULL, NULL, NULL, NULL) != 0)
        die("handshake");
    seeds_frame_parse();
    seeds_framedec();
    seeds_noise_responder();
    seeds_channel();
    seeds_cert();
    seeds_crl();
    seeds_envelope();
    am_fzr_write_seeds(out_dir);
    am_fzl_write_seeds(out_dir);
    am_fzp_write_seeds(out_dir);
    am_fzb_write_seeds();
    am_fzc_write_seeds();
    am_fzs_write_seeds();
    am_fzw_write_seeds();
    return 0;
}
