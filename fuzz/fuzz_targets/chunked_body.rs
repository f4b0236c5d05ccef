//! aws-chunked request bodies (unsigned framing), split at any points.
#![no_main]
use bytes::Bytes;
use cairn_origin::auth::chunked::ChunkedBody;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&[u8], Vec<u8>)| {
    let (body, cuts) = data;
    let mut pieces = Vec::new();
    let mut at = 0;
    for c in cuts {
        let end = (at + usize::from(c)).min(body.len());
        pieces.push(Ok::<_, std::io::Error>(Bytes::copy_from_slice(&body[at..end])));
        at = end;
    }
    pieces.push(Ok(Bytes::copy_from_slice(&body[at..])));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let mut decoder = ChunkedBody::new(futures_util::stream::iter(pieces), None);
        for _ in 0..1024 {
            match decoder.next().await {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    });
});
