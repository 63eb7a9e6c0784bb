// An independent Noise implementation (noise-handshake, with X25519 from
// @noble/curves) against the published vectors: every
// Noise_XX_25519_ChaChaPoly_BLAKE2b vector of each file given, played from
// both sides with the vector's keys; each handshake message's bytes, the
// handshake hash, and the transport messages.  Then what it must refuse:
// another prologue, a changed byte of message 2, a low-order ephemeral key.
// Prints one line per check and "N passed, M failed"; exit 1 on a failure.
// usage: node noise_vectors.mjs FILE...
import fs from 'node:fs'
import Noise from 'noise-handshake'
import Cipher from 'noise-handshake/cipher.js'
import { x25519 } from '@noble/curves/ed25519.js'
import nobleCurve from './noise_curve.cjs'

const PROTOCOL = 'Noise_XX_25519_ChaChaPoly_BLAKE2b'
const curve = nobleCurve(x25519)
const H = (s) => Buffer.from(s || '', 'hex')
const hex = (b) => Buffer.from(b).toString('hex')
let passed = 0
let failed = 0
const check = (ok, what) => {
  if (ok) passed++
  else failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
}

// A handshake state with the vector's keys; noise-handshake fills the
// public field e only when it is unset, which is how a vector's
// ephemeral key goes in (copies: it wipes them after the handshake).
function party (v, initiator, prologue) {
  const p = initiator ? 'init' : 'resp'
  const n = new Noise('XX', initiator, curve.generateKeyPair(H(v[p + '_static'])), { curve })
  n.e = curve.generateKeyPair(H(v[p + '_ephemeral']))
  n.initialise(prologue ?? H(v[p + '_prologue']))
  return n
}

function play (v, name) {
  const I = party(v, true)
  const R = party(v, false)
  let i = 0
  for (; i < 3; i++) {
    const [snd, rcv] = i % 2 === 0 ? [I, R] : [R, I]
    const ct = snd.send(H(v.messages[i].payload))
    check(hex(ct) === v.messages[i].ciphertext, `${name}: handshake message ${i + 1} bytes`)
    check(hex(rcv.recv(ct)) === v.messages[i].payload, `${name}: handshake message ${i + 1} payload`)
  }
  if (v.handshake_hash) {
    check(hex(I.hash) === v.handshake_hash && hex(R.hash) === v.handshake_hash,
      `${name}: handshake hash, both sides`)
  }
  // tx sends: the initiator's tx is the responder's rx
  const c = { I: [new Cipher(I.tx), new Cipher(I.rx)], R: [new Cipher(R.tx), new Cipher(R.rx)] }
  let ok = true
  for (; i < v.messages.length; i++) {
    const [enc, dec] = i % 2 === 0 ? [c.I[0], c.R[1]] : [c.R[0], c.I[1]]
    const ct = enc.encrypt(H(v.messages[i].payload))
    ok &&= hex(ct) === v.messages[i].ciphertext && hex(dec.decrypt(ct)) === v.messages[i].payload
  }
  check(ok, `${name}: ${v.messages.length - 3} transport messages`)
}

// What a correct implementation refuses, on the first vector's keys.
function refusals (v) {
  const throws = (f) => { try { f(); return false } catch { return true } }
  let I = party(v, true)
  let R = party(v, false, Buffer.from('another prologue'))
  R.recv(I.send())
  const m2 = R.send()
  check(throws(() => I.recv(m2)), 'another prologue: message 2 refused')
  I = party(v, true)
  R = party(v, false)
  R.recv(I.send())
  const bad = Buffer.from(R.send())
  bad[bad.length - 1] ^= 1
  check(throws(() => I.recv(bad)), 'a changed byte of message 2 refused')
  I = party(v, true)
  I.send()
  check(throws(() => I.recv(Buffer.concat([Buffer.alloc(32), Buffer.alloc(48)]))),
    'an all-zero (low-order) ephemeral key refused')
}

let first = null
for (const file of process.argv.slice(2)) {
  const vectors = JSON.parse(fs.readFileSync(file, 'utf8')).vectors
  vectors.forEach((v, k) => {
    if ((v.protocol_name || v.name) !== PROTOCOL || v.init_psks?.length || v.init_psk) return
    first ??= v
    const name = `${file.split('/').pop()}#${k}`
    try {
      play(v, name)
    } catch (e) {
      check(false, `${name}: ${e.message}`) // a tag that did not verify
    }
  })
}
check(first !== null, `at least one ${PROTOCOL} vector`)
if (first) refusals(first)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
