//! A burst of sign-ups and logins, then idle connections: the server's
//! resident memory before, at its peak, after each phase and once the
//! connections close. Password hashing holds 19 MiB per hash, so this is
//! where an allocator that keeps freed memory shows.

use crate::{args::Args, idle};
use futures::{StreamExt, stream};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const PASSWORD: &str = "load test password";

/// Samples the server's RSS every 50 ms and keeps the highest.
struct PeakRss {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let seen = peak.clone();
        let task = tokio::spawn(async move {
            while let Ok(kib) = idle::rss_kib(pid) {
                seen.fetch_max(kib, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { peak, task }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts of one phase's answers: created/logged in, busy (503), other.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    busy: AtomicU64,
    failed: AtomicU64,
}

impl Tally {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": self.ok.load(Ordering::Relaxed),
            "busy": self.busy.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
        })
    }
}

/// Posts `count` requests at `concurrency` at once; `body(i)` is the i-th.
async fn burst(
    http: &reqwest::Client,
    url: &str,
    count: usize,
    concurrency: usize,
    body: impl Fn(usize) -> serde_json::Value,
) -> (Tally, f64) {
    let tally = Tally::default();
    let started = Instant::now();
    stream::iter(0..count)
        .map(|i| http.post(url).json(&body(i)).send())
        .buffer_unordered(concurrency)
        .for_each(|answer| {
            let counter = match answer.as_ref().map(|r| r.status().as_u16()) {
                Ok(200 | 201) => &tally.ok,
                Ok(503) => &tally.busy,
                _ => &tally.failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            async {}
        })
        .await;
    (tally, started.elapsed().as_secs_f64())
}

pub async fn run(args: &Args) -> Result<(), String> {
    let registrations: usize = args.number("registrations", 5000)?;
    let logins: usize = args.number("logins", 20000)?;
    let concurrency: usize = args.number("concurrency", 50)?;
    let connections: usize = args.number("connections", 10000)?;
    let pid: u32 = args.number("pid", 0)?;
    if pid == 0 {
        return Err("--pid of the server is needed to read its memory".into());
    }
    let base = args.urls()[0].clone();
    let label = args.text("label", "");
    let prefix = format!("acct{:x}", std::process::id());
    let name = move |i: usize| format!("{prefix}-{i}");
    // No cookie store: every request is a stranger's, as in a real burst.
    let http = reqwest::Client::new();
    let start = idle::rss_kib(pid)?;
    let anon_start = idle::anon_kib(pid)?;
    let peak = PeakRss::start(pid);

    let (signed_up, signup_secs) = burst(
        &http,
        &format!("{base}/api/register"),
        registrations,
        concurrency,
        |i| serde_json::json!({"username": name(i), "password": PASSWORD}),
    )
    .await;
    let after_signups = idle::rss_kib(pid)?;
    let (logged_in, login_secs) = burst(
        &http,
        &format!("{base}/api/login"),
        logins,
        concurrency,
        |i| serde_json::json!({"username": name(i % registrations.max(1)), "password": PASSWORD}),
    )
    .await;
    let after_logins = idle::rss_kib(pid)?;
    let burst_peak = peak.peak();

    let open = idle::open(&args.ws_base(), connections).await?;
    let with_idle = idle::rss_kib(pid)?;
    let opened = open.len();
    idle::close(open).await;
    // Time for the server to see the closes and its allocator to give back
    // (jemalloc and mimalloc return freed pages after a delay).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let closed_5s = idle::rss_kib(pid)?;
    tokio::time::sleep(Duration::from_secs(25)).await;
    let closed = idle::rss_kib(pid)?;
    let anon_closed = idle::anon_kib(pid)?;
    let overall_peak = peak.peak();

    println!(
        "{label:<24} sign-ups {registrations} in {signup_secs:.1} s, logins {logins} in {login_secs:.1} s (at {concurrency} at once); \
         RSS KiB: start {start}, after sign-ups {after_signups}, after logins {after_logins}, burst peak {burst_peak}, \
         with {opened} idle {with_idle}, 5 s after they closed {closed_5s}, 30 s after {closed}, peak {overall_peak}; \
         anonymous: start {anon_start}, 30 s after {anon_closed}"
    );
    let json = serde_json::json!({
        "mode": "accounts", "label": label, "concurrency": concurrency,
        "registrations": registrations, "signups": signed_up.json(), "signup_secs": signup_secs,
        "logins": logins, "logins_ok": logged_in.json(), "login_secs": login_secs,
        "connections": connections, "open": opened,
        "rss_start_kib": start, "rss_after_signups_kib": after_signups,
        "rss_after_logins_kib": after_logins, "rss_burst_peak_kib": burst_peak,
        "rss_with_idle_kib": with_idle, "rss_closed_5s_kib": closed_5s, "rss_closed_kib": closed, "rss_peak_kib": overall_peak,
        "anon_start_kib": anon_start, "anon_closed_kib": anon_closed,
    });
    println!("RESULT {json}");
    Ok(())
}
