//! Mounting the server: a tower `Service` that answers only its path, and a `Layer` that puts
//! it in front of another service (an axum `Router`, say).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use sockeye_engineio::{BoxError, EngineService, ResponseBody};

use crate::Io;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The service that answers 404 to everything: what [`IoService`] falls back to by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotFound;

impl<B: Send + 'static> tower_service::Service<Request<B>> for NotFound {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::from_static(b"Not Found")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        std::future::ready(Ok(response))
    }
}

/// Answers Socket.IO requests at the server's path and passes the others to `S`.
#[derive(Clone)]
pub struct IoService<S = NotFound> {
    engine: EngineService,
    inner: S,
}

impl IoService {
    pub(crate) fn new(io: Io) -> Self {
        IoService {
            engine: io.engine().clone(),
            inner: NotFound,
        }
    }
}

impl<S> fmt::Debug for IoService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoService")
            .field("path", &self.engine.config().path)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for IoService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ReqBody: http_body::Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Either<ResponseBody, ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if self.engine.matches(request.uri().path()) {
            let engine = self.engine.clone();
            Box::pin(async move { Ok(engine.handle(request).await.map(Either::Left)) })
        } else {
            let inner = self.inner.call(request);
            Box::pin(async move { Ok(inner.await?.map(Either::Right)) })
        }
    }
}

/// A tower layer that mounts the server in front of another service.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use sockeye::Io;
///
/// # async fn run() {
/// let (layer, io) = Io::builder().build_layer();
/// let app: Router = Router::new().route("/", get(|| async { "hello" })).layer(layer);
/// # }
/// ```
#[derive(Clone)]
pub struct IoLayer {
    engine: EngineService,
}

impl IoLayer {
    pub(crate) fn new(io: Io) -> Self {
        IoLayer {
            engine: io.engine().clone(),
        }
    }
}

impl fmt::Debug for IoLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoLayer")
            .field("path", &self.engine.config().path)
            .finish()
    }
}

impl<S> tower_layer::Layer<S> for IoLayer {
    type Service = IoService<S>;

    fn layer(&self, inner: S) -> IoService<S> {
        IoService {
            engine: self.engine.clone(),
            inner,
        }
    }
}
