//! Flood control: a token bucket per person and kind of action. A person
//! may post `rate` messages a second on average with bursts of `burst`
//! (defaults 5 and 10, `FLOOD_RATE` / `FLOOD_BURST`); reactions have their
//! own, looser bucket. Beyond it the action is refused with `rate_limited`
//! and how long to wait; the connection stays up.
//!
//! Buckets are per server process: behind several processes a person
//! connected to two of them gets each process's allowance.
//!
//! Used by the consumer only; must never import storage or the layer.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// What is being limited; each has its own bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Chat messages, private messages, edits and deletes.
    Message = 0,
    Reaction = 1,
}

/// Average rate (per second) and burst of one kind of action.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

impl Limit {
    pub const MESSAGES: Limit = Limit {
        rate: 5.0,
        burst: 10.0,
    };
    pub const REACTIONS: Limit = Limit {
        rate: 5.0,
        burst: 20.0,
    };
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(limit: Limit, now: Instant) -> Self {
        Self {
            tokens: limit.burst,
            at: now,
        }
    }

    /// Refills for the time since the last call.
    fn refill(&mut self, limit: Limit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.rate).min(limit.burst);
        self.at = now;
    }
}

/// One person's buckets, indexed by [`Action`].
type Buckets = [Bucket; 2];

pub struct FloodControl {
    /// Indexed by [`Action`].
    limits: [Limit; 2],
    buckets: Mutex<HashMap<String, Buckets>>,
}

/// People tracked before those with full buckets are forgotten.
const PRUNE_ABOVE: usize = 10_000;

impl FloodControl {
    pub fn new(messages: Limit) -> Self {
        Self {
            limits: [messages, Limit::REACTIONS],
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`, or says how long until one is available.
    pub fn check(&self, action: Action, user: &str) -> Result<(), Duration> {
        self.check_at(action, user, Instant::now())
    }

    fn check_at(&self, action: Action, user: &str, now: Instant) -> Result<(), Duration> {
        let limits = self.limits;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, person| {
                person.iter_mut().zip(limits).any(|(b, limit)| {
                    b.refill(limit, now);
                    b.tokens < limit.burst
                })
            });
        }
        // Looked up by reference: a known person costs no allocation.
        if !buckets.contains_key(user) {
            buckets.insert(user.to_owned(), limits.map(|l| Bucket::full(l, now)));
        }
        let person = buckets.get_mut(user).expect("just inserted");
        let (bucket, limit) = (&mut person[action as usize], limits[action as usize]);
        bucket.refill(limit, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / limit.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies_per_person() {
        let flood = FloodControl::new(Limit::MESSAGES);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(flood.check_at(Action::Message, "alice", t0).is_ok());
        }
        let wait = flood.check_at(Action::Message, "alice", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200));
        // Bob and alice's reactions have buckets of their own.
        assert!(flood.check_at(Action::Message, "bob", t0).is_ok());
        assert!(flood.check_at(Action::Reaction, "alice", t0).is_ok());
        // 5 per second: after 200 ms one more message is allowed, not two.
        let later = t0 + Duration::from_millis(200);
        assert!(flood.check_at(Action::Message, "alice", later).is_ok());
        assert!(flood.check_at(Action::Message, "alice", later).is_err());
    }
}
