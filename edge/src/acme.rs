//! Automatic certificates with ACME (RFC 8555), as Caddy gets them.
//!
//! Each hostname the edge serves over HTTPS (`acme_hosts`, by default the
//! hosts of `sites`) gets its own certificate, so one name the CA refuses
//! does not hold back the others. A certificate lives in
//! `CACHE_DIR/acme/HOST.pem` (chain, then key; mode 0600, written whole
//! then renamed): at start the ones already there go straight into the
//! HTTPS listener's store, missing ones are ordered, and every
//! `acme_check_every` each is renewed once a third of its lifetime is left
//! (or `acme_renew_before`). A failed order changes nothing that is served
//! and is retried with back-off; every order has a deadline.
//!
//! The CA checks control of a name with HTTP-01: it fetches
//! `http://HOST/.well-known/acme-challenge/TOKEN`, which the edge's plain
//! listener answers from [`Challenges`] (only tokens of orders in flight,
//! so the map stays as small as the host list). The account key is kept
//! per directory in `CACHE_DIR/acme/account-*.json` (0600).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use cairn_shared::tls::CertStore;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};

use crate::EdgeState;

pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// The longest an order may take, from the first request to the
/// certificate on disk.
const ORDER_DEADLINE: Duration = Duration::from_secs(180);

/// The first retry after a failed order (doubling up to the check
/// interval).
const FIRST_RETRY: Duration = Duration::from_secs(60);

/// Where the challenge path starts.
pub const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The ACME server's directory URL.
    pub directory: String,
    pub hosts: Vec<String>,
    pub email: Option<String>,
    /// The CA certificate the ACME server's own HTTPS chains to, when it is
    /// not in the system roots.
    pub ca: Option<PathBuf>,
    /// Renew this long before expiry; `None`: when a third of the
    /// lifetime is left.
    pub renew_before: Option<Duration>,
    pub check_every: Duration,
}

/// Whether `host` can be an HTTP-01 certificate's name: letters, digits,
/// hyphens and at least one dot (no wildcard, no IP address).
pub fn valid_host(host: &str) -> bool {
    host.len() <= 253
        && host.contains('.')
        && host.parse::<std::net::IpAddr>().is_err()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// HTTP-01 answers for the orders in flight: token → key authorization.
#[derive(Default)]
pub struct Challenges(RwLock<HashMap<String, String>>);

impl Challenges {
    /// The body to answer `GET /.well-known/acme-challenge/{token}` with.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    fn insert(&self, token: &str, key_authorization: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_owned(), key_authorization.to_owned());
    }

    fn remove(&self, token: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }
}

/// Removes an order's tokens when the order ends, however it ends.
struct Published<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        for t in &self.tokens {
            self.challenges.remove(t);
        }
    }
}

/// Keeps every configured host's certificate in `store`, forever.
pub async fn run(state: Arc<EdgeState>, store: Arc<CertStore>) {
    let Some(acme) = state.config.acme.clone() else {
        return;
    };
    let dir = state.config.cache_dir.join("acme");
    for host in &acme.hosts {
        let path = cert_path(&dir, host);
        if path.exists() {
            if let Err(e) = store.put(&path) {
                tracing::warn!(error = %e, "stored ACME certificate cannot be used; ordering a new one");
            }
        }
    }
    let mut account: Option<Account> = None;
    let mut retry = FIRST_RETRY.min(acme.check_every);
    loop {
        let mut failed = false;
        for host in &acme.hosts {
            let path = cert_path(&dir, host);
            if !due(&path, acme.renew_before, SystemTime::now()) {
                continue;
            }
            let ordered = tokio::time::timeout(
                ORDER_DEADLINE,
                obtain(&state, &acme, &dir, &mut account, host, &path),
            )
            .await
            .unwrap_or_else(|_| Err(format!("no certificate within {ORDER_DEADLINE:?}")))
            .and_then(|()| store.put(&path).map_err(|e| e.to_string()));
            match ordered {
                Ok(()) => {
                    crate::metrics::add(&state.metrics.acme_issued, 1);
                    tracing::info!(%host, "ACME certificate issued");
                }
                Err(e) => {
                    failed = true;
                    // The account may be what failed (a reset CA): make
                    // it again next time.
                    account = None;
                    crate::metrics::add(&state.metrics.acme_failures, 1);
                    tracing::warn!(%host, error = %e, "ACME order failed; the certificate in use (if any) stays");
                }
            }
        }
        let wait = if failed {
            let wait = retry;
            retry = (retry * 2).min(acme.check_every);
            wait
        } else {
            retry = FIRST_RETRY.min(acme.check_every);
            acme.check_every
        };
        tokio::time::sleep(wait).await;
    }
}

fn cert_path(dir: &Path, host: &str) -> PathBuf {
    dir.join(format!("{host}.pem"))
}

/// Whether the certificate in `path` is missing, unreadable or due for
/// renewal at `now`.
fn due(path: &Path, renew_before: Option<Duration>, now: SystemTime) -> bool {
    let Ok(pem) = std::fs::read(path) else {
        return true;
    };
    match validity(&pem) {
        Some((not_before, not_after)) => {
            let lifetime = not_after.duration_since(not_before).unwrap_or_default();
            let margin = renew_before.unwrap_or(lifetime / 3);
            now + margin >= not_after
        }
        None => true,
    }
}

/// The first certificate's notBefore and notAfter.
fn validity(pem: &[u8]) -> Option<(SystemTime, SystemTime)> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = block.parse_x509().ok()?;
    let at = |t: x509_parser::time::ASN1Time| {
        let secs = u64::try_from(t.timestamp()).ok()?;
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    };
    Some((
        at(cert.validity().not_before)?,
        at(cert.validity().not_after)?,
    ))
}

/// Orders a certificate for `host` and writes it (chain and key) to
/// `path`.
async fn obtain(
    state: &EdgeState,
    acme: &AcmeConfig,
    dir: &Path,
    account: &mut Option<Account>,
    host: &str,
    path: &Path,
) -> Result<(), String> {
    if account.is_none() {
        *account = Some(load_or_create_account(acme, dir).await?);
    }
    let Some(account) = account.as_ref() else {
        return Err("no ACME account".into());
    };
    let err = |what: &'static str| move |e: instant_acme::Error| format!("{what}: {e}");
    let ids = [Identifier::Dns(host.to_owned())];
    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .map_err(err("new order"))?;
    let mut published = Published {
        challenges: &state.acme_challenges,
        tokens: Vec::new(),
    };
    let mut authorizations = order.authorizations();
    while let Some(auth) = authorizations.next().await {
        let mut auth = auth.map_err(err("authorization"))?;
        match auth.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(format!("authorization is {other:?}")),
        }
        let mut challenge = auth
            .challenge(ChallengeType::Http01)
            .ok_or("the CA offers no http-01 challenge")?;
        let token = challenge.token.clone();
        state
            .acme_challenges
            .insert(&token, challenge.key_authorization().as_str());
        published.tokens.push(token);
        challenge.set_ready().await.map_err(err("challenge"))?;
    }
    let patience = RetryPolicy::new().timeout(Duration::from_secs(90));
    let status = order
        .poll_ready(&patience)
        .await
        .map_err(err("validation"))?;
    if status != OrderStatus::Ready {
        return Err(format!("the CA did not validate {host}: order {status:?}"));
    }
    drop(published);
    let key = order.finalize().await.map_err(err("finalize"))?;
    let chain = order
        .poll_certificate(&patience)
        .await
        .map_err(err("certificate"))?;
    write_private(path, format!("{chain}\n{key}").into_bytes())
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

async fn load_or_create_account(acme: &AcmeConfig, dir: &Path) -> Result<Account, String> {
    let builder = || match &acme.ca {
        Some(ca) => Account::builder_with_root(ca),
        None => Account::builder(),
    };
    let err = |what: &'static str| move |e: instant_acme::Error| format!("{what}: {e}");
    // One account per directory: a key registered with one CA means
    // nothing to another.
    let id = blake3::hash(acme.directory.as_bytes()).to_hex();
    let path = dir.join(format!("account-{}.json", &id[..16]));
    if let Ok(json) = tokio::fs::read(&path).await {
        if let Ok(credentials) = serde_json::from_slice::<AccountCredentials>(&json) {
            return builder()
                .map_err(err("ACME client"))?
                .from_credentials(credentials)
                .await
                .map_err(err("ACME account"));
        }
        tracing::warn!(path = %path.display(), "unreadable ACME account file; creating a new account");
    }
    let contact = acme.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()
        .map_err(err("ACME client"))?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            acme.directory.clone(),
            None,
        )
        .await
        .map_err(err("new ACME account"))?;
    let json = serde_json::to_vec(&credentials).map_err(|e| e.to_string())?;
    write_private(&path, json)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(account)
}

/// Writes `bytes` to `path` readable by the owner only, whole or not at
/// all (a temporary file renamed over it).
async fn write_private(path: &Path, bytes: Vec<u8>) -> std::io::Result<()> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_must_be_plain_dns_names() {
        for good in ["www.example.com", "a-b.c0.test"] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "localhost",
            "*.example.com",
            "127.0.0.1",
            "-a.example.com",
            "a..b",
            "Upper.Example.com",
            "a_b.example.com",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn a_missing_or_unreadable_certificate_is_due() {
        let dir = std::env::temp_dir().join(format!("cairn-acme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pem");
        assert!(due(&path, None, SystemTime::now()));
        std::fs::write(&path, "not a certificate").unwrap();
        assert!(due(&path, None, SystemTime::now()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A PEM certificate valid from `days_ago` days ago for `days` days.
    fn cert(days_ago: i64, days: i64) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["a.example.com".into()]).unwrap();
        let start = time::OffsetDateTime::now_utc() - time::Duration::days(days_ago);
        params.not_before = start;
        params.not_after = start + time::Duration::days(days);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem().into_bytes()
    }

    #[test]
    fn renewal_is_due_when_a_third_of_the_lifetime_is_left_or_the_set_margin() {
        let dir = std::env::temp_dir().join(format!("cairn-acme-due-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pem");
        let now = SystemTime::now();
        // 90 days: due from day 60 on.
        std::fs::write(&path, cert(59, 90)).unwrap();
        assert!(!due(&path, None, now));
        std::fs::write(&path, cert(61, 90)).unwrap();
        assert!(due(&path, None, now));
        // A set margin wins: 29 days left is not within 7.
        assert!(!due(&path, Some(Duration::from_secs(7 * 86400)), now));
        std::fs::write(&path, cert(100, 90)).unwrap();
        assert!(due(&path, Some(Duration::from_secs(7 * 86400)), now));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
