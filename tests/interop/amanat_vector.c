/* amanat_vector: prints docs/vectors/noise-xx-amanat.json, a Noise test
 * vector in the cacophony layout for the exact handshake Amanat speaks:
 * Noise_XX_25519_ChaChaPoly_BLAKE2b, prologue "amanat/1", an empty message
 * 1 and a HandshakePayload in messages 2 and 3.  All keys are fixed: each
 * is BLAKE2b-256 of a label, so another implementation can rebuild them.
 * The transport messages that follow carry arbitrary frame-stream bytes (a
 * length prefix and a Ping frame), alternating as the layout requires. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "noise.h"
#include "noise_internal.h" /* fixed ephemerals */
#include "wire.pb-c.h"

#define NMSG 6

static void key_of(const char *label, uint8_t out[32])
{
    crypto_generichash(out, 32, (const uint8_t *)label, strlen(label), NULL,
                       0);
}

static void print_hex(const char *key, const uint8_t *p, size_t n,
                      const char *end)
{
    printf("      \"%s\": \"", key);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\"%s\n", end);
}

static size_t handshake_payload(const char *software, uint8_t *out)
{
    Amanat__V1__HandshakePayload p = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;

    p.protocol_version = 1;
    p.software = (char *)software;
    return amanat__v1__handshake_payload__pack(&p, out);
}

/* Transport payload i: [u32 length][Frame{ping{nonce: i}}]. */
static size_t ping_stream(uint64_t nonce, uint8_t *out)
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT;
    Amanat__V1__Ping ping = AMANAT__V1__PING__INIT;
    size_t n;

    ping.nonce = nonce;
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &ping;
    n = amanat__v1__frame__pack(&f, out + 4);
    out[0] = out[1] = out[2] = 0;
    out[3] = (uint8_t)n;
    return n + 4;
}

static int side(am_noise_hs_t **hs, am_noise_role_t role, const uint8_t *s,
                const uint8_t *e)
{
    int rc;

    if ((rc = am_noise_hs_new(hs, AM_NOISE_PROTOCOL, role,
                              (const uint8_t *)AM_NOISE_PROLOGUE,
                              strlen(AM_NOISE_PROLOGUE))) != 0 ||
        (rc = am_noise_hs_set_local_static(*hs, s)) != 0 ||
        (rc = am_noise_hs_set_fixed_ephemeral(*hs, e)) != 0)
        return rc;
    return am_noise_hs_start(*hs);
}

int main(void)
{
    static uint8_t pl[NMSG][256], ct[NMSG][512];
    size_t pl_len[NMSG], ct_len[NMSG], n, hlen;
    uint8_t is[32], ie[32], rs[32], re[32], buf[512], h[64];
    am_noise_hs_t *hs[2];
    am_noise_cs_t *send[2], *recv[2];

    if (sodium_init() < 0)
        return 1;
    key_of("amanat vector initiator static", is);
    key_of("amanat vector initiator ephemeral", ie);
    key_of("amanat vector responder static", rs);
    key_of("amanat vector responder ephemeral", re);
    if (side(&hs[0], AM_NOISE_INITIATOR, is, ie) != 0 ||
        side(&hs[1], AM_NOISE_RESPONDER, rs, re) != 0)
        return 1;
    pl_len[0] = 0;
    pl_len[1] = handshake_payload("amanat-relay vector", pl[1]);
    pl_len[2] = handshake_payload("amanat vector", pl[2]);
    for (int m = 0; m < 3; m++)
        if (am_noise_hs_write(hs[m % 2], pl[m], pl_len[m], ct[m],
                              sizeof ct[m], &ct_len[m]) != 0 ||
            am_noise_hs_read(hs[1 - m % 2], ct[m], ct_len[m], buf,
                             sizeof buf, &n) != 0)
            return 1;
    for (int i = 0; i < 2; i++)
        if (am_noise_hs_split(hs[i], &send[i], &recv[i]) != 0)
            return 1;
    if (am_noise_hs_hash(hs[0], h, &hlen) != 0)
        return 1;
    for (int m = 3; m < NMSG; m++) {
        pl_len[m] = ping_stream((uint64_t)m, pl[m]);
        if (am_noise_cs_encrypt(send[m % 2], NULL, 0, pl[m], pl_len[m], ct[m],
                                sizeof ct[m], &ct_len[m]) != 0)
            return 1;
    }
    printf("{\n  \"vectors\": [\n    {\n");
    printf("      \"protocol_name\": \"%s\",\n", AM_NOISE_PROTOCOL);
    print_hex("init_prologue", (const uint8_t *)AM_NOISE_PROLOGUE, 8, ",");
    print_hex("init_static", is, 32, ",");
    print_hex("init_ephemeral", ie, 32, ",");
    print_hex("resp_prologue", (const uint8_t *)AM_NOISE_PROLOGUE, 8, ",");
    print_hex("resp_static", rs, 32, ",");
    print_hex("resp_ephemeral", re, 32, ",");
    print_hex("handshake_hash", h, hlen, ",");
    printf("      \"messages\": [\n");
    for (int m = 0; m < NMSG; m++) {
        printf("        {\n  ");
        print_hex("payload", pl[m], pl_len[m], ",");
        printf("  ");
        print_hex("ciphertext", ct[m], ct_len[m], "");
        printf("        }%s\n", m + 1 < NMSG ? "," : "");
    }
    printf("      ]\n    }\n  ]\n}\n");
    for (int i = 0; i < 2; i++) {
        am_noise_hs_free(hs[i]);
        am_noise_cs_free(send[i]);
        am_noise_cs_free(recv[i]);
    }
    return 0;
}
