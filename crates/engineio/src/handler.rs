//! The callbacks through which the Engine.IO server hands sessions and messages upward.

use bytes::Bytes;
use sockeye_engineio_proto::Str;

use crate::{CloseReason, Socket};

/// A message received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Str),
    /// A binary message.
    Binary(Bytes),
}

/// What the layer above the Engine.IO server (Socket.IO, or an application) does with sessions.
///
/// Each method is called from the task that owns the session, in the order things happened on
/// the wire, and must return quickly: spawn a task for slow work.
pub trait EngineHandler: Send + Sync + 'static {
    /// A session opened. The open packet is already on its way to the client.
    fn on_open(&self, socket: &Socket) {
        let _ = socket;
    }

    /// A message arrived.
    fn on_message(&self, socket: &Socket, message: Message);

    /// The session closed, for `reason`. Nothing can be sent on it any more.
    fn on_close(&self, socket: &Socket, reason: CloseReason) {
        let _ = (socket, reason);
    }
}
