"""Headless Chromium visits a static site served by the edge over HTTPS:
the index document, its script, stylesheet and SVG come over HTTP/2 from
a bucket with a website configuration, compressed (br or zstd, as
Chromium asks) on the first visit (the edge's misses) and work, with no
error on the page; a reload is answered from the edge's cache, a missing page gets the error
document with 404, and HSTS is sent. The certificate is the site's own,
trusted by its public key as scripts/start tells developers to.

Usage: python site_browser_check.py S3_ENDPOINT EDGE_HTTPS_ADDR SITE_HOST SPKI_SHA256_B64 ACCESS_KEY SECRET_KEY
"""
import json
import re
import shutil
import subprocess
import sys
import tempfile

import boto3

s3_endpoint, https_addr, host, spki, ak, sk = sys.argv[1:7]
port = https_addr.rsplit(":", 1)[1]
s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
s3.create_bucket(Bucket="site", ACL="public-read")
s3.put_bucket_website(Bucket="site", WebsiteConfiguration={
    "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"}})
cc = "public, max-age=300"
# Text assets well over the 1 KiB compression floor.
script = "window.total = 0;\n" + "".join(f"window.total += {i};\n" for i in range(400))
style = "".join(f".c{i} {{ margin: {i}px; }}\n" for i in range(300)) + "#probe { width: 321px; }\n"
expected_total = sum(range(400))
s3.put_object(Bucket="site", Key="app.js", Body=script.encode(), ContentType="text/javascript", CacheControl=cc)
s3.put_object(Bucket="site", Key="style.css", Body=style.encode(), ContentType="text/css", CacheControl=cc)
svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">' + "".join(
    f'<rect x="{i % 40}" y="{i // 40}" width="1" height="1" fill="#{i % 256:02x}8040"/>' for i in range(200)) + "</svg>"
s3.put_object(Bucket="site", Key="logo.svg", Body=svg.encode(), ContentType="image/svg+xml", CacheControl=cc)
s3.put_object(Bucket="site", Key="404.html", Body=b"<h1>no such page</h1>", ContentType="text/html", CacheControl=cc)
# The index document itself is over the compression floor too.
padding = "<!-- " + "a site served from a bucket through the edge " * 30 + "-->"
s3.put_object(Bucket="site", Key="index.html", ContentType="text/html", CacheControl=cc, Body=("""<!doctype html>
<html><head><link rel="stylesheet" href="/style.css">
<script>window.errors = []; window.addEventListener('error', e => window.errors.push(String(e.message || (e.target && (e.target.src || e.target.href)))), true);</script>
<script src="/app.js"></script></head>
<body><div id="probe"></div><img id="logo" src="/logo.svg"><pre id="result">pending</pre>""" + padding + """<script>
window.addEventListener('load', async () => {
  // What the first visit loaded: every one of these was the edge's miss.
  const entry = name => performance.getEntriesByType('resource').find(e => e.name.endsWith(name));
  const nav = performance.getEntriesByType('navigation')[0];
  const timing = e => e && {proto: e.nextHopProtocol, encoded: e.encodedBodySize, decoded: e.decodedBodySize};
  const out = {
    errors: window.errors.slice(), page: timing(nav), total: window.total,
    width: getComputedStyle(document.getElementById('probe')).width,
    img: document.getElementById('logo').naturalWidth,
    js: timing(entry('/app.js')), css: timing(entry('/style.css')), svg: timing(entry('/logo.svg')),
  };
  // A reload: the browser revalidates, the edge answers from its cache.
  const again = await fetch('/app.js', {cache: 'no-cache'});
  out.reload = {status: again.status, xcache: again.headers.get('x-cache'), encoding: again.headers.get('content-encoding'),
    vary: again.headers.get('vary'), hsts: again.headers.get('strict-transport-security')};
  await again.text();
  const missing = await fetch('/no/such/page.html');
  out.missing = {status: missing.status, body: await missing.text()};
  document.getElementById('result').textContent = 'RESULT:' + JSON.stringify(out);
});
</script></body></html>""").encode())

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
assert chromium, "chromium is not installed"
with tempfile.TemporaryDirectory() as profile:
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          f"--user-data-dir={profile}",
                          f"--host-resolver-rules=MAP {host} 127.0.0.1",
                          f"--ignore-certificate-errors-spki-list={spki}",
                          "--virtual-time-budget=10000", "--dump-dom", f"https://{host}:{port}/"],
                         capture_output=True, text=True, timeout=120).stdout
m = re.search(r"RESULT:(\{.*\})", dom)
assert m, f"the page did not load over https: {dom[:2000]}"
r = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">"))
print("site browser:", r)
assert r["errors"] == [], f"errors on the page: {r['errors']}"
assert r["total"] == expected_total and r["width"] == "321px" and r["img"] == 40, "the script, stylesheet and SVG work"
for name in ("page", "js", "css", "svg"):
    a = r[name]
    assert a and a["proto"] == "h2", f"{name} not over h2: {a}"
    assert 0 < a["encoded"] < a["decoded"] / 2, f"{name} was not sent compressed: {a}"
reload = r["reload"]
assert reload["status"] == 200 and reload["xcache"] in ("HIT", "REVALIDATED"), reload
assert reload["encoding"] in ("br", "zstd"), reload
assert "accept-encoding" in (reload["vary"] or "").lower(), reload
assert (reload["hsts"] or "").startswith("max-age="), reload
assert r["missing"]["status"] == 404 and "no such page" in r["missing"]["body"], r["missing"]
print("site browser: all checks passed")
