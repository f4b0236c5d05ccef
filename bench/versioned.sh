#!/usr/bin/env bash
# What versioning costs a PUT: 4 KiB PUTs (fsync'd, 32 clients) into an
# unversioned bucket and into a versioned one (every PUT a new version, the
# old one kept), alternated on one origin, ROUNDS rounds of SECONDS each.
# Prints every round, the medians and versioned/unversioned.
#
#   bench/versioned.sh [BIN_DIR] [ROUNDS] [SECONDS] [KEYS]
#
# KEYS (default 1000) is how many keys the PUTs cycle over: with 1000,
# nearly every PUT overwrites a key (a new version in the versioned
# bucket, the same bytes, so both buckets deduplicate the content); with
# 100000000 nearly every PUT makes a new key.
#
# The data dir is made under $TMPDIR. On a VM whose disk dominates (here
# an ext4 mounted with `discard`: single rounds ranged 1229-3411 PUT/s),
# `TMPDIR=/dev/shm bench/versioned.sh` leaves the CPU cost of versioning
# alone to measure (fsync is then free).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release} ROUNDS=${2:-5} D=${3:-10} KEYS=${4:-1000}
[ -x "$BIN/cairn-origin" ] || cargo build --release --locked --workspace --bins --quiet
export AWS_ACCESS_KEY_ID=CKVERBENCH0000000001 AWS_SECRET_ACCESS_KEY=verbenchsecretverbenchsecret000000000000
export AWS_DEFAULT_REGION=us-east-1
AWS=${AWS_CLI:-$PWD/.venv/bin/aws}
[ -x "$AWS" ] || AWS=aws
WORK=$(mktemp -d)
PORT=$((30000 + RANDOM % 20000))
CAIRN_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID CAIRN_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY CAIRN_LOG=warn \
  "$BIN/cairn-origin" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do curl -fs -o /dev/null http://127.0.0.1:$PORT/health && break; sleep 0.05; done
O=http://127.0.0.1:$PORT
$AWS --endpoint-url $O s3api create-bucket --bucket plain >/dev/null
$AWS --endpoint-url $O s3api create-bucket --bucket versioned >/dev/null
$AWS --endpoint-url $O s3api put-bucket-versioning --bucket versioned \
  --versioning-configuration Status=Enabled >/dev/null
put() {
  "$BIN/cairn-bench" put --endpoint $O --bucket "$1" --size 4KiB --concurrency 32 \
    --duration ${D}s --keys "$KEYS" --json --quiet |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ops_per_sec"]))'
}
plain=() versioned=()
for r in $(seq "$ROUNDS"); do
  # Alternate which goes first, so drift favours neither.
  if [ $((r % 2)) = 1 ]; then order="plain versioned"; else order="versioned plain"; fi
  for b in $order; do
    n=$(put $b)
    [ $b = plain ] && plain+=("$n") || versioned+=("$n")
    printf 'round %d: %-9s %6s PUT/s\n' "$r" "$b" "$n"
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "${plain[@]}") v=$(median "${versioned[@]}")
echo
echo "| 4 KiB PUT, 32 clients, $KEYS keys (ops/s, median of $ROUNDS) | unversioned | versioned | versioned/unversioned |"
echo "|---|---|---|---|"
echo "| $(basename "$BIN") | $p | $v | $(python3 -c "print(f'{$v/$p:.3f}')") |"
