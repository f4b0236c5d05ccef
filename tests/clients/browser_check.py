"""A real browser against Cairn: headless Chromium loads a page from another
origin on 127.0.0.1 that uploads with a presigned PUT and a POST form, then
reads the objects back cross-origin. CORS must allow exactly what the
bucket's rules say.

Usage: python browser_check.py ENDPOINT ACCESS_KEY SECRET_KEY WORKDIR
"""
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading

import boto3

endpoint, ak, sk, work = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")

# The page's own origin: a static server on another port.
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=work)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
page_origin = f"http://127.0.0.1:{server.server_address[1]}"
threading.Thread(target=server.serve_forever, daemon=True).start()

s3.create_bucket(Bucket="browser", ACL="public-read")
s3.put_bucket_cors(
    Bucket="browser",
    CORSConfiguration={
        "CORSRules": [
            {
                "AllowedOrigins": [page_origin],
                "AllowedMethods": ["GET", "PUT", "POST"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 60,
            }
        ]
    },
)
s3.create_bucket(Bucket="nocors", ACL="public-read")
s3.put_object(Bucket="nocors", Key="x.txt", Body=b"no cors here")

config = {
    "put": s3.generate_presigned_url("put_object", Params={"Bucket": "browser", "Key": "put.txt"}, ExpiresIn=300),
    "post": s3.generate_presigned_post("browser", "form/${filename}", ExpiresIn=300),
    "get": f"{endpoint}/browser/put.txt",
    "getForm": f"{endpoint}/browser/form/note.txt",
    "delete": f"{endpoint}/browser/put.txt",
    "noCors": f"{endpoint}/nocors/x.txt",
}
with open(f"{work}/index.html", "w") as f:
    f.write(
        """<!doctype html><html><body><pre id="result">pending</pre><script>
const cfg = %s;
const out = {};
async function attempt(name, fn) {
  try { out[name] = await fn(); } catch (e) { out[name] = "blocked: " + e.name; }
}
(async () => {
  await attempt("put", async () => (await fetch(cfg.put, {method: "PUT", body: new Blob(["hello from the browser"])})).status);
  await attempt("post", async () => {
    const form = new FormData();
    for (const [k, v] of Object.entries(cfg.post.fields)) form.append(k, v);
    form.append("file", new Blob(["posted by a form"], {type: "text/plain"}), "note.txt");
    return (await fetch(cfg.post.url, {method: "POST", body: form})).status;
  });
  await attempt("get", async () => {
    const r = await fetch(cfg.get);
    return {status: r.status, body: await r.text(), etag: r.headers.get("ETag")};
  });
  await attempt("getForm", async () => await (await fetch(cfg.getForm)).text());
  await attempt("delete", async () => (await fetch(cfg.delete, {method: "DELETE"})).status);
  await attempt("noCors", async () => (await fetch(cfg.noCors)).status);
  document.getElementById("result").textContent = "RESULT:" + JSON.stringify(out);
})();
</script></body></html>"""
        % json.dumps(config)
    )

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
assert chromium, "chromium is not installed"
dom = subprocess.run(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
     "--virtual-time-budget=20000", "--dump-dom", f"{page_origin}/index.html"],
    capture_output=True, text=True, timeout=120,
).stdout
server.shutdown()
m = re.search(r"RESULT:(\{.*\})", dom)
assert m, f"the page did not finish: {dom[:2000]}"
result = json.loads(m.group(1).replace("&quot;", '"'))
print("browser:", result)

assert result["put"] == 200, result
assert result["post"] == 204, result
assert result["get"]["status"] == 200 and result["get"]["body"] == "hello from the browser", result
assert result["get"]["etag"], "ETag is exposed by the rule"
assert result["getForm"] == "posted by a form", result
assert str(result["delete"]).startswith("blocked"), "DELETE is not in the rules: the preflight must fail"
assert str(result["noCors"]).startswith("blocked"), "a bucket without CORS rules is not readable cross-origin"
assert s3.get_object(Bucket="browser", Key="put.txt")["Body"].read() == b"hello from the browser"
print("browser: all checks passed")
