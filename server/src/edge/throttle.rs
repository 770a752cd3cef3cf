//! Rate limits: governor's GCRA (a token bucket without a refill task), by
//! key ([`Throttle`]: per client address, per person) or for one owner
//! ([`Budget`]: per connection). Both answer how long to wait, so refusals
//! can say `Retry-After` / `retry_after_ms`.
//!
//! Ground level: must never import anything of the chat, storage or HTTP.

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::{InMemoryState, NotKeyed, keyed::DefaultKeyedStateStore},
};
use std::{
    hash::Hash,
    num::NonZeroU32,
    sync::atomic::{AtomicU32, Ordering::Relaxed},
    time::Duration,
};

/// Checks between two sweeps of keys whose buckets are full again, so a
/// spray of addresses or names cannot grow the map without end.
const SWEEP_EVERY: u32 = 1024;

/// `count` per `period`, all of it available at once.
fn quota(count: u32, period: Duration) -> Quota {
    let count = NonZeroU32::new(count.max(1)).expect("at least 1");
    let every = (period / count.get()).max(Duration::from_nanos(1));
    Quota::with_period(every)
        .expect("a period above zero")
        .allow_burst(count)
}

/// `rate` per second on average, `burst` at once.
fn quota_per_second(rate: f64, burst: u32) -> Quota {
    let every = Duration::from_secs_f64(1.0 / rate.max(1e-9)).max(Duration::from_nanos(1));
    Quota::with_period(every)
        .expect("a period above zero")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"))
}

/// A limit per key: `count` per `period` for each key.
pub struct Throttle<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// `count` per `period` for each key, all of it available at once.
    pub fn new(count: u32, period: Duration) -> Self {
        Self::with(quota(count, period))
    }

    /// `rate` a second on average for each key, `burst` at once.
    pub fn per_second(rate: f64, burst: u32) -> Self {
        Self::with(quota_per_second(rate, burst))
    }

    fn with(quota: Quota) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        }
    }

    /// Takes one from `key`'s allowance, or says how long until one is back.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Keys remembered right now (tests check that memory stays bounded).
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One owner's allowance (a connection's history requests, its bad
/// frames): no map, no lock.
pub struct Budget {
    limiter: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
    clock: DefaultClock,
}

impl Budget {
    pub fn per_second(rate: f64, burst: u32) -> Self {
        Self::with(quota_per_second(rate, burst))
    }

    pub fn per(count: u32, period: Duration) -> Self {
        Self::with(quota(count, period))
    }

    fn with(quota: Quota) -> Self {
        let clock = DefaultClock::default();
        Self {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
        }
    }

    /// Takes one, or says how long until one is back.
    pub fn take(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Waits until one is available, then takes it.
    pub async fn wait(&self) {
        while let Err(wait) = self.take() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_count_then_waits_and_others_are_apart() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check(&"a").is_ok());
        }
        let wait = t.check(&"a").unwrap_err();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20));
        assert!(t.check(&"b").is_ok());
    }

    #[test]
    fn keys_whose_buckets_refilled_are_forgotten() {
        let t = Throttle::new(1, Duration::from_millis(5));
        for n in 0..SWEEP_EVERY - 1 {
            let _ = t.check(&n);
        }
        std::thread::sleep(Duration::from_millis(10));
        let _ = t.check(&u32::MAX);
        assert!(t.len() < 10, "swept: {} left", t.len());
    }

    #[test]
    fn a_budget_allows_its_burst() {
        let b = Budget::per(2, Duration::from_secs(10));
        assert!(b.take().is_ok());
        assert!(b.take().is_ok());
        assert!(b.take().is_err());
    }
}
