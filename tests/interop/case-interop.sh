#!/usr/bin/env bash
# Cross-check of the case messages against an independent implementation:
# protobuf-es (@bufbuild/protobuf, Node.js) with code that protoc-gen-es
# generates from the same proto/*.proto files protoc-c compiles for C.
#
#   case-interop.sh AMANAT NODE EXAMPLES_DIR WORK_DIR
#
# AMANAT is the amanat binary (its `convert` command), NODE the node
# program (a path, or a name looked up in PATH), EXAMPLES_DIR holds the
# example *.json files, WORK_DIR is a folder of the build tree this script
# owns: node_modules/ (installed by `npm ci` from package-lock.json, only
# when missing or when the lock file changed), gen/ (the generated code,
# made anew on every run) and out/ (every file compared).
#
# For every example:
#   1. C reads the JSON and writes the binary; JS (strict: unknown fields
#      refused) does the same; the two binaries must be byte-identical.
#   2. C prints the binary as JSON; JS reads that JSON back to exactly the
#      same binary.  JS also decodes C's binary (no field unknown to it)
#      and re-encodes it to the same bytes.
#   3. JS prints the message as JSON; C reads that JSON back to exactly the
#      same binary.
#   4. The two JSON forms are the same JSON value.
#   5. Altered copies of the example: each refuse-*.json (an unknown field,
#      an unknown enum name, two bodies, ...) must be refused by both sides,
#      C with exit status 1; each accept-*.json (proto field names, null for
#      defaults, an integer as a string) must be read by both sides to the
#      example's own binary.
# Then checks 1 to 4 again on messages made for the encodings' corners
# (edge-*.json: non-ASCII and escapes, doubles, 64-bit integers, timestamps
# with nanoseconds, open enums, bytes), which the examples do not reach.
#
# One line per check; "N passed, M failed" at the end; exit 1 on any failure.
# Exit 77 (ctest's SKIP_RETURN_CODE) when node, npm or protoc is missing and
# the environment variable CI is unset; with CI set, a missing tool fails.
set -u

if [ $# -ne 4 ]; then
  echo "usage: $0 AMANAT NODE EXAMPLES_DIR WORK_DIR" >&2
  exit 2
fi
amanat=$1 node=$2 examples=$3 work=$4
TAG=case-interop
. "$(dirname "$0")/npm-env.sh"

node_setup "$node"

[ -x "$amanat" ] || die "no amanat binary at $amanat"
[ -d "$examples" ] || die "no examples folder at $examples"


npm_install

# ---------------------------------------------------------- generated code
es_generate
cp "$here/case_interop.mjs" "$work/" || die "cannot copy case_interop.mjs"
echo "case-interop: protobuf-es $("$node_path" -p 'require("'"$work"'/node_modules/@bufbuild/protobuf/package.json").version') on node $("$node_path" --version), $("$protoc_path" --version)"

# ------------------------------------------------------------------ checks
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "$*"; }
flunk() { failed=$((failed + 1)); echo "FAIL $*"; }
# Output of the last command run through run(), indented, for failures.
run() { timeout 60 "$@" >"$work/last.out" 2>&1; }
last() { sed 's/^/    /' "$work/last.out"; }
js() { run "$node_path" "$work/case_interop.mjs" "$@"; }
c_convert() { run "$amanat" convert "$1" --out "$2"; }
size() { wc -c <"$1" | tr -d ' '; }

"$amanat" convert --help >/dev/null 2>&1 || die "$amanat has no working convert command"

out="$work/out"
rm -rf "$out"
shopt -s nullglob
example_files=("$examples"/*.json)
[ ${#example_files[@]} -gt 0 ] || die "no *.json in $examples"
js edges "$out/edge-cases" || { last; die "could not write the edge cases"; }
edge_files=("$out"/edge-cases/*.json)

# Checks 1 to 4 on one JSON file; its binary from C is left in $d/c.bin.
# Returns 1 when there is no C binary to go on with.
check_message() {
  local src=$1 name=$2 d=$3
  mkdir -p "$d"

  # 1. JSON -> binary on both sides.
  if ! c_convert "$src" "$d/c.bin"; then
    flunk "$name: C refused it"; last; return 1
  fi
  if ! js encode "$src" "$d/js.bin" "$d/js.json"; then
    flunk "$name: JS refused it"; last; return 1
  fi
  if cmp -s "$d/c.bin" "$d/js.bin"; then
    pass "$name: C and JS binaries identical ($(size "$d/c.bin") bytes)"
  else
    flunk "$name: C and JS binaries differ ($(size "$d/c.bin") against $(size "$d/js.bin") bytes)"
    js explain "$d/c.bin" "$d/js.bin"; last
  fi

  # 2. C's JSON read by JS; C's binary decoded by JS.
  if ! c_convert "$d/c.bin" "$d/c.json"; then
    flunk "$name: C could not print its binary as JSON"; last
  elif ! js encode "$d/c.json" "$d/c.json.js.bin" "$d/c.json.js.json"; then
    flunk "$name: JS refused C's JSON"; last
  elif cmp -s "$d/c.json.js.bin" "$d/c.bin"; then
    pass "$name: JS reads C's JSON back to the same binary"
  else
    flunk "$name: JS reads C's JSON to a different binary"
    js explain "$d/c.bin" "$d/c.json.js.bin"; last
  fi
  if ! js decode "$d/c.bin" "$d/c.bin.js.bin" "$d/c.bin.js.json"; then
    flunk "$name: JS could not decode C's binary"; last
  elif cmp -s "$d/c.bin.js.bin" "$d/c.bin"; then
    pass "$name: JS decodes C's binary and re-encodes the same bytes"
  else
    flunk "$name: JS re-encodes C's binary differently"
    js explain "$d/c.bin" "$d/c.bin.js.bin"; last
  fi

  # 3. JS's JSON read by C.
  if ! c_convert "$d/js.json" "$d/js.json.c.bin"; then
    flunk "$name: C refused JS's JSON"; last
  elif cmp -s "$d/js.json.c.bin" "$d/c.bin"; then
    pass "$name: C reads JS's JSON back to the same binary"
  else
    flunk "$name: C reads JS's JSON to a different binary"
    js explain "$d/c.bin" "$d/js.json.c.bin"; last
  fi

  # 4. The two canonical JSON forms.
  if [ -f "$d/c.json" ]; then
    if js same-json "$d/c.json" "$d/js.json"; then
      pass "$name: C and JS JSON are the same value ($(cat "$work/last.out"))"
    else
      flunk "$name: C and JS JSON differ"; last
    fi
  fi
  return 0
}

# 5. Altered copies of an example, against the example's binary.
check_variants() {
  local src=$1 name=$2 d=$3 v vn c_rc c_msg js_msg
  if ! js variants "$src" "$d/variants"; then
    flunk "$name: could not make the altered copies"; last; return
  fi
  for v in "$d"/variants/refuse-*.json; do
    vn="$name/$(basename "$v" .json)"
    run "$amanat" convert "$v" --out "${v%.json}.c.bin"
    c_rc=$?
    c_msg=$(head -n 1 "$work/last.out")
    c_msg=${c_msg#"$v: "}
    js_msg=$(head -n 1 "${v%.json}.js.txt")
    if [ "${js_msg#refused: }" = "$js_msg" ]; then
      flunk "$vn: JS accepted it (C exit $c_rc)"
    elif [ $c_rc -ne 1 ]; then
      flunk "$vn: C exit $c_rc, expected 1 (JS $js_msg)"; last
    else
      pass "$vn: refused by both (C: $c_msg | JS: ${js_msg#refused: })"
    fi
  done
  for v in "$d"/variants/accept-*.json; do
    vn="$name/$(basename "$v" .json)"
    js_msg=$(head -n 1 "${v%.json}.js.txt")
    if ! c_convert "$v" "${v%.json}.c.bin"; then
      flunk "$vn: C refused it"; last
    elif [ "$js_msg" != accepted ]; then
      flunk "$vn: JS $js_msg"
    elif ! cmp -s "${v%.json}.c.bin" "$d/c.bin"; then
      flunk "$vn: C reads it to another binary than the example's"
      js explain "$d/c.bin" "${v%.json}.c.bin"; last
    elif ! cmp -s "${v%.json}.js.bin" "$d/c.bin"; then
      flunk "$vn: JS reads it to another binary than the example's"
      js explain "$d/c.bin" "${v%.json}.js.bin"; last
    else
      pass "$vn: read by both to the example's binary"
    fi
  done
}

for ex in "${example_files[@]}"; do
  name=$(basename "$ex")
  d="$out/${name%.json}"
  check_message "$ex" "$name" "$d" && check_variants "$ex" "$name" "$d"
done
for ex in "${edge_files[@]}"; do
  name=$(basename "$ex")
  check_message "$ex" "$name" "$out/edge-cases/${name%.json}"
done

echo "case-interop: $passed passed, $failed failed"
[ $failed -eq 0 ]
