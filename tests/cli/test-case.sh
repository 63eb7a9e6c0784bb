#!/usr/bin/env bash
# amanat validate / example / convert on the documented case messages:
# every example file and every JSON block of docs/SCHEMAS.md validates and
# survives JSON -> binary -> JSON; bad inputs are refused with their path;
# SCHEMAS.md names every message and field of proto/case.proto.
# usage: test-case.sh PATH/TO/amanat SOURCE_DIR
set -euo pipefail
A=$1
SRC=$2
AT=2026-11-23T12:00:00Z   # the examples were written for this day
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$SRC/tests/cli/lib.sh"

# round_trip FILE: JSON -> binary -> JSON -> binary gives the same bytes.
round_trip() {
  local f=$1 b=$work/$(basename "$1").bin
  checks=$((checks + 1))
  rm -f "$b" "$b.json" "$b.2"
  if ! "$A" convert "$f" --out "$b" ||
     ! "$A" convert "$b" > "$b.json" ||
     ! "$A" convert "$b.json" --out "$b.2" || ! cmp -s "$b" "$b.2"; then
    fail "$f: JSON -> binary -> JSON is not stable"
  fi
}

# 1. the example files, and `amanat example` prints the same
n=0
for f in "$SRC"/docs/examples/*.json; do
  name=$(basename "$f" .json)
  expect 0 "valid" "$A" validate "$f" --at $AT
  round_trip "$f"
  "$A" example "$name" > "$work/ex.json"
  checks=$((checks + 1))
  cmp -s "$f" "$work/ex.json" || fail "amanat example $name differs from $f"
  n=$((n + 1))
done
[ "$n" -ge 6 ] || fail "only $n example files"

# 2. every JSON block of SCHEMAS.md
awk -v dir="$work" '/^```json$/ {n++; f = dir "/schemas-" n ".json"; on = 1; next}
     /^```$/ {on = 0} on {print > f}' "$SRC/docs/SCHEMAS.md"
blocks=$(ls "$work"/schemas-*.json 2>/dev/null | wc -l)
[ "$blocks" -ge 6 ] || fail "SCHEMAS.md has $blocks JSON blocks, expected 6 or more"
for f in "$work"/schemas-*.json; do
  expect 0 "valid" "$A" validate "$f" --at $AT
  round_trip "$f"
done

# 3. SCHEMAS.md documents every message and every field (JSON names)
while read -r msg; do
  checks=$((checks + 1))
  grep -q "^### $msg\$" "$SRC/docs/SCHEMAS.md" || fail "SCHEMAS.md lacks ### $msg"
done < <(sed -nE 's/^(message|enum) ([A-Za-z]+) \{.*/\2/p' "$SRC/proto/case.proto")
while read -r field; do
  checks=$((checks + 1))
  grep -q "| \`$field\` |" "$SRC/docs/SCHEMAS.md" || fail "SCHEMAS.md lacks field $field"
done < <(sed -nE 's/^  (repeated )?[A-Za-z.]+ ([a-z0-9_]+) = [0-9]+;.*/\2/p' "$SRC/proto/case.proto" |
         sed -E 's/_([a-z0-9])/\U\1/g' | sort -u)

# 4. bad inputs: each refused, with its path
E="$SRC/docs/examples/emergency.json"
bad() { # bad NAME TEXT-EXPECTED SED-EXPRESSION
  sed -E "$3" "$E" > "$work/$1.json"
  expect 1 "$2" "$A" validate "$work/$1.json" --at $AT
}
bad no_port '$.emergency.entities.ipObservations[0].port' '/"port": 51812,/d'
bad no_time '$.emergency.entities.ipObservations[0].observedAt' '/"observedAt": "2026-11-17T12:03:41Z",/d'
bad no_risk '$.emergency.riskFacts' '/"riskFacts":/d'
bad no_legal '$.legalBasis' '/"legalBasis": \[/,/^  \],/d'
bad phone '$.requestingAuthority.personInCharge.phone' 's/"\+925190000415"/"0092 51 900"/'
bad country '$.emergency.data[0].providerCountry' 's/"providerCountry": "PH"/"providerCountry": "XP"/'
bad language '$.languages[0]' 's/^  "languages": \["en"\]/  "languages": ["english"]/'
bad empty_summary '$.emergency.summary' 's/"summary": "A facilitator[^"]*"/"summary": "  "/'
bad deadline '$.deadline' 's/^  "languages": \["en"\],/  "languages": ["en"], "deadline": "2026-01-01T00:00:00Z",/'
bad unknown_field '$.emergency.bogus' 's/"riskFacts":/"bogus": 1, "riskFacts":/'
bad wrong_type '$.emergency.entities.ipObservations[0].port' 's/"port": 51812/"port": "fifty"/'
bad duplicate_key 'duplicate' 's/"riskFacts":/"summary": "x", "riskFacts":/'
bad big_int 'beyond 2^53' 's/"port": 51812/"port": 9007199254740993/'
bad malformed 'JSON' 's/^\{$/{{/'
printf '{"schemaVersion": 1, "caseRef": {"senderRef": "\xff\xfe"}}' > "$work/utf8.json"
expect 1 "byte 0xff" "$A" validate "$work/utf8.json"
# 1000 levels: refused where the schema stops allowing them (the JSON
# mapping's own depth limit, 64, is tested in tests/unit/test-json.c)
{ printf '{"caseRef": '; for i in $(seq 1000); do printf '['; done
  for i in $(seq 1000); do printf ']'; done; printf '}'; } > "$work/deep.json"
expect 1 '$.caseRef: expected an object' "$A" validate "$work/deep.json"
head -c $((100 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$work/huge.json"
expect 1 "over" "$A" validate "$work/huge.json"
rm -f "$work/huge.json"
expect 2 "which file" "$A" validate
expect 2 "one of: disclosure emergency" "$A" example nonsense
expect 1 "neither JSON nor a binary case message" "$A" convert "$SRC/README.md"

echo "test-case: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
