//! Keeping SQLite's log short under a writer that never stops: when to
//! checkpoint, on which connection, and when to start the log over. The
//! message writer (`chat/writer.rs`) calls [`Checkpoints::after_commit`]
//! after each batch; this file decides the rest. On PostgreSQL every call
//! is a no-op. Must never import the layer or the chat domain.

use super::Storage;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

/// How often, at most, the SQLite log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// SQLite's own checkpoints run inside the commit that fills the log past
/// 1,000 pages: that commit copies the log and syncs the file, and every
/// post queued behind it waits (measured: ~1 in 170 commits took 2-10 ms at
/// 1,000 msg/s, which is the p99). So the writer's connection never
/// checkpoints by itself (`wal_autocheckpoint = 0`, storage/mod.rs) and
/// after a commit, at most once a second, a PASSIVE checkpoint runs on
/// another connection: it copies what no reader still needs, syncs both
/// files, and never blocks the writer.
///
/// But a log only starts over when a checkpoint has copied all of it
/// before the next write begins, which a checkpoint beside a writer that
/// commits all the time never manages: the log grew by ~80 MB a second
/// under the ramp, 5 GB in a minute, until the disk was full. So once the
/// log passes [`RESTART_LOG_AT`], the SQLite writer finishes the job on
/// its own connection, between two batches, right after a checkpoint
/// beside it has finished: only what was committed meanwhile is left to
/// copy and sync, and the next commit starts the log over. (Checkpointing
/// the whole log on the writer's connection instead is a wait for the sync
/// of everything written since the last one: every second, it cost (a)'s
/// p99 0.8 → 4.7 ms; past 256 MiB, at the ramp's rates, it stalled
/// deliveries for ~150 ms and closed lagging consumers.)
pub struct Checkpoints {
    shared: Storage,
    last: Instant,
    running: Arc<AtomicBool>,
    /// Set by a checkpoint beside the writer that has finished and found
    /// the log longer than [`RESTART_LOG_AT`].
    restart: Arc<AtomicBool>,
}

/// The log's length, in pages, past which the writer starts it over:
/// 64 MiB of 4 KiB pages. The tests use a smaller mark.
const RESTART_LOG_AT: u64 = if cfg!(test) { 2048 } else { 16384 };

impl Checkpoints {
    /// `shared`: the readers' pool, which checkpoints beside the writer.
    pub fn new(shared: Storage) -> Self {
        Self {
            shared,
            last: Instant::now(),
            running: Arc::default(),
            restart: Arc::default(),
        }
    }

    /// Called by the writer after each commit, with its own connection.
    pub fn after_commit(&mut self, own: &Storage) {
        if self.restart.swap(false, Relaxed) {
            let started = Instant::now();
            match own.checkpoint_here() {
                Ok(()) => tracing::debug!("message log checkpointed in {:?}", started.elapsed()),
                Err(e) => tracing::warn!("checkpoint of the message log failed: {e}"),
            }
        }
        if self.last.elapsed() < CHECKPOINT_EVERY || self.running.swap(true, Relaxed) {
            return;
        }
        self.last = Instant::now();
        let (shared, running, restart) = (
            self.shared.clone(),
            self.running.clone(),
            self.restart.clone(),
        );
        tokio::spawn(async move {
            match shared.checkpoint().await {
                Ok(pages) => restart.store(pages > RESTART_LOG_AT, Relaxed),
                Err(e) => tracing::warn!("checkpoint of the message log failed: {e}"),
            }
            running.store(false, Relaxed);
        });
    }
}
