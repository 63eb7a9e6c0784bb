#!/usr/bin/env bash
# Federation end to end (docs/PROTOCOL.md section 18) with three real
# amanat-relay processes on 127.0.0.1 -- PK-RELAY, DE-RELAY, PH-RELAY --
# and agencies homed at each, driven by the officers' command:
#   1. DE-BKA's prekey reaches the other relays; PK-NCCIA -> DE-BKA,
#      DE-LKA and PH-NBI: delivered to all three, with
#      delivered evidence (signed by DE-RELAY and PH-RELAY) and their signed
#      receipts back at PK-NCCIA; stored once per relay (one forward to
#      DE-RELAY for its two agencies); a bundle that verifies offline;
#   2. DE-RELAY down at submit: PK-RELAY keeps the envelope, DE-BKA gets
#      it once DE-RELAY is back;
#   3. a revocation issued at PK-RELAY reaches DE-RELAY and PH-RELAY and
#      blocks the revoked agency everywhere;
#   4. a relay that forwards an envelope with a forged sender signature
#      (PK-RELAY's store damaged while it was stopped) is refused by
#      DE-RELAY, and the link goes on forwarding honest envelopes.
# usage: test-federation.sh PATH/TO/amanat PATH/TO/amanat-relay SOURCE_DIR
set -euo pipefail
A=$1
RELAY=$2
SRC=$3
work=$(mktemp -d)
stop_all() {
  local p
  for p in ${PID_PK_RELAY:-} ${PID_DE_RELAY:-} ${PID_PH_RELAY:-}; do
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap 'stop_all; [ -n "${KEEP:-}" ] || rm -rf "$work"; echo "$work"' EXIT
cd "$work"
export PASS=test-only-passphrase
K="--passphrase-env PASS"
. "$SRC/tests/cli/lib.sh"

fed_relays PK-RELAY:PK-NCCIA DE-RELAY:DE-BKA,DE-LKA PH-RELAY:PH-NBI
"$A" admin crl --dir fed --out crl.bin $K >/dev/null
up() { # up RELAY: start it linked with the two others
  case $1 in
    PK-RELAY) fed_start PK-RELAY DE-RELAY PH-RELAY -- --crl crl.bin ;;
    DE-RELAY) fed_start DE-RELAY PK-RELAY PH-RELAY ;;
    PH-RELAY) fed_start PH-RELAY PK-RELAY DE-RELAY ;;
  esac
}
started=0
for attempt in 1 2 3 4 5; do
  pick_ports PK-RELAY DE-RELAY PH-RELAY
  if up PK-RELAY && up DE-RELAY && up PH-RELAY; then started=1; break; fi
  stop_all
done
[ $started -eq 1 ] || { cat ./*-RELAY/log; exit 1; }
for r in PK-RELAY DE-RELAY PH-RELAY; do
  checks=$((checks + 1))
  wait_log $r "link to .* link ready" 10 || fail "$r: no link ready"
done
# each relay learns the other relays' agencies from them
checks=$((checks + 1))
wait_log PK-RELAY "learned the certificate of PH-NBI" 10 &&
  wait_log PK-RELAY "learned the certificate of DE-LKA" 10 ||
  fail "PK-RELAY did not learn the agencies of its peers"

join_at PK-NCCIA PK-RELAY >/dev/null
join_at DE-BKA DE-RELAY >/dev/null
join_at DE-LKA DE-RELAY >/dev/null
join_at PH-NBI PH-RELAY >/dev/null
sed '/"createdAt"/d' "$SRC/docs/examples/notification.json" >n.json
sent_id() { printf '%s\n' "$LAST" | sed -n 's/^sent \([0-9a-f]*\)$/\1/p'; }
inbox_count() { as "$1" inbox --offline --json | grep -o '"id"' | wc -l; }

# --- 1. three relays, four agencies ---------------------------------------
# DE-BKA's new prekey reaches PK-RELAY (and PH-RELAY) from DE-RELAY
expect 0 "made prekey 1" as DE-BKA prekeys rotate
for r in PK-RELAY PH-RELAY; do
  checks=$((checks + 1))
  for _ in $(seq 50); do
    held=$(sqlite3 "$r/data/store.sqlite" \
      "SELECT prekey_id FROM prekeys WHERE agency = 'DE-BKA'" 2>/dev/null || true)
    [ "$held" = 1 ] && break
    sleep 0.1
  done
  [ "$held" = 1 ] || fail "$r does not hold DE-BKA's prekey 1 ($held)"
done
expect 0 "accepted by PK-RELAY" as PK-NCCIA send n.json --to DE-BKA,DE-LKA,PH-NBI
id1=$(sent_id)
for who in DE-BKA DE-LKA PH-NBI; do
  for _ in $(seq 50); do
    as $who sync >/dev/null 2>&1 || true
    [ "$(inbox_count $who)" -ge 1 ] && break
    sleep 0.2
  done
  expect 0 "${id1:0:12}" as $who inbox --offline
done
checks=$((checks + 1))
[ "$(grep -c "DE-RELAY: forwarded ${id1:0:8}" PK-RELAY/log)" -eq 1 ] ||
  fail "PK-RELAY forwarded ${id1:0:8} to DE-RELAY other than once: $(grep "${id1:0:8}" PK-RELAY/log)"
checks=$((checks + 1))
grep -q "stored ${id1:0:8} from PK-RELAY for 2 recipients" DE-RELAY/log ||
  fail "DE-RELAY did not store it once for its two agencies: $(grep "${id1:0:8}" DE-RELAY/log)"
# the receipts and evidence travel back
for _ in $(seq 50); do
  as PK-NCCIA sync >/dev/null 2>&1 || true
  out=$(as PK-NCCIA track "${id1:0:8}" 2>&1 || true)
  n=$(grep -c "received .*(signed)" <<<"$out" || true)
  [ "$n" -ge 3 ] && break
  sleep 0.2
done
expect 0 "received" as PK-NCCIA track "${id1:0:8}"
for who in DE-BKA DE-LKA PH-NBI; do
  checks=$((checks + 1))
  [[ "$LAST" == *"delivered"*"by $who"* && "$LAST" == *"received"*"by $who"*"(signed)"* ]] ||
    fail "PK-NCCIA's timeline lacks delivered/received by $who: $LAST"
done
for r in DE-RELAY PH-RELAY; do
  checks=$((checks + 1))
  [[ "$LAST" == *"accepted"*"$r"* ]] || fail "no accepted evidence of $r: $LAST"
done
# PK-RELAY's copy went once the home relays had it: an audit record each
expect 0 "chain intact" "$RELAY" audit verify --data PK-RELAY/data
expect 0 "check it with" as PK-NCCIA evidence "${id1:0:8}" --out b1.bundle
expect 0 "DE-RELAY" "$A" evidence verify b1.bundle --root fed/root.pub
[[ "$LAST" == *PH-RELAY* && "$LAST" == *PK-RELAY* ]] ||
  fail "the bundle does not show evidence of all three relays: $LAST"

# --- 2. the home relay down at submit ---------------------------------------
kill "$PID_DE_RELAY"
wait "$PID_DE_RELAY" 2>/dev/null || true
expect 0 "accepted by PK-RELAY" as PK-NCCIA send n.json --to DE-BKA
id2=$(sent_id)
sleep 1
up DE-RELAY || fail "DE-RELAY did not start again"
checks=$((checks + 1))
wait_log DE-RELAY "stored ${id2:0:8} from PK-RELAY" 20 ||
  fail "DE-RELAY did not get ${id2:0:8} once back"
for _ in $(seq 50); do
  as DE-BKA sync >/dev/null 2>&1 || true
  [ "$(inbox_count DE-BKA)" -ge 2 ] && break
  sleep 0.2
done
expect 0 "${id2:0:12}" as DE-BKA inbox --offline

# --- 3. a revocation issued at one relay reaches the others -----------------
serial=$("$A" show PH-NBI.cert | sed -n 's/^serial *//p')
"$A" admin revoke --dir fed --serial "$serial" --reason "test: key lost" >/dev/null
"$A" admin crl --dir fed --out crl2.bin $K >/dev/null
mv crl2.bin crl.bin
kill -HUP "$PID_PK_RELAY"
for r in DE-RELAY PH-RELAY; do
  checks=$((checks + 1))
  wait_log $r "revocation list 2 from" 10 || fail "$r did not get list 2"
  wait_log $r "sequence 2" 10 || fail "$r did not load list 2"
done
expect 1 "revoked" as PH-NBI sync          # its own relay refuses it
expect 1 "PH-NBI" as DE-BKA send n.json --to PH-NBI   # nobody seals to it
expect 1 "PH-NBI" as PK-NCCIA send n.json --to PH-NBI

# --- 4. a forwarding relay that forges a sender's signature -----------------
kill "$PID_DE_RELAY"
wait "$PID_DE_RELAY" 2>/dev/null || true
expect 0 "accepted by PK-RELAY" as PK-NCCIA send n.json --to DE-BKA
id3=$(sent_id)
kill "$PID_PK_RELAY"
wait "$PID_PK_RELAY" 2>/dev/null || true
db=PK-RELAY/data/store.sqlite
sqlite3 "$db" "SELECT writefile('env.bin', envelope) FROM messages WHERE hex(message_id) = upper('$id3')" >/dev/null
size=$(stat -c %s env.bin)
last=$(od -An -tu1 -j $((size - 1)) -N1 env.bin | tr -d ' ')
printf "\\x$(printf %02x $((last ^ 1)))" |
  dd of=env.bin bs=1 seek=$((size - 1)) conv=notrunc status=none
# a forging relay stores the hash of what it forged too (else its own
# store check at start quarantines the envelope as damaged)
hash=$(b2sum -l 256 env.bin | cut -d' ' -f1)
sqlite3 "$db" "UPDATE messages SET envelope = readfile('env.bin'), envelope_hash = X'$hash' WHERE hex(message_id) = upper('$id3')"
up PK-RELAY || fail "PK-RELAY did not start again"
up DE-RELAY || fail "DE-RELAY did not start again"
checks=$((checks + 1))
wait_log DE-RELAY "forwarded ${id3:0:8} refused: signature of PK-NCCIA" 20 ||
  fail "DE-RELAY did not refuse the forged envelope: $(grep "${id3:0:8}" DE-RELAY/log)"
checks=$((checks + 1))
wait_log PK-RELAY "refused for good ${id3:0:8}" 10 ||
  fail "PK-RELAY did not record the refusal"
expect 0 "accepted by PK-RELAY" as PK-NCCIA send n.json --to DE-BKA
id4=$(sent_id)
for _ in $(seq 50); do
  as DE-BKA sync >/dev/null 2>&1 || true
  [ "$(inbox_count DE-BKA)" -ge 3 ] && break
  sleep 0.2
done
expect 0 "${id4:0:12}" as DE-BKA inbox --offline
checks=$((checks + 1))
[[ "$LAST" != *"${id3:0:12}"* ]] || fail "DE-BKA received the forged envelope"

echo "checks: $checks, failures: $fails"
[ "$fails" -eq 0 ]
