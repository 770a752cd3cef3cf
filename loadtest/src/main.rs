//! `loadtest`: drives a running chat server the way real clients do and
//! measures it.
//!
//! ```text
//! loadtest chat --url http://127.0.0.1:3000 --rooms 10 --clients 10 --rate 1000 --secs 10
//! loadtest ramp --url … --rooms 10 --clients 10 --rate 2000 --factor 1.5 --secs 5 --p99-ms 250
//! loadtest ramp --protocol socketio --url http://127.0.0.1:3200 …   (bench/socketio)
//! loadtest idle --url … --connections 10000 --pid <server pid>
//! loadtest accounts --url … --registrations 5000 --logins 20000 --concurrency 50 --connections 10000 --pid <server pid>
//! loadtest overload --url … --rooms 10 --clients 10 --rate 150000 --secs 10 --pids <server pid>
//! loadtest pages --url … --path /chat/ --concurrency 16 --secs 10 --pids <server pid>
//! ```
//!
//! Each run prints a readable table and one JSON line (prefixed `RESULT `).
//! One task per connection; the only parsing of what arrives is finding the
//! send time embedded in each message, so the tool is not the bottleneck.

mod accounts;
mod args;
mod chat;
mod idle;
mod overload;
mod pages;
mod stats;
mod wire;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("loadtest: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match args.mode.as_str() {
        "chat" => chat::run_once(&args).await,
        "ramp" => chat::ramp(&args).await,
        "idle" => idle::run(&args).await,
        "accounts" => accounts::run(&args).await,
        "overload" => overload::run(&args).await,
        "pages" => pages::run(&args).await,
        other => Err(format!("unknown mode {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadtest: {e}");
            ExitCode::FAILURE
        }
    }
}
