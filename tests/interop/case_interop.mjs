// The independent half of the case-message cross-check: protobuf-es
// (@bufbuild/protobuf) with code that protoc-gen-es generated from the same
// proto/*.proto files the C build compiles with protoc-c.
//
// case-interop.sh copies this file into its work folder, beside
// node_modules/ and the generated gen/, and runs one command per call:
//
//   encode JSON_IN BIN_OUT JSON_OUT  strict JSON -> binary, and the canonical
//                                    JSON of the same message (pretty, 2 spaces)
//   decode BIN_IN BIN_OUT JSON_OUT   binary -> message (no unknown fields
//                                    allowed) -> binary again, and its JSON
//   refuse JSON_IN                   the JSON must be refused (exit 0 if so)
//   same-json A B                    A and B are the same JSON value
//                                    (key order aside); says if the texts differ
//   explain A_BIN B_BIN              why two encodings differ, field by field
//   edges OUT_DIR                    messages made for the encodings' corners
//                                    (non-ASCII and escapes, doubles, 64-bit,
//                                    timestamps, open enums, bytes), to check
//                                    like the examples
//   variants EXAMPLE OUT_DIR         altered copies of an example: refuse-*.json
//                                    (both sides must refuse them) and
//                                    accept-*.json (both must read them to the
//                                    example's own message), each with JS's
//                                    verdict beside it (NAME.js.txt, NAME.js.bin)
//
// Exit status: 0 done (or refused, for refuse), 1 a check failed, 2 misuse.
// Plain JavaScript (ES modules) for Node.js 18 and later; no other
// dependency than @bufbuild/protobuf.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  equals,
  fromBinary,
  fromJsonString,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { CaseMessageSchema } from "./gen/case_pb.js";

const readOpts = { ignoreUnknownFields: false }; // strict: the default, stated
const writeOpts = { prettySpaces: 2 };

class CheckFailed extends Error {}

function fail(msg) {
  throw new CheckFailed(msg);
}

function parseJsonFile(path) {
  // fromJsonString refuses unknown fields, unknown enum names, values out of
  // range and two members of one oneof.  It reads the text with JSON.parse,
  // which keeps the last of duplicate keys instead of refusing them.
  return fromJsonString(CaseMessageSchema, readFileSync(path, "utf8"), readOpts);
}

function jsonText(msg) {
  return toJsonString(CaseMessageSchema, msg, writeOpts) + "\n";
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// Every unknown field anywhere in a decoded message, as JSON-ish paths.
function unknownFields(value, path = "$", out = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, `${path}[${i}]`, out));
  } else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    if (Array.isArray(value.$unknown) && value.$unknown.length > 0) {
      for (const u of value.$unknown) out.push(`${path} #${u.no}`);
    }
    for (const [k, v] of Object.entries(value)) {
      if (k !== "$unknown" && k !== "$typeName") unknownFields(v, `${path}.${k}`, out);
    }
  }
  return out;
}

// The first place where two JSON values differ, or null.
function firstDifference(a, b, path = "$") {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: array on one side only`;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) return `${path}: ${a.length} against ${b.length} elements`;
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      if (!(k in a)) return `${path}.${k}: only in the second`;
      if (!(k in b)) return `${path}.${k}: only in the first`;
      const d = firstDifference(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${JSON.stringify(a)} against ${JSON.stringify(b)}`;
}

// The top-level fields of an encoding: [{no, wireType, start, end}].
function wireFields(bytes) {
  const r = new BinaryReader(bytes);
  const fields = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const [no, wireType] = r.tag();
    r.skip(wireType, no);
    fields.push({ no, wireType, start, end: r.pos });
  }
  return fields;
}

const wireName = Object.fromEntries(Object.entries(WireType).map(([k, v]) => [v, k]));

// A field-by-field account of where two encodings part, descending into
// length-delimited fields that both sides have at the same place.
function explainBytes(a, b, path, lines) {
  const fa = wireFields(a);
  const fb = wireFields(b);
  const n = Math.max(fa.length, fb.length);
  for (let i = 0; i < n; i++) {
    const x = fa[i];
    const y = fb[i];
    if (!x || !y) {
      const extra = x ?? y;
      lines.push(`${path}: field #${extra.no} (${wireName[extra.wireType]}) only in the ${x ? "first" : "second"} encoding, at top-level entry ${i}`);
      return;
    }
    const bx = a.subarray(x.start, x.end);
    const by = b.subarray(y.start, y.end);
    if (sameBytes(bx, by)) continue;
    if (x.no !== y.no || x.wireType !== y.wireType) {
      lines.push(`${path}: entry ${i} is field #${x.no} (${wireName[x.wireType]}) against #${y.no} (${wireName[y.wireType]}): different order, presence or packing`);
      return;
    }
    if (x.wireType === WireType.LengthDelimited) {
      const px = payload(a, x);
      const py = payload(b, y);
      lines.push(`${path}: field #${x.no} differs (${px.length} against ${py.length} bytes of payload)`);
      try {
        explainBytes(px, py, `${path}.#${x.no}`, lines);
      } catch {
        lines.push(`${path}.#${x.no}: payloads are not messages: ${hex(px)} against ${hex(py)}`);
      }
      return;
    }
    lines.push(`${path}: field #${x.no} (${wireName[x.wireType]}) ${hex(bx)} against ${hex(by)}`);
    return;
  }
}

function payload(bytes, f) {
  const r = new BinaryReader(bytes.subarray(f.start, f.end));
  r.tag();
  return r.bytes();
}

function hex(bytes) {
  const h = Buffer.from(bytes).toString("hex");
  return h.length > 80 ? h.slice(0, 80) + "..." : h;
}

// ------------------------------------------------------------- variants

const bodies = ["notification", "preservation", "disclosure", "emergency",
  "victimIdentification", "reply", "receipt"];

function snakeKeys(value) {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(
      ([k, v]) => [k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase()), snakeKeys(v)]));
  }
  return value;
}

// The first object in value (depth first) that has key, or null.
function findObjectWith(value, key) {
  if (Array.isArray(value)) {
    for (const v of value) {
      const f = findObjectWith(v, key);
      if (f) return f;
    }
  } else if (value !== null && typeof value === "object") {
    if (key in value) return value;
    for (const v of Object.values(value)) {
      const f = findObjectWith(v, key);
      if (f) return f;
    }
  }
  return null;
}

function variants(example) {
  const base = JSON.parse(readFileSync(example, "utf8"));
  const body = bodies.find((b) => b in base);
  if (!body) fail(`${example}: no body member`);
  const out = {};
  const alter = (name, change) => {
    const v = structuredClone(base);
    if (change(v) === false) return;
    out[name] = v;
  };

  // Refused by both sides: each is one small slip from a valid message.
  alter("refuse-unknown-top-field", (v) => { v.priority = "PRIORITY_EMERGENCY"; });
  alter("refuse-unknown-nested-field", (v) => {
    const o = findObjectWith(v, "organisation") ?? findObjectWith(v, "summary") ?? v[body];
    o.fax = "+4961100000000";
  });
  alter("refuse-unknown-enum-name", (v) => {
    const o = findObjectWith(v, "requestStatus") ?? findObjectWith(v, "status");
    if (!o) return false;
    if ("requestStatus" in o) o.requestStatus = "REQUEST_STATUS_URGENT";
    else o.status = "REPLY_STATUS_LOST";
  });
  alter("refuse-uint32-out-of-range", (v) => { v.schemaVersion = 4294967296; });
  alter("refuse-two-bodies", (v) => {
    const other = body === "notification" ? "reply" : "notification";
    v[other] = {};
  });
  alter("refuse-bad-timestamp", (v) => { v.createdAt = "2026-11-20 03:12:00"; });
  alter("refuse-wrong-type", (v) => { v.caseRef = "NCCIA/CEU/2026/0415"; });
  alter("refuse-bool-as-string", (v) => {
    const o = findObjectWith(v, "availableAroundTheClock");
    if (!o) return false;
    o.availableAroundTheClock = "yes";
  });

  // Read by both sides to the same message as the example.
  alter("accept-proto-field-names", (v) => {
    for (const k of Object.keys(v)) delete v[k];
    Object.assign(v, snakeKeys(base));
  });
  alter("accept-null-is-default", (v) => {
    const absent = ["earlierRef", "deadline", "judicialAuthority", "languages", "evaluation"]
      .filter((k) => !(k in base));
    if (absent.length === 0) return false;
    for (const k of absent) v[k] = null;
  });
  alter("accept-integer-as-string", (v) => { v.schemaVersion = String(base.schemaVersion ?? 1); });

  return out;
}

// ------------------------------------------------------------ edge cases

// Messages made for the encodings' corners, which the examples (plain
// ASCII, no double, no bytes) do not reach: both sides must read each one
// to identical binaries and read each other's JSON back, like an example.
// They are well-formed, not valid requests: `amanat validate` may refuse
// them.
function edgeCases() {
  const ts = "2026-11-20T03:12:00Z";
  return {
    "edge-text": {
      schemaVersion: 1,
      createdAt: ts,
      caseRef: { senderRef: "BKA/SO12/2026/0007", operation: "Zoë Müller — 東京 👧" },
      notification: {
        summary: "quote \" backslash \\ slash / tab \t newline \n cr \r bs \b ff \f "
          + "controls \u0001\u001f del \u007f nbsp \u00a0 ls \u2028 ps \u2029 bom \ufeff "
          + "astral 𝄞 \ud83d\ude00 end",
        offences: [{ taxonomy: "ICCS", code: "03022", text: "Sexuelle Ausbeutung von Kindern" }],
        entities: {
          persons: [{ name: "Ünal Çelik", aliases: ["", " ", "ﬁ"], nationalities: ["TR"] }],
        },
      },
    },
    "edge-numbers": {
      schemaVersion: 4294967295,
      reply: {
        inReplyTo: "0123456789abcdef0123456789abcdef",
        status: "REPLY_STATUS_ANSWERED",
        results: {
          ipObservations: [{ address: "2001:db8::1", port: 65535 }],
          persons: [{ ageRange: { min: 1, max: 4294967295 } }],
          locations: [
            { latitude: 14.599512, longitude: 120.984222 },
            { latitude: 0.1, longitude: -33.8688 },
            { latitude: 1e-7, longitude: 5e-324 },
            { latitude: 1e21, longitude: -1.7976931348623157e308 },
            { latitude: 0.30000000000000004, longitude: 123456789.125 },
            { latitude: 2.2250738585072014e-308, longitude: 9007199254740993 },
            { latitude: "NaN", longitude: "Infinity" },
            { latitude: "-Infinity", longitude: 1 },
          ],
          media: [
            { algorithm: "HASH_ALGORITHM_SHA256", size: "18446744073709551615" },
            { size: "9007199254740993" },
            { size: "1" },
          ],
        },
      },
    },
    "edge-time": {
      schemaVersion: 1,
      createdAt: "2026-11-20T03:12:00.5Z",
      deadline: "9999-12-31T23:59:59.999999999Z",
      judicialAuthority: { decidedAt: "0001-01-01T00:00:00Z" },
      reply: {
        expectedBy: "1970-01-01T00:00:00Z",
        results: {
          ipObservations: [
            { address: "198.51.100.1", port: 1, observedAt: "1969-12-31T23:59:59.999999999Z" },
            { address: "198.51.100.2", port: 2, observedAt: "2026-11-20T03:12:00.123Z" },
            { address: "198.51.100.3", port: 3, observedAt: "2026-11-20T03:12:00.123456Z" },
            { address: "198.51.100.4", port: 4, observedAt: "2026-11-20T03:12:00.000001Z" },
          ],
        },
      },
    },
    "edge-enums": {
      schemaVersion: 1,
      requestStatus: 2,
      requestingAuthority: { preferredChannel: 99 },
      handling: { code: "HANDLING_CODE_H3", conditions: "x" },
      evaluation: { source: -3 },
      preservation: {
        data: [
          { categories: ["DATA_CATEGORY_SUBSCRIBER", 7, "DATA_CATEGORY_CONTENT", 0, 2147483647, -1, -2147483648] },
          { categories: [] },
        ],
        mutualAssistanceToFollow: true,
      },
    },
    "edge-bytes": {
      schemaVersion: 1,
      receipt: {
        body: "CAESEP///wAAAAAAAAAAAAAAAAA+Pz8/",
        signature: "AA==",
      },
    },
    "edge-empty-blocks": {
      schemaVersion: 1,
      caseRef: {},
      evaluation: {},
      emergency: { entities: {} },
    },
  };
}

// --------------------------------------------------------------- commands

const commands = {
  encode(jsonIn, binOut, jsonOut) {
    const msg = parseJsonFile(jsonIn);
    const bin = toBinary(CaseMessageSchema, msg);
    // The library agrees with itself before it is compared with C (by the
    // bytes: equals() holds NaN unequal to itself).
    if (!sameBytes(bin, toBinary(CaseMessageSchema, fromBinary(CaseMessageSchema, bin)))) {
      fail(`${jsonIn}: binary does not read back to the same message`);
    }
    const text = jsonText(msg);
    const again = fromJsonString(CaseMessageSchema, text, readOpts);
    if (!sameBytes(bin, toBinary(CaseMessageSchema, again))) {
      fail(`${jsonIn}: JSON output does not read back to the same message`);
    }
    writeFileSync(binOut, bin);
    writeFileSync(jsonOut, text);
    console.log(`${bin.length} bytes`);
  },

  decode(binIn, binOut, jsonOut) {
    const bin = readFileSync(binIn);
    const msg = fromBinary(CaseMessageSchema, bin, { readUnknownFields: true });
    const unknown = unknownFields(msg);
    if (unknown.length > 0) fail(`${binIn}: fields unknown to the schema: ${unknown.join(", ")}`);
    const again = toBinary(CaseMessageSchema, msg);
    writeFileSync(binOut, again);
    writeFileSync(jsonOut, jsonText(msg));
    console.log(`${again.length} bytes`);
  },

  refuse(jsonIn) {
    let msg;
    try {
      msg = parseJsonFile(jsonIn);
    } catch (e) {
      console.log(e.message);
      return;
    }
    fail(`${jsonIn}: accepted: ${toJsonString(CaseMessageSchema, msg)}`);
  },

  "same-json"(a, b) {
    const ta = readFileSync(a, "utf8");
    const tb = readFileSync(b, "utf8");
    const d = firstDifference(JSON.parse(ta), JSON.parse(tb));
    if (d) fail(`not the same JSON value: ${d}`);
    const la = ta.trimEnd().split("\n");
    const lb = tb.trimEnd().split("\n");
    const i = la.findIndex((l, n) => l !== lb[n]);
    if (i < 0 && la.length === lb.length) {
      console.log("identical text");
    } else {
      const at = i < 0 ? la.length : i;
      console.log(`text differs from line ${at + 1}: ${JSON.stringify((la[at] ?? "").trim())}`
        + ` against ${JSON.stringify((lb[at] ?? "").trim())}`);
    }
  },

  explain(a, b) {
    const ba = readFileSync(a);
    const bb = readFileSync(b);
    const lines = [];
    if (sameBytes(ba, bb)) {
      lines.push("identical");
    } else {
      let ma;
      let mb;
      try {
        ma = fromBinary(CaseMessageSchema, ba);
        mb = fromBinary(CaseMessageSchema, bb);
      } catch (e) {
        lines.push(`does not decode: ${e.message}`);
      }
      if (ma && mb) {
        if (equals(CaseMessageSchema, ma, mb)) {
          lines.push("the same message as far as the schema knows (unknown fields aside), encoded differently");
        } else {
          const d = firstDifference(
            JSON.parse(toJsonString(CaseMessageSchema, ma)),
            JSON.parse(toJsonString(CaseMessageSchema, mb)));
          lines.push(`different messages: ${d}`);
        }
      }
      explainBytes(ba, bb, "$", lines);
    }
    for (const l of lines) console.log(l);
  },

  // Writes each altered copy NAME.json with JS's verdict beside it, so that
  // one process does the JS half of them all: NAME.js.txt holds "refused:
  // REASON" or "accepted"; an accepted copy's binary is NAME.js.bin.
  edges(outDir) {
    mkdirSync(outDir, { recursive: true });
    for (const [name, v] of Object.entries(edgeCases())) {
      writeFileSync(join(outDir, `${name}.json`), JSON.stringify(v, null, 2) + "\n");
    }
  },

  variants(example, outDir) {
    mkdirSync(outDir, { recursive: true });
    for (const [name, v] of Object.entries(variants(example))) {
      const file = join(outDir, `${name}.json`);
      writeFileSync(file, JSON.stringify(v, null, 2) + "\n");
      let verdict = "accepted";
      try {
        writeFileSync(join(outDir, `${name}.js.bin`), toBinary(CaseMessageSchema, parseJsonFile(file)));
      } catch (e) {
        verdict = `refused: ${e.message}`;
      }
      writeFileSync(join(outDir, `${name}.js.txt`), verdict + "\n");
    }
  },
};

const [cmd, ...args] = process.argv.slice(2);
const f = commands[cmd];
if (!f || f.length !== args.length) {
  console.error(`usage: node case_interop.mjs ${Object.entries(commands)
    .map(([k, v]) => `${k} (${v.length} arguments)`).join(" | ")}`);
  process.exit(2);
}
try {
  f(...args);
} catch (e) {
  console.log(e instanceof CheckFailed ? e.message : `${e.name}: ${e.message}`);
  process.exit(1);
}
