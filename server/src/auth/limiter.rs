//! Failed-login limits. A stranger must not be able to lock the owner
//! out, so the hard limit is per (username, client): five wrong passwords
//! for `admin` from one address (an IPv6 /64) stop that address guessing
//! `admin`, not the real admin elsewhere. Per client address there is a
//! limit across usernames (someone trying many accounts). Across all
//! clients, a username past its ceiling (`CEILING` times the per-client
//! limit: a guessing crowd) refuses every client that already failed on
//! it, and still lets through one that has not (OWASP's "device cookie"
//! idea keyed by address): the owner signs in, each guessing address gets
//! one try per window. A check takes its place *before* the hash and
//! counts as a failure unless it succeeds, so parallel guesses cannot slip
//! past. Counts live in memory, are forgotten after the window, and are
//! bounded in number.

use crate::edge::proxy::ClientKey;
use app::names::Username;
use std::{
    collections::{HashMap, VecDeque},
    hash::Hash,
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
    /// The hard limit: one client guessing one name.
    by_pair: HashMap<(Username, ClientKey), VecDeque<Instant>>,
    /// The ceiling: everyone guessing one name.
    by_user: HashMap<Username, VecDeque<Instant>>,
    by_client: HashMap<ClientKey, VecDeque<Instant>>,
    swept: Option<Instant>,
}

/// A username's failures from all clients, in multiples of the
/// per-client limit, past which only clients with no failure on it may try.
const CEILING: usize = 4;
/// Keys remembered at most per map; beyond it the quietest are forgotten
/// first (a spray of names cannot grow memory without end).
const MAX_TRACKED: usize = 50_000;
/// Expired entries are swept at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl Default for LoginLimiter {
    /// 5 failures per username and client, 20 per client, within 15 minutes.
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
    client: ClientKey,
    at: Instant,
}

impl Attempt<'_> {
    /// The password was right: this client's failures on the name are
    /// cleared, and this attempt no longer counts anywhere.
    pub fn succeeded(self) {
        let mut f = self.limiter.lock();
        f.by_pair.remove(&(self.user.clone(), self.client));
        forget(f.by_user.get_mut(&self.user), self.at);
        forget(f.by_client.get_mut(&self.client), self.at);
    }

    /// The password was never checked (the server was busy): this attempt
    /// does not count, and nothing else is forgiven.
    pub fn cancel(self) {
        let mut f = self.limiter.lock();
        forget(
            f.by_pair.get_mut(&(self.user.clone(), self.client)),
            self.at,
        );
        forget(f.by_user.get_mut(&self.user), self.at);
        forget(f.by_client.get_mut(&self.client), self.at);
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
    /// refuses with how long until the failure that blocks it expires.
    pub fn reserve(&self, user: &Username, client: ClientKey) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let mut f = self.lock();
        f.sweep(now, self.window);
        let (window, pair) = (self.window, (user.clone(), client));
        let by_pair = f.by_pair.entry(pair.clone()).or_default();
        let pair_failed = recent(Some(by_pair), now, window) > 0;
        let pair_wait = full(by_pair, self.per_user, now, window);
        let by_client = f.by_client.entry(client).or_default();
        let client_wait = full(by_client, self.per_client, now, window);
        let by_user = f.by_user.entry(user.clone()).or_default();
        let crowd = self.per_user.saturating_mul(CEILING);
        let ceiling_wait = full(by_user, crowd, now, window).filter(|_| pair_failed);
        if let Some(wait) = pair_wait.max(client_wait).max(ceiling_wait) {
            return Err(wait);
        }
        f.by_pair.get_mut(&pair).expect("entered").push_back(now);
        f.by_user.get_mut(user).expect("entered").push_back(now);
        f.by_client
            .get_mut(&client)
            .expect("entered")
            .push_back(now);
        Ok(Attempt {
            limiter: self,
            user: user.clone(),
            client,
            at: now,
        })
    }

    /// Keys remembered now.
    pub fn tracked(&self) -> usize {
        let f = self.lock();
        f.by_pair.len() + f.by_user.len() + f.by_client.len()
    }
}

impl Failures {
    /// Forgets expired entries (once a minute), and the quietest ones when
    /// there are too many to keep.
    fn sweep(&mut self, now: Instant, window: Duration) {
        let over = self.by_pair.len() > MAX_TRACKED
            || self.by_user.len() > MAX_TRACKED
            || self.by_client.len() > MAX_TRACKED;
        if !over
            && self
                .swept
                .is_some_and(|t| now.duration_since(t) < SWEEP_EVERY)
        {
            return;
        }
        self.swept = Some(now);
        self.by_pair.retain(|_, q| recent(Some(q), now, window) > 0);
        self.by_user.retain(|_, q| recent(Some(q), now, window) > 0);
        self.by_client
            .retain(|_, q| recent(Some(q), now, window) > 0);
        forget_quietest(&mut self.by_pair);
        forget_quietest(&mut self.by_user);
        forget_quietest(&mut self.by_client);
    }
}

/// Keeps the `MAX_TRACKED / 2` most recently failed keys when over the cap.
fn forget_quietest<K: Clone + Eq + Hash>(map: &mut HashMap<K, VecDeque<Instant>>) {
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

    fn client(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap())
    }

    fn name(n: &str) -> Username {
        Username::parse(n).unwrap()
    }

    #[test]
    fn per_name_and_client_limit_counts_checks_under_way_and_success_resets() {
        let (home, away) = (client("127.0.0.1"), client("10.0.0.1"));
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        // Three checks at once, none finished yet: the fourth is refused.
        let held: Vec<_> = (0..3)
            .map(|_| l.reserve(&name("bob"), home).unwrap())
            .collect();
        assert!(l.reserve(&name("bob"), home).is_err());
        // The same name from elsewhere, and another name from here, go on.
        assert!(l.reserve(&name("bob"), away).is_ok());
        assert!(l.reserve(&name("alice"), home).is_ok());
        let mut held = held.into_iter();
        held.next().unwrap().succeeded();
        drop(held);
        assert!(l.reserve(&name("bob"), home).is_ok());
    }

    #[test]
    fn past_the_ceiling_only_clients_without_failures_may_try() {
        let l = LoginLimiter::new(Duration::from_secs(60), 2, 100);
        // A crowd of guessers, one failure each, fills the ceiling (2 × 4).
        for n in 0..8 {
            let _failed = l
                .reserve(&name("admin"), client(&format!("10.0.0.{n}")))
                .unwrap();
        }
        assert!(l.reserve(&name("admin"), client("10.0.0.1")).is_err());
        // The owner, who never failed, still gets to try.
        let owner = l.reserve(&name("admin"), client("192.0.2.7")).unwrap();
        owner.succeeded();
    }

    #[test]
    fn per_address_limit_spans_usernames_and_an_ipv6_64_is_one_address() {
        let l = LoginLimiter::new(Duration::from_secs(60), 100, 3);
        for n in ["a1a", "a2a", "a3a"] {
            let _failed = l.reserve(&name(n), client("2001:db8::1")).unwrap();
        }
        let wait = l
            .reserve(&name("a4a"), client("2001:db8::ffff"))
            .err()
            .expect("refused");
        assert!(wait <= Duration::from_secs(60));
        assert!(l.reserve(&name("a4a"), client("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn failures_expire() {
        let home = client("127.0.0.1");
        let l = LoginLimiter::new(Duration::from_millis(20), 1, 1);
        let _failed = l.reserve(&name("bob"), home).unwrap();
        assert!(l.reserve(&name("bob"), home).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(l.reserve(&name("bob"), home).is_ok());
    }

    #[test]
    fn a_spray_of_names_stays_bounded() {
        let home = client("127.0.0.1");
        let l = LoginLimiter::new(Duration::from_secs(60), 5, usize::MAX);
        for n in 0..MAX_TRACKED + 10 {
            let _failed = l.reserve(&name(&format!("user{n}")), home).unwrap();
        }
        assert!(l.tracked() <= 2 * MAX_TRACKED + 2, "{}", l.tracked());
    }
}
