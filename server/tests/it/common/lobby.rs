//! The lobby's live feed as a test reads it.

use super::{ARRIVES, Endpoint};
use serde_json::Value;
use std::time::Duration;

/// The lobby's live feed (`/api/rooms/live`, server-sent events), read as
/// a browser's EventSource reads it.
pub struct LobbyWatch {
    response: reqwest::Response,
    buffer: String,
}

impl Endpoint {
    /// Opens the lobby feed, with an optional session cookie.
    pub async fn watch_lobby(&self, cookie: Option<&str>) -> LobbyWatch {
        let mut request = reqwest::Client::new().get(self.http("/api/rooms/live"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "opening the lobby feed");
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        LobbyWatch {
            response,
            buffer: String::new(),
        }
    }
}

impl LobbyWatch {
    /// The next event's JSON, or `None` if none arrives within `wait`.
    pub async fn event_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                // Comments (keep-alives) and `retry:` alone carry no event.
                if data.is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(&data.join("\n")).unwrap());
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .expect("the feed stays readable")
                .expect("the feed stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    pub async fn event(&mut self) -> Value {
        self.event_within(ARRIVES).await.expect("a lobby event")
    }

    /// Whether the server ends the stream within `wait` (events before
    /// the end are read and dropped).
    pub async fn ended_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None) | Err(_)) => return true,
            }
        }
    }

    /// Reads until `room`'s line satisfies `want`, within `wait`; the line.
    pub async fn line_within(
        &mut self,
        wait: Duration,
        room: &str,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self
                .event_within(left)
                .await
                .unwrap_or_else(|| panic!("{room}'s lobby line as wanted within {wait:?}"));
            if event["type"] == "room_summary" && event["name"] == room && want(&event) {
                return event;
            }
        }
    }
}
