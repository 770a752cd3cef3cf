//! Storage: users, rooms and messages in SQL through sqlx. SQLite is the
//! embedded default (a file under the data directory, WAL mode); the
//! queries stick to portable SQL so a PostgreSQL backend can follow.
//! Migrations live in `server/migrations/` and run at start-up.
//!
//! Messages are written by one task ([`writer`]) that commits whatever has
//! accumulated in one transaction (group commit) and broadcasts each message
//! only after it is committed.

mod admin;
mod moderation;
pub mod writer;

pub use admin::{AuditEntry, UserSummary};
pub use moderation::{MessageMeta, Toggled};

use app::{
    names::{RoomName, Username},
    protocol::{ChatMessage, History},
};
use sqlx::{
    Row, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use std::{fmt, str::FromStr, time::Duration};

#[derive(Clone)]
pub struct Storage {
    pool: SqlitePool,
}

/// A stored user, with the hash to check a password against.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
}

/// A room and when its last message arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomRecord {
    pub name: RoomName,
    pub last_message_at: Option<String>,
    /// Only admins may see, read or join it.
    pub admin_only: bool,
}

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

#[derive(Debug)]
pub enum StorageError {
    UsernameTaken,
    Database(sqlx::Error),
    Migration(sqlx::migrate::MigrateError),
    /// The writer task is gone (the server is shutting down).
    WriterGone,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UsernameTaken => write!(f, "username taken"),
            Self::Database(e) => write!(f, "database: {e}"),
            Self::Migration(e) => write!(f, "migration: {e}"),
            Self::WriterGone => write!(f, "message writer stopped"),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Storage {
    /// Opens (creating if missing) the database and brings its schema up to date.
    pub async fn open(database_url: &str) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL is durable against application crashes and
            // only risks the last commits on power loss; FULL halves throughput.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(StorageError::Migration)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn create_user(
        &self,
        username: &Username,
        password_hash: &str,
    ) -> Result<UserRecord, StorageError> {
        let result = sqlx::query(
            "INSERT INTO users (username, password_hash, is_admin, created_at)
             VALUES ($1, $2, 0, $3) RETURNING id",
        )
        .bind(username.as_str())
        .bind(password_hash)
        .bind(now_rfc3339())
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => Ok(UserRecord {
                id: row.get(0),
                username: username.to_string(),
                password_hash: password_hash.to_owned(),
                is_admin: false,
                disabled: false,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StorageError::UsernameTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StorageError> {
        let row = sqlx::query(
            "SELECT id, username, password_hash, is_admin, disabled FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| UserRecord {
            id: row.get(0),
            username: row.get(1),
            password_hash: row.get(2),
            is_admin: row.get::<i64, _>(3) != 0,
            disabled: row.get::<i64, _>(4) != 0,
        }))
    }

    /// The user if they exist and are not disabled: who counts as signed in.
    pub async fn active_user(&self, username: &str) -> Result<Option<UserRecord>, StorageError> {
        Ok(self.user_by_name(username).await?.filter(|r| !r.disabled))
    }

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
