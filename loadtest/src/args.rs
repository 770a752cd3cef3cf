//! Command-line arguments: `<mode> --key value …`, nothing fancier.

use std::collections::HashMap;

pub const USAGE: &str =
    "usage: loadtest <chat|ramp|idle|accounts|overload|pages> [--url http://127.0.0.1:3000] [--label text]
  chat:  --rooms R --clients C --rate MSGS_PER_SEC --secs S [--pids P1,P2,…] [--redis-pids …]
  ramp:  chat's options, plus --factor F (rate growth per step) --p99-ms LIMIT --max-rate N
  chat and ramp: --protocol socketio speaks Socket.IO 4 (bench/socketio) instead
         of our wire format: no accounts, the room named in the connect packet;
         --protocol chat-ids posts with a client_id each (acked by the server)
  idle:  --connections N --pid SERVER_PID
  accounts: --registrations N --logins M --concurrency C --connections N --pid SERVER_PID
         (sign-ups, then logins, then N idle sockets; RSS after each)
  overload: chat's options (--pids needed): a rate past the ceiling, with /healthz
         timed and RSS sampled throughout; clients closed for lagging rejoin
  pages: --path /chat/ --concurrency 16 --secs S [--encoding br] [--pids P]: GET back to back
         on one kept-alive connection per client; requests/s and latency
  --url may list several processes of one deployment (comma-separated): clients
  are spread over them in turn. --pids: the server processes whose CPU time
  each run reports (per 1,000 deliveries); --redis-pids: likewise for Redis
  (per 1,000 messages sent).";

pub struct Args {
    pub mode: String,
    values: HashMap<String, String>,
}

impl Args {
    pub fn parse(mut raw: impl Iterator<Item = String>) -> Result<Self, String> {
        let mode = raw.next().ok_or("no mode given")?;
        let mut values = HashMap::new();
        while let Some(key) = raw.next() {
            let key = key
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {key:?}"))?
                .to_owned();
            let value = raw.next().ok_or_else(|| format!("--{key} needs a value"))?;
            values.insert(key, value);
        }
        Ok(Self { mode, values })
    }

    pub fn text(&self, key: &str, default: &str) -> String {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    pub fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.values.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: {v:?} is not a number")),
        }
    }

    /// `--url`, split at commas: every process of the deployment.
    pub fn urls(&self) -> Vec<String> {
        self.text("url", "http://127.0.0.1:3000")
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect()
    }

    /// The first `--url`, `http://host:port` → `ws://host:port`.
    pub fn ws_base(&self) -> String {
        ws_of(&self.urls()[0])
    }

    /// A list of pids (`--pids`, `--redis-pids`), split at commas.
    pub fn pids(&self, key: &str) -> Result<Vec<u32>, String> {
        let raw = self.text(key, "");
        raw.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.trim()
                    .parse()
                    .map_err(|_| format!("--{key}: {p:?} is not a pid"))
            })
            .collect()
    }
}

/// `http://host:port` → `ws://host:port`.
pub fn ws_of(url: &str) -> String {
    url.replacen("http", "ws", 1)
}

/// User plus system CPU seconds a process has used, from /proc/<pid>/stat.
pub fn cpu_secs(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    let (Some(user), Some(system)) = (ticks(11), ticks(12)) else {
        return Err(format!("/proc/{pid}/stat: no CPU times"));
    };
    // USER_HZ is 100 on every Linux we run on.
    Ok((user + system) / 100.0)
}
