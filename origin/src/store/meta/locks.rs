//! Object Lock: what keeps a version from being removed.
//!
//! A version of a lock-enabled bucket may carry a retention (a mode and a
//! date) and a legal hold. While either holds, the version cannot be
//! removed: a legal hold and a COMPLIANCE retention by no one, a
//! GOVERNANCE retention only by a request that says
//! `x-amz-bypass-governance-retention: true`. The check sits here, in the
//! store, on every path that removes a version for good, so no handler (or
//! later lifecycle worker) can forget it. A delete without a version id
//! only adds a delete marker and removes nothing, so it is always allowed.

use rusqlite::{params, Connection};

use crate::store::error::{Result, StoreError};

/// A retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Governance,
    Compliance,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "GOVERNANCE" => Some(Mode::Governance),
            "COMPLIANCE" => Some(Mode::Compliance),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Governance => "GOVERNANCE",
            Mode::Compliance => "COMPLIANCE",
        }
    }
}

/// The lock state of one version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectLock {
    pub mode: Option<Mode>,
    pub until_ms: Option<i64>,
    pub legal_hold: bool,
}

impl ObjectLock {
    /// The retention, while it lasts.
    fn active(&self, now_ms: i64) -> Option<Mode> {
        match (self.mode, self.until_ms) {
            (Some(m), Some(until)) if until > now_ms => Some(m),
            _ => None,
        }
    }

    /// Whether the version may be removed now; AccessDenied if not.
    pub fn check_removal(&self, now_ms: i64, bypass_governance: bool) -> Result<()> {
        if self.legal_hold {
            return Err(denied("The object is under a legal hold."));
        }
        match self.active(now_ms) {
            Some(Mode::Compliance) => Err(denied("The object is under COMPLIANCE retention.")),
            Some(Mode::Governance) if !bypass_governance => {
                Err(denied("The object is under GOVERNANCE retention."))
            }
            _ => Ok(()),
        }
    }

    /// Whether a new retention may replace this one: extending (same
    /// mode, a later or equal date) always may; anything else only past a
    /// GOVERNANCE retention with the bypass, and never a COMPLIANCE one.
    pub fn check_retention_change(
        &self,
        mode: Mode,
        until_ms: i64,
        now_ms: i64,
        bypass_governance: bool,
    ) -> Result<()> {
        let Some(current) = self.active(now_ms) else {
            return Ok(());
        };
        let extends = current == mode && self.until_ms.is_some_and(|u| until_ms >= u);
        match current {
            _ if extends => Ok(()),
            Mode::Governance if bypass_governance => Ok(()),
            Mode::Governance => Err(denied(
                "Shortening or changing a GOVERNANCE retention needs x-amz-bypass-governance-retention.",
            )),
            Mode::Compliance => Err(denied("A COMPLIANCE retention cannot be shortened or changed.")),
        }
    }
}

fn denied(msg: &'static str) -> StoreError {
    StoreError::Locked(msg)
}

/// A bucket's default retention, applied to new versions that name none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRetention {
    pub mode: Mode,
    /// The period, in days or in years (exactly one is set).
    pub days: Option<u32>,
    pub years: Option<u32>,
}

impl DefaultRetention {
    /// As stored in `buckets.lock_config`: `MODE days N` or `MODE years N`.
    pub fn encode(&self) -> String {
        match (self.days, self.years) {
            (Some(d), _) => format!("{} days {d}", self.mode.as_str()),
            (_, y) => format!("{} years {}", self.mode.as_str(), y.unwrap_or(0)),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        let mut it = s.split(' ');
        let mode = Mode::parse(it.next()?)?;
        let unit = it.next()?;
        let n: u32 = it.next()?.parse().ok()?;
        Some(match unit {
            "days" => DefaultRetention {
                mode,
                days: Some(n),
                years: None,
            },
            "years" => DefaultRetention {
                mode,
                days: None,
                years: Some(n),
            },
            _ => return None,
        })
    }

    /// The lock a version written at `now_ms` gets.
    pub fn apply(&self, now_ms: i64) -> ObjectLock {
        const DAY_MS: i64 = 86_400_000;
        let days =
            self.days.map(i64::from).unwrap_or(0) + self.years.map(i64::from).unwrap_or(0) * 365;
        ObjectLock {
            mode: Some(self.mode),
            until_ms: Some(now_ms.saturating_add(days.saturating_mul(DAY_MS))),
            legal_hold: false,
        }
    }
}

/// Writes the retention or legal hold of one version (current or not).
pub fn set(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    current: bool,
    lock: &ObjectLock,
) -> Result<()> {
    let table = if current { "objects" } else { "versions" };
    let sql = format!(
        "UPDATE {table} SET lock_mode = ?4, lock_until_ms = ?5, legal_hold = ?6
         WHERE bucket = ?1 AND key = ?2 AND version_id IS ?3"
    );
    conn.prepare_cached(&sql)?.execute(params![
        bucket,
        key.as_bytes(),
        version_id,
        lock.mode.map(Mode::as_str),
        lock.until_ms,
        lock.legal_hold
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn lock(mode: Option<Mode>, until: i64, hold: bool) -> ObjectLock {
        ObjectLock {
            mode,
            until_ms: Some(until),
            legal_hold: hold,
        }
    }

    #[test]
    fn locked_versions_stay_unless_governance_is_bypassed() {
        let gov = lock(Some(Mode::Governance), NOW + 1, false);
        let comp = lock(Some(Mode::Compliance), NOW + 1, false);
        assert!(gov.check_removal(NOW, false).is_err());
        assert!(gov.check_removal(NOW, true).is_ok());
        assert!(comp.check_removal(NOW, true).is_err());
        assert!(comp.check_removal(NOW + 1, false).is_ok(), "expired");
        assert!(lock(None, 0, true).check_removal(NOW, true).is_err());
        assert!(ObjectLock::default().check_removal(NOW, false).is_ok());
    }

    #[test]
    fn retention_only_grows_without_the_bypass() {
        let gov = lock(Some(Mode::Governance), NOW + 10, false);
        assert!(gov
            .check_retention_change(Mode::Governance, NOW + 20, NOW, false)
            .is_ok());
        assert!(gov
            .check_retention_change(Mode::Governance, NOW + 5, NOW, false)
            .is_err());
        assert!(gov
            .check_retention_change(Mode::Governance, NOW + 5, NOW, true)
            .is_ok());
        assert!(gov
            .check_retention_change(Mode::Compliance, NOW + 20, NOW, false)
            .is_err());
        let comp = lock(Some(Mode::Compliance), NOW + 10, false);
        assert!(comp
            .check_retention_change(Mode::Compliance, NOW + 20, NOW, false)
            .is_ok());
        assert!(comp
            .check_retention_change(Mode::Governance, NOW + 20, NOW, true)
            .is_err());
        assert!(comp
            .check_retention_change(Mode::Compliance, NOW + 5, NOW, true)
            .is_err());
    }

    #[test]
    fn default_retention_round_trips() {
        let d = DefaultRetention {
            mode: Mode::Compliance,
            days: None,
            years: Some(2),
        };
        assert_eq!(DefaultRetention::decode(&d.encode()), Some(d));
        assert_eq!(d.apply(0).until_ms, Some(2 * 365 * 86_400_000));
    }
}
