//! XML in and out: a small writer for S3's response documents and serde
//! shapes for the request bodies we parse.
//!
//! Responses are built with quick-xml's writer so every text node is
//! escaped; request bodies are parsed with quick-xml's serde support and any
//! failure is `MalformedXML`.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::de::DeserializeOwned;

use crate::error::{Code, S3Error, S3Result};

/// The S3 namespace that response roots carry.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Appends elements to an in-memory XML document.
pub struct XmlWriter {
    w: Writer<Vec<u8>>,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        let mut w = Writer::new(Vec::with_capacity(512));
        // Writing to a Vec cannot fail.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        Self { w }
    }

    /// Opens the document's root element with the S3 namespace.
    pub fn root(&mut self, name: &str) {
        let el = BytesStart::new(name).with_attributes([("xmlns", S3_NS)]);
        let _ = self.w.write_event(Event::Start(el));
    }

    pub fn open(&mut self, name: &str) {
        let _ = self.w.write_event(Event::Start(BytesStart::new(name)));
    }

    pub fn open_with(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let el = BytesStart::new(name).with_attributes(attrs.iter().copied());
        let _ = self.w.write_event(Event::Start(el));
    }

    pub fn text(&mut self, text: &str) {
        let _ = self.w.write_event(Event::Text(BytesText::new(text)));
    }

    pub fn close(&mut self, name: &str) {
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
    }

    pub fn elem(&mut self, name: &str, text: &str) {
        self.open(name);
        let _ = self.w.write_event(Event::Text(BytesText::new(text)));
        self.close(name);
    }

    pub fn finish(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

/// Parses a request body, every text value byte for byte
/// ([`cairn_shared::xml`]); anything that does not fit the shape is
/// MalformedXML.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> S3Result<T> {
    cairn_shared::xml::parse(body).map_err(|e| {
        tracing::debug!(error = %e, "malformed xml");
        S3Error::new(Code::MalformedXML)
    })
}
