//! A progress line for long command-line operations (`gc`, `check`, bench
//! runs): redrawn in place on a terminal, a plain line every few seconds
//! otherwise (so CI logs stay readable), always on stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    tty: bool,
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: None,
            drawn: false,
        }
    }

    /// Reports `done` of `total` (in `unit`s, e.g. "blobs" or "bytes").
    pub fn update(&mut self, done: u64, total: u64, unit: &str) {
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.is_some_and(|l| l.elapsed() < every) && done < total {
            return;
        }
        self.last = Some(Instant::now());
        let pct = if total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / total as f64
        };
        let (d, t) = if unit == "bytes" {
            (human_bytes(done), human_bytes(total))
        } else {
            (format!("{done}"), format!("{total} {unit}"))
        };
        self.line(&format!(
            "{}: {d} of {t} ({pct:.0}%, {:.1}s)",
            self.label,
            self.started.elapsed().as_secs_f64()
        ));
    }

    /// Shows free text, e.g. a live rate.
    pub fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{text}");
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
        self.drawn = true;
    }

    /// Ends the line on a terminal so the next output starts clean.
    pub fn finish(&mut self) {
        if self.tty && self.drawn {
            let _ = writeln!(std::io::stderr());
        }
        self.drawn = false;
    }
}

/// `1.5 GiB`, `12.0 MiB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// Ends a progress line drawn by a `Progress` that is gone (e.g. one owned
/// by a task that was stopped), so the next output starts clean.
pub fn end_line() {
    if std::io::stderr().is_terminal() {
        let _ = writeln!(std::io::stderr());
    }
}
