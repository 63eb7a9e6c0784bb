# What the command-line tests share; sourced, with A set to the amanat
# binary (and RELAY to amanat-relay, K to the key options, work to the
# temporary folder, for the federation helpers).

fails=0 checks=0
LAST=

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE TEXT CMD...: exit code CODE and TEXT somewhere in the
# output (kept in LAST).
expect() {
  local code=$1 text=$2 out rc
  shift 2
  checks=$((checks + 1))
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  if [ "$rc" -ne "$code" ] || [[ "$out" != *"$text"* ]]; then
    fail "$* -> exit $rc (want $code), output:"
    echo "$out" | head -20 | sed 's/^/    /'
    echo "    (wanted to see: $text)"
  fi
  LAST=$out
}

# fed_make ID...: a root in fed/, the keys and certificate of the relay
# PK-RELAY and of each agency ID (homed there), in the current folder.
fed_make() {
  "$A" admin root-init --dir fed $K --kdf interactive >/dev/null
  for id in PK-RELAY "$@"; do
    "$A" keygen --agency "$id" $K --kdf interactive >/dev/null
  done
  "$A" admin issue --dir fed --pub PK-RELAY.pub --role relay --name relay \
    $K >/dev/null
  for id in "$@"; do
    "$A" admin issue --dir fed --pub "$id.pub" --home-relay PK-RELAY \
      --name "$id" $K >/dev/null
  done
}

# relay_start FLAG...: amanat-relay on 127.0.0.1 serving the certificates
# in certs/; sets relay_pid and port.
relay_start() {
  "$RELAY" --data data --root fed/root.pub --cert PK-RELAY.cert \
    --key PK-RELAY.key --certs certs --port 0 $K "$@" >relay.out 2>relay.log &
  relay_pid=$!
  for _ in $(seq 100); do
    grep -q 'listening on' relay.out 2>/dev/null && break
    sleep 0.1
  done
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' relay.out)
  [ -n "$port" ] || { cat relay.log; exit 1; }
}

# join ID: the agency's profile in $work/ID, on the relay started.
join() {
  "$A" join --home "$work/$1" --key "$1.key" --cert "$1.cert" \
    --root fed/root.pub --relay "127.0.0.1:$port"
}

# as ID ARG...: amanat as that agency's officer.
as() { local who=$1; shift; "$A" "$@" --home "$work/$who" $K; }

# --- federations of several relays (test-federation.sh, crash tests) ----

# fed_relays RELAY:AGENCY,AGENCY... ...: a root in fed/, and for each
# relay its keys, certificate and folder RELAY/ whose certs/ holds the
# certificates of the agencies homed there.
fed_relays() {
  local spec r ids id
  "$A" admin root-init --dir fed $K --kdf interactive >/dev/null
  for spec in "$@"; do
    r=${spec%%:*}
    ids=${spec#*:}
    mkdir -p "$r/certs"
    "$A" keygen --agency "$r" $K --kdf interactive >/dev/null
    "$A" admin issue --dir fed --pub "$r.pub" --role relay --name "$r" \
      $K >/dev/null
    for id in ${ids//,/ }; do
      "$A" keygen --agency "$id" $K --kdf interactive >/dev/null
      "$A" admin issue --dir fed --pub "$id.pub" --home-relay "$r" \
        --name "$id" $K >/dev/null
      cp "$id.cert" "$r/certs/"
    done
  done
}

# pick_ports RELAY...: a free-looking port for each, in PORT_<RELAY>.
pick_ports() {
  local r p
  for r in "$@"; do
    while :; do
      p=$((20000 + RANDOM % 40000))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || break
    done
    printf -v "PORT_${r//-/_}" '%s' "$p"
  done
}

# fed_start RELAY PEER... [-- FLAG...]: amanat-relay RELAY on its port,
# linked with each PEER; sets PID_<RELAY>.  Returns 1 when it cannot
# listen (the port was taken meanwhile).
fed_start() {
  local r=$1 v p args=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    v="PORT_${1//-/_}"
    args+=(--peer "$1@127.0.0.1:${!v}")
    shift
  done
  [ $# -gt 0 ] && shift
  v="PORT_${r//-/_}"
  "$RELAY" --data "$r/data" --root fed/root.pub --cert "$r.cert" \
    --key "$r.key" --certs "$r/certs" --port "${!v}" $K \
    --expire-interval-ms 200 "${args[@]}" "$@" \
    >"$r/out" 2>>"$r/log" &
  printf -v "PID_${r//-/_}" '%s' "$!"
  for _ in $(seq 100); do
    grep -q 'listening on' "$r/out" 2>/dev/null && return 0
    kill -0 "$!" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# join_at ID RELAY: the agency's profile in $work/ID, on that relay.
join_at() {
  local v="PORT_${2//-/_}"
  "$A" join --home "$work/$1" --key "$1.key" --cert "$1.cert" \
    --root fed/root.pub --relay "127.0.0.1:${!v}"
}

# wait_log RELAY TEXT [SECONDS]: until the relay's log says TEXT.
wait_log() {
  local i
  for i in $(seq $((${3:-10} * 10))); do
    grep -q -- "$2" "$1/log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
