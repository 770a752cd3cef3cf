//! What the admin page reads and changes: users (admin, disabled), rooms
//! (admin-only, deleted with their messages), recent messages across rooms,
//! and the audit log that records every admin action.

use super::{RoomRecord, Storage, StorageError, now_rfc3339};
use app::{names::RoomName, protocol::ChatMessage};
use sqlx::Row;

/// A user as the admin page lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSummary {
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: String,
}

/// One recorded admin action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
}

impl Storage {
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

    pub async fn users(&self) -> Result<Vec<UserSummary>, StorageError> {
        let rows = sqlx::query(
            "SELECT username, is_admin, disabled, created_at FROM users ORDER BY username",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| UserSummary {
                username: row.get(0),
                is_admin: row.get::<i64, _>(1) != 0,
                disabled: row.get::<i64, _>(2) != 0,
                created_at: row.get(3),
            })
            .collect())
    }

    /// Sets the flag; false if there is no such user.
    pub async fn set_admin(&self, username: &str, is_admin: bool) -> Result<bool, StorageError> {
        self.set_user_flag("is_admin", username, is_admin).await
    }

    /// Sets the flag; false if there is no such user.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, StorageError> {
        self.set_user_flag("disabled", username, disabled).await
    }

    async fn set_user_flag(
        &self,
        column: &'static str,
        username: &str,
        value: bool,
    ) -> Result<bool, StorageError> {
        let changed = sqlx::query(&format!(
            "UPDATE users SET {column} = $1 WHERE username = $2"
        ))
        .bind(i64::from(value))
        .bind(username)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Replaces the password hash (used by `server create-admin` on an existing user).
    pub async fn set_password_hash(&self, username: &str, hash: &str) -> Result<(), StorageError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
            .bind(hash)
            .bind(username)
            .execute(self.pool())
            .await?;
        Ok(())
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

    /// Records an admin action.
    pub async fn audit(&self, actor: &str, action: &str, target: &str) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO audit_log (at, actor, action, target) VALUES ($1, $2, $3, $4)")
            .bind(now_rfc3339())
            .bind(actor)
            .bind(action)
            .bind(target)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The newest audit entries first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        let rows = sqlx::query(
            "SELECT at, actor, action, target FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| AuditEntry {
                at: row.get(0),
                actor: row.get(1),
                action: row.get(2),
                target: row.get(3),
            })
            .collect())
    }
}
