//! Request-body XML parsed into serde shapes with every text value kept
//! byte for byte.
//!
//! quick-xml's serde deserializer trims the whitespace around every text
//! node, so `<Key> a</Key>` would arrive as `a`: DeleteObjects would then
//! delete another object than the one named, and report success. S3 keys,
//! ETags, upload ids, tag values and CORS values are data, whitespace and
//! entities included. So a document is first rewritten with each leaf
//! element's text (entities resolved) as CDATA, which the deserializer
//! passes on untouched; whitespace between elements (indentation) is
//! dropped, as it carries nothing. Document type declarations are refused:
//! S3 bodies never need one, and they are how entity bombs start.

use quick_xml::events::{BytesCData, Event};
use quick_xml::{Reader, Writer};
use serde::de::DeserializeOwned;

/// Why a body did not parse (S3's MalformedXML, whatever the detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct Malformed(pub String);

fn malformed(e: impl std::fmt::Display) -> Malformed {
    Malformed(e.to_string())
}

/// Parses `body` into `T`, keeping every leaf element's text exactly.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Malformed> {
    let text = std::str::from_utf8(body).map_err(malformed)?;
    let exact = with_exact_text(text)?;
    quick_xml::de::from_str(&exact).map_err(malformed)
}

/// The same document with each leaf element's text as CDATA.
fn with_exact_text(text: &str) -> Result<String, Malformed> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out = Writer::new(Vec::with_capacity(text.len() + 64));
    // Text seen since the last start tag, while no child has opened.
    let mut leaf: Option<String> = None;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(e) => {
                // Text before a child element (mixed content, which no S3
                // document has) is dropped with the parent's `leaf`.
                leaf = Some(String::new());
                out.write_event(Event::Start(e)).map_err(malformed)?;
            }
            Event::Text(t) => {
                if let Some(l) = leaf.as_mut() {
                    l.push_str(&t.unescape().map_err(malformed)?);
                }
            }
            Event::CData(c) => {
                if let Some(l) = leaf.as_mut() {
                    l.push_str(std::str::from_utf8(&c).map_err(malformed)?);
                }
            }
            Event::End(e) => {
                if let Some(l) = leaf.take() {
                    write_cdata(&mut out, &l)?;
                }
                out.write_event(Event::End(e)).map_err(malformed)?;
            }
            Event::Empty(e) => {
                leaf = None;
                out.write_event(Event::Empty(e)).map_err(malformed)?;
            }
            Event::DocType(_) => return Err(Malformed("a DTD is not allowed".into())),
            Event::Eof => break,
            // Declarations, comments and processing instructions carry no data.
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    String::from_utf8(out.into_inner()).map_err(malformed)
}

/// Writes `text` as CDATA sections (split where it holds `]]>`).
fn write_cdata(out: &mut Writer<Vec<u8>>, text: &str) -> Result<(), Malformed> {
    if text.is_empty() {
        return Ok(());
    }
    let mut rest = text;
    while let Some(at) = rest.find("]]>") {
        // `]]` ends one section, `>` starts the next.
        let (head, tail) = rest.split_at(at + 2);
        out.write_event(Event::CData(BytesCData::new(head)))
            .map_err(malformed)?;
        rest = tail;
    }
    out.write_event(Event::CData(BytesCData::new(rest)))
        .map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Delete {
        #[serde(rename = "Object", default)]
        objects: Vec<Object>,
        #[serde(rename = "Quiet")]
        quiet: Option<bool>,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Object {
        #[serde(rename = "Key")]
        key: String,
    }

    fn keys(xml: &str) -> Vec<String> {
        parse::<Delete>(xml.as_bytes())
            .unwrap()
            .objects
            .into_iter()
            .map(|o| o.key)
            .collect()
    }

    #[test]
    fn text_arrives_byte_for_byte() {
        let cases: [(&str, &str); 9] = [
            ("<Key> </Key>", " "),
            ("<Key>a </Key>", "a "),
            ("<Key> a</Key>", " a"),
            ("<Key>a\tb</Key>", "a\tb"),
            ("<Key>&amp;</Key>", "&"),
            ("<Key>&lt;</Key>", "<"),
            ("<Key>&#x20;x&#10;</Key>", " x\n"),
            ("<Key><![CDATA[ ]]>]]></Key>", " ]]>"),
            ("<Key>a<![CDATA[ b ]]>c</Key>", "a b c"),
        ];
        for (xml, want) in cases {
            let doc = format!(
                "<?xml version=\"1.0\"?>\n<Delete>\n  <Object>\n    {xml}\n  </Object>\n</Delete>"
            );
            assert_eq!(keys(&doc), vec![want.to_owned()], "{xml}");
        }
    }

    #[test]
    fn structure_is_unchanged() {
        let doc = "<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>";
        assert_eq!(
            parse::<Delete>(doc.as_bytes()).unwrap(),
            Delete {
                objects: vec![Object { key: "a".into() }, Object { key: "b".into() }],
                quiet: Some(true)
            }
        );
        assert_eq!(
            keys("<Delete><Object><Key></Key></Object></Delete>"),
            vec![String::new()]
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "<Delete><Object><Key>a</Object></Key></Delete>",
            "<!DOCTYPE d [<!ENTITY a \"aaaa\">]><Delete><Object><Key>&a;</Key></Object></Delete>",
            "<Delete><Object><Key>&nope;</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key></Object>",
            "\u{0}",
        ] {
            assert!(parse::<Delete>(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
