//! The `rooms` table: every room anyone has opened, when it last had a
//! message, whether it is admin-only. SQL only: never imports the layer or
//! the protocol's events.

use super::{Storage, StorageError, now_rfc3339};
use app::names::RoomName;
use sqlx::Row;

/// A room and when its last message arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomRecord {
    pub name: RoomName,
    pub last_message_at: Option<String>,
    /// Only admins may see, read or join it.
    pub admin_only: bool,
}

impl Storage {
    /// Creates the room if it does not exist yet (Django's `get_or_create`).
    pub async fn ensure_room(&self, room: &RoomName) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO rooms (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(room.as_str())
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every room, most recently active first.
    pub async fn rooms(&self) -> Result<Vec<RoomRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT name, last_message_at, admin_only FROM rooms
             ORDER BY last_message_at IS NULL, last_message_at DESC, name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(RoomRecord {
                    name: RoomName::parse(row.get::<&str, _>(0)).ok()?,
                    last_message_at: row.get(1),
                    admin_only: row.get::<i64, _>(2) != 0,
                })
            })
            .collect())
    }

    /// The room, if it exists.
    pub async fn room(&self, room: &RoomName) -> Result<Option<RoomRecord>, StorageError> {
        let row = sqlx::query("SELECT last_message_at, admin_only FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|row| RoomRecord {
            name: room.clone(),
            last_message_at: row.get(0),
            admin_only: row.get::<i64, _>(1) != 0,
        }))
    }

    /// Creates the room (or changes its admin-only mark if it exists).
    pub async fn create_room(&self, room: &RoomName, admin_only: bool) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO rooms (name, created_at, admin_only) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET admin_only = excluded.admin_only",
        )
        .bind(room.as_str())
        .bind(now_rfc3339())
        .bind(i64::from(admin_only))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes the room with its messages and reactions; false if it did not exist.
    pub async fn delete_room(&self, room: &RoomName) -> Result<bool, StorageError> {
        let mut tx = self.pool().begin().await?;
        for sql in [
            "DELETE FROM reactions WHERE room_id = (SELECT id FROM rooms WHERE name = $1)",
            "DELETE FROM messages WHERE room_id = (SELECT id FROM rooms WHERE name = $1)",
        ] {
            sqlx::query(sql)
                .bind(room.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let gone = sqlx::query("DELETE FROM rooms WHERE name = $1")
            .bind(room.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone > 0)
    }
}
