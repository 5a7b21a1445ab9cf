//! The client over TLS: our server behind rustls, and Node's socket.io 4.8 on `node:https`
//! (`tests/js/rust-client-tls-server.mjs`), with a self-signed certificate made by rcgen (for
//! 127.0.0.1 and localhost), the client trusting it with `tls_root_certificate`, over `https`
//! long-polling, `wss`, and the upgrade from one to the other. A client that does not trust
//! the certificate gets `connect_error`. Node needs `node` and `npm ci --prefix tests/js`.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sockeye::{AckSender, Data, Io, Socket as ServerSocket};
use sockeye_client::{Client, Lifecycle, Transports};
use sockeye_testkit::{WAIT, within};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

mod common;

fn self_signed() -> rcgen::CertifiedKey {
    rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
}

/// A self-signed certificate for the loopback names, and its rustls server configuration.
fn certificate() -> (CertificateDer<'static>, Arc<ServerConfig>) {
    let certified = self_signed();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (cert, Arc::new(config))
}

/// Our server over TLS on a loopback port; stopped when dropped.
struct TlsServer {
    addr: SocketAddr,
    cert: CertificateDer<'static>,
    io: Io,
    _stop: oneshot::Sender<()>,
}

async fn tls_server() -> TlsServer {
    let (cert, config) = certificate();
    let io = Io::builder().build();
    io.on_connection(|socket: ServerSocket| async move {
        socket.on(
            "important_message",
            |Data(_message): Data<Value>, ack: AckSender| async move {
                let _ = ack.send("Roger that");
            },
        );
        socket.on(
            "whoami",
            |socket: ServerSocket, ack: AckSender| async move {
                let _ = ack.send(socket.engine().transport().as_str());
            },
        );
    });
    let listener = sockeye::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(config);
    let accept = move |stream: TcpStream, _peer: SocketAddr| {
        let acceptor = acceptor.clone();
        async move { acceptor.accept(stream).await.ok() }
    };
    let service = io.engine().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = sockeye::serve_with(listener, accept, service, async {
            let _ = stopped.await;
        })
        .await;
    });
    TlsServer {
        addr,
        cert,
        io,
        _stop: stop,
    }
}

async fn trusted(transports: Transports) {
    let server = tls_server().await;
    talk(
        &format!("https://{}", server.addr),
        server.cert.clone(),
        transports,
        || assert_eq!(server.io.engine().session_count(), 1),
    )
    .await;
    sockeye_testkit::eventually(WAIT, || server.io.engine().session_count() == 0).await;
}

/// Connects trusting `cert`, gets an ack, and checks the transport the server ends on.
async fn talk(
    url: &str,
    cert: CertificateDer<'static>,
    transports: Transports,
    while_connected: impl FnOnce(),
) {
    let client = Client::builder(url)
        .transports(transports)
        .tls_root_certificate(cert)
        .reconnection(false)
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    common::wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    let reply: String = socket
        .timeout(WAIT)
        .emit_with_ack(
            "important_message",
            &json!({"alias": "me", "message": "hi"}),
        )
        .await
        .unwrap();
    assert_eq!(reply, "Roger that");
    let expected = match transports {
        Transports::Polling => "polling",
        _ => "websocket",
    };
    // With the upgrade, the server ends on WebSocket (over TLS: `wss`).
    within(WAIT, async {
        loop {
            let transport: String = socket
                .timeout(WAIT)
                .emit_with_ack("whoami", &())
                .await
                .unwrap();
            if transport == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    while_connected();
    client.close();
}

#[tokio::test]
async fn https_polling() {
    trusted(Transports::Polling).await;
}

#[tokio::test]
async fn wss() {
    trusted(Transports::WebSocket).await;
}

#[tokio::test]
async fn https_upgrade_to_wss() {
    trusted(Transports::PollingThenUpgrade).await;
}

/// A certificate the client does not trust: `connect_error`, and no session on the server.
async fn untrusted(transports: Transports, root: Option<CertificateDer<'static>>) {
    let server = tls_server().await;
    let mut builder = Client::builder(&format!("https://{}", server.addr))
        .transports(transports)
        .reconnection(false);
    if let Some(root) = root {
        builder = builder.tls_root_certificate(root);
    }
    let client = builder.build().unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    let event = common::wait_for(&mut lifecycle, |e| {
        matches!(
            e,
            Lifecycle::ConnectError { .. } | Lifecycle::Connect { .. }
        )
    })
    .await;
    let Lifecycle::ConnectError {
        namespace, message, ..
    } = event
    else {
        panic!("connected to an untrusted server: {event:?}");
    };
    assert_eq!(namespace, "/");
    assert!(
        message.to_lowercase().contains("certificate"),
        "the error should name the certificate: {message}"
    );
    assert!(!socket.connected());
    assert_eq!(server.io.engine().session_count(), 0);
    client.close();
}

#[tokio::test]
async fn untrusted_certificate_with_system_roots() {
    untrusted(Transports::Polling, None).await;
    untrusted(Transports::WebSocket, None).await;
}

#[tokio::test]
async fn certificate_of_another_authority() {
    let (other, _) = certificate();
    untrusted(Transports::Polling, Some(other.clone())).await;
    untrusted(Transports::WebSocket, Some(other)).await;
}

// ---- Node on node:https ----

struct NodeTls {
    _child: tokio::process::Child,
    url: String,
    cert: CertificateDer<'static>,
}

async fn node_tls() -> NodeTls {
    use tokio::io::AsyncBufReadExt;
    let js = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js");
    assert!(
        js.join("node_modules/socket.io/package.json").is_file(),
        "run `npm ci --prefix tests/js` first"
    );
    let certified = self_signed();
    let mut child = tokio::process::Command::new("node")
        .arg(js.join("rust-client-tls-server.mjs"))
        .current_dir(&js)
        .env("TLS_CERT", certified.cert.pem())
        .env("TLS_KEY", certified.key_pair.serialize_pem())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run node");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = within(WAIT, lines.next_line()).await.unwrap().unwrap();
    let port: Value = serde_json::from_str(&line).unwrap();
    NodeTls {
        _child: child,
        url: format!("https://127.0.0.1:{}", port["port"]),
        cert: certified.cert.der().clone(),
    }
}

#[tokio::test]
async fn node_https_polling() {
    let node = node_tls().await;
    talk(&node.url, node.cert.clone(), Transports::Polling, || {}).await;
}

#[tokio::test]
async fn node_wss() {
    let node = node_tls().await;
    talk(&node.url, node.cert.clone(), Transports::WebSocket, || {}).await;
}

#[tokio::test]
async fn node_https_upgrade_to_wss() {
    let node = node_tls().await;
    talk(
        &node.url,
        node.cert.clone(),
        Transports::PollingThenUpgrade,
        || {},
    )
    .await;
}

#[tokio::test]
async fn node_untrusted_certificate() {
    let node = node_tls().await;
    let (other, _) = certificate();
    for transports in [Transports::Polling, Transports::WebSocket] {
        let client = Client::builder(&node.url)
            .transports(transports)
            .tls_root_certificate(other.clone())
            .reconnection(false)
            .build()
            .unwrap();
        let mut lifecycle = client.lifecycle();
        client.socket("/").connect();
        let event = common::wait_for(&mut lifecycle, |e| {
            matches!(
                e,
                Lifecycle::ConnectError { .. } | Lifecycle::Connect { .. }
            )
        })
        .await;
        assert!(
            matches!(&event, Lifecycle::ConnectError { message, .. } if message.to_lowercase().contains("certificate")),
            "{event:?}"
        );
        client.close();
    }
}
