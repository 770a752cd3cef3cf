//! Command-line arguments: `<mode> --key value …`, nothing fancier.

use std::collections::HashMap;

pub const USAGE: &str =
    "usage: loadtest <chat|ramp|idle> [--url http://127.0.0.1:3000] [--label text]
  chat:  --rooms R --clients C --rate MSGS_PER_SEC --secs S
  ramp:  chat's options, plus --factor F (rate growth per step) --p99-ms LIMIT --max-rate N
  idle:  --connections N --pid SERVER_PID";

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

    /// `http://host:port` → `ws://host:port`.
    pub fn ws_base(&self) -> String {
        let url = self.text("url", "http://127.0.0.1:3000");
        url.replacen("http", "ws", 1)
    }
}
