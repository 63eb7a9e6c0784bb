#!/usr/bin/env bash
# The Noise vectors against an independent implementation on Node.js
# (noise-handshake with @noble/curves; tests/interop/js/noise_vectors.mjs):
# the first step of the JavaScript client (docs/PROTOCOL.md section 4).
#   js-noise.sh NODE WORK_DIR VECTOR_FILE...
# Skipped (exit 77) when node or npm is missing, unless CI is set.
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 NODE WORK_DIR VECTOR_FILE..." >&2
  exit 2
fi
node=$1 work=$2
shift 2
TAG=js-noise
. "$(dirname "$0")/npm-env.sh"
for f in "$@"; do
  [ -f "$f" ] || die "no vector file $f (../shared beside the clone, or AM_SHARED_DIR)"
done
node_setup "$node"
npm_install
rm -rf "$work/js" && cp -r "$here/js" "$work/js" || die "cannot copy js/"
timeout 120 "$node_path" "$work/js/noise_vectors.mjs" "$@"
