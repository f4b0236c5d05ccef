#!/usr/bin/env bash
# The fault suite (issue 13): kill -9 under load, a black-holed origin behind
# an edge, connection floods and a full disk, against the binaries
# scripts/test built. Prints what it tried and what held; exits 1 if any
# fault did not hold. Needs root (the full disk is a tmpfs mount).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${CAIRN_BIN_DIR:-$PWD/target/debug}
[ -x "$BIN/cairn-origin" ] && [ -x "$BIN/cairn-edge" ] && [ -x "$BIN/cairn-flood" ] || cargo build --workspace --bins --locked
if ! .venv/bin/python -c 'import boto3' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check boto3 awscli
fi
unset AWS_CA_BUNDLE
exec .venv/bin/python tests/faults/faults.py "$BIN"
