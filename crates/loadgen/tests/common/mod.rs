//! The bench app (the handlers of examples/bench-server.rs) served in-process on a free
//! loopback port, for the load generator's tests.

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use sockeye::{AckSender, Data, Event, Io, Socket, Value};

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

/// `GET /stats` → `{"sessions":N}`; `GET /webtransport.json` when there is an endpoint; 404
/// elsewhere.
#[derive(Clone)]
struct Stats(Io, Option<String>);

impl<B> tower_service::Service<Request<B>> for Stats {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let body = match (request.uri().path(), &self.1) {
            ("/stats", _) => Some(format!(
                "{{\"sessions\":{}}}",
                self.0.engine().session_count()
            )),
            ("/webtransport.json", Some(info)) => Some(info.clone()),
            _ => None,
        };
        let response = if let Some(body) = body {
            Response::new(Full::new(Bytes::from(body)))
        } else {
            let mut response = Response::new(Full::new(Bytes::from_static(b"Not Found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        };
        std::future::ready(Ok(response))
    }
}

/// A running bench app: its URL, its `Io`, and what stops it.
pub struct BenchApp {
    pub url: String,
    pub io: Io,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl BenchApp {
    pub async fn start() -> BenchApp {
        BenchApp::start_with(Io::builder()).await
    }

    /// A node of a cluster on the Redis at `redis_url` (sockeye-redis).
    pub async fn start_on_redis(redis_url: &str) -> BenchApp {
        let redis = sockeye_redis::RedisAdapter::connect(redis_url)
            .await
            .expect("connect to redis");
        BenchApp::start_with(Io::builder().adapter(redis.factory())).await
    }

    pub async fn start_with(builder: sockeye::IoBuilder) -> BenchApp {
        BenchApp::serve(builder, false).await
    }

    /// The bench app with a WebTransport endpoint too (a free UDP port, a self-signed
    /// certificate), described at `/webtransport.json`.
    pub async fn start_with_webtransport() -> BenchApp {
        BenchApp::serve(Io::builder(), true).await
    }

    async fn serve(builder: sockeye::IoBuilder, webtransport: bool) -> BenchApp {
        let (layer, io) = builder.build_layer();
        io.on_connection(on_connection);
        let info = webtransport.then(|| {
            use sockeye::webtransport::{
                WebTransportCertificate, bind_webtransport, serve_webtransport,
            };
            let certificate =
                WebTransportCertificate::self_signed(&["localhost"]).expect("certificate");
            let listener =
                bind_webtransport(([127, 0, 0, 1], 0).into(), &certificate).expect("bind udp");
            let info = format!(
                "{{\"port\":{},\"sha256\":{:?}}}",
                listener.local_addr().port(),
                certificate.sha256()
            );
            tokio::spawn(serve_webtransport(
                listener,
                io.engine().clone(),
                std::future::pending(),
            ));
            info
        });
        let service = tower_layer::Layer::layer(&layer, Stats(io.clone(), info));
        let listener = sockeye::bind(([127, 0, 0, 1], 0).into())
            .await
            .expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sockeye::serve(listener, service, async {
            let _ = shutdown_rx.await;
        }));
        BenchApp {
            url: format!("http://127.0.0.1:{port}/socket.io/"),
            io,
            shutdown: Some(shutdown),
            server,
        }
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(15), self.server).await;
    }
}

/// A redis-server of the test's own on a free loopback port (never the machine's 6379), killed
/// when dropped.
pub struct Redis {
    pub url: String,
    child: std::process::Child,
}

impl Redis {
    pub fn start() -> Redis {
        // The port is drawn by binding port 0 and handed over: another process may take it in
        // between, so a failed start is tried again on a new one.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server is installed");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Redis {
                        url: format!("redis://127.0.0.1:{port}"),
                        child,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("cannot start redis-server");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
