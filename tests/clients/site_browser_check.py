"""Headless Chromium visits a static site served by the edge over HTTPS:
the page, its script and its stylesheet come over HTTP/2 from a bucket
with a website configuration and run intact, text assets fetched again
(the edge's hits) arrive compressed (br, zstd or gzip, as Chromium asks), a missing page gets the error
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
s3.put_object(Bucket="site", Key="404.html", Body=b"<h1>no such page</h1>", ContentType="text/html", CacheControl=cc)
s3.put_object(Bucket="site", Key="index.html", ContentType="text/html", CacheControl=cc, Body=("""<!doctype html>
<html><head><link rel="stylesheet" href="/style.css"><script src="/app.js"></script></head>
<body><div id="probe"></div><pre id="result">pending</pre><script>
window.addEventListener('load', async () => {
  // The page's first load of each asset was the edge's miss (sent as
  // stored); the edge compresses from its first hit on, so the assets are
  // fetched again past the browser's cache, as the next visitor would.
  const js = await fetch('/app.js', {cache: 'no-store'});
  await js.text();
  await (await fetch('/style.css', {cache: 'no-store'})).text();
  const entry = name => performance.getEntriesByType('resource').find(e => e.initiatorType === 'fetch' && e.name.endsWith(name));
  const nav = performance.getEntriesByType('navigation')[0];
  const asset = name => { const e = entry(name); return e && {proto: e.nextHopProtocol, encoded: e.encodedBodySize, decoded: e.decodedBodySize}; };
  const missing = await fetch('/no/such/page.html');
  const out = {
    page: nav.nextHopProtocol, total: window.total,
    width: getComputedStyle(document.getElementById('probe')).width,
    js: asset('/app.js'), css: asset('/style.css'),
    encoding: js.headers.get('content-encoding'), vary: js.headers.get('vary'),
    hsts: js.headers.get('strict-transport-security'),
    missing: {status: missing.status, body: await missing.text()},
  };
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
assert r["page"] == "h2", f"the page came over {r['page']}, not HTTP/2"
assert r["total"] == expected_total and r["width"] == "321px", "the script and the stylesheet ran intact"
for name in ("js", "css"):
    a = r[name]
    assert a and a["proto"] == "h2", f"{name} not over h2: {a}"
    assert 0 < a["encoded"] < a["decoded"] / 2, f"{name} was not sent compressed: {a}"
assert r["encoding"] in ("br", "zstd", "gzip"), r["encoding"]
assert "accept-encoding" in (r["vary"] or "").lower(), r["vary"]
assert (r["hsts"] or "").startswith("max-age="), r["hsts"]
assert r["missing"]["status"] == 404 and "no such page" in r["missing"]["body"], r["missing"]
print("site browser: all checks passed")
