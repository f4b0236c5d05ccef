//! POST form uploads: a policy document checked against the form's fields
//! (exact values, starts-with, content-length-range, extra fields).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&[u8], Vec<(String, String)>, &str)| {
    let (policy, fields, key) = data;
    let _ = cairn_origin::ops::post::check_form_policy(policy, &fields, "bucket", key);
});
