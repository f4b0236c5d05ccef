//! Compression at the edge as browsers meet it: br, zstd and gzip chosen
//! from Accept-Encoding with q-values, one compression per object and
//! encoding, its own ETag for revalidation, ranges and media served as
//! they are, and variants dropped when the object changes.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::{metric, TestEdge, TestOrigin};

struct Got {
    status: u16,
    encoding: Option<String>,
    etag: Option<String>,
    vary: Vec<String>,
    xcache: Option<String>,
    body: Vec<u8>,
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (encoding, etag, xcache) = (h("content-encoding"), h("etag"), h("x-cache"));
    let vary = resp
        .headers()
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    Got {
        status: resp.status().as_u16(),
        encoding,
        etag,
        vary,
        xcache,
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    match encoding {
        None => body.to_vec(),
        Some("br") => {
            let mut out = Vec::new();
            brotli::BrotliDecompress(&mut std::io::Cursor::new(body), &mut out).unwrap();
            out
        }
        Some("zstd") => zstd::stream::decode_all(body).unwrap(),
        Some("gzip") => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out).unwrap();
            out
        }
        Some(other) => panic!("unexpected encoding {other}"),
    }
}

/// 64 KiB of JavaScript-like text.
fn script(version: &str) -> Vec<u8> {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < 64 * 1024 {
        s.push_str(&format!(
            "export function handler{i}(event) {{ return render('{version}', event.id, {i}); }}\n"
        ));
        i += 1;
    }
    s.into_bytes()
}

async fn put(
    s3: &aws_sdk_s3::Client,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
    encoding: Option<&str>,
) {
    s3.put_object()
        .bucket("web")
        .key(key)
        .content_type(content_type)
        .set_content_encoding(encoding.map(str::to_owned))
        .cache_control("public, max-age=3600")
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn text_assets_are_compressed_once_per_encoding_and_negotiated() {
    let origin = TestOrigin::spawn();
    let s3 = origin.public_bucket("web").await;
    let js = script("v1");
    put(&s3, "app.js", js.clone(), "application/javascript", None).await;
    put(
        &s3,
        "logo.png",
        cairn_tests::payload(8192, 3),
        "image/png",
        None,
    )
    .await;
    put(
        &s3,
        "tiny.css",
        b"body{margin:0}".to_vec(),
        "text/css",
        None,
    )
    .await;
    let pre = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, &js).unwrap();
        e.finish().unwrap()
    };
    put(
        &s3,
        "pre.js",
        pre.clone(),
        "application/javascript",
        Some("gzip"),
    )
    .await;
    let edge = TestEdge::spawn(&origin, &[]);
    let url = format!("{}/web/app.js", edge.url);

    // The first request fetches; its answer is compressed as it streams
    // (the variant's validator, no Content-Length) and varies by encoding.
    let first = get(&url, &[("accept-encoding", "br")]).await;
    assert_eq!(first.xcache.as_deref(), Some("MISS"));
    assert_eq!(first.encoding.as_deref(), Some("br"));
    assert!(
        first.body.len() < js.len() / 4,
        "{} bytes",
        first.body.len()
    );
    assert!(
        decode(Some("br"), &first.body) == js,
        "the streamed br decodes"
    );
    assert!(first.etag.as_deref().is_some_and(|e| e.ends_with("-br\"")));
    assert!(
        first.vary.iter().any(|v| v.contains("Accept-Encoding")),
        "{:?}",
        first.vary
    );

    let mut etags = Vec::new();
    for (accept, want) in [
        ("gzip, deflate, br, zstd", Some("br")),
        ("zstd, gzip", Some("zstd")),
        ("gzip", Some("gzip")),
        ("br;q=0, gzip;q=0.5, zstd;q=0.1", Some("gzip")),
        ("identity", None),
        ("br;q=0, zstd;q=0, gzip;q=0", None),
    ] {
        let got = get(&url, &[("accept-encoding", accept)]).await;
        assert_eq!(got.status, 200, "{accept}");
        assert_eq!(got.encoding.as_deref(), want, "{accept}");
        assert_eq!(got.xcache.as_deref(), Some("HIT"), "{accept}");
        assert_eq!(decode(want, &got.body), js, "{accept}");
        if want.is_some() {
            assert!(
                got.body.len() < js.len() / 4,
                "{accept}: {} bytes",
                got.body.len()
            );
            assert!(got.vary.iter().any(|v| v.contains("Accept-Encoding")));
        }
        etags.push(got.etag.unwrap());
    }
    // Every variant has its own validator, and revalidates.
    assert!(etags[0].ends_with("-br\""), "{etags:?}");
    assert_ne!(etags[0], etags[1]);
    let revalidated = get(
        &url,
        &[("accept-encoding", "br"), ("if-none-match", &etags[0])],
    )
    .await;
    assert_eq!(revalidated.status, 304);
    // Compressed once per encoding, however often asked.
    for _ in 0..3 {
        get(&url, &[("accept-encoding", "br")]).await;
    }
    let text = reqwest::get(format!("{}/metrics", edge.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&text, "cairn_edge_compressions_total"),
        Some(3.0),
        "{text}"
    );

    // Ranges come from the identity.
    let range = get(&url, &[("accept-encoding", "br"), ("range", "bytes=0-99")]).await;
    assert_eq!((range.status, range.encoding.as_deref()), (206, None));
    assert_eq!(range.body, js[..100]);
    // Media, tiny files and pre-compressed objects are served as they are.
    for (path, want) in [
        ("logo.png", None),
        ("tiny.css", None),
        ("pre.js", Some("gzip")),
    ] {
        let u = format!("{}/web/{path}", edge.url);
        get(&u, &[("accept-encoding", "br")]).await;
        let got = get(&u, &[("accept-encoding", "br")]).await;
        assert_eq!(got.encoding.as_deref(), want, "{path}");
    }
    let pre_got = get(
        &format!("{}/web/pre.js", edge.url),
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(
        pre_got.body, pre,
        "a pre-compressed object is not compressed again"
    );

    // A new version drops the variants with the object.
    let js2 = script("v2");
    put(&s3, "app.js", js2.clone(), "application/javascript", None).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(&url, &[("accept-encoding", "br")]).await;
        if decode(got.encoding.as_deref(), &got.body) == js2 {
            break;
        }
        assert!(Instant::now() < deadline, "the old variant is still served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    get(&url, &[("accept-encoding", "br")]).await;
    let got = get(&url, &[("accept-encoding", "br")]).await;
    assert_eq!(got.encoding.as_deref(), Some("br"));
    assert_eq!(decode(Some("br"), &got.body), js2);
}
