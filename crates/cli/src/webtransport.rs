//! `sockeye serve --webtransport`: Engine.IO over WebTransport (HTTP/3, UDP) beside the HTTP
//! server, with a given certificate or a self-signed one made at start, whose SHA-256 the
//! demo pages get from `/webtransport.json` for `serverCertificateHashes`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use serde_json::json;
use sockeye::Io;
use sockeye::webtransport::{
    SELF_SIGNED_VALIDITY_DAYS, WebTransportCertificate, bind_webtransport, serve_webtransport,
};
use tokio::sync::oneshot;

/// Where the demo pages read the endpoint's port and certificate hash.
pub const INFO_PATH: &str = "/webtransport.json";

/// What `--webtransport` asks for.
#[derive(Debug, Clone, Default)]
pub struct WebTransportConfig {
    /// The UDP port; the HTTP server's port number when `None`.
    pub port: Option<u16>,
    /// A PEM certificate chain, with [`key`](WebTransportConfig::key); self-signed when `None`.
    pub cert: Option<PathBuf>,
    /// The PEM private key of [`cert`](WebTransportConfig::cert).
    pub key: Option<PathBuf>,
}

/// A running endpoint.
#[derive(Debug)]
pub struct WebTransport {
    /// Its UDP address.
    pub addr: SocketAddr,
    /// The SHA-256 of its certificate.
    pub sha256: [u8; 32],
    /// Whether the certificate was made at start.
    pub self_signed: bool,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebTransport {
    /// Binds the endpoint on `http_addr`'s interface (UDP) and serves `io`'s engine on it.
    ///
    /// # Errors
    /// When the certificate cannot be read or made, or the port cannot be bound.
    pub async fn start(
        config: &WebTransportConfig,
        http_addr: SocketAddr,
        io: &Io,
    ) -> anyhow::Result<WebTransport> {
        let (certificate, self_signed) = match (&config.cert, &config.key) {
            (Some(cert), Some(key)) => {
                let certificate = WebTransportCertificate::from_pem_files(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "reading --wt-cert {} and --wt-key {}",
                            cert.display(),
                            key.display()
                        )
                    })?;
                (certificate, false)
            }
            (None, None) => {
                let mut names = vec![
                    "localhost".to_owned(),
                    "127.0.0.1".to_owned(),
                    "::1".to_owned(),
                ];
                if !http_addr.ip().is_unspecified() && !http_addr.ip().is_loopback() {
                    names.push(http_addr.ip().to_string());
                }
                let certificate = WebTransportCertificate::self_signed(&names)
                    .context("making the self-signed WebTransport certificate")?;
                (certificate, true)
            }
            (Some(_), None) => anyhow::bail!("--wt-cert needs --wt-key"),
            (None, Some(_)) => anyhow::bail!("--wt-key needs --wt-cert"),
        };
        let port = config.port.unwrap_or(http_addr.port());
        let addr = SocketAddr::new(http_addr.ip(), port);
        let listener = bind_webtransport(addr, &certificate)
            .with_context(|| format!("listening for WebTransport on UDP {addr}"))?;
        let addr = listener.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let engine = io.engine().clone();
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            if let Err(error) = serve_webtransport(listener, engine, stopped).await {
                tracing::warn!(%error, "the WebTransport endpoint failed");
            }
        });
        Ok(WebTransport {
            addr,
            sha256: certificate.sha256(),
            self_signed,
            stop: Some(stop),
            task,
        })
    }

    /// The certificate's SHA-256 in hex.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What `/webtransport.json` says: the UDP port and the certificate's SHA-256, as bytes
    /// for `serverCertificateHashes` and in hex.
    pub fn info(&self) -> serde_json::Value {
        json!({
            "port": self.addr.port(),
            "sha256": self.sha256.to_vec(),
            "sha256Hex": self.sha256_hex(),
            "selfSigned": self.self_signed,
        })
    }

    /// The route of [`INFO_PATH`].
    pub fn routes(&self) -> Router {
        let body = self.info().to_string();
        Router::new().route(
            INFO_PATH,
            get(move || {
                let body = body.clone();
                async move {
                    (
                        [
                            (http::header::CONTENT_TYPE, "application/json"),
                            (http::header::CACHE_CONTROL, "no-cache"),
                        ],
                        body,
                    )
                }
            }),
        )
    }

    /// Logs where it is and what to pin.
    pub fn log(&self, path: &str) {
        if self.self_signed {
            tracing::info!(
                "webtransport at https://localhost:{}{path} (UDP), self-signed ECDSA P-256 \
                 certificate valid {SELF_SIGNED_VALIDITY_DAYS} days, sha256 {} (pages read it \
                 from {INFO_PATH})",
                self.addr.port(),
                self.sha256_hex()
            );
        } else {
            tracing::info!(
                "webtransport at https://{}{path} (UDP), certificate sha256 {}",
                self.addr,
                self.sha256_hex()
            );
        }
    }

    /// Stops accepting sessions (those open go on until the engine closes them).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}
