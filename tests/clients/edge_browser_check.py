"""Headless Chromium against the edge: a page served from another origin on
127.0.0.1 loads its script, stylesheet and image from the edge and seeks
in a "video" with range requests; nothing may fail to load, CORS must allow
exactly what the bucket's rules allow, and a reload must come from cache.

Usage: python edge_browser_check.py S3_ENDPOINT EDGE_URL ACCESS_KEY SECRET_KEY WORKDIR
"""
import functools
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import zlib

import boto3

s3_endpoint, edge, ak, sk, work = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
site = os.path.join(work, "site")
os.makedirs(site, exist_ok=True)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=site)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
page_origin = f"http://127.0.0.1:{server.server_address[1]}"
threading.Thread(target=server.serve_forever, daemon=True).start()


def png(w, h):
    raw = b"".join(b"\x00" + b"\xff\x80\x00" * w for _ in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


video = bytes(range(256)) * 40000  # ~10 MB object for a raw range read
# A real (small) video for a <video> element to seek in.
webm = os.path.join(work, "clip.webm")
subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=4:size=160x120:rate=10",
                "-c:v", "libvpx", "-b:v", "200k", "-g", "10", webm], check=True)
s3.create_bucket(Bucket="assets", ACL="public-read")
s3.put_bucket_cors(Bucket="assets", CORSConfiguration={"CORSRules": [{
    "AllowedOrigins": [page_origin], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["range"],
    "ExposeHeaders": ["X-Cache", "Content-Range", "ETag"], "MaxAgeSeconds": 60}]})
cc = "public, max-age=300"
s3.put_object(Bucket="assets", Key="app.js", Body=b"window.appLoaded = true;", ContentType="text/javascript", CacheControl=cc)
s3.put_object(Bucket="assets", Key="style.css", Body=b"#probe { width: 123px; }", ContentType="text/css", CacheControl=cc)
s3.put_object(Bucket="assets", Key="logo.png", Body=png(3, 2), ContentType="image/png", CacheControl=cc)
s3.put_object(Bucket="assets", Key="clip.mp4", Body=video, ContentType="video/mp4", CacheControl=cc)
with open(webm, "rb") as f:
    s3.put_object(Bucket="assets", Key="clip.webm", Body=f.read(), ContentType="video/webm", CacheControl=cc)
s3.create_bucket(Bucket="closed")
s3.put_object(Bucket="closed", Key="secret.js", Body=b"window.leaked = true;")

with open(os.path.join(site, "index.html"), "w") as f:
    f.write(f"""<!doctype html><html><head>
<link rel="stylesheet" href="{edge}/assets/style.css" onerror="window.errors.push('css')">
<script>window.errors = []; window.addEventListener('error', e => window.errors.push(String(e.message || e.target && e.target.src)), true);</script>
<script src="{edge}/assets/app.js" onerror="window.errors.push('js')"></script>
</head><body><div id="probe"></div><img id="logo" src="{edge}/assets/logo.png" onerror="window.errors.push('img')">
<video id="video" src="{edge}/assets/clip.webm" preload="auto" muted crossorigin="anonymous"></video>
<pre id="result">pending</pre><script>
const edge = {json.dumps(edge)};
async function attempt(fn) {{ try {{ return await fn(); }} catch (e) {{ return 'blocked: ' + e.name; }} }}
window.addEventListener('load', async () => {{
  const out = {{errors: window.errors.slice(), app: window.appLoaded === true,
    width: getComputedStyle(document.getElementById('probe')).width, img: document.getElementById('logo').naturalWidth}};
  out.seek = await attempt(async () => {{
    const r = await fetch(edge + '/assets/clip.mp4', {{headers: {{Range: 'bytes=5000000-5000009'}}}});
    const b = new Uint8Array(await r.arrayBuffer());
    return {{status: r.status, range: r.headers.get('Content-Range'), first: b[0], len: b.length}};
  }});
  out.reload = await attempt(async () => {{
    const r = await fetch(edge + '/assets/app.js', {{cache: 'no-cache'}});
    return {{status: r.status, xcache: r.headers.get('X-Cache')}};
  }});
  out.closed = await attempt(async () => (await fetch(edge + '/closed/secret.js')).status);
  out.video = await attempt(() => new Promise((resolve) => {{
    const v = document.getElementById('video');
    const seek = () => {{ v.addEventListener('seeked', () => resolve({{duration: Math.round(v.duration), at: v.currentTime}}), {{once: true}}); v.currentTime = 3; }};
    v.addEventListener('error', () => resolve('error ' + (v.error && v.error.code)));
    if (v.readyState >= 1) seek(); else v.addEventListener('loadedmetadata', seek, {{once: true}});
  }}));
  document.getElementById('result').textContent = 'RESULT:' + JSON.stringify(out);
}});
</script></body></html>""")

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
assert chromium, "chromium is not installed"
# Headless Chromium's media pipeline under a virtual time budget now and
# then never fires 'seeked' (about 1 run in 20, with this edge and with
# builds before it): a packet capture of such a run showed every request
# answered in full, the video's last byte included. So a page that did
# not finish is loaded again, up to three times; every check below still
# applies to the run that finished, and an edge that failed a request
# would fail every run.
for attempt in range(3):
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--virtual-time-budget=20000", "--dump-dom", f"{page_origin}/index.html"],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"RESULT:(\{.*\})", dom)
    if m:
        break
    print(f"edge browser: the page did not finish (run {attempt + 1} of 3)")
server.shutdown()
assert m, f"the page did not finish: {dom[:2000]}"
r = json.loads(m.group(1).replace("&quot;", '"'))
print("edge browser:", r)
assert r["errors"] == [], r
assert r["app"] is True and r["width"] == "123px" and r["img"] == 3, r
assert r["seek"]["status"] == 206 and r["seek"]["range"] == f"bytes 5000000-5000009/{len(video)}", r
assert r["seek"]["first"] == 5000000 % 256 and r["seek"]["len"] == 10, r
assert r["reload"]["status"] == 200 and r["reload"]["xcache"] in ("HIT", "REVALIDATED"), r
assert str(r["closed"]).startswith("blocked"), "a bucket without CORS rules is not readable cross-origin"
assert isinstance(r["video"], dict) and r["video"]["duration"] == 4 and r["video"]["at"] == 3, f"the video loads and seeks: {r['video']}"
print("edge browser: all checks passed")
