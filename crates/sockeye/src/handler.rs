//! Handlers: async functions whose arguments are extracted from an event, in the style of axum.
//!
//! Any `async fn` or closure whose arguments all implement [`FromEvent`] (up to six of them) is
//! a [`Handler`]: `|socket: Socket, Data(text): Data<String>, ack: AckSender| async move { .. }`.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use metrics::Histogram;
use tokio::time::Instant;

use crate::extract::{EventContext, FromEvent};

/// A boxed future, as handlers return them once type-erased.
pub(crate) type BoxFuture<T = ()> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A handler with its argument types forgotten.
pub(crate) type ErasedHandler =
    Arc<dyn Fn(EventContext) -> Result<BoxFuture, String> + Send + Sync + 'static>;

/// An async function that handles an event (or a connection), with its arguments extracted by
/// [`FromEvent`]. `Args` is the tuple of argument types; you never name it.
pub trait Handler<Args>: Clone + Send + Sync + 'static {
    /// Extracts the arguments and starts the handler; `Err` says which argument failed.
    fn call(&self, context: EventContext) -> Result<BoxFuture, String>;
}

macro_rules! impl_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> Handler<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = ()> + Send + 'static,
            $($arg: FromEvent + Send + 'static,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn call(&self, context: EventContext) -> Result<BoxFuture, String> {
                $(let $arg = $arg::from_event(&context)?;)*
                Ok(Box::pin((self)($($arg),*)))
            }
        }
    };
}

impl_handler!();
impl_handler!(A1);
impl_handler!(A1, A2);
impl_handler!(A1, A2, A3);
impl_handler!(A1, A2, A3, A4);
impl_handler!(A1, A2, A3, A4, A5);
impl_handler!(A1, A2, A3, A4, A5, A6);

pub(crate) fn erase<H: Handler<Args>, Args>(handler: H) -> ErasedHandler {
    Arc::new(move |context| handler.call(context))
}

/// Runs a handler's future on the calling task until it first waits, then on its own task.
///
/// This keeps Node's ordering: a connection handler registers its event handlers before the
/// next packet of the connection is read, and handlers of successive events start in order.
pub(crate) fn run<F: Future<Output = ()> + Send + 'static>(future: F) {
    if let Some(future) = start(future) {
        tokio::spawn(future);
    }
}

/// Runs an event handler as [`run`] does, recording how long it took in `duration`. A
/// handler that finishes on its first poll (most do) costs two clock reads and no allocation.
pub(crate) fn run_timed(future: BoxFuture, duration: &Histogram) {
    let started = Instant::now();
    match start(future) {
        None => duration.record(started.elapsed().as_secs_f64()),
        Some(future) => {
            let duration = duration.clone();
            tokio::spawn(async move {
                future.await;
                duration.record(started.elapsed().as_secs_f64());
            });
        }
    }
}

/// Polls a handler's future once on the calling task; gives it back if it is still pending.
fn start<F: Future<Output = ()> + Send + 'static>(future: F) -> Option<BoxFuture> {
    // Handlers hand over futures they boxed already: box only the others (one allocation less
    // per event).
    let mut slot = Some(future);
    let mut future: BoxFuture =
        match (&mut slot as &mut dyn Any).downcast_mut::<Option<BoxFuture>>() {
            Some(boxed) => boxed.take()?,
            None => Box::pin(slot.take()?),
        };
    let mut context = Context::from_waker(Waker::noop());
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut context)));
    match polled {
        Ok(Poll::Ready(())) => None,
        // The task polls it again at once, with a waker that works.
        Ok(Poll::Pending) => Some(future),
        Err(_) => {
            tracing::error!("a handler panicked");
            None
        }
    }
}
