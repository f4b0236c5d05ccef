"""The fault suite: real processes, real faults, bounded counts.

Run by tests/faults/run.sh (from .ci/run). Each fault prints what it tried
and what held; any fault that did not hold makes the suite exit 1.

  1. kill -9 of the origin under 32-client PUT load, three rounds; then every
     acknowledged object is read back and `cairn-origin check` must be clean.
  2. a black-holed origin (accepts, never answers) behind an edge: cached
     copies within stale-if-error are served, the rest get 504, in time.
  3. idle and slowloris connection floods: the origin keeps answering, and
     closes them within its header timeout.
  4. a full disk: the origin refuses new bytes with 507 and keeps serving
     what it stored.
"""

import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

BIN = sys.argv[1]
AK, SK = "CKFAULTSUITE00000001", "faultsuitesecretfaultsuitesecret00000000"
FAILED = []


def report(name, ok, detail):
    print(f"{'held' if ok else 'FAILED'}: {name}: {detail}", flush=True)
    if not ok:
        FAILED.append(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_origin(data, port, *extra):
    env = dict(os.environ, CAIRN_ROOT_ACCESS_KEY=AK, CAIRN_ROOT_SECRET_KEY=SK, CAIRN_LOG="warn")
    log = open(os.path.join(os.path.dirname(data), f"origin-{port}.log"), "a")
    p = subprocess.Popen(
        [f"{BIN}/cairn-origin", "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}", *extra],
        env=env, stdout=log, stderr=log,
    )
    wait_health(f"http://127.0.0.1:{port}")
    return p


def wait_health(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=1).status == 200:
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy")


def s3(port, retries=0, timeout=5):
    return boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=AK,
        aws_secret_access_key=SK, region_name="us-east-1",
        config=Config(retries={"max_attempts": retries + 1, "mode": "standard"},
                      connect_timeout=timeout, read_timeout=timeout,
                      max_pool_connections=64, s3={"addressing_style": "path"}),
    )


def kill9_under_load(work):
    data, port = os.path.join(work, "kill9", "data"), free_port()
    os.makedirs(os.path.dirname(data))
    origin = start_origin(data, port)
    s3(port).create_bucket(Bucket="load")
    acked = {}
    lock = threading.Lock()
    attempts = 0
    for round_ in range(3):
        stop = threading.Event()

        def writer(n):
            nonlocal attempts
            client = s3(port, retries=0, timeout=3)
            rng = random.Random(round_ * 1000 + n)
            i = 0
            while not stop.is_set():
                key = f"r{round_}/c{n}/{i}"
                body = rng.randbytes(rng.choice([100, 4096, 70_000, 300_000]))
                i += 1
                with lock:
                    attempts += 1
                try:
                    client.put_object(Bucket="load", Key=key, Body=body)
                except Exception:
                    continue
                with lock:
                    acked[key] = hashlib.md5(body).hexdigest()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(32)]
        for t in threads:
            t.start()
        time.sleep(2.5 + random.random())
        origin.send_signal(signal.SIGKILL)
        origin.wait()
        stop.set()
        for t in threads:
            t.join()
        origin = start_origin(data, port)
    client = s3(port, retries=2)
    lost = []
    for key, md5 in acked.items():
        try:
            got = client.get_object(Bucket="load", Key=key)["Body"].read()
            if hashlib.md5(got).hexdigest() != md5:
                lost.append(key)
        except Exception:
            lost.append(key)
    origin.send_signal(signal.SIGTERM)
    origin.wait()
    check = subprocess.run([f"{BIN}/cairn-origin", "check", "--data-dir", data], capture_output=True, text=True)
    report("kill -9 under 32-client PUT load, 3 rounds",
           not lost and check.returncode == 0,
           f"{attempts} PUTs tried, {len(acked)} acknowledged, {len(lost)} lost or changed, "
           f"`cairn-origin check` exit {check.returncode}")


def black_holed_origin(work):
    data, port, eport = os.path.join(work, "hole", "data"), free_port(), free_port()
    os.makedirs(os.path.dirname(data))
    origin = start_origin(data, port)
    client = s3(port)
    client.create_bucket(Bucket="hole", ACL="public-read")
    client.put_object(Bucket="hole", Key="cached", Body=b"cached bytes", CacheControl="max-age=1, stale-if-error=600")
    key = subprocess.run([f"{BIN}/cairn-origin", "key", "create", "faults-edge", "--edge", "--data-dir", data],
                         capture_output=True, text=True, check=True).stdout
    eak = next(l.split("=", 1)[1] for l in key.splitlines() if l.startswith("AWS_ACCESS_KEY_ID="))
    esk = next(l.split("=", 1)[1] for l in key.splitlines() if l.startswith("AWS_SECRET_ACCESS_KEY="))
    log = open(os.path.join(work, "hole", "edge.log"), "a")
    edge = subprocess.Popen(
        [f"{BIN}/cairn-edge", "serve", "--origin", f"http://127.0.0.1:{port}", "--access-key", eak,
         "--secret-key", esk, "--listen", f"127.0.0.1:{eport}", "--cache-dir", os.path.join(work, "hole", "cache"),
         "--upstream-timeout", "1s"], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{eport}"
    wait_health(base)
    urllib.request.urlopen(f"{base}/hole/cached", timeout=5).read()
    origin.send_signal(signal.SIGKILL)
    origin.wait()
    # The origin's port now accepts and never answers.
    hole = socket.socket()
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind(("127.0.0.1", port))
    hole.listen(1024)
    held = []
    threading.Thread(target=lambda: [held.append(hole.accept()) for _ in iter(int, 1)], daemon=True).start()
    time.sleep(1.2)
    results = []
    for path in ["cached", "never-cached", "cached"]:
        t = time.time()
        try:
            r = urllib.request.urlopen(f"{base}/hole/{path}", timeout=10)
            results.append((path, r.status, r.headers.get("x-cache"), time.time() - t))
        except urllib.error.HTTPError as e:
            results.append((path, e.code, e.headers.get("x-cache"), time.time() - t))
    edge.send_signal(signal.SIGTERM)
    edge.wait()
    hole.close()
    ok = (results[0][1:3] == (200, "STALE") and results[1][1] == 504 and results[2][1] == 200
          and all(r[3] < 3 for r in results))
    report("black-holed origin behind an edge (upstream timeout 1 s)", ok,
           ", ".join(f"{p} -> {s} {x or ''} in {d:.2f}s" for p, s, x, d in results))


def floods(work):
    data, port = os.path.join(work, "flood", "data"), free_port()
    os.makedirs(os.path.dirname(data))
    origin = start_origin(data, port, "--header-timeout", "3s")
    flood = subprocess.Popen([f"{BIN}/cairn-flood", f"127.0.0.1:{port}", "--idle", "5000", "--slow", "1000"],
                             stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    fds = len(os.listdir(f"/proc/{origin.pid}/fd"))
    worst = 0.0
    answered = 0
    for _ in range(20):
        t = time.time()
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                answered += 1
        except OSError:
            pass
        worst = max(worst, time.time() - t)
    deadline = time.time() + 6
    while time.time() < deadline and len(os.listdir(f"/proc/{origin.pid}/fd")) > 200:
        time.sleep(0.2)
    after = len(os.listdir(f"/proc/{origin.pid}/fd"))
    flood.kill()
    flood.wait()
    origin.send_signal(signal.SIGTERM)
    origin.wait()
    report("5,000 idle + 1,000 slowloris connections (header timeout 3 s)",
           answered == 20 and after <= 200,
           f"origin held {fds} files, /health answered {answered}/20 (slowest {worst * 1000:.0f} ms), "
           f"{after} files open 6 s later")


def full_disk(work):
    mount = os.path.join(work, "disk")
    os.makedirs(mount)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mount]).returncode != 0:
        report("a full disk", False, "could not mount a tmpfs (the suite needs root)")
        return
    try:
        data, port = os.path.join(mount, "data"), free_port()
        origin = start_origin(data, port)
        client = s3(port, retries=0)
        client.create_bucket(Bucket="full")
        stored, refused, other = {}, 0, []
        for i in range(40):
            body = os.urandom(1 << 20)
            try:
                client.put_object(Bucket="full", Key=f"k{i}", Body=body)
                stored[f"k{i}"] = body
            except client.exceptions.ClientError as e:
                code = e.response["ResponseMetadata"]["HTTPStatusCode"]
                refused += code == 507
                if code != 507:
                    other.append(code)
        intact = all(client.get_object(Bucket="full", Key=k)["Body"].read() == b for k, b in stored.items())
        origin.send_signal(signal.SIGTERM)
        origin.wait()
        report("a full disk (24 MiB tmpfs, 1 MiB PUTs)", refused > 0 and not other and intact,
               f"{len(stored)} stored, {refused} refused with 507, other errors {other}, "
               f"stored objects {'intact' if intact else 'DAMAGED'}")
    finally:
        subprocess.run(["umount", "-l", mount])


def main():
    work = tempfile.mkdtemp(prefix="cairn-faults-")
    for fault in (kill9_under_load, black_holed_origin, floods, full_disk):
        print(f"== {fault.__name__}", flush=True)
        try:
            fault(work)
        except Exception as e:  # a fault that crashed the suite did not hold
            report(fault.__name__, False, f"{type(e).__name__}: {e}")
    subprocess.run(["rm", "-rf", work])
    print(f"fault suite: {4 - len(FAILED)} of 4 held" + (f"; failed: {FAILED}" if FAILED else ""))
    sys.exit(1 if FAILED else 0)


main()
