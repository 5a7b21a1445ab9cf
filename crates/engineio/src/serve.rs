//! A small accept loop for running a service on a TCP listener with hyper, WebSocket upgrades
//! included. Frameworks (axum, hyper) can mount the service themselves instead.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::request::RemoteAddr;
use crate::service::BoxError;

/// Binds a listener with a backlog of 1 024 (tokio's default of 128 overflows when many clients
/// connect at once).
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// How long [`serve`] waits, after `shutdown`, for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `service` on every connection `listener` accepts (HTTP/1.1 with upgrades, and HTTP/2)
/// until `shutdown` resolves; then it stops accepting and waits up to [`SHUTDOWN_GRACE`] for
/// the requests in flight. Each request carries a [`RemoteAddr`] extension.
///
/// To close Engine.IO sessions gracefully, let `shutdown` call
/// [`EngineService::shutdown`](crate::EngineService::shutdown) before it resolves.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_with(
        listener,
        |stream, _peer| async move { Some(stream) },
        service,
        shutdown,
    )
    .await
}

/// Like [`serve`], with each accepted connection first handed to `accept`, which turns it into
/// the stream HTTP is read from (a TLS handshake, say) or gives up on it (`None`). It runs on
/// the connection's own task, so a slow client holds up no one else.
pub async fn serve_with<S, B, A, F, Io>(
    listener: TcpListener,
    accept: A,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    A: Fn(TcpStream, SocketAddr) -> F + Clone + Send + 'static,
    F: Future<Output = Option<Io>> + Send + 'static,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::pin!(shutdown);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Running out of file descriptors is temporary: back off and go on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let hyper_service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(RemoteAddr(peer));
            let mut service = service.clone();
            async move {
                poll_fn(|cx| service.poll_ready(cx)).await?;
                service.call(request).await
            }
        });
        let accept = accept.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Some(stream) = accept(stream, peer).await else {
                return;
            };
            let connection = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::trace!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("requests still in flight after the shutdown grace period");
    }
    Ok(())
}
