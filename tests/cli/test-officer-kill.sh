#!/usr/bin/env bash
# The receiving client killed with SIGKILL at random moments while it
# stores and acknowledges a backlog: afterwards every message is in its
# store exactly once, and the relay holds nothing more for it.
# usage: test-officer-kill.sh PATH/TO/amanat PATH/TO/amanat-relay SOURCE_DIR [ROUNDS]
set -euo pipefail
A=$1
RELAY=$2
SRC=$3
ROUNDS=${4:-10}
N=120
work=$(mktemp -d)
relay_pid=
trap '[ -n "$relay_pid" ] && { kill $relay_pid 2>/dev/null || true; }; rm -rf "$work"' EXIT
cd "$work"
export PASS=test-only-passphrase
K="--passphrase-env PASS"
. "$SRC/tests/cli/lib.sh"

fed_make PK-NCCIA DE-BKA
mkdir certs && cp PK-NCCIA.cert DE-BKA.cert certs/
relay_start
for id in PK-NCCIA DE-BKA; do
  join $id >/dev/null
done
sed '/"createdAt"/d' "$SRC/docs/examples/notification.json" >n.json
for i in $(seq $N); do
  as PK-NCCIA send n.json --to DE-BKA >/dev/null
done

killed=0 progress=""
# ids listed in DE-BKA's inbox, one per line (none is not an error)
ids_in() { as DE-BKA inbox --offline --json | { grep -o '"id":"[0-9a-f]*"' || true; }; }
count_in() { ids_in | wc -l; }
for r in $(seq "$ROUNDS"); do
  as DE-BKA sync >/dev/null 2>&1 &
  pid=$!
  # somewhere in its first second: mid-handshake, mid-store, mid-ack...
  sleep "0.$(printf "%03d" $((RANDOM % 700)))"
  if kill -9 $pid 2>/dev/null; then killed=$((killed + 1)); fi
  wait $pid 2>/dev/null || true
  progress="$progress $(count_in)"
done
echo "stored after each kill:$progress"
as DE-BKA sync >/dev/null
as DE-BKA sync >/dev/null   # nothing more may come
stored=$(ids_in | sort -u | wc -l)
rows=$(count_in)
left=$(as PK-NCCIA track --json | grep -o '"state": "accepted"' | wc -l || true)
echo "rounds $ROUNDS (killed $killed mid-run), sent $N, stored $stored," \
     "listed $rows, still undelivered $left"
[ "$stored" -eq "$N" ] && [ "$rows" -eq "$N" ] && [ "$left" -eq 0 ]
