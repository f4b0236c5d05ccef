#!/usr/bin/env bash
# A/B: two builds of cairn-origin and cairn-edge, alternated in one run on
# one machine (it is noisy), on the scenarios a change must not slow down:
# origin 4 KiB PUT (fsync'd, 32 clients) and GET (32 clients), and edge
# 4 KiB hits (wrk, 64 connections). Prints every round and the medians.
#
#   bench/ab.sh OLD_BIN_DIR NEW_BIN_DIR [ROUNDS] [SECONDS]
#
# Each BIN_DIR holds cairn-origin and cairn-edge; cairn-bench comes from
# NEW_BIN_DIR (or target/release). Installs wrk from Debian if missing.
set -euo pipefail
OLD=$1 NEW=$2 ROUNDS=${3:-3} D=${4:-10}
BENCH=${CAIRN_BENCH:-$NEW/cairn-bench}
[ -x "$BENCH" ] || BENCH=$(cd "$(dirname "$0")/.." && pwd)/target/release/cairn-bench
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
export AWS_ACCESS_KEY_ID=CKABBENCH00000000001 AWS_SECRET_ACCESS_KEY=abbenchsecretabbenchsecretabbench0000
WORK=$(mktemp -d)
head -c 4096 /dev/urandom >"$WORK/4k.bin"
# The AWS CLI from the clients' venv (tests/clients/run.sh makes it).
AWS=${AWS_CLI:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/aws}
[ -x "$AWS" ] || AWS=aws
unset AWS_CA_BUNDLE
export AWS_DEFAULT_REGION=us-east-1
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer from $1" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["ops_per_sec"]))' "$1"; }

declare -A RESULTS
one_round() {
  local name=$1 bin=$2 port=$3
  local data="$WORK/$name-$port"
  CAIRN_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID CAIRN_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY CAIRN_LOG=warn \
    "$bin/cairn-origin" serve --data-dir "$data" --listen 127.0.0.1:$port >/dev/null 2>&1 &
  local origin=$!
  PIDS+=($origin)
  wait_http http://127.0.0.1:$port/health
  local O=http://127.0.0.1:$port
  local put get
  put=$("$BENCH" put --endpoint $O --bucket put4k --size 4KiB --concurrency 32 --duration ${D}s --keys 100000000 --json --quiet)
  "$BENCH" put --endpoint $O --bucket get4k --size 4KiB --concurrency 32 --ops 2000 --keys 2000 --json --quiet >/dev/null
  get=$("$BENCH" get --endpoint $O --bucket get4k --size 4KiB --concurrency 32 --duration ${D}s --keys 2000 --json --quiet)
  # The edge in front, serving one public 4 KiB object from memory.
  local key edge_port=$((port + 1))
  key=$("$bin/cairn-origin" key create ab-edge --edge --data-dir "$data")
  local eak esk
  eak=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' <<<"$key"); esk=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' <<<"$key")
  CAIRN_LOG=warn "$bin/cairn-edge" serve --origin $O --access-key "$eak" --secret-key "$esk" \
    --listen 127.0.0.1:$edge_port --cache-dir "$data/edge" >/dev/null 2>&1 &
  local edge=$!
  PIDS+=($edge)
  wait_http http://127.0.0.1:$edge_port/health
  $AWS --endpoint-url $O s3api create-bucket --bucket site --acl public-read >/dev/null
  $AWS --endpoint-url $O s3 cp "$WORK/4k.bin" s3://site/hit0 --cache-control "public, max-age=3600" >/dev/null
  wait_http "http://127.0.0.1:$edge_port/site/hit0"
  local hits
  hits=$(wrk -t2 -c64 -d${D}s "http://127.0.0.1:$edge_port/site/hit0" | awk '/Requests\/sec/ {print int($2)}')
  kill $edge $origin; wait $edge $origin 2>/dev/null || true
  local p g
  p=$(field "$put"); g=$(field "$get")
  RESULTS[$name]+="$p $g $hits,"
  printf '%-4s round: origin PUT %6s ops/s | origin GET %6s ops/s | edge hits %6s req/s\n' "$name" "$p" "$g" "$hits"
}

port=$((30000 + RANDOM % 20000))
for r in $(seq "$ROUNDS"); do
  # Alternate which goes first, so drift favours neither.
  if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for v in $order; do
    bin=$OLD; [ $v = new ] && bin=$NEW
    one_round $v "$bin" $port
    port=$((port + 2))
  done
done

median() { tr ',' '\n' <<<"$1" | awk -v c="$2" 'NF {print $c}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| scenario | old (median of $ROUNDS) | new | new/old |"
echo "|---|---|---|---|"
for i in 1 2 3; do
  label=("" "origin 4 KiB PUT, 32 clients (ops/s)" "origin 4 KiB GET, 32 clients (ops/s)" "edge 4 KiB hits, wrk 64 conns (req/s)")
  o=$(median "${RESULTS[old]}" $i); n=$(median "${RESULTS[new]}" $i)
  echo "| ${label[$i]} | $o | $n | $(python3 -c "print(f'{$n/$o:.3f}')") |"
done
