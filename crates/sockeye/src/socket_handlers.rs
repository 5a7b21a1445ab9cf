//! The handlers one socket keeps: its event handlers, and the hooks fewer sockets use.
//!
//! A server holds one of these per idle connection, so they are laid out for size: the event
//! handlers in a short list, each with its name in the same allocation, and the other hooks in
//! a box allocated by the first of them.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::extract::{Event, EventContext};
use crate::handler::{BoxFuture, Handler};
use crate::{DisconnectReason, Socket};

pub(crate) type DisconnectHandler =
    Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture + Send + Sync + 'static>;
pub(crate) type AnyHandler = Arc<dyn Fn(Socket, Event) -> BoxFuture + Send + Sync + 'static>;
pub(crate) type OutgoingHandler = Arc<dyn Fn(&Socket, &str, &[Value]) + Send + Sync + 'static>;
pub(crate) type PacketMiddleware =
    Arc<dyn Fn(&Socket, &mut Event) -> Result<(), String> + Send + Sync + 'static>;
pub(crate) type ErrorHandler = Arc<dyn Fn(&Socket, &str) + Send + Sync + 'static>;

/// The handler of one event, with its name: one allocation per handler.
pub(crate) type EventHandler = Arc<Named<EventFn>>;

/// A handler with its argument types forgotten.
type EventFn = dyn Fn(EventContext) -> Result<BoxFuture, String> + Send + Sync + 'static;

/// A value with the event name it handles.
pub(crate) struct Named<F: ?Sized> {
    name: EventName,
    handler: F,
}

impl Named<EventFn> {
    /// Extracts the handler's arguments and starts it; `Err` says which argument failed.
    pub(crate) fn call(&self, context: EventContext) -> Result<BoxFuture, String> {
        (self.handler)(context)
    }
}

/// The handlers of one socket, behind one lock that is never held while a handler runs.
#[derive(Default)]
pub(crate) struct Handlers {
    /// Searched linearly: sockets handle a handful of events, and comparing a few short names
    /// costs less than hashing the incoming one (and a list is smaller than a hash table).
    events: Vec<EventHandler>,
    /// `None` until one of these hooks is added: most sockets never use them.
    hooks: Option<Box<Hooks>>,
}

/// The hooks fewer sockets use, in the order they were added.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) any: Vec<AnyHandler>,
    pub(crate) outgoing: Vec<OutgoingHandler>,
    pub(crate) middlewares: Vec<PacketMiddleware>,
    pub(crate) errors: Vec<ErrorHandler>,
    pub(crate) disconnecting: Vec<DisconnectHandler>,
    pub(crate) disconnect: Vec<DisconnectHandler>,
}

impl Handlers {
    /// Handles `event` with `handler`, replacing an earlier handler of the same name.
    pub(crate) fn on<H: Handler<A>, A>(&mut self, event: String, handler: H) {
        let handler: EventHandler = Arc::new(Named {
            name: EventName::new(event),
            handler: move |context| handler.call(context),
        });
        match self.position(handler.name.as_bytes()) {
            Some(index) => self.events[index] = handler,
            None => self.events.push(handler),
        }
    }

    /// Removes the handler of `event`.
    pub(crate) fn off(&mut self, event: &str) {
        if let Some(index) = self.position(event.as_bytes()) {
            self.events.swap_remove(index);
        }
    }

    /// The handler of `event`.
    pub(crate) fn event(&self, event: &str) -> Option<EventHandler> {
        self.position(event.as_bytes())
            .map(|index| self.events[index].clone())
    }

    fn position(&self, name: &[u8]) -> Option<usize> {
        self.events
            .iter()
            .position(|handler| handler.name.as_bytes() == name)
    }

    /// The hooks, if any was added.
    pub(crate) fn hooks(&self) -> Option<&Hooks> {
        self.hooks.as_deref()
    }

    /// The hooks, allocated by the first one added.
    pub(crate) fn hooks_mut(&mut self) -> &mut Hooks {
        self.hooks.get_or_insert_with(Box::default)
    }

    /// Takes the disconnect handlers, which the caller runs and drops, with everything else.
    pub(crate) fn into_disconnect(self) -> Vec<DisconnectHandler> {
        self.hooks.map(|hooks| hooks.disconnect).unwrap_or_default()
    }
}

impl Hooks {
    /// Wraps an async disconnect handler.
    pub(crate) fn disconnect_handler<F, Fut>(handler: F) -> DisconnectHandler
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Arc::new(move |socket, reason| Box::pin(handler(socket, reason)))
    }
}

/// Names up to this length are kept inline.
const INLINE: usize = 22;

/// An event name, kept inline when short (as most are) so that a handler's name costs no
/// allocation of its own. Only compared as bytes, so it is never decoded again.
enum EventName {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl EventName {
    fn new(name: String) -> Self {
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..name.len()].copy_from_slice(name.as_bytes());
                EventName::Inline { len, bytes }
            }
            _ => EventName::Heap(name.into_boxed_str()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            EventName::Inline { len, bytes } => &bytes[..usize::from(*len)],
            EventName::Heap(name) => name.as_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_short_and_long_compare_as_given() {
        for name in [
            "",
            "echo",
            "a".repeat(INLINE).as_str(),
            "b".repeat(INLINE + 1).as_str(),
        ] {
            assert_eq!(EventName::new(name.to_owned()).as_bytes(), name.as_bytes());
        }
        assert!(matches!(
            EventName::new("x".repeat(INLINE)),
            EventName::Inline { .. }
        ));
        assert!(matches!(
            EventName::new("x".repeat(INLINE + 1)),
            EventName::Heap(_)
        ));
    }
}
