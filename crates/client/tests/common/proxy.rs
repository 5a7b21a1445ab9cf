//! A loopback TCP proxy the test controls, to make a server go silent, drop its connections
//! (the network going away under the client) or refuse new ones without touching the server.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bytes flow both ways.
    Forward,
    /// Connections stay open, but nothing is passed on (held until forwarding again).
    Silent,
    /// New connections are closed as soon as they are accepted; open ones still forward.
    Refuse,
}

pub struct Proxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Bumped to drop every open connection; `true` with a reset.
    cut: watch::Sender<(u64, bool)>,
    /// Bumped to stop forwarding on every open connection, for good (until a cut).
    freeze: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut.send_modify(|(n, _)| *n += 1);
    }
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, mode_rx) = watch::channel(Mode::Forward);
        let (cut, cut_rx) = watch::channel((0u64, false));
        let (freeze, freeze_rx) = watch::channel(0u64);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *mode_rx.borrow() == Mode::Refuse {
                    drop(client);
                    continue;
                }
                let (mode, cut, freeze) = (mode_rx.clone(), cut_rx.clone(), freeze_rx.clone());
                tokio::spawn(relay(client, upstream, mode, cut, freeze));
            }
        });
        Proxy {
            addr,
            mode,
            cut,
            freeze,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Closes every open connection, both ways, without a word.
    pub fn cut(&self) {
        self.cut
            .send_modify(|(n, reset)| (*n, *reset) = (*n + 1, false));
    }

    /// Resets every open connection: the client's side gets a TCP RST, not a FIN.
    pub fn reset(&self) {
        self.cut
            .send_modify(|(n, reset)| (*n, *reset) = (*n + 1, true));
    }

    /// Stops forwarding on every connection open now, keeping them open (a network gone
    /// silent, which only heartbeats notice) until [`Proxy::cut`]; new ones are not affected.
    pub fn freeze(&self) {
        self.freeze.send_modify(|n| *n += 1);
    }

    /// Whether new connections are forwarded (`true`) or closed at once.
    pub fn set_open(&self, open: bool) {
        self.set(if open { Mode::Forward } else { Mode::Refuse });
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    mode: watch::Receiver<Mode>,
    mut cut: watch::Receiver<(u64, bool)>,
    mut freeze: watch::Receiver<u64>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    cut.mark_unchanged();
    freeze.mark_unchanged();
    let (mut client, mut server) = (client, server);
    {
        // Borrowed halves: a frozen connection keeps both of its sides open without
        // forwarding, and the streams stay here to be reset.
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let up = pump(client_read, server_write, mode.clone());
        let down = pump(server_read, client_write, mode);
        tokio::pin!(up, down);
        tokio::select! {
            () = &mut up => {}
            () = &mut down => {}
            _ = cut.changed() => {}
            // Frozen: nothing more goes through, until a cut closes both.
            _ = freeze.changed() => { let _ = cut.changed().await; }
        }
    }
    if cut.borrow().1 {
        // A zero linger makes the close an RST.
        let _ = client.set_zero_linger();
    }
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if mode.wait_for(|m| *m != Mode::Silent).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
