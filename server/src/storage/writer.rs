//! The message writer: the one task that stores chat messages. It takes
//! whatever posts have queued up, stores them all in one transaction (group
//! commit: one disk sync for the whole batch, so storage does not cap
//! throughput), and only then broadcasts each to its room, in seq order.
//! A batch waits for nothing but the previous commit, so a lone message is
//! stored and sent at once.
//!
//! Posting does not wait for the commit: a consumer must keep forwarding
//! the room to its socket meanwhile. If storing fails, the writer tells the
//! poster's channel with an `error` event.

use super::{Storage, StorageError, now_rfc3339};
use crate::layer::{ChannelLayer, ChannelName, GroupName, Payload};
use crate::metrics::Metrics;
use app::{
    names::RoomName,
    protocol::{ChatMessage, ErrorCode, ServerEvent},
};
use sqlx::Row;
use std::{collections::HashMap, sync::Arc};
use tokio::sync::mpsc;

/// Most posts stored in one transaction.
const MAX_BATCH: usize = 1024;
/// Posts waiting for the writer; senders wait when it is full.
const QUEUE: usize = 8192;

/// A message to store and broadcast.
pub struct Post {
    pub room: RoomName,
    pub user_id: i64,
    pub username: String,
    pub text: String,
    /// The poster's channel, told if the message cannot be stored.
    pub reply_to: ChannelName,
}

#[derive(Clone)]
pub struct MessageWriter {
    queue: mpsc::Sender<Post>,
}

impl MessageWriter {
    /// Starts the writer task. It ends when every `MessageWriter` is dropped,
    /// after storing what was queued.
    pub fn start(
        storage: Storage,
        layer: Arc<dyn ChannelLayer>,
        metrics: Arc<Metrics>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(storage, layer, metrics, rx));
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

async fn run(
    storage: Storage,
    layer: Arc<dyn ChannelLayer>,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Post>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&storage, &batch).await {
            Ok(stored) => {
                batch.clear();
                metrics
                    .storage_batches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                metrics
                    .messages_stored
                    .fetch_add(stored.len() as u64, std::sync::atomic::Ordering::Relaxed);
                let count = stored.len();
                let sends = stored
                    .into_iter()
                    .map(|message| {
                        let group = GroupName::room(&message.room);
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
            Err(e) => {
                tracing::error!("storing {} messages failed: {e}", batch.len());
                let refusal = Payload::event(
                    ServerEvent::error(
                        ErrorCode::Unavailable,
                        "Your message could not be saved; try again.",
                    )
                    .to_json(),
                );
                for post in batch.drain(..) {
                    let _ = layer.send(&post.reply_to, refusal.clone()).await;
                }
            }
        }
    }
}

/// Rows per multi-row INSERT: 7 parameters each stays well under SQLite's
/// limit of 32,766 bound parameters per statement.
const ROWS_PER_INSERT: usize = 500;

/// Stores the batch in one transaction; each message gets the room's next seq.
///
/// The number of statements does not grow with the batch: one UPSERT per
/// room reserves that room's block of seqs, and the messages go in with
/// multi-row INSERTs. Each statement is a round trip to SQLite's thread,
/// so one or two per message used to cap the writer at a few thousand
/// messages a second (measured: `bench/NOTES.md`).
async fn commit(storage: &Storage, batch: &[Post]) -> Result<Vec<ChatMessage>, StorageError> {
    let ts = now_rfc3339();
    // Per room: how many posts it has in the batch, in the order rooms
    // first appear (so statements run in a stable order).
    let mut rooms: Vec<&RoomName> = Vec::new();
    let mut counts: HashMap<&RoomName, i64> = HashMap::new();
    for post in batch {
        *counts.entry(&post.room).or_insert_with(|| {
            rooms.push(&post.room);
            0
        }) += 1;
    }
    let mut tx = storage.pool().begin().await?;
    // Per room: its id and the next seq of its block.
    let mut blocks: HashMap<&RoomName, (i64, i64)> = HashMap::with_capacity(rooms.len());
    for room in rooms {
        let count = counts[room];
        let row = sqlx::query(
            "INSERT INTO rooms (name, created_at, last_seq, last_message_at) VALUES ($1, $2, $3, $2)
             ON CONFLICT (name) DO UPDATE
                SET last_seq = rooms.last_seq + excluded.last_seq,
                    last_message_at = excluded.last_message_at
             RETURNING id, last_seq",
        )
        .bind(room.as_str())
        .bind(&ts)
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
        let (room_id, last_seq): (i64, i64) = (row.get(0), row.get(1));
        blocks.insert(room, (room_id, last_seq - count + 1));
    }
    let mut room_ids = Vec::with_capacity(batch.len());
    let stored: Vec<ChatMessage> = batch
        .iter()
        .map(|post| {
            let (room_id, seq) = blocks
                .get_mut(&post.room)
                .expect("every post's room has a block of seqs");
            room_ids.push(*room_id);
            *seq += 1;
            ChatMessage {
                room: post.room.clone(),
                seq: (*seq - 1) as u64,
                // Time-ordered ids land at the end of the id index; random
                // (v4) ones dirtied a different index page per message, which
                // made each commit write several times the data.
                id: uuid::Uuid::now_v7().to_string(),
                user: post.username.clone(),
                message: post.text.clone(),
                ts: ts.clone(),
                edited_at: None,
                deleted: false,
                reactions: Vec::new(),
            }
        })
        .collect();
    let rows: Vec<_> = batch.iter().zip(&room_ids).zip(&stored).collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO messages (room_id, seq, id, user_id, username, body, created_at) ",
        );
        insert.push_values(chunk, |mut row, ((post, room_id), m)| {
            row.push_bind(**room_id)
                .push_bind(m.seq as i64)
                .push_bind(&m.id)
                .push_bind(post.user_id)
                .push_bind(&post.username)
                .push_bind(&post.text)
                .push_bind(&ts);
        });
        insert.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::MemoryLayer;
    use crate::storage::Page;
    use app::names::Username;

    /// Posts to two rooms interleaved, queued faster than one commit, so
    /// they are stored in shared batches: each room still gets seqs 1..n in
    /// posting order, live and in storage.
    #[tokio::test]
    async fn batched_posts_to_several_rooms_get_each_rooms_next_seqs() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let storage = Storage::open(&url).await.unwrap();
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
                .group_add(&GroupName::room(room), channel.name())
                .await
                .unwrap();
            channels.push(channel);
        }
        let metrics = Arc::new(Metrics::default());
        let (writer, task) = MessageWriter::start(storage.clone(), layer.clone(), metrics.clone());
        const EACH: u64 = 300;
        for i in 0..EACH {
            for room in &rooms {
                let post = Post {
                    room: room.clone(),
                    user_id: user.id,
                    username: "alice".into(),
                    text: format!("{room} {i}"),
                    reply_to: channels[0].name().clone(),
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
                )
                .await
                .unwrap();
            let seqs: Vec<u64> = stored.messages.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=EACH).collect::<Vec<_>>());
            assert_eq!(stored.messages[7].message, format!("{room} 7"));
        }
    }
}
