//! Changes to stored messages after the fact: edits, deletes (tombstones,
//! so a room's seqs stay contiguous) and reactions. Rare next to posting,
//! so they go straight to the database instead of through the batching
//! writer; the caller broadcasts the resulting event.

use super::{Storage, StorageError, now_rfc3339};
use app::{
    names::RoomName,
    protocol::{ChatMessage, Reaction},
};
use sqlx::Row;

/// Who wrote a message and when: what permission checks need.
#[derive(Clone, Debug)]
pub struct MessageMeta {
    pub user_id: i64,
    pub created_at: time::OffsetDateTime,
    pub deleted: bool,
}

/// The reaction's users after a toggle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toggled {
    pub users: Vec<String>,
}

impl Storage {
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

    /// Adds the person's reaction, or removes it if they had it; returns
    /// who reacts with that emoji now, in the order they reacted.
    pub async fn toggle_reaction(
        &self,
        room: &RoomName,
        seq: u64,
        user_id: i64,
        username: &str,
        emoji: &str,
    ) -> Result<Toggled, StorageError> {
        let mut tx = self.pool().begin().await?;
        let room_id: i64 = sqlx::query("SELECT id FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        let removed = sqlx::query(
            "DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND user_id = $3 AND emoji = $4",
        )
        .bind(room_id)
        .bind(seq as i64)
        .bind(user_id)
        .bind(emoji)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed == 0 {
            sqlx::query(
                "INSERT INTO reactions (room_id, seq, user_id, username, emoji, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(room_id)
            .bind(seq as i64)
            .bind(user_id)
            .bind(username)
            .bind(emoji)
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await?;
        }
        let users = sqlx::query(
            "SELECT username FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3
             ORDER BY created_at, username",
        )
        .bind(room_id)
        .bind(seq as i64)
        .bind(emoji)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
        tx.commit().await?;
        Ok(Toggled { users })
    }

    /// Fills in `reactions` for a page of one room's messages.
    pub(super) async fn attach_reactions(
        &self,
        room: &RoomName,
        messages: &mut [ChatMessage],
    ) -> Result<(), StorageError> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
            return Ok(());
        };
        let rows = sqlx::query(
            "SELECT x.seq, x.emoji, x.username FROM reactions x JOIN rooms r ON r.id = x.room_id
             WHERE r.name = $1 AND x.seq BETWEEN $2 AND $3
             ORDER BY x.seq, x.emoji, x.created_at, x.username",
        )
        .bind(room.as_str())
        .bind(first.seq as i64)
        .bind(last.seq as i64)
        .fetch_all(self.pool())
        .await?;
        for row in rows {
            let seq = row.get::<i64, _>(0) as u64;
            let (emoji, user): (String, String) = (row.get(1), row.get(2));
            let Some(message) = messages.iter_mut().find(|m| m.seq == seq) else {
                continue;
            };
            match message.reactions.iter_mut().find(|r| r.emoji == emoji) {
                Some(reaction) => reaction.users.push(user),
                None => message.reactions.push(Reaction {
                    emoji,
                    users: vec![user],
                }),
            }
        }
        Ok(())
    }
}
