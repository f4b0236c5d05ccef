//! TLS for both daemons' listeners, with rustls.
//!
//! Certificates come from PEM files, each holding a certificate chain and
//! its private key (as HAProxy and many ACME clients write them). The
//! certificate offered on a handshake is the first whose names cover the
//! client's SNI name (wildcards as RFC 6125 allows), or the first file's
//! when the client sends no name or no certificate covers it. The files
//! are checked every [`RELOAD_EVERY`]; a changed file is reloaded without
//! a restart, and a file that fails to load keeps the certificates in use
//! (with a warning) until it is fixed.
//!
//! A DER OCSP response in `FILE.ocsp` beside a certificate file (as
//! HAProxy reads them; `openssl ocsp ... -respout FILE.ocsp` writes one)
//! is stapled to that certificate's handshakes, and reloaded with it.
//!
//! The server speaks TLS 1.3 and 1.2, offers ALPN `h2` and `http/1.1`,
//! and resumes sessions with tickets (keys rotated by rustls) and with its
//! session cache.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// How often certificate files are checked for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// Sessions remembered for resumption without tickets.
const SESSION_CACHE: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct LoadError {
    pub path: String,
    pub why: String,
}

/// One PEM file, as last loaded.
#[derive(Debug, Clone)]
struct Loaded {
    path: PathBuf,
    /// The certificate file's and its OCSP response's modification times.
    modified: Stamp,
    key: Arc<CertifiedKey>,
}

type Stamp = (Option<SystemTime>, Option<SystemTime>);

/// The certificates a listener offers, chosen by SNI, kept current with
/// their files.
#[derive(Debug)]
pub struct CertStore {
    loaded: RwLock<Arc<Vec<Loaded>>>,
}

impl CertStore {
    /// Loads every file; fails (naming the file) if any cannot be used.
    pub fn load(paths: &[PathBuf]) -> Result<Arc<Self>, LoadError> {
        if paths.is_empty() {
            return Err(LoadError {
                path: String::new(),
                why: "no certificate files given".into(),
            });
        }
        let loaded = paths
            .iter()
            .map(|p| load_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Self {
            loaded: RwLock::new(Arc::new(loaded)),
        }))
    }

    /// A store with no certificates yet (handshakes fail until
    /// [`CertStore::put`] adds one), for certificates an ACME client gets.
    pub fn empty() -> Arc<Self> {
        Arc::new(Self {
            loaded: RwLock::new(Arc::new(Vec::new())),
        })
    }

    /// Loads `path` and offers it from now on (replacing what was loaded
    /// from the same path); it is then watched like the others.
    pub fn put(&self, path: &Path) -> Result<(), LoadError> {
        let new = load_file(path)?;
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let mut next: Vec<Loaded> = loaded.iter().filter(|l| l.path != path).cloned().collect();
        next.push(new);
        *loaded = Arc::new(next);
        Ok(())
    }

    fn current(&self) -> Arc<Vec<Loaded>> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads the files whose modification time changed; returns how
    /// many were reloaded. A file that fails keeps its old certificate.
    pub fn reload_changed(&self) -> usize {
        let current = self.current();
        let stamps: Vec<_> = current.iter().map(|l| modified(&l.path)).collect();
        if current.iter().zip(&stamps).all(|(l, m)| l.modified == *m) {
            // The common case, every few seconds: nothing to swap.
            return 0;
        }
        let mut changed = 0;
        let next: Vec<Loaded> = current
            .iter()
            .zip(stamps)
            .map(|(old, modified)| {
                if modified == old.modified {
                    return old.clone();
                }
                match load_file(&old.path) {
                    Ok(new) => {
                        changed += 1;
                        tracing::info!(path = %old.path.display(), "certificate reloaded");
                        new
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "certificate file changed but cannot be loaded; keeping the one in use");
                        // Retried when the file changes again.
                        Loaded {
                            modified,
                            ..old.clone()
                        }
                    }
                }
            })
            .collect();
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        changed
    }

    /// Checks the files every [`RELOAD_EVERY`], forever.
    pub async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(RELOAD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let store = self.clone();
            // File reads: off the async threads.
            let _ = tokio::task::spawn_blocking(move || store.reload_changed()).await;
        }
    }

    /// The certificate for SNI name `name`.
    fn choose(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let current = self.current();
        let covering = name
            .and_then(|n| ServerName::try_from(n.to_owned()).ok())
            .and_then(|n| current.iter().find(|l| covers(&l.key, &n)));
        covering.or(current.first()).map(|l| l.key.clone())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.choose(hello.server_name())
    }
}

/// Whether the end-entity certificate of `key` is valid for `name`.
fn covers(key: &CertifiedKey, name: &ServerName<'_>) -> bool {
    let Some(der) = key.cert.first() else {
        return false;
    };
    webpki::EndEntityCert::try_from(der)
        .and_then(|c| c.verify_is_valid_for_subject_name(name))
        .is_ok()
}

fn modified(path: &Path) -> Stamp {
    let at = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (at(path), at(&ocsp_path(path)))
}

/// Where a certificate file's stapled OCSP response is kept.
fn ocsp_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".ocsp");
    PathBuf::from(p)
}

fn load_file(path: &Path) -> Result<Loaded, LoadError> {
    let err = |why: String| LoadError {
        path: path.display().to_string(),
        why,
    };
    let modified = modified(path);
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("bad certificate PEM: {e}")))?;
    if chain.is_empty() {
        return Err(err("no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| err(format!("no usable PRIVATE KEY block: {e}")))?;
    let provider = rustls::crypto::ring::default_provider();
    let mut key = CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| err(format!("the key does not fit the certificate: {e}")))?;
    // Stapled when present; a certificate without one is served without.
    key.ocsp = std::fs::read(ocsp_path(path))
        .ok()
        .filter(|der| !der.is_empty());
    Ok(Loaded {
        path: path.to_owned(),
        modified,
        key: Arc::new(key),
    })
}

/// Makes ring the process's rustls provider, for libraries that build
/// their own client configurations (the ACME client) and would otherwise
/// panic when the dependency tree enables more than one provider.
pub fn install_default_provider() {
    // Fails only when one is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A rustls server configuration offering `store`'s certificates.
pub fn server_config(store: Arc<CertStore>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
    Ok(Arc::new(config))
}

/// Binds a daemon's HTTPS listener when `tls_listen` is set: loads
/// `certs` (failing with one line that names the setting or the file that
/// cannot be used) and keeps them current. With `more_to_come` (an ACME
/// client will [`CertStore::put`] its certificates) no file is needed.
pub async fn bind(
    tls_listen: Option<std::net::SocketAddr>,
    certs: Option<&[PathBuf]>,
    more_to_come: bool,
) -> Result<Option<(crate::listen::Listener, Arc<CertStore>)>, String> {
    let Some(addr) = tls_listen else {
        return Ok(None);
    };
    let certs = certs.unwrap_or_default();
    let store = if certs.is_empty() {
        if !more_to_come {
            return Err(
                "tls_listen needs certificates: --tls-cert, CAIRN_TLS_CERT or `tls_cert` in the config file"
                    .into(),
            );
        }
        CertStore::empty()
    } else {
        CertStore::load(certs).map_err(|e| format!("TLS certificate {e}"))?
    };
    let config = server_config(store.clone()).map_err(|e| format!("TLS settings: {e}"))?;
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tokio::spawn(store.clone().watch());
    let listener = crate::listen::Listener {
        tcp,
        tls: Some(config),
    };
    Ok(Some((listener, store)))
}
