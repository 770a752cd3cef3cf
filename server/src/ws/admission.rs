//! Who may open one more WebSocket (or live lobby feed, which holds a
//! place the same way): at most `MAX_CONNECTIONS` on this process (503
//! `busy`), `CONNECTIONS_PER_ADDRESS` per client address (an IPv6 /64;
//! 429 `too_many_connections`), both taken at the very start of the
//! upgrade, before the session is read or the database asked anything;
//! then `CONNECTIONS_PER_USER` per person once we know who it is (429
//! `too_many_connections`). A [`Ticket`] holds the places until the
//! socket ends; `/metrics` shows the open count and the refusals.
//!
//! Counts are per process: behind several processes each has its own cap.
//! Must never import storage or the layer.

use crate::{edge::proxy::ClientKey, error::ApiError, metrics::counters::Metrics};
use axum::http::StatusCode;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::Ordering::{Relaxed, SeqCst},
    },
};

/// The caps (`MAX_CONNECTIONS`, `CONNECTIONS_PER_ADDRESS`, `CONNECTIONS_PER_USER`).
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    pub total: usize,
    pub per_address: usize,
    pub per_user: usize,
}

pub struct Admission {
    caps: Caps,
    addresses: Counts<ClientKey>,
    users: Counts<String>,
    metrics: Arc<Metrics>,
}

/// Open places per key; a key is forgotten when its count is back to 0,
/// so the map holds only keys with something open.
struct Counts<K>(Mutex<HashMap<K, usize>>);

impl<K: std::hash::Hash + Eq + Clone> Counts<K> {
    /// One more for `key`, unless it has `cap` already.
    fn take(&self, key: &K, cap: usize) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = map.entry(key.clone()).or_insert(0);
        let room = *count < cap;
        if room {
            *count += 1;
        } else if *count == 0 {
            map.remove(key);
        }
        room
    }

    fn give_back(&self, key: &K) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = map.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                map.remove(key);
            }
        }
    }
}

/// One admitted socket; dropping it frees its places.
pub struct Ticket {
    admission: Arc<Admission>,
    address: Option<ClientKey>,
    user: Option<String>,
}

impl Admission {
    pub fn new(caps: Caps, metrics: Arc<Metrics>) -> Self {
        Self {
            caps,
            addresses: Counts(Mutex::default()),
            users: Counts(Mutex::default()),
            metrics,
        }
    }

    /// Refused: counted, and said as `status`/`code`.
    fn refuse(&self, status: StatusCode, code: &'static str, message: String) -> ApiError {
        self.metrics.connections_refused.fetch_add(1, Relaxed);
        ApiError::new(status, code, message)
    }

    /// Takes a place on this process and for `client`: the first thing an
    /// upgrade or a feed does, before any work is done for it.
    pub fn admit(self: &Arc<Self>, client: ClientKey) -> Result<Ticket, ApiError> {
        let open = self.metrics.connections.fetch_add(1, SeqCst);
        if open >= self.caps.total as i64 {
            self.metrics.connections.fetch_sub(1, SeqCst);
            return Err(self.refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "The server has as many connections as it can take; try again later.".into(),
            ));
        }
        self.metrics.connections_high.fetch_max(open + 1, Relaxed);
        // From here on, the ticket gives the places back whatever happens.
        let mut ticket = Ticket {
            admission: self.clone(),
            address: None,
            user: None,
        };
        if !self.addresses.take(&client, self.caps.per_address) {
            return Err(self.refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                format!(
                    "Your address has {} connections open already; close some first.",
                    self.caps.per_address
                ),
            ));
        }
        ticket.address = Some(client);
        Ok(ticket)
    }
}

impl Ticket {
    /// Takes the place of `user` (signed in) as well, once we know who it is.
    pub fn claim(&mut self, user: &str) -> Result<(), ApiError> {
        let admission = &self.admission;
        if !admission
            .users
            .take(&user.to_owned(), admission.caps.per_user)
        {
            return Err(admission.refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                format!(
                    "You have {} connections open already; close a tab first.",
                    admission.caps.per_user
                ),
            ));
        }
        self.user = Some(user.to_owned());
        Ok(())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let admission = &self.admission;
        admission.metrics.connections.fetch_sub(1, SeqCst);
        if let Some(address) = &self.address {
            admission.addresses.give_back(address);
        }
        if let Some(user) = &self.user {
            admission.users.give_back(user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap())
    }

    fn admission(total: usize, per_address: usize, per_user: usize) -> Arc<Admission> {
        let caps = Caps {
            total,
            per_address,
            per_user,
        };
        Arc::new(Admission::new(caps, Arc::default()))
    }

    #[test]
    fn caps_total_and_per_person_and_gives_places_back() {
        let a = admission(3, 10, 2);
        let here = client("192.0.2.1");
        let mut one = a.admit(here).unwrap();
        one.claim("alice").unwrap();
        let mut two = a.admit(here).unwrap();
        two.claim("alice").unwrap();
        let mut third_tab = a.admit(here).unwrap();
        let refused = third_tab.claim("alice").err().unwrap();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        drop(third_tab);
        let _three = a.admit(here).unwrap();
        assert_eq!(a.admit(here).err().unwrap().status, 503);
        drop(one);
        assert!(a.admit(here).unwrap().claim("alice").is_ok());
        assert_eq!(a.metrics.connections_refused.load(Relaxed), 2);
    }

    #[test]
    fn one_address_cannot_take_every_place_and_a_64_is_one_address() {
        let a = admission(100, 2, 100);
        let held = [
            a.admit(client("2001:db8::1")).unwrap(),
            a.admit(client("2001:db8::2")).unwrap(),
        ];
        let refused = a.admit(client("2001:db8::3")).err().unwrap();
        assert_eq!(refused.code, "too_many_connections");
        assert!(a.admit(client("2001:db8:0:1::1")).is_ok());
        drop(held);
        assert!(a.admit(client("2001:db8::3")).is_ok());
        assert!(a.addresses.0.lock().unwrap().is_empty());
    }
}
