/* fuzz_noise_responder: the XX responder (AM_NOISE_PROTOCOL, prologue
 * AM_NOISE_PROLOGUE) reading untrusted handshake messages.
 *
 * Input: byte 0 holds flags, the rest is "rest".
 *   bits 0-1, the path:
 *     0  message 1 and message 3 both arbitrary: rest is a 2-byte
 *        big-endian length L, message 1 (L bytes, or what is left), then
 *        message 3 (the remainder);
 *     1  message 1 written by a real initiator, message 3 = rest, so the
 *        decryption of s, the se DH and the payload see arbitrary bytes;
 *     2  both written by a real initiator, message 3 carrying rest as its
 *        payload: the handshake must complete and the payload arrive;
 *     3  as 2 with the payload rest[2..], then message 3 damaged: the
 *        big-endian rest[0..1] modulo its length picks a byte, rest[1] is
 *        xored into it, or when rest[1] is 0 the message is cut there.  It
 *        must be refused.
 *   bit 2: first read with no room for the payload (AM_ESHORT must leave
 *          the state usable), then with room;
 *   bit 3: message 2 carries a payload.
 * Keys and ephemerals are fixed (fuzz_common.c), so runs are repeatable.
 * After any error the handshake must report AM_NOISE_ACTION_FAILED and
 * refuse further calls.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "fuzz_common.h"
#include "noise.h"

#define PATH_ARBITRARY 0
#define PATH_GENUINE_MSG1 1
#define PATH_GENUINE_MSG3 2
#define PATH_DAMAGED_MSG3 3

static const uint8_t msg2_payload[] = "relay DE-RELAY1 handshake payload";

typedef struct {
    unsigned path;
    bool probe, msg2_has_payload;
    am_noise_hs_t *resp, *ini; /* ini only on the genuine paths */
    uint8_t msg2[AM_NOISE_MSG_MAX];
    size_t msg2_len;
} run_t;

static uint8_t payload_buf[AM_NOISE_MSG_MAX];

/* The state after a refused message: failed for good. */
static void check_failed(am_noise_hs_t *hs, int rc)
{
    uint8_t out[128], pk[AM_NOISE_DHLEN];
    size_t len;

    AM_FZ_CHECK(rc < 0 && rc != AM_ESHORT && rc != AM_EINVAL &&
                rc != AM_ESTATE);
    AM_FZ_CHECK(am_noise_hs_action(hs) == AM_NOISE_ACTION_FAILED);
    AM_FZ_CHECK(am_noise_hs_read(hs, out, 0, NULL, 0, &len) == AM_ESTATE);
    AM_FZ_CHECK(am_noise_hs_write(hs, NULL, 0, out, sizeof out, &len) ==
                AM_ESTATE);
    AM_FZ_CHECK(am_noise_hs_remote_static(hs, pk) == AM_EKEY);
}

/* Read msg on the responder; on success *len is the payload length (the
 * payload is in payload_buf). */
static int resp_read(run_t *r, const uint8_t *msg, size_t msg_len,
                     size_t *len)
{
    int rc;

    AM_FZ_CHECK(am_noise_hs_action(r->resp) == AM_NOISE_ACTION_READ);
    if (r->probe) {
        *len = (size_t)-1;
        rc = am_noise_hs_read(r->resp, msg, msg_len, NULL, 0, len);
        if (rc == 0)
            AM_FZ_CHECK(*len == 0);
        if (rc != AM_ESHORT)
            return rc;
        AM_FZ_CHECK(am_noise_hs_action(r->resp) == AM_NOISE_ACTION_READ);
    }
    rc = am_noise_hs_read(r->resp, msg, msg_len, payload_buf,
                          sizeof payload_buf, len);
    AM_FZ_CHECK(rc != AM_ESHORT && rc != AM_EINVAL && rc != AM_ESTATE);
    if (rc == 0)
        AM_FZ_CHECK(*len <= msg_len);
    return rc;
}

/* Message 1 carries e in clear and, no key being set yet, the payload as
 * it is. */
static int resp_msg1(run_t *r, const uint8_t *msg, size_t msg_len)
{
    size_t len;
    int rc;

    if ((rc = resp_read(r, msg, msg_len, &len)) != 0)
        return rc;
    AM_FZ_CHECK(msg_len >= AM_NOISE_DHLEN);
    AM_FZ_CHECK(len == msg_len - AM_NOISE_DHLEN);
    AM_FZ_CHECK(memcmp(payload_buf, msg + AM_NOISE_DHLEN, len) == 0);
    return 0;
}

/* e, ee, s, es: 32 + (32 + 16) + payload + 16 bytes. */
static int resp_msg2(run_t *r)
{
    size_t plen = r->msg2_has_payload ? sizeof msg2_payload : 0;
    int rc;

    AM_FZ_CHECK(am_noise_hs_action(r->resp) == AM_NOISE_ACTION_WRITE);
    rc = am_noise_hs_write(r->resp, r->msg2_has_payload ? msg2_payload : NULL,
                           plen, r->msg2, sizeof r->msg2, &r->msg2_len);
    if (rc != 0)
        return rc;
    AM_FZ_CHECK(r->msg2_len == 2 * AM_NOISE_DHLEN + 2 * AM_NOISE_TAGLEN +
                                   plen);
    return 0;
}

/* Completed.  With the fixed keys, arbitrary bytes can complete only as a
 * copy of the genuine message 3, so the peer must be the fixed initiator.
 * When the initiator is here too, both sides agree on h and transport
 * works both ways. */
static void check_split(run_t *r)
{
    am_noise_cs_t *rs = NULL, *rr = NULL, *is = NULL, *ir = NULL;
    uint8_t pk[AM_NOISE_DHLEN], want[AM_NOISE_DHLEN];
    uint8_t h[64], h2[64], ct[16 + AM_NOISE_TAGLEN], pt[16];
    size_t h_len, h2_len, len;

    AM_FZ_CHECK(am_noise_hs_action(r->resp) == AM_NOISE_ACTION_SPLIT);
    AM_FZ_CHECK(am_noise_hs_hash(r->resp, h, &h_len) == AM_ESTATE);
    AM_FZ_CHECK(am_noise_hs_split(r->resp, &rs, &rr) == 0);
    AM_FZ_CHECK(rs != NULL && rr != NULL);
    AM_FZ_CHECK(am_noise_hs_action(r->resp) == AM_NOISE_ACTION_DONE);
    AM_FZ_CHECK(am_noise_hs_hash(r->resp, h, &h_len) == 0 && h_len == 64);
    AM_FZ_CHECK(am_noise_hs_remote_static(r->resp, pk) == 0);
    AM_FZ_CHECK(crypto_scalarmult_curve25519_base(want, am_fz_ini_static) ==
                0);
    AM_FZ_CHECK(memcmp(pk, want, sizeof pk) == 0);
    if (r->ini != NULL &&
        am_noise_hs_action(r->ini) == AM_NOISE_ACTION_SPLIT) {
        AM_FZ_CHECK(am_noise_hs_split(r->ini, &is, &ir) == 0);
        AM_FZ_CHECK(am_noise_hs_hash(r->ini, h2, &h2_len) == 0);
        AM_FZ_CHECK(h2_len == h_len && memcmp(h, h2, h_len) == 0);
        AM_FZ_CHECK(am_noise_cs_encrypt(is, NULL, 0, h, sizeof pt, ct,
                                        sizeof ct, &len) == 0);
        AM_FZ_CHECK(am_noise_cs_decrypt(rr, NULL, 0, ct, len, pt, sizeof pt,
                                        &len) == 0);
        AM_FZ_CHECK(len == sizeof pt && memcmp(pt, h, sizeof pt) == 0);
        AM_FZ_CHECK(am_noise_cs_encrypt(rs, NULL, 0, h2, sizeof pt, ct,
                                        sizeof ct, &len) == 0);
        AM_FZ_CHECK(am_noise_cs_decrypt(ir, NULL, 0, ct, len, pt, sizeof pt,
                                        &len) == 0);
        AM_FZ_CHECK(len == sizeof pt && memcmp(pt, h2, sizeof pt) == 0);
    }
    am_noise_cs_free(rs);
    am_noise_cs_free(rr);
    am_noise_cs_free(is);
    am_noise_cs_free(ir);
}

/* Genuine paths: the initiator writes message 1, reads message 2. */
static void ini_msg1(run_t *r, uint8_t *msg1, size_t *msg1_len)
{
    AM_FZ_CHECK(am_fz_hs_new(&r->ini, AM_NOISE_INITIATOR) == 0);
    AM_FZ_CHECK(am_noise_hs_write(r->ini, NULL, 0, msg1, AM_NOISE_MSG_MAX,
                                  msg1_len) == 0);
    AM_FZ_CHECK(*msg1_len == AM_NOISE_DHLEN);
}

static void ini_msg2(run_t *r)
{
    uint8_t got[sizeof msg2_payload];
    size_t len;

    AM_FZ_CHECK(am_noise_hs_read(r->ini, r->msg2, r->msg2_len, got,
                                 sizeof got, &len) == 0);
    AM_FZ_CHECK(len == (r->msg2_has_payload ? sizeof msg2_payload : 0));
    AM_FZ_CHECK(memcmp(got, msg2_payload, len) == 0);
}

/* Path 3: flip bits of, or cut, a genuine message 3. */
static size_t damage(uint8_t *msg, size_t len, const uint8_t *how)
{
    size_t at = ((size_t)how[0] << 8 | how[1]) % len;

    if (how[1] == 0)
        return at; /* cut */
    msg[at] ^= how[1];
    return len;
}

static void run_genuine(run_t *r, const uint8_t *rest, size_t rest_len)
{
    static uint8_t msg[AM_NOISE_MSG_MAX];
    const uint8_t *payload = rest;
    size_t msg_len, len;
    bool damaged = r->path == PATH_DAMAGED_MSG3 && rest_len >= 2;
    int rc;

    ini_msg1(r, msg, &msg_len);
    AM_FZ_CHECK(resp_msg1(r, msg, msg_len) == 0);
    AM_FZ_CHECK(resp_msg2(r) == 0);
    ini_msg2(r);
    if (r->path == PATH_GENUINE_MSG1) {
        if ((rc = resp_read(r, rest, rest_len, &len)) != 0)
            check_failed(r->resp, rc);
        else
            check_split(r);
        return;
    }
    if (damaged) {
        payload = rest + 2;
        rest_len -= 2;
    }
    if (rest_len > AM_NOISE_MSG_MAX - 2 * AM_NOISE_TAGLEN - AM_NOISE_DHLEN)
        rest_len = AM_NOISE_MSG_MAX - 2 * AM_NOISE_TAGLEN - AM_NOISE_DHLEN;
    AM_FZ_CHECK(am_noise_hs_write(r->ini, payload, rest_len, msg, sizeof msg,
                                  &msg_len) == 0);
    if (damaged) {
        msg_len = damage(msg, msg_len, rest);
        rc = resp_read(r, msg, msg_len, &len);
        AM_FZ_CHECK(rc == AM_ECRYPTO || rc == AM_EPROTO);
        check_failed(r->resp, rc);
        return;
    }
    AM_FZ_CHECK(resp_read(r, msg, msg_len, &len) == 0);
    AM_FZ_CHECK(len == rest_len && memcmp(payload_buf, payload, len) == 0);
    check_split(r);
}

static void run_arbitrary(run_t *r, const uint8_t *rest, size_t rest_len)
{
    size_t l1 = 0, len;
    int rc;

    if (rest_len >= 2) {
        l1 = (size_t)rest[0] << 8 | rest[1];
        rest += 2;
        rest_len -= 2;
    }
    if (l1 > rest_len)
        l1 = rest_len;
    if ((rc = resp_msg1(r, rest, l1)) != 0 || (rc = resp_msg2(r)) != 0) {
        check_failed(r->resp, rc);
        return;
    }
    if ((rc = resp_read(r, rest + l1, rest_len - l1, &len)) != 0)
        check_failed(r->resp, rc);
    else
        check_split(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run_t r;

    if (size < 1)
        return 0;
    memset(&r, 0, sizeof r);
    r.path = data[0] & 3u;
    r.probe = (data[0] & 4) != 0;
    r.msg2_has_payload = (data[0] & 8) != 0;
    AM_FZ_CHECK(am_fz_hs_new(&r.resp, AM_NOISE_RESPONDER) == 0);
    if (r.path == PATH_ARBITRARY)
        run_arbitrary(&r, data + 1, size - 1);
    else
        run_genuine(&r, data + 1, size - 1);
    am_noise_hs_free(r.resp);
    am_noise_hs_free(r.ini);
    return 0;
}
