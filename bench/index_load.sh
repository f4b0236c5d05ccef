#!/usr/bin/env bash
# The edge's index under load, over HTTP (issue 13): an edge whose cache
# indexes ENTRIES keys (default 1,000,000, written straight into its cache
# dir) serves 4 KiB hits at a fixed 2,000/s while misses fill at 2,000/s;
# prints the hits' latency (from each request's due time) and the misses'.
# Two builds, one after the other, on the same cache dir and origin.
#
#   bench/index_load.sh OLD_BIN_DIR NEW_BIN_DIR [ENTRIES] [SECONDS]
#
# Each BIN_DIR holds cairn-edge; cairn-origin and cairn-bench come from
# NEW_BIN_DIR. The AWS CLI from .venv (tests/clients/run.sh makes it).
set -euo pipefail
OLD=$1 NEW=$2 N=${3:-1000000} D=${4:-15}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AWS=${AWS_CLI:-$ROOT/.venv/bin/aws}
export AWS_ACCESS_KEY_ID=CKINDEXLOAD000000001 AWS_SECRET_ACCESS_KEY=indexloadsecretindexloadsecret0000000000 AWS_DEFAULT_REGION=us-east-1
unset AWS_CA_BUNDLE
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

PORT=$((30000 + RANDOM % 20000)) EPORT=$((PORT + 1))
O=http://127.0.0.1:$PORT
CAIRN_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID CAIRN_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY CAIRN_LOG=warn \
  "$NEW/cairn-origin" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT >/dev/null 2>&1 &
PIDS+=($!)
wait_http $O/health
"$AWS" --endpoint-url $O s3api create-bucket --bucket site --acl public-read >/dev/null
# The objects the misses fetch: one batch per build.
for run in old new; do
  "$NEW/cairn-bench" put --endpoint $O --bucket site --prefix miss$run --size 4KiB --concurrency 32 \
    --ops $((2000 * D + 2000)) --keys $((2000 * D + 2000)) --json --quiet >/dev/null
done
# The hit: a public 4 KiB object the edge fetches once.
head -c 4096 /dev/urandom >"$WORK/hit"
"$AWS" --endpoint-url $O s3 cp "$WORK/hit" s3://site/hot-0 --cache-control "public, max-age=86400" >/dev/null
KEY=$("$NEW/cairn-origin" key create index-edge --edge --data-dir "$WORK/data")
EAK=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' <<<"$KEY"); ESK=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' <<<"$KEY")

# N index entries written as the edge writes them, all naming one body.
CACHE=$WORK/cache
mkdir -p "$CACHE/blobs" "$CACHE/meta"
PY=$ROOT/.venv/bin/python
"$PY" -c 'import blake3' 2>/dev/null || "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check blake3
"$PY" - "$CACHE" "$N" <<'PY'
import hashlib, json, os, sys, time
cache, n = sys.argv[1], int(sys.argv[2])
body = b"\x07" * 4096
import blake3  # the edge names bodies by their BLAKE3
h = blake3.blake3(body).hexdigest()
open(f"{cache}/blobs/{h}", "wb").write(body)
now = int(time.time() * 1000)
for i in range(n):
    key = f"site/indexed-{i}"
    entry = {"status": 200, "headers": [["content-type", "application/octet-stream"], ["etag", "\"x\""]],
             "size": 4096, "blake3": h, "stored_ms": now, "ttl_ms": 86_400_000, "swr_ms": 0, "sie_ms": 0,
             "private": False, "total": None}
    name = hashlib.sha256(key.encode()).hexdigest()
    with open(f"{cache}/meta/{name}.json", "w") as f:
        json.dump({"key": key, "entry": entry}, f)
PY
echo "indexed $N entries"

for run in old new; do
  bin=$OLD; [ $run = new ] && bin=$NEW
  started=$(date +%s)
  CAIRN_LOG=warn "$bin/cairn-edge" serve --origin $O --access-key "$EAK" --secret-key "$ESK" \
    --listen 127.0.0.1:$EPORT --cache-dir "$CACHE" --disk-cache 100GiB >"$WORK/edge-$run.log" 2>&1 &
  EDGE=$!
  PIDS+=($EDGE)
  wait_http http://127.0.0.1:$EPORT/health
  echo "$run: edge up with the index after $(( $(date +%s) - started )) s"
  curl -fs -o /dev/null http://127.0.0.1:$EPORT/site/hot-0
  # An index that cannot keep up leaves requests due long after the run;
  # those runs are cut off at three times its length and say so.
  timeout $((3 * D)) "$NEW/cairn-bench" get --http http://127.0.0.1:$EPORT --bucket site --prefix miss$run \
    --keys $((2000 * D)) --duration ${D}s --rate 2000 --concurrency 64 --json --quiet >"$WORK/miss-$run.json" &
  MISS=$!
  timeout $((3 * D)) "$NEW/cairn-bench" get --http http://127.0.0.1:$EPORT --bucket site --prefix hot --keys 1 \
    --rate 2000 --duration ${D}s --concurrency 32 --json --quiet >"$WORK/hit-$run.json" || true
  wait $MISS || true
  python3 - "$run" "$WORK/hit-$run.json" "$WORK/miss-$run.json" <<'PY'
import json, sys
def load(path):
    try:
        return json.load(open(path))
    except ValueError:
        return None
run, hit, miss = sys.argv[1], load(sys.argv[2]), load(sys.argv[3])
def f(d):
    if d is None:
        return "did not finish: requests still due at three times the run's length"
    l = d["latency_ms"]
    return f"{d['ops_per_sec']:.0f}/s, p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms, max {l['max']:.1f} ms, X-Cache {d.get('x_cache')}"
print(f"{run}: hits  {f(hit)}")
print(f"{run}: misses {f(miss)}")
PY
  kill $EDGE; wait $EDGE 2>/dev/null || true
done
