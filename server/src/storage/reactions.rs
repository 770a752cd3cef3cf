//! The `reactions` table: who reacted to which message with which emoji.
//! SQL only: never imports the layer or the protocol's events.

use super::{Stamp, Storage, StorageError, with_pool};
use app::{
    names::RoomName,
    protocol::{ChatMessage, Reaction},
};

/// The reaction's users after a toggle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toggled {
    pub users: Vec<String>,
}

/// Why a toggle stored nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotToggled {
    /// A new emoji on a message that has the most distinct ones already.
    TooMany,
    /// The message is gone (deleted a moment ago).
    Gone,
}

impl Storage {
    /// Adds the person's reaction, or removes it if they had it; returns
    /// who reacts with that emoji now, in the order they reacted. Nothing
    /// is stored if it would be a new emoji on a message that has
    /// `most_emojis` distinct ones already, or the message is deleted.
    pub async fn toggle_reaction(
        &self,
        room: &RoomName,
        seq: u64,
        user_id: i64,
        username: &str,
        emoji: &str,
        most_emojis: usize,
    ) -> Result<Result<Toggled, NotToggled>, StorageError> {
        let most = i64::try_from(most_emojis).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // A no-op write to the message row takes its lock (SQLite: the
            // write lock), so toggles on one message run one at a time and
            // the count below cannot change under us; and a deleted
            // message (no row) takes no reaction. It comes first: a SQLite
            // transaction that has read cannot wait for the write lock (it
            // gets "database is locked" at once), one that starts by
            // writing waits its busy timeout.
            let live = sqlx::query(
                "UPDATE messages SET body = body
                 WHERE room_id = (SELECT id FROM rooms WHERE name = $1) AND seq = $2
                   AND deleted_at IS NULL",
            )
            .bind(room.as_str())
            .bind(seq as i64)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if live == 0 {
                // Ended now, not whenever the pool next uses the connection:
                // until then it would hold the write lock.
                tx.rollback().await?;
                return Ok(Err(NotToggled::Gone));
            }
            let room_id: i64 = sqlx::query_scalar("SELECT id FROM rooms WHERE name = $1")
                .bind(room.as_str())
                .fetch_one(&mut *tx)
                .await?;
            let removed = sqlx::query(
                "DELETE FROM reactions
                 WHERE room_id = $1 AND seq = $2 AND user_id = $3 AND emoji = $4",
            )
            .bind(room_id)
            .bind(seq as i64)
            .bind(user_id)
            .bind(emoji)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if removed == 0 {
                let (distinct, has_it): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(DISTINCT emoji),
                            COALESCE(SUM(CASE WHEN emoji = $3 THEN 1 ELSE 0 END), 0)
                     FROM reactions WHERE room_id = $1 AND seq = $2",
                )
                .bind(room_id)
                .bind(seq as i64)
                .bind(emoji)
                .fetch_one(&mut *tx)
                .await?;
                if has_it == 0 && distinct >= most {
                    tx.rollback().await?;
                    return Ok(Err(NotToggled::TooMany));
                }
                sqlx::query(
                    "INSERT INTO reactions (room_id, seq, user_id, username, emoji, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(room_id)
                .bind(seq as i64)
                .bind(user_id)
                .bind(username)
                .bind(emoji)
                .bind(Stamp::now())
                .execute(&mut *tx)
                .await?;
            }
            let users: Vec<String> = sqlx::query_scalar(
                "SELECT username FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3
                 ORDER BY created_at, username",
            )
            .bind(room_id)
            .bind(seq as i64)
            .bind(emoji)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Ok(Toggled { users }))
        })
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
        let rows: Vec<(i64, String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT x.seq, x.emoji, x.username FROM reactions x JOIN rooms r ON r.id = x.room_id
             WHERE r.name = $1 AND x.seq BETWEEN $2 AND $3
             ORDER BY x.seq, x.emoji, x.created_at, x.username",
        )
        .bind(room.as_str())
        .bind(first.seq as i64)
        .bind(last.seq as i64)
        .fetch_all(pool)
        .await?);
        for (seq, emoji, user) in rows {
            let seq = seq as u64;
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
