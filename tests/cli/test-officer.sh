#!/usr/bin/env bash
# The officers' commands end to end over a real amanat-relay on 127.0.0.1:
# join, send, sync, inbox, read, ack, refuse, reply, track (list, one
# request, --overdue, --to, --json); the states a request goes through;
# overdue sorted first; a refusal's reason; and bad input: invalid JSON, a
# schema violation, an unknown recipient, an unreadable key file, a wrong
# passphrase, an unreachable relay -- each one line naming the problem, a
# non-zero exit, and nothing sent.
# usage: test-officer.sh PATH/TO/amanat PATH/TO/amanat-relay SOURCE_DIR
set -euo pipefail
A=$1
RELAY=$2
SRC=$3
work=$(mktemp -d)
relay_pid=
trap '[ -n "$relay_pid" ] && { kill $relay_pid 2>/dev/null || true; }; rm -rf "$work"' EXIT
cd "$work"
export PASS=test-only-passphrase
K="--passphrase-env PASS"
. "$SRC/tests/cli/lib.sh"

# one_line CODE TEXT CMD...: like expect, and the output is one line.
one_line() {
  expect "$@"
  checks=$((checks + 1))
  [ "$(printf '%s\n' "$LAST" | wc -l)" -eq 1 ] ||
    fail "$3 $4: more than one line of error: $LAST"
}

# A federation: root, relay, four agencies (FR-OCRVP is not served by
# the relay; PH-NBI is revoked at the end).
fed_make PK-NCCIA DE-BKA PH-NBI FR-OCRVP
mkdir certs
cp PK-NCCIA.cert DE-BKA.cert PH-NBI.cert certs/  # FR-OCRVP: unknown here
"$A" admin crl --dir fed --out crl.bin $K >/dev/null
relay_start --crl crl.bin
for id in PK-NCCIA DE-BKA PH-NBI; do
  expect 0 "profile ready" join $id
done
expect 2 "needs --key" "$A" join --home "$work/x"
# DE-BKA publishes a prekey before anyone seals to it
expect 0 "made prekey 1" as DE-BKA prekeys rotate
expect 0 "prekey 1 is current and held by the relay" as DE-BKA prekeys rotate
[[ "$LAST" != *made* ]] || fail "a second rotation within the period made a prekey"

# Case messages written now (the examples carry the day they were written).
for f in emergency notification reply preservation; do
  sed '/"createdAt"/d' "$SRC/docs/examples/$f.json" >$f.json
done
sent_id() { printf '%s\n' "$LAST" | sed -n 's/^sent \([0-9a-f]*\)$/\1/p'; }

# --- send, receive, states ---------------------------------------------
expect 0 "accepted by PK-RELAY" as PK-NCCIA send emergency.json --to DE-BKA
emerg=$(sent_id)
expect 0 "accepted by PK-RELAY" as PK-NCCIA send notification.json --to DE-BKA,PH-NBI
notif=$(sent_id)
expect 0 "sent" as PK-NCCIA send preservation.json --to PH-NBI --priority urgent
pres=$(sent_id)
expect 0 "accepted" as PK-NCCIA track --offline
[[ "$LAST" == *"${emerg:0:8}"*accepted* ]] || fail "track before delivery: $LAST"

expect 0 "EMERGENCY" as DE-BKA inbox
first=$(printf '%s\n' "$LAST" | head -1)
[[ "$first" == "* ${emerg:0:12}"* ]] || fail "inbox: emergency not first: $LAST"
expect 0 '"kind":"emergency"' as DE-BKA inbox --offline --json
expect 0 "NCCIA/CEU/2026/0415" as DE-BKA read "${emerg:0:8}"
expect 0 '"emergency"' as DE-BKA read "${emerg:0:8}" --json
expect 0 "  " as DE-BKA inbox --offline
[[ "$LAST" != "* ${emerg:0:12}"* ]] || fail "read did not mark it read: $LAST"

# the sender sees delivered and received (DE-BKA's signed receipt)
expect 0 "received" as PK-NCCIA track "${emerg:0:8}"
[[ "$LAST" == *"delivered"*"by DE-BKA"* && "$LAST" == *"received"*"by DE-BKA"*"(signed)"* ]] ||
  fail "timeline lacks delivered/received by DE-BKA: $LAST"

expect 0 "acknowledged" as DE-BKA ack "${emerg:0:8}"
expect 0 "acknowledged" as PK-NCCIA track "${emerg:0:8}"
expect 0 "sent" as DE-BKA reply "${emerg:0:8}" reply.json
expect 0 "in progress" as PK-NCCIA track "${emerg:0:8}"

# an answer: the reply with status ANSWERED moves it to answered
sed 's/"REPLY_STATUS_PARTIALLY_ANSWERED"/"REPLY_STATUS_ANSWERED"/' reply.json >answer.json
expect 0 "sent" as DE-BKA reply "${emerg:0:8}" answer.json
expect 0 "answered" as PK-NCCIA track "${emerg:0:8}"
rid=$(printf '%s\n' "$LAST" | sed -n 's/.* answered .* in \([0-9a-f]\{8\}\).*/\1/p')
checks=$((checks + 1))
[ -n "$rid" ] || fail "the timeline does not name the answering reply: $LAST"
expect 0 '"REPLY_STATUS_ANSWERED"' as PK-NCCIA read "$rid"

# evidence: a bundle of the request, checked offline with the root key
# alone; any changed byte fails it
expect 0 "evidence bundle" as PK-NCCIA evidence "${emerg:0:8}" --out emerg.bundle
expect 0 "valid" "$A" evidence verify emerg.bundle --root fed/root.pub
for what in "accepted .*signed by PK-RELAY" "delivered .*signed by PK-RELAY *for DE-BKA" \
            "received .*signed by DE-BKA" "acknowledged .*signed by DE-BKA"; do
  checks=$((checks + 1))
  grep -q "$what" <<<"$LAST" || fail "bundle report lacks /$what/: $LAST"
done
expect 0 "evidence bundle" as DE-BKA evidence "${emerg:0:8}" --out de.bundle
expect 0 "signed by PK-RELAY" "$A" evidence verify de.bundle --root fed/root.pub
"$A" admin root-init --dir other $K --kdf interactive >/dev/null
one_line 1 "emerg.bundle" "$A" evidence verify emerg.bundle --root other/root.pub
size=$(stat -c %s emerg.bundle)
flip() { perl -e 'open(F, "+<", $ARGV[0]) or die; binmode F; seek(F, $ARGV[1], 0);
  read(F, $c, 1); seek(F, $ARGV[1], 0); print F chr(ord($c) ^ $ARGV[2]);' "$@"; }
passed=0 tried=0
for off in $(seq 0 7 $((size - 1))) $((size - 1)); do
  cp emerg.bundle bad.bundle
  flip bad.bundle "$off" $((1 << (off % 8)))
  tried=$((tried + 1))
  if "$A" evidence verify bad.bundle --root fed/root.pub >/dev/null 2>&1; then
    passed=$((passed + 1)); echo "changed byte $off still verifies"
  fi
done
checks=$((checks + 1))
[ "$passed" -eq 0 ] || fail "$passed of $tried changed bundles verified"
head -c $((size - 1)) emerg.bundle >short.bundle
expect 1 "short.bundle" "$A" evidence verify short.bundle --root fed/root.pub

# a refusal shows its reason
expect 0 "preservation" as PH-NBI inbox
expect 0 "refused" as PH-NBI refuse "${pres:0:8}" --reason "no such provider here"
expect 0 "no such provider here" as PK-NCCIA track "${pres:0:8}"
expect 0 "refused" as PK-NCCIA track --offline --to PH-NBI --json

# overdue: a deadline two seconds away passes unanswered; it sorts first
expect 0 "sent" as PK-NCCIA send notification.json --to PH-NBI --deadline \
  "$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)"
late=$(sent_id)
sleep 3
expect 0 "OVERDUE" as PK-NCCIA track
row=$(printf '%s\n' "$LAST" | sed -n 2p)
[[ "$row" == OVERDUE*"${late:0:8}"* ]] || fail "overdue not first: $LAST"
awk 'length > 80 { bad = 1 } END { exit bad }' <<<"$LAST" || fail "track wider than 80 columns"
checks=$((checks + 1))
[[ "$LAST" != *$'\033['* ]] || fail "colour codes when stdout is not a terminal"
# on a terminal (a pty, via script(1)): overdue in colour, first, 80 columns
script -qec "'$A' track --offline --home '$work/PK-NCCIA' $K" /dev/null \
  </dev/null >tty.out 2>&1 || fail "track on a pty: $(cat tty.out)"
checks=$((checks + 1))
grep -q $'\033\[1;31mOVERDUE' tty.out || fail "no colour for overdue on a terminal"
sed 's/\x1b\[[0-9;]*m//g; s/\r$//' tty.out >tty.txt
checks=$((checks + 1))
[[ "$(sed -n 2p tty.txt)" == OVERDUE*"${late:0:8}"* ]] || fail "pty: overdue not first: $(cat tty.txt)"
checks=$((checks + 1))
awk 'length > 80 { bad = 1 } END { exit bad }' tty.txt || fail "pty: wider than 80 columns"
expect 0 "${late:0:8}" as PK-NCCIA track --offline --overdue
[[ "$LAST" != *"${emerg:0:8}"* ]] || fail "--overdue lists an answered request"
expect 0 '"overdue": true' as PK-NCCIA track --offline --json

# envelopes to DE-BKA were sealed to its prekey: without its secret, a new
# one cannot be opened; it is set aside (kept, listed as rejected, and
# acknowledged so it does not block what comes after it)
mkdir hidden && mv DE-BKA/prekeys/*.secret hidden/
expect 0 "sent" as PK-NCCIA send notification.json --to DE-BKA
expect 0 "unknown prekey id 1" as DE-BKA sync
mv hidden/*.secret DE-BKA/prekeys/
expect 0 "rejected" as DE-BKA inbox
expect 0 "0 new messages" as DE-BKA sync

# what another agency wrote cannot drive the terminal or break --json
sed 's|"NCCIA/CEU/2026/0415"|"X\\u001b[2K\\r\\"fake"|' notification.json >esc.json
expect 0 "sent" as PK-NCCIA send esc.json --to DE-BKA
expect 0 "X?[2K?\"fake" as DE-BKA inbox
checks=$((checks + 1))
[[ "$LAST" != *$'\033'* && "$LAST" != *$'\r'* ]] || fail "control characters reached the terminal"
expect 0 '"case":"X\u001B[2K\r\"fake"' as DE-BKA inbox --offline --json

# --- bad input: one line, non-zero, nothing sent ----------------------------
count() { as PK-NCCIA track --offline --json | grep -o '"id"' | wc -l; }
before=$(count)
printf '{"schemaVersion": 1,,}' >broken.json
one_line 1 "broken.json" as PK-NCCIA send broken.json --to DE-BKA
sed 's/"NCCIA\/CEU\/2026\/0415"/""/' emergency.json >invalid.json
expect 1 "caseRef" as PK-NCCIA send invalid.json --to DE-BKA
one_line 1 "FR-OCRVP" as PK-NCCIA send notification.json --to FR-OCRVP
expect 2 "--to" as PK-NCCIA send notification.json
PASS=wrong one_line 1 "passphrase" as PK-NCCIA send notification.json --to DE-BKA
cp -r PK-NCCIA broken-home
printf 'not a key file\n' >broken-home/agency.key
chmod 600 broken-home/agency.key
one_line 1 "agency.key" "$A" send notification.json --to DE-BKA --home "$work/broken-home" $K
sed -i "s/127.0.0.1:$port/127.0.0.1:1/" broken-home/client.ini
cp PK-NCCIA/agency.key broken-home/agency.key
one_line 3 "unreachable" "$A" send notification.json --to DE-BKA --home "$work/broken-home" $K
# a revoked recipient: the relay reloads the list (SIGHUP) and hands it
# to the sender at authentication
serial=$("$A" show PH-NBI.cert | sed -n 's/^serial *//p')
"$A" admin revoke --dir fed --serial "$serial" --reason "test: key lost" >/dev/null
"$A" admin crl --dir fed --out crl2.bin $K >/dev/null
mv crl2.bin crl.bin
kill -HUP $relay_pid
sleep 0.5
one_line 1 "revoked" as PK-NCCIA send notification.json --to PH-NBI
[ "$(count)" -eq "$before" ] || fail "a refused send left a message behind"
checks=$((checks + 1))

echo "checks: $checks, failures: $fails"
[ "$fails" -eq 0 ]
