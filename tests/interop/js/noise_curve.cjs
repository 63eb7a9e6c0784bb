// X25519 for noise-handshake on @noble/curves: independent of libsodium,
// and an all-zero shared secret (a low-order peer key) is an error, as in
// the C relay (docs/PROTOCOL.md section 4).  noise-handshake's own
// pure-JS fallback returns zeros there silently.
'use strict'
module.exports = function nobleCurve (x25519) {
  return {
    DHLEN: 32,
    PKLEN: 32,
    SKLEN: 32,
    ALG: '25519',
    generateKeyPair (secretKey) {
      const sk = secretKey ? Buffer.from(secretKey) : Buffer.from(x25519.utils.randomSecretKey())
      return { secretKey: sk, publicKey: Buffer.from(x25519.getPublicKey(sk)) }
    },
    dh (publicKey, { secretKey }) {
      // getSharedSecret throws on the all-zero result
      return Buffer.from(x25519.getSharedSecret(secretKey, publicKey))
    }
  }
}
