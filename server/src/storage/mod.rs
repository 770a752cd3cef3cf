//! Storage: SQL only, through sqlx. It stores and returns rows; it never
//! tells anyone (it must never import the channel layer, the protocol's
//! events or metrics): the chat domain (`crate::chat`) stores, then tells.
//! SQLite is the embedded default (a file under the data directory, WAL
//! mode); the queries stick to portable SQL so a PostgreSQL backend can
//! follow. Migrations live in `server/migrations/` and run at start-up.
//!
//! One file per table: [`users`], [`rooms`], [`messages`] (including the
//! group-commit batch insert), [`reactions`], [`audit`]; [`lookalikes`]
//! fills in the name keys SQL cannot compute.

pub mod audit;
pub mod lookalikes;
pub mod messages;
pub mod reactions;
pub mod rooms;
pub mod users;

pub use audit::AuditEntry;
pub use messages::{MessageMeta, NewMessage, Page};
pub use reactions::Toggled;
pub use rooms::{Created, RoomRecord};
pub use users::{UserRecord, UserSummary};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use std::{fmt, str::FromStr, time::Duration};

/// Connections of the shared pool (everything but the message writer).
const READERS: u32 = 8;

#[derive(Clone)]
pub struct Storage {
    pool: SqlitePool,
}

#[derive(Debug)]
pub enum StorageError {
    /// The name, or one that looks like it (same lookalike key), is taken.
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
        let storage = Self::connect(database_url, READERS).await?;
        sqlx::migrate!("./migrations")
            .run(&storage.pool)
            .await
            .map_err(StorageError::Migration)?;
        storage.fill_lookalike_keys().await?;
        Ok(storage)
    }

    /// Connections of its own for the message writer, so that readers
    /// (history, catch-up, the lobby) can never stall posting by holding
    /// every connection of the shared pool. Open after [`Storage::open`].
    pub async fn open_for_writer(database_url: &str) -> Result<Self, StorageError> {
        Self::connect(database_url, 1).await
    }

    async fn connect(database_url: &str, connections: u32) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL is durable against application crashes and
            // only risks the last commits on power loss; FULL halves throughput.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
