#include "keyfile.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "bytes.h"
#include "err.h"

#define MAGIC "AMK1"
#define PREFIX "AMANAT-KEY "
#define SALT_LEN crypto_pwhash_SALTBYTES
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define BIN_MAX 1024

static const char *kind_text[] = {
    "", "federation root secret key (Ed25519)",
    "agency secret key (Ed25519 signing + X25519)",
    "federation root public key (Ed25519)",
    "agency public key (Ed25519 signing + X25519)",
    "prekey secret key (X25519)",
};

size_t am_key_kind_len(am_key_kind_t kind)
{
    switch (kind) {
    case AM_KEY_ROOT_SECRET: return 32;
    case AM_KEY_AGENCY_SECRET: return 64;
    case AM_KEY_ROOT_PUBLIC: return 32;
    case AM_KEY_AGENCY_PUBLIC: return 64;
    case AM_KEY_PREKEY_SECRET: return 32;
    }
    return 0;
}

bool am_key_kind_secret(am_key_kind_t kind)
{
    return kind == AM_KEY_ROOT_SECRET || kind == AM_KEY_AGENCY_SECRET ||
           kind == AM_KEY_PREKEY_SECRET;
}

static bool valid_owner(const char *s, size_t n)
{
    if (n == 0 || n > AM_KEY_OWNER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false; /* printable ASCII, no spaces */
    return true;
}

int am_key_new(am_key_kind_t kind, const char *owner, const uint8_t *key,
               size_t key_len, am_key_t **out)
{
    am_key_t *k;

    if (owner == NULL || key == NULL || out == NULL)
        return AM_EINVAL;
    if (am_key_kind_len(kind) == 0 || key_len != am_key_kind_len(kind))
        return am_errf(AM_EINVAL, "key of kind %d must be %zu bytes",
                       (int)kind, am_key_kind_len(kind));
    if (!valid_owner(owner, strlen(owner)))
        return am_errf(AM_EINVAL, "key owner \"%.64s\": 1 to %d printable "
                       "characters without spaces", owner, AM_KEY_OWNER_MAX);
    if ((k = am_calloc(1, sizeof *k)) == NULL)
        return AM_ENOMEM;
    if ((k->key = sodium_malloc(key_len)) == NULL) {
        am_free(k);
        return AM_ENOMEM;
    }
    k->kind = kind;
    memcpy(k->owner, owner, strlen(owner) + 1);
    memcpy(k->key, key, key_len);
    k->key_len = key_len;
    *out = k;
    return 0;
}

void am_key_free(am_key_t *k)
{
    if (k == NULL)
        return;
    sodium_free(k->key); /* wipes */
    am_free(k);
}

/* Argon2id: the passphrase and salt to a 32-byte sealing key. */
static int derive(const char *pass, size_t pass_len, const uint8_t *salt,
                  unsigned long long ops, size_t mem, uint8_t key[32])
{
    if (crypto_pwhash(key, 32, pass, pass_len, salt, ops, mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return am_errf(AM_ENOMEM, "Argon2id needs %zu MiB and failed",
                       mem >> 20);
    return 0;
}

/* Binary header: magic, kind, sealed, owner; then for a sealed file the
 * salt, opslimit and memlimit (u64 BE) and nonce.  Returns its length. */
static size_t put_header(uint8_t *b, const am_key_t *k, bool sealed,
                         const uint8_t *salt, const am_key_cost_t *cost,
                         const uint8_t *nonce)
{
    size_t n = strlen(k->owner), pos = 0;

    memcpy(b, MAGIC, 4);
    b[4] = (uint8_t)k->kind;
    b[5] = sealed ? 1 : 0;
    b[6] = (uint8_t)n;
    memcpy(b + 7, k->owner, n);
    pos = 7 + n;
    if (sealed) {
        memcpy(b + pos, salt, SALT_LEN);
        for (int i = 0; i < 8; i++) {
            b[pos + SALT_LEN + (size_t)i] = (uint8_t)(cost->opslimit >> (56 - 8 * i));
            b[pos + SALT_LEN + 8 + (size_t)i] =
                (uint8_t)((uint64_t)cost->memlimit >> (56 - 8 * i));
        }
        memcpy(b + pos + SALT_LEN + 16, nonce, NONCE_LEN);
        pos += SALT_LEN + 16 + NONCE_LEN;
    }
    return pos;
}

static int to_text(const am_key_t *k, bool sealed, const uint8_t *bin,
                   size_t bin_len, char **text, size_t *text_len)
{
    size_t b64 = sodium_base64_ENCODED_LEN(bin_len,
                                           sodium_base64_VARIANT_ORIGINAL);
    size_t cap = 256 + sizeof PREFIX + b64;
    char *t;
    int n;

    if ((t = am_malloc(cap)) == NULL)
        return AM_ENOMEM;
    n = snprintf(t, cap, "# amanat %s of %s%s\n" PREFIX, kind_text[k->kind],
                 k->owner, sealed ? ", sealed with a passphrase" : "");
    if (n < 0 || (size_t)n + b64 + 1 > cap) {
        am_free(t);
        return AM_EINVAL;
    }
    sodium_bin2base64(t + n, b64, bin, bin_len, sodium_base64_VARIANT_ORIGINAL);
    *text_len = (size_t)n + b64 - 1;
    t[(*text_len)++] = '\n';
    t[*text_len] = '\0';
    *text = t;
    return 0;
}

static int seal_key(const am_key_t *k, const char *pass, size_t pass_len,
                    const am_key_cost_t *cost, uint8_t *bin, size_t *bin_len)
{
    uint8_t salt[SALT_LEN], nonce[NONCE_LEN], key[32];
    size_t h;
    int rc;

    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    h = put_header(bin, k, true, salt, cost, nonce);
    if ((rc = derive(pass, pass_len, salt, cost->opslimit, cost->memlimit,
                     key)) != 0)
        return rc;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(bin + h, NULL, k->key,
                                                   k->key_len, bin, h, NULL,
                                                   nonce, key) != 0)
        rc = am_errf(AM_ECRYPTO, "sealing the key failed");
    sodium_memzero(key, sizeof key);
    *bin_len = h + k->key_len + TAG_LEN;
    return rc;
}

int am_keyfile_encode(const am_key_t *k, const char *pass, size_t pass_len,
                      const am_key_cost_t *cost, char **text,
                      size_t *text_len)
{
    uint8_t bin[BIN_MAX];
    bool sealed = pass != NULL;
    size_t bin_len;
    int rc = 0;

    if (k == NULL || text == NULL || text_len == NULL ||
        (sealed && (pass_len == 0 || cost == NULL)))
        return AM_EINVAL;
    if (sealed && !am_key_kind_secret(k->kind))
        return am_errf(AM_EINVAL, "public keys are not sealed");
    if (sealed) {
        rc = seal_key(k, pass, pass_len, cost, bin, &bin_len);
    } else {
        bin_len = put_header(bin, k, false, NULL, NULL, NULL);
        memcpy(bin + bin_len, k->key, k->key_len);
        bin_len += k->key_len;
    }
    if (rc == 0)
        rc = to_text(k, sealed, bin, bin_len, text, text_len);
    sodium_memzero(bin, sizeof bin);
    return rc;
}

/* Comment lines, then "AMANAT-KEY <base64>", then only white space. */
static int find_payload(const char *t, size_t len, const char **b64,
                        size_t *b64_len)
{
    size_t pos = 0, end;

    while (pos < len && t[pos] == '#') {
        const char *nl = memchr(t + pos, '\n', len - pos);
        if (nl == NULL)
            break;
        pos = (size_t)(nl - t) + 1;
    }
    if (len - pos < sizeof PREFIX - 1 ||
        memcmp(t + pos, PREFIX, sizeof PREFIX - 1) != 0)
        return am_errf(AM_EPROTO, "not an amanat key file (no \"AMANAT-KEY\" "
                       "line)");
    pos += sizeof PREFIX - 1;
    end = pos;
    while (end < len && t[end] != '\n' && t[end] != '\r' && t[end] != ' ')
        end++;
    for (size_t i = end; i < len; i++)
        if (t[i] != '\n' && t[i] != '\r' && t[i] != ' ')
            return am_errf(AM_EPROTO, "key file: text after the key line");
    *b64 = t + pos;
    *b64_len = end - pos;
    return 0;
}

typedef struct {
    am_key_kind_t kind;
    bool sealed;
    const uint8_t *owner, *salt, *nonce;
    size_t owner_len, header_len;
    unsigned long long ops;
    size_t mem;
} header_t;

static unsigned long long max_ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
static size_t max_mem = crypto_pwhash_MEMLIMIT_SENSITIVE;

void am_keyfile_cost_ceiling(unsigned long long opslimit, size_t memlimit)
{
    max_ops = opslimit;
    max_mem = memlimit;
}

static uint64_t load_be64(const uint8_t *p)
{
    return (uint64_t)am_load_be32(p) << 32 | am_load_be32(p + 4);
}

static int parse_header(const uint8_t *b, size_t n, header_t *h)
{
    if (n < 7 || memcmp(b, MAGIC, 4) != 0)
        return am_errf(AM_EPROTO, "key file: bad magic");
    h->kind = (am_key_kind_t)b[4];
    h->sealed = b[5] == 1;
    h->owner_len = b[6];
    if (am_key_kind_len(h->kind) == 0 || b[5] > 1)
        return am_errf(AM_EUNSUPPORTED, "key file: unknown kind %u", b[4]);
    if (h->sealed && !am_key_kind_secret(h->kind))
        return am_errf(AM_EPROTO, "key file: sealed public key");
    if (n < 7 + h->owner_len || !valid_owner((const char *)b + 7, h->owner_len))
        return am_errf(AM_EPROTO, "key file: bad owner");
    h->owner = b + 7;
    h->header_len = 7 + h->owner_len;
    if (!h->sealed)
        return 0;
    if (n < h->header_len + SALT_LEN + 16 + NONCE_LEN)
        return am_errf(AM_EPROTO, "key file: truncated");
    h->salt = b + h->header_len;
    h->ops = (unsigned long long)load_be64(h->salt + SALT_LEN);
    h->mem = (size_t)load_be64(h->salt + SALT_LEN + 8);
    h->nonce = h->salt + SALT_LEN + 16;
    h->header_len += SALT_LEN + 16 + NONCE_LEN;
    /* Bound the work a file can ask for before doing any. */
    if (h->ops < crypto_pwhash_OPSLIMIT_MIN || h->ops > max_ops ||
        h->mem < crypto_pwhash_MEMLIMIT_MIN || h->mem > max_mem)
        return am_errf(AM_EPROTO, "key file: Argon2id cost out of range");
    return 0;
}

static int open_sealed(const uint8_t *b, const header_t *h, const char *pass,
                       size_t pass_len, uint8_t *key_out)
{
    uint8_t key[32];
    int rc;

    if (pass == NULL || pass_len == 0)
        return am_errf(AM_EKEY, "key file is sealed: a passphrase is needed");
    if ((rc = derive(pass, pass_len, h->salt, h->ops, h->mem, key)) != 0)
        return rc;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            key_out, NULL, NULL, b + h->header_len,
            am_key_kind_len(h->kind) + TAG_LEN, b, h->header_len, h->nonce,
            key) != 0)
        rc = am_errf(AM_ECRYPTO, "wrong passphrase (or damaged key file)");
    sodium_memzero(key, sizeof key);
    return rc;
}

static int decode_bin(const uint8_t *b, size_t n, const char *pass,
                      size_t pass_len, am_key_t **out)
{
    uint8_t key[64];
    char owner[AM_KEY_OWNER_MAX + 1];
    header_t h = {0};
    size_t klen;
    int rc;

    if ((rc = parse_header(b, n, &h)) != 0)
        return rc;
    klen = am_key_kind_len(h.kind);
    if (n != h.header_len + klen + (h.sealed ? TAG_LEN : 0))
        return am_errf(AM_EPROTO, "key file: %zu bytes, not the size of its "
                       "kind", n);
    if (h.sealed)
        rc = open_sealed(b, &h, pass, pass_len, key);
    else
        memcpy(key, b + h.header_len, klen);
    memcpy(owner, h.owner, h.owner_len);
    owner[h.owner_len] = '\0';
    if (rc == 0)
        rc = am_key_new(h.kind, owner, key, klen, out);
    sodium_memzero(key, sizeof key);
    return rc;
}

/* Text to the binary form: size bound, the key line, strict base64. */
static int text_to_bin(const char *text, size_t len, uint8_t bin[BIN_MAX],
                       size_t *bin_len)
{
    const char *b64 = NULL, *end = NULL;
    size_t b64_len = 0;
    int rc;

    if (len > AM_KEYFILE_MAX)
        return am_errf(AM_ETOOBIG, "key file of %zu bytes over %d", len,
                       AM_KEYFILE_MAX);
    if ((rc = find_payload(text, len, &b64, &b64_len)) != 0)
        return rc;
    if (sodium_base642bin(bin, BIN_MAX, b64, b64_len, NULL, bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + b64_len)
        return am_errf(AM_EPROTO, "key file: the key line is not base64");
    return 0;
}

int am_keyfile_decode(const char *text, size_t len, const char *pass,
                      size_t pass_len, am_key_t **out)
{
    uint8_t bin[BIN_MAX];
    size_t bin_len = 0;
    int rc;

    if (text == NULL || out == NULL)
        return AM_EINVAL;
    if ((rc = text_to_bin(text, len, bin, &bin_len)) == 0)
        rc = decode_bin(bin, bin_len, pass, pass_len, out);
    sodium_memzero(bin, sizeof bin);
    return rc;
}

int am_keyfile_info(const char *text, size_t len, am_key_kind_t *kind,
                    char owner[AM_KEY_OWNER_MAX + 1], bool *sealed)
{
    uint8_t bin[BIN_MAX];
    size_t bin_len = 0;
    header_t h = {0};
    int rc;

    if (text == NULL)
        return AM_EINVAL;
    if ((rc = text_to_bin(text, len, bin, &bin_len)) == 0 &&
        (rc = parse_header(bin, bin_len, &h)) == 0) {
        if (kind != NULL)
            *kind = h.kind;
        if (sealed != NULL)
            *sealed = h.sealed;
        if (owner != NULL) {
            memcpy(owner, h.owner, h.owner_len);
            owner[h.owner_len] = '\0';
        }
    }
    sodium_memzero(bin, sizeof bin);
    return rc;
}

bool am_keyfile_sealed(const char *text, size_t len)
{
    bool sealed = false;

    return am_keyfile_info(text, len, NULL, NULL, &sealed) == 0 && sealed;
}
