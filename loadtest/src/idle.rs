//! Idle connections: open N sockets, keep them open, and report how much
//! the server's resident memory grew per connection (from /proc/<pid>).

use crate::args::Args;
use futures::StreamExt;
use std::{sync::Arc, time::Duration};
use tokio::sync::Semaphore;

pub fn rss_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmRSS")
}

/// The anonymous part of [`rss_kib`]: heap and stacks, what the server
/// allocated. The rest is file pages, mostly the binary's own code, read
/// in the first time a path runs and dropped by the kernel when it needs
/// the memory.
pub fn anon_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "RssAnon")
}

fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field}"))
}

/// The open sockets: each one's write half and the task reading it. Both
/// hold the connection, so [`close`] them rather than dropping the list
/// (a dropped write half alone leaves the socket open).
pub type Open = Vec<(
    futures::stream::SplitSink<Ws, tokio_tungstenite::tungstenite::Message>,
    tokio::task::JoinHandle<()>,
)>;
type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `n` anonymous sockets over 100 rooms, at most 256 at a time, as a
/// crowd arriving rather than a flood; reports the first failure.
pub async fn open(ws: &str, n: usize) -> Result<Open, String> {
    let opening = Arc::new(Semaphore::new(256));
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let permit = opening
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let url = format!("{ws}/ws/chat/idle-{}/", i % 100);
        sockets.push(tokio::spawn(async move {
            let result = tokio_tungstenite::connect_async(url).await;
            drop(permit);
            let (ws, _) = result.map_err(|e| e.to_string())?;
            // Read (and drop) whatever comes, as an idle browser tab does.
            let (write, mut read) = ws.split();
            let reader = tokio::spawn(async move { while let Some(Ok(_)) = read.next().await {} });
            Ok::<_, String>((write, reader))
        }));
    }
    let mut open = Vec::with_capacity(n);
    let mut failed = 0;
    for s in sockets {
        match s.await.map_err(|e| e.to_string())? {
            Ok(w) => open.push(w),
            Err(e) => {
                if failed == 0 {
                    eprintln!("loadtest: a connection failed: {e}");
                }
                failed += 1;
            }
        }
    }
    Ok(open)
}

/// Closes every socket as a leaving browser does (a close frame), at most
/// 256 at a time, then drops what is left of each.
pub async fn close(open: Open) {
    futures::stream::iter(open)
        .for_each_concurrent(256, |(mut write, reader)| async move {
            use futures::SinkExt;
            let _ = tokio::time::timeout(Duration::from_secs(5), write.close()).await;
            reader.abort();
        })
        .await;
}

pub async fn run(args: &Args) -> Result<(), String> {
    let n: usize = args.number("connections", 1000)?;
    let pid: u32 = args.number("pid", 0)?;
    if pid == 0 {
        return Err("--pid of the server is needed to read its memory".into());
    }
    let label = args.text("label", "");
    let before = rss_kib(pid)?;
    let started = std::time::Instant::now();
    let open = open(&args.ws_base(), n).await?;
    let failed = n - open.len();
    let opened_in = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid)?;
    let per_conn_kib = (after.saturating_sub(before)) as f64 / open.len().max(1) as f64;
    println!(
        "{label:<24} idle {n:>6} requested  {:>6} open  {failed:>4} failed  opened in {:.1} s  server RSS {} → {} KiB  = {:.2} KiB per connection",
        open.len(),
        opened_in.as_secs_f64(),
        before,
        after,
        per_conn_kib
    );
    let json = serde_json::json!({
        "mode": "idle", "label": label, "requested": n, "open": open.len(), "failed": failed,
        "opened_secs": opened_in.as_secs_f64(), "rss_before_kib": before, "rss_after_kib": after,
        "kib_per_connection": per_conn_kib,
    });
    println!("RESULT {json}");
    close(open).await;
    Ok(())
}
