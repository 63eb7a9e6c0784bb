// Envelopes and receipts from docs/PROTOCOL.md sections 10 and 11 only:
// sealing to recipients' prekeys (or certificate keys), verifying and
// opening, and signed receipts.  @noble for the cryptography.
import { randomBytes } from 'node:crypto'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { x25519 } from '@noble/curves/ed25519.js'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import {
  EnvelopeSchema, EnvelopeHeaderSchema, KeyWrapSchema, ReceiptSchema, SignedReceiptSchema
} from '../gen/envelope_pb.js'
import {
  tags, fail, sign, verify, concat, blake2b256, sameBytes, isAgencyId, now, RECEIPT
} from './identity.mjs'

const enc = new TextEncoder()
const u32be = (n) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
const random = (n) => new Uint8Array(randomBytes(n))
const HEADER_MAX = 16384
const ENVELOPE_MAX = 16 << 20

// WK = BLAKE2b-256("amanat/1 key wrap" || 0x00 || S || E || Rpk || message_id)
const wrapKey = (S, E, Rpk, messageId) =>
  blake2b256(enc.encode(tags.keyWrap), new Uint8Array([0]), S, E, Rpk, messageId)

// What is signed: u32be(len(H)) || H || BLAKE2b-256(C), under the envelope tag.
const signedPart = (H, C) => concat(u32be(H.length), H, blake2b256(C))

// recipients: [{ id, pk (X25519), prekeyId (0: the certificate's dh_pk) }]
export function seal ({ sender, seed, serial, recipients, priority, ttl, content }) {
  const messageId = random(16); const nonce = random(24); const CK = random(32)
  const wraps = recipients.map((r) => {
    const e = random(32)
    const E = x25519.getPublicKey(e)
    const S = x25519.getSharedSecret(e, r.pk) // throws on an all-zero result
    const WK = wrapKey(S, E, r.pk, messageId)
    const wrapped = xchacha20poly1305(WK, new Uint8Array(24), enc.encode(r.id)).encrypt(CK)
    e.fill(0); S.fill(0); WK.fill(0)
    return create(KeyWrapSchema, { recipientId: r.id, prekeyId: r.prekeyId, ephemeralPk: E, wrappedKey: wrapped })
  })
  const created = now()
  const H = toBinary(EnvelopeHeaderSchema, create(EnvelopeHeaderSchema, {
    version: 1,
    messageId,
    senderId: sender,
    recipientIds: recipients.map((r) => r.id),
    createdAt: created,
    expiresAt: created + BigInt(ttl),
    priority,
    wraps,
    nonce,
    senderSerial: serial
  }))
  const C = xchacha20poly1305(CK, nonce, H).encrypt(content)
  CK.fill(0)
  const signature = sign(seed, tags.envelope, signedPart(H, C))
  const bytes = toBinary(EnvelopeSchema, create(EnvelopeSchema, { header: H, ciphertext: C, signature }))
  return { bytes, messageId, hash: blake2b256(bytes) }
}

// Opening steps 1 and 2: parse and check the header's syntax.
export function parseEnvelope (bytes) {
  if (bytes.length > ENVELOPE_MAX) fail('envelope over 16 MiB')
  const env = fromBinary(EnvelopeSchema, bytes)
  if (env.signature.length !== 64 || env.header.length > HEADER_MAX) fail('envelope signature or header size')
  const h = fromBinary(EnvelopeHeaderSchema, env.header)
  const ids = h.recipientIds
  if (h.version !== 1 || h.messageId.length !== 16 || h.nonce.length !== 24) fail('envelope header fields')
  if (!isAgencyId(h.senderId) || ids.length < 1 || ids.length > 32 || new Set(ids).size !== ids.length ||
      !ids.every(isAgencyId)) fail('envelope sender or recipients')
  if (h.expiresAt <= h.createdAt || h.priority < 1 || h.priority > 3) fail('envelope times or priority')
  if (h.wraps.length !== ids.length || h.wraps.some((w, i) => w.recipientId !== ids[i] ||
      w.ephemeralPk.length !== 32 || w.wrappedKey.length !== 48)) fail('envelope key wraps')
  return { env, h, bytes, hash: blake2b256(bytes) }
}

// Steps 3 and 4: `cert` is the sender's certificate, already verified.
export function verifyEnvelope (p, cert) {
  if (cert.agencyId !== p.h.senderId || cert.serial !== p.h.senderSerial) fail(`certificate is not ${p.h.senderId}'s serial ${p.h.senderSerial}`)
  if (!verify(cert.signPk, tags.envelope, signedPart(p.env.header, p.env.ciphertext), p.env.signature)) fail(`envelope signature of ${p.h.senderId}`)
}

// Step 5: `secretFor(prekeyId)` gives { sk, pk } or null.
export function openEnvelope (p, me, secretFor) {
  const w = p.h.wraps.find((x) => x.recipientId === me)
  if (!w) fail(`envelope is not for ${me}`)
  const key = secretFor(w.prekeyId)
  if (!key) fail(`no secret for prekey ${w.prekeyId}`)
  const S = x25519.getSharedSecret(key.sk, w.ephemeralPk)
  const WK = wrapKey(S, w.ephemeralPk, key.pk, p.h.messageId)
  let CK
  try {
    CK = xchacha20poly1305(WK, new Uint8Array(24), enc.encode(me)).decrypt(w.wrappedKey)
    return xchacha20poly1305(CK, p.h.nonce, p.env.header).decrypt(p.env.ciphertext)
  } catch {
    fail('envelope does not open (key wrap or content tag)')
  } finally {
    S.fill(0); WK.fill(0); if (CK) CK.fill(0)
  }
}

// Section 11: `me` signs that it received envelope `p` (parsed).
export function makeReceipt (seed, me, p, status = RECEIPT.RECEIVED, reason = '') {
  const body = toBinary(ReceiptSchema, create(ReceiptSchema, {
    version: 1,
    messageId: p.h.messageId,
    envelopeHash: p.hash,
    status,
    time: now(),
    reason,
    recipientId: me,
    senderId: p.h.senderId
  }))
  return create(SignedReceiptSchema, { body, signature: sign(seed, tags.receipt, body) })
}

// A receipt for our envelope `sent` (parsed), signed by `cert` (verified).
export function verifyReceipt (sr, cert, sent) {
  if (toBinary(SignedReceiptSchema, sr).length > 1024) fail('receipt over 1024 bytes')
  if (!verify(cert.signPk, tags.receipt, sr.body, sr.signature)) fail(`receipt signature of ${cert.agencyId}`)
  const r = fromBinary(ReceiptSchema, sr.body)
  if (r.version !== 1 || r.status < 1 || r.status > 3) fail('receipt body')
  if (r.recipientId !== cert.agencyId || !sent.h.recipientIds.includes(r.recipientId)) fail(`receipt signer ${r.recipientId}`)
  if (!sameBytes(r.messageId, sent.h.messageId) || !sameBytes(r.envelopeHash, sent.hash) ||
      r.senderId !== sent.h.senderId) fail('receipt names another envelope')
  return r
}
