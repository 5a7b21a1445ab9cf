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

/// `GET /stats` → `{"sessions":N}`; 404 elsewhere.
#[derive(Clone)]
struct Stats(Io);

impl<B> tower_service::Service<Request<B>> for Stats {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let response = if request.uri().path() == "/stats" {
            let body = format!("{{\"sessions\":{}}}", self.0.engine().session_count());
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
        let (layer, io) = Io::builder().build_layer();
        io.on_connection(on_connection);
        let service = tower_layer::Layer::layer(&layer, Stats(io.clone()));
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
