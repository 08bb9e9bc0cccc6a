//! [`TcpCut`]: a TCP forwarder on a local port that a test can cut (every connection
//! dropped, new ones refused) and restore, to see what a process does while a
//! service it uses is gone and after it comes back.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A forwarder from a local port to `target`.
#[derive(Debug, Clone)]
pub struct TcpCut {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl TcpCut {
    /// Listens on a free local port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("TcpCut bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("TcpCut address: {e}"));
        let open = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let cut = Self {
            addr,
            open: open.clone(),
            generation: generation.clone(),
        };
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !open.load(Ordering::SeqCst) {
                    // Refused: the peer sees the connection closed at once.
                    drop(inbound);
                    continue;
                }
                let mut cut_off = generation.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_off.changed() => {}
                    }
                });
            }
        });
        cut
    }

    /// The local address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|n| *n += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// The `host:port` of a `redis://` (or any `scheme://`) URL, resolved.
pub fn url_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    std::net::ToSocketAddrs::to_socket_addrs(host)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("cannot resolve {host}"))
}
