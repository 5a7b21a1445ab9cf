//! A loopback TCP proxy a test controls: it forwards connections to a server until
//! [`Proxy::cut`] closes every one of them at once (the network going away under the client),
//! or [`Proxy::freeze`] stops forwarding while keeping them open (a network gone silent, which
//! only heartbeats notice); it refuses new ones while [`Proxy::set_open`] says so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    freezes: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy on a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (freezes, _) = watch::channel(0u64);
        let task = {
            let open = open.clone();
            let cuts = cuts.clone();
            let freezes = freezes.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::Acquire) {
                        drop(inbound);
                        continue;
                    }
                    let mut cut = cuts.subscribe();
                    cut.mark_unchanged();
                    let mut freeze = freezes.subscribe();
                    freeze.mark_unchanged();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                            // Frozen: nothing more goes through, until a cut closes both.
                            _ = freeze.changed() => { let _ = cut.changed().await; }
                        }
                        // Dropping both streams closes them: the client and the server each
                        // see their connection end.
                    });
                }
            })
        };
        Proxy {
            addr,
            open,
            cuts,
            freezes,
            task,
        }
    }

    /// `http://` and the proxy's address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes every connection it forwards now.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Stops forwarding on every connection now, keeping them open.
    pub fn freeze(&self) {
        self.freezes.send_modify(|n| *n += 1);
    }

    /// Whether new connections are forwarded (`true`) or closed at once.
    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
