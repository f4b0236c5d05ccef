#!/usr/bin/env bash
# Compressed hits against identity hits of the same 64 KiB JavaScript
# object on one edge (release build): wrk, 64 connections, alternated
# rounds; prints every round, the medians, their ratio, and the bytes each
# response carries. The issue's floor: br hits >= 0.9x identity hits
# (compression is paid once, then the variant is a cached body).
#
#   bench/compress.sh BIN_DIR [ROUNDS] [SECONDS]
set -euo pipefail
BIN=$1 ROUNDS=${2:-3} D=${3:-8}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
export AWS_ACCESS_KEY_ID=CKCOMPRESSBENCH00001 AWS_SECRET_ACCESS_KEY=compressbenchsecretcompressbench0000
AWS=${AWS_CLI:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/aws}
[ -x "$AWS" ] || AWS=aws
export AWS_DEFAULT_REGION=us-east-1
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; exit 1; }

# 64 KiB of JavaScript-like text.
python3 - "$WORK/app.js" <<'PY'
import sys
out, i = [], 0
while sum(map(len, out)) < 64 * 1024:
    out.append(f"export function handler{i}(event) {{ return render('v1', event.id, {i}, event.user); }}\n")
    i += 1
open(sys.argv[1], "w").write("".join(out))
PY
port=$((30000 + RANDOM % 20000))
O=http://127.0.0.1:$port E=http://127.0.0.1:$((port + 1))
CAIRN_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID CAIRN_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY CAIRN_LOG=warn \
  "$BIN/cairn-origin" serve --data-dir "$WORK/data" --listen 127.0.0.1:$port >/dev/null 2>&1 &
PIDS+=($!)
wait_http $O/health
key=$("$BIN/cairn-origin" key create bench-edge --edge --data-dir "$WORK/data")
CAIRN_SECRET_KEY=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' <<<"$key") CAIRN_LOG=warn \
  "$BIN/cairn-edge" serve --origin $O --access-key "$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' <<<"$key")" \
  --listen 127.0.0.1:$((port + 1)) --cache-dir "$WORK/edge" >/dev/null 2>&1 &
PIDS+=($!)
wait_http $E/health
$AWS --endpoint-url $O s3api create-bucket --bucket site --acl public-read >/dev/null
$AWS --endpoint-url $O s3 cp "$WORK/app.js" s3://site/app.js --content-type application/javascript \
  --cache-control "public, max-age=3600" >/dev/null
# Warm the identity and the br variant (compressed once, here).
for _ in 1 2 3; do
  curl -fs -o /dev/null $E/site/app.js
  curl -fs -o /dev/null -H 'Accept-Encoding: br' $E/site/app.js
done
ident_bytes=$(curl -fs $E/site/app.js | wc -c)
br_bytes=$(curl -fs -H 'Accept-Encoding: br' $E/site/app.js | wc -c)

ident=() br=()
for r in $(seq "$ROUNDS"); do
  i=$(wrk -t2 -c64 -d${D}s $E/site/app.js | awk '/Requests\/sec/ {print int($2)}')
  b=$(wrk -t2 -c64 -d${D}s -H 'Accept-Encoding: br' $E/site/app.js | awk '/Requests\/sec/ {print int($2)}')
  ident+=("$i") br+=("$b")
  printf 'round %s: identity %6s req/s | br %6s req/s\n' "$r" "$i" "$b"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mi=$(median "${ident[@]}") mb=$(median "${br[@]}")
echo
echo "| 64 KiB JS hit, wrk 64 conns | req/s (median of $ROUNDS) | bytes per response |"
echo "|---|---|---|"
echo "| identity | $mi | $ident_bytes |"
echo "| br | $mb | $br_bytes |"
echo "| br / identity | $(python3 -c "print(f'{$mb/$mi:.3f}')") | $(python3 -c "print(f'{$br_bytes/$ident_bytes:.3f}')") |"
compressions=$(curl -fs $E/metrics | awk '/^cairn_edge_compressions_total/ {print $NF}')
echo "compressions during the run: $compressions (one per encoding)"
