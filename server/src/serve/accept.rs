//! The connection loop (axum's `serve`, plus what it lacks). Must never
//! import storage, the layer or the chat domain: it only moves bytes to
//! the router.

use crate::edge::proxy::{ClientKey, TrustedProxies};
use axum::extract::{ConnectInfo, Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

use super::SHUTDOWN_GRACE;

/// Open TCP connections per peer address (an IPv6 /64), at most
/// `TCP_CONNECTIONS_PER_ADDRESS`; trusted proxies are exempt (they carry
/// everyone's connections, and the proxy's own `limit_conn` counts per
/// client). Beyond the cap a connection is answered 429 and closed at
/// once, before hyper reads a byte of it.
pub(super) struct PeerCaps {
    pub per_address: usize,
    pub trusted: Arc<TrustedProxies>,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// A peer's place, given back when its connection ends.
struct Place(Arc<PeerCaps>, ClientKey);

impl PeerCaps {
    pub fn new(per_address: usize, trusted: Arc<TrustedProxies>) -> Arc<Self> {
        Arc::new(Self {
            per_address,
            trusted,
            open: Mutex::default(),
        })
    }

    /// A place for a connection from `peer`; `Ok(None)` for a trusted proxy.
    fn take(self: &Arc<Self>, peer: IpAddr) -> Result<Option<Place>, ()> {
        if self.trusted.trusts(&peer) {
            return Ok(None);
        }
        let key = ClientKey::of(peer);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.per_address {
            return Err(());
        }
        *count += 1;
        Ok(Some(Place(self.clone(), key)))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.0.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.1) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// What a connection beyond its address's cap is told, if its socket
/// takes it at once; it is closed either way.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\n\
content-length: 47\r\nconnection: close\r\n\r\nToo many connections from your address; wait.\r\n";

fn turn_away(tcp: TcpStream) {
    // Never waits: a peer that does not read gets nothing and is closed.
    let _ = tcp.try_write(TOO_MANY);
}

/// The connection loop (axum's `serve`, plus what it lacks): HTTP/1.1 with
/// upgrades, a header-read timeout (a half-sent request head is dropped
/// after `HEADER_READ_TIMEOUT_SECS`, so slow-loris connections cannot pile
/// up), open connections per peer address ([`PeerCaps`]), TCP_NODELAY,
/// the peer address for `ConnectInfo`, and on shutdown no new connections
/// while the open requests finish.
pub(super) async fn accept(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    peers: Arc<PeerCaps>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    // `finish` tells open connections to end after their current request;
    // each holds a `done` receiver, so `done.closed()` is when all have.
    let (finish, finishing) = tokio::sync::watch::channel(());
    let (done, alive) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(place) = peers.take(peer.ip()) else {
            turn_away(tcp);
            continue;
        };
        // Chat frames are small and latency matters: no Nagle delay (up to
        // 40 ms against the peer's delayed ACK).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request)
        });
        let connection = http
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        let (mut finishing, alive) = (finishing.clone(), alive.clone());
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = finishing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!("connection from {peer}: {e}");
            }
            drop((alive, place));
        });
    }
    drop(listener);
    let _ = finish.send(());
    drop(alive);
    if tokio::time::timeout(SHUTDOWN_GRACE, done.closed())
        .await
        .is_err()
    {
        tracing::warn!("open requests did not finish in time");
    }
}
