/* The C2SP Wycheproof vectors for X25519, Ed25519, ChaCha20-Poly1305 and
 * XChaCha20-Poly1305 (tests/vectors/wycheproof/, source and licence in
 * its README.md), run against the libsodium calls the project makes and,
 * where one takes the raw values, through the project's own functions
 * (wycheproof-x25519.c, wycheproof-aead.c, Ed25519 below).
 *
 * Usage: test-wycheproof <folder with the four .json files>.  Prints one
 * figure line per file; any case whose result differs from its verdict is
 * printed with its tcId and comment, and fails the test. */
#include "test-util.h"

#include <string.h>

#include <sodium.h>

#include "err.h"
#include "sign.h"
#include "wycheproof.h"

static const char *vec_dir;

int wp_hex(const json_t *tc, const char *field, uint8_t **out, size_t *len)
{
    const char *hex = wp_str(tc, field), *end = NULL;
    size_t hex_len, bin_len = 0;
    uint8_t *bin;

    if (hex == NULL || (hex_len = strlen(hex)) % 2 != 0)
        return -1;
    if ((bin = malloc(hex_len / 2 + 1)) == NULL)
        return -1;
    if (sodium_hex2bin(bin, hex_len / 2 + 1, hex, hex_len, NULL, &bin_len,
                       &end) != 0 || end != hex + hex_len) {
        free(bin);
        return -1;
    }
    *out = bin;
    *len = bin_len;
    return 0;
}

int wp_hex_fixed(const json_t *tc, const char *field, uint8_t *out,
                 size_t len)
{
    uint8_t *bin = NULL;
    size_t bin_len = 0;
    int rc = -1;

    if (wp_hex(tc, field, &bin, &bin_len) != 0)
        return -1;
    if (bin_len == len) {
        memcpy(out, bin, len);
        rc = 0;
    }
    free(bin);
    return rc;
}

const char *wp_str(const json_t *tc, const char *field)
{
    return json_string_value(json_object_get(tc, field));
}

bool wp_has_flag(const json_t *tc, const char *flag)
{
    const json_t *flags = json_object_get(tc, "flags");
    json_t *f;
    size_t i;

    json_array_foreach(flags, i, f) {
        const char *s = json_string_value(f);
        if (s != NULL && strcmp(s, flag) == 0)
            return true;
    }
    return false;
}

void wp_mismatch(wp_counts_t *c, const json_t *tc, const char *what)
{
    const char *comment = wp_str(tc, "comment");

    printf("MISMATCH tcId %lld (%s): %s\n",
           (long long)json_integer_value(json_object_get(tc, "tcId")),
           comment != NULL ? comment : "", what);
    c->mismatches++;
}

/* Ed25519.  am_sign_verify() (proto/sign.c: certificates, envelopes,
 * receipts, relay evidence) verifies "tag" || 0x00 || body, and Wycheproof
 * messages are raw, so a case goes to the exact call it makes,
 * crypto_sign_verify_detached(sig, m, mlen, pk), after the project's own
 * check, which am_sign_verify() itself runs here: a signature that is not
 * 64 bytes is refused before any verification. */
static int e_verify(const uint8_t pk[static 32], const uint8_t *msg,
                    size_t msg_len, const uint8_t *sig, size_t sig_len,
                    bool *by_length)
{
    *by_length = sig_len != AM_SIG_LEN;
    if (*by_length)
        return am_sign_verify("wycheproof", msg, msg_len, sig, sig_len, pk);
    return crypto_sign_verify_detached(sig, msg, msg_len, pk) == 0
               ? 0 : AM_ECRYPTO;
}

static void e_case(const uint8_t pk[static 32], const json_t *tc,
                   wp_counts_t *c)
{
    const char *res = wp_str(tc, "result");
    uint8_t *msg = NULL, *sig = NULL;
    size_t msg_len = 0, sig_len = 0;
    bool by_length = false;
    int rc;

    c->total++;
    if (res == NULL || wp_hex(tc, "msg", &msg, &msg_len) != 0 ||
        wp_hex(tc, "sig", &sig, &sig_len) != 0) {
        wp_mismatch(c, tc, "msg/sig missing or not hex");
        goto out;
    }
    rc = e_verify(pk, msg, msg_len, sig, sig_len, &by_length);
    if (strcmp(res, "valid") == 0 && rc == 0)
        c->valid_ok++;
    else if (strcmp(res, "invalid") == 0 && rc == AM_ECRYPTO) {
        c->invalid_refused++;
        c->by_length += by_length;
    } else
        wp_mismatch(c, tc, rc == 0 ? "signature accepted"
                                   : "signature refused");
out:
    free(msg);
    free(sig);
}

static int wp_run_ed25519(const json_t *root, wp_counts_t *c)
{
    const json_t *groups = json_object_get(root, "testGroups");
    uint8_t pk[32];
    json_t *g, *tc;
    size_t gi, ti;

    if (!json_is_array(groups))
        return -1;
    json_array_foreach(groups, gi, g) {
        const json_t *tests = json_object_get(g, "tests");

        if (wp_hex_fixed(json_object_get(g, "publicKey"), "pk", pk,
                         sizeof pk) != 0 || !json_is_array(tests))
            return -1;
        json_array_foreach(tests, ti, tc)
            e_case(pk, tc, c);
    }
    return 0;
}

static json_t *wp_load(const char *name)
{
    char path[4096];
    json_error_t err;
    json_t *root;
    int n = snprintf(path, sizeof path, "%s/%s", vec_dir, name);

    if (n < 0 || (size_t)n >= sizeof path)
        return NULL;
    if ((root = json_load_file(path, 0, &err)) == NULL)
        printf("%s:%d: %s\n", path, err.line, err.text);
    return root;
}

/* Load, run, and the checks every file shares: all its cases were seen
 * (numberOfTests), none mismatched. */
static void wp_file(const char *name, int kind, wp_counts_t *c)
{
    json_t *root = wp_load(name);
    int rc;

    assert_non_null(root);
    memset(c, 0, sizeof *c);
    rc = kind == 0   ? wp_run_x25519(root, c)
         : kind == 1 ? wp_run_ed25519(root, c)
                     : wp_run_aead(root, kind == 3, c);
    assert_int_equal(rc, 0);
    assert_int_equal(c->total, json_integer_value(
                                   json_object_get(root, "numberOfTests")));
    json_decref(root);
}

static void test_x25519(void **state)
{
    wp_counts_t c;

    (void)state;
    wp_file("x25519_test.json", 0, &c);
    printf("wycheproof x25519: %zu vectors: %zu valid ok, %zu invalid "
           "refused, %zu acceptable (%zu refused: zero shared secret, %zu "
           "accepted: twist or non-canonical public key, output = shared); "
           "%zu also through the Noise XX handshake and am_env_seal\n",
           c.total, c.valid_ok, c.invalid_refused,
           c.acc_refused + c.acc_accepted, c.acc_refused, c.acc_accepted,
           c.via_project);
    assert_int_equal(c.mismatches, 0);
    assert_int_equal(c.via_project, c.total);
    assert_true(c.valid_ok > 0 && c.acc_refused > 0);
}

static void test_ed25519(void **state)
{
    wp_counts_t c;

    (void)state;
    wp_file("ed25519_test.json", 1, &c);
    printf("wycheproof ed25519: %zu vectors: %zu valid ok, %zu invalid "
           "refused (%zu by am_sign_verify's 64-byte signature length "
           "check), 0 acceptable\n",
           c.total, c.valid_ok, c.invalid_refused, c.by_length);
    assert_int_equal(c.mismatches, 0);
    assert_int_equal(c.valid_ok + c.invalid_refused, c.total);
    assert_true(c.valid_ok > 0 && c.invalid_refused > 0);
}

static void print_aead(const char *name, const wp_counts_t *c, int nonce)
{
    printf("wycheproof %s: %zu vectors: %zu valid ok (encryption = ct || "
           "tag, decryption = msg), %zu invalid refused, 0 acceptable, %zu "
           "not applicable (the project only uses %d-byte nonces)",
           name, c->total, c->valid_ok, c->invalid_refused,
           c->not_applicable, nonce);
    if (c->via_project > 0)
        printf("; %zu also through the Noise CipherState "
               "(am_noise_cs_encrypt/_decrypt)", c->via_project);
    printf("\n");
}

static void test_chacha20_poly1305(void **state)
{
    wp_counts_t c;

    (void)state;
    wp_file("chacha20_poly1305_test.json", 2, &c);
    print_aead("chacha20-poly1305", &c, 12);
    assert_int_equal(c.mismatches, 0);
    assert_int_equal(c.valid_ok + c.invalid_refused + c.not_applicable,
                     c.total);
    assert_true(c.valid_ok > 0 && c.invalid_refused > 0 && c.via_project > 0);
}

static void test_xchacha20_poly1305(void **state)
{
    wp_counts_t c;

    (void)state;
    wp_file("xchacha20_poly1305_test.json", 3, &c);
    print_aead("xchacha20-poly1305", &c, 24);
    assert_int_equal(c.mismatches, 0);
    assert_int_equal(c.valid_ok + c.invalid_refused + c.not_applicable,
                     c.total);
    assert_true(c.valid_ok > 0 && c.invalid_refused > 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_chacha20_poly1305),
        cmocka_unit_test(test_xchacha20_poly1305),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s <tests/vectors/wycheproof>\n", argv[0]);
        return 2;
    }
    vec_dir = argv[1];
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
