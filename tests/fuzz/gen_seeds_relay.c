/* The seeds of the relay targets, for fuzz_gen_seeds: DIR/fuzz_relay_preauth
 * and DIR/fuzz_relay_frames, in the layouts described at the top of
 * fuzz_relay_preauth.c and fuzz_relay_frames.c.  Certificates are those the
 * harness's relay serves (fuzz_common's agencies, 2020-2100), handshake
 * keys fuzz_common's fixed ones; envelopes that must be valid at the real
 * clock are sealed by the target itself (operation "submit"), so the
 * seeds never go stale.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "alloc.h"
#include "bytes.h"
#include "envelope.h"
#include "frame.h"
#include "fuzz_relay.h"
#include "prekey.h"
#include "gen_seeds.h"

#define PRE "fuzz_relay_preauth"
#define FRA "fuzz_relay_frames"
#define PRIO(p) ((unsigned)(p) << AM_FZ_SEAL_PRIO_SHIFT)

static void put_bytes(seed_t *s, size_t n, ...)
{
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)va_arg(ap, unsigned);
        put(s, &b, 1);
    }
    va_end(ap);
}

/* Agency i's certificate as the relay serves it (am_free). */
static uint8_t *served_cert(int i, size_t *len)
{
    uint8_t *cert = NULL;

    if (am_fz_cert_issue_span(&am_fz_fed()->ag[i], AM_FZR_NOT_BEFORE,
                              AM_FZR_NOT_AFTER, &cert, len) != 0)
        die("certificate");
    return cert;
}

/* A HandshakePayload carrying agency i's served certificate. */
static void put_payload(seed_t *s, int i, uint32_t version)
{
    Amanat__V1__HandshakePayload p = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;
    uint8_t out[AM_HANDSHAKE_MSG_MAX];
    size_t len;
    uint8_t *cert = served_cert(i, &len);

    p.protocol_version = version;
    p.software = "fuzz seed";
    if ((p.certificate = amanat__v1__signed_certificate__unpack(
             NULL, len, cert)) == NULL ||
        amanat__v1__handshake_payload__get_packed_size(&p) > sizeof out)
        die("payload");
    put(s, out, amanat__v1__handshake_payload__pack(&p, out));
    amanat__v1__signed_certificate__free_unpacked(p.certificate, NULL);
    am_free(cert);
}

static void pre_bytes(const char *name, unsigned flags, size_t n, ...)
{
    seed_t s = {.len = 0};
    va_list ap;

    put_bytes(&s, 1, flags);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)va_arg(ap, unsigned);
        put(&s, &b, 1);
    }
    va_end(ap);
    write_seed(PRE, name, &s);
}

static void seeds_preauth(void)
{
    seed_t s = {.len = 0};
    uint8_t e[32], *cert;
    size_t len;

    if (crypto_scalarmult_base(e, am_fz_ini_ephemeral) != 0)
        die("ephemeral");
    put_bytes(&s, 3, 0x00, 0x00, 0x20); /* raw: message 1, then junk */
    put(&s, e, sizeof e);
    put_bytes(&s, 6, 0x00, 0x04, 'j', 'u', 'n', 'k');
    write_seed(PRE, "raw-msg1-then-junk", &s);
    s.len = 0;
    put_bytes(&s, 1, 0x01);
    put(&s, e, sizeof e);
    write_seed(PRE, "msg1", &s);
    pre_bytes("msg1-short", 0x01, 4, 1, 2, 3, 4);
    pre_bytes("msg3-raw", 0x02, 6, 0x00, 0x40, 0xde, 0xad, 0xbe, 0xef);
    s.len = 0;
    put_bytes(&s, 2, 0x03, 0x00); /* payload: PK-NCCIA's, its own key */
    put_payload(&s, AM_FZ_SENDER, 1);
    write_seed(PRE, "payload", &s);
    s.b[0] = 0x03 | 0x08 | 0x10; /* corked, ended by a reset */
    write_seed(PRE, "payload-corked-reset", &s);
    s.b[1] = 0x01; /* DE-BKA's key under PK-NCCIA's certificate */
    write_seed(PRE, "payload-wrong-key", &s);
    s.len = 0;
    put_bytes(&s, 2, 0x03, 0x00);
    put_payload(&s, AM_FZ_SENDER, 0);
    write_seed(PRE, "payload-version0", &s);
    s.len = 0;
    put_bytes(&s, 4, 0x04, 0x01, 0x00, 12); /* certificate: DE-BKA's */
    cert = served_cert(AM_FZ_RCPT, &len);
    put(&s, cert, len);
    am_free(cert);
    write_seed(PRE, "cert", &s);
    s.len = 0; /* fuzz_common's own, valid a year from AM_FZ_NOW */
    put_bytes(&s, 4, 0x04, 0x02, 0x00, 0);
    put(&s, am_fz_fed()->ag[AM_FZ_THIRD].cert_bytes,
        am_fz_fed()->ag[AM_FZ_THIRD].cert_len);
    write_seed(PRE, "cert-fixed-federation", &s);
    pre_bytes("cert-garbage", 0x04, 8, 0x02, 0xf0, 70, 0x0a, 0x03, 1, 2, 3);
    pre_bytes("issued", 0x05, 9, 0, 0, 0, 0, 0, 0, 0, 0, 's');
    pre_bytes("issued-foreign-root", 0x05, 8, 1, 1, 1, 0, 0, 0, 0, 0);
    pre_bytes("issued-revoked", 0x05, 8, 1, 1, 0, 1, 0, 0, 0, 0);
    pre_bytes("issued-expired", 0x05, 8, 2, 2, 0, 0, 1, 0, 0, 0);
    pre_bytes("issued-relay-role", 0x05, 8, 0, 0, 0, 0, 0, 1, 0, 0);
    pre_bytes("issued-wrong-key", 0x05, 8, 0, 4, 0, 3, 0, 0, 2, 0);
    pre_bytes("issued-version2", 0x0d, 8, 0, 0, 0, 0, 0, 0, 1, 0xf2);
}

/* Operation 0: one frame body. */
static void put_frame(seed_t *s, const Amanat__V1__Frame *f)
{
    uint8_t *wire = NULL;
    size_t len;

    if (am_frame_encode(f, AM_FRAME_MAX_DEFAULT, &wire, &len) != 0)
        die("am_frame_encode");
    put_bytes(s, 1, 0);
    put_be16(s, len - 4);
    put(s, wire + 4, len - 4);
    am_free(wire);
}

static void frame_seed(const char *name, unsigned flags,
                       const Amanat__V1__Frame *f, size_t n_after, ...)
{
    seed_t s = {.len = 0};
    va_list ap;

    put_bytes(&s, 1, flags);
    put_frame(&s, f);
    va_start(ap, n_after);
    for (size_t i = 0; i < n_after; i++) {
        uint8_t b = (uint8_t)va_arg(ap, unsigned);
        put(&s, &b, 1);
    }
    va_end(ap);
    write_seed(FRA, name, &s);
}

/* Operation 0 with PK-NCCIA's prekey, and with a directory lookup. */
static void seeds_directory_frames(void)
{
    static char *ids[] = {"PK-NCCIA", "DE-BKA", "FR-DGSI"};
    const am_fz_agency_t *a = &am_fz_fed()->ag[AM_FZ_SENDER];
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__PrekeyUpload pu = AMANAT__V1__PREKEY_UPLOAD__INIT;
    Amanat__V1__DirectoryLookup dl = AMANAT__V1__DIRECTORY_LOOKUP__INIT;
    am_prekey_t pk = {.prekey_id = AM_FZ_PREKEY_ID};
    uint8_t *spk = NULL;
    size_t spk_len;

    snprintf(pk.agency_id, sizeof pk.agency_id, "%s", a->id);
    memcpy(pk.dh_pk, a->pre_pk, 32);
    pk.created_at = AM_FZR_NOT_BEFORE;
    pk.not_after = AM_FZR_NOT_AFTER;
    if (am_prekey_sign(&pk, a->sign_sk, &spk, &spk_len) != 0 ||
        (pu.prekey = amanat__v1__signed_prekey__unpack(NULL, spk_len,
                                                       spk)) == NULL)
        die("prekey");
    pu.request_id = 78;
    f.op_case = AMANAT__V1__FRAME__OP_PREKEY_UPLOAD;
    f.prekey_upload = &pu;
    frame_seed("frame-prekey-upload", 0x00, &f, 0);
    dl.request_id = 79;
    dl.n_agency_ids = 3;
    dl.agency_ids = ids;
    f.op_case = AMANAT__V1__FRAME__OP_DIRECTORY_LOOKUP;
    f.directory_lookup = &dl;
    frame_seed("frame-directory-lookup", 0x00, &f, 0);
    amanat__v1__signed_prekey__free_unpacked(pu.prekey, NULL);
    am_free(spk);
}

static void seeds_frame_ops(void)
{
    static uint8_t msg_id[AM_MSG_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Hello h = AMANAT__V1__HELLO__INIT;
    Amanat__V1__Submit sub = AMANAT__V1__SUBMIT__INIT;
    Amanat__V1__EvidenceRef ref = AMANAT__V1__EVIDENCE_REF__INIT, *refs = &ref;
    Amanat__V1__ReceiptAck ra = AMANAT__V1__RECEIPT_ACK__INIT;
    uint8_t *env = NULL;
    size_t env_len;

    h.protocol_version = 1;
    h.receive = 1;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &h;
    frame_seed("no-hello-frame-then-ping", 0x08, &f, 2, 7, 9);
    frame_seed("second-hello", 0x00, &f, 0);
    if (am_fz_seal(PRIO(AM_PRIORITY_URGENT), 9, (const uint8_t *)"seed", 4,
                   &env, &env_len) != 0)
        die("am_fz_seal");
    sub.request_id = 77;
    sub.envelope = (ProtobufCBinaryData){env_len, env};
    f.op_case = AMANAT__V1__FRAME__OP_SUBMIT;
    f.submit = &sub;
    frame_seed("frame-submit-stale", 0x00, &f, 0);
    ref.kind = AMANAT__V1__EVIDENCE_KIND__EVIDENCE_DELIVERED;
    ref.message_id = (ProtobufCBinaryData){sizeof msg_id, msg_id};
    ref.recipient_id = "DE-BKA";
    ra.n_refs = 1;
    ra.refs = &refs;
    f.op_case = AMANAT__V1__FRAME__OP_RECEIPT_ACK;
    f.receipt_ack = &ra;
    frame_seed("frame-receipt-ack", 0x04, &f, 0);
    am_free(env);
    seeds_directory_frames();
}

static void fra_bytes(const char *name, size_t n, ...)
{
    seed_t s = {.len = 0};
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)va_arg(ap, unsigned);
        put(&s, &b, 1);
    }
    va_end(ap);
    write_seed(FRA, name, &s);
}

static void seeds_frames(void)
{
    /* flags, then operations (fuzz_relay_frames.c) */
    fra_bytes("ping", 3, 0x00, 7, 5);
    fra_bytes("submit", 6, 0x00, 3, PRIO(1), 1, 0, 20);
    fra_bytes("submit-two-prekey-emergency", 6, 0x00, 3,
              AM_FZ_SEAL_TWO | AM_FZ_SEAL_PREKEY | PRIO(3), 2, 3, 40);
    fra_bytes("submit-from-third", 6, 0x02, 3,
              AM_FZ_SEAL_FROM_THIRD | PRIO(2), 3, 0, 10);
    fra_bytes("submit-spoofed", 6, 0x00, 3, AM_FZ_SEAL_FROM_THIRD | PRIO(1),
              4, 0, 10);
    fra_bytes("submit-bad-serial", 6, 0x00, 3,
              AM_FZ_SEAL_BAD_SERIAL | PRIO(1), 5, 0, 10);
    fra_bytes("submit-expired", 6, 0x00, 3, PRIO(1), 6, 1, 10);
    fra_bytes("submit-damaged", 9, 0x00, 4, PRIO(1), 7, 0, 10, 0, 0x30, 1);
    fra_bytes("rcpt-receive-autoack", 3, 0x25, 7, 1);
    fra_bytes("rcpt-receive-acks", 7, 0x05, 5, 0, 5, 1, 5, 0x8f);
    fra_bytes("sender-receipts-ack", 5, 0x04, 6, 0, 6, 0x81);
    fra_bytes("prekey", 7, 0x00, 8, 0, 0, 5, 2, 0);
    fra_bytes("prekey-foreign-signer", 7, 0x01, 8, 1, 0, 6, 1, 0);
    fra_bytes("prekey-future", 7, 0x02, 8, 0, 0, 7, 3, 1);
    fra_bytes("lookup", 7, 0x00, 9, 4, 0, 1, 2, 3);
    fra_bytes("lookup-invalid-id", 5, 0x00, 9, 2, 5, 6);
    /* Ping{5} across two messages, then a Ping of the harness */
    fra_bytes("stream-frame-split-then-ping", 17, 0x00, 1, 0, 5, 0, 0, 0, 4,
              0x4a, 1, 0, 3, 0x02, 0x08, 0x05, 7, 0x58);
    fra_bytes("raw-after-handshake", 7, 0x40, 2, 0, 3, 0xff, 0xff, 0xff);
    fra_bytes("zero-length-frame-big-max", 4, 0x10, 0, 0, 0);
    seeds_frame_ops();
}

void am_fzr_write_seeds(const char *dir)
{
    out_dir = dir;
    seeds_preauth();
    seeds_frames();
}
