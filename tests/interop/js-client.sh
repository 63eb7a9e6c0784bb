#!/usr/bin/env bash
# The JavaScript client (tests/interop/js/client.mjs: written from
# docs/PROTOCOL.md, on noise-handshake, @noble and protobuf-es) against a
# real amanat-relay on 127.0.0.1 and the C client, both directions:
#   - JS completes the handshake, authenticates with a certificate issued
#     by `amanat admin` (the relay learns it then), uploads a prekey;
#   - JS seals and submits a case message; the C client opens it, and its
#     bytes are the ones JS sealed; C's signed receipts reach JS, verified;
#   - C seals to JS's prekey; JS opens it (the very bytes C sealed) and
#     sends a signed receipt the C client verifies (track, evidence bundle);
#   - the relay's accepted and delivered evidence is verified by JS;
#   - a copy of the JS client with one wrong domain tag is refused: the
#     envelope tag by the relay, the receipt tag by the C client.
# Prints every check the JS client made; "N checks, M failed"; exit 1 on
# a failure.  Skipped (77) without node/npm/protoc unless CI is set.
#   js-client.sh AMANAT AMANAT_RELAY NODE WORK_DIR
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 AMANAT AMANAT_RELAY NODE WORK_DIR" >&2
  exit 2
fi
A=$1 RELAY=$2 node=$3 work=$4
TAG=js-client
. "$(dirname "$0")/npm-env.sh"
SRC=$(cd "$here/../.." && pwd)
[ -x "$A" ] && [ -x "$RELAY" ] || die "no amanat or amanat-relay binary"
A=$(realpath "$A") RELAY=$(realpath "$RELAY")
node_setup "$node"
npm_install
es_generate
rm -rf "$work/js" "$work/js-badtag" && cp -r "$here/js" "$work/js" || die "cannot copy js/"
js_dir=$work

fed=$(mktemp -d)
relay_pid=
trap '[ -n "$relay_pid" ] && { kill $relay_pid 2>/dev/null || true; }; rm -rf "$fed"' EXIT
cd "$fed"
work=$fed   # lib.sh keeps the agencies' profiles in $work
export PASS=test-only-passphrase
K="--passphrase-env PASS"
. "$SRC/tests/cli/lib.sh"

# show CODE TEXT CMD...: expect, then the output, indented.
show() {
  expect "$@"
  printf '%s\n' "$LAST" | sed 's/^/    /'
}
has() { # has TEXT WHAT: the last output holds TEXT
  checks=$((checks + 1))
  [[ "$LAST" == *"$1"* ]] || fail "$2 (no \"$1\" in the output)"
}
jsc() {
  timeout 60 "$node_path" "$js_dir/${JS:-js}/client.mjs" --key DE-BKA.key --cert DE-BKA.cert \
    --root fed/root.pub --relay "127.0.0.1:$port" --state js-state "$@"
}
# same_content C_JSON JS_BYTES WHAT: C reads its JSON of a case message
# back to exactly the plaintext bytes the JS client sealed or opened.
same_content() {
  checks=$((checks + 1))
  if ! "$A" convert "$1" --out "$1.bin" >/dev/null 2>&1; then
    fail "$3: C cannot read back its JSON ($1)"
  elif cmp -s "$1.bin" "$2"; then
    echo "    $3: the case message is byte-identical on both sides ($(wc -c <"$2") bytes)"
  else
    fail "$3: the case message differs between C and JS"
  fi
}
sent_id() { printf '%s\n' "$LAST" | sed -n 's/^sent \([0-9a-f]*\)$/\1/p'; }

# A root, the relay PK-RELAY, PK-NCCIA on the C client (passphrase) and
# DE-BKA on the JS client (unsealed key).  The relay starts knowing only
# PK-NCCIA: it learns DE-BKA's certificate from the JS handshake.
"$A" admin root-init --dir fed $K --kdf interactive >/dev/null
for id in PK-RELAY PK-NCCIA; do "$A" keygen --agency $id $K --kdf interactive >/dev/null; done
"$A" keygen --agency DE-BKA --no-passphrase >/dev/null
"$A" admin issue --dir fed --pub PK-RELAY.pub --role relay --name relay $K >/dev/null
for id in PK-NCCIA DE-BKA; do
  "$A" admin issue --dir fed --pub $id.pub --home-relay PK-RELAY --name $id $K >/dev/null
done
mkdir certs && cp PK-NCCIA.cert certs/
"$A" admin crl --dir fed --out crl.bin $K >/dev/null
relay_start --crl crl.bin
sed '/"createdAt"/d' "$SRC/docs/examples/notification.json" >notification.json
sed '/"createdAt"/d' "$SRC/docs/examples/emergency.json" >emergency.json

echo "== JS: handshake, Hello, prekey upload"
show 0 "prekey 1 signed and uploaded" jsc prekey
has "role relay" "JS did not check the relay certificate"
expect 0 "profile ready" join PK-NCCIA
expect 0 "prekey" as PK-NCCIA prekeys rotate

echo "== JS -> C: a notification sealed and submitted by JS"
show 0 "accepted evidence signed by PK-RELAY" jsc send notification.json --to PK-NCCIA
has "PK-NCCIA's certificate verifies" "JS did not check the recipient's certificate"
has "prekey 1 signed by it" "JS did not seal to PK-NCCIA's prekey"
js_id=$(sent_id)
[ -n "$js_id" ] || fail "no message id from JS"
expect 0 "${js_id:0:12}" as PK-NCCIA inbox
has "DE-BKA" "C's inbox does not show the sender"
expect 0 '"notification"' as PK-NCCIA read "${js_id:0:8}" --json
# The case message C opened is the one JS sealed: C's JSON of it reads
# back to the very plaintext bytes JS put in the envelope.
printf '%s\n' "$LAST" >c-read.json
same_content c-read.json "js-state/sent/$js_id.content" "C opened JS's envelope"

echo "== C -> JS: an emergency request sealed by C to JS's prekey"
expect 0 "accepted by PK-RELAY" as PK-NCCIA send emergency.json --to DE-BKA
c_id=$(sent_id)
show 0 "received 1 case messages, 1 receipts, 1 pieces of relay evidence" jsc receive --idle 1500
has "envelope $c_id from PK-NCCIA" "JS did not open C's envelope"
has "opened (wrap to prekey 1)" "JS did not open with its prekey"
has "receipt from PK-NCCIA for our $js_id: status 1" "JS did not verify C's receipt"
has "delivered evidence for $js_id (PK-NCCIA) signed by PK-RELAY" "JS did not verify the delivered evidence"
has "signed receipt (received) for $c_id sent to PK-NCCIA" "JS sent no receipt"
expect 0 '"emergency"' as PK-NCCIA read "${c_id:0:8}" --json
printf '%s\n' "$LAST" >c-sent.json
same_content c-sent.json "js-state/received/$c_id.content" "JS opened C's envelope"

echo "== C verifies JS's signed receipt"
expect 0 "received" as PK-NCCIA track "${c_id:0:8}"
printf '%s\n' "$LAST" | sed 's/^/    /'
checks=$((checks + 1))
[[ "$LAST" == *"received"*"by DE-BKA"*"(signed)"* ]] || fail "C did not count JS's signed receipt"
expect 0 "evidence bundle of" as PK-NCCIA evidence "${c_id:0:8}" --out c.bundle
show 0 "DE-BKA" "$A" evidence verify c.bundle --root fed/root.pub
has "received" "the bundle lacks JS's receipt"
expect 0 "acknowledged" as PK-NCCIA ack "${js_id:0:8}"
show 0 "receipt from PK-NCCIA for our $js_id: status 2" jsc receive --idle 1500

echo "== a JS client with one wrong domain tag"
cp -r "$js_dir/js" "$js_dir/js-badtag"
sed -i "s|envelope: 'amanat/1 envelope'|envelope: 'amanat/1 envelopE'|" "$js_dir/js-badtag/identity.mjs"
JS=js-badtag show 1 "relay refused submit: code 5" jsc send notification.json --to PK-NCCIA
sed -i "s|envelopE|envelope|; s|receipt: 'amanat/1 receipt'|receipt: 'amanat/1 receipT'|" "$js_dir/js-badtag/identity.mjs"
expect 0 "accepted by PK-RELAY" as PK-NCCIA send emergency.json --to DE-BKA
bad_id=$(sent_id)
JS=js-badtag expect 0 "signed receipt (received) for $bad_id" jsc receive --idle 1500
expect 0 "" as PK-NCCIA sync
expect 0 "delivered" as PK-NCCIA track "${bad_id:0:8}"
printf '%s\n' "$LAST" | sed 's/^/    /'
checks=$((checks + 1))
[[ "$LAST" != *"received"*"by DE-BKA"*"(signed)"* ]] && echo "    C does not count a receipt signed under another tag" ||
  fail "C counted a receipt signed under a wrong tag"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
