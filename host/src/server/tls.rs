//! HTTPS: the PEM files of `--tls-cert-file`, `--tls-private-key-file` and
//! `--client-ca-file` made into a rustls configuration (ring, TLS 1.2 and
//! 1.3 with rustls' safe defaults, ALPN `h2` and `http/1.1`), reloaded when
//! the files change, and a verified client certificate made into the
//! identity its connection's requests carry.
//!
//! A reload swaps the configuration that the next handshakes use; open
//! connections keep theirs, so their streams run on undisturbed. Files
//! that do not make a configuration (half-written, a key that does not
//! match the certificate) leave the last good one in place. SIGHUP reads
//! them at once (`stage`, then `put_in_force`, see `reload`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, ServerConnection, WebPkiClientVerifier};
use tokio_rustls::TlsAcceptor;

use crate::auth::{PeerCertificate, User};
use crate::config::TlsFiles;

/// How often the files are read to see whether they changed: three small
/// files, so reading them is cheaper than trusting modification times
/// (which a copy may keep) or inodes (which an in-place write keeps).
const RELOAD_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Pem { path: PathBuf, source: pem::Error },
    #[error("{path}: no PEM certificate in it")]
    NoCertificate { path: PathBuf },
    #[error("{path}: not a usable CA certificate: {source}")]
    ClientCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("{path}: {source}")]
    Verifier {
        path: PathBuf,
        source: rustls::server::VerifierBuilderError,
    },
    /// Among others, a key that does not match the certificate.
    #[error("{cert} with {key}: {source}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// The files as last read; a configuration is rebuilt only when they differ.
#[derive(PartialEq, Eq)]
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

/// The current configuration, swapped when the files change.
pub struct Tls {
    files: TlsFiles,
    state: Mutex<State>,
}

struct State {
    config: Arc<ServerConfig>,
    loaded: Contents,
    /// Contents that failed to load, not tried again.
    failed: Option<Contents>,
    last_error: Option<String>,
}

impl Tls {
    /// Reads and checks the files; at start-up, so mistakes stop nodelogd.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let loaded = Contents::read(&files)?;
        let config = loaded.config(&files)?;
        Ok(Arc::new(Tls {
            files,
            state: Mutex::new(State {
                config,
                loaded,
                failed: None,
                last_error: None,
            }),
        }))
    }

    /// For the next handshake: the configuration in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.state().config.clone())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reloads the files whenever they change, until `Tls` is dropped.
    pub fn watch(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let tls = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                if !reload(&tls).await {
                    return;
                }
            }
        })
    }

    fn apply(&self, read: Result<Contents, TlsError>) {
        let mut state = self.state();
        let contents = match read {
            Ok(contents) if contents == state.loaded => {
                state.last_error = None;
                return;
            }
            Ok(contents) if Some(&contents) == state.failed.as_ref() => return,
            Ok(contents) => contents,
            Err(e) => return state.report(&e),
        };
        match contents.config(&self.files) {
            Ok(config) => state.put_in_force(&self.files, contents, config),
            Err(e) => {
                state.failed = Some(contents);
                state.report(&e);
            }
        }
    }

    /// Reads the files now and makes their configuration, without putting
    /// it in force: a reload does that only once all else has loaded too.
    /// Blocking (three small files).
    pub fn stage(&self) -> Result<Staged, TlsError> {
        let contents = Contents::read(&self.files)?;
        let config = contents.config(&self.files)?;
        Ok(Staged { contents, config })
    }

    /// The next handshakes use `staged`.
    pub fn put_in_force(&self, staged: Staged) {
        self.state()
            .put_in_force(&self.files, staged.contents, staged.config);
    }
}

/// A configuration read from the files, not yet in force.
pub struct Staged {
    contents: Contents,
    config: Arc<ServerConfig>,
}

impl State {
    fn put_in_force(&mut self, files: &TlsFiles, contents: Contents, config: Arc<ServerConfig>) {
        if contents != self.loaded {
            tracing::info!(cert = ?files.cert, "TLS files reloaded");
        }
        *self = State {
            config,
            loaded: contents,
            failed: None,
            last_error: None,
        };
    }

    /// Logs why the files do not load, once for as long as that lasts.
    fn report(&mut self, e: &TlsError) {
        let text = e.to_string();
        if self.last_error.as_ref() != Some(&text) {
            tracing::error!(error = %text, "the TLS files do not load; serving with the previous ones");
            self.last_error = Some(text);
        }
    }
}

/// One look at the files; false once the server is gone.
async fn reload(tls: &Weak<Tls>) -> bool {
    let Some(files) = tls.upgrade().map(|tls| tls.files.clone()) else {
        return false;
    };
    let read = tokio::task::spawn_blocking(move || Contents::read(&files)).await;
    let Some(tls) = tls.upgrade() else {
        return false;
    };
    if let Ok(read) = read {
        tls.apply(read);
    }
    true
}

impl Contents {
    fn read(files: &TlsFiles) -> Result<Self, TlsError> {
        Ok(Contents {
            cert: read(&files.cert)?,
            key: read(&files.key)?,
            client_ca: files.client_ca.as_deref().map(read).transpose()?,
        })
    }

    fn config(&self, files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
        // One provider, named here rather than installed process-wide.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certificates(&files.cert, &self.cert)?;
        let key = PrivateKeyDer::from_pem_slice(&self.key).map_err(|source| TlsError::Pem {
            path: files.key.clone(),
            source,
        })?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Config {
                cert: files.cert.clone(),
                key: files.key.clone(),
                source,
            })?;
        let builder = match (&files.client_ca, &self.client_ca) {
            (Some(path), Some(pem)) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in certificates(path, pem)? {
                    roots.add(ca).map_err(|source| TlsError::ClientCa {
                        path: path.clone(),
                        source,
                    })?;
                }
                // Asked for, not required: clients with a token or none
                // go on to the other authenticators, as with the kubelet.
                // One that is presented must verify.
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(|source| TlsError::Verifier {
                            path: path.clone(),
                            source,
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config =
            builder
                .with_single_cert(chain, key)
                .map_err(|source| TlsError::Config {
                    cert: files.cert.clone(),
                    key: files.key.clone(),
                    source,
                })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in a PEM file, at least one.
fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The user of the connection's verified client certificate, if any.
pub fn peer_identity(conn: &ServerConnection) -> Option<PeerCertificate> {
    // Only verified chains are here: a presented certificate that does not
    // verify against the client CAs has failed the handshake.
    identity(conn.peer_certificates()?.first()?)
}

/// The user a certificate names: CN the user, each O a group, as the
/// kubelet's x509 authenticator reads it. None when it names no user.
fn identity(leaf: &[u8]) -> Option<PeerCertificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).ok()?;
    let subject = cert.subject();
    let name = subject.iter_common_name().next()?.as_str().ok()?;
    if name.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(String::from)
        .collect();
    Some(PeerCertificate(User {
        name: name.to_string(),
        uid: String::new(),
        groups,
    }))
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair};

    use super::*;

    fn certificate(subject: &[(DnType, &str)]) -> Vec<u8> {
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, value) in subject {
            params.distinguished_name.push(ty.clone(), *value);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn common_name_is_the_user_and_organization_the_group() {
        let leaf = certificate(&[
            (DnType::OrganizationName, "system:masters"),
            (DnType::CommonName, "admin"),
        ]);
        let user = identity(&leaf).unwrap().0;
        assert_eq!((user.name.as_str(), user.uid.as_str()), ("admin", ""));
        assert_eq!(user.groups, ["system:masters"]);
        let leaf = certificate(&[(DnType::CommonName, "alice")]);
        assert!(identity(&leaf).unwrap().0.groups.is_empty());
        // No CN, no user: the request goes on to the other authenticators.
        let leaf = certificate(&[(DnType::OrganizationName, "system:masters")]);
        assert!(identity(&leaf).is_none());
        assert!(identity(b"not a certificate").is_none());
    }
}
