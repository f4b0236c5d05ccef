//! Sizes (`256MiB`, `4k`, `1GB`) and durations (`30s`, `5m`, `7d`) as
//! operators write them in flags, environment variables and config files.

use std::time::Duration;

/// Parses a byte size; binary units (`KiB`, `MiB`, `GiB`, `TiB`, or their
/// one-letter forms) and decimal ones (`KB`, `MB`, `GB`, `TB`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("invalid size '{s}': expected a number with an optional unit such as 256MiB")
    })?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => return Err(format!("invalid size '{s}': unknown unit '{other}'")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size '{s}': too large"))
}

/// Parses a duration: a number with `ms`, `s`, `m`, `h` or `d` (a bare
/// number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("invalid duration '{s}': expected a number with a unit such as 30s")
    })?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        other => return Err(format!("invalid duration '{s}': unknown unit '{other}'")),
    };
    Ok(d)
}

/// A byte size as a setting: `256MiB` in flags and variables, a string or
/// a plain integer of bytes in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_size(s).map(Size)
    }
}

impl<'de> serde::Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match StrOrInt::deserialize(d)? {
            StrOrInt::Str(s) => s.parse().map_err(serde::de::Error::custom),
            StrOrInt::Int(n) => u64::try_from(n)
                .map(Size)
                .map_err(|_| serde::de::Error::custom("a size cannot be negative")),
        }
    }
}

/// A duration as a setting: `30s` in flags and variables, a string or a
/// plain integer of seconds in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s).map(Span)
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match StrOrInt::deserialize(d)? {
            StrOrInt::Str(s) => s.parse().map_err(serde::de::Error::custom),
            StrOrInt::Int(n) => u64::try_from(n)
                .map(|n| Span(Duration::from_secs(n)))
                .map_err(|_| serde::de::Error::custom("a duration cannot be negative")),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StrOrInt {
    Str(String),
    Int(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases = [
            ("4KiB", 4096),
            ("256MiB", 256 << 20),
            ("1g", 1 << 30),
            ("10GB", 10_000_000_000),
            ("17", 17),
        ];
        for (s, want) in cases {
            assert_eq!(parse_size(s), Ok(want), "{s}");
        }
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
    }
}
