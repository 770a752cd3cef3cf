//! Page serving: `--concurrency` clients each fetch `--path` over one
//! keep-alive connection, one request after another, for `--secs`;
//! requests per second and latency percentiles, with the server's CPU.
//! No `Accept-Encoding` unless `--encoding` says one, so that our server
//! and a bare handler returning the same bytes are compared like for like.

use crate::{args::Args, stats::Latencies};
use std::time::{Duration, Instant};

pub async fn run(args: &Args) -> Result<(), String> {
    let url = format!("{}{}", args.urls()[0], args.text("path", "/chat/"));
    let concurrency: usize = args.number("concurrency", 16)?;
    let secs: f64 = args.number("secs", 10.0)?;
    let encoding = args.text("encoding", "");
    let pids = args.pids("pids")?;
    let cpu = || -> Result<f64, String> { pids.iter().map(|p| crate::args::cpu_secs(*p)).sum() };
    let cpu_before = cpu()?;
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let clients = (0..concurrency).map(|_| fetch_until(url.clone(), encoding.clone(), until));
    let mut latency = Latencies::default();
    let (mut ok, mut failed, mut bytes) = (0u64, 0u64, 0u64);
    for client in futures::future::join_all(clients).await {
        let client = client?;
        ok += client.ok;
        failed += client.failed;
        bytes += client.bytes;
        latency.merge(client.latencies);
    }
    let server_cpu = cpu()? - cpu_before;
    let label = args.text("label", "");
    let rps = ok as f64 / secs;
    let (p50, p99) = (latency.percentile_ms(50.0), latency.percentile_ms(99.0));
    let per_request_kb = if ok > 0 {
        bytes as f64 / ok as f64 / 1000.0
    } else {
        0.0
    };
    let cpu_ms = (ok > 0).then(|| server_cpu * 1e6 / ok as f64);
    println!(
        "{label:<28} {concurrency} clients  {rps:>8.0} req/s  p50 {p50:.2} ms  p99 {p99:.2} ms  {per_request_kb:.1} kB each  failed {failed}"
    );
    let json = serde_json::json!({
        "mode": "pages", "label": label, "url": url, "concurrency": concurrency, "secs": secs,
        "encoding": encoding, "requests": ok, "failed": failed, "requests_per_s": rps,
        "p50_ms": p50, "p99_ms": p99, "kb_per_request": per_request_kb,
        "server_cpu_ms_per_1000_requests": cpu_ms,
    });
    println!("RESULT {json}");
    Ok(())
}

struct Fetched {
    ok: u64,
    failed: u64,
    bytes: u64,
    latencies: Vec<u32>,
}

/// One client: requests back to back until `until`.
async fn fetch_until(url: String, encoding: String, until: Instant) -> Result<Fetched, String> {
    // One connection per client, kept alive, as a browser tab would.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let mut done = Fetched {
        ok: 0,
        failed: 0,
        bytes: 0,
        latencies: Vec::new(),
    };
    while Instant::now() < until {
        let started = Instant::now();
        let mut request = http.get(&url);
        if !encoding.is_empty() {
            request = request.header("accept-encoding", &encoding);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => match response.bytes().await {
                Ok(body) => {
                    done.ok += 1;
                    done.bytes += body.len() as u64;
                    done.latencies.push(started.elapsed().as_micros() as u32);
                }
                Err(_) => done.failed += 1,
            },
            _ => done.failed += 1,
        }
    }
    Ok(done)
}
