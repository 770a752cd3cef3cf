//! The `reactions` table: who reacted to which message with which emoji.
//! SQL only: never imports the layer or the protocol's events.

use super::{Storage, StorageError, now_rfc3339};
use app::{
    names::RoomName,
    protocol::{ChatMessage, Reaction},
};
use sqlx::Row;

/// The reaction's users after a toggle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toggled {
    pub users: Vec<String>,
}

impl Storage {
    /// Adds the person's reaction, or removes it if they had it; returns
    /// who reacts with that emoji now, in the order they reacted. `None`
    /// (nothing stored) if it would be a new emoji on a message that has
    /// `most_emojis` distinct ones already.
    pub async fn toggle_reaction(
        &self,
        room: &RoomName,
        seq: u64,
        user_id: i64,
        username: &str,
        emoji: &str,
        most_emojis: usize,
    ) -> Result<Option<Toggled>, StorageError> {
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
        // The DELETE took the write lock, so the count cannot change under us.
        if removed == 0
            && self
                .emoji_is_one_too_many(&mut tx, room_id, seq, emoji, most_emojis)
                .await?
        {
            return Ok(None);
        }
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
        Ok(Some(Toggled { users }))
    }

    /// Whether `emoji` would be a new distinct emoji beyond `most` on the message.
    async fn emoji_is_one_too_many(
        &self,
        tx: &mut sqlx::SqliteConnection,
        room_id: i64,
        seq: u64,
        emoji: &str,
        most: usize,
    ) -> Result<bool, StorageError> {
        let (distinct, has_it): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(DISTINCT emoji), COALESCE(MAX(emoji = $3), 0)
             FROM reactions WHERE room_id = $1 AND seq = $2",
        )
        .bind(room_id)
        .bind(seq as i64)
        .bind(emoji)
        .fetch_one(&mut *tx)
        .await?;
        Ok(has_it == 0 && distinct >= i64::try_from(most).unwrap_or(i64::MAX))
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
