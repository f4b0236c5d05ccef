#!/usr/bin/env bash
# The multi-region deployment, end to end: builds the images, brings up
# docker/compose.yaml (origin + edges in three regions behind delay links),
# uploads with the AWS CLI, fetches through every region (MISS, then HIT),
# overwrites and waits for every region to serve the new bytes, stops the
# origin and checks the edges keep serving what they hold, restarts it,
# and tears everything down, on failure too.
#
#   docker/test.sh                      # release images
#   CAIRN_DOCKER_PROFILE=debug docker/test.sh   # reuse the test build (.ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PROFILE=${CAIRN_DOCKER_PROFILE:-release}
export CAIRN_IMAGE_TAG=e2e
PROJECT=cairn-e2e-$$
WORK=$(mktemp -d)

# Round-trip latency each region's link adds (compose.yaml's delays × 2),
# and the ports compose publishes.
declare -A RTT=([us-east]=40 [eu-west]=80 [ap-south]=120)
declare -A PORT=([us-east]=${CAIRN_EDGE_US_PORT:-19081} [eu-west]=${CAIRN_EDGE_EU_PORT:-19082} [ap-south]=${CAIRN_EDGE_AP_PORT:-19083})
REGIONS=(us-east eu-west ap-south)
ORIGIN=http://127.0.0.1:${CAIRN_ORIGIN_PORT:-19000}

dc() { docker-compose -p "$PROJECT" -f docker/compose.yaml "$@"; }
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "--- compose logs (last 40 lines per service)" >&2
    dc logs --no-color --tail 40 >&2 2>/dev/null || true
  fi
  dc down -v --remove-orphans -t 3 >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

docker/build.sh --profile "$PROFILE" --tag "$CAIRN_IMAGE_TAG"

if [ ! -x .venv/bin/aws ] || ! .venv/bin/python -c 'import boto3' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check awscli boto3
fi
unset AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=${CAIRN_ROOT_ACCESS_KEY:-CKDOCKERROOTKEY00001}
export AWS_SECRET_ACCESS_KEY=${CAIRN_ROOT_SECRET_KEY:-docker-root-secret-change-me-0000000000}
export AWS_DEFAULT_REGION=us-east-1
aws() { "$ROOT/.venv/bin/aws" --endpoint-url "$ORIGIN" "$@"; }

wait_http() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  until curl -fs -o /dev/null "$1"; do
    [ $SECONDS -lt $deadline ] || fail "$1 did not answer within $2 s"
    sleep 0.2
  done
}
# goal MS RTT_MS FACTOR SLACK_MS WHAT → "WHAT: N.NN RTT (goal ≤ FACTOR RTT + SLACK ms: met|missed)"
# Issue 14's latency goals, reported per region (not failed on: a shared
# CI machine's timing is too noisy to gate on).
goal() {
  awk -v ms="$1" -v rtt="$2" -v f="$3" -v s="$4" -v what="$5" 'BEGIN {
    printf "%s: %.2f RTT (goal <= %s RTT + %s ms = %d ms: %s)", what, ms / rtt, f, s, f * rtt + s,
      (ms <= f * rtt + s) ? "met" : "missed" }'
}
# fetch REGION KEY → prints "X-CACHE STATUS SECONDS", body in $WORK/body
fetch() {
  curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code} %{time_total}' --max-time 10 \
    "http://127.0.0.1:${PORT[$1]}/assets/$2" >"$WORK/status" || echo "000 0" >"$WORK/status"
  local xc
  xc=$(tr -d '\r' <"$WORK/headers" | sed -n 's/^[Xx]-[Cc]ache: //p')
  echo "${xc:-none} $(cat "$WORK/status")"
}

dc up -d
wait_http "$ORIGIN/health" 60
for r in "${REGIONS[@]}"; do wait_http "http://127.0.0.1:${PORT[$r]}/health" 60; done
ok "deployment up: origin and edges in ${REGIONS[*]}"

aws s3api create-bucket --bucket assets --acl public-read >/dev/null
head -c 300000 /dev/urandom >"$WORK/v1"
aws s3 cp "$WORK/v1" s3://assets/app.bin --cache-control max-age=300 >/dev/null
ok "uploaded with the AWS CLI"

for r in "${REGIONS[@]}"; do
  read -r xc status t1 < <(fetch "$r" app.bin)
  [ "$status" = 200 ] && [ "$xc" = MISS ] || fail "$r first fetch: $status $xc"
  cmp -s "$WORK/body" "$WORK/v1" || fail "$r served other bytes"
  read -r xc status t2 < <(fetch "$r" app.bin)
  [ "$status" = 200 ] && [ "$xc" = HIT ] || fail "$r second fetch: $status $xc"
  cmp -s "$WORK/body" "$WORK/v1" || fail "$r served other bytes on a hit"
  ms=$(awk -v t="$t1" 'BEGIN { printf "%d", t * 1000 }')
  ok "$r: MISS in ${t1}s, then HIT in ${t2}s (link RTT ${RTT[$r]} ms); $(goal "$ms" "${RTT[$r]}" 1.2 10 "cold miss")"
done

# Overwrite: every region must serve the new bytes within 1 s plus the
# added latency (the feed's answer crossing the link, then the refetch:
# connection and request, two round trips).
args=()
for r in "${REGIONS[@]}"; do args+=("$r=http://127.0.0.1:${PORT[$r]}"); done
.venv/bin/python docker/overwrite_check.py "$ORIGIN" assets app.bin "${args[@]}" >"$WORK/seen"
for r in "${REGIONS[@]}"; do
  ms=$(sed -n "s/^$r //p" "$WORK/seen")
  budget=$((1000 + 3 * RTT[$r]))
  [ "$ms" != never ] && [ "$ms" -le $budget ] || fail "$r served the overwrite after $ms ms (budget $budget ms)"
  ok "$r serves the overwrite $ms ms after the PUT was acknowledged (budget $budget ms); $(goal "$ms" "${RTT[$r]}" 0.6 20 "overwrite")"
done
curl -s -o "$WORK/v2" "http://127.0.0.1:${PORT[us-east]}/assets/app.bin"

# The operator's view: every region follows the feed (recorded by the
# origin within 5 s), and /metrics counts the edges.
deadline=$((SECONDS + 15))
until [ "$(dc exec -T origin /cairn-origin edges --data-dir /data | grep -c following)" = 3 ]; do
  [ $SECONDS -lt $deadline ] || { dc exec -T origin /cairn-origin edges --data-dir /data >&2; fail "cairn-origin edges does not list three following edges"; }
  sleep 0.5
done
dc exec -T origin /cairn-origin edges --data-dir /data | sed 's/^/    /'
curl -fs "$ORIGIN/metrics" | grep -q '^cairn_origin_edges_connected 3$' || fail "/metrics does not count three connected edges"
ok "cairn-origin edges and /metrics show the three regions following the feed"

# The origin goes away: edges keep serving what they hold, and refuse
# quickly (not hang) for what they do not.
dc stop -t 5 origin >/dev/null 2>&1
for r in "${REGIONS[@]}"; do
  read -r xc status t < <(fetch "$r" app.bin)
  [ "$status" = 200 ] || fail "$r with the origin down: $status $xc"
  cmp -s "$WORK/body" "$WORK/v2" || fail "$r served other bytes with the origin down"
  read -r xc2 status2 t2 < <(fetch "$r" never-cached.bin)
  case $status2 in 5*) ;; *) fail "$r answered $status2 for an uncached key with the origin down" ;; esac
  ok "$r with the origin stopped: cached object $status $xc, uncached key $status2 in ${t2}s"
done

dc start origin >/dev/null 2>&1
wait_http "$ORIGIN/health" 60
head -c 1000 /dev/urandom >"$WORK/v3"
aws s3 cp "$WORK/v3" s3://assets/app.bin --cache-control max-age=300 >/dev/null
for r in "${REGIONS[@]}"; do
  deadline=$((SECONDS + 20))
  until fetch "$r" app.bin >/dev/null && cmp -s "$WORK/body" "$WORK/v3"; do
    [ $SECONDS -lt $deadline ] || fail "$r did not pick up changes after the origin restarted"
    sleep 0.1
  done
done
ok "origin restarted: every region follows the feed again and serves the newest bytes"

echo "docker/test.sh: all steps passed"
