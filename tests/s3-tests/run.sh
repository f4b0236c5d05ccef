#!/usr/bin/env bash
# ceph/s3-tests (../shared/conformance, pinned and unmodified) against a fresh
# origin: the whole test_s3.py with -m 'not fails_on_aws', serial. Fails when
# a test listed in passing.txt does not pass; prints the count, and the tests
# that newly pass (add them to passing.txt with the change that made them).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${CAIRN_ORIGIN_BIN:-$ROOT/target/debug/cairn-origin}
CONFORMANCE=${CAIRN_CONFORMANCE:-$ROOT/../shared/conformance}
[ -d "$CONFORMANCE" ] || CONFORMANCE=/work/shared/conformance
[ -x "$CONFORMANCE/run-s3tests.sh" ] || { echo "no ceph/s3-tests at $CONFORMANCE" >&2; exit 1; }
WORK=$(mktemp -d)
MAIN_AK=CKS3TESTSMAIN0000001 MAIN_SK=s3testsmainsecrets3testsmainsecret000000
# Port 0: the kernel picks a free port and the origin says which. (A
# random port can be one an earlier stage's client sockets still hold.)
CAIRN_ROOT_ACCESS_KEY=$MAIN_AK CAIRN_ROOT_SECRET_KEY=$MAIN_SK CAIRN_LOG=warn \
  "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/origin.out" 2>"$WORK/origin.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=
for _ in $(seq 100); do
  PORT=$(sed -n 's|^cairn-origin listening on http://127.0.0.1:||p' "$WORK/origin.out")
  [ -n "$PORT" ] && curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 $PID 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ] || ! curl -fs "http://127.0.0.1:$PORT/health" >/dev/null; then
  echo "s3-tests: the origin did not start:" >&2
  cat "$WORK/origin.log" >&2
  exit 1
fi
"$BIN" key create s3tests-alt --data-dir "$WORK/data" >"$WORK/alt.env"
# The SSE-KMS key ids the suite names (its kms_keyid defaults).
for k in testkey-1 testkey-2; do "$BIN" sse add-key $k --data-dir "$WORK/data" >/dev/null; done
ALT_AK=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$WORK/alt.env")
ALT_SK=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$WORK/alt.env")
# The canonical ids Cairn reports in Owner: sha256("cairn-owner:" + access key).
oid() { printf 'cairn-owner:%s' "$1" | sha256sum | cut -d' ' -f1; }
export MAIN_USER_ID=$(oid $MAIN_AK) MAIN_DISPLAY_NAME=root ALT_USER_ID=$(oid "$ALT_AK") ALT_DISPLAY_NAME=s3tests-alt
export S3TESTS_VENV=${S3TESTS_VENV:-$ROOT/.s3tests-venv} S3TESTS_OUT=$WORK/out
unset AWS_CA_BUNDLE
mkdir -p "$S3TESTS_OUT"
"$CONFORMANCE/run-s3tests.sh" $PORT $MAIN_AK $MAIN_SK "$ALT_AK" "$ALT_SK" -m 'not fails_on_aws' | tail -1
awk -F'\t' '$2=="passed" {print $1}' "$S3TESTS_OUT/results.tsv" | sort >"$WORK/passed.txt"
sort tests/s3-tests/passing.txt >"$WORK/expected.txt"
lost=$(comm -23 "$WORK/expected.txt" "$WORK/passed.txt")
gained=$(comm -13 "$WORK/expected.txt" "$WORK/passed.txt")
echo "s3-tests: $(wc -l <"$WORK/passed.txt") passed; $(wc -l <"$WORK/expected.txt") listed in tests/s3-tests/passing.txt"
[ -z "$gained" ] || { echo "newly passing (add to passing.txt):"; sed 's/^/  /' <<<"$gained"; }
if [ -n "$lost" ]; then
  echo "FAILED: listed as passing, did not pass:" >&2
  sed 's/^/  /' <<<"$lost" >&2
  exit 1
fi
