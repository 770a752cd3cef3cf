//! The message writer: the one task that stores chat messages. It takes
//! whatever posts have queued up, stores them all in one transaction (group
//! commit: one disk sync for the whole batch, so storage does not cap
//! throughput), and only then broadcasts each to its room, in seq order.
//! A batch waits for nothing but the previous commit, so a lone message is
//! stored and sent at once.
//!
//! Posting does not wait for the commit: a consumer must keep forwarding
//! the room to its socket meanwhile. While the database is unreachable
//! (PostgreSQL restarting, a network blip) the writer tries the batch again
//! with backoff for up to `DATABASE_RETRY_SECS`, newer posts queueing
//! behind it; only then does it tell each poster's channel with an
//! `unavailable` error. A commit whose answer was lost with the connection
//! is looked up by its messages' ids before trying again, so a batch is
//! never stored twice.
//!
//! The SQL of a batch is storage's ([`Storage::insert_batch`]); this task
//! only decides when to commit and whom to tell.

use super::{groups, lobby::LobbyFeed};
use crate::{
    layer::{ChannelLayer, ChannelName, Payload},
    metrics::counters::Metrics,
    storage::{Checkpoints, NewMessage, SentAs, Storage, StorageError},
};
use app::protocol::{ChatMessage, ErrorCode, ServerEvent};
use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};
use tokio::sync::mpsc;

/// Most posts stored in one transaction.
const MAX_BATCH: usize = 1024;
/// Posts waiting for the writer; senders wait when it is full.
const QUEUE: usize = 8192;
/// The first pause before trying a batch again, doubled each time up to
/// [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MOST_BACKOFF: Duration = Duration::from_secs(2);

/// A message to store and broadcast.
pub struct Post {
    pub message: NewMessage,
    /// The poster's channel, told if the message cannot be stored.
    pub reply_to: ChannelName,
    /// The poster is an admin (as their socket last checked): only then
    /// may it land in an admin-only room.
    pub by_admin: bool,
    /// The poster's connection does not hear the room it posts to (a
    /// `/pm` typed in another room): with a client id, it is told `ack`
    /// once the post is stored. In its own room the `chat_message`,
    /// which carries the id, is the ack.
    pub ack_apart: bool,
}

#[derive(Clone)]
pub struct MessageWriter {
    queue: mpsc::Sender<Post>,
}

impl MessageWriter {
    /// Starts the writer task. It ends when every `MessageWriter` is dropped,
    /// after storing what was queued.
    /// `retry_for`: how long a batch is tried while the database is away.
    /// `mentions`: the most people one message's `@names` are noted for
    /// (`MENTIONS_PER_MESSAGE`).
    /// `shared`: the readers' pool, which copies the SQLite log into the
    /// database file off the writer's connection ([`Checkpoints`]).
    pub fn start(
        storage: Storage,
        shared: Storage,
        layer: Arc<dyn ChannelLayer>,
        lobby: Arc<LobbyFeed>,
        metrics: Arc<Metrics>,
        retry_for: Duration,
        mentions: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let writer = Writer {
            storage,
            lobby,
            metrics,
            retry_for,
            mentions,
            checkpoints: Checkpoints::new(shared),
        };
        let task = if writer.storage.blocks_on_insert() {
            // SQLite: the writer's commits block, so the whole loop runs on
            // a thread of its own and calls SQLite directly. A post wakes
            // this one thread, which commits and hands the messages to the
            // layer: no hop to sqlx's thread and back per statement
            // (bench/NOTES.md: those hops were the p99 and most of
            // storage's CPU). A plain thread, not the runtime's blocking
            // pool: a runtime being dropped waits for its pool, and this
            // loop ends only when the last `MessageWriter` does.
            let runtime = tokio::runtime::Handle::current();
            let (finished, done) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("message-writer".into())
                .spawn(move || {
                    runtime.block_on(run(writer, layer, rx));
                    let _ = finished.send(());
                })
                // Only fails when the process is out of threads or memory
                // at start-up, where there is nothing better to do.
                .expect("a thread for the message writer");
            tokio::spawn(async move {
                let _ = done.await;
            })
        } else {
            tokio::spawn(run(writer, layer, rx))
        };
        (Self { queue }, task)
    }

    /// Queues the post to be stored and broadcast. Waits only while the
    /// writer's queue is full.
    pub async fn post(&self, post: Post) -> Result<(), StorageError> {
        self.queue
            .send(post)
            .await
            .map_err(|_| StorageError::WriterGone)
    }
}

/// What stores a batch: the writer's own connection and how long to keep trying.
struct Writer {
    storage: Storage,
    /// Told which rooms had messages stored (their lobby line changed).
    lobby: Arc<LobbyFeed>,
    metrics: Arc<Metrics>,
    retry_for: Duration,
    /// The most people one message's mentions are noted for.
    mentions: usize,
    checkpoints: Checkpoints,
}

async fn run(mut writer: Writer, layer: Arc<dyn ChannelLayer>, mut rx: mpsc::Receiver<Post>) {
    let mut posts = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut posts, MAX_BATCH).await > 0 {
        writer.refuse_hidden(layer.as_ref(), &mut posts).await;
        let mut echoes = fold_echoes(&mut posts);
        if posts.is_empty() {
            continue;
        }
        let (mut messages, mut posters): (Vec<NewMessage>, Vec<Poster>) = posts
            .drain(..)
            .map(|post| (post.message, Poster::of(post.reply_to, post.ack_apart)))
            .unzip();
        let mut result = writer.store(&messages).await;
        if matches!(result, Err(StorageError::DuplicateClientId)) {
            // A resend of a post stored already (after a dropped
            // connection, on this process or another): the unique index
            // refused the batch, so only now are its ids looked up; what
            // is stored is acked, and the rest stored. A batch without a
            // repeat (nearly all) never pays for the lookup.
            let mut again: Vec<Post> = messages
                .into_iter()
                .zip(posters)
                .map(|(message, poster)| Post {
                    message,
                    reply_to: poster.channel,
                    by_admin: true,
                    ack_apart: poster.ack_apart,
                })
                .collect();
            writer
                .answer_repeats(layer.as_ref(), &mut again, &mut echoes)
                .await;
            (messages, posters) = again
                .into_iter()
                .map(|p| (p.message, Poster::of(p.reply_to, p.ack_apart)))
                .unzip();
            result = match messages.is_empty() {
                true => Ok(Vec::new()),
                false => writer.store(&messages).await,
            };
        }
        match result {
            Ok(stored) => {
                for message in &stored {
                    writer.lobby.touch(&message.room);
                }
                acknowledge(layer.as_ref(), &messages, &posters, &stored, echoes).await;
                let pairs: Vec<_> = messages.iter().zip(&stored).collect();
                super::direct::after_stored(&layer, &writer.storage, &pairs).await;
                super::mentions::after_stored(&layer, &writer.storage, &stored, writer.mentions);
                broadcast(layer.as_ref(), stored).await;
                writer.checkpoints.after_commit(&writer.storage);
            }
            Err(e) => {
                tracing::error!("storing {} messages failed: {e}", posters.len());
                writer.metrics.storage_failures.fetch_add(1, Relaxed);
                refuse(layer.as_ref(), &messages, posters).await;
            }
        }
    }
}

impl Writer {
    /// Takes out of the batch every post whose client id is stored already
    /// (a resend after a dropped connection) and acks it with the stored
    /// seq, and so every echo of such an id: stored once, broadcast once,
    /// acked each time. One read for the whole batch, made only once the
    /// unique index has refused it (see [`run`]).
    async fn answer_repeats(
        &self,
        layer: &dyn ChannelLayer,
        posts: &mut Vec<Post>,
        echoes: &mut Vec<Echo>,
    ) {
        let sent: Vec<SentAs> = posts
            .iter()
            .filter_map(|p| SentAs::of(&p.message))
            .collect();
        if sent.is_empty() {
            return;
        }
        let known = match self.storage.known_client_ids(&sent).await {
            Ok(known) => known,
            // The batch then fails again, and its posters hear so.
            Err(e) => {
                tracing::warn!("looking up client ids: {e}");
                return;
            }
        };
        let mut acks = Vec::new();
        posts.retain(|post| {
            let seq = SentAs::of(&post.message).and_then(|s| known.get(&s).copied());
            if let (Some(seq), Some(id)) = (seq, &post.message.client_id) {
                acks.push((post.reply_to.clone(), ack(id.clone(), seq)));
            }
            seq.is_none()
        });
        echoes.retain(|(sent, to)| match known.get(sent) {
            Some(seq) => {
                acks.push((to.clone(), ack(sent.client_id.clone(), *seq)));
                false
            }
            None => true,
        });
        for (to, payload) in acks {
            let _ = layer.send(&to, payload).await;
        }
    }

    /// Takes out of the batch every non-admin's post to an admin-only room,
    /// as storage has the rooms now, and tells each such poster: whatever
    /// a socket believed when it opened, storage decides at the moment of
    /// use. One read per batch (none when admins posted everything), tried
    /// again while the database is away as a batch is; if storage still
    /// cannot say, those posts are refused as unsaved (fail closed).
    async fn refuse_hidden(&self, layer: &dyn ChannelLayer, posts: &mut Vec<Post>) {
        let mut rooms: Vec<&app::names::RoomName> = posts
            .iter()
            .filter(|p| !p.by_admin)
            .map(|p| &p.message.room)
            .collect();
        if rooms.is_empty() {
            return;
        }
        rooms.sort_unstable();
        rooms.dedup();
        let (started, mut backoff) = (Instant::now(), FIRST_BACKOFF);
        let hidden = loop {
            match self.storage.hidden_among(&rooms).await {
                Ok(hidden) if hidden.is_empty() => return,
                Ok(hidden) => break Ok(hidden),
                Err(e) if e.is_transient() && started.elapsed() + backoff < self.retry_for => {
                    self.waiting_for_database(&e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MOST_BACKOFF);
                }
                Err(e) => break Err(e),
            }
        };
        let refusal = match &hidden {
            Ok(_) => ServerEvent::error(
                ErrorCode::Forbidden,
                "This room is for admins only; your message was not posted.",
            ),
            Err(e) => {
                tracing::error!("checking rooms before storing: {e}");
                ServerEvent::error(
                    ErrorCode::Unavailable,
                    "Your message could not be saved; try again.",
                )
            }
        };
        let refused: Vec<Post>;
        (refused, *posts) = std::mem::take(posts).into_iter().partition(|p| {
            !p.by_admin
                && hidden
                    .as_ref()
                    .map_or(true, |h| h.contains(&p.message.room))
        });
        for post in refused {
            let refusal = refusal.clone().about(post.message.client_id);
            let _ = layer
                .send(&post.reply_to, Payload::event(refusal.to_json()))
                .await;
        }
    }

    /// Stores the batch, trying again with backoff while the database is
    /// unreachable, for up to `retry_for`.
    async fn store(&self, batch: &[NewMessage]) -> Result<Vec<ChatMessage>, StorageError> {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        // After a failed try the commit may have happened all the same.
        let mut maybe_stored = false;
        loop {
            let attempt = Instant::now();
            let result = match maybe_stored {
                true => match self.storage.stored_batch(batch).await {
                    Ok(Some(stored)) => Ok(stored),
                    Ok(None) => self.storage.insert_batch(batch).await,
                    Err(e) => Err(e),
                },
                false => self.storage.insert_batch(batch).await,
            };
            match result {
                Ok(stored) => {
                    self.stored(&stored, attempt.elapsed());
                    return Ok(stored);
                }
                Err(e) if e.is_transient() && started.elapsed() + backoff < self.retry_for => {
                    self.waiting_for_database(&e);
                    maybe_stored = true;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MOST_BACKOFF);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The database is away: `/healthz` and `/metrics` say so, and the
    /// posts wait.
    fn waiting_for_database(&self, e: &StorageError) {
        if !self.metrics.database_down.swap(true, Relaxed) {
            tracing::warn!("the database is unreachable ({e}); posts wait and retry");
        }
        self.metrics.storage_retries.fetch_add(1, Relaxed);
    }

    fn stored(&self, stored: &[ChatMessage], took: Duration) {
        let m = &self.metrics;
        m.storage_batches.fetch_add(1, Relaxed);
        m.messages_stored.fetch_add(stored.len() as u64, Relaxed);
        m.commit_seconds.observe(took.as_secs_f64());
        m.batch_messages.observe(stored.len() as f64);
        // Whoever waited the outage out (this batch, or the room check
        // before it), the first commit after it says it is over; the load
        // keeps the common case a read.
        if m.database_down.load(Relaxed) && m.database_down.swap(false, Relaxed) {
            tracing::info!("the database is back; stored the waiting posts");
        }
    }
}

/// Tells each room its newly stored messages, in seq order, with one
/// round trip to the layer for the whole batch.
async fn broadcast(layer: &dyn ChannelLayer, stored: Vec<ChatMessage>) {
    let count = stored.len();
    let sends = stored
        .into_iter()
        .map(|message| {
            let group = groups::room(&message.room);
            let seq = message.seq;
            // Encoded once; every member gets the same bytes.
            let json = ServerEvent::ChatMessage(message).to_json();
            (group, Payload::logged(seq, json))
        })
        .collect();
    if let Err(e) = layer.group_send_all(sends).await {
        // Stored, so nobody loses them: clients fetch them from history.
        tracing::warn!("broadcast of {count} messages failed: {e}");
    }
}

/// A second post of a client id in one batch, and who sent it.
type Echo = (SentAs, ChannelName);

/// Who posted a message of the batch, and whether they need an `ack`
/// of their own ([`Post::ack_apart`]).
struct Poster {
    channel: ChannelName,
    ack_apart: bool,
}

impl Poster {
    fn of(channel: ChannelName, ack_apart: bool) -> Self {
        Self { channel, ack_apart }
    }
}

/// Takes out of the batch each second post of one client id (a resend
/// that caught up with its first), to be acked with the first's seq: in
/// memory, no read.
fn fold_echoes(posts: &mut Vec<Post>) -> Vec<Echo> {
    let mut seen = std::collections::HashSet::new();
    let mut echoes = Vec::new();
    posts.retain_mut(|post| match SentAs::of(&post.message) {
        Some(sent) if !seen.insert(sent.clone()) => {
            echoes.push((sent, post.reply_to.clone()));
            false
        }
        _ => true,
    });
    echoes
}

/// `{"type":"ack","client_id":…,"seq":…}`.
fn ack(client_id: app::protocol::ClientId, seq: u64) -> Payload {
    Payload::event(ServerEvent::Ack { client_id, seq }.to_json())
}

/// Acks each echo of a stored post's client id with its seq. A post in
/// its poster's own room needs no ack of its own: its `chat_message`,
/// which reaches its poster with the room, carries the id (one frame a
/// post, not two; the bench's ceiling with ids depends on it). One posted
/// from elsewhere (a `/pm`) is acked.
async fn acknowledge(
    layer: &dyn ChannelLayer,
    messages: &[NewMessage],
    posters: &[Poster],
    stored: &[ChatMessage],
    echoes: Vec<Echo>,
) {
    let mut seqs = std::collections::HashMap::new();
    for ((new, poster), message) in messages.iter().zip(posters).zip(stored) {
        if let Some(sent) = SentAs::of(new) {
            if poster.ack_apart {
                let id = sent.client_id.clone();
                let _ = layer.send(&poster.channel, ack(id, message.seq)).await;
            }
            seqs.insert(sent, message.seq);
        }
    }
    for (sent, to) in echoes {
        if let Some(seq) = seqs.get(&sent) {
            let _ = layer.send(&to, ack(sent.client_id, *seq)).await;
        }
    }
}

/// Tells each poster of a batch that could not be stored (naming the
/// post, when it has a client id).
async fn refuse(layer: &dyn ChannelLayer, messages: &[NewMessage], posters: Vec<Poster>) {
    let refusal = ServerEvent::error(
        ErrorCode::Unavailable,
        "Your message could not be saved; try again.",
    );
    for (message, poster) in messages.iter().zip(&posters) {
        let event = refusal.clone().about(message.client_id.clone());
        let _ = layer
            .send(&poster.channel, Payload::event(event.to_json()))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::MemoryLayer;
    use crate::storage::Page;
    use app::names::{RoomName, Username};

    /// Posts to two rooms interleaved, queued faster than one commit, so
    /// they are stored in shared batches: each room still gets seqs 1..n in
    /// posting order, live and in storage.
    #[tokio::test]
    async fn batched_posts_to_several_rooms_get_each_rooms_next_seqs_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let shared = Storage::open(&url).await.unwrap();
        // The writer's own storage, as the server opens it: its batches on
        // the SQLite thread.
        let own = Storage::open_for_writer(&url).await.unwrap();
        batched_posts_get_each_rooms_next_seqs(own, shared).await;
    }

    #[tokio::test]
    async fn batched_posts_to_several_rooms_get_each_rooms_next_seqs_on_postgres() {
        let cluster = crate::testing::PostgresServer::start();
        let url = cluster.new_database("writer").await;
        let storage = Storage::open(&url).await.unwrap();
        batched_posts_get_each_rooms_next_seqs(storage.clone(), storage).await;
    }

    /// `own`: the writer's storage; `storage`: everyone else's.
    async fn batched_posts_get_each_rooms_next_seqs(own: Storage, storage: Storage) {
        let user = storage
            .create_user(&Username::parse("alice").unwrap(), "x")
            .await
            .unwrap();
        let layer = Arc::new(MemoryLayer::new(1024));
        let rooms = [
            RoomName::parse("one").unwrap(),
            RoomName::parse("two").unwrap(),
        ];
        let mut channels = Vec::new();
        for room in &rooms {
            let channel = layer.new_channel().await.unwrap();
            layer
                .group_add(&groups::room(room), channel.name())
                .await
                .unwrap();
            channels.push(channel);
        }
        let metrics = Arc::new(Metrics::default());
        let (writer, task) = MessageWriter::start(
            own,
            storage.clone(),
            layer.clone(),
            Arc::default(),
            metrics.clone(),
            Duration::from_secs(1),
            10,
        );
        const EACH: u64 = 300;
        for i in 0..EACH {
            for room in &rooms {
                let post = Post {
                    message: NewMessage::new(
                        room.clone(),
                        user.id,
                        "alice".into(),
                        format!("{room} {i}"),
                    ),
                    reply_to: channels[0].name().clone(),
                    by_admin: false,
                    ack_apart: false,
                };
                writer.post(post).await.unwrap();
            }
        }
        drop(writer);
        task.await.unwrap();
        let batches = metrics
            .storage_batches
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(batches < 2 * EACH, "posts were batched ({batches} commits)");

        for (room, channel) in rooms.iter().zip(&mut channels) {
            for i in 0..EACH {
                let payload = channel.receive().await.unwrap();
                assert_eq!(payload.seq(), Some(i + 1));
                let event: serde_json::Value = serde_json::from_str(payload.text()).unwrap();
                assert_eq!(event["message"], format!("{room} {i}"));
            }
            let stored = storage
                .messages(
                    room,
                    Page::After {
                        seq: 0,
                        limit: 1000,
                    },
                    crate::storage::Reader::Admin,
                )
                .await
                .unwrap();
            let seqs: Vec<u64> = stored.messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=EACH).collect::<Vec<_>>());
            assert_eq!(stored.messages[7].message, format!("{room} 7"));
        }
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;
    use crate::layer::MemoryLayer;
    use app::names::{RoomName, Username};

    /// Posts without a pause for `secs` seconds; returns how many.
    async fn post_for(writer: &MessageWriter, user: i64, reply_to: &ChannelName, secs: f64) -> u64 {
        let room = RoomName::parse("busy").unwrap();
        let started = Instant::now();
        let mut posted = 0;
        while started.elapsed().as_secs_f64() < secs {
            let message = NewMessage::new(room.clone(), user, "alice".into(), "x".repeat(200));
            let reply_to = reply_to.clone();
            writer
                .post(Post {
                    message,
                    reply_to,
                    by_admin: false,
                    ack_apart: false,
                })
                .await
                .unwrap();
            posted += 1;
            if posted % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        posted
    }

    /// A writer that never stops committing must not grow SQLite's log
    /// for good: a disk fills at tens of MB a second. After each
    /// checkpoint the log starts over, so a second busy stretch leaves the
    /// file about as large as the first did, not twice as large.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_never_stops_does_not_grow_the_log_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let url = format!("sqlite://{}", path.display());
        let shared = Storage::open(&url).await.unwrap();
        let user = shared
            .create_user(&Username::parse("alice").unwrap(), "x")
            .await
            .unwrap();
        let layer = Arc::new(MemoryLayer::new(1024));
        let me = layer.new_channel().await.unwrap();
        let own = Storage::open_for_writer(&url).await.unwrap();
        let (writer, task) = MessageWriter::start(
            own,
            shared,
            layer.clone(),
            Arc::default(),
            Arc::default(),
            Duration::from_secs(1),
            10,
        );
        let wal = path.with_extension("db-wal");
        let log_bytes = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        let first = post_for(&writer, user.id, me.name(), 2.5).await;
        let after_first = log_bytes();
        let second = post_for(&writer, user.id, me.name(), 2.5).await;
        let after_second = log_bytes();
        drop(writer);
        task.await.unwrap();
        assert!(first > 1000 && second > 1000, "posted {first} and {second}");
        assert!(
            after_second < after_first + after_first / 2,
            "the log grew from {after_first} to {after_second} bytes"
        );
    }
}
