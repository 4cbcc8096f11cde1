//! TLS by rustls: server configs for https sockets (certificates by SNI,
//! client certificates, minimum version, ALPN h2), and for https
//! upstreams the trust anchors and the client certificate sent.

use std::sync::Arc;

use isoproxy_schema::model::{Keypair, TlsOptions, TlsVersion};
use pingora_core::protocols::tls::CaType;
use pingora_core::utils::tls::{parse_x509, CertKey, WrappedX509};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in PEM text".into());
    }
    Ok(certs)
}

fn roots(pems: &[String]) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for pem in pems {
        for c in certs(pem)? {
            store.add(c).map_err(|e| format!("invalid trusted certificate: {e}"))?;
        }
    }
    Ok(store)
}

/// The CAs an upstream connection trusts, in Pingora's form, following
/// workerd's meaning of the options: `trustBrowserCas` adds the platform's
/// roots, `trustedCertificates` adds its own; with neither nothing is
/// trusted (every handshake fails rather than trusting by accident).
/// `None` means exactly the platform's roots.
pub fn peer_ca(tls: &TlsOptions) -> Result<Option<Arc<CaType>>, String> {
    if tls.trusted_certificates.is_empty() && tls.trust_browser_cas {
        return Ok(None);
    }
    // Validate first: Pingora's parser panics on bad DER.
    roots(&tls.trusted_certificates)?;
    let mut list = Vec::new();
    if tls.trust_browser_cas {
        // Unreadable platform stores leave only the configured CAs, which is
        // the safe direction.
        let mut check = RootCertStore::empty();
        for c in pingora_core::tls::load_native_certs().unwrap_or_default() {
            // Only certificates webpki accepts; Pingora's parser must never
            // see one it could choke on.
            if check.add(c.clone()).is_ok() {
                list.push(WrappedX509::new(c.as_ref().to_vec(), parse_x509));
            }
        }
    }
    for pem in &tls.trusted_certificates {
        for c in certs(pem)? {
            list.push(WrappedX509::new(c.as_ref().to_vec(), parse_x509));
        }
    }
    Ok(Some(Arc::from(list.into_boxed_slice())))
}

/// The client certificate an upstream connection presents
/// (`tlsOptions.keypair` of an https ExternalServer or a Network), in
/// Pingora's form; `None` without a keypair. Everything is checked here,
/// at start-up: Pingora's connector panics on a certificate its parser
/// rejects or a key it cannot read, and only finds out per connection.
pub fn peer_client_cert(tls: &TlsOptions) -> Result<Option<Arc<CertKey>>, String> {
    let Some(kp) = &tls.keypair else {
        return Ok(None);
    };
    let chain = certs(&kp.certificate_chain).map_err(|e| format!("tlsOptions.keypair: {e}"))?;
    for c in &chain {
        // The same parse as for trusted certificates in `peer_ca`.
        RootCertStore::empty()
            .add(c.clone())
            .map_err(|e| format!("tlsOptions.keypair: invalid certificate: {e}"))?;
    }
    let key = PrivateKeyDer::from_pem_slice(kp.private_key.as_bytes())
        .map_err(|e| format!("tlsOptions.keypair: invalid private key: {e}"))?;
    // Pingora rebuilds the key from its DER bytes alone, guessing the
    // format; make sure that guess lands on this key.
    let der = key.secret_der().to_vec();
    if PrivateKeyDer::try_from(der.clone()).is_err() {
        return Err("tlsOptions.keypair: private key in an unrecognised format".into());
    }
    let provider = provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("tlsOptions.keypair: unusable private key: {e}"))?;
    CertifiedKey::new(chain.clone(), signing)
        .keys_match()
        .map_err(|e| format!("tlsOptions.keypair: the private key does not match the certificate: {e}"))?;
    let chain = chain.into_iter().map(|c| c.as_ref().to_vec()).collect();
    Ok(Some(Arc::new(CertKey::new(chain, der))))
}

fn certified(kp: &Keypair, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, String> {
    let chain = certs(&kp.certificate_chain)?;
    let key =
        PrivateKeyDer::from_pem_slice(kp.private_key.as_bytes()).map_err(|e| format!("invalid private key: {e}"))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("unusable private key: {e}"))?;
    Ok(Arc::new(CertifiedKey::new(chain, signing)))
}

/// Picks a certificate by SNI: exact names first, then `*.` wildcards, else
/// the default keypair.
#[derive(Debug)]
struct SniResolver {
    exact: Vec<(String, Arc<CertifiedKey>)>,
    wildcard: Vec<(String, Arc<CertifiedKey>)>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = hello.server_name() {
            let name = name.to_ascii_lowercase();
            if let Some((_, k)) = self.exact.iter().find(|(n, _)| *n == name) {
                return Some(k.clone());
            }
            if let Some((_, parent)) = name.split_once('.') {
                if let Some((_, k)) = self.wildcard.iter().find(|(n, _)| n == parent) {
                    return Some(k.clone());
                }
            }
        }
        self.default.clone()
    }
}

/// A rustls server config for an https socket.
pub fn server_config(tls: &TlsOptions) -> Result<Arc<ServerConfig>, String> {
    let provider = provider();
    let mut resolver = SniResolver {
        exact: Vec::new(),
        wildcard: Vec::new(),
        default: match &tls.keypair {
            Some(kp) => Some(certified(kp, &provider)?),
            None => None,
        },
    };
    for sni in &tls.sni_keypairs {
        let key = certified(&sni.keypair, &provider)?;
        for h in &sni.hostnames {
            let h = h.to_ascii_lowercase();
            match h.strip_prefix("*.") {
                Some(parent) => resolver.wildcard.push((parent.to_string(), key.clone())),
                None => resolver.exact.push((h, key.clone())),
            }
        }
    }
    if resolver.default.is_none() && resolver.exact.is_empty() && resolver.wildcard.is_empty() {
        return Err("an https socket needs tlsOptions.keypair or sniKeypairs".into());
    }
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = if tls.require_client_certs {
        let store = roots(&tls.trusted_certificates)?;
        if store.is_empty() {
            return Err("requireClientCerts needs trustedCertificates".into());
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
            .build()
            .map_err(|e| format!("client certificate verifier: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
