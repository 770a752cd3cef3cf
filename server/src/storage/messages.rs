//! The `messages` table: each room's log, numbered by `seq`. Pages of it
//! for history and catch-up, the batch insert the message writer commits,
//! edits and tombstones. SQL only: returns rows, never tells anyone, never
//! imports the layer or the protocol's events.

use super::{Storage, StorageError, now_rfc3339};
use app::{
    names::RoomName,
    protocol::{ChatMessage, History},
};
use sqlx::{Row, sqlite::SqliteRow};
use std::collections::HashMap;

/// Which slice of a room's log to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The newest `limit` messages.
    Latest { limit: u32 },
    /// The newest `limit` messages with seq < `seq`.
    Before { seq: u64, limit: u32 },
    /// The oldest `limit` messages with seq > `seq`.
    After { seq: u64, limit: u32 },
}

/// Who wrote a message and when: what permission checks need.
#[derive(Clone, Debug)]
pub struct MessageMeta {
    pub user_id: i64,
    pub created_at: time::OffsetDateTime,
    pub deleted: bool,
}

/// A chat message to store: who posted what, where.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub room: RoomName,
    pub user_id: i64,
    pub username: String,
    pub text: String,
}

impl Storage {
    /// A page of the room's log, oldest first.
    pub async fn messages(&self, room: &RoomName, page: Page) -> Result<History, StorageError> {
        const COLUMNS: &str = "SELECT m.seq, m.id, m.username, m.body, m.created_at,
                m.edited_at, m.deleted_at IS NOT NULL
             FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = $1";
        // Fetch one extra row to learn whether there is more beyond the page.
        let (sql, seq, limit, newest_first) = match page {
            Page::Latest { limit } => (
                format!("{COLUMNS} ORDER BY m.seq DESC LIMIT $2"),
                None,
                limit,
                true,
            ),
            Page::Before { seq, limit } => (
                format!("{COLUMNS} AND m.seq < $3 ORDER BY m.seq DESC LIMIT $2"),
                Some(seq),
                limit,
                true,
            ),
            Page::After { seq, limit } => (
                format!("{COLUMNS} AND m.seq > $3 ORDER BY m.seq ASC LIMIT $2"),
                Some(seq),
                limit,
                false,
            ),
        };
        let mut query = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(i64::from(limit) + 1);
        if let Some(seq) = seq {
            query = query.bind(i64::try_from(seq).unwrap_or(i64::MAX));
        }
        let rows = query.fetch_all(&self.pool).await?;
        let has_more = rows.len() > limit as usize;
        let mut messages: Vec<ChatMessage> = rows
            .iter()
            .take(limit as usize)
            .map(|row| message_from_row(room, row))
            .collect();
        if newest_first {
            messages.reverse();
        }
        self.attach_reactions(room, &mut messages).await?;
        Ok(History { messages, has_more })
    }

    /// The newest messages across every room, newest first (deleted ones left out).
    pub async fn recent_messages(&self, limit: u32) -> Result<Vec<ChatMessage>, StorageError> {
        let rows = sqlx::query(
            "SELECT r.name, m.seq, m.id, m.username, m.body, m.created_at, m.edited_at
             FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE m.deleted_at IS NULL
             ORDER BY m.created_at DESC, m.seq DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(ChatMessage {
                    room: RoomName::parse(row.get::<&str, _>(0)).ok()?,
                    seq: row.get::<i64, _>(1) as u64,
                    id: row.get(2),
                    user: row.get(3),
                    message: row.get(4),
                    ts: row.get(5),
                    edited_at: row.get(6),
                    deleted: false,
                    reactions: Vec::new(),
                })
            })
            .collect())
    }

    /// The message's author and age, if the room has that seq.
    pub async fn message_meta(
        &self,
        room: &RoomName,
        seq: u64,
    ) -> Result<Option<MessageMeta>, StorageError> {
        let row = sqlx::query(
            "SELECT m.user_id, m.created_at, m.deleted_at IS NOT NULL
             FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE r.name = $1 AND m.seq = $2",
        )
        .bind(room.as_str())
        .bind(seq as i64)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|row| MessageMeta {
            user_id: row.get(0),
            created_at: time::OffsetDateTime::parse(
                row.get::<&str, _>(1),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            deleted: row.get(2),
        }))
    }

    /// Replaces the text; returns the edit time.
    pub async fn edit_message(
        &self,
        room: &RoomName,
        seq: u64,
        text: &str,
    ) -> Result<String, StorageError> {
        let at = now_rfc3339();
        sqlx::query(
            "UPDATE messages SET body = $1, edited_at = $2
             WHERE room_id = (SELECT id FROM rooms WHERE name = $3) AND seq = $4",
        )
        .bind(text)
        .bind(&at)
        .bind(room.as_str())
        .bind(seq as i64)
        .execute(self.pool())
        .await?;
        Ok(at)
    }

    /// Leaves a tombstone: the row stays (seqs remain contiguous), the text
    /// and its reactions go.
    pub async fn delete_message(&self, room: &RoomName, seq: u64) -> Result<(), StorageError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM reactions
             WHERE room_id = (SELECT id FROM rooms WHERE name = $1) AND seq = $2",
        )
        .bind(room.as_str())
        .bind(seq as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE messages SET body = '', deleted_at = $1
             WHERE room_id = (SELECT id FROM rooms WHERE name = $2) AND seq = $3",
        )
        .bind(now_rfc3339())
        .bind(room.as_str())
        .bind(seq as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn message_from_row(room: &RoomName, row: &SqliteRow) -> ChatMessage {
    ChatMessage {
        room: room.clone(),
        seq: row.get::<i64, _>(0) as u64,
        id: row.get(1),
        user: row.get(2),
        message: row.get(3),
        ts: row.get(4),
        edited_at: row.get(5),
        deleted: row.get(6),
        reactions: Vec::new(),
    }
}

/// Rows per multi-row INSERT: 7 parameters each stays well under SQLite's
/// limit of 32,766 bound parameters per statement.
const ROWS_PER_INSERT: usize = 500;

impl Storage {
    /// Stores the batch in one transaction (group commit: one disk sync for
    /// all of it); each message gets its room's next seq, in batch order.
    /// Returns the stored messages in the same order.
    ///
    /// The number of statements does not grow with the batch: one UPSERT per
    /// room reserves that room's block of seqs, and the messages go in with
    /// multi-row INSERTs. Each statement is a round trip to SQLite's thread,
    /// so one or two per message used to cap the writer at a few thousand
    /// messages a second (measured: `bench/NOTES.md`).
    pub async fn insert_batch(
        &self,
        batch: &[&NewMessage],
    ) -> Result<Vec<ChatMessage>, StorageError> {
        let ts = now_rfc3339();
        let mut tx = self.pool().begin().await?;
        let mut blocks = HashMap::new();
        for (room, count) in posts_per_room(batch) {
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
            // Per room: its id and the next seq of its block.
            blocks.insert(room, (room_id, last_seq - count + 1));
        }
        let mut room_ids = Vec::with_capacity(batch.len());
        let stored: Vec<ChatMessage> = batch
            .iter()
            .map(|new| {
                let (room_id, seq) = blocks
                    .get_mut(&new.room)
                    .expect("every post's room has a block of seqs");
                room_ids.push(*room_id);
                *seq += 1;
                stored_message(new, (*seq - 1) as u64, &ts)
            })
            .collect();
        let rows: Vec<_> = batch.iter().zip(&room_ids).zip(&stored).collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO messages (room_id, seq, id, user_id, username, body, created_at) ",
            );
            insert.push_values(chunk, |mut row, ((new, room_id), m)| {
                row.push_bind(**room_id)
                    .push_bind(m.seq as i64)
                    .push_bind(&m.id)
                    .push_bind(new.user_id)
                    .push_bind(&new.username)
                    .push_bind(&new.text)
                    .push_bind(&ts);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }
}

/// Per room: how many posts it has in the batch, in the order rooms first
/// appear (so statements run in a stable order).
fn posts_per_room<'a>(batch: &[&'a NewMessage]) -> Vec<(&'a RoomName, i64)> {
    let mut counts: Vec<(&RoomName, i64)> = Vec::new();
    let mut index: HashMap<&RoomName, usize> = HashMap::new();
    for new in batch {
        let at = *index.entry(&new.room).or_insert_with(|| {
            counts.push((&new.room, 0));
            counts.len() - 1
        });
        counts[at].1 += 1;
    }
    counts
}

/// The message as everyone will see it once stored.
fn stored_message(new: &NewMessage, seq: u64, ts: &str) -> ChatMessage {
    ChatMessage {
        room: new.room.clone(),
        seq,
        // Time-ordered ids land at the end of the id index; random (v4)
        // ones dirtied a different index page per message, which made each
        // commit write several times the data.
        id: uuid::Uuid::now_v7().to_string(),
        user: new.username.clone(),
        message: new.text.clone(),
        ts: ts.to_owned(),
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
    }
}
