/* noise_vectors FILE...: checks the Noise engine against third-party test
 * vectors (both JSON layouts of shared/vectors/noise/README.md).
 *
 * Every vector named Noise_*_25519_ChaChaPoly_{BLAKE2b,SHA256,SHA512} is
 * played: both sides are built from the vector's keys, each handshake and
 * transport message is written by the sender and compared byte for byte,
 * read by the receiver and its payload compared, and the handshake hash is
 * compared where the vector gives one.  Other vectors are skipped.
 * Prints "N passed, M failed, K skipped"; exits non-zero on any failure, or
 * when --expect-passed N is given and a different number passed.
 */
#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "noise.h"
#include "noise_internal.h" /* fixed ephemerals */

#define BUF_MAX 65535

typedef struct {
    const char *file;
    const char *name;
    int verbose;
} ctx_t;

static int fail(const ctx_t *c, const char *what, int rc)
{
    fprintf(stderr, "FAIL %s: %s: %s", c->file, c->name, what);
    if (rc != 0)
        fprintf(stderr, " (%s: %s)", am_strerror(rc), am_err_detail());
    fputc('\n', stderr);
    return -1;
}

/* Decode hex field key of v into buf (cap bytes); -1 if absent or bad. */
static int hex_field(json_t *v, const char *key, uint8_t *buf, size_t cap,
                     size_t *len)
{
    json_t *f = json_object_get(v, key);
    const char *s;

    if (!json_is_string(f))
        return -1;
    s = json_string_value(f);
    if (sodium_hex2bin(buf, cap, s, strlen(s), NULL, len, NULL) != 0)
        return -2;
    return 0;
}

static int hex_key(json_t *v, const char *key, uint8_t out[32])
{
    size_t len;
    int rc = hex_field(v, key, out, 32, &len);

    if (rc == 0 && len != 32)
        return -2;
    return rc;
}

/* PSKs: "init_psks": [hex...] (current layout) or "init_psk": hex (old). */
static int add_psks(am_noise_hs_t *hs, json_t *v, const char *side)
{
    char key[32];
    uint8_t psk[32];
    json_t *arr, *item;
    size_t i, len;

    snprintf(key, sizeof key, "%s_psks", side);
    arr = json_object_get(v, key);
    json_array_foreach(arr, i, item) {
        const char *s = json_string_value(item);
        if (s == NULL ||
            sodium_hex2bin(psk, 32, s, strlen(s), NULL, &len, NULL) != 0 ||
            len != 32 || am_noise_hs_add_psk(hs, psk) != 0)
            return -1;
    }
    snprintf(key, sizeof key, "%s_psk", side);
    if (json_object_get(v, key) != NULL)
        if (hex_key(v, key, psk) != 0 || am_noise_hs_add_psk(hs, psk) != 0)
            return -1;
    return 0;
}

static int make_side(const ctx_t *c, json_t *v, am_noise_role_t role,
                     am_noise_hs_t **out)
{
    const char *side = role == AM_NOISE_INITIATOR ? "init" : "resp";
    static uint8_t prologue[BUF_MAX];
    uint8_t key[32];
    size_t plen = 0;
    char name[64];
    int rc;

    snprintf(name, sizeof name, "%s_prologue", side);
    if (hex_field(v, name, prologue, sizeof prologue, &plen) == -2)
        return fail(c, "bad prologue hex", 0);
    if ((rc = am_noise_hs_new(out, c->name, role, prologue, plen)) != 0)
        return rc == AM_EUNSUPPORTED ? 1 : fail(c, "new", rc);
    snprintf(name, sizeof name, "%s_static", side);
    if (hex_key(v, name, key) == 0 &&
        (rc = am_noise_hs_set_local_static(*out, key)) != 0)
        return fail(c, "static key", rc);
    snprintf(name, sizeof name, "%s_ephemeral", side);
    if (hex_key(v, name, key) == 0 &&
        (rc = am_noise_hs_set_fixed_ephemeral(*out, key)) != 0)
        return fail(c, "ephemeral key", rc);
    snprintf(name, sizeof name, "%s_remote_static", side);
    if (hex_key(v, name, key) == 0 &&
        (rc = am_noise_hs_set_remote_static(*out, key)) != 0)
        return fail(c, "remote static key", rc);
    if (add_psks(*out, v, side) != 0)
        return fail(c, "psk", 0);
    if ((rc = am_noise_hs_start(*out)) != 0)
        return fail(c, "start", rc);
    return 0;
}

typedef struct {
    am_noise_hs_t *hs[2]; /* initiator, responder */
    am_noise_cs_t *send[2], *recv[2];
} pair_t;

static void pair_free(pair_t *p)
{
    for (int i = 0; i < 2; i++) {
        am_noise_hs_free(p->hs[i]);
        am_noise_cs_free(p->send[i]);
        am_noise_cs_free(p->recv[i]);
    }
}

/* Compare produced bytes with the vector's field. */
static int expect(const ctx_t *c, json_t *msg, const char *key,
                  const uint8_t *got, size_t got_len, const char *what)
{
    static uint8_t want[BUF_MAX];
    size_t want_len;

    if (hex_field(msg, key, want, sizeof want, &want_len) != 0)
        return fail(c, "vector field missing or bad", 0);
    if (want_len != got_len || memcmp(want, got, got_len) != 0)
        return fail(c, what, 0);
    return 0;
}

static int handshake_step(const ctx_t *c, pair_t *p, json_t *msg)
{
    static uint8_t payload[BUF_MAX], out[BUF_MAX], back[BUF_MAX];
    size_t plen, out_len, back_len;
    int s, rc;

    if (am_noise_hs_action(p->hs[0]) == AM_NOISE_ACTION_WRITE)
        s = 0;
    else if (am_noise_hs_action(p->hs[1]) == AM_NOISE_ACTION_WRITE)
        s = 1;
    else
        return fail(c, "no side is ready to write", 0);
    if (am_noise_hs_action(p->hs[1 - s]) != AM_NOISE_ACTION_READ)
        return fail(c, "receiver is not ready to read", 0);
    if (hex_field(msg, "payload", payload, sizeof payload, &plen) != 0)
        return fail(c, "bad payload hex", 0);
    if ((rc = am_noise_hs_write(p->hs[s], payload, plen, out, sizeof out,
                                &out_len)) != 0)
        return fail(c, "handshake write", rc);
    if (expect(c, msg, "ciphertext", out, out_len, "handshake ciphertext"))
        return -1;
    if ((rc = am_noise_hs_read(p->hs[1 - s], out, out_len, back, sizeof back,
                               &back_len)) != 0)
        return fail(c, "handshake read", rc);
    return expect(c, msg, "payload", back, back_len, "handshake payload");
}

static int finish_handshake(const ctx_t *c, pair_t *p, json_t *v)
{
    uint8_t h0[64], h1[64];
    size_t l0, l1;
    int rc;

    for (int i = 0; i < 2; i++)
        if ((rc = am_noise_hs_split(p->hs[i], &p->send[i], &p->recv[i])) != 0)
            return fail(c, "split", rc);
    if (am_noise_hs_hash(p->hs[0], h0, &l0) != 0 ||
        am_noise_hs_hash(p->hs[1], h1, &l1) != 0 || l0 != l1 ||
        memcmp(h0, h1, l0) != 0)
        return fail(c, "handshake hashes differ", 0);
    if (json_object_get(v, "handshake_hash") != NULL)
        return expect(c, v, "handshake_hash", h0, l0, "handshake hash");
    return 0;
}

static int transport_step(const ctx_t *c, pair_t *p, json_t *msg, size_t i)
{
    static uint8_t payload[BUF_MAX], out[BUF_MAX], back[BUF_MAX];
    size_t plen, out_len, back_len;
    bool one_way = p->send[1] == NULL;
    int s = one_way ? 0 : (int)(i % 2), rc;

    if (p->send[s] == NULL || p->recv[1 - s] == NULL)
        return fail(c, "transport direction has no cipher", 0);
    if (hex_field(msg, "payload", payload, sizeof payload, &plen) != 0)
        return fail(c, "bad payload hex", 0);
    if ((rc = am_noise_cs_encrypt(p->send[s], NULL, 0, payload, plen, out,
                                  sizeof out, &out_len)) != 0)
        return fail(c, "transport encrypt", rc);
    if (expect(c, msg, "ciphertext", out, out_len, "transport ciphertext"))
        return -1;
    if ((rc = am_noise_cs_decrypt(p->recv[1 - s], NULL, 0, out, out_len, back,
                                  sizeof back, &back_len)) != 0)
        return fail(c, "transport decrypt", rc);
    return expect(c, msg, "payload", back, back_len, "transport payload");
}

/* 0 passed, 1 skipped, -1 failed. */
static int run_vector(const ctx_t *c, json_t *v)
{
    json_t *msgs = json_object_get(v, "messages"), *msg;
    pair_t p = {0};
    bool handshaking = true;
    size_t i;
    int rc;

    if ((rc = make_side(c, v, AM_NOISE_INITIATOR, &p.hs[0])) != 0 ||
        (rc = make_side(c, v, AM_NOISE_RESPONDER, &p.hs[1])) != 0)
        goto out;
    rc = -1;
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        fail(c, "no messages", 0);
        goto out;
    }
    json_array_foreach(msgs, i, msg) {
        if (handshaking && am_noise_hs_action(p.hs[0]) ==
                               AM_NOISE_ACTION_SPLIT) {
            if (finish_handshake(c, &p, v) != 0)
                goto out;
            handshaking = false;
        }
        if (handshaking ? handshake_step(c, &p, msg) != 0
                        : transport_step(c, &p, msg, i) != 0)
            goto out;
    }
    if (handshaking && am_noise_hs_action(p.hs[0]) == AM_NOISE_ACTION_SPLIT &&
        finish_handshake(c, &p, v) != 0)
        goto out;
    rc = 0;
out:
    pair_free(&p);
    return rc;
}

static int run_file(const char *file, int verbose, long counts[3])
{
    json_error_t err;
    json_t *root, *vectors, *v;
    regex_t re;
    size_t i;

    root = json_load_file(file, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        fprintf(stderr, "%s:%d: %s\n", file, err.line, err.text);
        return -1;
    }
    vectors = json_object_get(root, "vectors");
    if (!json_is_array(vectors)) {
        fprintf(stderr, "%s: no \"vectors\" array\n", file);
        json_decref(root);
        return -1;
    }
    if (regcomp(&re, "^Noise_.*_25519_ChaChaPoly_(BLAKE2b|SHA256|SHA512)$",
                REG_EXTENDED | REG_NOSUB) != 0)
        abort();
    json_array_foreach(vectors, i, v) {
        json_t *n = json_object_get(v, "protocol_name");
        ctx_t c = {file, NULL, verbose};
        int r;

        if (n == NULL)
            n = json_object_get(v, "name");
        c.name = json_string_value(n);
        if (c.name == NULL || regexec(&re, c.name, 0, NULL, 0) != 0) {
            counts[2]++;
            continue;
        }
        r = run_vector(&c, v);
        counts[r == 0 ? 0 : r == 1 ? 2 : 1]++;
        if (verbose || r == 1)
            printf("%s %s: %s\n", r == 0 ? "ok  " : r == 1 ? "skip" : "FAIL",
                   file, c.name);
    }
    regfree(&re);
    json_decref(root);
    return 0;
}

int main(int argc, char **argv)
{
    long counts[3] = {0, 0, 0}, expect_passed = -1;
    int verbose = 0, files = 0, bad_file = 0;

    if (sodium_init() < 0)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--expect-passed") == 0 && i + 1 < argc) {
            expect_passed = strtol(argv[++i], NULL, 10);
        } else {
            files++;
            if (run_file(argv[i], verbose, counts) != 0)
                bad_file = 1;
        }
    }
    if (files == 0) {
        fprintf(stderr, "usage: %s [-v] [--expect-passed N] FILE...\n",
                argv[0]);
        return 2;
    }
    printf("%ld passed, %ld failed, %ld skipped\n", counts[0], counts[1],
           counts[2]);
    if (expect_passed >= 0 && counts[0] != expect_passed) {
        fprintf(stderr, "expected %ld passed\n", expect_passed);
        return 1;
    }
    return counts[1] > 0 || bad_file ? 1 : 0;
}
