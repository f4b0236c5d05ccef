//! Cairn's end-to-end tests, one module per capability. They are one test
//! binary, not one per file: each binary links the AWS SDK, and thirty of
//! them cost minutes of linking and gigabytes of disk in every CI run.
//! nextest still runs each test in its own process.

mod acme;
mod admin;
mod auth;
mod bench;
mod bucket_policy;
mod buckets;
mod compression;
mod connections;
mod durability;
mod edge;
mod edge_faults;
mod edge_log;
mod encryption;
mod grants;
mod hostile_input;
mod lifecycle;
mod listing;
mod multipart;
mod notifications;
mod object_acl;
mod object_lock;
mod objects;
mod operations;
mod public_cors_post;
mod quick_start;
mod ranges_conditionals;
mod signed_urls;
mod sites;
mod tenant_isolation;
mod tls;
mod versioning;
