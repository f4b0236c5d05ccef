#!/usr/bin/env bash
# Peak resident memory of the origin while ten 1 GiB uploads and ten 1 GiB
# downloads run at once. Needs ~25 GiB of free disk under $WORK.
# Usage: bench/memory.sh   (prints the peak RSS; exits non-zero over 200 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --workspace --bins --quiet
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
export CAIRN_ROOT_ACCESS_KEY=CKMEMBENCH0000000001 CAIRN_ROOT_SECRET_KEY=memorybenchsecretmemorybenchsecret000000
export AWS_ACCESS_KEY_ID=$CAIRN_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$CAIRN_ROOT_SECRET_KEY
PORT=${PORT:-9190}
CAIRN_LOG=warn target/release/cairn-origin serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT >"$WORK/origin.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
B="target/release/cairn-bench --endpoint http://127.0.0.1:$PORT --size 1GiB --concurrency 10 --ops 10"
echo "preparing ten 1 GiB objects to download..."
$B put --prefix down
echo "ten uploads and ten downloads at once..."
$B put --prefix up &
UP=$!
$B get --prefix down &
DOWN=$!
wait $UP $DOWN
PEAK_KB=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
echo "origin peak RSS: $((PEAK_KB / 1024)) MiB (limit 200 MiB)"
[ "$PEAK_KB" -lt $((200 * 1024)) ]
