#!/usr/bin/env bash
# Edge numbers beside nginx on the same machine, in the same run:
#   4 KiB cache hits at 64 connections (wrk), 100 MiB hits (MB/s),
#   the latency a miss adds over a direct origin GET, and the edge's RSS.
# Installs wrk and nginx from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null && command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; }
cargo build --release --locked --workspace --bins --quiet
[ -x .venv/bin/aws ] || { python3 -m venv .venv && .venv/bin/pip install -q awscli boto3; }
WORK=$(mktemp -d)
export CAIRN_ROOT_ACCESS_KEY=CKEDGEBENCH000000001 CAIRN_ROOT_SECRET_KEY=edgebenchsecretedgebenchsecret0000000000
export AWS_ACCESS_KEY_ID=$CAIRN_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$CAIRN_ROOT_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
unset AWS_CA_BUNDLE
O=127.0.0.1:9192 E=127.0.0.1:9193 N=127.0.0.1:9194
CAIRN_LOG=warn target/release/cairn-origin serve --data-dir "$WORK/data" --listen $O >"$WORK/origin.log" 2>&1 & OP=$!
for _ in $(seq 100); do curl -fs http://$O/health >/dev/null && break; sleep 0.1; done
target/release/cairn-origin key create bench-edge --edge --data-dir "$WORK/data" >"$WORK/edge.key"
EAK=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$WORK/edge.key"); ESK=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$WORK/edge.key")
CAIRN_LOG=warn target/release/cairn-edge serve --origin http://$O --access-key $EAK --secret-key $ESK --listen $E --cache-dir "$WORK/cache" --memory-cache 256MiB >"$WORK/edge.log" 2>&1 & EP=$!
mkdir -p "$WORK/www/bench"
head -c 4096 /dev/urandom >"$WORK/www/bench/4k.bin"; head -c $((100 << 20)) /dev/urandom >"$WORK/www/bench/100m.bin"
cat >"$WORK/nginx.conf" <<NGX
worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  server { listen $N; root $WORK/www; } }
NGX
chmod 755 "$WORK" "$WORK/www" "$WORK/www/bench"; chmod 644 "$WORK/www/bench/"*
nginx -c "$WORK/nginx.conf"
trap 'kill $OP $EP 2>/dev/null; chmod 755 "$WORK" "$WORK/www" "$WORK/www/bench"; chmod 644 "$WORK/www/bench/"*
nginx -c "$WORK/nginx.conf" -s stop 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fs http://$E/health >/dev/null && break; sleep 0.1; done
AWS=".venv/bin/aws --endpoint-url http://$O"
$AWS s3api create-bucket --bucket bench --acl public-read >/dev/null
$AWS s3 cp "$WORK/www/bench/4k.bin" s3://bench/4k.bin --cache-control "public, max-age=3600" >/dev/null
$AWS s3 cp "$WORK/www/bench/100m.bin" s3://bench/100m.bin --cache-control "public, max-age=3600" >/dev/null
.venv/bin/python - "$O" "$WORK/www/bench/4k.bin" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://{sys.argv[1]}", region_name="us-east-1")
body = open(sys.argv[2], "rb").read()
for i in range(1, 301):
    s3.put_object(Bucket="bench", Key=f"m/{i}", Body=body, CacheControl="public, max-age=3600")
PY
curl -fs -o /dev/null http://$E/bench/4k.bin; curl -fs -o /dev/null http://$E/bench/100m.bin
# Both servers must really answer 200 with the same bytes before timing.
for u in http://$E/bench/4k.bin http://$N/bench/4k.bin; do curl -fs "$u" | cmp -s - "$WORK/www/bench/4k.bin" || { echo "$u does not serve the file" >&2; exit 1; }; done
curl -fs http://$N/bench/100m.bin | cmp -s - "$WORK/www/bench/100m.bin" || { echo "nginx does not serve the 100 MiB file" >&2; exit 1; }
rps() { wrk -t2 -c64 -d10s --latency "$1" | awk '/Requests\/sec/ {r=$2} /99%/ {p=$2} END {print r " req/s, p99 " p}'; }
mbps() { wrk -t2 -c4 -d10s "$1" | awk '/Transfer\/sec/ {print $2}'; }
echo "4 KiB hits, 64 connections:  edge $(rps http://$E/bench/4k.bin)   nginx static $(rps http://$N/bench/4k.bin)"
echo "100 MiB hits, 4 connections:  edge $(mbps http://$E/bench/100m.bin)/s   nginx static $(mbps http://$N/bench/100m.bin)/s"
python3 - "$O" "$E" <<'PY'
import http.client, statistics, sys, time
def lat(host, path):
    h, p = host.split(":"); c = http.client.HTTPConnection(h, int(p)); t = time.perf_counter()
    c.request("GET", path); r = c.getresponse(); r.read(); c.close(); return (time.perf_counter() - t) * 1000
origin = sorted(lat(sys.argv[1], f"/bench/m/{i}") for i in range(1, 301))
miss = sorted(lat(sys.argv[2], f"/bench/m/{i}") for i in range(1, 301))
q = lambda s, f: s[int(len(s) * f) - 1]
print(f"miss vs direct origin GET (4 KiB, 300 keys): origin p50 {q(origin,.5):.2f} ms p99 {q(origin,.99):.2f} ms; "
      f"edge miss p50 {q(miss,.5):.2f} ms p99 {q(miss,.99):.2f} ms; added p50 {q(miss,.5)-q(origin,.5):.2f} ms")
PY
echo "edge peak RSS: $(( $(awk '/VmHWM/ {print $2}' /proc/$EP/status) / 1024 )) MiB (memory cache 256 MiB)"
