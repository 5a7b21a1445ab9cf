//! Extractors: what a handler can ask for, taken from the event that triggered it.

use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sockeye_socketio_proto::{Args, Str};

use crate::args::from_args;
use crate::{EmitError, Socket};

/// Everything a handler's arguments are extracted from.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub(crate) socket: Socket,
    pub(crate) event: Event,
    pub(crate) ack_id: Option<u64>,
}

/// A value a handler can take as an argument.
pub trait FromEvent: Sized {
    /// Extracts the value; `Err` explains what is wrong with the event.
    fn from_event(context: &EventContext) -> Result<Self, String>;
}

impl FromEvent for Socket {
    fn from_event(context: &EventContext) -> Result<Self, String> {
        Ok(context.socket.clone())
    }
}

/// The event's arguments deserialised as `T`: a lone argument as `T` itself, several as a tuple
/// (`Data<(String, u32)>`). Binary arguments deserialise into `bytes::Bytes` or `Vec<u8>`.
/// For the connection handler, it is the client's auth payload.
///
/// When they don't deserialise the handler does not run; the error goes to the server's error
/// hook and log, and to the client's ack if it asked for one.
#[derive(Debug, Clone, PartialEq)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned> FromEvent for Data<T> {
    fn from_event(context: &EventContext) -> Result<Self, String> {
        from_args(&context.event.args, &context.event.attachments)
            .map(Data)
            .map_err(|error| format!("invalid arguments: {error}"))
    }
}

/// Like [`Data`], but hands the error to the handler instead of refusing to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct TryData<T>(pub Result<T, String>);

impl<T: DeserializeOwned> FromEvent for TryData<T> {
    fn from_event(context: &EventContext) -> Result<Self, String> {
        Ok(TryData(from_args(
            &context.event.args,
            &context.event.attachments,
        )))
    }
}

/// The raw event: its name, JSON arguments (binary ones as placeholders) and attachments.
///
/// Cheap to take and to clone: the name and the arguments share the buffer the packet arrived
/// in, and the arguments stay JSON text until asked for as values ([`Args::to_values`]) or
/// changed ([`Args::values_mut`]). Pass them on unchanged with [`AckSender::send_raw`] or
/// [`Socket::emit_raw`], which copy their text.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event name.
    pub name: Str,
    /// The arguments.
    pub args: Args,
    /// The binary attachments the placeholders in `args` refer to.
    pub attachments: Vec<Bytes>,
}

impl Event {
    /// The arguments deserialised as `T`, as [`Data`] does: straight from their JSON text when
    /// there are no attachments.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, String> {
        from_args(&self.args, &self.attachments)
    }
}

impl FromEvent for Event {
    fn from_event(context: &EventContext) -> Result<Self, String> {
        Ok(context.event.clone())
    }
}

/// Answers the client's acknowledgement callback. If the client did not ask for one, sending
/// does nothing.
pub struct AckSender {
    socket: Socket,
    id: Option<u64>,
}

impl AckSender {
    /// Whether the client waits for an acknowledgement.
    pub fn expected(&self) -> bool {
        self.id.is_some()
    }

    /// Acknowledges with `data` (a tuple for several arguments, `()` for none).
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), EmitError> {
        match self.id {
            Some(id) => self.socket.send_ack(id, data),
            None => Ok(()),
        }
    }

    /// Acknowledges with arguments that are already JSON, binary values being placeholders into
    /// `attachments` (as an [`Event`] carries them). Received arguments are copied as text.
    pub fn send_raw(self, args: impl Into<Args>, attachments: Vec<Bytes>) -> Result<(), EmitError> {
        match self.id {
            Some(id) => self.socket.send_raw_ack(id, &args.into(), attachments),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender")
            .field("socket", &self.socket.id())
            .field("id", &self.id)
            .finish()
    }
}

impl FromEvent for AckSender {
    fn from_event(context: &EventContext) -> Result<Self, String> {
        Ok(AckSender {
            socket: context.socket.clone(),
            id: context.ack_id,
        })
    }
}

/// Shared application state given to [`crate::IoBuilder::state`], cloned for each handler.
#[derive(Debug, Clone)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromEvent for State<T> {
    fn from_event(context: &EventContext) -> Result<Self, String> {
        context
            .socket
            .io()
            .state::<T>()
            .map(State)
            .ok_or_else(|| format!("no state of type {}", std::any::type_name::<T>()))
    }
}
