"""boto3 against a running Cairn origin: every step asserted.

Usage: python boto3_check.py ENDPOINT ACCESS_KEY SECRET_KEY WORKDIR
"""
import hashlib
import os
import sys
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, ak, sk, work = sys.argv[1:5]


def client(**cfg):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        config=Config(**cfg),
    )


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def http(method, url, data=None):
    # A browser-like request: no Content-Type unless one was signed.
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ""})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {url}: {e.code} {e.read().decode()}") from None


s3 = client()
s3.create_bucket(Bucket="boto")

# upload_file / download_file with multipart (20 MiB over an 8 MiB threshold).
big = os.path.join(work, "big.bin")
with open(big, "wb") as f:
    f.write(os.urandom(20 * 1024 * 1024 + 123))
cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
s3.upload_file(big, "boto", "dir/big.bin", Config=cfg)
head = s3.head_object(Bucket="boto", Key="dir/big.bin")
assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
back = os.path.join(work, "big.back")
s3.download_file("boto", "dir/big.bin", back, Config=cfg)
assert sha(big) == sha(back), "download differs"
print("boto3: multipart upload_file/download_file ok")

# Presigned URLs used by plain HTTP: default signer, SigV2 and SigV4.
for name, c in [("default", s3), ("s3 (v2)", client(signature_version="s3")), ("s3v4", client(signature_version="s3v4"))]:
    key = f"presigned {name}.txt"
    put = c.generate_presigned_url("put_object", Params={"Bucket": "boto", "Key": key}, ExpiresIn=300)
    status, _ = http("PUT", put, data=b"via presigned put")
    assert status == 200, status
    get = c.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": key}, ExpiresIn=300)
    status, body = http("GET", get)
    assert (status, body) == (200, b"via presigned put"), (status, body)
    print(f"boto3: presigned PUT and GET ({name}) ok")

# Listing with paginators.
for i in range(25):
    s3.put_object(Bucket="boto", Key=f"many/{i:03d}", Body=b"x")
pages = s3.get_paginator("list_objects_v2").paginate(Bucket="boto", Prefix="many/", PaginationConfig={"PageSize": 10})
keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
assert keys == [f"many/{i:03d}" for i in range(25)], keys
v1 = s3.get_paginator("list_objects").paginate(Bucket="boto", Prefix="many/", PaginationConfig={"PageSize": 7})
assert sum(len(p.get("Contents", [])) for p in v1) == 25
print("boto3: paginators ok")

# Copy, then delete_objects.
s3.copy_object(Bucket="boto", Key="copied.bin", CopySource={"Bucket": "boto", "Key": "dir/big.bin"})
assert s3.head_object(Bucket="boto", Key="copied.bin")["ContentLength"] == 20 * 1024 * 1024 + 123
out = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": k} for k in keys]})
assert len(out["Deleted"]) == 25 and not out.get("Errors"), out
assert "Contents" not in s3.list_objects_v2(Bucket="boto", Prefix="many/")
print("boto3: copy and delete_objects ok")

# A browser form upload from generate_presigned_post (multipart/form-data).
post = s3.generate_presigned_post(
    "boto", "forms/${filename}", Conditions=[["content-length-range", 1, 1024]], ExpiresIn=300
)
boundary = "cairnboundary"
parts = [
    f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for k, v in post["fields"].items()
]
parts.append(
    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="hello.txt"\r\n'
    f"Content-Type: text/plain\r\n\r\n".encode()
    + b"form upload\r\n"
    + f"--{boundary}--\r\n".encode()
)
req = urllib.request.Request(
    post["url"], data=b"".join(parts), method="POST",
    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
)
with urllib.request.urlopen(req) as resp:
    assert resp.status == 204, resp.status
assert s3.get_object(Bucket="boto", Key="forms/hello.txt")["Body"].read() == b"form upload"
print("boto3: generate_presigned_post form upload ok")

# Errors arrive as S3 error codes.
try:
    s3.get_object(Bucket="boto", Key="missing")
    raise AssertionError("expected NoSuchKey")
except s3.exceptions.NoSuchKey:
    pass
print("boto3: all checks passed")
