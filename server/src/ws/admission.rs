//! Who may open one more WebSocket (or live lobby feed, which holds a
//! place the same way): at most `MAX_CONNECTIONS` on this
//! process (503 `busy` beyond it, at the upgrade, before any work is done
//! for the socket) and `CONNECTIONS_PER_USER` per person (429
//! `too_many_connections`). A [`Ticket`] holds the place until the socket
//! ends; `/metrics` shows the open count and the refusals.
//!
//! Counts are per process: behind several processes each has its own cap.
//! Must never import storage or the layer.

use crate::{error::ApiError, metrics::counters::Metrics};
use axum::http::StatusCode;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::Ordering::{Relaxed, SeqCst},
    },
};

pub struct Admission {
    max_total: usize,
    per_user: usize,
    users: Mutex<HashMap<String, usize>>,
    metrics: Arc<Metrics>,
}

/// One admitted socket; dropping it frees the place.
pub struct Ticket {
    admission: Arc<Admission>,
    user: Option<String>,
}

impl Admission {
    pub fn new(max_total: usize, per_user: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            max_total,
            per_user,
            users: Mutex::default(),
            metrics,
        }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for a socket of `user` (`None`: anonymous).
    pub fn admit(self: &Arc<Self>, user: Option<&str>) -> Result<Ticket, ApiError> {
        let open = self.metrics.connections.fetch_add(1, SeqCst);
        if open >= self.max_total as i64 {
            self.metrics.connections.fetch_sub(1, SeqCst);
            self.metrics.connections_refused.fetch_add(1, Relaxed);
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "The server has as many connections as it can take; try again later.",
            ));
        }
        self.metrics.connections_high.fetch_max(open + 1, Relaxed);
        // From here on, the ticket gives the place back whatever happens.
        let mut ticket = Ticket {
            admission: self.clone(),
            user: None,
        };
        if let Some(user) = user {
            let mut users = self.users();
            let count = users.entry(user.to_owned()).or_insert(0);
            if *count >= self.per_user {
                self.metrics.connections_refused.fetch_add(1, Relaxed);
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_connections",
                    format!(
                        "You have {} connections open already; close a tab first.",
                        self.per_user
                    ),
                ));
            }
            *count += 1;
            ticket.user = Some(user.to_owned());
        }
        Ok(ticket)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let admission = &self.admission;
        admission.metrics.connections.fetch_sub(1, SeqCst);
        if let Some(user) = &self.user {
            let mut users = admission.users();
            if let Some(count) = users.get_mut(user) {
                *count -= 1;
                if *count == 0 {
                    users.remove(user);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_total_and_per_person_and_gives_places_back() {
        let a = Arc::new(Admission::new(3, 2, Arc::default()));
        let one = a.admit(Some("alice")).unwrap();
        let _two = a.admit(Some("alice")).unwrap();
        let refused = a.admit(Some("alice")).err().unwrap();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        let _three = a.admit(None).unwrap();
        assert_eq!(a.admit(None).err().unwrap().status, 503);
        drop(one);
        assert!(a.admit(Some("alice")).is_ok());
        assert_eq!(a.metrics.connections_refused.load(Relaxed), 2);
    }
}
