#!/usr/bin/env bash
# The real-client matrix: boto3, a browser, the AWS CLI and rclone against a freshly
# started origin. Each step is asserted (exit codes, byte comparisons).
# Installs what it needs: a Python venv with boto3 and awscli, rclone from
# Debian (with Chromium, and ffmpeg to make a test video). Uses the origin binary that scripts/test already built.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${CAIRN_ORIGIN_BIN:-$ROOT/target/debug/cairn-origin}
EDGE_BIN=${CAIRN_EDGE_BIN:-$ROOT/target/debug/cairn-edge}
[ -x "$BIN" ] && [ -x "$EDGE_BIN" ] || cargo build --locked --workspace --bins

if [ ! -x .venv/bin/aws ] || ! .venv/bin/python -c 'import boto3' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check boto3 awscli
fi
missing=()
command -v rclone >/dev/null || missing+=(rclone)
command -v chromium >/dev/null || missing+=(chromium)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

WORK=$(mktemp -d)
# The sandbox may point AWS_CA_BUNDLE at a proxy CA; it only matters for
# TLS, and rclone refuses to start with it on a plain-HTTP endpoint.
unset AWS_CA_BUNDLE
export CAIRN_ROOT_ACCESS_KEY=CKCLIENTMATRIX000001 CAIRN_ROOT_SECRET_KEY=clientmatrixsecretclientmatrixsecret0000
# Port 0: the kernel picks a free port and the daemon says which (a random
# one can be held by an earlier stage's client sockets).
"$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/origin.out" 2>"$WORK/origin.log" &
PID=$!
cleanup() { kill $PID ${EPID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
fail() { echo "FAILED: $*" >&2; tail -20 "$WORK/origin.log" >&2; cleanup; exit 1; }
trap cleanup EXIT
# The address a daemon (pid $1) printed on its stdout ($2) once it answers.
listening() {
  local addr
  for _ in $(seq 100); do
    addr=$(sed -n 's|^cairn-[a-z]* listening on http://||p' "$2")
    [ -n "$addr" ] && curl -fs "http://$addr/health" >/dev/null && { echo "$addr"; return 0; }
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
ADDR=$(listening $PID "$WORK/origin.out") || fail "the origin did not start"
EP=http://$ADDR
export AWS_ACCESS_KEY_ID=$CAIRN_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$CAIRN_ROOT_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
passed=0; failed=0
step() { local name=$1; shift; if "$@"; then echo "ok: $name"; passed=$((passed+1)); else echo "FAILED: $name" >&2; failed=$((failed+1)); fi; }

# --- boto3
step "boto3 suite" .venv/bin/python tests/clients/boto3_check.py "$EP" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$WORK"

# --- a browser (headless Chromium) on another origin
step "browser: presigned PUT, POST form, CORS" .venv/bin/python tests/clients/browser_check.py "$EP" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$WORK"

# --- the edge, seen from a browser
"$BIN" key create matrix-edge --edge --data-dir "$WORK/data" >"$WORK/edge.key"
EAK=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$WORK/edge.key"); ESK=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$WORK/edge.key")
# The edge also serves a static site over HTTPS, with a certificate for its
# host that the browser trusts by public key (as scripts/start prints).
SITE_HOST=www.site.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$SITE_HOST" \
  -addext "subjectAltName=DNS:$SITE_HOST" -keyout "$WORK/site.key" -out "$WORK/site.crt" 2>/dev/null
cat "$WORK/site.crt" "$WORK/site.key" >"$WORK/site.pem"
SPKI=$(openssl x509 -in "$WORK/site.crt" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
"$EDGE_BIN" serve --origin "$EP" --access-key "$EAK" --secret-key "$ESK" --listen 127.0.0.1:0 --cache-dir "$WORK/edge-cache" \
  --tls-listen 127.0.0.1:0 --tls-cert "$WORK/site.pem" --sites "$SITE_HOST=site" --hsts "$SITE_HOST=max-age=600" \
  >"$WORK/edge.out" 2>"$WORK/edge.log" &
EPID=$!
EADDR=$(listening $EPID "$WORK/edge.out") || fail "the edge did not start"
ETLS=$(sed -n 's|^cairn-edge listening on https://||p' "$WORK/edge.out")
step "browser through the edge: assets, seek, CORS, reload" .venv/bin/python tests/clients/edge_browser_check.py "$EP" "http://$EADDR" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$WORK"
step "browser visits a site over https: h2, compressed assets, error page, HSTS" .venv/bin/python tests/clients/site_browser_check.py "$EP" "$ETLS" "$SITE_HOST" "$SPKI" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"

# --- AWS CLI
aws() { "$ROOT/.venv/bin/aws" --endpoint-url "$EP" "$@"; }
mkdir -p "$WORK/src/sub" "$WORK/dst"
head -c 1000 /dev/urandom >"$WORK/small.bin"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"
for i in 1 2 3; do head -c $((i * 1000)) /dev/urandom >"$WORK/src/f$i"; done
head -c 12345 /dev/urandom >"$WORK/src/sub/nested file.txt"
step "aws s3 mb" aws s3 mb s3://cli
step "aws s3 cp small" aws s3 cp "$WORK/small.bin" s3://cli/small.bin
step "aws s3 cp 100 MiB (multipart)" aws s3 cp "$WORK/big.bin" s3://cli/big.bin
step "aws s3 cp back" aws s3 cp s3://cli/big.bin "$WORK/big.back"
step "100 MiB identical" cmp "$WORK/big.bin" "$WORK/big.back"
aws s3 cp s3://cli/small.bin "$WORK/small.back" >/dev/null
step "small identical" cmp "$WORK/small.bin" "$WORK/small.back"
step "aws s3 sync up" aws s3 sync "$WORK/src" s3://cli/tree
step "aws s3 sync down" aws s3 sync s3://cli/tree "$WORK/dst"
step "sync round trip identical" diff -r "$WORK/src" "$WORK/dst"
listing=$(aws s3 ls --recursive s3://cli/tree)
step "aws s3 ls --recursive lists 4 files" test "$(echo "$listing" | wc -l)" = 4
step "ls shows nested key" grep -q "tree/sub/nested file.txt" <<<"$listing"
step "aws s3api head-object" bash -c "$(declare -f aws); ROOT=$ROOT EP=$EP aws s3api head-object --bucket cli --key big.bin | grep -q '\"ContentLength\": 104857600'"
upload_id=$(aws s3api create-multipart-upload --bucket cli --key pending --query UploadId --output text)
step "aws s3api list-multipart-uploads" bash -c "$(declare -f aws); ROOT=$ROOT EP=$EP aws s3api list-multipart-uploads --bucket cli | grep -q $upload_id"
step "aws s3api abort-multipart-upload" aws s3api abort-multipart-upload --bucket cli --key pending --upload-id "$upload_id"
step "aws s3 rm --recursive" aws s3 rm --recursive s3://cli/tree
listing=$(aws s3 ls --recursive s3://cli/) || fail "aws s3 ls"
step "tree is empty" bash -c "! grep -q tree/ <<<'$listing'"

# --- rclone
export RCLONE_CONFIG_CAIRN_TYPE=s3 RCLONE_CONFIG_CAIRN_PROVIDER=Other RCLONE_CONFIG_CAIRN_ENDPOINT=$EP
export RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_CAIRN_REGION=us-east-1
rc() { rclone --config /dev/null "$@"; }
step "rclone mkdir" rc mkdir cairn:rcl
step "rclone copy" rc copy "$WORK/src" cairn:rcl/copy
step "rclone check (hashes)" rc check "$WORK/src" cairn:rcl/copy
mkdir -p "$WORK/bigdir" && cp "$WORK/big.bin" "$WORK/bigdir/"
step "rclone copy big (multipart)" rc copy --s3-upload-cutoff 10M --s3-chunk-size 16M "$WORK/bigdir" cairn:rcl/big
step "rclone check big" rc check "$WORK/bigdir" cairn:rcl/big
echo changed >"$WORK/src/f1"
step "rclone sync" rc sync "$WORK/src" cairn:rcl/copy
step "rclone check after sync" rc check "$WORK/src" cairn:rcl/copy
step "rclone lsjson" bash -c "rclone --config /dev/null lsjson -R cairn:rcl/copy | grep -q '\"Path\":\"sub/nested file.txt\"'"
step "rclone delete" rc delete cairn:rcl/copy
left=$(rc lsf -R cairn:rcl/copy) || fail "rclone lsf"
step "rclone sees nothing left" test -z "$left"

echo "clients: $passed passed, $failed failed"
[ "$failed" = 0 ]
