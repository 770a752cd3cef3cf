//! What wakes a connection's loop, and how it waits for it without
//! looking at everything each time. Deliveries wake the task directly;
//! everything else (shutdown, the client's frames, the heartbeat, a hole's
//! deadline) wakes it through a [`Nudge`] that records that it did, so a
//! delivery costs one look at the queue. Looking at all of them after
//! every delivery, as `select!` does, was most of a delivery's own CPU in
//! a busy room (a lock for the shutdown signal, a registration with the
//! socket and its timer each time: bench/NOTES.md).
//! Must never import storage or a layer implementation.

use super::socket::Socket;
use crate::layer::{Channel, ChannelClosed, Payload};
use axum::extract::ws::Message;
use futures::task::AtomicWaker;
use std::{
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
};
use tokio::time::{Instant, Sleep};

/// What woke the loop.
pub(super) enum Wake {
    /// The server is stopping.
    Stop,
    /// Time to look at the client's silence.
    Heartbeat,
    /// A hole in the log waited long enough: fetch it from storage.
    Fill,
    Delivered(Result<Payload, ChannelClosed>),
    Frame(Option<Result<Message, axum::Error>>),
}

/// Wakes the connection's task for everything but its deliveries and
/// notes that it did.
struct Nudge {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl std::task::Wake for Nudge {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// One connection's waiting: made once, for the life of its loop.
pub(super) struct Waiter {
    nudge: Arc<Nudge>,
    others: Waker,
}

impl Waiter {
    pub(super) fn new() -> Self {
        let nudge = Arc::new(Nudge {
            // The first look is at everything.
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let others = Waker::from(nudge.clone());
        Self { nudge, others }
    }

    /// Waits for the next thing to do. `stop` and `heartbeat` live as long
    /// as the loop (made once, pinned); `fill_at` is when the current hole
    /// must be filled, if there is one.
    pub(super) async fn next(
        &self,
        mut stop: Pin<&mut impl Future<Output = ()>>,
        mut heartbeat: Pin<&mut Sleep>,
        fill_at: Option<Instant>,
        channel: &mut Channel,
        socket: &mut Socket,
    ) -> Wake {
        let mut delivered = pin!(channel.next());
        let mut frame = pin!(socket.recv());
        let mut fill = pin!(sleep_until_some(fill_at));
        std::future::poll_fn(|cx| {
            self.nudge.task.register(cx.waker());
            // A new hole's deadline has not been looked at yet.
            if self.nudge.woken.swap(false, Ordering::AcqRel) || fill_at.is_some() {
                let mut others = Context::from_waker(&self.others);
                let ready = if stop.as_mut().poll(&mut others).is_ready() {
                    Some(Wake::Stop)
                } else if let Poll::Ready(f) = frame.as_mut().poll(&mut others) {
                    Some(Wake::Frame(f))
                } else if heartbeat.as_mut().poll(&mut others).is_ready() {
                    Some(Wake::Heartbeat)
                } else if fill.as_mut().poll(&mut others).is_ready() {
                    Some(Wake::Fill)
                } else {
                    None
                };
                if let Some(wake) = ready {
                    // The ones after it were not looked at: next time.
                    self.nudge.woken.store(true, Ordering::Release);
                    return Poll::Ready(wake);
                }
            }
            delivered.as_mut().poll(cx).map(Wake::Delivered)
        })
        .await
    }
}

/// Waits until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
