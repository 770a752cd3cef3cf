//! The `rooms` table: every room someone has posted in (or an admin
//! created), when it last had a message, whether it is admin-only, and its
//! name's lookalike key (unique, so `#general` has no lookalike twin). SQL only: never imports the layer or
//! the protocol's events.

use super::{Stamp, Storage, StorageError, with_pool};
use app::names::{RoomName, lookalike_key};

/// What [`Storage::create_room`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    /// The room exists already (unchanged).
    Exists,
    /// Another room's name looks like it (unchanged); here is that room.
    LooksLike(RoomRecord),
}

/// A room and when its last message arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomRecord {
    pub name: RoomName,
    pub last_message_at: Option<String>,
    /// Only admins may see, read or join it.
    pub admin_only: bool,
    /// The seq of its newest message (0: none).
    pub last_seq: u64,
}

impl RoomRecord {
    /// A room not stored (yet, or any more): no messages.
    pub fn unstored(name: RoomName, admin_only: bool) -> Self {
        Self {
            name,
            last_message_at: None,
            admin_only,
            last_seq: 0,
        }
    }
}

/// A `name, last_message_at, admin_only, last_seq` row.
type RoomRow = (String, Option<Stamp>, bool, i64);

fn record((name, last_message_at, admin_only, last_seq): RoomRow) -> Option<RoomRecord> {
    Some(RoomRecord {
        name: RoomName::parse_stored(&name).ok()?,
        last_message_at: last_message_at.map(|at| at.rfc3339()),
        admin_only,
        last_seq: last_seq as u64,
    })
}

impl Storage {
    /// Every room, most recently active first.
    pub async fn rooms(&self) -> Result<Vec<RoomRecord>, StorageError> {
        let rows: Vec<RoomRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT name, last_message_at, admin_only, last_seq FROM rooms
             WHERE name NOT LIKE '@%'
             ORDER BY last_message_at IS NULL, last_message_at DESC, name",
        )
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().filter_map(record).collect())
    }

    /// The `limit` most recently active rooms (admin-only ones only when
    /// `admin_only_too`), newest activity first; rooms without messages last.
    pub async fn recent_rooms(
        &self,
        limit: usize,
        admin_only_too: bool,
    ) -> Result<Vec<RoomRecord>, StorageError> {
        let rows: Vec<RoomRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT name, last_message_at, admin_only, last_seq FROM rooms
             WHERE (NOT admin_only OR $1) AND name NOT LIKE '@%'
             ORDER BY last_message_at DESC NULLS LAST LIMIT $2",
        )
        .bind(admin_only_too)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?);
        Ok(rows.into_iter().filter_map(record).collect())
    }

    /// The stored ones among `names`, in one query.
    pub async fn rooms_named(&self, names: &[RoomName]) -> Result<Vec<RoomRecord>, StorageError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT name, last_message_at, admin_only, last_seq FROM rooms WHERE name IN ({})",
            marks.join(", ")
        );
        let rows: Vec<RoomRow> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql);
            for name in names {
                query = query.bind(name.as_str());
            }
            query.fetch_all(pool).await?
        });
        Ok(rows.into_iter().filter_map(record).collect())
    }

    /// The admin-only ones among `names`. On the message writer's SQLite
    /// connection this is a call on its own thread, like its batches.
    pub async fn hidden_among(
        &self,
        names: &[&RoomName],
    ) -> Result<std::collections::HashSet<RoomName>, StorageError> {
        if let Some(connection) = &self.batches {
            return connection.hidden_among(names);
        }
        let owned: Vec<RoomName> = names.iter().map(|n| (*n).clone()).collect();
        let rooms = self.rooms_named(&owned).await?;
        Ok(rooms
            .into_iter()
            .filter(|r| r.admin_only)
            .map(|r| r.name)
            .collect())
    }

    /// The room, if it exists.
    pub async fn room(&self, room: &RoomName) -> Result<Option<RoomRecord>, StorageError> {
        let row: Option<RoomRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT name, last_message_at, admin_only, last_seq FROM rooms WHERE name = $1",
        )
        .bind(room.as_str())
        .fetch_optional(pool)
        .await?);
        Ok(row.and_then(record))
    }

    /// Creates the room unless it, or a room whose name looks like it,
    /// exists already; an existing room is left as it is.
    pub async fn create_room(
        &self,
        room: &RoomName,
        admin_only: bool,
    ) -> Result<Created, StorageError> {
        let created = with_pool!(self, pool => sqlx::query(
            "INSERT INTO rooms (name, created_at, admin_only, name_key) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(room.as_str())
        .bind(Stamp::now())
        .bind(admin_only)
        .bind(lookalike_key(room.as_str()))
        .execute(pool)
        .await?
        .rows_affected());
        if created > 0 {
            return Ok(Created::Created);
        }
        Ok(match self.room_like(room).await? {
            Some(other) if &other.name != room => Created::LooksLike(other),
            _ => Created::Exists,
        })
    }

    /// The stored room whose name looks like `room` (it may be `room` itself).
    pub async fn room_like(&self, room: &RoomName) -> Result<Option<RoomRecord>, StorageError> {
        let row: Option<RoomRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT name, last_message_at, admin_only, last_seq FROM rooms WHERE name_key = $1 OR name = $2
             ORDER BY name = $2 DESC LIMIT 1",
        )
        .bind(lookalike_key(room.as_str()))
        .bind(room.as_str())
        .fetch_optional(pool)
        .await?);
        Ok(row.and_then(record))
    }

    /// Marks the room admin-only or open; false if there is no such room.
    pub async fn set_room_admin_only(
        &self,
        room: &RoomName,
        admin_only: bool,
    ) -> Result<bool, StorageError> {
        let changed = with_pool!(self, pool => sqlx::query(
            "UPDATE rooms SET admin_only = $1 WHERE name = $2",
        )
        .bind(admin_only)
        .bind(room.as_str())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(changed > 0)
    }

    /// Deletes the room with its messages and reactions; false if it did not exist.
    pub async fn delete_room(&self, room: &RoomName) -> Result<bool, StorageError> {
        let gone = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for sql in [
                "DELETE FROM reactions WHERE room_id = (SELECT id FROM rooms WHERE name = $1)",
                "DELETE FROM read_markers WHERE room_id = (SELECT id FROM rooms WHERE name = $1)",
                "DELETE FROM mentions WHERE room_id = (SELECT id FROM rooms WHERE name = $1)",
                "DELETE FROM edit_ids WHERE room_id = (SELECT id FROM rooms WHERE name = $1)",
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
            gone
        });
        Ok(gone > 0)
    }
}
