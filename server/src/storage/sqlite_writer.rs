//! The message writer's SQLite connection, called on the writer's own thread.
//!
//! Through sqlx every statement is a hand-off to its SQLite worker thread
//! and back (a futex wake and a context switch each way): a batch was five
//! of them (acquire, BEGIN, the rooms UPSERT, the INSERT, COMMIT), and on a
//! busy 2-core machine each waits for a core. Profiled at 1,000 msg/s, the
//! hand-offs were most of storage's CPU and the p99 (`bench/NOTES.md`).
//! Here the writer runs on a thread of its own and calls SQLite directly:
//! no hand-off at all between a batch and its commit.
//!
//! Same SQL and same rows as the sqlx path in [`super::messages`] (which
//! PostgreSQL keeps); the statements are prepared once and reused.
//! Never imports the layer, the protocol's events or metrics.

use super::{
    NewMessage, SentAs, Stamp, StorageError,
    messages::{
        RESERVE_SEQS, known_from_rows, known_ids_sql, number, posts_per_room, stored_message,
    },
};
use app::names::RoomName;
use app::protocol::ChatMessage;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

/// The message writer's own SQLite connection. Its calls block: the writer
/// makes them from its own thread ([`crate::chat::writer`]), never from the
/// runtime's workers. (The mutex only makes it shareable; nobody else locks it.)
#[derive(Clone, Debug)]
pub struct SqliteWriter {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteWriter {
    /// Opens a connection to the (already migrated) database file with the
    /// message writer's settings.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Ok(Self {
            conn: Arc::new(Mutex::new(open(path)?)),
        })
    }

    /// Stores the batch in one transaction, blocking the calling thread;
    /// see [`super::Storage::insert_batch`].
    pub fn insert_batch(&self, batch: &[NewMessage]) -> Result<Vec<ChatMessage>, StorageError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        insert_batch(&mut conn, batch)
    }

    /// Which posts' client ids are stored already, and as which seq,
    /// blocking the calling thread; see [`super::Storage::known_client_ids`].
    pub fn known_client_ids(&self, sent: &[SentAs]) -> Result<HashMap<SentAs, u64>, StorageError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut known = conn.prepare(&known_ids_sql(sent.len()))?;
        use rusqlite::types::Value;
        let params = sent.iter().flat_map(|s| {
            [
                Value::Text(s.room.as_str().to_owned()),
                Value::Integer(s.user_id),
                Value::Text(s.client_id.as_str().to_owned()),
            ]
        });
        let rows = known
            .query_map(rusqlite::params_from_iter(params), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(known_from_rows(rows))
    }

    /// The admin-only ones among `names`, blocking the calling thread.
    pub fn hidden_among(
        &self,
        names: &[&RoomName],
    ) -> Result<std::collections::HashSet<RoomName>, StorageError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut hidden = conn.prepare_cached("SELECT admin_only FROM rooms WHERE name = ?1")?;
        let mut found = std::collections::HashSet::new();
        for name in names {
            let admin_only: Option<bool> = hidden
                .query_row(params![name.as_str()], |row| row.get(0))
                .optional()?;
            if admin_only == Some(true) {
                found.insert((*name).clone());
            }
        }
        Ok(found)
    }

    /// Copies the log into the database file (PASSIVE: never waits for
    /// readers), blocking the calling thread. Between two of the writer's
    /// batches nothing is appended meanwhile, so the log is copied whole
    /// and the next commit starts it over.
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// The message writer's connection: the same settings as its sqlx pool's
/// (storage/mod.rs), including never checkpointing inside its commits. A
/// log that starts over is not cut back on disk (`journal_size_limit`):
/// the commit that starts it would wait for the kernel to drop the file's
/// pages, 20-70 ms at the ramp's rates, closing lagging consumers; the
/// file stays as long as the longest log (`chat::writer`'s mark plus about
/// a second of commits) and is written over from its start.
fn open(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA journal_size_limit = -1;",
    )?;
    Ok(conn)
}

/// One transaction: reserve each room's block of seqs (rooms in name
/// order, as every process takes them), then insert each message with the
/// same prepared statement. IMMEDIATE takes the write lock at BEGIN, so a
/// second process waits on the busy timeout instead of failing to upgrade.
fn insert_batch(
    conn: &mut Connection,
    batch: &[NewMessage],
) -> Result<Vec<ChatMessage>, StorageError> {
    let ts = Stamp::now();
    let at = ts.rfc3339();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut blocks = HashMap::new();
    {
        let mut reserve = tx.prepare_cached(RESERVE_SEQS)?;
        for (room, count) in posts_per_room(batch) {
            let (room_id, last_seq): (i64, i64) = reserve
                .query_row(params![room.as_str(), at, count], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            blocks.insert(room, (room_id, last_seq - count + 1));
        }
    }
    let rows = number(batch, &mut blocks);
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages (room_id, seq, id, user_id, username, body, created_at, client_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (new, room_id, seq) in &rows {
            insert.execute(params![
                room_id,
                seq,
                new.id.to_string(),
                new.user_id,
                new.username,
                new.text,
                at,
                new.client_id.as_ref().map(|c| c.as_str())
            ])?;
        }
    }
    tx.commit()?;
    Ok(rows
        .iter()
        .map(|(new, _, seq)| stored_message(new, *seq as u64, ts))
        .collect())
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            // Another process held the write lock past the busy timeout:
            // the writer tries the batch again.
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Self::SqliteBusy(e.to_string())
            }
            Some(rusqlite::ErrorCode::ConstraintViolation)
                if e.to_string().contains("client_id") =>
            {
                Self::DuplicateClientId
            }
            _ => Self::Sqlite(e.to_string()),
        }
    }
}
