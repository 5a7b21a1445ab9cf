//! The task that owns one session: it reads the transport, writes the outbox, keeps the
//! heartbeat and performs the upgrade. Nobody else touches the transport.

use std::collections::VecDeque;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{Sink, SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use sockeye_engineio_proto::{Frame, Packet, Str, v3};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

use crate::codec_io::{self, CodecIo};
use crate::engine::Engine;
use crate::handler::Message;
use crate::metrics::Direction;
use crate::request::{ProtocolVersion, TransportKind};
#[cfg(feature = "webtransport")]
use crate::webtransport::{WtReadError, WtStream};
use crate::{CloseReason, RequestError, Socket};

pub(crate) type WsStream = WebSocketStream<CodecIo<TokioIo<Upgraded>>>;

/// A request from an HTTP handler to the session task.
pub(crate) enum Command {
    /// A polling GET waits for frames.
    Poll(oneshot::Sender<PollReply>),
    /// A polling POST delivered packets; the reply says whether they were accepted.
    Post(Vec<Packet>, oneshot::Sender<Result<(), RequestError>>),
    /// A WebSocket or WebTransport stream opened with this session's id, to probe and upgrade.
    Upgrade(Candidate),
}

/// A transport that asks to take over from polling.
pub(crate) enum Candidate {
    WebSocket(Box<WsStream>),
    #[cfg(feature = "webtransport")]
    WebTransport(Box<WtStream>),
}

impl Candidate {
    pub(crate) async fn close(self) {
        match self {
            Candidate::WebSocket(ws) => close_ws(ws).await,
            #[cfg(feature = "webtransport")]
            Candidate::WebTransport(wt) => wt.close().await,
        }
    }

    /// The next packet of the probe; `Ok(None)` for WebSocket control frames, `Err` for
    /// garbage or a closed transport.
    async fn next_packet(&mut self, protocol: ProtocolVersion) -> Result<Option<Packet>, ()> {
        match self {
            Candidate::WebSocket(ws) => match ws.next().await {
                Some(Ok(message)) => decode_probe(message, protocol),
                _ => Err(()),
            },
            #[cfg(feature = "webtransport")]
            Candidate::WebTransport(wt) => match wt.next_frame().await {
                Some(Ok(frame)) => Packet::decode(frame).map(Some).map_err(|_| ()),
                _ => Err(()),
            },
        }
    }

    async fn send(&mut self, frame: Frame, protocol: ProtocolVersion) -> Result<(), ()> {
        match self {
            Candidate::WebSocket(ws) => ws.send(to_ws(frame, protocol)).await.map_err(|_| ()),
            #[cfg(feature = "webtransport")]
            Candidate::WebTransport(wt) => wt.write_frames([frame]).await,
        }
    }
}

/// The answer to a polling GET.
pub(crate) enum PollReply {
    Frames(Vec<Frame>),
    Refused(RequestError),
}

// `WebTransport` is the protocol's name, not a repeat of the enum's.
#[allow(clippy::enum_variant_names)]
enum Transport {
    Polling {
        pending: Option<oneshot::Sender<PollReply>>,
    },
    WebSocket(Box<WsStream>),
    #[cfg(feature = "webtransport")]
    WebTransport(Box<WtStream>),
}

/// How long a session that its polling client closed waits for that client's GET.
const CLIENT_CLOSE_GRACE: Duration = Duration::from_millis(100);

/// What the session loop does after a turn.
enum Turn {
    /// Write what is queued, then wait.
    Flush,
    /// Wait (closing, until the polling client comes back for the last frames).
    Wait,
    /// The session is over: write what is queued on a WebSocket, then finish.
    Finish(CloseReason),
}

/// A transport that asked to take over from polling.
struct Probe {
    candidate: Candidate,
    probed: bool,
    deadline: Instant,
}

/// When the server must ping next, or by when the pong (v4) or the client's ping (v3) is due.
struct Heartbeat {
    next_ping: Option<Instant>,
    deadline: Option<Instant>,
}

pub(crate) struct Session {
    engine: Arc<Engine>,
    socket: Socket,
    protocol: ProtocolVersion,
    transport: Transport,
    /// Boxed: most sessions never upgrade, and this one is per connection.
    probe: Option<Box<Probe>>,
    heartbeat: Heartbeat,
    /// Engine-level frames (ping, pong) that go out before the outbox.
    priority: Vec<Frame>,
    closing: Option<(CloseReason, Instant)>,
    /// When to give the WebSocket a codec with small buffers, if no large frame has gone
    /// through since (counted by `CodecIo::large_frames`, as it was when this was set).
    shrink: Option<(Instant, u32)>,
}

/// How long a WebSocket that carried a large frame stays quiet before its codec is rebuilt
/// with small buffers. A rebuild as soon as it is idle cost a connection that sends large
/// messages back to back the buffers' growth every time (fresh allocations and their page
/// faults: a 64 KiB echo took twice the CPU); a long wait lets many connections hold large
/// buffers at once after a burst, which the allocator then keeps as resident memory.
const SHRINK_AFTER: Duration = Duration::from_millis(100);

impl Session {
    pub(crate) fn new(engine: Arc<Engine>, socket: Socket, ws: Option<Box<WsStream>>) -> Self {
        let now = Instant::now();
        let protocol = socket.protocol();
        let config = &engine.config;
        let heartbeat = match protocol {
            ProtocolVersion::V3 => Heartbeat {
                next_ping: None,
                deadline: Some(now + config.ping_interval + config.ping_timeout),
            },
            _ => Heartbeat {
                next_ping: Some(now + config.ping_interval),
                deadline: None,
            },
        };
        let transport = match ws {
            Some(ws) => Transport::WebSocket(ws),
            None => Transport::Polling { pending: None },
        };
        Session {
            engine,
            socket,
            protocol,
            transport,
            probe: None,
            heartbeat,
            priority: Vec::new(),
            closing: None,
            shrink: None,
        }
    }

    /// A session that a WebTransport stream opened.
    #[cfg(feature = "webtransport")]
    pub(crate) fn with_webtransport(
        engine: Arc<Engine>,
        socket: Socket,
        wt: Box<WtStream>,
    ) -> Self {
        let mut session = Session::new(engine, socket, None);
        session.transport = Transport::WebTransport(wt);
        session
    }

    /// Runs the session to its end on a task of its own, in a span (`engine` with `sid`, the
    /// `transport` of the handshake, and `upgraded` once it is on WebSocket) when a subscriber
    /// wants one: without one, the task holds no span at all.
    pub(crate) fn spawn(self, open: Option<Frame>) {
        let span = tracing::debug_span!(
            "engine",
            sid = %self.socket.id(),
            transport = self.socket.handshake().transport.as_str(),
            upgraded = tracing::field::Empty
        );
        if span.is_disabled() {
            tokio::spawn(self.run(open));
        } else {
            tokio::spawn(tracing::Instrument::instrument(self.run(open), span));
        }
    }

    /// Runs the session to its end. `open` is the open packet still to be written first on a
    /// WebSocket-only session (a polling handshake answers it in the HTTP response); it goes
    /// out with the first flush, ahead of anything the handler queues when told of the session.
    ///
    /// Every session keeps this future for its whole life, so it is kept small: the session is
    /// held once (an `async fn` taking `self` would hold it twice), and the closing steps, which
    /// run once, are boxed rather than sized into it.
    fn run(mut self, open: Option<Frame>) -> impl Future<Output = ()> + Send + 'static {
        self.priority.extend(open);
        let mut session = self;
        async move {
            let transport = session.socket.handshake().transport;
            session.engine.metrics.opened(transport);
            tracing::debug!("session opened");
            session.engine.handler.on_open(&session.socket);
            let reason = session.run_loop().await.unwrap_or_else(|reason| reason);
            Box::pin(session.finish(reason)).await;
        }
    }

    async fn run_loop(&mut self) -> Result<CloseReason, CloseReason> {
        let shared = self.socket.shared.clone();
        // One timer for the whole session, moved only when the next deadline changes: most
        // turns of the loop (a message in, its answer out) leave the deadlines as they are.
        let mut timer =
            std::pin::pin!(sleep_until(self.next_deadline().unwrap_or_else(far_future)));
        loop {
            let (commands, close) = {
                let mut state = shared.lock();
                // Until the outbox is taken again, whatever handlers queue is written by this
                // turn of the loop: nobody needs to wake the task.
                shared.running.store(true, Ordering::Relaxed);
                (mem::take(&mut state.commands), state.close)
            };
            match self.turn(commands, close)? {
                Turn::Flush => self.flush().await?,
                Turn::Wait => {
                    // Cleared under the lock, as `flush` does (see `Shared::running`).
                    let _state = shared.lock();
                    shared.running.store(false, Ordering::Relaxed);
                }
                Turn::Finish(reason) => {
                    if !matches!(self.transport, Transport::Polling { .. }) {
                        self.flush().await?;
                    }
                    return Ok(reason);
                }
            }

            let deadline = self.next_deadline().unwrap_or_else(far_future);
            if deadline != timer.deadline() {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                biased;
                () = shared.woken() => {}
                event = transport_event(&mut self.transport, self.shrink.is_none()) => match event {
                    TransportEvent::WebSocket(message) => {
                        // What the handlers queue now goes out with this turn's flush.
                        shared.running.store(true, Ordering::Relaxed);
                        self.on_ws_message(message)?;
                    }
                    #[cfg(feature = "webtransport")]
                    TransportEvent::WebTransport(frame) => {
                        shared.running.store(true, Ordering::Relaxed);
                        self.on_wt_frame(frame)?;
                    }
                    TransportEvent::PollCancelled => return Err(CloseReason::TransportClose),
                    TransportEvent::Idle(large_frames) => {
                        self.shrink = Some((Instant::now() + SHRINK_AFTER, large_frames));
                    }
                },
                message = next_probe(&mut self.probe, self.protocol) => {
                    // Boxed: it runs once per upgrade, and would otherwise size every
                    // session's future.
                    Box::pin(self.on_probe_message(message)).await?;
                }
                () = &mut timer => {
                    let now = Instant::now();
                    self.on_timer(now)?;
                    if self.shrink.is_some_and(|(at, _)| now >= at) {
                        // Boxed: it runs only after large frames.
                        Box::pin(self.shrink_when_quiet(now)).await;
                    }
                }
            }
        }
    }

    /// Handles what the others asked of the session, then says what to do next. Not `async`,
    /// so that what it keeps while it runs is not sized into every session's future.
    fn turn(
        &mut self,
        commands: VecDeque<Command>,
        close: Option<CloseReason>,
    ) -> Result<Turn, CloseReason> {
        let now = Instant::now();
        // Deadlines before requests: one that arrives after the session timed out must not
        // find it alive because its timer has not fired yet.
        if self.next_deadline().is_some_and(|deadline| deadline <= now) {
            self.on_timer(now)?;
        }
        let mut commands = commands.into_iter();
        while let Some(command) = commands.next() {
            if let Err(reason) = self.command(command) {
                self.hand_over(commands);
                return Err(reason);
            }
        }
        if let (Some(reason), None) = (close, self.closing) {
            // Only a close the server chose waits to tell a polling client; a failed
            // transport ends at once, so its next request gets "Session ID unknown".
            if !matches!(
                reason,
                CloseReason::ForcedClose | CloseReason::ServerShutdown
            ) {
                return Err(reason);
            }
            let grace = self.engine.config.ping_timeout.min(Duration::from_secs(1));
            self.closing = Some((reason, now + grace));
        }
        let Some((reason, deadline)) = self.closing else {
            return Ok(Turn::Flush);
        };
        // A polling client learns of the close from the answer to its next GET; wait a
        // little for it so that it gets the last frames and the close packet.
        let ready = match &self.transport {
            Transport::Polling { pending } => pending.is_some(),
            _ => true,
        };
        Ok(if ready || now >= deadline {
            Turn::Finish(reason)
        } else {
            Turn::Wait
        })
    }

    /// Requests that came together with the one that ended the session: a GET still gets the
    /// last frames and the close (it was sent at the same time, maybe first: a client closing
    /// over polling sends its close while its GET is pending); `finish` answers the others.
    fn hand_over(&mut self, commands: impl Iterator<Item = Command>) {
        for command in commands {
            match (command, &mut self.transport) {
                (Command::Poll(reply), Transport::Polling { pending }) if pending.is_none() => {
                    *pending = Some(reply);
                }
                (command, _) => self.socket.shared.lock().commands.push_back(command),
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.heartbeat.next_ping,
            self.heartbeat.deadline,
            self.probe.as_ref().map(|probe| probe.deadline),
            self.closing.map(|(_, deadline)| deadline),
            self.shrink.map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_timer(&mut self, now: Instant) -> Result<(), CloseReason> {
        if self
            .heartbeat
            .deadline
            .is_some_and(|deadline| now >= deadline)
        {
            return Err(CloseReason::PingTimeout);
        }
        if let Some(at) = self.heartbeat.next_ping.filter(|at| now >= *at) {
            self.priority.push(Packet::Ping(Str::default()).encode());
            self.heartbeat.next_ping = None;
            // Counted from when the ping was due, so a late timer does not stretch the timeout.
            self.heartbeat.deadline = Some(at + self.engine.config.ping_timeout);
        }
        if self
            .probe
            .as_ref()
            .is_some_and(|probe| now >= probe.deadline)
        {
            tracing::debug!(sid = %self.socket.id(), "upgrade timed out");
            self.probe = None;
        }
        Ok(())
    }

    fn command(&mut self, command: Command) -> Result<(), CloseReason> {
        match command {
            Command::Poll(reply) => match &mut self.transport {
                Transport::Polling { pending } => {
                    if let Some(previous) = pending.take() {
                        tracing::debug!(sid = %self.socket.id(), "overlapping polls");
                        let _ = previous.send(PollReply::Frames(vec![Packet::Close.encode()]));
                        let _ = reply.send(PollReply::Refused(RequestError::BadRequest));
                        return Err(CloseReason::TransportError);
                    }
                    let upgrading = self.probe.as_ref().is_some_and(|probe| probe.probed);
                    if upgrading && self.priority.is_empty() && self.socket.queued() == 0 {
                        // Lets the client finish pausing its polling transport.
                        let _ = reply.send(PollReply::Frames(vec![Packet::Noop.encode()]));
                    } else {
                        *pending = Some(reply);
                    }
                }
                _ => {
                    let _ = reply.send(PollReply::Refused(RequestError::BadRequest));
                }
            },
            Command::Post(packets, reply) => {
                let mut outcome = Ok(());
                for packet in packets {
                    if let Err(reason) = self.on_packet(packet) {
                        outcome = Err(reason);
                        break;
                    }
                }
                let _ = reply.send(Ok(()));
                match outcome {
                    Err(CloseReason::TransportClose)
                        if matches!(self.transport, Transport::Polling { pending: None })
                            && self.closing.is_none() =>
                    {
                        // A client closing over polling sends its close while its GET is
                        // pending, on another connection: that GET may reach us a moment
                        // after the POST. It gets the answer it would have got had it come
                        // first (a noop), not "Session ID unknown".
                        let grace = Instant::now() + CLIENT_CLOSE_GRACE;
                        self.closing = Some((CloseReason::TransportClose, grace));
                    }
                    outcome => outcome?,
                }
            }
            Command::Upgrade(candidate) => {
                let upgradable = self.engine.config.allow_upgrades
                    && matches!(self.transport, Transport::Polling { .. })
                    && self.probe.is_none()
                    && self.closing.is_none();
                if upgradable {
                    let deadline = Instant::now() + self.engine.config.upgrade_timeout;
                    self.probe = Some(Box::new(Probe {
                        candidate,
                        probed: false,
                        deadline,
                    }));
                } else {
                    // On a task of its own, so that the session's future has no room for it.
                    tokio::spawn(candidate.close());
                }
            }
        }
        Ok(())
    }

    /// Handles a packet from the client on the current transport.
    fn on_packet(&mut self, packet: Packet) -> Result<(), CloseReason> {
        match packet {
            Packet::Pong(_) if self.protocol == ProtocolVersion::V4 => {
                let now = Instant::now();
                let config = &self.engine.config;
                // The ping went out when it was due (the timer fired then), and its deadline
                // was set from that moment: no field per session is needed to remember it.
                if let Some(due) = self
                    .heartbeat
                    .deadline
                    .and_then(|d| d.checked_sub(config.ping_timeout))
                {
                    self.engine
                        .metrics
                        .ping_rtt(now.saturating_duration_since(due));
                }
                self.heartbeat.deadline = None;
                self.heartbeat.next_ping = Some(now + config.ping_interval);
            }
            Packet::Ping(data) if self.protocol == ProtocolVersion::V3 => {
                self.priority.push(Packet::Pong(data).encode());
                let config = &self.engine.config;
                self.heartbeat.deadline =
                    Some(Instant::now() + config.ping_interval + config.ping_timeout);
            }
            Packet::Message(text) => {
                self.engine
                    .handler
                    .on_message(&self.socket, Message::Text(text));
            }
            Packet::Binary(data) => {
                self.engine
                    .handler
                    .on_message(&self.socket, Message::Binary(data));
            }
            Packet::Close => return Err(CloseReason::TransportClose),
            Packet::Ping(_)
            | Packet::Pong(_)
            | Packet::Open(_)
            | Packet::Upgrade
            | Packet::Noop => {}
        }
        Ok(())
    }

    fn on_ws_message(
        &mut self,
        message: Option<Result<tungstenite::Message, tungstenite::Error>>,
    ) -> Result<(), CloseReason> {
        let packet = match message {
            None | Some(Ok(tungstenite::Message::Close(_))) => {
                return Err(CloseReason::TransportClose);
            }
            Some(Err(error)) => {
                if let (tungstenite::Error::Capacity(_), Transport::WebSocket(ws)) =
                    (&error, &mut self.transport)
                {
                    // As Node's `ws` answers a message over `maxPayload`.
                    ws.get_mut().set_close_code(CloseCode::Size);
                }
                let reason = read_error_reason(&error);
                if reason == CloseReason::TransportError {
                    tracing::warn!(sid = %self.socket.id(), %error, "websocket error");
                } else {
                    tracing::debug!(sid = %self.socket.id(), %error, "websocket closed");
                }
                return Err(reason);
            }
            Some(Ok(message)) => match decode_ws(message, self.protocol, &self.engine) {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(()),
                Err(()) => return Err(CloseReason::TransportError),
            },
        };
        self.on_packet(packet)
    }

    async fn on_probe_message(
        &mut self,
        packet: Result<Option<Packet>, ()>,
    ) -> Result<(), CloseReason> {
        match packet {
            Ok(None) => {}
            Ok(Some(Packet::Ping(data))) if data == "probe" => {
                let Some(probe) = self.probe.as_mut() else {
                    return Ok(());
                };
                let pong = Packet::Pong(data).encode();
                if probe.candidate.send(pong, self.protocol).await.is_err() {
                    self.probe = None;
                    return Ok(());
                }
                probe.probed = true;
                self.answer_pending_with_noop();
            }
            Ok(Some(Packet::Upgrade)) => {
                let Some(probe) = self.probe.take() else {
                    return Ok(());
                };
                self.answer_pending_with_noop();
                let kind = match probe.candidate {
                    Candidate::WebSocket(ws) => {
                        self.transport = Transport::WebSocket(ws);
                        TransportKind::WebSocket
                    }
                    #[cfg(feature = "webtransport")]
                    Candidate::WebTransport(wt) => {
                        self.transport = Transport::WebTransport(wt);
                        TransportKind::WebTransport
                    }
                };
                self.socket.shared.lock().transport = Some(kind);
                self.engine.metrics.upgraded(kind);
                tracing::Span::current().record("upgraded", true);
                tracing::debug!(sid = %self.socket.id(), to = kind.as_str(), "upgraded");
            }
            Ok(Some(_)) | Err(()) => {
                // Anything else on a probe means it failed; the session goes on polling.
                if let Some(probe) = self.probe.take() {
                    probe.candidate.close().await;
                }
            }
        }
        Ok(())
    }

    fn answer_pending_with_noop(&mut self) {
        if let Transport::Polling { pending } = &mut self.transport {
            if let Some(reply) = pending.take() {
                let mut frames = mem::take(&mut self.priority);
                frames.push(Packet::Noop.encode());
                let _ = reply.send(PollReply::Frames(frames));
            }
        }
    }

    /// Gives the WebSocket a new codec with small buffers, in place of the one whose buffers
    /// large frames grew, if none went through since the shrink was planned and nothing is
    /// read in part; plans it again, a while after the last one, if some did. What the codec
    /// has still to write goes out first.
    async fn shrink_when_quiet(&mut self, now: Instant) {
        let Some((_, planned_at)) = self.shrink.take() else {
            return;
        };
        let Transport::WebSocket(ws) = &mut self.transport else {
            return;
        };
        let large_frames = ws.get_ref().large_frames();
        if large_frames != planned_at {
            self.shrink = Some((now + SHRINK_AFTER, large_frames));
            return;
        }
        if !ws.get_ref().wants_rebuild() {
            // In the middle of a message, say: the next idle read plans it again.
            return;
        }
        // A pong that tungstenite queued when it read a ping, say.
        let flushed = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut **ws).poll_flush(cx)));
        if !matches!(flushed.await, Poll::Ready(Ok(()))) {
            // A failure is for the next read to report.
            ws.get_mut().defer_rebuild();
            return;
        }
        let placeholder = Transport::Polling { pending: None };
        if let Transport::WebSocket(ws) = mem::replace(&mut self.transport, placeholder) {
            self.transport = Transport::WebSocket(codec_io::rebuild(ws).await);
            tracing::trace!(sid = %self.socket.id(), "websocket codec rebuilt");
        }
    }

    /// Writes what is waiting, when the transport can take it. From here on, frames queued
    /// by others wake the task again (see `Shared::running`).
    async fn flush(&mut self) -> Result<(), CloseReason> {
        let writable = match &self.transport {
            Transport::Polling { pending } => pending.is_some(),
            _ => true,
        };
        let outbox = {
            let mut state = self.socket.shared.lock();
            // Under the lock, so that a sender who queues after the outbox is taken sees it.
            self.socket.shared.running.store(false, Ordering::Relaxed);
            if !writable || (state.outbox.is_empty() && self.priority.is_empty()) {
                return Ok(());
            }
            state.queued_bytes = 0;
            // The next batch is most likely the size of this one (see `State::batch`).
            state.batch = u16::try_from(state.outbox.len()).unwrap_or(u16::MAX);
            // The outbox's buffer leaves with its frames, so an idle session keeps none.
            mem::take(&mut state.outbox)
        };
        let frames = if self.priority.is_empty() {
            Vec::from(outbox)
        } else {
            let mut frames = mem::take(&mut self.priority);
            frames.extend(outbox);
            frames
        };
        match &mut self.transport {
            Transport::WebSocket(_) => self.write_ws(frames).await,
            // Boxed: only WebTransport sessions need room for the write.
            #[cfg(feature = "webtransport")]
            Transport::WebTransport(_) => Box::pin(self.write_wt(frames)).await,
            Transport::Polling { pending } => match pending.take() {
                Some(reply) => reply
                    .send(PollReply::Frames(frames))
                    .map_err(|_| CloseReason::TransportClose),
                None => Ok(()),
            },
        }
    }

    /// Writes frames to the WebSocket. A client that stops reading blocks the write; the
    /// session still ends when the server asks it to close or when a pong would be overdue, so
    /// a stalled client cannot pin its session (and its memory) forever.
    ///
    /// One `poll_fn` rather than nested futures: every session's future has room for this
    /// one, idle or not. The guards of a write that has to wait are boxed, made only then.
    async fn write_ws(&mut self, frames: Vec<Frame>) -> Result<(), CloseReason> {
        let bytes = frames.iter().map(Frame::len).sum();
        let metrics = &self.engine.metrics;
        metrics.packets(
            Direction::Out,
            TransportKind::WebSocket,
            frames.len(),
            bytes,
        );
        let mut frames = frames.into_iter();
        let mut stalled: Option<Pin<Box<dyn Future<Output = CloseReason> + Send>>> = None;
        std::future::poll_fn(|cx| {
            let Transport::WebSocket(ws) = &mut self.transport else {
                return Poll::Ready(Ok(()));
            };
            if let Poll::Ready(written) = poll_write_all(ws, &mut frames, self.protocol, cx) {
                if stalled.is_some() {
                    // The guard may have taken a wake-up meant for frames queued meanwhile:
                    // the loop takes another turn to look.
                    self.socket.shared.set_woken();
                }
                return Poll::Ready(written.map_err(|_| CloseReason::TransportError));
            }
            let stalled = stalled.get_or_insert_with(|| self.stall_guard());
            stalled.as_mut().poll(cx).map(Err)
        })
        .await
    }

    /// Writes frames to the WebTransport stream; a client that stops reading is handled as in
    /// [`Session::write_ws`].
    #[cfg(feature = "webtransport")]
    async fn write_wt(&mut self, frames: Vec<Frame>) -> Result<(), CloseReason> {
        let bytes = frames.iter().map(Frame::len).sum();
        let count = frames.len();
        let metrics = &self.engine.metrics;
        metrics.packets(Direction::Out, TransportKind::WebTransport, count, bytes);
        let stalled = self.stall_guard();
        let Transport::WebTransport(wt) = &mut self.transport else {
            return Ok(());
        };
        tokio::select! {
            biased;
            written = wt.write_frames(frames) => written.map_err(|()| CloseReason::TransportError),
            reason = stalled => Err(reason),
        }
    }

    /// Handles what the WebTransport stream read: a frame, its end, or bytes that are not
    /// frames (a length of zero or over `max_payload`: the session ends, as Node's does).
    #[cfg(feature = "webtransport")]
    fn on_wt_frame(
        &mut self,
        frame: Option<Result<Frame, WtReadError>>,
    ) -> Result<(), CloseReason> {
        let frame = match frame {
            None | Some(Err(WtReadError::Closed)) => return Err(CloseReason::TransportClose),
            Some(Err(WtReadError::Invalid(error))) => {
                tracing::warn!(sid = %self.socket.id(), %error, "webtransport error");
                return Err(CloseReason::TransportError);
            }
            Some(Ok(frame)) => frame,
        };
        let metrics = &self.engine.metrics;
        metrics.packets(Direction::In, TransportKind::WebTransport, 1, frame.len());
        let packet = Packet::decode(frame).map_err(|_| CloseReason::TransportError)?;
        self.on_packet(packet)
    }

    /// What ends a write that cannot go on: a close request, or the time by which a pong
    /// would be overdue.
    fn stall_guard(&self) -> Pin<Box<dyn Future<Output = CloseReason> + Send>> {
        let config = &self.engine.config;
        let overdue = match (self.heartbeat.deadline, self.heartbeat.next_ping) {
            (Some(deadline), _) => deadline,
            (None, Some(ping)) => ping + config.ping_timeout,
            (None, None) => Instant::now() + config.ping_interval + config.ping_timeout,
        };
        // Once the session is closing, this is the flush of its last frames (the close
        // request is what started it): it gets until the grace deadline, not a moment.
        let closing = self.closing;
        let overdue = closing.map_or(overdue, |(_, grace)| grace.min(overdue));
        let shared = self.socket.shared.clone();
        Box::pin(async move {
            tokio::select! {
                reason = close_requested(&shared), if closing.is_none() => reason,
                () = sleep_until(overdue) => {
                    closing.map_or(CloseReason::PingTimeout, |(reason, _)| reason)
                }
            }
        })
    }

    async fn finish(mut self, reason: CloseReason) {
        let (leftover, commands) = {
            let mut state = self.socket.shared.lock();
            state.closed = Some(reason);
            (mem::take(&mut state.outbox), mem::take(&mut state.commands))
        };
        self.engine.remove(self.socket.id());
        let transport = match self.transport {
            Transport::Polling { .. } => TransportKind::Polling,
            Transport::WebSocket(_) => TransportKind::WebSocket,
            #[cfg(feature = "webtransport")]
            Transport::WebTransport(_) => TransportKind::WebTransport,
        };
        self.engine.metrics.closed(transport, reason);
        if reason == CloseReason::TransportError {
            tracing::warn!(sid = %self.socket.id(), %reason, "session closed");
        } else {
            tracing::debug!(sid = %self.socket.id(), %reason, "session closed");
        }

        for command in commands {
            match command {
                Command::Poll(reply) => {
                    let _ = reply.send(PollReply::Refused(RequestError::UnknownSid));
                }
                Command::Post(_, reply) => {
                    let _ = reply.send(Err(RequestError::UnknownSid));
                }
                Command::Upgrade(candidate) => candidate.close().await,
            }
        }
        self.engine.handler.on_close(&self.socket, reason);
        let attachment = self.socket.shared.attachment.lock().map(|mut a| a.take());
        drop(attachment);
        self.socket.shared.closed.notify_waiters();

        if let Some(probe) = self.probe.take() {
            probe.candidate.close().await;
        }
        match self.transport {
            Transport::Polling {
                pending: Some(reply),
            } => {
                let mut frames = mem::take(&mut self.priority);
                frames.extend(leftover);
                // A client that closed gets a noop, as in Node; otherwise it is told to close.
                frames.push(match reason {
                    CloseReason::TransportClose => Packet::Noop.encode(),
                    _ => Packet::Close.encode(),
                });
                let _ = reply.send(PollReply::Frames(frames));
            }
            Transport::Polling { pending: None } => {}
            Transport::WebSocket(ws) => close_ws(ws).await,
            #[cfg(feature = "webtransport")]
            Transport::WebTransport(wt) => wt.close().await,
        }
    }
}

/// A deadline for when there is none: far enough never to come.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

/// Writes `frames` to the WebSocket and flushes it. The frames are framed and written by
/// [`CodecIo::send_direct`], not fed to tungstenite one message at a time: tungstenite's sink
/// (readiness, a `Message` per frame, its framing through `io::Write`) cost a broadcast more
/// per recipient than everything else in its delivery, and a large frame would be copied into
/// its write buffer, which then keeps that size. Only this way do messages go out compressed
/// (tungstenite cannot set RSV1). tungstenite writes the rest (pongs, the close), in order:
/// what it holds is flushed first, and its next writes wait for these frames.
fn poll_write_all(
    ws: &mut WsStream,
    frames: &mut std::vec::IntoIter<Frame>,
    protocol: ProtocolVersion,
    cx: &mut Context<'_>,
) -> Poll<Result<(), tungstenite::Error>> {
    let mut ws = Pin::new(ws);
    ready!(ws.as_mut().poll_flush(cx))?;
    if frames.len() > 0 {
        // Each frame's header is at most 10 bytes; large payloads are not copied.
        let size_hint = frames
            .as_slice()
            .iter()
            .map(|frame| frame.len())
            .filter(|len| *len < codec_io::LARGE_FRAME)
            .sum::<usize>()
            + 10 * frames.len();
        let frames = frames.map(|frame| match ws_frame(frame, protocol) {
            Frame::Text(text) => (OpCode::Data(Data::Text), text.into_bytes()),
            Frame::Binary(data) => (OpCode::Data(Data::Binary), data),
        });
        Pin::get_mut(ws.as_mut())
            .get_mut()
            .send_direct(frames, size_hint);
    }
    ws.as_mut().poll_flush(cx)
}

/// Why a session ends when reading its WebSocket failed. As in Node, a connection that went
/// away (reset, or closed without a close frame) is a [`CloseReason::TransportClose`]; bad
/// input (an invalid frame, a message over `max_payload`) is a [`CloseReason::TransportError`].
fn read_error_reason(error: &tungstenite::Error) -> CloseReason {
    use tungstenite::Error;
    use tungstenite::error::ProtocolError;
    match error {
        Error::ConnectionClosed
        | Error::AlreadyClosed
        | Error::Io(_)
        | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            CloseReason::TransportClose
        }
        _ => CloseReason::TransportError,
    }
}

/// Resolves when someone asked the session to close.
async fn close_requested(shared: &crate::socket::Shared) -> CloseReason {
    loop {
        if let Some(reason) = shared.lock().close {
            return reason;
        }
        shared.woken().await;
    }
}

async fn close_ws(mut ws: Box<WsStream>) {
    let code = ws.get_ref().close_code();
    let close = async move {
        if let Some(code) = code {
            let reason = "".into();
            let frame = tungstenite::Message::Close(Some(CloseFrame { code, reason }));
            ws.send(frame).await?;
        }
        // Also answers a close from the client, and flushes the answer.
        SinkExt::close(&mut *ws).await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
}

enum TransportEvent {
    WebSocket(Option<Result<tungstenite::Message, tungstenite::Error>>),
    #[cfg(feature = "webtransport")]
    WebTransport(Option<Result<Frame, WtReadError>>),
    /// The client gave up its pending GET (closed the connection).
    PollCancelled,
    /// The WebSocket's read is pending, and its codec has buffers that large frames grew and
    /// could be rebuilt without them (see `CodecIo::wants_rebuild`); with the count of
    /// large frames so far.
    Idle(u32),
}

/// The transport's next event; `idle` asks to hear of a WebSocket gone idle with grown buffers.
async fn transport_event(transport: &mut Transport, idle: bool) -> TransportEvent {
    match transport {
        Transport::WebSocket(ws) => {
            std::future::poll_fn(|cx| match ws.poll_next_unpin(cx) {
                Poll::Ready(message) => Poll::Ready(TransportEvent::WebSocket(message)),
                Poll::Pending if idle && ws.get_ref().wants_rebuild() => {
                    Poll::Ready(TransportEvent::Idle(ws.get_ref().large_frames()))
                }
                Poll::Pending => Poll::Pending,
            })
            .await
        }
        #[cfg(feature = "webtransport")]
        Transport::WebTransport(wt) => TransportEvent::WebTransport(wt.next_frame().await),
        Transport::Polling {
            pending: Some(reply),
        } => {
            reply.closed().await;
            TransportEvent::PollCancelled
        }
        Transport::Polling { pending: None } => std::future::pending().await,
    }
}

async fn next_probe(
    probe: &mut Option<Box<Probe>>,
    protocol: ProtocolVersion,
) -> Result<Option<Packet>, ()> {
    match probe {
        Some(probe) => probe.candidate.next_packet(protocol).await,
        None => std::future::pending().await,
    }
}

/// Decodes a WebSocket message of the session's transport, counting it; `Ok(None)` for
/// control frames, `Err` for garbage.
fn decode_ws(
    message: tungstenite::Message,
    protocol: ProtocolVersion,
    engine: &Engine,
) -> Result<Option<Packet>, ()> {
    if matches!(
        message,
        tungstenite::Message::Text(_) | tungstenite::Message::Binary(_)
    ) {
        let metrics = &engine.metrics;
        metrics.packets(Direction::In, TransportKind::WebSocket, 1, message.len());
    }
    decode_probe(message, protocol)
}

/// Decodes a WebSocket message; `Ok(None)` for control frames, `Err` for garbage.
fn decode_probe(
    message: tungstenite::Message,
    protocol: ProtocolVersion,
) -> Result<Option<Packet>, ()> {
    let frame = match message {
        tungstenite::Message::Text(text) => {
            Frame::Text(Str::try_from(bytes::Bytes::from(text)).map_err(|_| ())?)
        }
        tungstenite::Message::Binary(data) => Frame::Binary(data),
        _ => return Ok(None),
    };
    let packet = match protocol {
        ProtocolVersion::V3 => v3::decode_ws(frame),
        _ => Packet::decode(frame),
    };
    packet.map(Some).map_err(|_| ())
}

/// A frame as it goes on a WebSocket in `protocol`.
fn ws_frame(frame: Frame, protocol: ProtocolVersion) -> Frame {
    match protocol {
        ProtocolVersion::V3 => v3::encode_ws(&frame),
        _ => frame,
    }
}

fn to_ws(frame: Frame, protocol: ProtocolVersion) -> tungstenite::Message {
    match ws_frame(frame, protocol) {
        // The same frame as `Message::Text`, without checking again the UTF-8 that `Str`
        // checked when it was built (a broadcast would check it once per recipient).
        Frame::Text(text) => {
            tungstenite::Message::Frame(tungstenite::protocol::frame::Frame::message(
                text.into_bytes(),
                OpCode::Data(Data::Text),
                true,
            ))
        }
        Frame::Binary(data) => tungstenite::Message::Binary(data),
    }
}
