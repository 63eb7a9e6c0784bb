#include "sign.h"

#include <string.h>

#include <sodium.h>

#include "alloc.h"
#include "err.h"

/* tag || 0x00 || body in a new buffer; Ed25519 has no streaming form. */
static int signed_message(const char *tag, const uint8_t *body, size_t len,
                          uint8_t **out, size_t *out_len)
{
    size_t tlen = strlen(tag);
    uint8_t *m = NULL;

    if (len > AM_SIGNED_BODY_MAX)
        return am_errf(AM_ETOOBIG, "signed body of %zu bytes over limit %zu",
                       len, AM_SIGNED_BODY_MAX);
    if ((m = am_malloc(tlen + 1 + len)) == NULL)
        return am_errf(AM_ENOMEM, "out of memory for a signature");
    memcpy(m, tag, tlen);
    m[tlen] = 0;
    if (len > 0)
        memcpy(m + tlen + 1, body, len);
    *out = m;
    *out_len = tlen + 1 + len;
    return 0;
}

int am_sign(const char *tag, const uint8_t *body, size_t len,
            const uint8_t sk[static AM_SIGN_SK_LEN],
            uint8_t sig[static AM_SIG_LEN])
{
    uint8_t *m = NULL;
    size_t mlen = 0;
    int rc;

    if (tag == NULL || (body == NULL && len > 0))
        return AM_EINVAL;
    if ((rc = signed_message(tag, body, len, &m, &mlen)) != 0)
        return rc;
    if (crypto_sign_detached(sig, NULL, m, mlen, sk) != 0)
        rc = am_errf(AM_ECRYPTO, "signing failed");
    am_free(m);
    return rc;
}

int am_sign_verify(const char *tag, const uint8_t *body, size_t len,
                   const uint8_t *sig, size_t sig_len,
                   const uint8_t pk[static AM_SIGN_PK_LEN])
{
    uint8_t *m = NULL;
    size_t mlen = 0;
    int rc;

    if (tag == NULL || (body == NULL && len > 0) || (sig == NULL && sig_len))
        return AM_EINVAL;
    if (sig_len != AM_SIG_LEN)
        return am_errf(AM_ECRYPTO, "%s signature is %zu bytes, not 64", tag,
                       sig_len);
    if ((rc = signed_message(tag, body, len, &m, &mlen)) != 0)
        return rc;
    if (crypto_sign_verify_detached(sig, m, mlen, pk) != 0)
        rc = am_errf(AM_ECRYPTO, "%s signature does not verify", tag);
    am_free(m);
    return rc;
}

int am_hash256(const uint8_t *in, size_t len, uint8_t out[static AM_HASH_LEN])
{
    if (crypto_generichash(out, AM_HASH_LEN, in, len, NULL, 0) != 0)
        return am_errf(AM_ECRYPTO, "BLAKE2b failed");
    return 0;
}
