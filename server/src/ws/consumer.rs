//! The life of one connection: get a channel, join the room, greet, then
//! [`Consumer::pump`]: a loop that waits for whichever comes first (server
//! shutdown, a hole in the log to fill, a delivery from the layer, a frame
//! from the client), turns it into a [`Step`], and carries the step out.
//! Each arm has its own short method; the loop only dispatches.
//! Must never import storage's SQL or a layer implementation.

use super::{
    Consumer,
    admission::Ticket,
    close_code::{ENDED, IDLE, INTERNAL, LAGGING, RESTART},
    order::Release,
    socket::{Socket, refusal_of, refuse},
    wake::{Waiter, Wake},
};
use crate::{
    chat::{access::Refused, control::Control},
    layer::{Channel, ChannelClosed, ChannelName, LayerError, Payload},
};
use app::protocol::{EndCode, ErrorCode, ServerEvent};
use axum::extract::ws::{Message, WebSocket};

/// How a `session_ended` event begins, so a consumer spots one among the
/// payloads it forwards without parsing each.
const SESSION_ENDED_PREFIX: &str = r#"{"type":"session_ended""#;

/// What the pump does after one wake-up.
enum Step {
    /// Nothing to send.
    Skip,
    /// The client is gone.
    Stop,
    /// The client said goodbye (a Close frame): answer it, then stop.
    Goodbye,
    /// Close the socket with this code.
    Close(u16, &'static str),
    /// Ping the client (it has been quiet).
    Ping,
    /// Send these (and whatever else is queued already).
    Send(Release),
}

/// How a batch write ended.
enum Flushed {
    Written,
    Gone,
    Lagged,
}

/// Runs one connection from its upgrade to its end. `_ticket` holds its
/// place among the open connections until then.
pub(super) async fn run(
    socket: Box<WebSocket>,
    mut consumer: Box<Consumer>,
    resume_after: Option<u64>,
    _ticket: Ticket,
) {
    let mut channel = match consumer.chat.layer.new_channel().await {
        Ok(channel) => channel,
        Err(e) => {
            tracing::error!("cannot open a channel: {e}");
            return Box::pin(refuse(socket, INTERNAL, "try again")).await;
        }
    };
    let me = channel.name().clone();
    // Rare, large futures are boxed so they do not swell every idle
    // connection's task to their size (10,000 sockets must stay cheap).
    match Box::pin(consumer.enter(&me)).await {
        Ok(()) => consumer.pump(socket, &mut channel, resume_after).await,
        Err(e) => {
            tracing::error!("cannot join {}: {e}", consumer.group);
            Box::pin(refuse(socket, INTERNAL, "try again")).await;
        }
    }
    Box::pin(consumer.exit(&me)).await;
    consumer.chat.layer.close_channel(&me).await;
}

impl Consumer {
    /// Joins the room (its group, the person's inbox, presence; the room
    /// hears `user_join` with a person's first connection).
    async fn enter(&self, me: &ChannelName) -> Result<(), LayerError> {
        let user = self.user.as_ref().map(|u| u.username.as_str());
        self.chat.enter(&self.room, user, me, self.stored).await
    }

    /// Leaves the room; it hears `user_leave` with a person's last connection.
    async fn exit(&self, me: &ChannelName) {
        let user = self.user.as_ref().map(|u| u.username.as_str());
        self.chat.exit(&self.room, user, me, self.stored).await;
    }

    /// Sends an event to everyone in the room.
    pub(super) async fn broadcast(&self, event: ServerEvent) {
        self.chat.tell(&self.group, event).await;
    }

    /// Greets, then moves frames both ways until either side ends.
    async fn pump(
        &mut self,
        socket: Box<WebSocket>,
        channel: &mut Channel,
        resume_after: Option<u64>,
    ) {
        let me = channel.name().clone();
        let mut socket = Socket::new(socket, self.chat.limits.write_timeout);
        if Box::pin(self.greet(&mut socket, resume_after))
            .await
            .is_err()
        {
            return;
        }
        let mut shutdown = self.chat.shutdown.clone();
        // Made once, not once per wake-up: each new one would register
        // with the shutdown signal again (measured: 4 % of the server's
        // CPU when 100 sockets each take 200 frames a second).
        let stop = stopping(&mut shutdown);
        tokio::pin!(stop);
        let heartbeat = tokio::time::sleep(self.chat.limits.ping_interval);
        tokio::pin!(heartbeat);
        let lagged = channel.lag_signal();
        tokio::pin!(lagged);
        let waiter = Waiter::new();
        loop {
            let fill_at = self.order.fill_deadline();
            let wake = waiter
                .next(
                    stop.as_mut(),
                    heartbeat.as_mut(),
                    fill_at,
                    channel,
                    &mut socket,
                )
                .await;
            let step = match wake {
                Wake::Stop => Step::Close(RESTART, "server restart"),
                Wake::Heartbeat => self.on_heartbeat(heartbeat.as_mut()),
                Wake::Fill => Step::Send(Box::pin(self.fill_hole()).await),
                Wake::Delivered(delivered) => self.on_delivery(delivered),
                Wake::Frame(frame) => Box::pin(self.on_frame(frame, &me)).await,
            };
            match step {
                Step::Skip => continue,
                Step::Stop => return,
                Step::Goodbye => return Box::pin(socket.answer_close()).await,
                Step::Ping => {
                    if Box::pin(socket.ping()).await.is_err() {
                        return;
                    }
                }
                Step::Close(code, why) => return Box::pin(socket.close(code, why)).await,
                Step::Send(first) => match self
                    .flush(&mut socket, channel, lagged.as_mut(), first)
                    .await
                {
                    Flushed::Written => {}
                    Flushed::Gone => return,
                    Flushed::Lagged => return Box::pin(socket.close(LAGGING, "lagging")).await,
                },
            }
            if !self.controls.is_empty() {
                match Box::pin(self.on_controls()).await {
                    Rights::Unchanged => {}
                    Rights::Ended(reason) => return Box::pin(end(&mut socket, reason)).await,
                    Rights::Unknown => return Box::pin(socket.close(INTERNAL, "try again")).await,
                }
            }
            if let Some((code, why)) = self.close_after {
                return Box::pin(socket.close(code, why)).await;
            }
        }
    }

    /// Acts on the signals that arrived: a logout of our session ends us;
    /// a recheck reads our account and room again.
    async fn on_controls(&mut self) -> Rights {
        let mut recheck = false;
        for control in std::mem::take(&mut self.controls) {
            match control {
                Control::LoggedOut { session } if self.session_tag.as_ref() == Some(&session) => {
                    return Rights::Ended(EndCode::LoggedOut);
                }
                Control::LoggedOut { .. } => {}
                Control::Recheck => recheck = true,
            }
        }
        if recheck {
            self.recheck().await
        } else {
            Rights::Unchanged
        }
    }

    /// Reads this person's rights and the room's admin-only mark as
    /// storage has them now. If storage cannot say, the socket is closed
    /// (fail closed); the client reconnects and is checked at the door.
    async fn recheck(&mut self) -> Rights {
        let storage = &self.chat.storage;
        if let Some(user) = &mut self.user {
            match storage.active_user(&user.username).await {
                Ok(Some(record)) => user.is_admin = record.is_admin,
                Ok(None) => return Rights::Ended(EndCode::AccountDisabled),
                Err(e) => {
                    tracing::error!("rechecking {}: {e}", user.username);
                    return Rights::Unknown;
                }
            }
        }
        let admin = self.user.as_ref().is_some_and(|u| u.is_admin);
        match self.chat.access(&self.room, admin).await {
            Ok(Err(Refused::AdminsOnly(_))) => Rights::Ended(EndCode::AdminsOnly),
            // Open, or a lookalike stored since: this socket may stay.
            Ok(_) => Rights::Unchanged,
            Err(e) => {
                tracing::error!("rechecking room {}: {e}", self.room);
                Rights::Unknown
            }
        }
    }

    /// What the layer delivered, or why it stopped.
    fn on_delivery(&mut self, delivered: Result<Payload, ChannelClosed>) -> Step {
        match delivered {
            Ok(payload) => Step::Send(self.release(payload)),
            Err(ChannelClosed::Lagging) => Step::Close(LAGGING, "lagging"),
            Err(ChannelClosed::Closed) => Step::Close(INTERNAL, "channel closed"),
        }
    }

    /// The heartbeat fired: a client silent for `IDLE_TIMEOUT_SECS` is
    /// gone (closed, so its presence ends); one quiet for a ping interval
    /// is pinged (browsers answer by themselves). Sets the next wake-up.
    fn on_heartbeat(&self, heartbeat: std::pin::Pin<&mut tokio::time::Sleep>) -> Step {
        let limits = &self.chat.limits;
        let now = tokio::time::Instant::now();
        let silent_until = self.last_heard + limits.idle_timeout;
        if now >= silent_until {
            return Step::Close(IDLE, "no answer to pings");
        }
        heartbeat.reset((now + limits.ping_interval).min(silent_until));
        if now.duration_since(self.last_heard) >= limits.ping_interval {
            Step::Ping
        } else {
            Step::Skip
        }
    }

    /// What the client sent: a text frame is handled, the rest is control.
    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
        me: &ChannelName,
    ) -> Step {
        self.last_heard = tokio::time::Instant::now();
        match frame {
            Some(Ok(Message::Text(text))) => match self.on_text(&text, me).await {
                Some(reply) => Step::Send(Release::One(Some(reply.to_json().into()))),
                None => Step::Skip,
            },
            Some(Ok(Message::Binary(_))) => {
                let refusal = ServerEvent::error(
                    ErrorCode::BinaryNotSupported,
                    "Binary frames are not supported: send JSON text frames.",
                );
                match self.noise(Some(refusal)) {
                    Some(reply) => Step::Send(Release::One(Some(reply.to_json().into()))),
                    None => Step::Skip,
                }
            }
            // tungstenite answers pings by itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Step::Skip,
            Some(Ok(Message::Close(_))) => Step::Goodbye,
            None => Step::Stop,
            Some(Err(e)) => match refusal_of(&e) {
                Some((code, why)) => Step::Close(code, why),
                None => Step::Stop,
            },
        }
    }

    /// Writes `first` and whatever else is already queued in one write (one
    /// syscall for many frames when a room is busy). A socket nobody reads
    /// blocks the write; the layer may drop us meanwhile, and then we stop
    /// waiting.
    async fn flush(
        &mut self,
        socket: &mut Socket,
        channel: &mut Channel,
        lagged: std::pin::Pin<&mut impl Future<Output = ()>>,
        first: Release,
    ) -> Flushed {
        socket.queue(first);
        while socket.has_room() {
            let Some(payload) = channel.try_receive() else {
                break;
            };
            socket.queue(self.release(payload));
        }
        if socket.is_empty() {
            return Flushed::Written;
        }
        tokio::select! {
            // The write first: it usually finishes at once, and then the
            // lag signal (a lock) is not looked at.
            biased;
            sent = socket.write_batch() => match sent {
                Ok(()) => Flushed::Written,
                Err(_) => Flushed::Gone,
            },
            () = lagged => Flushed::Lagged,
        }
    }

    /// What a delivered payload lets us send: a log message goes through
    /// the ordering (held, dropped as a duplicate, or released with what it
    /// unblocks); anything else goes out as it is.
    fn release(&mut self, payload: Payload) -> Release {
        match payload.seq() {
            Some(seq) => self.order.accept(seq, payload.into_text()),
            None => {
                let text = payload.into_text();
                if let Some(control) = Control::parse(text.as_str()) {
                    self.controls.push(control);
                    return Release::One(None);
                }
                if text.as_str().starts_with(SESSION_ENDED_PREFIX) {
                    self.close_after = Some((ENDED, "ended by the server"));
                }
                Release::One(Some(text))
            }
        }
    }
}

/// What a recheck found.
enum Rights {
    Unchanged,
    /// This connection may no longer stay; the client is told why.
    Ended(EndCode),
    /// Storage could not say.
    Unknown,
}

/// Tells this client why its connection ends, then closes it for good.
async fn end(socket: &mut Socket, why: EndCode) {
    let event = ServerEvent::session_ended(why);
    if socket.send_event(&event).await.is_ok() {
        socket.close(ENDED, "ended by the server").await;
    }
}

/// Resolves when the server starts shutting down.
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}
