// Keys, signatures, certificates, revocation lists, prekeys and relay
// evidence, written from docs/PROTOCOL.md sections 6 to 9, 12 and 13 only,
// on @noble/curves and @noble/hashes (no libsodium) and protobuf-es code
// generated from proto/*.proto.  Every function throws a ProtocolError
// naming what failed; nothing here does I/O but readKeyFile.
import { readFileSync } from 'node:fs'
import { fromBinary, toBinary } from '@bufbuild/protobuf'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { blake2b } from '@noble/hashes/blake2.js'
import {
  AgencyCertificateSchema, SignedCertificateSchema,
  RevocationListBodySchema, PrekeyBodySchema, SignedPrekeySchema
} from '../gen/identity_pb.js'
import { EvidenceBodySchema } from '../gen/wire_pb.js'

export class ProtocolError extends Error {}
export const fail = (msg) => { throw new ProtocolError(msg) }

// Numbers from the tables of PROTOCOL.md (sections 7, 10, 11, 13, 15.2).
export const ROLE = { AGENCY: 1, RELAY: 2, ROOT: 3 }
export const PRIORITY = { routine: 1, urgent: 2, emergency: 3 }
export const RECEIPT = { RECEIVED: 1, ACKNOWLEDGED: 2, REFUSED: 3 }
export const EVIDENCE = { 1: 'accepted', 2: 'delivered', 3: 'expired', 4: 'damaged' }

// Section 6: the domain tags.  `tags` is exported so that a test can show
// that one wrong tag is caught by the other side.
export const tags = {
  certificate: 'amanat/1 certificate',
  crl: 'amanat/1 revocation list',
  prekey: 'amanat/1 prekey',
  envelope: 'amanat/1 envelope',
  receipt: 'amanat/1 receipt',
  evidence: 'amanat/1 evidence',
  keyWrap: 'amanat/1 key wrap'
}

const enc = new TextEncoder()
const SIGNED_MAX = 1 << 20 // section 6: bodies over 1 MiB are never signed

export const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) { out.set(p, off); off += p.length }
  return out
}
export const hex = (b) => Buffer.from(b).toString('hex')
export const sameBytes = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0
export const blake2b256 = (...parts) => blake2b(concat(...parts), { dkLen: 32 })
export const now = () => BigInt(Math.floor(Date.now() / 1000))

// TAG || 0x00 || body
const tagged = (tag, body) => concat(enc.encode(tag), new Uint8Array([0]), body)

export function sign (seed, tag, body) {
  if (body.length > SIGNED_MAX) fail(`${tag}: body over 1 MiB`)
  return ed25519.sign(tagged(tag, body), seed)
}

export function verify (pk, tag, body, sig) {
  if (sig.length !== 64 || pk.length !== 32 || body.length > SIGNED_MAX) return false
  try {
    return ed25519.verify(sig, tagged(tag, body), pk, { zip215: false })
  } catch {
    return false
  }
}

// Section 12: "AMANAT-KEY <base64>" after optional "#" comment lines.
const KIND = { rootSecret: 1, agencySecret: 2, rootPublic: 3, agencyPublic: 4, prekeySecret: 5 }
const KEY_LEN = { 1: 32, 2: 64, 3: 32, 4: 64, 5: 32 }

export function readKeyFile (path, wantKind) {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => !l.startsWith('#'))
  const first = lines.findIndex((l) => l.trim() !== '')
  if (first < 0 || !lines[first].startsWith('AMANAT-KEY ')) fail(`${path}: no AMANAT-KEY line`)
  if (lines.slice(first + 1).some((l) => l.trim() !== '')) fail(`${path}: text after the key line`)
  const b64 = lines[first].slice('AMANAT-KEY '.length).trim()
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) fail(`${path}: not base64`)
  const bin = new Uint8Array(Buffer.from(b64, 'base64'))
  if (bin.length < 7 || Buffer.from(bin.subarray(0, 4)).toString('latin1') !== 'AMK1') fail(`${path}: not an AMK1 key`)
  const kind = bin[4]; const sealed = bin[5]; const ownerLen = bin[6]
  if (kind !== KIND[wantKind]) fail(`${path}: key kind ${kind}, expected ${KIND[wantKind]} (${wantKind})`)
  if (ownerLen < 1 || ownerLen > 64 || bin.length < 7 + ownerLen) fail(`${path}: bad owner length`)
  const owner = Buffer.from(bin.subarray(7, 7 + ownerLen)).toString('latin1')
  if (sealed !== 0) fail(`${path}: sealed with a passphrase (Argon2id); this client reads only unsealed keys (amanat keygen --no-passphrase)`)
  const key = bin.subarray(7 + ownerLen)
  if (key.length !== KEY_LEN[kind]) fail(`${path}: key of ${key.length} bytes, expected ${KEY_LEN[kind]}`)
  return { owner, key: new Uint8Array(key) }
}

// The federation root: its Ed25519 public key and key id (section 6).
export function readRoot (path) {
  const { owner, key } = readKeyFile(path, 'rootPublic')
  if (owner !== 'root') fail(`${path}: owner ${owner}, expected root`)
  return { pk: key, keyId: blake2b256(key), crl: null }
}

const ID_RE = /^[A-Z]{2}-[A-Z0-9]{2,16}$/
export const isAgencyId = (s) => typeof s === 'string' && ID_RE.test(s)

// Section 7: verification in the document's order.  `root.crl` is the
// newest revocation list held (a parsed body), or null.
export function verifyCert (root, bytes, role, when = now()) {
  if (bytes.length > 4096) fail('certificate over 4096 bytes')
  return verifySignedCert(root, fromBinary(SignedCertificateSchema, bytes), role, when)
}

// The same, for a SignedCertificate parsed as part of a larger message.
export function verifySignedCert (root, sc, role, when = now()) {
  if (toBinary(SignedCertificateSchema, sc).length > 4096) fail('certificate over 4096 bytes')
  if (!verify(root.pk, tags.certificate, sc.body, sc.signature)) fail('certificate not signed by this federation\'s root')
  const c = fromBinary(AgencyCertificateSchema, sc.body)
  if (c.version !== 1) fail(`certificate version ${c.version}`)
  if (c.signPk.length !== 32 || c.dhPk.length !== 32) fail('certificate key lengths')
  if (!isAgencyId(c.agencyId) || c.country !== c.agencyId.slice(0, 2)) fail(`certificate id ${c.agencyId}`)
  if (c.roles.length === 0 || c.serial === 0n || c.notBefore >= c.notAfter) fail('certificate fields')
  if (!sameBytes(c.issuerKeyId, root.keyId)) fail('certificate issuer key id is not the root\'s')
  if (when < c.notBefore || when > c.notAfter) fail(`certificate of ${c.agencyId} outside its validity`)
  if (!c.roles.includes(role)) fail(`certificate of ${c.agencyId} lacks role ${role}`)
  if (root.crl && root.crl.revoked.some((r) => r.serial === c.serial)) fail(`certificate of ${c.agencyId} (serial ${c.serial}) is revoked`)
  return { ...c, signed: sc }
}

// Section 8: a newer list replaces the one held; an older one is refused.
export function acceptCrl (root, list) {
  if (!verify(root.pk, tags.crl, list.body, list.signature)) fail('revocation list not signed by the root')
  const b = fromBinary(RevocationListBodySchema, list.body)
  if (b.version !== 1 || !sameBytes(b.issuerKeyId, root.keyId) || b.sequence < 1n) fail('revocation list body')
  if (root.crl && b.sequence < root.crl.sequence) fail(`revocation list ${b.sequence} older than ${root.crl.sequence}`)
  root.crl = b
  return b
}

// Section 9: a prekey of `cert`'s agency, valid now.
export function verifyPrekey (cert, sp) {
  if (toBinary(SignedPrekeySchema, sp).length > 512) fail('prekey over 512 bytes')
  if (!verify(cert.signPk, tags.prekey, sp.body, sp.signature)) fail(`prekey signature of ${cert.agencyId}`)
  const p = fromBinary(PrekeyBodySchema, sp.body)
  if (p.version !== 1 || p.agencyId !== cert.agencyId || p.prekeyId === 0 || p.dhPk.length !== 32) fail('prekey body')
  if (p.notAfter <= p.createdAt || now() > p.notAfter) fail(`prekey ${p.prekeyId} of ${cert.agencyId} expired`)
  return p
}

// Section 13, Evidence: signed by the relay its relay_id names (here: the
// relay whose certificate `relay` is), over this envelope.
export function verifyEvidence (relay, ev, messageId, envelopeHash) {
  if (!verify(relay.signPk, tags.evidence, ev.body, ev.signature)) fail(`evidence not signed by ${relay.agencyId}`)
  const b = fromBinary(EvidenceBodySchema, ev.body)
  if (b.version !== 1 || !EVIDENCE[b.kind]) fail('evidence body')
  if (b.relayId !== relay.agencyId) fail(`evidence names relay ${b.relayId}`)
  if (!sameBytes(b.messageId, messageId)) fail('evidence for another message')
  if (envelopeHash && !sameBytes(b.envelopeHash, envelopeHash)) fail('evidence for other envelope bytes')
  if ((b.kind === 1) !== (b.recipientId === '')) fail('evidence recipient')
  return b
}

// An agency's own keys from an unsealed agency secret key file: Ed25519
// seed || X25519 secret, checked against its certificate.
export function agencyKeys (keyPath, cert) {
  const { owner, key } = readKeyFile(keyPath, 'agencySecret')
  const seed = key.subarray(0, 32); const dhSk = key.subarray(32)
  if (owner !== cert.agencyId) fail(`${keyPath} belongs to ${owner}, the certificate to ${cert.agencyId}`)
  if (!sameBytes(ed25519.getPublicKey(seed), cert.signPk)) fail(`${keyPath}: Ed25519 key is not the certificate's`)
  if (!sameBytes(x25519.getPublicKey(dhSk), cert.dhPk)) fail(`${keyPath}: X25519 key is not the certificate's`)
  return { seed, dhSk }
}
