//! The connection loop (axum's `serve`, plus what it lacks). Must never
//! import storage, the layer or the chat domain: it only moves bytes to
//! the router.

use axum::extract::{ConnectInfo, Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{future::Future, time::Duration};
use tokio::net::TcpListener;
use tower::Service;

use super::SHUTDOWN_GRACE;

/// The connection loop (axum's `serve`, plus what it lacks): HTTP/1.1 with
/// upgrades, a header-read timeout (a half-sent request head is dropped
/// after `HEADER_READ_TIMEOUT_SECS`, so slow-loris connections cannot pile
/// up), TCP_NODELAY, the peer address for `ConnectInfo`, and on shutdown
/// no new connections while the open requests finish.
pub(super) async fn accept(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
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
            drop(alive);
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
