//! The Engine.IO connection: the handshake, the heartbeat, and the upgrade from polling to
//! WebSocket, run by one task that hands messages to the manager.

use std::sync::Arc;
use std::time::Duration;

use sockeye_engineio_proto::{Frame, OpenPacket, Packet};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

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

#[derive(Debug)]
enum Command {
    Send(Vec<Frame>),
    Close,
}

/// An open Engine.IO connection. Dropping it drops the connection at once; [`Engine::close`]
/// says goodbye first.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) events: mpsc::UnboundedReceiver<EngineEvent>,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if !self.task.is_finished() {
            let commands = self.commands.clone();
            // A close packet if the task is still there to send it; the task ends either way
            // once its command channel closes.
            let _ = commands.send(Command::Close);
        }
    }
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
        tracing::debug!(sid = %open.sid, transport = link.name, "engine open");
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(config, open, link, commands_rx, events_tx));
        Ok(Engine {
            events,
            commands,
            task,
        })
    }

    /// Sends frames, in order, together.
    pub(crate) fn send(&self, frames: Vec<Frame>) {
        let _ = self.commands.send(Command::Send(frames));
    }

    /// Sends a close packet and ends the connection.
    pub(crate) async fn close(self) {
        let _ = self.commands.send(Command::Close);
        let task = &self.task;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while !task.is_finished() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
}

async fn run(
    config: Arc<Config>,
    open: OpenPacket,
    mut link: Link,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<EngineEvent>,
) {
    // The server pings every pingInterval and gives up after pingTimeout; silence for longer
    // than both means the connection is dead.
    let heartbeat = Duration::from_millis(open.ping_interval.saturating_add(open.ping_timeout));
    let mut deadline = Instant::now() + heartbeat;
    let mut upgrade = (config.transports == Transports::PollingThenUpgrade
        && link.name == "polling"
        && open.upgrades.iter().any(|u| u == "websocket"))
    .then(|| {
        let config = Arc::clone(&config);
        let sid = open.sid.clone();
        tokio::spawn(async move { transport::websocket_probe(&config, &sid).await })
    });
    let reason = loop {
        tokio::select! {
            event = link.incoming.recv() => match event {
                Some(LinkEvent::Packet(packet)) => {
                    if let Some(reason) = on_packet(packet, &link, &events, &mut deadline, heartbeat) {
                        break reason;
                    }
                }
                Some(LinkEvent::End(LinkEnd::Closed)) | None => break CloseReason::TransportClose,
                Some(LinkEvent::End(LinkEnd::Error(error))) => {
                    tracing::debug!(%error, "transport error");
                    break CloseReason::TransportError(error);
                }
            },
            command = commands.recv() => match command {
                Some(Command::Send(frames)) => {
                    link.send(frames);
                }
                Some(Command::Close) | None => {
                    if let Some(upgrade) = upgrade.take() {
                        upgrade.abort();
                    }
                    link.close().await;
                    return;
                }
            },
            () = tokio::time::sleep_until(deadline) => break CloseReason::PingTimeout,
            result = async {
                match upgrade.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            }, if upgrade.is_some() => {
                upgrade = None;
                match result {
                    Ok(Ok(ws)) => {
                        link.pause(PAUSE_LIMIT).await;
                        let mut old = std::mem::replace(&mut link, ws);
                        // The server switches on the upgrade packet, and takes nothing else on
                        // the new transport before it; so it goes first, then whatever the last
                        // poll brought is handled.
                        link.send(vec![Packet::Upgrade.encode()]);
                        tracing::debug!("upgraded to websocket");
                        let mut ended = None;
                        while let Ok(event) = old.incoming.try_recv() {
                            if let LinkEvent::Packet(packet) = event {
                                if let Some(reason) = on_packet(packet, &link, &events, &mut deadline, heartbeat) {
                                    ended = Some(reason);
                                    break;
                                }
                            }
                        }
                        if let Some(reason) = ended {
                            break reason;
                        }
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "upgrade failed; staying on polling"),
                    Err(_) => {}
                }
            }
        }
    };
    if let Some(upgrade) = upgrade.take() {
        upgrade.abort();
    }
    let _ = events.send(EngineEvent::Closed(reason));
}

/// Handles one packet; `Some` when it ends the connection.
fn on_packet(
    packet: Packet,
    link: &Link,
    events: &mpsc::UnboundedSender<EngineEvent>,
    deadline: &mut Instant,
    heartbeat: Duration,
) -> Option<CloseReason> {
    match packet {
        Packet::Ping(data) => {
            *deadline = Instant::now() + heartbeat;
            link.send(vec![Packet::Pong(data).encode()]);
        }
        Packet::Message(_) | Packet::Binary(_) => {
            let _ = events.send(EngineEvent::Message(packet));
        }
        Packet::Close => return Some(CloseReason::TransportClose),
        Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
    }
    None
}
