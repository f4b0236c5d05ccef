//! Request XML bodies: the exact-text rewriting, a DeleteObjects shape and
//! a CORS configuration.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Delete {
    #[serde(rename = "Object", default)]
    objects: Vec<Object>,
    #[serde(rename = "Quiet")]
    quiet: Option<bool>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Object {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "VersionId")]
    version: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    let _ = cairn_shared::xml::parse::<Delete>(data);
    let _ = cairn_shared::cors::parse_config(data);
});
