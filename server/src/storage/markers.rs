//! The `read_markers` table: how far each person has read each room. A
//! marker moves forward only, and never past the room's newest message.
//! And the `mentions` table: which of those rooms' messages name them.
//! SQL only: never imports the layer or the protocol's events.

use super::{Stamp, Storage, StorageError, with_pool};
use app::{names::RoomName, protocol::ReadMarker};

/// The most unread mentions the first lobby list carries, all rooms
/// together (a badge beyond it still says "@500").
const UNREAD_MENTIONS_LISTED: i64 = 500;

impl Storage {
    /// Moves the person's marker in `room` forward to `seq` (to the room's
    /// newest message if `seq` is beyond it). Returns the marker if it
    /// moved; `None` if it was there already, or the room does not exist.
    pub async fn mark_read(
        &self,
        user_id: i64,
        room: &RoomName,
        seq: u64,
    ) -> Result<Option<u64>, StorageError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let moved: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
                "INSERT INTO read_markers (user_id, room_id, seq)
                 SELECT $1, id, CASE WHEN $3 < last_seq THEN $3 ELSE last_seq END
                 FROM rooms WHERE name = $2 AND last_seq > 0
                 ON CONFLICT (user_id, room_id) DO UPDATE SET seq = excluded.seq
                 WHERE excluded.seq > read_markers.seq
                 RETURNING seq",
            )
            .bind(user_id)
            .bind(room.as_str())
            .bind(seq)
            .fetch_optional(pool)
            .await?);
        Ok(moved.map(|s| s as u64))
    }

    /// The person's marker in `room`, if they have read it.
    pub async fn read_marker(
        &self,
        user_id: i64,
        room: &RoomName,
    ) -> Result<Option<u64>, StorageError> {
        let seq: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
                "SELECT m.seq FROM read_markers m JOIN rooms r ON r.id = m.room_id
                 WHERE m.user_id = $1 AND r.name = $2",
            )
            .bind(user_id)
            .bind(room.as_str())
            .fetch_optional(pool)
            .await?);
        Ok(seq.map(|s| s as u64))
    }

    /// Every marker of the person, most recently active room first, at
    /// most `limit` (an admin-only room's only for an admin).
    pub async fn read_markers(
        &self,
        user_id: i64,
        admin: bool,
        limit: u32,
    ) -> Result<Vec<ReadMarker>, StorageError> {
        let hidden = if admin { "" } else { " AND NOT r.admin_only" };
        let sql = format!(
            "SELECT r.name, m.seq, r.last_seq FROM read_markers m JOIN rooms r ON r.id = m.room_id
             WHERE m.user_id = $1{hidden}
             ORDER BY r.last_message_at IS NULL, r.last_message_at DESC LIMIT $2"
        );
        let rows: Vec<(String, i64, i64)> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(user_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        let mut mentions = self.unread_mentions(user_id).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(room, seq, last_seq)| {
                Some(ReadMarker {
                    mentions: mentions.remove(&room).unwrap_or_default(),
                    room: RoomName::parse_stored(&room).ok()?,
                    seq: seq as u64,
                    last_seq: Some(last_seq as u64),
                })
            })
            .collect())
    }

    /// The person's unread mentions (newer than their marker), by room,
    /// newest first: at most [`UNREAD_MENTIONS_LISTED`] in all.
    async fn unread_mentions(
        &self,
        user_id: i64,
    ) -> Result<std::collections::HashMap<String, Vec<u64>>, StorageError> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(
                "SELECT r.name, x.seq FROM mentions x
                 JOIN read_markers m ON m.user_id = x.user_id AND m.room_id = x.room_id
                 JOIN rooms r ON r.id = x.room_id
                 WHERE x.user_id = $1 AND x.seq > m.seq
                 ORDER BY x.seq DESC LIMIT $2",
            )
            .bind(user_id)
            .bind(UNREAD_MENTIONS_LISTED)
            .fetch_all(pool)
            .await?);
        let mut by_room = std::collections::HashMap::<String, Vec<u64>>::new();
        for (room, seq) in rows {
            by_room.entry(room).or_default().push(seq as u64);
        }
        Ok(by_room)
    }

    /// Notes that message `seq` of `room` mentions each of `names` (letter
    /// case aside) who has the room among theirs, has not read that far,
    /// and may read it (an admin-only room: admins only). Returns who was
    /// noted, by their stored names. One statement per name: a message
    /// names a few people at most (the caller caps them).
    pub async fn note_mentions(
        &self,
        room: &RoomName,
        seq: u64,
        names: &[&str],
    ) -> Result<Vec<String>, StorageError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let mut noted = Vec::new();
        for name in names {
            let found: Option<(i64, i64, String)> = with_pool!(self, pool => sqlx::query_as(
                    "SELECT m.user_id, m.room_id, u.username FROM read_markers m
                     JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id
                     WHERE r.name = $1 AND lower(u.username) = lower($2) AND m.seq < $3
                       AND (u.is_admin OR NOT r.admin_only)",
                )
                .bind(room.as_str())
                .bind(*name)
                .bind(seq)
                .fetch_optional(pool)
                .await?);
            let Some((user_id, room_id, username)) = found else {
                continue;
            };
            let added = with_pool!(self, pool => sqlx::query(
                    "INSERT INTO mentions (user_id, room_id, seq) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(room_id)
                .bind(seq)
                .execute(pool)
                .await?
                .rows_affected());
            if added > 0 {
                noted.push(username);
            }
        }
        Ok(noted)
    }

    /// Opens the direct conversation `room` (`@alice+bob`): stored with no
    /// message yet, and one of "their" rooms for both people (a marker at
    /// 0), so the other person finds it, unread, before ever opening it.
    /// Nothing changes if it is open already.
    pub async fn open_direct(&self, room: &RoomName) -> Result<(), StorageError> {
        let Some((a, b)) = room.people() else {
            return Ok(());
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO rooms (name, created_at, last_seq) VALUES ($1, $2, 0)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(room.as_str())
            .bind(Stamp::now())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO read_markers (user_id, room_id, seq)
                 SELECT u.id, r.id, 0 FROM users u JOIN rooms r ON r.name = $1
                 WHERE u.username IN ($2, $3)
                 ON CONFLICT (user_id, room_id) DO NOTHING",
            )
            .bind(room.as_str())
            .bind(a)
            .bind(b)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// How far `person` has read the direct conversation `room`, if they
    /// have and they share it (their read-receipt setting).
    pub async fn seen_by(
        &self,
        room: &RoomName,
        person: &str,
    ) -> Result<Option<u64>, StorageError> {
        let seq: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
                "SELECT m.seq FROM read_markers m
                 JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id
                 WHERE r.name = $1 AND u.username = $2 AND u.read_receipts",
            )
            .bind(room.as_str())
            .bind(person)
            .fetch_optional(pool)
            .await?);
        Ok(seq.map(|s| s as u64))
    }

    /// Whether the person shows the people they talk to what they have read.
    pub async fn shares_receipts(&self, user_id: i64) -> Result<bool, StorageError> {
        let on: Option<bool> = with_pool!(self, pool => sqlx::query_scalar(
                "SELECT read_receipts FROM users WHERE id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
            .await?);
        Ok(on.unwrap_or(false))
    }

    /// Turns the person's read receipts on or off.
    pub async fn set_receipts(&self, username: &str, on: bool) -> Result<(), StorageError> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE users SET read_receipts = $1 WHERE username = $2")
                .bind(on)
                .bind(username)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
