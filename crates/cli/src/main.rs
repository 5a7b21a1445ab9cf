//! `sockeye`: Socket.IO for Rust, on the command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sockeye_cli::admin_ui::{self, AdminUiConfig};
use sockeye_cli::serve::{self, Config};

mod bench;
mod connect;

/// Socket.IO for Rust, on the command line.
#[derive(Debug, Parser)]
#[command(name = "sockeye", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a Socket.IO server with the demo app and pages, and the official browser client.
    ///
    /// Open http://HOST:PORT/ for the demos: the seed (motd, messages, "Roger that"), a rooms
    /// chat, a chunked upload with SHA-256 and resume, and binary round-trips. The browser
    /// client is served at PATH/socket.io.js (also socket.io.min.js, socket.io.esm.min.js,
    /// socket.io.msgpack.min.js and their .map files) from the npm package socket.io-client,
    /// installed with
    /// `npm ci --prefix web` (scripts/run does it).
    ///
    /// Logs go to standard error; RUST_LOG sets the level (default info), e.g.
    /// RUST_LOG=debug or RUST_LOG=sockeye=trace.
    Serve(ServeArgs),
    /// Measures any Socket.IO server that implements the bench app contract (bench/README.md):
    /// connect storm, echo with acks, room fan-out, long-polling and binary echo.
    Bench(bench::BenchArgs),
    /// Connects to a Socket.IO server: prints received events and lifecycle changes as JSON
    /// lines, and emits each line typed on standard input (`event [json args]`).
    Connect(connect::ConnectArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Interface to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = serve::DEFAULT_HOST)]
    host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(short, long, default_value_t = serve::DEFAULT_PORT)]
    port: u16,

    /// Path of the Socket.IO endpoint and of the client bundle.
    #[arg(long, default_value = serve::DEFAULT_PATH)]
    path: String,

    /// Origin allowed to connect from another site (CORS), e.g. https://example.com; repeat
    /// it for several, or give * for any. By default only same-origin pages connect.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,

    /// Folder of your own files served at /; a file there wins over the built-in demo page of
    /// the same path (an index.html of yours is served at / and /index.html).
    #[arg(long = "static", value_name = "DIR")]
    static_dir: Option<PathBuf>,

    /// Folder the upload demo writes files to (created if missing).
    #[arg(long, value_name = "DIR", default_value = serve::DEFAULT_UPLOADS)]
    uploads: PathBuf,

    /// Largest upload accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = serve::DEFAULT_MAX_UPLOAD)]
    max_upload_size: u64,

    /// The dist/ folder of the npm package socket.io-client. By default
    /// web/node_modules/socket.io-client/dist is looked for in the current directory and in
    /// the workspace the executable was built in.
    #[arg(long, value_name = "DIR")]
    client_dir: Option<PathBuf>,

    /// PEM certificate chain: serve HTTPS and WSS (rustls, HTTP/1.1) instead of HTTP. Needs
    /// --tls-key.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert. Needs --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Cluster adapter, e.g. redis://127.0.0.1:6379: broadcasts and rooms are shared with the
    /// other servers (Sockeye or Node with @socket.io/redis-adapter) on that Redis. With
    /// redis-streams://127.0.0.1:6379 they go through one Redis stream instead (Node's
    /// @socket.io/redis-streams-adapter), and --recovery works across servers. Clients need
    /// sticky sessions behind a load balancer (docs/cluster.md).
    #[arg(long, value_name = "URL", env = "SOCKEYE_ADAPTER")]
    adapter: Option<String>,

    /// Connection-state recovery: a client that comes back within this many milliseconds
    /// gets its id, rooms and data, and the events it missed (0: off).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    recovery: u64,

    /// Serve Prometheus metrics at /metrics on this server's listener (docs/metrics.md lists
    /// them): sessions by transport, connects, disconnects by reason, events, ping round trips.
    #[arg(long)]
    metrics: bool,

    /// Serve /metrics on a listener of its own instead, e.g. 127.0.0.1:9464, so that it is
    /// not exposed with the app (implies --metrics).
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,

    /// Engine.IO ping interval, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 25_000)]
    ping_interval: u64,

    /// How long a client may take to answer a ping, in milliseconds, before it is
    /// disconnected ("ping timeout").
    #[arg(long, value_name = "MS", default_value_t = 20_000)]
    ping_timeout: u64,
    /// Packet codec: default (npm socket.io-parser) or msgpack (npm socket.io-msgpack-parser).
    /// Clients must use the same one; with msgpack the demo pages load
    /// PATH/socket.io.msgpack.min.js, the client bundle built with it.
    #[arg(long, value_name = "PARSER", default_value = "default")]
    parser: sockeye::Parser,

    /// Serve Socket.IO 2.x clients (Engine.IO v3) beside the current ones, as Node's
    /// allowEIO3 (docs/old-clients.md). Off by default: they are refused.
    #[arg(long)]
    allow_eio3: bool,

    /// Serve the Socket.IO Admin UI (npm @socket.io/admin-ui) at /admin/ and its /admin
    /// namespace, in development mode: every socket, room and event is shown live
    /// (docs/admin-ui.md). Without --admin-auth anyone who reaches the server may use it.
    #[arg(long)]
    admin_ui: bool,

    /// Log-in of the admin UI: USER:BCRYPT_HASH (e.g. from `htpasswd -nbBC 10 USER PASSWORD`;
    /// quote it, the hash has `$`). Needs --admin-ui.
    #[arg(long, value_name = "USER:HASH", requires = "admin_ui", value_parser = admin_ui::parse_auth)]
    admin_auth: Option<(String, String)>,

    /// The admin UI shows, but cannot emit, join, leave or disconnect. Needs --admin-ui.
    #[arg(long, requires = "admin_ui")]
    admin_readonly: bool,

    /// The id the admin UI shows for this server (server_stats' serverId). Default: the host
    /// name, and HOSTNAME#PID with --adapter, so that the nodes of one host differ. Needs
    /// --admin-ui.
    #[arg(long, value_name = "ID", requires = "admin_ui")]
    admin_server_id: Option<String>,

    /// The ui/dist folder of the npm package @socket.io/admin-ui. By default
    /// web/node_modules/@socket.io/admin-ui/ui/dist is looked for as --client-dir is.
    #[arg(long, value_name = "DIR", requires = "admin_ui")]
    admin_ui_dir: Option<PathBuf>,

    /// Compress WebSocket messages of BYTES and more (permessage-deflate, RFC 7692) for
    /// clients that offer it, as Node's perMessageDeflate; BYTES defaults to 1024. Costs CPU
    /// and per-connection memory (docs/compression.md). Off without this flag.
    #[arg(
        long,
        value_name = "BYTES",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1024"
    )]
    per_message_deflate: Option<usize>,

    /// Serve Engine.IO over WebTransport (HTTP/3, UDP) too, as socket.io 4.7+ clients use
    /// it (`transports: ["webtransport"]`, or as an upgrade from polling). Without
    /// --wt-cert a self-signed ECDSA P-256 certificate valid 13 days is made at start; its
    /// SHA-256 is printed and served at /webtransport.json for `serverCertificateHashes`
    /// (docs/webtransport.md).
    #[arg(long)]
    webtransport: bool,

    /// UDP port of --webtransport; the HTTP port's number by default.
    #[arg(long, value_name = "PORT", requires = "webtransport")]
    wt_port: Option<u16>,

    /// PEM certificate chain of --webtransport (a CA-signed one, or one of at most 14 days
    /// for `serverCertificateHashes`). Needs --wt-key.
    #[arg(long, value_name = "PATH", requires_all = ["webtransport", "wt_key"])]
    wt_cert: Option<PathBuf>,

    /// PEM private key of --wt-cert. Needs --wt-cert.
    #[arg(long, value_name = "PATH", requires = "wt_cert")]
    wt_key: Option<PathBuf>,
}

impl From<ServeArgs> for Config {
    fn from(args: ServeArgs) -> Config {
        Config {
            host: args.host,
            port: args.port,
            path: args.path,
            cors_origins: args.cors_origins,
            static_dir: args.static_dir,
            uploads_dir: args.uploads,
            max_upload_size: args.max_upload_size,
            client_dir: args.client_dir,
            tls_cert: args.tls_cert,
            tls_key: args.tls_key,
            adapter: args.adapter,
            recovery: (args.recovery > 0).then(|| Duration::from_millis(args.recovery)),
            metrics: args.metrics,
            metrics_addr: args.metrics_addr,
            ping_interval: Some(Duration::from_millis(args.ping_interval)),
            ping_timeout: Some(Duration::from_millis(args.ping_timeout)),
            parser: args.parser,
            allow_eio3: args.allow_eio3,
            admin_ui: args.admin_ui.then_some(AdminUiConfig {
                auth: args.admin_auth,
                readonly: args.admin_readonly,
                server_id: args.admin_server_id,
                dir: args.admin_ui_dir,
            }),
            per_message_deflate: args.per_message_deflate,
            webtransport: args.webtransport.then_some(
                sockeye_cli::webtransport::WebTransportConfig {
                    port: args.wt_port,
                    cert: args.wt_cert,
                    key: args.wt_key,
                },
            ),
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Serve(args) => match serve::run(args.into(), shutdown_signal()).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("sockeye: {error:#}");
                std::process::ExitCode::FAILURE
            }
        },
        Command::Bench(args) => bench::run(args).await,
        Command::Connect(args) => connect::run(args).await,
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
