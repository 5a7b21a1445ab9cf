//! The bench app contract (`../shared/bench/CONTRACT.md`, and `bench/run`) with Sockeye: the
//! server that `sockeye bench` and `bench/run` measure, in its default configuration.
//!
//! - `echo`: acknowledged with its one argument unchanged (a binary argument as a binary ack);
//! - `join`: joins the room named by its argument, then acknowledges;
//! - `fanout` `{room, payload}`: emits `fan` with `payload` to every socket in `room`, the
//!   sender included, then acknowledges.
//!
//! Besides the contract, `GET /stats` answers `{"sessions":N}`, the Engine.IO sessions open
//! (what `sockeye bench --scenario soak` watches drain to zero). With `WEBTRANSPORT=1`, the
//! app is served over WebTransport too (HTTP/3 on the same port number, UDP, with a
//! self-signed certificate), and `GET /webtransport.json` tells `sockeye bench
//! echo-webtransport` the port and the certificate's SHA-256.
//!
//! ```sh
//! PORT=3000 cargo run --release --example bench-server
//! ```
//! Listens on `127.0.0.1:$PORT` (`HOST` overrides the address); exits on SIGTERM or Ctrl-C.
//! With `RECOVERY=1`, connection-state recovery is on (its defaults), as `bench/run`'s
//! `fanout-recovery` scenario asks. With `ADAPTER=redis://host:port`, it is a node of a cluster
//! on the Redis adapter (`sockeye-redis`), as `bench/run`'s `cluster-fanout` scenario starts it.
//! With `DEFLATE=BYTES`, WebSocket permessage-deflate is on for messages of at least that many
//! bytes (Node's `perMessageDeflate: {threshold}`), as `bench/run`'s `echo-deflate` starts it.
//! With `OBSERVE=metrics`, a Prometheus recorder is installed (nothing scrapes it); with
//! `OBSERVE=admin` / `OBSERVE=admin-dev`, the admin namespace (`sockeye-admin`, production /
//! development mode, no UI connected) observes the server; several are joined with commas. What
//! they cost is `bench/run --scenarios echo-observed`.

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use sockeye::{
    AckSender, Data, EngineConfig, Event, Io, PerMessageDeflate, RecoveryConfig, Socket, Value,
};

/// What answers requests outside `/socket.io/`: `GET /stats`, `GET /webtransport.json` (with
/// `WEBTRANSPORT=1`), and 404.
#[derive(Clone)]
struct Stats(Io, Option<std::sync::Arc<str>>);

impl<B> tower_service::Service<Request<B>> for Stats {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let path = request.uri().path();
        let body = match (path, &self.1) {
            ("/stats", _) => Some(format!(
                "{{\"sessions\":{}}}",
                self.0.engine().session_count()
            )),
            ("/webtransport.json", Some(info)) => Some(info.to_string()),
            _ => None,
        };
        let response = if let Some(body) = body {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        } else {
            let mut response = Response::new(Full::new(Bytes::from_static(b"Not Found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        };

        std::future::ready(Ok(response))
    }
}

#[derive(Deserialize)]
struct Fanout {
    room: String,
    payload: Value,
}

async fn on_connection(socket: Socket) {
    socket.on("echo", |event: Event, ack: AckSender| async move {
        let _ = ack.send_raw(event.args, event.attachments);
    });
    socket.on(
        "join",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            socket.join(room);
            let _ = ack.send(&());
        },
    );
    socket.on(
        "fanout",
        |socket: Socket, Data(fanout): Data<Fanout>, ack: AckSender| async move {
            let _ = socket.ns().to(fanout.room).emit("fan", &fanout.payload);
            let _ = ack.send(&());
        },
    );
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let host = std::env::var("HOST")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    let observe = std::env::var("OBSERVE").unwrap_or_default();
    let observe: Vec<&str> = observe.split(',').filter(|o| !o.is_empty()).collect();
    // Before the `Io` is built: the namespaces take their metric handles from the recorder.
    let _recorder = observe
        .contains(&"metrics")
        .then(|| metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder())
        .transpose()
        .map_err(std::io::Error::other)?;
    let mut builder = Io::builder();
    if std::env::var_os("RECOVERY").is_some_and(|v| v == "1") {
        builder = builder.connection_state_recovery(RecoveryConfig::default());
    }
    if let Some(threshold) = std::env::var("DEFLATE")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
    {
        builder = builder.engine(
            EngineConfig::default()
                .per_message_deflate(Some(PerMessageDeflate::default().threshold(threshold))),
        );
    }
    if let Some(url) = std::env::var("ADAPTER").ok().filter(|url| !url.is_empty()) {
        let redis = sockeye_redis::RedisAdapter::connect(&url)
            .await
            .map_err(std::io::Error::other)?;
        builder = builder.adapter(redis.factory());
    }
    let (layer, io) = builder.build_layer();
    io.on_connection(on_connection);
    let mut admins = Vec::new();
    for (name, mode) in [
        ("admin", sockeye_admin::Mode::Production),
        ("admin-dev", sockeye_admin::Mode::Development),
    ] {
        if observe.contains(&name) {
            let admin = sockeye_admin::Admin::builder().mode(mode).attach(&io);
            admins.push(admin.map_err(std::io::Error::other)?);
        }
    }
    let mut webtransport = None;
    if std::env::var_os("WEBTRANSPORT").is_some_and(|v| v == "1") {
        use sockeye::webtransport::{
            WebTransportCertificate, bind_webtransport, serve_webtransport,
        };
        let certificate = WebTransportCertificate::self_signed(&["localhost", "127.0.0.1"])?;
        let listener = bind_webtransport((host, port).into(), &certificate)?;
        let info = format!(
            "{{\"port\":{},\"sha256\":{:?}}}",
            listener.local_addr().port(),
            certificate.sha256()
        );
        webtransport = Some(std::sync::Arc::from(info.as_str()));
        tokio::spawn(serve_webtransport(
            listener,
            io.engine().clone(),
            std::future::pending(),
        ));
    }
    let service = tower_layer::Layer::layer(&layer, Stats(io.clone(), webtransport));

    let listener = sockeye::bind((host, port).into()).await?;
    println!("sockeye bench-server on {host}:{port}");
    sockeye::serve(listener, service, async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    })
    .await
}
