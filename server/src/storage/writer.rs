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
use std::sync::Arc;
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
                for message in stored {
                    let group = GroupName::room(&message.room);
                    let seq = message.seq;
                    // Encoded once; every member gets the same bytes.
                    let payload = Payload::logged(seq, ServerEvent::ChatMessage(message).to_json());
                    if let Err(e) = layer.group_send(&group, payload).await {
                        // Stored, so nobody loses it: clients fetch it from history.
                        tracing::warn!("broadcast of {group} #{seq} failed: {e}");
                    }
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

/// Stores the batch in one transaction; each message gets the room's next seq.
async fn commit(storage: &Storage, batch: &[Post]) -> Result<Vec<ChatMessage>, StorageError> {
    let mut tx = storage.pool().begin().await?;
    let mut stored = Vec::with_capacity(batch.len());
    for post in batch {
        let ts = now_rfc3339();
        let row = sqlx::query(
            "INSERT INTO rooms (name, created_at, last_seq, last_message_at) VALUES ($1, $2, 1, $2)
             ON CONFLICT (name) DO UPDATE
                SET last_seq = rooms.last_seq + 1, last_message_at = excluded.last_message_at
             RETURNING id, last_seq",
        )
        .bind(post.room.as_str())
        .bind(&ts)
        .fetch_one(&mut *tx)
        .await?;
        let (room_id, seq): (i64, i64) = (row.get(0), row.get(1));
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO messages (room_id, seq, id, user_id, username, body, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(room_id)
        .bind(seq)
        .bind(&id)
        .bind(post.user_id)
        .bind(&post.username)
        .bind(&post.text)
        .bind(&ts)
        .execute(&mut *tx)
        .await?;
        stored.push(ChatMessage {
            room: post.room.clone(),
            seq: seq as u64,
            id,
            user: post.username.clone(),
            message: post.text.clone(),
            ts,
        });
    }
    tx.commit().await?;
    Ok(stored)
}
