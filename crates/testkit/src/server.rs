//! [`TestServer`]: a server on a loopback port, stopped when dropped.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;

use http::{Request, Response};
use hyper::body::Incoming;
use sockeye::{Io, IoBuilder};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What [`TestServer::start`] serves: an [`IoBuilder`] (mounted with
/// [`IoBuilder::build_service`]) or an [`Io`] already built (its Engine.IO service is mounted).
#[derive(Debug)]
pub enum ServerInput {
    /// A builder, built with [`IoBuilder::build_service`].
    Builder(Box<IoBuilder>),
    /// A server, whose [`Io::engine`] service is mounted.
    Io(Io),
}

impl From<IoBuilder> for ServerInput {
    fn from(builder: IoBuilder) -> Self {
        ServerInput::Builder(Box::new(builder))
    }
}

impl From<Io> for ServerInput {
    fn from(io: Io) -> Self {
        ServerInput::Io(io)
    }
}

/// A server listening on `127.0.0.1` on a free port, run by [`sockeye::serve`] in the current
/// runtime. Dropping it stops accepting connections and closes the Socket.IO sessions.
pub struct TestServer {
    addr: SocketAddr,
    path: String,
    io: Option<Io>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Serves a Socket.IO server on a free loopback port.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start(input: impl Into<ServerInput>) -> TestServer {
        match input.into() {
            ServerInput::Builder(builder) => {
                let (service, io) = builder.build_service();
                TestServer::serve_io(service, io).await
            }
            ServerInput::Io(io) => {
                let service = io.engine().clone();
                TestServer::serve_io(service, io).await
            }
        }
    }

    /// Serves `service`, a service that mounts `io` (an axum router with its layer, say).
    /// [`TestServer::url`] is then the server's Socket.IO path.
    pub async fn serve_io<S, B>(service: S, io: Io) -> TestServer
    where
        S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = io.config().engine.path.clone();
        let mut server = TestServer::serve(service, &path).await;
        server.io = Some(io);
        server
    }

    /// Serves any service; `path` is what [`TestServer::url`] points at.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn serve<S, B>(service: S, path: &str) -> TestServer
    where
        S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let listener = sockeye::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("cannot bind a loopback port");
        let addr = listener.local_addr().expect("no local address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = stop.await;
            };
            if let Err(error) = sockeye::serve(listener, service, stop).await {
                tracing::warn!(%error, "test server failed");
            }
        });
        TestServer {
            addr,
            path: path.to_owned(),
            io: None,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of the Socket.IO endpoint, `http://127.0.0.1:PORT/socket.io/` by default: what
    /// [`crate::TestClient::connect`] takes.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// The Socket.IO server.
    ///
    /// # Panics
    /// For a server started with [`TestServer::serve`], which has none.
    pub fn io(&self) -> &Io {
        self.io
            .as_ref()
            .expect("this test server was started without an Io")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(io) = &self.io {
            io.close();
        }
        self.task.abort();
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
