/* Key-file text from arbitrary bytes: am_keyfile_info and
 * am_keyfile_decode, without and with a passphrase (the Argon2id cost a
 * file may ask for is capped at the minimum so runs stay fast).  A decoded
 * key must re-encode and decode to the same kind, owner and bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"
#include "fuzz_common.h"
#include "keyfile.h"

static void round_trip(const am_key_t *k)
{
    am_key_t *back = NULL;
    char *text;
    size_t len;

    AM_FZ_CHECK(am_keyfile_encode(k, NULL, 0, NULL, &text, &len) == 0);
    AM_FZ_CHECK(am_keyfile_decode(text, len, NULL, 0, &back) == 0);
    AM_FZ_CHECK(back->kind == k->kind && back->key_len == k->key_len &&
                strcmp(back->owner, k->owner) == 0 &&
                memcmp(back->key, k->key, k->key_len) == 0);
    am_key_free(back);
    am_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    const char *text = (const char *)data;
    char owner[AM_KEY_OWNER_MAX + 1];
    am_key_kind_t kind;
    am_key_t *k = NULL;
    bool sealed = false;

    if (!ready) {
        AM_FZ_CHECK(sodium_init() >= 0);
        am_keyfile_cost_ceiling(crypto_pwhash_OPSLIMIT_MIN,
                                crypto_pwhash_MEMLIMIT_MIN);
        ready = 1;
    }
    if (am_keyfile_info(text, size, &kind, owner, &sealed) == 0)
        AM_FZ_CHECK(am_key_kind_len(kind) > 0 && owner[0] != '\0');
    if (am_keyfile_decode(text, size, NULL, 0, &k) == 0) {
        AM_FZ_CHECK(!sealed);
        round_trip(k);
        am_key_free(k);
        k = NULL;
    }
    if (am_keyfile_decode(text, size, "fuzz", 4, &k) == 0) {
        round_trip(k);
        am_key_free(k);
    }
    return 0;
}
