//! `sockeye serve`: the demo app (seed, rooms chat, upload, binary) on the in-memory adapter,
//! the official browser client, the demo pages, and optionally a folder of static files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::get;
use http::HeaderMap;
use sockeye::{AdapterFactory, AllowOrigin, Cors, EngineConfig, Io, Parser, PerMessageDeflate};
use sockeye_upload::UploadDir;
use tower_layer::Layer;

use crate::admin_ui::{self, AdminUi, AdminUiConfig};
use crate::assets;
use crate::client::{CLIENT_FILES, ClientBundle, HOW_TO_GET_IT, bundle_for};
use crate::demo::{self, DemoState};
use crate::tls;
use crate::webtransport::{WebTransport, WebTransportConfig};

/// The default port.
pub const DEFAULT_PORT: u16 = 3000;
/// The default interface.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The default Socket.IO path.
pub const DEFAULT_PATH: &str = "/socket.io/";
/// The default uploads folder.
pub const DEFAULT_UPLOADS: &str = "uploads";
/// The default largest upload: 1 GiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 1 << 30;

/// What `sockeye serve` runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The interface to listen on (a name or an address).
    pub host: String,
    /// The port (0 for any free one).
    pub port: u16,
    /// The Socket.IO path.
    pub path: String,
    /// Origins allowed to connect from other sites (`*` for any); none by default.
    pub cors_origins: Vec<String>,
    /// A folder of extra files served at `/`.
    pub static_dir: Option<PathBuf>,
    /// Where uploads are written.
    pub uploads_dir: PathBuf,
    /// The largest upload, in bytes.
    pub max_upload_size: u64,
    /// The `dist/` folder of `socket.io-client`; searched for when `None`.
    pub client_dir: Option<PathBuf>,
    /// A PEM certificate chain: with [`tls_key`](Config::tls_key), HTTPS instead of HTTP.
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of [`tls_cert`](Config::tls_cert).
    pub tls_key: Option<PathBuf>,
    /// The cluster adapter's URL: `redis://host:port` (pub/sub) or
    /// `redis-streams://host:port` (one stream, recovery across nodes); the in-memory adapter
    /// when `None`.
    pub adapter: Option<String>,
    /// Connection-state recovery, with this longest disconnection; off when `None`.
    pub recovery: Option<Duration>,
    /// Serve Prometheus metrics at `/metrics` on the main listener (`--metrics`).
    pub metrics: bool,
    /// Serve them on a listener of their own instead (`--metrics-addr`; implies `metrics`).
    pub metrics_addr: Option<SocketAddr>,
    /// The Engine.IO ping interval; Node's default (25 s) when `None`.
    pub ping_interval: Option<Duration>,
    /// How long a pong may take; Node's default (20 s) when `None`.
    pub ping_timeout: Option<Duration>,
    /// The packet codec; with [`Parser::MsgPack`] the demo pages load the msgpack bundle.
    pub parser: Parser,
    /// Serve Socket.IO 2.x clients too (`--allow-eio3`, docs/old-clients.md).
    pub allow_eio3: bool,

    /// `--admin-ui`: the admin namespace and the UI at `/admin/`.
    pub admin_ui: Option<AdminUiConfig>,

    /// permessage-deflate on WebSocket from this many bytes on (`--per-message-deflate`); off
    /// when `None`.
    pub per_message_deflate: Option<usize>,
    /// `--webtransport`: Engine.IO over WebTransport (HTTP/3) too; off when `None`.
    pub webtransport: Option<WebTransportConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: DEFAULT_HOST.to_owned(),
            port: DEFAULT_PORT,
            path: DEFAULT_PATH.to_owned(),
            cors_origins: Vec::new(),
            static_dir: None,
            uploads_dir: PathBuf::from(DEFAULT_UPLOADS),
            max_upload_size: DEFAULT_MAX_UPLOAD,
            client_dir: None,
            tls_cert: None,
            tls_key: None,
            adapter: None,
            recovery: None,
            metrics: false,
            metrics_addr: None,
            ping_interval: None,
            ping_timeout: None,
            parser: Parser::Default,
            allow_eio3: false,
            admin_ui: None,
            per_message_deflate: None,
            webtransport: None,
        }
    }
}

/// The app and what it is made of.
#[derive(Debug, Clone)]
pub struct App {
    /// The HTTP service: client bundle, Socket.IO, demo pages, static files.
    pub router: Router,
    /// The Socket.IO server.
    pub io: Io,
    /// The client bundle (found or not).
    pub bundle: ClientBundle,
    /// The uploads folder.
    pub uploads: UploadDir,
    /// The admin UI, with `--admin-ui`.
    pub admin_ui: Option<AdminUi>,
}

/// Builds the app: the demo's Socket.IO server mounted with `Io::builder().build_layer()` in
/// an axum router that serves the pages, with the client bundle routes in front of it.
pub fn app(config: &Config) -> anyhow::Result<App> {
    app_with(config, None)
}

/// Builds the app as [`app`] does, with `adapter` making the adapter of each namespace (the
/// in-memory one when `None`).
pub fn app_with(config: &Config, adapter: Option<AdapterFactory>) -> anyhow::Result<App> {
    let mut engine = EngineConfig::default().path(config.path.clone());
    if let Some(interval) = config.ping_interval {
        engine = engine.ping_interval(interval);
    }
    if let Some(timeout) = config.ping_timeout {
        engine = engine.ping_timeout(timeout);
    }
    if let Some(cors) = cors(&config.cors_origins) {
        engine = engine.cors(cors);
    }
    if let Some(threshold) = config.per_message_deflate {
        engine =
            engine.per_message_deflate(Some(PerMessageDeflate::default().threshold(threshold)));
    }
    let uploads = UploadDir::new(&config.uploads_dir)
        .with_context(|| {
            format!(
                "creating the uploads folder {}",
                config.uploads_dir.display()
            )
        })?
        .max_size(config.max_upload_size);
    let mut builder = Io::builder()
        .engine(engine.allow_eio3(config.allow_eio3))
        .parser(config.parser);
    if let Some(adapter) = adapter {
        builder = builder.adapter(move |nsp: &str| adapter(nsp));
    }
    if let Some(duration) = config.recovery {
        builder = builder.connection_state_recovery(
            sockeye::RecoveryConfig::default().max_disconnection_duration(duration),
        );
    }
    let (layer, io) = builder.build_layer();
    let state = DemoState::new(uploads.clone());
    demo::install(&io, state.clone());
    let socket_path = io.config().engine.path.clone();
    let admin_ui = match &config.admin_ui {
        Some(admin) => Some(admin_ui::attach(&io, admin)?),
        None => None,
    };

    let static_dir = config.static_dir.clone().map(Arc::new);
    let mut pages = Router::new();
    let pages_list = assets::pages_with(
        &socket_path,
        bundle_for(config.parser),
        config.webtransport.is_some(),
    );
    for page in pages_list {
        let route = page.route;
        let static_dir = static_dir.clone();
        pages = pages.route(
            route,
            get(move || async move {
                // A user's own file of the same name wins over the built-in page.
                let own = match &static_dir {
                    Some(dir) => assets::static_file(dir, route).await,
                    None => None,
                };
                own.unwrap_or_else(|| page.respond())
            }),
        );
    }
    let stats_io = io.clone();
    pages = pages.route(
        "/stats.json",
        get(move || {
            let body = state.stats(&stats_io);
            async move {
                (
                    [(http::header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
            }
        }),
    );
    if let Some(admin) = &admin_ui {
        pages = admin.routes(pages);
    }
    let pages = match static_dir {
        Some(dir) => pages.fallback(move |request: Request| {
            let dir = dir.clone();
            async move { assets::serve_static(&dir, request.uri().path()).await }
        }),
        None => pages.fallback(|| async { assets::not_found() }),
    };

    // The client bundle's URLs are under the Socket.IO path, which the layer answers: they go
    // in front of it, as in Node, where `serveClient` handles them before Engine.IO.
    let bundle = ClientBundle::locate(config.client_dir.as_deref())?;
    let mut router = Router::new();
    for file in CLIENT_FILES {
        let bundle = bundle.clone();
        router =
            router.route(
                &format!("{socket_path}{file}"),
                get(move |headers: HeaderMap| async move {
                    bundle.respond(file, &headers).into_response()
                }),
            );
    }
    let router = router.fallback_service(layer.layer(pages));
    Ok(App {
        router,
        io,
        bundle,
        uploads,
        admin_ui,
    })
}

/// The adapter `--adapter` names: Redis pub/sub for a `redis://` or `rediss://` URL, one Redis
/// stream for `redis-streams://` or `rediss-streams://`.
pub async fn adapter(url: Option<&str>) -> anyhow::Result<Option<AdapterFactory>> {
    let Some(url) = url else {
        return Ok(None);
    };
    let factory: AdapterFactory = if let Some(rest) = url
        .strip_prefix("redis-streams://")
        .map(|rest| format!("redis://{rest}"))
        .or_else(|| {
            url.strip_prefix("rediss-streams://")
                .map(|rest| format!("rediss://{rest}"))
        }) {
        let redis = sockeye_redis::RedisStreamsAdapter::connect(&rest)
            .await
            .with_context(|| format!("connecting to the Redis streams adapter at {rest}"))?;
        tracing::info!(
            url = rest,
            uid = redis.uid(),
            "cluster adapter: Redis streams"
        );
        Arc::new(redis.factory())
    } else if url.starts_with("redis://") || url.starts_with("rediss://") {
        let redis = sockeye_redis::RedisAdapter::connect(url)
            .await
            .with_context(|| format!("connecting to the Redis adapter at {url}"))?;
        tracing::info!(url, uid = redis.uid(), "cluster adapter: Redis");
        Arc::new(redis.factory())
    } else {
        anyhow::bail!(
            "--adapter {url}: only redis://, rediss://, redis-streams:// and rediss-streams:// URLs are supported"
        );
    };
    Ok(Some(factory))
}

fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        None
    } else if origins.iter().any(|o| o == "*") {
        Some(Cors::any())
    } else {
        Some(Cors::new(AllowOrigin::List(origins.to_vec())))
    }
}

/// Logs what was found: where the bundle is, or how to get it.
pub fn log_bundle(bundle: &ClientBundle) {
    match bundle.dir() {
        Some(dir) => tracing::info!(
            version = bundle.version().unwrap_or("unknown"),
            dir = %dir.display(),
            "serving the socket.io client bundle"
        ),
        None => {
            let looked_in: Vec<String> = bundle
                .looked_in()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            tracing::warn!(
                looked_in = %looked_in.join(", "),
                "the socket.io client bundle is missing, so the demo pages cannot connect. {HOW_TO_GET_IT}"
            );
        }
    }
}

/// The TLS configuration `config` asks for: `None` without `--tls-cert` and `--tls-key`.
pub fn tls_config(config: &Config) -> anyhow::Result<Option<Arc<tls::ServerConfig>>> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Ok(Some(tls::server_config(cert, key)?)),
        (None, None) => Ok(None),
        (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key"),
        (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert"),
    }
}

/// Runs the server until `shutdown` resolves, on the host and port of `config`.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    // Bad TLS files are reported before anything else is done.
    tls_config(&config)?;
    let addr: SocketAddr = tokio::net::lookup_host((config.host.as_str(), config.port))
        .await
        .with_context(|| format!("resolving --host {}", config.host))?
        .next()
        .with_context(|| format!("--host {} resolves to no address", config.host))?;
    let listener = sockeye::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    run_on(listener, config, shutdown).await
}

/// Runs the server on `listener` (the host and port of `config` are not used) until `shutdown`
/// resolves: over TLS when `config` has a certificate and a key.
pub async fn run_on(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let tls = tls_config(&config)?;
    // Before the server is built: the handles it registers would be no-ops otherwise.
    let metrics = if config.metrics || config.metrics_addr.is_some() {
        Some(crate::metrics::install()?)
    } else {
        None
    };
    let adapter = adapter(config.adapter.as_deref()).await?;
    let mut app = app_with(&config, adapter)?;
    let mut metrics_server = None;
    if let Some(handle) = metrics {
        let router = crate::metrics::router(handle);
        match config.metrics_addr {
            Some(addr) => {
                let listener = sockeye::bind(addr)
                    .await
                    .with_context(|| format!("listening on --metrics-addr {addr}"))?;
                let local = listener.local_addr()?;
                tracing::info!("metrics at http://{local}{}", crate::metrics::PATH);
                metrics_server = Some(tokio::spawn(sockeye::serve(
                    listener,
                    router,
                    std::future::pending(),
                )));
            }
            None => {
                tracing::info!("metrics at {}", crate::metrics::PATH);
                app.router = router.merge(app.router);
            }
        }
    }
    log_bundle(&app.bundle);
    let local = listener.local_addr()?;
    let webtransport = match &config.webtransport {
        Some(wt) => {
            let wt = WebTransport::start(wt, local, &app.io).await?;
            wt.log(&app.io.config().engine.path);
            app.router = wt.routes().merge(app.router);
            Some(wt)
        }
        None => None,
    };
    let shown = if local.ip().is_unspecified() {
        format!("localhost:{}", local.port())
    } else {
        local.to_string()
    };
    if let Some(dir) = &config.static_dir {
        tracing::info!(dir = %dir.display(), "serving static files");
    }
    if let Some(admin) = &app.admin_ui {
        tracing::info!(
            version = admin.version.as_deref().unwrap_or("unknown"),
            dir = %admin.dir.display(),
            "admin UI at {}://{shown}{} (server URL {}://{shown}, namespace /admin)",
            if tls.is_some() { "https" } else { "http" },
            admin_ui::UI_PATH,
            if tls.is_some() { "https" } else { "http" },
        );
    }
    tracing::info!(
        uploads = %app.uploads.dir().display(),
        "sockeye serve: open {}://{shown}/ (Socket.IO at {})",
        if tls.is_some() { "https" } else { "http" },
        app.io.config().engine.path
    );
    // On the signal: refuse new sessions, tell every client (close packets), flush what is
    // queued, then stop; clients that don't finish in time are cut off.
    let io = app.io.clone();
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down: closing every connection");
        let left = io.shutdown(std::time::Duration::from_secs(5)).await;
        if left > 0 {
            tracing::warn!(left, "connections still open after the grace period");
        }
    };
    match tls {
        Some(tls) => tls::serve(listener, tls, app.router, graceful).await?,
        None => sockeye::serve(listener, app.router, graceful).await?,
    }
    if let Some(wt) = webtransport {
        wt.stop().await;
    }
    app.io.close();
    if let Some(server) = metrics_server {
        server.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
