"""Overwrites an object through the origin and times, for each region's
edge, how long after the PUT was acknowledged the edge first serves the new
bytes. Polls every region in parallel every 20 ms; prints one line per
region: REGION MILLISECONDS.

usage: overwrite_check.py ORIGIN BUCKET KEY REGION=URL...
"""
import os
import sys
import threading
import time
import urllib.request

import boto3

origin, bucket, key, *edges = sys.argv[1:]
body = os.urandom(300_000)
s3 = boto3.client("s3", endpoint_url=origin)
seen = {}


def poll(region, url, acked, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.read() == body and acked.is_set():
                    seen[region] = (time.monotonic() - acked.t0) * 1000
                    return
        except OSError:
            pass
        time.sleep(0.02)


acked = threading.Event()
deadline = time.monotonic() + 15
threads = []
for spec in edges:
    region, url = spec.split("=", 1)
    t = threading.Thread(target=poll, args=(region, f"{url}/{bucket}/{key}", acked, deadline))
    threads.append(t)
s3.put_object(Bucket=bucket, Key=key, Body=body, CacheControl="max-age=300")
acked.t0 = time.monotonic()
acked.set()
for t in threads:
    t.start()
for t in threads:
    t.join()
for spec in edges:
    region = spec.split("=", 1)[0]
    print(region, round(seen[region]) if region in seen else "never")
