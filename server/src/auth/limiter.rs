//! Failed-login limits: per username (someone guessing one account's
//! password) and per client address (someone trying many accounts). Counts
//! live in memory and are forgotten after the window.

use app::account::AuthError;
use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    per_user: usize,
    per_client: usize,
    failures: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    by_user: HashMap<String, VecDeque<Instant>>,
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Default for LoginLimiter {
    /// 5 failures per username and 20 per address within 15 minutes.
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 5, 20)
    }
}

impl LoginLimiter {
    pub fn new(window: Duration, per_user: usize, per_client: usize) -> Self {
        Self {
            window,
            per_user,
            per_client,
            failures: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses before the password is even checked once a limit is reached.
    pub fn check(&self, username: &str, client: IpAddr) -> Result<(), AuthError> {
        let now = Instant::now();
        let mut f = self.lock();
        let user = recent(f.by_user.get_mut(username), now, self.window);
        let addr = recent(f.by_client.get_mut(&client), now, self.window);
        if user >= self.per_user || addr >= self.per_client {
            Err(AuthError::TooManyAttempts)
        } else {
            Ok(())
        }
    }

    pub fn failed(&self, username: &str, client: IpAddr) {
        let now = Instant::now();
        let mut f = self.lock();
        f.by_user
            .entry(username.to_owned())
            .or_default()
            .push_back(now);
        f.by_client.entry(client).or_default().push_back(now);
        // Keep memory bounded under a spray of random usernames.
        if f.by_user.len() > 100_000 {
            let window = self.window;
            f.by_user.retain(|_, q| recent(Some(q), now, window) > 0);
            f.by_client.retain(|_, q| recent(Some(q), now, window) > 0);
        }
    }

    /// A correct password clears that username's failures.
    pub fn succeeded(&self, username: &str) {
        self.lock().by_user.remove(username);
    }
}

/// Drops entries older than the window and counts the rest.
fn recent(queue: Option<&mut VecDeque<Instant>>, now: Instant, window: Duration) -> usize {
    let Some(queue) = queue else { return 0 };
    while queue
        .front()
        .is_some_and(|t| now.duration_since(*t) > window)
    {
        queue.pop_front();
    }
    queue.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn per_username_limit_and_reset_on_success() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        for _ in 0..3 {
            assert!(l.check("bob", HOME).is_ok());
            l.failed("bob", HOME);
        }
        assert_eq!(l.check("bob", AWAY), Err(AuthError::TooManyAttempts));
        assert!(l.check("alice", HOME).is_ok());
        l.succeeded("bob");
        assert!(l.check("bob", HOME).is_ok());
    }

    #[test]
    fn per_address_limit_spans_usernames() {
        let l = LoginLimiter::new(Duration::from_secs(60), 100, 3);
        for name in ["a1", "a2", "a3"] {
            l.failed(name, HOME);
        }
        assert_eq!(l.check("a4", HOME), Err(AuthError::TooManyAttempts));
        assert!(l.check("a4", AWAY).is_ok());
    }

    #[test]
    fn failures_expire() {
        let l = LoginLimiter::new(Duration::from_millis(20), 1, 1);
        l.failed("bob", HOME);
        assert!(l.check("bob", HOME).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(l.check("bob", HOME).is_ok());
    }
}
