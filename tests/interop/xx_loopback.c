/* xx_loopback: the product's channel end to end inside one process, as a
 * relay and a client will run it: Noise_XX_25519_ChaChaPoly_BLAKE2b with
 * the Amanat prologue, HandshakePayload in messages 2 and 3, then Hello,
 * Ping and Pong frames through am_chan_t with the wire fed back one byte
 * at a time.  Prints each step; exits non-zero on any failure. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "channel.h"
#include "err.h"
#include "frame.h"
#include "noise.h"
#include "wire.pb-c.h"

#define CHECK(expr)                                                          \
    do {                                                                     \
        int rc_ = (expr);                                                    \
        if (rc_ != 0) {                                                      \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__,      \
                    #expr, am_strerror(rc_), am_err_detail());               \
            return 1;                                                        \
        }                                                                    \
    } while (0)

static const char *side_name[2] = {"client", "relay "};

static int new_side(am_noise_hs_t **hs, int i, uint8_t pk[32])
{
    uint8_t sk[32];

    randombytes_buf(sk, sizeof sk);
    if (crypto_scalarmult_base(pk, sk) != 0)
        return AM_EKEY;
    CHECK(am_noise_hs_new(hs, AM_NOISE_PROTOCOL,
                          i ? AM_NOISE_RESPONDER : AM_NOISE_INITIATOR,
                          (const uint8_t *)AM_NOISE_PROLOGUE,
                          strlen(AM_NOISE_PROLOGUE)));
    CHECK(am_noise_hs_set_local_static(*hs, sk));
    sodium_memzero(sk, sizeof sk);
    return am_noise_hs_start(*hs);
}

/* Messages 2 and 3 carry a HandshakePayload; its certificate is left empty
 * here (certificates arrive with the identity issue). */
static size_t payload_for(int m, uint8_t *buf, size_t cap)
{
    Amanat__V1__HandshakePayload p = AMANAT__V1__HANDSHAKE_PAYLOAD__INIT;

    if (m == 0)
        return 0;
    p.protocol_version = 1;
    p.software = "xx_loopback";
    if (amanat__v1__handshake_payload__get_packed_size(&p) > cap)
        return 0;
    return amanat__v1__handshake_payload__pack(&p, buf);
}

static int handshake(am_noise_hs_t *hs[2], uint8_t pk[2][32])
{
    uint8_t msg[AM_NOISE_MSG_MAX], pl[256], got[256], rs[32];
    size_t len, got_len;

    for (int m = 0; m < 3; m++) {
        int from = m % 2;
        size_t pl_len = payload_for(m, pl, sizeof pl);
        Amanat__V1__HandshakePayload *hp;

        CHECK(am_noise_hs_write(hs[from], pl, pl_len, msg, sizeof msg, &len));
        CHECK(am_noise_hs_read(hs[1 - from], msg, len, got, sizeof got,
                               &got_len));
        printf("handshake message %d: %s -> %s, %zu bytes, payload %zu\n",
               m + 1, side_name[from], side_name[1 - from], len, got_len);
        if (got_len > 0) {
            hp = amanat__v1__handshake_payload__unpack(NULL, got_len, got);
            if (hp == NULL || hp->protocol_version != 1)
                return AM_EPROTO;
            amanat__v1__handshake_payload__free_unpacked(hp, NULL);
        }
    }
    for (int i = 0; i < 2; i++) {
        CHECK(am_noise_hs_remote_static(hs[i], rs));
        if (sodium_memcmp(rs, pk[1 - i], 32) != 0)
            return AM_EKEY;
    }
    printf("both sides authenticated the other's static key\n");
    return 0;
}

/* Seal f on 'from', feed the wire to 'to' one byte at a time. */
static int send_frame(am_chan_t *from, am_chan_t *to,
                      const Amanat__V1__Frame *f, Amanat__V1__Frame **out)
{
    uint8_t *wire, *body = NULL;
    size_t wire_len, body_len, used;
    int rc = 0, ready = 0;

    CHECK(am_chan_seal_frame(from, f, AM_FRAME_MAX_DEFAULT, &wire,
                             &wire_len));
    for (size_t i = 0; i < wire_len && rc >= 0; i++) {
        rc = am_chan_feed(to, wire + i, 1, &used);
        if (rc == 1) {
            ready++;
            rc = am_chan_take(to, &body, &body_len);
        }
    }
    am_free(wire);
    if (rc < 0 || ready != 1) {
        am_free(body);
        return rc < 0 ? rc : AM_EPROTO;
    }
    rc = am_frame_parse(body, body_len, AM_FRAME_MAX_DEFAULT, out);
    am_free(body);
    return rc;
}

static int exchange(am_chan_t *c[2])
{
    Amanat__V1__Frame f = AMANAT__V1__FRAME__INIT, *got = NULL;
    Amanat__V1__Hello hello = AMANAT__V1__HELLO__INIT;
    Amanat__V1__Ping ping = AMANAT__V1__PING__INIT;
    Amanat__V1__Pong pong = AMANAT__V1__PONG__INIT;

    hello.protocol_version = 1;
    f.op_case = AMANAT__V1__FRAME__OP_HELLO;
    f.hello = &hello;
    CHECK(send_frame(c[0], c[1], &f, &got));
    printf("client -> relay: Hello (protocol %u)\n",
           got->hello->protocol_version);
    am_frame_free(got);
    randombytes_buf(&ping.nonce, sizeof ping.nonce);
    f.op_case = AMANAT__V1__FRAME__OP_PING;
    f.ping = &ping;
    CHECK(send_frame(c[0], c[1], &f, &got));
    pong.nonce = got->ping->nonce;
    am_frame_free(got);
    f.op_case = AMANAT__V1__FRAME__OP_PONG;
    f.pong = &pong;
    CHECK(send_frame(c[1], c[0], &f, &got));
    if (got->pong->nonce != ping.nonce) {
        am_frame_free(got);
        return AM_EPROTO;
    }
    printf("client -> relay: Ping %016llx; relay -> client: Pong %016llx\n",
           (unsigned long long)ping.nonce,
           (unsigned long long)got->pong->nonce);
    am_frame_free(got);
    return 0;
}

int main(void)
{
    am_noise_hs_t *hs[2] = {NULL, NULL};
    am_chan_t *c[2] = {NULL, NULL};
    uint8_t pk[2][32];
    int rc = 1;

    if (sodium_init() < 0)
        return 1;
    printf("%s, prologue \"%s\"\n", AM_NOISE_PROTOCOL, AM_NOISE_PROLOGUE);
    if (new_side(&hs[0], 0, pk[0]) != 0 || new_side(&hs[1], 1, pk[1]) != 0 ||
        handshake(hs, pk) != 0)
        goto out;
    for (int i = 0; i < 2; i++) {
        am_noise_cs_t *send, *recv;
        if (am_noise_hs_split(hs[i], &send, &recv) != 0 ||
            am_chan_new(&c[i], send, recv, AM_FRAME_MAX_DEFAULT) != 0)
            goto out;
    }
    if (exchange(c) != 0)
        goto out;
    printf("xx_loopback: ok\n");
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        am_noise_hs_free(hs[i]);
        am_chan_free(c[i]);
    }
    if (rc != 0)
        fprintf(stderr, "xx_loopback: FAILED\n");
    return rc;
}
