//! Storage: SQL only, through sqlx (and, for the message writer's batches
//! on SQLite, rusqlite on the writer's own thread: [`sqlite_writer`]). It
//! stores and returns rows; it never
//! tells anyone (it must never import the channel layer, the protocol's
//! events or metrics): the chat domain (`crate::chat`) stores, then tells.
//!
//! Two backends, chosen by `DATABASE_URL`: SQLite (`sqlite://…`, the
//! embedded default, a file under the data directory in WAL mode) and
//! PostgreSQL (`postgres://…`, for several processes on several machines).
//! Each has its own migrations (`server/migrations/{sqlite,postgres}`),
//! run at start-up, with its own column types; the queries are the same
//! text on both. Every method runs its body once per backend through
//! [`with_pool!`], type-checked against each, so the two cannot drift
//! apart; the types that differ ([`types::Stamp`], [`types::MessageId`])
//! encode and decode on both. (`sqlx::Any` was the other way: it has no
//! timestamp or UUID type, so it would have kept PostgreSQL on text.)
//!
//! One file per table: [`users`], [`rooms`], [`messages`] (including the
//! group-commit batch insert), [`reactions`], [`audit`]; [`lookalikes`]
//! fills in the name keys SQL cannot compute; [`Checkpoints`] keeps
//! SQLite's log short under a writer that never stops.

pub mod audit;
mod checkpoints;
pub mod lookalikes;
pub mod markers;
pub mod messages;
pub mod reactions;
pub mod rooms;
pub mod sqlite_writer;
pub mod types;
pub mod users;

pub use audit::AuditEntry;
pub use checkpoints::Checkpoints;
pub use messages::{Edited, MessageMeta, NewMessage, Page, Reader, SentAs};
pub use reactions::{NotToggled, Toggled};
pub use rooms::{Created, RoomRecord};
pub use types::{MessageId, Stamp};
pub use users::{UserRecord, UserSummary};

use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use std::{fmt, str::FromStr, time::Duration};

/// Connections of the shared pool (everything but the message writer).
const READERS: u32 = 8;
/// Of those, how many history pages (greetings, catch-ups, scrolling back,
/// the HTTP history API) may read at once: the others stay free for
/// sign-ins, sessions and `/healthz`, so a crowd of readers queues behind
/// itself instead of in front of everyone.
const HISTORY_READERS: usize = READERS as usize - 3;
/// How long a query waits for a free connection (or, on PostgreSQL, for
/// one to be made) before it fails: long enough for a busy moment, short
/// enough that a request does not hang while the database is away.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The connections of one backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the storage's pool, whichever backend
/// it is: the same code, compiled once for each. (Exported for tests that
/// reach into the database, as an older release or an outage would leave it.)
#[macro_export]
macro_rules! with_pool {
    ($storage:expr, $pool:ident => $body:expr) => {
        match $storage.pool() {
            $crate::storage::Pool::Sqlite($pool) => $body,
            $crate::storage::Pool::Postgres($pool) => $body,
        }
    };
}
pub use with_pool;

#[derive(Clone, Debug)]
pub struct Storage {
    pool: Pool,
    /// The message writer's batches on SQLite ([`Storage::open_for_writer`]).
    batches: Option<sqlite_writer::SqliteWriter>,
    /// Places for history reads ([`HISTORY_READERS`]).
    history_readers: std::sync::Arc<tokio::sync::Semaphore>,
}

#[derive(Debug)]
pub enum StorageError {
    /// The name, or one that looks like it (same lookalike key), is taken.
    UsernameTaken,
    Database(sqlx::Error),
    Migration(sqlx::migrate::MigrateError),
    /// SQLite refused a batch on the writer's own thread.
    Sqlite(String),
    /// Another process held SQLite's write lock past the busy timeout.
    SqliteBusy(String),
    /// The writer task is gone (the server is shutting down).
    WriterGone,
    /// A post's client id was stored meanwhile (its resend reached another
    /// process at the same moment): look it up instead.
    DuplicateClientId,
    /// `DATABASE_URL` names neither SQLite nor PostgreSQL.
    UnknownBackend(String),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UsernameTaken => write!(f, "username taken"),
            Self::Database(e) => write!(f, "database: {e}"),
            Self::Migration(e) => write!(f, "migration: {e}"),
            Self::Sqlite(e) | Self::SqliteBusy(e) => write!(f, "database: {e}"),
            Self::WriterGone => write!(f, "message writer stopped"),
            Self::DuplicateClientId => write!(f, "a post's client id is stored already"),
            Self::UnknownBackend(url) => write!(
                f,
                "DATABASE_URL {url:?}: expected sqlite://… or postgres://…"
            ),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d)
                if d.is_unique_violation() && d.message().contains("client_id")
                    || d.constraint() == Some("messages_by_client_id") =>
            {
                Self::DuplicateClientId
            }
            _ => Self::Database(e),
        }
    }
}

impl StorageError {
    /// Whether trying again may work: the database was unreachable or the
    /// connection broke, as opposed to a query it refused.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            )
        ) || matches!(self, Self::Database(sqlx::Error::Database(e))
            // PostgreSQL's class 08 (connection exception) and 57P01..03
            // (the server is shutting down or starting up).
            if e.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")))
            || matches!(self, Self::SqliteBusy(_))
    }
}

impl Storage {
    /// Opens (creating if missing) the database and brings its schema up to date.
    pub async fn open(database_url: &str) -> Result<Self, StorageError> {
        let storage = Self::connect(database_url, READERS, false).await?;
        match &storage.pool {
            Pool::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
        }
        .map_err(StorageError::Migration)?;
        storage.fill_lookalike_keys().await?;
        Ok(storage)
    }

    /// Connections of its own for the message writer, so that readers
    /// (history, catch-up, the lobby) can never stall posting by holding
    /// every connection of the shared pool. On SQLite its batches go
    /// through a connection of its own whose calls block
    /// ([`sqlite_writer`]): see [`Storage::blocks_on_insert`]. Open after
    /// [`Storage::open`] (which migrates).
    pub async fn open_for_writer(database_url: &str) -> Result<Self, StorageError> {
        let mut storage = Self::connect(database_url, 1, true).await?;
        if let Pool::Sqlite(_) = storage.pool {
            let options = SqliteConnectOptions::from_str(database_url)?;
            let path = options.get_filename();
            // An in-memory database is one per connection: keep it on sqlx's.
            if path != std::path::Path::new(":memory:") {
                storage.batches = Some(sqlite_writer::SqliteWriter::open(path)?);
            }
        }
        Ok(storage)
    }

    async fn connect(
        database_url: &str,
        connections: u32,
        writer: bool,
    ) -> Result<Self, StorageError> {
        let pool = if database_url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(database_url, connections, writer).await?)
        } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            Pool::Postgres(connect_postgres(database_url, connections).await?)
        } else {
            return Err(StorageError::UnknownBackend(database_url.to_owned()));
        };
        Ok(Self {
            pool,
            batches: None,
            history_readers: std::sync::Arc::new(tokio::sync::Semaphore::new(HISTORY_READERS)),
        })
    }

    /// A place among the [`HISTORY_READERS`], waited for as long as a
    /// connection would be.
    async fn history_reader(&self) -> Result<tokio::sync::SemaphorePermit<'_>, StorageError> {
        match tokio::time::timeout(ACQUIRE_TIMEOUT, self.history_readers.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(sqlx::Error::PoolTimedOut.into()),
        }
    }

    /// Whether [`Storage::insert_batch`] blocks its thread (the writer's
    /// SQLite connection): then it must be called from a thread of its own.
    pub fn blocks_on_insert(&self) -> bool {
        self.batches.is_some()
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Copies what the SQLite write-ahead log holds into the database file
    /// without waiting for anyone (PASSIVE), so the log stays short.
    /// Returns how many pages the log held (0 on PostgreSQL, which has
    /// nothing to do).
    pub async fn checkpoint(&self) -> Result<u64, StorageError> {
        if let Pool::Sqlite(pool) = &self.pool {
            // (busy, pages in the log, pages copied); -1 when not in WAL mode.
            let (_, pages, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(pool)
                .await?;
            return Ok(pages.max(0) as u64);
        }
        Ok(0)
    }

    /// The same on the message writer's own SQLite connection, blocking
    /// (call it from the writer's thread, between batches); nothing to do
    /// elsewhere.
    pub fn checkpoint_here(&self) -> Result<(), StorageError> {
        match &self.batches {
            Some(connection) => connection.checkpoint(),
            None => Ok(()),
        }
    }

    /// Closes the SQLite readers that sit idle, but one; nothing to do on
    /// PostgreSQL. For after a crowd has gone: joining sockets open every
    /// reader, each on a thread of sqlx's, and each thread's allocator cache
    /// holds blocks it freed for the runtime's workers, scattered over the
    /// heap the crowd grew, so those pages cannot be given back while the
    /// thread lives (bench/NOTES.md: ~340 of the workers' ~470 resident
    /// pages after 10,000 sockets closed). A closed connection's thread
    /// ends, and glibc frees its cache. Not an idle timeout on the pool: its
    /// closing and reopening under load delayed `/healthz` (max 49-56 ms
    /// against 23-28 in the overload step).
    pub async fn close_idle_readers(&self) {
        let Pool::Sqlite(pool) = &self.pool else {
            return;
        };
        while pool.num_idle() > 1 {
            let Some(reader) = pool.try_acquire() else {
                break;
            };
            let _ = reader.close().await;
        }
    }

    /// Whether the database answers a trivial query within `within`.
    pub async fn answers(&self, within: Duration) -> bool {
        let ping =
            async { with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok()) };
        tokio::time::timeout(within, ping).await.unwrap_or(false)
    }
}

async fn connect_sqlite(
    url: &str,
    connections: u32,
    writer: bool,
) -> Result<SqlitePool, sqlx::Error> {
    let mut options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL is durable against application crashes and
        // only risks the last commits on power loss; FULL halves throughput.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    if writer {
        // The message writer never checkpoints inside its own commits;
        // chat/writer.rs checkpoints on another connection instead.
        options = options.pragma("wal_autocheckpoint", "0");
    }
    SqlitePoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A connection to a local file cannot break behind our back, so no
        // ping (one more round trip to SQLite's thread) before each use.
        .test_before_acquire(false)
        .connect_with(options)
        .await
}

/// Connections are made lazily and checked before use, so the server
/// starts only if the database answers now, but survives it restarting
/// later: broken connections are dropped and new ones made on demand.
async fn connect_postgres(url: &str, connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name("chat-server");
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(true)
        .connect_with(options)
        .await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crowd opens every reader; once it has gone they are closed, all
    /// but one, so that their threads end and what those threads'
    /// allocator caches held can be given back.
    #[tokio::test]
    async fn readers_a_crowd_opened_are_closed_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let storage = Storage::open(&url).await.unwrap();
        let Pool::Sqlite(pool) = storage.pool() else {
            unreachable!("a sqlite: URL opens SQLite")
        };
        let crowd = futures::future::join_all((0..READERS).map(|_| pool.acquire())).await;
        assert!(crowd.iter().all(Result::is_ok));
        assert_eq!(pool.size(), READERS);
        drop(crowd);
        // A connection goes back to the pool on a task of its own.
        for _ in 0..200 {
            if pool.num_idle() == READERS as usize {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        storage.close_idle_readers().await;
        assert_eq!(pool.size(), 1);
        // And the pool still serves, opening readers again as needed.
        let again = futures::future::join_all((0..3).map(|_| pool.acquire())).await;
        assert!(again.iter().all(Result::is_ok));
    }

    /// History readers queue behind each other, never in front of a
    /// sign-in: with every history place taken, a page waits and an
    /// account lookup is answered.
    #[tokio::test]
    async fn a_crowd_of_history_readers_leaves_room_for_sign_ins() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let storage = Storage::open(&url).await.unwrap();
        let crowd: Vec<_> =
            futures::future::join_all((0..HISTORY_READERS).map(|_| storage.history_reader())).await;
        assert!(crowd.iter().all(Result::is_ok));
        let room = app::names::RoomName::parse("hall").unwrap();
        let page = storage.messages(&room, Page::Latest { limit: 50 }, Reader::Anyone);
        tokio::pin!(page);
        let waited = tokio::time::timeout(Duration::from_millis(200), &mut page).await;
        assert!(waited.is_err(), "a page read past the crowd");
        let lookup = tokio::time::timeout(Duration::from_secs(2), storage.user_by_name("alice"));
        assert!(matches!(lookup.await, Ok(Ok(None))));
        drop(crowd);
        assert!(page.await.is_ok());
    }

    /// An edit or a reaction that passed its check a moment before the
    /// message was deleted writes nothing into the tombstone.
    #[tokio::test]
    async fn a_deleted_message_takes_no_edit_and_no_reaction() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let storage = Storage::open(&url).await.unwrap();
        let alice = storage
            .create_user(&app::names::Username::parse("alice").unwrap(), "x")
            .await
            .unwrap();
        let room = app::names::RoomName::parse("hall").unwrap();
        let new = NewMessage::new(room.clone(), alice.id, "alice".into(), "hi".into());
        storage.insert_batch(&[new]).await.unwrap();
        storage.delete_message(&room, 1).await.unwrap();
        assert_eq!(
            storage
                .edit_message(&room, 1, "sneaky", None)
                .await
                .unwrap(),
            Edited::Gone
        );
        let toggled = storage
            .toggle_reaction(&room, 1, alice.id, "alice", "👍", 20)
            .await
            .unwrap();
        assert_eq!(toggled, Err(NotToggled::Gone));
        let page = storage
            .messages(&room, Page::Latest { limit: 5 }, Reader::Anyone)
            .await
            .unwrap();
        let tombstone = &page.messages[0];
        assert!(tombstone.deleted && tombstone.message.is_empty());
        assert!(tombstone.edited_at.is_none() && tombstone.reactions.is_empty());
    }

    /// A client id is stored once per room and sender: a second insert of
    /// it fails as `DuplicateClientId` (on the writer's own connection and
    /// through sqlx alike), and the lookup finds its seq.
    #[tokio::test]
    async fn a_client_id_is_stored_once_per_sender_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let shared = Storage::open(&url).await.unwrap();
        let writer = Storage::open_for_writer(&url).await.unwrap();
        let alice = shared
            .create_user(&app::names::Username::parse("alice").unwrap(), "x")
            .await
            .unwrap();
        let room = app::names::RoomName::parse("hall").unwrap();
        let id = app::protocol::ClientId::parse("c-1").ok();
        let post = || {
            NewMessage::new(room.clone(), alice.id, "alice".into(), "hi".into())
                .with_client_id(id.clone())
        };
        for storage in [&writer, &shared] {
            let first = storage.insert_batch(&[post()]).await;
            if std::ptr::eq(storage, &writer) {
                assert_eq!(first.unwrap()[0].seq, 1);
            } else {
                assert!(
                    matches!(first, Err(StorageError::DuplicateClientId)),
                    "{first:?}"
                );
            }
            let again = storage.insert_batch(&[post()]).await;
            assert!(
                matches!(again, Err(StorageError::DuplicateClientId)),
                "{again:?}"
            );
            let sent = SentAs::of(&post()).unwrap();
            let known = storage
                .known_client_ids(std::slice::from_ref(&sent))
                .await
                .unwrap();
            assert_eq!(known.get(&sent), Some(&1));
        }
        // Without an id, as before: stored every time.
        let plain = || NewMessage::new(room.clone(), alice.id, "alice".into(), "hi".into());
        assert_eq!(
            writer
                .insert_batch(&[plain(), plain()])
                .await
                .unwrap()
                .len(),
            2
        );
    }
}
