// A session with an Amanat relay from docs/PROTOCOL.md sections 2 to 5, 13
// and 14 only: TCP, the Noise XX handshake (noise-handshake, with X25519
// from @noble/curves), transport messages (ChaCha20-Poly1305 from
// @noble/ciphers, keys from noise-handshake's Split), application frames
// (protobuf-es), Hello and AuthResult.
import net from 'node:net'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import Noise from 'noise-handshake'
import { x25519 } from '@noble/curves/ed25519.js'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { FrameSchema, HandshakePayloadSchema } from '../gen/wire_pb.js'
import nobleCurve from './noise_curve.cjs'
import { fail, ProtocolError, verifySignedCert, acceptCrl, sameBytes, concat, ROLE } from './identity.mjs'

const PROLOGUE = Buffer.from('amanat/1')
const HANDSHAKE_MAX = 4096
const FRAME_DEFAULT = 1 << 20
const PLAIN_MAX = 65535 - 16
const NONCE_MAX = 2n ** 64n - 1n

// Section 3: 4 zero bytes, then the 64-bit counter little-endian.
function nonce12 (n) {
  const b = new Uint8Array(12)
  new DataView(b.buffer).setBigUint64(4, n, true)
  return b
}

class CipherState {
  constructor (key) { this.key = new Uint8Array(key); this.n = 0n }
  seal (pt) { return chacha20poly1305(this.key, this.next()).encrypt(pt) }
  open (ct) { return chacha20poly1305(this.key, this.next()).decrypt(ct) }
  next () {
    if (this.n >= NONCE_MAX) fail('nonce space exhausted')
    return nonce12(this.n++)
  }
}

export class Session {
  // me: { cert (verified own certificate), keys: { seed, dhSk } }; root from readRoot.
  constructor (me, root, log) {
    this.me = me; this.root = root; this.log = log
    this.raw = Buffer.alloc(0) // bytes from TCP not yet a whole Noise message
    this.stream = Buffer.alloc(0) // transport plaintexts not yet a whole frame
    this.frames = []; this.waiting = null; this.closed = null
    this.maxFrame = FRAME_DEFAULT
  }

  static async open (host, port, me, root, log) {
    const s = new Session(me, root, log)
    await s.connect(host, port)
    await s.handshake()
    return s
  }

  connect (host, port) {
    return new Promise((resolve, reject) => {
      this.sock = net.connect({ host, port }, resolve)
      this.sock.once('error', reject)
      this.sock.on('data', (d) => this.onData(d))
      this.sock.on('close', () => this.end(new ProtocolError('the relay closed the connection')))
      this.sock.on('error', (e) => this.end(e))
    })
  }

  end (err) {
    if (!this.closed) this.closed = err
    if (this.waiting) { this.waiting.reject(this.closed); this.waiting = null }
  }

  // A whole Noise message [u16 BE length][bytes] from the buffer, or null.
  takeMessage (limit) {
    if (this.raw.length < 2) return null
    const len = this.raw.readUInt16BE(0)
    if (len > limit) fail(`message of ${len} bytes over ${limit}`)
    if (this.raw.length < 2 + len) return null
    const m = this.raw.subarray(2, 2 + len)
    this.raw = this.raw.subarray(2 + len)
    return new Uint8Array(m)
  }

  sendMessage (m) {
    const len = Buffer.alloc(2)
    len.writeUInt16BE(m.length)
    this.sock.write(Buffer.concat([len, Buffer.from(m)]))
  }

  onData (d) {
    this.raw = Buffer.concat([this.raw, d])
    try {
      if (!this.rx) return this.wake()
      let m
      while ((m = this.takeMessage(65535)) !== null) {
        if (m.length < 16) fail('transport message under 16 bytes')
        this.stream = Buffer.concat([this.stream, this.rx.open(m)]) // throws on a bad tag
        this.takeFrames()
      }
    } catch (e) {
      this.sock.destroy()
      this.end(e instanceof ProtocolError ? e : new ProtocolError(`transport: ${e.message}`))
    }
  }

  takeFrames () {
    while (this.stream.length >= 4) {
      const n = this.stream.readUInt32BE(0)
      if (n < 1 || n > FRAME_DEFAULT) fail(`frame of ${n} bytes`)
      if (this.stream.length < 4 + n) return
      const f = fromBinary(FrameSchema, new Uint8Array(this.stream.subarray(4, 4 + n)))
      this.stream = this.stream.subarray(4 + n)
      this.frames.push(f)
      this.wake()
    }
  }

  wake () { if (this.waiting) { const w = this.waiting; this.waiting = null; w.resolve() } }

  until (ms) {
    if (this.closed) return Promise.reject(this.closed)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiting = null; resolve('timeout') }, ms)
      this.waiting = { resolve: () => { clearTimeout(t); resolve() }, reject: (e) => { clearTimeout(t); reject(e) } }
    })
  }

  async handshakeMessage () {
    for (;;) {
      const m = this.takeMessage(HANDSHAKE_MAX)
      if (m) return m
      if (await this.until(10000) === 'timeout') fail('handshake timed out')
    }
  }

  // Section 4: -> e; <- e, ee, s, es (relay certificate); -> s, se (ours).
  async handshake () {
    const curve = nobleCurve(x25519)
    const n = new Noise('XX', true, curve.generateKeyPair(Buffer.from(this.me.keys.dhSk)), { curve })
    n.initialise(PROLOGUE)
    this.sendMessage(n.send())
    const payload = fromBinary(HandshakePayloadSchema, n.recv(Buffer.from(await this.handshakeMessage())))
    if (!payload.certificate) fail('relay sent no certificate')
    if (payload.protocolVersion !== 1) fail(`relay speaks protocol ${payload.protocolVersion}`)
    if (Buffer.byteLength(payload.software) > 64) fail('relay software string over 64 bytes')
    const relay = verifySignedCert(this.root, payload.certificate, ROLE.RELAY)
    this.log(`relay certificate of ${relay.agencyId}: signed by the root, valid now, role relay`)
    if (!sameBytes(relay.dhPk, n.rs)) fail('relay certificate key is not its Noise static key')
    this.log('relay certificate key equals the Noise static key the handshake authenticated')
    if (relay.agencyId !== this.me.cert.homeRelay) fail(`relay ${relay.agencyId} is not our home relay ${this.me.cert.homeRelay}`)
    this.log(`relay ${relay.agencyId} is the home relay our certificate names`)
    this.sendMessage(n.send(Buffer.from(toBinary(HandshakePayloadSchema, create(HandshakePayloadSchema, {
      protocolVersion: 1, certificate: this.me.cert.signed, software: 'amanat-js-interop'
    })))))
    if (!n.complete) fail('handshake not complete after message 3')
    this.tx = new CipherState(n.tx); this.rx = new CipherState(n.rx) // tx sends
    this.hash = new Uint8Array(n.hash)
    this.relay = relay
    if (this.raw.length) this.onData(Buffer.alloc(0))
  }

  send (op, value) {
    const body = toBinary(FrameSchema, create(FrameSchema, { op: { case: op, value } }))
    if (body.length > this.maxFrame) fail(`frame of ${body.length} bytes over the relay's limit`)
    const len = Buffer.alloc(4)
    len.writeUInt32BE(body.length)
    const stream = concat(len, body)
    for (let off = 0; off < stream.length; off += PLAIN_MAX) {
      this.sendMessage(this.tx.seal(stream.subarray(off, off + PLAIN_MAX)))
    }
  }

  // The next frame, or null after `ms` of silence.  Error frames throw
  // when fatal; a non-fatal one is returned like any frame.
  async next (ms) {
    while (this.frames.length === 0) {
      if (await this.until(ms) === 'timeout') return null
    }
    const f = this.frames.shift()
    if (f.op.case === 'error' && f.op.value.fatal) fail(`relay refused: code ${f.op.value.code}: ${f.op.value.message}`)
    if (f.op.case === 'ping') this.send('pong', { nonce: f.op.value.nonce })
    return f
  }

  // Section 5.3: Hello, then AuthResult (with a newer revocation list).
  async hello (receive) {
    this.send('hello', { protocolVersion: 1, maxFrame: 0, receive, crlSequence: this.root.crl?.sequence ?? 0n })
    const f = await this.next(10000)
    if (!f || f.op.case !== 'authResult' || !f.op.value.ok) fail(`no AuthResult (got ${f?.op.case})`)
    const a = f.op.value
    if (a.peerId !== this.me.cert.agencyId) fail(`relay authenticated us as ${a.peerId}`)
    if (a.maxFrame !== 0 && (a.maxFrame < 65536 || a.maxFrame > 16 << 20)) fail(`relay frame limit ${a.maxFrame}`)
    this.maxFrame = a.maxFrame || FRAME_DEFAULT
    if (a.crl) {
      const b = acceptCrl(this.root, a.crl)
      this.log(`revocation list ${b.sequence} from AuthResult: signed by the root, ${b.revoked.length} revoked`)
      if (b.revoked.some((r) => r.serial === this.relay.serial)) fail('the relay certificate is revoked')
    }
    this.log(`AuthResult: authenticated as ${a.peerId}; relay clock ${a.relayTime}`)
    return a
  }

  close () { this.sock.end(); this.sock.destroy() }
}
