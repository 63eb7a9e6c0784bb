# What the Node.js interop tests share; sourced, after TAG (the test's
# name, for messages) and work (a build-tree folder the test owns) are set:
#   node_path, npm_path  the tools (missing(): skip, or fail under CI);
#   npm_install          the packages of package.json / package-lock.json
#                        in $work/node_modules (npm ci, only when missing
#                        or when either file changed);
#   es_generate          protobuf-es code for every proto/*.proto in
#                        $work/gen, made anew (protoc with protoc-gen-es).
# A tool that is not there is skipped on a developer's machine (exit 77,
# ctest's SKIP_RETURN_CODE) and fails in CI, where .ci/deps installs it.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip=77

die() { echo "$TAG: $*" >&2; exit 1; }

missing() {
  if [ -z "${CI:-}" ]; then
    echo "$TAG: SKIP: $* (install nodejs, npm and protobuf-compiler: bash .ci/deps)"
    exit $skip
  fi
  die "$* (CI is set: .ci/deps should have installed it)"
}

# node_setup NODE: node_path and npm_path, node 18 or later.
node_setup() {
  node_path=$(command -v "$1" 2>/dev/null) || missing "no node program ($1)"
  # npm beside that node first, so that npm and what it runs use it too
  export PATH="$(dirname "$node_path"):$PATH"
  npm_path=$(command -v npm 2>/dev/null) || missing "no npm"
  local major
  major=$("$node_path" -p 'process.versions.node.split(".")[0]') ||
    die "$node_path does not run"
  [ "$major" -ge 18 ] || die "node $("$node_path" --version) is too old: 18 or later needed"
}

# Exactly what package-lock.json names (npm ci refuses a lock file that
# does not match package.json), no install scripts, bounded in time.  The
# stamp holds the hash of the two files the tree was installed from.
npm_install() {
  local stamp
  mkdir -p "$work" || die "cannot make $work"
  work=$(cd "$work" && pwd)
  stamp=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
  [ "$(cat "$work/node_modules/.amanat-stamp" 2>/dev/null)" = "$stamp" ] && return 0
  echo "$TAG: npm ci ($("$npm_path" --version 2>/dev/null) on node $("$node_path" --version))"
  cp "$here/package.json" "$here/package-lock.json" "$work/" || die "cannot copy the package files"
  [ -n "${HOME:-}" ] && [ -w "${HOME:-/nonexistent}" ] || export npm_config_cache="$work/npm-cache"
  ( cd "$work" && timeout 300 "$npm_path" ci --ignore-scripts --no-audit --no-fund \
      --no-update-notifier --loglevel=error --fetch-timeout=60000 --fetch-retries=2 ) \
    || die "npm ci failed (exit $?)"
  echo "$stamp" >"$work/node_modules/.amanat-stamp"
}

# protoc-gen-es run by the same node, through a wrapper, not by the
# "#!/usr/bin/env node" line of its own script.  Sets protoc_path.
es_generate() {
  local proto_dir wkt_dir="" d plugin="$work/protoc-gen-es"
  proto_dir=$(cd "$here/../../proto" && pwd) || die "no proto/ beside $here"
  protoc_path=$(command -v protoc 2>/dev/null) || missing "no protoc"
  for d in /usr/include /usr/local/include; do
    [ -f "$d/google/protobuf/timestamp.proto" ] && { wkt_dir=$d; break; }
  done
  [ -n "$wkt_dir" ] || missing "no google/protobuf/timestamp.proto (libprotobuf-dev)"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_path" \
    "$work/node_modules/@bufbuild/protoc-gen-es/bin/protoc-gen-es" >"$plugin"
  chmod +x "$plugin"
  rm -rf "$work/gen" && mkdir -p "$work/gen"
  timeout 120 "$protoc_path" --plugin=protoc-gen-es="$plugin" \
    --es_out="$work/gen" --es_opt=target=js,import_extension=js \
    --proto_path="$proto_dir" --proto_path="$wkt_dir" "$proto_dir"/*.proto \
    || die "protoc with protoc-gen-es failed"
}
