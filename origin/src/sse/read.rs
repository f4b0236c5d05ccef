//! Reading plaintext out of encrypted blobs: a range as a stream (GET),
//! or a whole blob in blocking steps (hashing a multipart object, copies).

use std::io::SeekFrom;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::cipher::{records_for, Key, Opener, HEADER};

/// `len > 0` plaintext bytes at `start` of the encrypted blob at `path`,
/// which holds `plain` bytes, one record per item.
pub fn range_stream(
    path: PathBuf,
    dek: Key,
    plain: u64,
    start: u64,
    len: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    struct State {
        file: tokio::fs::File,
        opener: Opener,
        index: u64,
        skip: usize,
        left: u64,
    }
    let opened = async move {
        let mut file = tokio::fs::File::open(&path).await?;
        let mut header = [0u8; HEADER];
        file.read_exact(&mut header).await?;
        let opener = Opener::new(&dek, &header, plain)?;
        let span = records_for(plain, start, len);
        file.seek(SeekFrom::Start(span.file_offset)).await?;
        Ok::<_, std::io::Error>(State {
            file,
            opener,
            index: span.first,
            skip: span.skip,
            left: len,
        })
    };
    futures_util::stream::once(opened)
        .map_ok(move |state| {
            futures_util::stream::try_unfold(state, move |mut s| async move {
                if s.left == 0 {
                    return Ok(None);
                }
                let mut record = vec![0u8; s.opener.record_len(s.index, plain)];
                s.file.read_exact(&mut record).await?;
                let n = s.opener.open(s.index, &mut record)?;
                let end = n.min(s.skip + usize::try_from(s.left).unwrap_or(usize::MAX));
                let out = Bytes::from(record).slice(s.skip..end);
                s.left -= out.len() as u64;
                s.skip = 0;
                s.index += 1;
                Ok(Some((out, s)))
            })
        })
        .try_flatten()
}

/// Calls `f` with the plaintext of a whole encrypted blob, record by
/// record (blocking).
pub fn for_each_plain(
    path: &std::path::Path,
    dek: &Key,
    plain: u64,
    mut f: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut header = [0u8; HEADER];
    file.read_exact(&mut header)?;
    let opener = Opener::new(dek, &header, plain)?;
    let records = plain.div_ceil(super::cipher::SEGMENT as u64).max(1);
    let mut record = Vec::new();
    for index in 0..records {
        record.resize(opener.record_len(index, plain), 0);
        file.read_exact(&mut record)?;
        let n = opener.open(index, &mut record)?;
        f(&record[..n]);
    }
    Ok(())
}
