#!/usr/bin/env bash
# The edge over HTTPS beside nginx with TLS, same machine, same run, same
# certificate (ECDSA P-256) and protocol versions (TLS 1.3 and 1.2):
#   4 KiB hits at 64 connections over HTTP/1.1 (wrk) and HTTP/2 (h2load),
#   new TLS connections per second, full and resumed (openssl s_time),
#   100 MiB hits over HTTPS (MB/s, 4 connections).
# nginx is a proxy_cache in front of the same origin (the same job as the
# edge), warmed before timing. Release build. Installs wrk, nginx and
# h2load (nghttp2-client) from Debian if missing.
#
#   bench/tls.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-10}
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v h2load >/dev/null || missing+=(nghttp2-client)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release --locked --workspace --bins --quiet
[ -x .venv/bin/aws ] || { python3 -m venv .venv && .venv/bin/pip install -q awscli boto3; }
WORK=$(mktemp -d)
export CAIRN_ROOT_ACCESS_KEY=CKTLSBENCH0000000001 CAIRN_ROOT_SECRET_KEY=tlsbenchsecrettlsbenchsecret000000000000
export AWS_ACCESS_KEY_ID=$CAIRN_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$CAIRN_ROOT_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
unset AWS_CA_BUNDLE
O=127.0.0.1:9292 E=127.0.0.1:9293 ET=127.0.0.1:9294 NT=127.0.0.1:9295

# One certificate for both servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=bench.test" \
  -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/edge.pem"

CAIRN_LOG=warn target/release/cairn-origin serve --data-dir "$WORK/data" --listen $O >"$WORK/origin.log" 2>&1 & OP=$!
for _ in $(seq 100); do curl -fs http://$O/health >/dev/null && break; sleep 0.1; done
target/release/cairn-origin key create bench-edge --edge --data-dir "$WORK/data" >"$WORK/edge.key"
EAK=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$WORK/edge.key"); ESK=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$WORK/edge.key")
ulimit -n 65536 2>/dev/null || true
CAIRN_SECRET_KEY=$ESK CAIRN_LOG=warn target/release/cairn-edge serve --header-timeout 120s --origin http://$O --access-key "$EAK" \
  --listen $E --tls-listen $ET --tls-cert "$WORK/edge.pem" --cache-dir "$WORK/cache" --memory-cache 256MiB \
  >"$WORK/edge.log" 2>&1 & EP=$!
mkdir -p "$WORK/ngx-cache"
cat >"$WORK/nginx.conf" <<NGX
worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/nginx.err;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  proxy_cache_path $WORK/ngx-cache levels=1:2 keys_zone=edge:10m max_size=1g;
  upstream origin { server $O; keepalive 16; }
  server {
    listen $NT ssl http2;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m; ssl_session_tickets on;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache edge; proxy_cache_valid 200 1h; proxy_cache_lock on;
    }
  }
}
NGX
chmod 755 "$WORK"
nginx -c "$WORK/nginx.conf"
trap 'kill $OP $EP 2>/dev/null; nginx -c "$WORK/nginx.conf" -s stop 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fs http://$E/health >/dev/null && break; sleep 0.1; done
AWS=".venv/bin/aws --endpoint-url http://$O"
head -c 4096 /dev/urandom >"$WORK/4k.bin"; head -c $((100 << 20)) /dev/urandom >"$WORK/100m.bin"
$AWS s3api create-bucket --bucket bench --acl public-read >/dev/null
$AWS s3 cp "$WORK/4k.bin" s3://bench/4k.bin --cache-control "public, max-age=3600" >/dev/null
$AWS s3 cp "$WORK/100m.bin" s3://bench/100m.bin --cache-control "public, max-age=3600" >/dev/null

EDGE=https://127.0.0.1:${ET##*:} NGINX=https://127.0.0.1:${NT##*:}
# Warm both caches, and check both serve the same bytes over TLS.
for base in $EDGE $NGINX; do
  for f in 4k.bin 100m.bin; do
    for _ in 1 2 3; do curl -fsk -o /dev/null "$base/bench/$f"; done
    curl -fsk "$base/bench/$f" | cmp -s - "$WORK/$f" || { echo "$base/bench/$f: other bytes" >&2; exit 1; }
  done
done
[ "$(curl -sk -o /dev/null -w '%{http_version}' --http2 $EDGE/bench/4k.bin)" = 2 ] || { echo "edge: no h2" >&2; exit 1; }
[ "$(curl -sk -o /dev/null -w '%{http_version}' --http2 $NGINX/bench/4k.bin)" = 2 ] || { echo "nginx: no h2" >&2; exit 1; }

h1() { wrk -t2 -c64 -d${D}s --latency "$1/bench/4k.bin" | awk '/Requests\/sec/ {r=$2} /99%/ {p=$2} END {printf "%d req/s, p99 %s", r, p}'; }
h2() { h2load -t2 -c64 -m10 -D "$D" "$1/bench/4k.bin" 2>/dev/null | awk '/^finished in/ {gsub(",", ""); r=$4} /^requests:/ {f=$10} END {printf "%d req/s (%s failed)", r, f}'; }
conns() { # ADDR new|reuse → connections per second ("N connections in S real seconds")
  timeout $((D + 20)) openssl s_time -connect "$1" "-$2" -time "$D" 2>/dev/null |
    awk '/connections in [0-9.]+ real seconds/ {r = int($1 / $4)} END {print r + 0}'
}
big() { wrk -t2 -c4 -d${D}s "$1/bench/100m.bin" | awk '/Transfer\/sec/ {print $2}'; }

echo "| over TLS (same cert, same run) | cairn-edge | nginx proxy_cache |"
echo "|---|---|---|"
echo "| 4 KiB hits, HTTP/1.1, 64 conns | $(h1 $EDGE) | $(h1 $NGINX) |"
echo "| 4 KiB hits, HTTP/2, 64 conns x 10 streams | $(h2 $EDGE) | $(h2 $NGINX) |"
echo "| new TLS connections/s, full handshake (1 client) | $(conns $ET new) | $(conns $NT new) |"
echo "| new TLS connections/s, resumed (1 client) | $(conns $ET reuse) | $(conns $NT reuse) |"
echo "| 100 MiB hits, 4 conns | $(big $EDGE)/s | $(big $NGINX)/s |"
echo "edge peak RSS after the runs: $(( $(awk '/VmHWM/ {print $2}' /proc/$EP/status) / 1024 )) MiB (memory cache 256 MiB)"

# RSS with 10,000 open TLS connections (handshaken, idle): one client
# process holds them while the edge's resident size is read.
before=$(awk '/VmRSS/ {print $2}' /proc/$EP/status)
python3 - 127.0.0.1 "${ET##*:}" 10000 "$WORK/held" <<'PY' &
import asyncio, ssl, sys, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
host, port, n, flag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
async def main():
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    gate, held = asyncio.Semaphore(100), []
    async def one():
        async with gate:
            held.append(await asyncio.open_connection(host, port, ssl=ctx))
    await asyncio.gather(*(one() for _ in range(n)))
    open(flag, "w").write(str(len(held)))
    await asyncio.sleep(60)
asyncio.run(main())
PY
HP=$!
for _ in $(seq 600); do [ -s "$WORK/held" ] && break; sleep 0.1; done
after=$(awk '/VmRSS/ {print $2}' /proc/$EP/status)
echo "edge RSS with $(cat "$WORK/held" 2>/dev/null || echo 0) open TLS connections: $((after / 1024)) MiB ($(( (after - before) / 1024 )) MiB more than before them)"
kill $HP 2>/dev/null || true
