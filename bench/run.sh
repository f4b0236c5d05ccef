#!/usr/bin/env bash
# The reproducible performance report: starts a fresh origin and edges
# (release builds), nginx serving the same files from disk and through its
# proxy_cache, runs a fixed set of scenarios, and writes
# bench/results/<date>.md with the machine's description. Every ratio in the
# report is between numbers measured in this same run.
#
#   bench/run.sh                 # ~10 minutes
#   DURATION=3s bench/run.sh     # shorter steps (a smoke test of the script)
#   STAMPEDES=9 bench/run.sh     # runs of the edge's stampede (default 5)
#
# Installs wrk and nginx-light from Debian if missing; the LIST scenario is
# bench/list.sh (1,000,000 keys).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=${DURATION:-10s}
command -v wrk >/dev/null && command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; }
cargo build --release --locked --workspace --bins --quiet
[ -x .venv/bin/aws ] && .venv/bin/python -c 'import boto3' 2>/dev/null || { python3 -m venv .venv && .venv/bin/pip install -q awscli boto3; }
unset AWS_CA_BUNDLE
BIN=$ROOT/target/release
WORK=$(mktemp -d)
mkdir -p bench/results
OUT=bench/results/$(date -u +%F).md
export CAIRN_ROOT_ACCESS_KEY=CKBENCHSUITE00000001 CAIRN_ROOT_SECRET_KEY=benchsuitesecretbenchsuitesecret00000000
export AWS_ACCESS_KEY_ID=$CAIRN_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$CAIRN_ROOT_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
O=127.0.0.1:9601 E=127.0.0.1:9602 EZ=127.0.0.1:9603 NS=127.0.0.1:9604 NP=127.0.0.1:9605
# The far variant of the stampede: an edge (and nginx) whose origin is 25 ms
# away one way, through cairn-wan, so every client is waiting when the
# first byte arrives, as in a CDN region far from its origin.
W=127.0.0.1:9606 EW=127.0.0.1:9607 NPW=127.0.0.1:9608
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  nginx -c "$WORK/nginx.conf" -s stop 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_http() { for _ in $(seq 200); do curl -fs "$1" >/dev/null && return; sleep 0.1; done; echo "$1 not up" >&2; exit 1; }

CAIRN_LOG=warn $BIN/cairn-origin serve --data-dir "$WORK/data" --listen $O >"$WORK/origin.log" 2>&1 & PIDS+=($!)
wait_http http://$O/health
$BIN/cairn-origin key create bench-edge --edge --data-dir "$WORK/data" >"$WORK/edge.key"
EAK=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$WORK/edge.key"); ESK=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$WORK/edge.key")
CAIRN_LOG=warn $BIN/cairn-edge serve --origin http://$O --access-key "$EAK" --secret-key "$ESK" --listen $E \
  --cache-dir "$WORK/edge" --memory-cache 256MiB >"$WORK/edge.log" 2>&1 & EDGE_PID=$!; PIDS+=($EDGE_PID)
# A deliberately small edge for the Zipf hot set: 16 MiB memory + 48 MiB disk
# in front of a 128 MiB set.
CAIRN_LOG=warn $BIN/cairn-edge serve --origin http://$O --access-key "$EAK" --secret-key "$ESK" --listen $EZ \
  --cache-dir "$WORK/edge-small" --memory-cache 16MiB --disk-cache 48MiB >"$WORK/edge-small.log" 2>&1 & PIDS+=($!)
$BIN/cairn-wan $W $O 25ms >"$WORK/wan.log" 2>&1 & PIDS+=($!)
CAIRN_LOG=warn $BIN/cairn-edge serve --origin http://$W --access-key "$EAK" --secret-key "$ESK" --listen $EW \
  --cache-dir "$WORK/edge-far" --memory-cache 256MiB >"$WORK/edge-far.log" 2>&1 & PIDS+=($!)
wait_http http://$E/health; wait_http http://$EZ/health; wait_http http://$EW/health

AWS=".venv/bin/aws --endpoint-url http://$O"
for b in site zipf miss; do $AWS s3api create-bucket --bucket $b --acl public-read >/dev/null; done
mkdir -p "$WORK/www/site"
head -c 4096 /dev/urandom >"$WORK/www/site/4k.bin"
head -c $((1 << 20)) /dev/urandom >"$WORK/www/site/1m.bin"
head -c $((100 << 20)) /dev/urandom >"$WORK/www/site/100m.bin"
for f in 4k 1m 100m; do $AWS s3 cp "$WORK/www/site/$f.bin" s3://site/$f.bin --cache-control "public, max-age=3600" >/dev/null; done
$AWS s3 cp "$WORK/www/site/100m.bin" s3://site/range100m.bin --cache-control "public, max-age=3600" >/dev/null
cat >"$WORK/nginx.conf" <<NGX
worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  proxy_cache_path $WORK/ngx-cache levels=1:2 keys_zone=c:64m max_size=2g inactive=1h use_temp_path=off;
  server { listen $NS; root $WORK/www; }
  server { listen $NP;
    location / { proxy_pass http://$O; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache c; proxy_cache_valid 200 1h; proxy_cache_lock on; add_header X-Cache \$upstream_cache_status; } }
  server { listen $NPW;
    location / { proxy_pass http://$W; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache c; proxy_cache_valid 200 1h; proxy_cache_lock on; add_header X-Cache \$upstream_cache_status; } } }
NGX
chmod -R a+rX "$WORK"
nginx -c "$WORK/nginx.conf"
wait_http http://$NS/site/4k.bin; wait_http http://$NP/site/4k.bin
for f in 4k 1m 100m; do
  for h in $E $NP $NS; do
    curl -fs http://$h/site/$f.bin | cmp -s - "$WORK/www/site/$f.bin" || { echo "$h does not serve $f.bin" >&2; exit 1; }
    curl -fs -o /dev/null http://$h/site/$f.bin
  done
done

# --- helpers: run, keep the JSON, pull fields out
bench() { $BIN/cairn-bench "$@" --endpoint http://$O --json --quiet; }
j() { python3 -c 'import json,sys; d=json.loads(sys.argv[2]); v=eval(sys.argv[1]); print(v if isinstance(v,str) else (f"{v:,.0f}" if isinstance(v,(int,float)) and abs(v)>=100 else f"{v:.2f}"))' "$1" "$2"; }
wrk_rps() { wrk -t2 -c$2 -d$D --latency "$1" | awk '/Requests\/sec/ {r=$2} /99%/ {p=$2} /Transfer\/sec/ {t=$2} END {print r, p, t}'; }
ROWS=()
row() { ROWS+=("| $*"); echo "| $*"; }

echo "== origin"
for c in 1 32; do
  r=$(bench put --size 4KiB --concurrency $c --duration $D --keys 100000000 --bucket put4k --prefix c$c)
  row "Origin 4 KiB PUT (fsync each), $c clients | $(j 'd["ops_per_sec"]' "$r") ops/s | p50 $(j 'd["latency_ms"]["p50"]' "$r") ms, p99 $(j 'd["latency_ms"]["p99"]' "$r") ms | ≥1,500 ops/s at 32 |"
done
bench put --size 4KiB --concurrency 32 --ops 2000 --keys 2000 --bucket get4k >/dev/null
for c in 1 32; do
  r=$(bench get --size 4KiB --concurrency $c --duration $D --keys 2000 --bucket get4k)
  row "Origin 4 KiB GET, $c clients | $(j 'd["ops_per_sec"]' "$r") ops/s | p50 $(j 'd["latency_ms"]["p50"]' "$r") ms, p99 $(j 'd["latency_ms"]["p99"]' "$r") ms; client $(j 'd["client_ops_per_cpu_second"]' "$r") ops per CPU-s | ≥10,000 ops/s at 32 |"
done
base=$($BIN/cairn-bench disk-baseline --size 64MiB --ops 8 --dir "$WORK" --json)
r=$(bench put --size 64MiB --concurrency 2 --ops 16 --keys 16 --bucket big)
put64=$(j 'd["mb_per_sec"]' "$r"); b64=$(j 'd["mb_per_sec"]' "$base")
row "Origin 64 MiB PUT, 2 clients | $put64 MB/s | one core MD5+BLAKE3+write+fsync: $b64 MB/s → $(python3 -c "print(f'{float(\"$put64\".replace(\",\",\"\"))/float(\"$b64\".replace(\",\",\"\")):.2f}x')") | ≥0.70x |"
r=$(bench get --size 64MiB --concurrency 2 --ops 16 --keys 16 --bucket big)
row "Origin 64 MiB GET, 2 clients | $(j 'd["mb_per_sec"]' "$r") MB/s | p50 $(j 'd["latency_ms"]["p50"]' "$r") ms | |"
r=$(bench multipart --size 1GiB --part-size 16MiB --part-concurrency 4 --concurrency 1 --ops 2 --keys 2 --bucket multi)
row "Origin multipart 1 GiB (16 MiB parts, 4 in flight) | $(j 'd["mb_per_sec"]' "$r") MB/s | $(j 'd["latency_ms"]["p50"]' "$r") ms per object | |"
r=$(bench mixed --size 1KiB-64KiB --concurrency 32 --duration $D --keys 5000 --bucket mixed)
row "Origin mixed 70/20/5/5 GET/PUT/DELETE/LIST, 1-64 KiB | $(j 'd["ops_per_sec"]' "$r") ops/s | p99 $(j 'd["latency_ms"]["p99"]' "$r") ms | |"

echo "== edge vs nginx"
for spec in "4k 64" "1m 16" "100m 4"; do
  set -- $spec
  read -r er ep et < <(wrk_rps http://$E/site/$1.bin $2)
  read -r pr pp pt < <(wrk_rps http://$NP/site/$1.bin $2)
  read -r sr sp st < <(wrk_rps http://$NS/site/$1.bin $2)
  [ "$1" = 4k ] && STATIC4K=$sr
  ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.2f}x')"; }
  row "Edge hits $1, wrk $2 conns | edge $er req/s ($et/s), p99 $ep | nginx proxy_cache $pr req/s ($pt/s) p99 $pp; nginx static $sr req/s ($st/s) p99 $sp | edge/proxy_cache $(ratio $er $pr), edge/static $(ratio $er $sr) |"
done

# Zipf over 2,000 × 64 KiB (128 MiB) through the small edge (64 MiB of cache).
r=$($BIN/cairn-bench hot --http http://$EZ --endpoint http://$O --bucket zipf --keys 2000 --size 64KiB --prefill --zipf 1.1 --concurrency 32 --duration $D --json --quiet)
row "Edge Zipf(1.1) hot set: 2,000 × 64 KiB through 16 MiB memory + 48 MiB disk | $(j 'd["ops_per_sec"]' "$r") req/s, $(j 'd["mb_per_sec"]' "$r") MB/s | hit ratio $(j 'd["x_cache"].get("HIT",0)*100' "$r")% (X-Cache: $(j 'str({k: round(v*100,1) for k,v in d["x_cache"].items()})' "$r")) | |"

# Stampede: 500 clients at once on a cold 4 MiB object, with the origin on
# loopback and 25 ms away. "wait" is each client's first byte after the
# first client's, or after its own send if it sent later, as the kernel
# stamped its arrival; "seen" is when the client's task got to it. One
# stampede is one event, so the edge's is run $STAMPEDES times on new cold
# objects and the median of the runs' p99 is the figure; every run is
# listed. nginx's cache lock waits a fixed 500 ms, so one run shows it.
STAMPEDES=${STAMPEDES:-5}
stampede() { $BIN/cairn-bench stampede --http http://$1 --endpoint http://$O --bucket site --prefix "$2" --size 4MiB --concurrency 500 --json --quiet ${3:+--metrics http://$1/metrics}; }
# Summarises stampede JSON files: first-byte waits (median of the runs'
# p50 and p99, each run's p99, the worst max), and what every run shares.
fb() { python3 - "$@" <<'PY'
import json, statistics, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
e = [r["extra"] for r in runs]
med = lambda k: statistics.median(x[k] for x in e)
n = sum(r["ops"] for r in runs); clients = 500 * len(runs)
p99s = ", ".join(f'{x["first_byte_wait_p99_ms"]:.2f}' for x in e)
fetches = sorted({x.get("origin_fetches") for x in e} - {None})
out = []
if fetches:
    out.append(f'origin fetches: {", ".join(map(str, fetches))} per run')
else:
    out.append("origin fetches not counted")
each = f' (median of {len(runs)} runs: {p99s})' if len(runs) > 1 else ''
detail = (f'first byte wait p99 {med("first_byte_wait_p99_ms"):.2f} ms{each}, '
          f'p50 {med("first_byte_wait_p50_ms"):.2f} ms, worst max {max(x["first_byte_wait_max_ms"] for x in e):.2f} ms '
          f'(seen p99 {med("first_byte_seen_wait_p99_ms"):.2f} ms; {sum(x["first_bytes_stamped_by_kernel"] for x in e)} of {clients} stamped by the kernel; '
          f'{sum(x["requests_sent_after_first_byte"] for x in e)} sent after the first byte); '
          f'{n} of {clients} bodies verified, whole body p50 {statistics.median(r["latency_ms"]["p50"] for r in runs):,.0f} ms')
out.append(detail)
print(" | ".join(out))
PY
}
# What the 10 ms asks of this machine: the time nginx serving static files
# takes for 500 4 KiB responses at the rate it reached above.
YARD=$(python3 -c "print(f'{500 / float(\"$STATIC4K\") * 1000:.1f}')")
for far in "" " far"; do
  if [ -z "$far" ]; then edge=$E ngx=$NP pfx=near where="origin on loopback"; else edge=$EW ngx=$NPW pfx=far where="origin 25 ms away"; fi
  runs=()
  for i in $(seq "$STAMPEDES"); do
    stampede "$edge" "$pfx-edge-$i" metrics >"$WORK/stampede-$pfx-$i.json"
    runs+=("$WORK/stampede-$pfx-$i.json")
  done
  row "Edge stampede, $where: 500 clients, cold 4 MiB | $(fb "${runs[@]}") | 1 fetch, ≤10 ms (500 nginx static responses take $YARD ms here) |"
  stampede "$ngx" "$pfx-nginx" >"$WORK/stampede-$pfx-nginx.json"
  row "nginx proxy_cache (cache lock on), same stampede, $where | $(fb "$WORK/stampede-$pfx-nginx.json") | |"
done

# A 1 KiB range of a cold 100 MiB object.
up() { curl -fs http://$E/metrics | awk '/^cairn_edge_upstream_bytes_total/ {print $NF}'; }
before=$(up); curl -fs -r 1000-2023 -o "$WORK/range" http://$E/site/range100m.bin; after=$(up)
cmp -s "$WORK/range" <(head -c 2024 "$WORK/www/site/100m.bin" | tail -c 1024) || { echo "range bytes differ" >&2; exit 1; }
row "Edge: 1 KiB range of a cold 100 MiB object | $((after - before)) bytes from the origin | one 4 MiB slice at most | ≤4,194,304 |"

# A miss through the edge vs the same GET straight from the origin.
$BIN/cairn-bench put --endpoint http://$O --bucket miss --size 4KiB --ops 300 --keys 300 --concurrency 8 --json --quiet >/dev/null
ro=$($BIN/cairn-bench get --http http://$O --bucket miss --size 4KiB --ops 300 --keys 300 --concurrency 1 --json --quiet)
re=$($BIN/cairn-bench get --http http://$E --bucket miss --size 4KiB --ops 300 --keys 300 --concurrency 1 --json --quiet)
row "Edge miss vs direct origin GET (4 KiB, 300 keys, 1 client) | origin p50 $(j 'd["latency_ms"]["p50"]' "$ro") ms, edge miss p50 $(j 'd["latency_ms"]["p50"]' "$re") ms | added $(python3 -c "import json;a=json.loads('''$ro''');b=json.loads('''$re''');print(f'{b[\"latency_ms\"][\"p50\"]-a[\"latency_ms\"][\"p50\"]:.2f}')") ms (edge X-Cache: $(j 'str({k: round(v*100,1) for k,v in d["x_cache"].items()})' "$re")) | <2 ms |"
# The bench's own ceiling against the fastest target here (edge hits).
rh=$($BIN/cairn-bench get --http http://$E --bucket miss --size 4KiB --keys 300 --concurrency 64 --duration $D --json --quiet)
row "cairn-bench itself: 4 KiB edge hits, 64 clients | $(j 'd["ops_per_sec"]' "$rh") req/s, p99 $(j 'd["latency_ms"]["p99"]' "$rh") ms, X-Cache $(j 'str({k: round(v*100,1) for k,v in d["x_cache"].items()})' "$rh") | client CPU: $(j '1e6/d["client_ops_per_cpu_second"]' "$rh") µs/op → one core issues $(j 'd["client_ops_per_cpu_second"]' "$rh") req/s = $(j 'd["client_ops_per_cpu_second"]/d["ops_per_sec"]' "$rh")x this rate | ≥3x |"
row "Edge peak RSS | $(( $(awk '/VmHWM/ {print $2}' /proc/$EDGE_PID/status) / 1024 )) MiB | memory cache 256 MiB | |"

echo "== LIST (bench/list.sh)"
LIST=$(bench/list.sh 2>&1 | sed 's/^  //')
echo "$LIST"

{
  echo "# Cairn benchmark report, $(date -u '+%F %H:%M UTC')"
  echo
  echo "Produced by \`bench/run.sh\` (DURATION=$D per timed step, STAMPEDES=$STAMPEDES). Client and servers share the machine."
  echo
  echo "## Machine"
  echo
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
  echo "- Memory: $(free -g | awk '/Mem:/ {print $2}') GiB; kernel $(uname -r); $(. /etc/os-release; echo "$PRETTY_NAME")"
  echo "- Data dir filesystem: $(df -T "$WORK" | awk 'NR==2 {print $2}')"
  echo "- nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), $(rustc --version)"
  echo
  echo "## Results"
  echo
  echo "| scenario | result | detail | target |"
  echo "|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "## LIST of a 1,000,000-key bucket (bench/list.sh)"
  echo
  echo '```'
  echo "$LIST"
  echo '```'
} >"$OUT"
echo "wrote $OUT"
