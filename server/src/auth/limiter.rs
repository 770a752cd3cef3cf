//! Failed-login limits: per username (someone guessing one account's
//! password) and per client address (someone trying many accounts). A
//! check takes its place *before* the hash and counts as a failure unless
//! it succeeds, so parallel guesses cannot slip past. Counts live in
//! memory, are forgotten after the window, and are bounded in number.

use app::names::Username;
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
    by_user: HashMap<Username, VecDeque<Instant>>,
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
    swept: Option<Instant>,
}

/// Names and addresses remembered at most; beyond it the quietest are
/// forgotten first (a spray of names cannot grow memory without end).
const MAX_TRACKED: usize = 50_000;
/// Expired entries are swept at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl Default for LoginLimiter {
    /// 5 failures per username and 20 per address within 15 minutes.
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 5, 20)
    }
}

/// One password check under way, counted as a failure until it is known
/// to have succeeded: concurrent guesses each take a place *before* the
/// slow hash, so 40 at once still get only `per_user` checks.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    user: Username,
    at: Instant,
}

impl Attempt<'_> {
    /// The password was right: the username's failures are cleared, and
    /// this attempt no longer counts against the address.
    pub fn succeeded(self, client: IpAddr) {
        let mut f = self.limiter.lock();
        f.by_user.remove(&self.user);
        forget(f.by_client.get_mut(&client), self.at);
    }

    /// The password was never checked (the server was busy): this attempt
    /// does not count, and nothing else is forgiven.
    pub fn cancel(self, client: IpAddr) {
        let mut f = self.limiter.lock();
        forget(f.by_user.get_mut(&self.user), self.at);
        forget(f.by_client.get_mut(&client), self.at);
    }
}

/// Removes one attempt's entry from a queue.
fn forget(queue: Option<&mut VecDeque<Instant>>, at: Instant) {
    if let Some(q) = queue
        && let Some(i) = q.iter().rposition(|t| *t == at)
    {
        q.remove(i);
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

    /// Takes a place for one password check of `user` from `client`, or
    /// refuses with how long until the oldest failure expires.
    pub fn reserve(&self, user: &Username, client: IpAddr) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let mut f = self.lock();
        f.sweep(now, self.window);
        let window = self.window;
        let by_user = f.by_user.entry(user.clone()).or_default();
        let user_wait = full(by_user, self.per_user, now, window);
        let by_client = f.by_client.entry(client).or_default();
        let client_wait = full(by_client, self.per_client, now, window);
        if let Some(wait) = user_wait.max(client_wait) {
            return Err(wait);
        }
        f.by_user.get_mut(user).expect("entered").push_back(now);
        f.by_client
            .get_mut(&client)
            .expect("entered")
            .push_back(now);
        Ok(Attempt {
            limiter: self,
            user: user.clone(),
            at: now,
        })
    }

    /// Names and addresses remembered now.
    pub fn tracked(&self) -> usize {
        let f = self.lock();
        f.by_user.len() + f.by_client.len()
    }
}

impl Failures {
    /// Forgets expired entries (once a minute), and the quietest ones when
    /// there are too many to keep.
    fn sweep(&mut self, now: Instant, window: Duration) {
        let over = self.by_user.len() > MAX_TRACKED || self.by_client.len() > MAX_TRACKED;
        if !over
            && self
                .swept
                .is_some_and(|t| now.duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.swept = Some(now);
        self.by_user.retain(|_, q| recent(Some(q), now, window) > 0);
        self.by_client
            .retain(|_, q| recent(Some(q), now, window) > 0);
        forget_quietest(&mut self.by_user);
        forget_quietest(&mut self.by_client);
    }
}

/// Keeps the `MAX_TRACKED / 2` most recently failed keys when over the cap.
fn forget_quietest<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, VecDeque<Instant>>) {
    if map.len() <= MAX_TRACKED {
        return;
    }
    let mut last: Vec<(Instant, K)> = map
        .iter()
        .filter_map(|(k, q)| Some((*q.back()?, k.clone())))
        .collect();
    last.sort_unstable_by_key(|(t, _)| std::cmp::Reverse(*t));
    for (_, k) in last.into_iter().skip(MAX_TRACKED / 2) {
        map.remove(&k);
    }
}

/// `Some(wait)` when the queue already holds `limit` recent failures.
fn full(
    queue: &mut VecDeque<Instant>,
    limit: usize,
    now: Instant,
    window: Duration,
) -> Option<Duration> {
    if recent(Some(queue), now, window) < limit {
        return None;
    }
    let oldest = *queue.front()?;
    Some(window.saturating_sub(now.duration_since(oldest)))
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

    fn name(n: &str) -> Username {
        Username::parse(n).unwrap()
    }

    #[test]
    fn per_username_limit_counts_checks_under_way_and_success_resets() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        // Three checks at once, none finished yet: the fourth is refused.
        let held: Vec<_> = (0..3)
            .map(|_| l.reserve(&name("bob"), HOME).unwrap())
            .collect();
        assert!(l.reserve(&name("bob"), AWAY).is_err());
        assert!(l.reserve(&name("alice"), HOME).is_ok());
        let mut held = held.into_iter();
        held.next().unwrap().succeeded(HOME);
        drop(held);
        assert!(l.reserve(&name("bob"), HOME).is_ok());
    }

    #[test]
    fn per_address_limit_spans_usernames() {
        let l = LoginLimiter::new(Duration::from_secs(60), 100, 3);
        for n in ["a1a", "a2a", "a3a"] {
            let _failed = l.reserve(&name(n), HOME).unwrap();
        }
        let wait = l.reserve(&name("a4a"), HOME).err().expect("refused");
        assert!(wait <= Duration::from_secs(60));
        assert!(l.reserve(&name("a4a"), AWAY).is_ok());
    }

    #[test]
    fn failures_expire() {
        let l = LoginLimiter::new(Duration::from_millis(20), 1, 1);
        let _failed = l.reserve(&name("bob"), HOME).unwrap();
        assert!(l.reserve(&name("bob"), HOME).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(l.reserve(&name("bob"), HOME).is_ok());
    }

    #[test]
    fn a_spray_of_names_stays_bounded() {
        let l = LoginLimiter::new(Duration::from_secs(60), 5, usize::MAX);
        for n in 0..MAX_TRACKED + 10 {
            let _failed = l.reserve(&name(&format!("user{n}")), HOME).unwrap();
        }
        assert!(l.tracked() <= MAX_TRACKED + 1, "{}", l.tracked());
    }
}
