#include "fuzz_common.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "noise_internal.h" /* am_noise_hs_set_fixed_ephemeral */

/* Arbitrary distinct scalars; X25519 clamps them. */
const uint8_t am_fz_ini_static[AM_NOISE_DHLEN] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
    0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
    0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20};
const uint8_t am_fz_ini_ephemeral[AM_NOISE_DHLEN] = {
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
    0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40};
const uint8_t am_fz_resp_static[AM_NOISE_DHLEN] = {
    0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
    0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56,
    0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60};
const uint8_t am_fz_resp_ephemeral[AM_NOISE_DHLEN] = {
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b,
    0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
    0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80};

int am_fz_hs_new(am_noise_hs_t **out, am_noise_role_t role)
{
    static const char prologue[] = AM_NOISE_PROLOGUE;
    bool ini = role == AM_NOISE_INITIATOR;
    am_noise_hs_t *hs = NULL;
    int rc;

    if ((rc = am_noise_hs_new(&hs, AM_NOISE_PROTOCOL, role,
                              (const uint8_t *)prologue,
                              sizeof prologue - 1)) != 0)
        return rc;
    if ((rc = am_noise_hs_set_local_static(
             hs, ini ? am_fz_ini_static : am_fz_resp_static)) != 0 ||
        (rc = am_noise_hs_set_fixed_ephemeral(
             hs, ini ? am_fz_ini_ephemeral : am_fz_resp_ephemeral)) != 0 ||
        (rc = am_noise_hs_start(hs)) != 0) {
        am_noise_hs_free(hs);
        return rc;
    }
    *out = hs;
    return 0;
}

/* Write one message on from and read it on to; empty payload expected on
 * the reading side unless the writer sent one. */
static int hs_pass(am_noise_hs_t *from, am_noise_hs_t *to,
                   const uint8_t *payload, size_t payload_len, uint8_t *msg,
                   size_t *msg_len)
{
    static uint8_t got[AM_NOISE_MSG_MAX];
    size_t got_len;
    int rc;

    if ((rc = am_noise_hs_write(from, payload, payload_len, msg,
                                AM_NOISE_MSG_MAX, msg_len)) != 0 ||
        (rc = am_noise_hs_read(to, msg, *msg_len, got, sizeof got,
                               &got_len)) != 0)
        return rc;
    if (got_len != payload_len ||
        (payload_len > 0 && memcmp(got, payload, payload_len) != 0))
        return AM_EPROTO;
    return 0;
}

static int hs_split(am_noise_hs_t *hs, am_noise_cs_t **send,
                    am_noise_cs_t **recv)
{
    am_noise_cs_t *s = NULL, *r = NULL;
    int rc;

    if ((rc = am_noise_hs_split(hs, &s, &r)) != 0)
        return rc;
    if (send != NULL)
        *send = s;
    else
        am_noise_cs_free(s);
    if (recv != NULL)
        *recv = r;
    else
        am_noise_cs_free(r);
    return 0;
}

int am_fz_handshake(am_fz_transcript_t *t, const uint8_t *msg3_payload,
                    size_t msg3_payload_len, am_noise_cs_t **ini_send,
                    am_noise_cs_t **ini_recv, am_noise_cs_t **resp_send,
                    am_noise_cs_t **resp_recv)
{
    am_noise_hs_t *ini = NULL, *resp = NULL;
    am_noise_cs_t *is = NULL, *ir = NULL;
    int rc;

    if ((rc = am_fz_hs_new(&ini, AM_NOISE_INITIATOR)) != 0 ||
        (rc = am_fz_hs_new(&resp, AM_NOISE_RESPONDER)) != 0)
        goto out;
    if ((rc = hs_pass(ini, resp, NULL, 0, t->msg1, &t->msg1_len)) != 0 ||
        (rc = hs_pass(resp, ini, NULL, 0, t->msg2, &t->msg2_len)) != 0 ||
        (rc = hs_pass(ini, resp, msg3_payload, msg3_payload_len, t->msg3,
                      &t->msg3_len)) != 0)
        goto out;
    if ((rc = hs_split(ini, &is, &ir)) != 0 ||
        (rc = hs_split(resp, resp_send, resp_recv)) != 0)
        goto out;
    if (ini_send != NULL) {
        *ini_send = is;
        is = NULL;
    }
    if (ini_recv != NULL) {
        *ini_recv = ir;
        ir = NULL;
    }
out:
    am_noise_cs_free(is);
    am_noise_cs_free(ir);
    am_noise_hs_free(ini);
    am_noise_hs_free(resp);
    return rc;
}
