//! Protocol logic that both the origin and the edge need, as pure functions.
//!
//! Nothing here does I/O or knows about axum, SQLite or sockets: each module
//! turns header text into a decision, so it can be tested as a table of
//! input → expected output and reused unchanged by any server.

pub mod conditional;
pub mod cors;
pub mod etag;
pub mod freshness;
pub mod names;
pub mod range;
pub mod signed_url;
pub mod target;
pub mod units;
