//! `server`: serves the chat on `LEPTOS_SITE_ADDR` (default 127.0.0.1:3000).
//! `server create-admin <name>`: creates an admin account (or makes an
//! existing account an admin), like Django's `createsuperuser`; the
//! password comes from `ADMIN_PASSWORD` or is asked for on the terminal.

use server::{config::Config, serve};
use std::process::ExitCode;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("server: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {}
        ["create-admin", name] => return create_admin(&config, name).await,
        _ => {
            eprintln!("usage: server               serve the chat");
            eprintln!(
                "       server create-admin <name>   (password from ADMIN_PASSWORD or the terminal)"
            );
            return ExitCode::from(2);
        }
    }
    let addr = config.leptos.site_addr;
    let listener = match listen(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    server::raise_open_files(config.limits.max_connections);
    tracing::info!("serving the chat at http://{addr}/chat/");
    match serve(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How many connections may wait to be accepted. tokio's `bind` allows
/// 1,024; a restart brings every member of a big room back within a
/// second, and a full queue drops the next SYN (a load balancer's
/// `/healthz` among them) for a second until it is sent again. The kernel
/// caps it at `net.core.somaxconn` (4,096 on current Linux).
const ACCEPT_QUEUE: u32 = 4096;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `bind` does: a restarted server may listen while the old one's
    // connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_QUEUE)
}

async fn create_admin(config: &Config, name: &str) -> ExitCode {
    let password = match std::env::var("ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => match ask_password(name) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("server: cannot read the password: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let storage = match server::storage::Storage::open(&config.database_url).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server::auth::create_admin(&storage, name, &password).await {
        Ok(done) => {
            println!("{name} is an admin ({done}).");
            ExitCode::SUCCESS
        }
        Err(
            server::auth::AccountError::Refused(e) | server::auth::AccountError::Throttled(e, _),
        ) => {
            eprintln!("server: {}", e.message());
            ExitCode::FAILURE
        }
        Err(server::auth::AccountError::Internal(e)) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Asks on the terminal without echoing (stty), twice to catch typos.
fn ask_password(name: &str) -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let tty = std::io::stdin().is_terminal();
    let stty = |arg: &str| {
        if tty {
            let _ = std::process::Command::new("stty")
                .arg(arg)
                .stdin(std::process::Stdio::inherit())
                .status();
        }
    };
    let read = |prompt: &str| -> std::io::Result<String> {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        stty("-echo");
        let mut line = String::new();
        let result = std::io::stdin().lock().read_line(&mut line);
        stty("echo");
        if tty {
            eprintln!();
        }
        result?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let first = read(&format!("Password for {name}: "))?;
    if tty && read("Again: ")? != first {
        return Err(std::io::Error::other("the passwords differ"));
    }
    Ok(first)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down");
}
