/* HandshakeState of Noise spec 5.3: interprets the token lists of a
 * pattern (noise_pattern.c) over the SymmetricState (noise_symmetric.c).
 * Message lengths are planned before any state changes, so AM_ESHORT and
 * bounds errors leave the handshake usable; every other error fails it and
 * wipes its secrets (hs_fail). */
#include "noise_internal.h"

#include <string.h>

#include "alloc.h"
#include "err.h"

static void hs_wipe_secrets(am_noise_hs_t *hs)
{
    sodium_memzero(hs->s_sk, sizeof hs->s_sk);
    sodium_memzero(hs->e_sk, sizeof hs->e_sk);
    sodium_memzero(hs->psk, sizeof hs->psk);
    am_ss_wipe(&hs->ss);
}

static int hs_fail(am_noise_hs_t *hs, int rc)
{
    hs_wipe_secrets(hs);
    sodium_memzero(hs->ss.h, sizeof hs->ss.h);
    hs->failed = true;
    return rc;
}

/* "Noise_XX_25519_ChaChaPoly_BLAKE2b" -> pattern and hash. */
static int parse_name(const char *name, am_noise_pattern_t *pat,
                      am_noise_hash_id_t *hash)
{
    static const char pre[] = "Noise_", mid[] = "_25519_ChaChaPoly_";
    size_t len = strnlen(name, AM_NOISE_NAME_MAX + 1);
    const char *p, *m;

    if (len > AM_NOISE_NAME_MAX || strncmp(name, pre, sizeof pre - 1) != 0)
        return AM_EUNSUPPORTED;
    p = name + sizeof pre - 1;
    if ((m = strstr(p, mid)) == NULL)
        return AM_EUNSUPPORTED;
    if (strcmp(m + sizeof mid - 1, "BLAKE2b") == 0)
        *hash = AM_NOISE_HASH_BLAKE2B;
    else if (strcmp(m + sizeof mid - 1, "SHA256") == 0)
        *hash = AM_NOISE_HASH_SHA256;
    else if (strcmp(m + sizeof mid - 1, "SHA512") == 0)
        *hash = AM_NOISE_HASH_SHA512;
    else
        return AM_EUNSUPPORTED;
    return am_noise_pattern_parse(p, (size_t)(m - p), pat);
}

int am_noise_hs_new(am_noise_hs_t **out, const char *protocol,
                    am_noise_role_t role, const uint8_t *prologue,
                    size_t prologue_len)
{
    am_noise_hs_t *hs = NULL;
    am_noise_hash_id_t hash;
    int rc = AM_EINVAL;

    if (out == NULL || protocol == NULL || (prologue == NULL && prologue_len))
        return AM_EINVAL;
    if (sodium_init() < 0)
        return AM_ECRYPTO;
    if ((hs = am_calloc(1, sizeof *hs)) == NULL)
        return AM_ENOMEM;
    if ((rc = parse_name(protocol, &hs->pat, &hash)) != 0)
        goto fail;
    hs->initiator = role == AM_NOISE_INITIATOR;
    if ((rc = am_ss_init(&hs->ss, hash, protocol)) != 0 ||
        (rc = am_ss_mix_hash(&hs->ss, prologue, prologue_len)) != 0)
        goto fail;
    *out = hs;
    return 0;
fail:
    am_noise_hs_free(hs);
    return rc;
}

static int derive_pub(const uint8_t *sk, uint8_t *pk)
{
    return crypto_scalarmult_curve25519_base(pk, sk) == 0 ? 0 : AM_EKEY;
}

int am_noise_hs_set_local_static(am_noise_hs_t *hs,
                                 const uint8_t sk[static AM_NOISE_DHLEN])
{
    if (hs == NULL)
        return AM_EINVAL;
    if (hs->started || hs->failed)
        return AM_ESTATE;
    if (derive_pub(sk, hs->s_pk) != 0)
        return AM_EKEY;
    memcpy(hs->s_sk, sk, AM_NOISE_DHLEN);
    hs->has_s = true;
    return 0;
}

int am_noise_hs_set_local_keypair(am_noise_hs_t *hs,
                                  const uint8_t sk[static AM_NOISE_DHLEN],
                                  const uint8_t pk[static AM_NOISE_DHLEN])
{
    if (hs == NULL)
        return AM_EINVAL;
    if (hs->started || hs->failed)
        return AM_ESTATE;
    memcpy(hs->s_pk, pk, AM_NOISE_DHLEN);
    memcpy(hs->s_sk, sk, AM_NOISE_DHLEN);
    hs->has_s = true;
    return 0;
}

int am_noise_hs_set_remote_static(am_noise_hs_t *hs,
                                  const uint8_t pk[static AM_NOISE_DHLEN])
{
    if (hs == NULL)
        return AM_EINVAL;
    if (hs->started || hs->failed)
        return AM_ESTATE;
    memcpy(hs->rs, pk, AM_NOISE_DHLEN);
    hs->has_rs = true;
    return 0;
}

int am_noise_hs_add_psk(am_noise_hs_t *hs,
                        const uint8_t psk[static AM_NOISE_KEYLEN])
{
    if (hs == NULL)
        return AM_EINVAL;
    if (hs->started || hs->failed)
        return AM_ESTATE;
    if (hs->n_psk >= AM_NOISE_MAX_PSKS)
        return AM_ELIMIT;
    memcpy(hs->psk[hs->n_psk++], psk, AM_NOISE_KEYLEN);
    return 0;
}

int am_noise_hs_set_fixed_ephemeral(am_noise_hs_t *hs,
                                    const uint8_t sk[static AM_NOISE_DHLEN])
{
    if (hs == NULL)
        return AM_EINVAL;
    if (hs->started || hs->failed)
        return AM_ESTATE;
    if (derive_pub(sk, hs->e_pk) != 0)
        return AM_EKEY;
    memcpy(hs->e_sk, sk, AM_NOISE_DHLEN);
    hs->has_e = true;
    return 0;
}

static bool has_token(const uint8_t *toks, uint8_t n, uint8_t tok)
{
    for (uint8_t i = 0; i < n; i++)
        if (toks[i] == tok)
            return true;
    return false;
}

static bool is_mine(const am_noise_hs_t *hs, unsigned msg)
{
    bool from_initiator = hs->pat.one_way || msg % 2 == 0;
    return from_initiator == hs->initiator;
}

/* Does this side ever send its static key or need it before the first
 * message?  Then it must have been set. */
static bool needs_local_static(const am_noise_hs_t *hs)
{
    const am_noise_pattern_t *p = &hs->pat;

    if (has_token(hs->initiator ? p->pre_i : p->pre_r,
                  hs->initiator ? p->n_pre_i : p->n_pre_r, AM_TOK_S))
        return true;
    for (unsigned i = 0; i < p->n_msgs; i++)
        if (is_mine(hs, i) && has_token(p->tok[i], p->n_tok[i], AM_TOK_S))
            return true;
    return false;
}

static int check_keys(const am_noise_hs_t *hs)
{
    const am_noise_pattern_t *p = &hs->pat;
    bool peer_pre_s = has_token(hs->initiator ? p->pre_r : p->pre_i,
                                hs->initiator ? p->n_pre_r : p->n_pre_i,
                                AM_TOK_S);

    if (needs_local_static(hs) && !hs->has_s)
        return AM_EKEY;
    /* A remote static the pattern transmits must not be pre-set: the
     * caller would believe it pinned a key the handshake then replaces. */
    if (peer_pre_s != hs->has_rs)
        return AM_EKEY;
    if (hs->n_psk != p->n_psk)
        return AM_EKEY;
    return 0;
}

int am_noise_hs_start(am_noise_hs_t *hs)
{
    const am_noise_pattern_t *p;
    int rc;

    if (hs == NULL)
        return AM_EINVAL;
    if (hs->started || hs->failed)
        return AM_ESTATE;
    p = &hs->pat;
    if ((rc = check_keys(hs)) != 0)
        return rc;
    hs->started = true;
    /* Pre-messages (spec 7.1): the initiator's keys first.  Our table only
     * has 's' in pre-messages. */
    if (p->n_pre_i > 0 &&
        (rc = am_ss_mix_hash(&hs->ss, hs->initiator ? hs->s_pk : hs->rs,
                             AM_NOISE_DHLEN)) != 0)
        return hs_fail(hs, rc);
    if (p->n_pre_r > 0 &&
        (rc = am_ss_mix_hash(&hs->ss, hs->initiator ? hs->rs : hs->s_pk,
                             AM_NOISE_DHLEN)) != 0)
        return hs_fail(hs, rc);
    return 0;
}

am_noise_action_t am_noise_hs_action(const am_noise_hs_t *hs)
{
    if (hs == NULL || hs->failed)
        return AM_NOISE_ACTION_FAILED;
    if (hs->split_done)
        return AM_NOISE_ACTION_DONE;
    if (!hs->started)
        return AM_NOISE_ACTION_FAILED;
    if (hs->msg_i >= hs->pat.n_msgs)
        return AM_NOISE_ACTION_SPLIT;
    return is_mine(hs, hs->msg_i) ? AM_NOISE_ACTION_WRITE
                                  : AM_NOISE_ACTION_READ;
}

/* Length of the token part of the current message, and whether a key is
 * set once the tokens are processed (the payload then carries a tag). */
static size_t plan_tokens(const am_noise_hs_t *hs, bool *key_after)
{
    const uint8_t *toks = hs->pat.tok[hs->msg_i];
    bool key = hs->ss.cs.has_key;
    size_t len = 0;

    for (uint8_t i = 0; i < hs->pat.n_tok[hs->msg_i]; i++) {
        switch (toks[i]) {
        case AM_TOK_E:
            len += AM_NOISE_DHLEN;
            key = key || hs->pat.psk_mode;
            break;
        case AM_TOK_S:
            len += AM_NOISE_DHLEN + (key ? AM_NOISE_TAGLEN : 0);
            break;
        default:
            key = true;
            break;
        }
    }
    *key_after = key;
    return len;
}

static int dh(const uint8_t *sk, bool has_sk, const uint8_t *pk, bool has_pk,
              uint8_t out[static AM_NOISE_DHLEN])
{
    if (!has_sk || !has_pk)
        return AM_EKEY;
    /* libsodium refuses an all-zero result (a low-order peer point). */
    if (crypto_scalarmult_curve25519(out, sk, pk) != 0)
        return am_errf(AM_EKEY, "peer public key is a low-order point");
    return 0;
}

/* ee, es, se, ss, psk: the tokens that mix a secret into the key. */
static int mix_secret_token(am_noise_hs_t *hs, uint8_t tok)
{
    uint8_t shared[AM_NOISE_DHLEN];
    bool ini = hs->initiator;
    int rc;

    switch (tok) {
    case AM_TOK_EE:
        rc = dh(hs->e_sk, hs->has_e, hs->re, hs->has_re, shared);
        break;
    case AM_TOK_ES:
        rc = ini ? dh(hs->e_sk, hs->has_e, hs->rs, hs->has_rs, shared)
                 : dh(hs->s_sk, hs->has_s, hs->re, hs->has_re, shared);
        break;
    case AM_TOK_SE:
        rc = ini ? dh(hs->s_sk, hs->has_s, hs->re, hs->has_re, shared)
                 : dh(hs->e_sk, hs->has_e, hs->rs, hs->has_rs, shared);
        break;
    case AM_TOK_SS:
        rc = dh(hs->s_sk, hs->has_s, hs->rs, hs->has_rs, shared);
        break;
    case AM_TOK_PSK:
        if (hs->psk_used >= hs->n_psk)
            return AM_EKEY;
        return am_ss_mix_key_and_hash(&hs->ss, hs->psk[hs->psk_used++],
                                      AM_NOISE_KEYLEN);
    default:
        return AM_EINVAL;
    }
    if (rc == 0)
        rc = am_ss_mix_key(&hs->ss, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return rc;
}

static int write_e(am_noise_hs_t *hs, uint8_t **p)
{
    int rc;

    if (!hs->has_e) {
        randombytes_buf(hs->e_sk, sizeof hs->e_sk);
        if (derive_pub(hs->e_sk, hs->e_pk) != 0)
            return AM_EKEY;
        hs->has_e = true;
    }
    memcpy(*p, hs->e_pk, AM_NOISE_DHLEN);
    *p += AM_NOISE_DHLEN;
    if ((rc = am_ss_mix_hash(&hs->ss, hs->e_pk, AM_NOISE_DHLEN)) != 0)
        return rc;
    return hs->pat.psk_mode ? am_ss_mix_key(&hs->ss, hs->e_pk, AM_NOISE_DHLEN)
                            : 0;
}

static int write_tokens(am_noise_hs_t *hs, uint8_t **p)
{
    const uint8_t *toks = hs->pat.tok[hs->msg_i];
    int rc = 0;

    for (uint8_t i = 0; i < hs->pat.n_tok[hs->msg_i] && rc == 0; i++) {
        if (toks[i] == AM_TOK_E) {
            rc = write_e(hs, p);
        } else if (toks[i] == AM_TOK_S) {
            bool tag = hs->ss.cs.has_key;
            rc = am_ss_encrypt_and_hash(&hs->ss, hs->s_pk, AM_NOISE_DHLEN, *p);
            *p += AM_NOISE_DHLEN + (tag ? AM_NOISE_TAGLEN : 0);
        } else {
            rc = mix_secret_token(hs, toks[i]);
        }
    }
    return rc;
}

int am_noise_hs_write(am_noise_hs_t *hs, const uint8_t *payload,
                      size_t payload_len, uint8_t *out, size_t out_cap,
                      size_t *out_len)
{
    size_t total;
    uint8_t *p = out;
    bool key;
    int rc;

    if (hs == NULL || out == NULL || out_len == NULL ||
        (payload == NULL && payload_len > 0))
        return AM_EINVAL;
    if (am_noise_hs_action(hs) != AM_NOISE_ACTION_WRITE)
        return AM_ESTATE;
    if (payload_len > AM_NOISE_MSG_MAX)
        return AM_ETOOBIG;
    total = plan_tokens(hs, &key) + payload_len + (key ? AM_NOISE_TAGLEN : 0);
    if (total > AM_NOISE_MSG_MAX)
        return AM_ETOOBIG;
    if (total > out_cap)
        return AM_ESHORT;
    if ((rc = write_tokens(hs, &p)) != 0 ||
        (rc = am_ss_encrypt_and_hash(&hs->ss, payload, payload_len, p)) != 0)
        return hs_fail(hs, rc);
    hs->msg_i++;
    *out_len = total;
    return 0;
}

static int read_tokens(am_noise_hs_t *hs, const uint8_t **p)
{
    const uint8_t *toks = hs->pat.tok[hs->msg_i];
    int rc = 0;

    for (uint8_t i = 0; i < hs->pat.n_tok[hs->msg_i] && rc == 0; i++) {
        if (toks[i] == AM_TOK_E) {
            memcpy(hs->re, *p, AM_NOISE_DHLEN);
            hs->has_re = true;
            *p += AM_NOISE_DHLEN;
            rc = am_ss_mix_hash(&hs->ss, hs->re, AM_NOISE_DHLEN);
            if (rc == 0 && hs->pat.psk_mode)
                rc = am_ss_mix_key(&hs->ss, hs->re, AM_NOISE_DHLEN);
        } else if (toks[i] == AM_TOK_S) {
            size_t n = AM_NOISE_DHLEN +
                       (hs->ss.cs.has_key ? AM_NOISE_TAGLEN : 0);
            rc = am_ss_decrypt_and_hash(&hs->ss, *p, n, hs->rs);
            hs->has_rs = rc == 0;
            *p += n;
        } else {
            rc = mix_secret_token(hs, toks[i]);
        }
    }
    return rc;
}

/* Name the message in what the failing step recorded. */
static int read_failed(const am_noise_hs_t *hs, int rc)
{
    return am_err_wrap(rc, "handshake message %u", hs->msg_i + 1);
}

int am_noise_hs_read(am_noise_hs_t *hs, const uint8_t *msg, size_t msg_len,
                     uint8_t *payload, size_t payload_cap,
                     size_t *payload_len)
{
    uint8_t scratch[1];
    const uint8_t *p = msg;
    size_t fixed, body;
    bool key;
    int rc;

    if (hs == NULL || msg == NULL || payload_len == NULL ||
        (payload == NULL && payload_cap > 0))
        return AM_EINVAL;
    if (am_noise_hs_action(hs) != AM_NOISE_ACTION_READ)
        return AM_ESTATE;
    /* Bound every length before touching the bytes. */
    if (msg_len > AM_NOISE_MSG_MAX)
        return hs_fail(hs, am_errf(AM_ETOOBIG, "handshake message %u of %zu "
                                   "bytes over 65535", hs->msg_i + 1,
                                   msg_len));
    fixed = plan_tokens(hs, &key) + (key ? AM_NOISE_TAGLEN : 0);
    if (msg_len < fixed)
        return hs_fail(hs, am_errf(AM_EPROTO, "handshake message %u of %zu "
                                   "bytes, at least %zu expected",
                                   hs->msg_i + 1, msg_len, fixed));
    body = msg_len - fixed;
    if (body > payload_cap)
        return AM_ESHORT;
    am_err_clear();
    if ((rc = read_tokens(hs, &p)) != 0 ||
        (rc = am_ss_decrypt_and_hash(&hs->ss, p, (size_t)(msg + msg_len - p),
                                     payload ? payload : scratch)) != 0)
        return hs_fail(hs, read_failed(hs, rc));
    hs->msg_i++;
    *payload_len = body;
    return 0;
}

int am_noise_hs_split(am_noise_hs_t *hs, am_noise_cs_t **send,
                      am_noise_cs_t **recv)
{
    struct am_noise_cs *c1 = NULL, *c2 = NULL;
    int rc = AM_ENOMEM;

    if (hs == NULL || send == NULL || recv == NULL)
        return AM_EINVAL;
    if (am_noise_hs_action(hs) != AM_NOISE_ACTION_SPLIT)
        return AM_ESTATE;
    if ((c1 = am_calloc(1, sizeof *c1)) == NULL ||
        (c2 = am_calloc(1, sizeof *c2)) == NULL)
        goto fail;
    if ((rc = am_ss_split(&hs->ss, c1, c2)) != 0)
        goto fail;
    hs_wipe_secrets(hs);
    hs->split_done = true;
    if (hs->pat.one_way) {
        /* Only initiator -> responder exists; c2 is discarded. */
        am_noise_cs_free(c2);
        *send = hs->initiator ? c1 : NULL;
        *recv = hs->initiator ? NULL : c1;
    } else {
        *send = hs->initiator ? c1 : c2;
        *recv = hs->initiator ? c2 : c1;
    }
    return 0;
fail:
    am_noise_cs_free(c1);
    am_noise_cs_free(c2);
    return hs_fail(hs, rc);
}

int am_noise_hs_hash(const am_noise_hs_t *hs, uint8_t out[static 64],
                     size_t *len)
{
    if (hs == NULL || len == NULL)
        return AM_EINVAL;
    if (!hs->split_done)
        return AM_ESTATE;
    memcpy(out, hs->ss.h, hs->ss.hash_len);
    *len = hs->ss.hash_len;
    return 0;
}

int am_noise_hs_remote_static(const am_noise_hs_t *hs,
                              uint8_t pk[static AM_NOISE_DHLEN])
{
    if (hs == NULL)
        return AM_EINVAL;
    if (!hs->has_rs || hs->failed)
        return AM_EKEY;
    memcpy(pk, hs->rs, AM_NOISE_DHLEN);
    return 0;
}

void am_noise_hs_free(am_noise_hs_t *hs)
{
    if (hs == NULL)
        return;
    sodium_memzero(hs, sizeof *hs);
    am_free(hs);
}
