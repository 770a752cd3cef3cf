//! Overload: chat traffic well past what the server can carry, while
//! `/healthz` is asked every 50 ms and the server's RSS sampled. Reports
//! how long `/healthz` took (the server must stay responsive), how far RSS
//! rose (what it queues must stay bounded), how many clients were closed
//! for lagging (4008), and whether each of them could come back (a new
//! socket that completes its join within 10 s).

use crate::{
    args::Args,
    chat::{self, Setup},
    idle::rss_kib,
    stats::Latencies,
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};
use tokio::time::Instant;

const PROBE_EVERY: Duration = Duration::from_millis(50);
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const REJOIN_WITHIN: Duration = Duration::from_secs(10);

pub async fn run(args: &Args) -> Result<(), String> {
    let setup = Setup::from(args)?;
    let pid = *args.pids("pids")?.first().ok_or("--pids is needed")?;
    let cookies = chat::register(&setup).await?;
    let rate = args.number("rate", 150_000.0)?;
    let secs = args.number("secs", 10.0)?;
    let rss_start = rss_kib(pid)?;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(probe_health(args.urls()[0].clone(), stop.clone()));
    let peak = Arc::new(AtomicU64::new(rss_start));
    let sampler = tokio::spawn(sample_rss(pid, peak.clone(), stop.clone()));
    let mut report = chat::run(&setup, &cookies, rate, secs).await?;
    stop.store(true, Relaxed);
    let (mut health, failed_probes) = probe.await.map_err(|e| e.to_string())?;
    sampler.await.map_err(|e| e.to_string())?;
    let rss_after = rss_kib(pid)?;
    let rejoined = rejoin(&report.lagged).await;
    report.print("overload-step");
    let lagged = report.lagged.len();
    let (h99, hmax) = (health.percentile_ms(99.0), health.percentile_ms(100.0));
    let peak = peak.load(Relaxed);
    println!(
        "{:<24} healthz p99 {h99:.1} ms max {hmax:.1} ms ({failed_probes} failed)  RSS start {} MB peak {} MB after {} MB  \
         closed for lagging {lagged}, back within 10 s {rejoined}",
        setup_label(args),
        mb(rss_start),
        mb(peak),
        mb(rss_after),
    );
    let json = serde_json::json!({
        "mode": "overload", "label": setup_label(args), "target_rate": rate, "secs": secs,
        "sent_per_s": report.sent as f64 / secs, "delivered": report.delivered,
        "p99_ms": report.latency.percentile_ms(99.0),
        "healthz_p99_ms": h99, "healthz_max_ms": hmax, "healthz_failed": failed_probes,
        "rss_start_kib": rss_start, "rss_peak_kib": peak, "rss_after_kib": rss_after,
        "lagged": lagged, "rejoined": rejoined, "dropped_connections": report.disconnects,
    });
    println!("RESULT {json}");
    Ok(())
}

fn setup_label(args: &Args) -> String {
    args.text("label", "overload")
}

fn mb(kib: u64) -> String {
    format!("{:.1}", kib as f64 * 1024.0 / 1e6)
}

/// `/healthz` every [`PROBE_EVERY`] until `stop`: how long each took, and
/// how many failed or did not answer within 5 s.
pub(crate) async fn probe_health(base: String, stop: Arc<AtomicBool>) -> (Latencies, usize) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    let (mut took, mut failed) = (Latencies::default(), 0);
    let mut ticks = tokio::time::interval(PROBE_EVERY);
    while !stop.load(Relaxed) {
        ticks.tick().await;
        let started = Instant::now();
        let ok = match http.get(format!("{base}/healthz")).send().await {
            Ok(response) => response.status().is_success(),
            Err(_) => false,
        };
        took.0.push(started.elapsed().as_micros() as u32);
        failed += usize::from(!ok);
    }
    (took, failed)
}

async fn sample_rss(pid: u32, peak: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    while !stop.load(Relaxed) {
        if let Ok(kib) = rss_kib(pid) {
            peak.fetch_max(kib, Relaxed);
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

/// Reconnects every client closed for lagging, as the web client does;
/// counts those whose join completes (the user list arrives) in time.
async fn rejoin(lagged: &[(String, chat::Joining)]) -> usize {
    let tries = lagged.iter().map(|(url, joining)| async move {
        let joined = chat::join(url.clone(), joining.clone());
        matches!(tokio::time::timeout(REJOIN_WITHIN, joined).await, Ok(Ok(_)))
    });
    futures::future::join_all(tries)
        .await
        .into_iter()
        .filter(|ok| *ok)
        .count()
}
