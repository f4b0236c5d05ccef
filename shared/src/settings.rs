//! The start-up plumbing both daemons share: a TOML settings file read
//! strictly (an unknown key or a bad value is an error that names the file,
//! the line and the key, never a silent default), and the log format.
//!
//! Precedence is built by each daemon: clap fills a settings struct from
//! flags and `CAIRN_*` variables (a flag wins over a variable), and fields
//! left empty are taken from the file, then from the documented default.

use std::path::Path;

/// Reads `path` as TOML into `T` (which should deny unknown fields).
///
/// The error is one line: `FILE:LINE: MESSAGE (at `THE LINE`)`, so the
/// operator sees which key was wrong without reading a backtrace.
pub fn read_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("config file {}{e}", path.display()))
}

/// Parses settings text; errors start with `:LINE: ` so a caller can put
/// the file name in front.
pub fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_owned();
        match e.span() {
            Some(span) => {
                let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
                let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
                format!(":{line_no}: {message} (at `{line}`)")
            }
            None => format!(": {message}"),
        }
    })
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event (colored on a terminal).
    #[default]
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format '{other}': expected text or json"
            )),
        }
    }
}

/// Installs the global tracing subscriber. `CAIRN_LOG` filters (default
/// `info`); span fields such as `request_id` appear on every line inside
/// the span in both formats.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CAIRN_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Size, Span};

    #[derive(Debug, serde::Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Example {
        listen: Option<std::net::SocketAddr>,
        memory_cache: Option<Size>,
        default_ttl: Option<Span>,
        log_format: Option<LogFormat>,
    }

    #[test]
    fn good_file() {
        let e: Example = parse(
            "listen = \"0.0.0.0:80\"\nmemory_cache = \"256MiB\"\ndefault_ttl = 30\nlog_format = \"json\"\n",
        )
        .unwrap();
        assert_eq!(e.listen.unwrap().port(), 80);
        assert_eq!(e.memory_cache, Some(Size(256 << 20)));
        assert_eq!(e.default_ttl.unwrap().0.as_secs(), 30);
        assert_eq!(e.log_format, Some(LogFormat::Json));
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let cases = [
            ("listen = \"0.0.0.0:80\"\nlistn = 1\n", ":2:", "listn"),
            ("memory_cache = \"lots\"\n", ":1:", "memory_cache"),
            ("default_ttl = -3\n", ":1:", "default_ttl"),
            ("log_format = \"xml\"\n", ":1:", "log_format"),
            ("listen = \n", ":1:", "listen"),
        ];
        for (text, line, key) in cases {
            let err = parse::<Example>(text).unwrap_err();
            assert!(err.starts_with(line), "{text:?} → {err}");
            assert!(err.contains(key), "{text:?} → {err}");
        }
    }
}
