//! Cache keys: an object's is `bucket/key`; a slice (a byte range cached
//! on its own) has its own, which no object key can collide with.

/// The cache key of slice `index` of `key` (`bucket/object`). Object
/// keys start with their bucket's name, which starts with a letter or
/// digit; slice keys start with NUL, so no object key (an S3 key may hold
/// NUL) can ever name a slice.
pub fn slice_key(key: &str, index: u64) -> String {
    format!("{SLICES}{key}\0{index}")
}

/// The prefix every slice key of `key` starts with (it may also cover
/// slices of keys that extend `key` with NUL: dropping those too is
/// harmless).
pub fn slice_prefix(key: &str) -> String {
    format!("{SLICES}{key}\0")
}

/// What every slice key starts with.
pub const SLICES: &str = "\0";
