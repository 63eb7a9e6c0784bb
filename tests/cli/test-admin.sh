#!/usr/bin/env bash
# amanat admin and keygen end to end, in a temporary folder: every step's
# exit code and message is checked, refusals included.
# usage: test-admin.sh PATH/TO/amanat
set -euo pipefail
A=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export PW=correct-horse WRONG=wrong-horse
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # expect, fail; fails and checks

K="--passphrase-env PW --kdf interactive"
expect 0 "federation root created" $A admin root-init --dir fed $K
expect 0 "secret keys of DE-BKA" $A keygen --agency DE-BKA $K
expect 0 "secret keys of DE-RELAY" $A keygen --agency DE-RELAY $K
expect 2 "--agency ID is required" $A keygen --agency XX-POLICE $K
expect 1 "exists: not overwritten" $A keygen --agency DE-BKA $K
[ "$(stat -c %a DE-BKA.key)" = 600 ] || { echo "FAIL: DE-BKA.key not 0600"; fails=$((fails+1)); }
[ "$(stat -c %a fed/root.key)" = 600 ] || { echo "FAIL: root.key not 0600"; fails=$((fails+1)); }

expect 0 "serial 1" $A admin issue --dir fed --pub DE-BKA.pub \
  --name "Bundeskriminalamt" --home-relay DE-RELAY $K
expect 0 "serial 2" $A admin issue --dir fed --pub DE-RELAY.pub \
  --name "DE relay" --role relay --out relay.cert $K
expect 1 "wrong passphrase" $A admin issue --dir fed --pub DE-BKA.pub \
  --name X --home-relay DE-RELAY --out other.cert --passphrase-env WRONG
expect 1 "home_relay" $A admin issue --dir fed --pub DE-BKA.pub --name X \
  --out other.cert $K
expect 2 "--pub and --name are required" $A admin issue --dir fed $K

expect 0 "valid: DE-BKA.cert, DE-BKA (serial 1)" \
  $A admin verify DE-BKA.cert --root fed/root.pub
expect 1 "lacks the relay role" \
  $A admin verify DE-BKA.cert --root fed/root.pub --role relay
expect 1 "expired at" \
  $A admin verify DE-BKA.cert --root fed/root.pub --at 2030-01-01
expect 1 "not valid before" \
  $A admin verify DE-BKA.cert --root fed/root.pub --at 2020-01-01
expect 2 "use 2026-12-01" \
  $A admin verify DE-BKA.cert --root fed/root.pub --at tomorrow

# another federation's root
expect 0 "federation root created" $A admin root-init --dir other $K
expect 1 "another federation's root" \
  $A admin verify DE-BKA.cert --root other/root.pub

# a forged byte in the certificate
cp DE-BKA.cert forged.cert
printf 'Z' | dd of=forged.cert bs=1 seek=20 conv=notrunc status=none
expect 1 "invalid: forged.cert" $A admin verify forged.cert --root fed/root.pub

# revocation, and a list older than the one held
expect 0 "revocation list, sequence 1" $A admin crl --dir fed --out crl1.bin $K
expect 0 "serial 1 (DE-BKA) revoked" $A admin revoke --dir fed --serial 1 \
  --reason "key compromised"
expect 1 "already revoked" $A admin revoke --dir fed --serial 1
expect 1 "no certificate with serial 9" $A admin revoke --dir fed --serial 9
expect 0 "valid" $A admin verify DE-BKA.cert --root fed/root.pub --crl crl1.bin
expect 0 "sequence 2" $A admin crl --dir fed --out crl2.bin $K
expect 1 "is revoked" $A admin verify DE-BKA.cert --root fed/root.pub \
  --crl crl2.bin
expect 0 "not revoked" $A admin verify relay.cert --root fed/root.pub \
  --crl crl2.bin --role relay

# show, for a person and for a script
expect 0 "Bundeskriminalamt" $A show DE-BKA.cert
expect 0 '"type": "revocation list"' $A admin show crl2.bin --json
expect 0 "key compromised" $A show crl2.bin
expect 0 "sealed         true" $A show DE-BKA.key
expect 1 "not a key file, certificate" $A show /etc/hostname

# a secret key file others can read is refused before any passphrase
chmod 644 fed/root.key
expect 1 "readable by group or others (mode 0644)" $A admin crl --dir fed \
  --out crl3.bin $K
chmod 600 fed/root.key
expect 1 "empty passphrase" $A admin crl --dir fed --out crl3.bin \
  --passphrase-fd 0 </dev/null

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
