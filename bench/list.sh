#!/usr/bin/env bash
# LIST cost vs bucket size: a ListObjectsV2 page (1000 keys) from a
# 1,000-key bucket and from a 1,000,000-key bucket, first page and a deep
# page. The big bucket is filled by inserting rows into a stopped origin's
# SQLite (all keys share one blob), since a million PUTs would take minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --workspace --bins --quiet
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q boto3; }
WORK=$(mktemp -d)
export CAIRN_ROOT_ACCESS_KEY=CKLISTBENCH000000001 CAIRN_ROOT_SECRET_KEY=listbenchsecretlistbenchsecret0000000000
PORT=${PORT:-9191}
start() { target/release/cairn-origin serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT >>"$WORK/origin.log" 2>&1 & PID=$!;
          for _ in $(seq 100); do curl -fs http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done; }
trap 'kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
start
.venv/bin/python - "$PORT" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id="CKLISTBENCH000000001", aws_secret_access_key="listbenchsecretlistbenchsecret0000000000")
for b in ("small", "big"):
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="seed", Body=b"x")
PY
kill $PID; wait $PID 2>/dev/null || true
python3 - "$WORK/data/meta.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
blob, size, etag, ms, headers = db.execute("SELECT blob, size, etag, modified_ms, headers FROM objects WHERE bucket='small'").fetchone()
def rows(bucket, n):
    for i in range(n):
        yield (bucket, f"dir{i % 100:02d}/file-{i:07d}".encode(), blob, size, etag, ms, headers)
for bucket, n in (("small", 1_000), ("big", 1_000_000)):
    db.executemany("INSERT INTO objects (bucket, key, blob, size, etag, modified_ms, headers) VALUES (?,?,?,?,?,?,?)", rows(bucket, n))
db.execute("UPDATE blobs SET refcount = refcount + 1001000")
db.commit()
PY
start
.venv/bin/python - "$PORT" "$WORK/origin.log" <<'PY'
import re, sys, time, statistics, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id="CKLISTBENCH000000001", aws_secret_access_key="listbenchsecretlistbenchsecret0000000000")
def server_ms():
    # The origin logs each request's own time; the client's includes boto3's XML parsing.
    return [float(m) for m in re.findall(r'op="ListObjectsV2".*?ms=([0-9.]+)', open(sys.argv[2]).read())]
def timed(**kw):
    samples = []
    for _ in range(30):
        t = time.perf_counter(); r = s3.list_objects_v2(**kw); samples.append((time.perf_counter() - t) * 1000)
        assert r["KeyCount"] > 0
    return statistics.median(samples)
res = {
    "1k first page": timed(Bucket="small"),
    "1M first page": timed(Bucket="big"),
    "1M deep page (start-after dir50/)": timed(Bucket="big", StartAfter="dir50/file-0500000"),
    "1k delimiter page": timed(Bucket="small", Delimiter="/"),
    "1M delimiter page (100 prefixes)": timed(Bucket="big", Delimiter="/"),
}
server = server_ms()[-150:]
for i, (k, v) in enumerate(res.items()):
    srv = statistics.median(server[i * 30:(i + 1) * 30]) if len(server) >= 150 else float("nan")
    print(f"  {k:40s} client median {v:7.2f} ms, server median {srv:6.2f} ms (30 requests)")
print(f"  ratio 1M/1k first page: {res['1M first page'] / res['1k first page']:.2f}x")
PY
