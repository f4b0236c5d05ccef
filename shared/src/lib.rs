//! Protocol logic that both the origin and the edge need, as pure functions.
//!
//! Nothing here knows about axum, SQLite or sockets: each protocol module
//! turns header text into a decision, so it can be tested as a table of
//! input → expected output and reused unchanged by any server. The one
//! exceptions are `settings` and `progress`, the command-line plumbing
//! (config file, logging, progress lines) every binary shares.

pub mod conditional;
pub mod cors;
pub mod etag;
pub mod feed;
pub mod freshness;
pub mod listen;
pub mod names;
pub mod progress;
pub mod range;
pub mod request_signer;
pub mod settings;
pub mod signed_url;
pub mod target;
pub mod tls;
pub mod units;
pub mod website;
pub mod xml;
