//! One member's queue: tokio's unbounded channel, bounded by a count of
//! our own. A bounded channel's receiver gives each slot back through a
//! semaphore that takes a lock (`batch_semaphore`), once per delivery per
//! member; here a delivery costs one atomic add on each side.
//! Must never import the protocol, storage or a layer implementation.

use super::Payload;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use tokio::sync::mpsc::{
    self,
    error::{TryRecvError, TrySendError},
};

/// The sending end; cloned into every group the member is in.
#[derive(Clone)]
pub(crate) struct QueueTx {
    tx: mpsc::UnboundedSender<Payload>,
    /// Payloads sent and not yet received.
    len: Arc<AtomicUsize>,
    capacity: usize,
}

/// The receiving end, owned by the member's [`super::Channel`].
pub(crate) struct QueueRx {
    rx: mpsc::UnboundedReceiver<Payload>,
    len: Arc<AtomicUsize>,
}

/// A queue that refuses a payload once `capacity` are waiting.
pub(crate) fn queue(capacity: usize) -> (QueueTx, QueueRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let len = Arc::new(AtomicUsize::new(0));
    let sending = QueueTx {
        tx,
        len: len.clone(),
        capacity,
    };
    (sending, QueueRx { rx, len })
}

impl QueueTx {
    /// Queues the payload unless `capacity` are already waiting or the
    /// receiver is gone. Never waits.
    pub(crate) fn try_send(&self, payload: Payload) -> Result<(), TrySendError<Payload>> {
        if self.len.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.len.fetch_sub(1, Ordering::AcqRel);
            return Err(TrySendError::Full(payload));
        }
        self.tx.send(payload).map_err(|closed| {
            self.len.fetch_sub(1, Ordering::AcqRel);
            TrySendError::Closed(closed.0)
        })
    }
}

impl QueueRx {
    /// The next payload; `None` once every sender is gone.
    pub(crate) async fn recv(&mut self) -> Option<Payload> {
        let payload = self.rx.recv().await?;
        self.len.fetch_sub(1, Ordering::AcqRel);
        Some(payload)
    }

    /// The next payload if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Result<Payload, TryRecvError> {
        let payload = self.rx.try_recv()?;
        self.len.fetch_sub(1, Ordering::AcqRel);
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Full at `capacity` waiting, and a received payload frees its place.
    #[tokio::test]
    async fn refuses_past_capacity_and_frees_a_place_per_receive() {
        let (tx, mut rx) = queue(2);
        assert!(tx.try_send(Payload::event("1")).is_ok());
        assert!(tx.clone().try_send(Payload::event("2")).is_ok());
        assert!(matches!(
            tx.try_send(Payload::event("3")),
            Err(TrySendError::Full(_))
        ));
        assert_eq!(rx.recv().await.unwrap(), "1");
        assert!(tx.try_send(Payload::event("3")).is_ok());
        assert_eq!(rx.try_recv().unwrap(), "2");
        assert_eq!(rx.recv().await.unwrap(), "3");
        drop(rx);
        assert!(matches!(
            tx.try_send(Payload::event("4")),
            Err(TrySendError::Closed(_))
        ));
    }
}
