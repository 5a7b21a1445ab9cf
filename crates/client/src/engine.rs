//! The Engine.IO connection: the handshake, the heartbeat, and the upgrade from polling to
//! WebSocket. No task of its own: the client's task polls [`Engine::next`] beside its
//! commands, so a packet goes from the socket to its handler without a hop between tasks.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use sockeye_engineio_proto::{Frame, Packet};
use tokio::time::{Instant, Sleep};

use crate::config::{Config, Transports};
use crate::transport::{self, Link, LinkEnd, LinkEvent};

/// How long an upgrade waits for the polling requests in flight to end.
const PAUSE_LIMIT: Duration = Duration::from_secs(10);

/// Why the connection ended, in the words of the JavaScript client's disconnect reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloseReason {
    PingTimeout,
    TransportClose,
    TransportError(String),
}

#[derive(Debug)]
pub(crate) enum EngineEvent {
    /// A text or binary message.
    Message(Packet),
    Closed(CloseReason),
}

/// What [`Engine::next`] hands the caller.
pub(crate) enum Next {
    Event(EngineEvent),
    /// The probe succeeded: the caller switches with [`Engine::upgrade`], outside any
    /// `select!`, since the switch must not be cancelled half-way.
    Upgrade(Box<Link>),
}

type Probe = Pin<Box<dyn Future<Output = Result<Link, String>> + Send>>;

/// An open Engine.IO connection. Dropping it drops the connection at once; [`Engine::close`]
/// says goodbye first.
pub(crate) struct Engine {
    link: Link,
    /// The server pings every pingInterval and gives up after pingTimeout; silence for
    /// longer than both means the connection is dead.
    heartbeat: Duration,
    /// One timer for the connection's life, pushed back by each ping (boxed: a `Sleep` must
    /// stay pinned, and the driver moves the engine).
    deadline: Pin<Box<Sleep>>,
    /// Whether `deadline` was polled since it was last set, so that it wakes the client's
    /// task (whose waker never changes): it is polled once per ping, not once per packet.
    deadline_polled: bool,
    /// The WebSocket probe of an upgrade, while it runs (boxed: only polling sessions have
    /// one, and its connect-and-handshake state is large).
    probe: Option<Probe>,
    /// Packets the polling link still held when the upgrade switched it off.
    backlog: VecDeque<EngineEvent>,
}

impl Engine {
    /// Opens a connection (the caller bounds how long it may take).
    pub(crate) async fn open(config: Arc<Config>) -> Result<Engine, String> {
        let (open, link) = match config.transports {
            Transports::WebSocket => transport::websocket_open(&config).await?,
            Transports::Polling | Transports::PollingThenUpgrade => {
                transport::polling_open(Arc::clone(&config)).await?
            }
        };
        tracing::debug!(sid = %open.sid, transport = link.name(), "engine open");
        let heartbeat = Duration::from_millis(open.ping_interval.saturating_add(open.ping_timeout));
        let probe = (config.transports == Transports::PollingThenUpgrade
            && link.name() == "polling"
            && open.upgrades.iter().any(|u| u == "websocket"))
        .then(|| {
            let sid = open.sid.clone();
            Box::pin(async move { transport::websocket_probe(&config, &sid).await }) as Probe
        });
        Ok(Engine {
            link,
            heartbeat,
            deadline: Box::pin(tokio::time::sleep(heartbeat)),
            deadline_polled: false,
            probe,
            backlog: VecDeque::new(),
        })
    }

    /// Sends frames, in order, together.
    pub(crate) fn send(&mut self, frames: Vec<Frame>) {
        self.link.send(frames);
    }

    /// The next message or the end of the connection; answers pings on the way. Nothing is
    /// lost by a poll that is not followed by another. Hand-polled rather than a `select!`:
    /// this runs once per packet and once per wake-up of the client's task.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        if let Some(event) = self.backlog.pop_front() {
            return Poll::Ready(Next::Event(event));
        }
        if self.deadline.is_elapsed() {
            return Poll::Ready(Next::Event(EngineEvent::Closed(CloseReason::PingTimeout)));
        }
        while let Poll::Ready(event) = self.link.poll_next(cx) {
            match event {
                LinkEvent::Packet(packet) => {
                    if let Some(event) = self.on_packet(packet) {
                        return Poll::Ready(Next::Event(event));
                    }
                }
                LinkEvent::End(LinkEnd::Closed) => {
                    let reason = CloseReason::TransportClose;
                    return Poll::Ready(Next::Event(EngineEvent::Closed(reason)));
                }
                LinkEvent::End(LinkEnd::Error(error)) => {
                    tracing::debug!(%error, "transport error");
                    let reason = CloseReason::TransportError(error);
                    return Poll::Ready(Next::Event(EngineEvent::Closed(reason)));
                }
            }
        }
        if !self.deadline_polled {
            self.deadline_polled = true;
            // Unconstrained: a poll refused for the task's budget would register nothing.
            let deadline = tokio::task::unconstrained(self.deadline.as_mut());
            if std::pin::pin!(deadline).poll(cx).is_ready() {
                return Poll::Ready(Next::Event(EngineEvent::Closed(CloseReason::PingTimeout)));
            }
        }
        if let Some(probe) = self.probe.as_mut() {
            if let Poll::Ready(result) = probe.as_mut().poll(cx) {
                self.probe = None;
                match result {
                    Ok(ws) => return Poll::Ready(Next::Upgrade(Box::new(ws))),
                    Err(error) => tracing::debug!(%error, "upgrade failed; staying on polling"),
                }
            }
        }
        Poll::Pending
    }

    /// Switches from polling to the probed WebSocket `ws`.
    pub(crate) async fn upgrade(&mut self, ws: Box<Link>) {
        let mut old = std::mem::replace(&mut self.link, *ws);
        let Link::Polling(polling) = &mut old else {
            return;
        };
        polling.pause(PAUSE_LIMIT).await;
        // The server switches on the upgrade packet, and takes nothing else on the new
        // transport before it; so it goes first, then whatever the last poll brought is
        // handled.
        self.link.send(vec![Packet::Upgrade.encode()]);
        tracing::debug!("upgraded to websocket");
        while let Some(packet) = polling.try_next() {
            if let Some(event) = self.on_packet(packet) {
                let closed = matches!(event, EngineEvent::Closed(_));
                self.backlog.push_back(event);
                if closed {
                    break;
                }
            }
        }
    }

    /// Sends a close packet and ends the connection.
    pub(crate) async fn close(self) {
        self.link.close().await;
    }

    /// Handles one packet; `Some` for what the caller must see.
    fn on_packet(&mut self, packet: Packet) -> Option<EngineEvent> {
        match packet {
            Packet::Ping(data) => {
                self.deadline
                    .as_mut()
                    .reset(Instant::now() + self.heartbeat);
                self.deadline_polled = false;
                self.link.send(vec![Packet::Pong(data).encode()]);
                None
            }
            Packet::Message(_) | Packet::Binary(_) => Some(EngineEvent::Message(packet)),
            Packet::Close => Some(EngineEvent::Closed(CloseReason::TransportClose)),
            Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => None,
        }
    }
}
