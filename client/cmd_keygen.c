/* amanat keygen: an agency's keys, made where they will be used.  The
 * secret half stays (ID.key, 0600, sealed); the public half (ID.pub) goes
 * to the federation administrator for `amanat admin issue`. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "country.h"
#include "err.h"
#include "keystore.h"

static const char help[] =
    "usage: amanat keygen --agency ID [--out PREFIX] [key options]\n"
    "\n"
    "Creates PREFIX.key (the secret keys, mode 0600, sealed with a\n"
    "passphrase) and PREFIX.pub (the public keys, for the administrator).\n"
    "PREFIX defaults to ID.  Existing files are never overwritten.\n"
    "\n"
    "key options:\n"
    "  --passphrase-fd N     read the passphrase from descriptor N\n"
    "  --passphrase-env VAR  take it from the environment variable VAR\n"
    "  --no-passphrase       store the secret key unsealed (still 0600)\n"
    "  --kdf COST            interactive, moderate (default) or sensitive\n";

/* Secret: Ed25519 seed || X25519 secret.  Public: Ed25519 pk || X25519 pk. */
static int make_keys(const char *id, am_key_t **sec, am_key_t **pub)
{
    uint8_t seed_dh[64], pk[64], sk[64];
    int rc = AM_ECRYPTO;

    randombytes_buf(seed_dh, sizeof seed_dh);
    if (crypto_sign_seed_keypair(pk, sk, seed_dh) != 0 ||
        crypto_scalarmult_base(pk + 32, seed_dh + 32) != 0)
        goto out;
    if ((rc = am_key_new(AM_KEY_AGENCY_SECRET, id, seed_dh, 64, sec)) != 0)
        goto out;
    if ((rc = am_key_new(AM_KEY_AGENCY_PUBLIC, id, pk, 64, pub)) != 0) {
        am_key_free(*sec);
        *sec = NULL;
    }
out:
    sodium_memzero(seed_dh, sizeof seed_dh);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

int am_cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"agency", required_argument, NULL, 'a'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        AM_CLI_KEY_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *id = NULL, *prefix = NULL;
    char path[4096];
    am_key_t *sec = NULL, *pub = NULL;
    am_cli_keys_t keys;
    int c, rc;

    am_cli_keys_init(&keys);
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((rc = am_cli_keys_opt(&keys, c, optarg)) != 0) {
            if (rc != 1)
                return rc;
        } else if (c == 'a') {
            id = optarg;
        } else if (c == 'o') {
            prefix = optarg;
        } else if (c == 'h') {
            fputs(help, stdout);
            return AM_EXIT_OK;
        } else {
            return am_cli_usage("keygen", "unknown option");
        }
    }
    if (id == NULL || !am_agency_id_valid(id))
        return am_cli_usage("keygen", "--agency ID is required: CC-NAME with "
                            "an assigned country code, e.g. DE-BKA");
    if (prefix == NULL)
        prefix = id;
    if ((rc = make_keys(id, &sec, &pub)) == 0) {
        snprintf(path, sizeof path, "%s.key", prefix);
        rc = am_keystore_save(path, sec, &keys.pass, &keys.cost);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s.pub", prefix);
        rc = am_keystore_save(path, pub, &keys.pass, &keys.cost);
    }
    am_key_free(sec);
    am_key_free(pub);
    if (rc != 0)
        return am_cli_fail(rc);
    printf("%s.key  secret keys of %s (keep; mode 0600)\n%s.pub  public keys "
           "(send to the federation administrator)\n", prefix, id, prefix);
    return AM_EXIT_OK;
}
