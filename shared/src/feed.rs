//! What the origin's change feed and an edge agree on beyond the JSON
//! pages themselves.
//!
//! An edge may fetch an object after a change but learn of the change
//! later (the next poll was in flight). Dropping its copy then throws away
//! the newest version and costs a second fetch. So the origin names each
//! version it serves with an opaque tag, in [`VERSION_HEADER`], and each
//! change in the feed carries the tag of the version it wrote: a copy with
//! that very tag is current as of the change and is kept. The tag changes
//! with every write (time and metadata included), so a copy written by an
//! earlier change, even of the same bytes, never matches a later one.

/// Response header: the opaque tag of the version of the object served.
pub const VERSION_HEADER: &str = "x-cairn-version";

/// Whether a copy tagged `copy` is still current after a change that
/// wrote the version tagged `written`. Without both tags (a deletion, an
/// upstream that does not tag) only dropping the copy is safe.
pub fn still_current(copy: Option<&str>, written: Option<&str>) -> bool {
    matches!((copy, written), (Some(c), Some(w)) if c == w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_survives_only_the_change_that_wrote_it() {
        assert!(still_current(Some("ab"), Some("ab")));
        assert!(!still_current(Some("ab"), Some("cd")));
        assert!(!still_current(None, Some("ab")));
        assert!(!still_current(Some("ab"), None));
        assert!(!still_current(None, None));
    }
}
