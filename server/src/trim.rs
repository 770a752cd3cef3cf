//! Gives the allocator's free memory back to the system after a crowd of
//! sockets leaves. glibc keeps freed heap pages in its arenas for reuse and
//! hands back only what is at the very top of a heap, so 10,000 sockets
//! that came and went left the process ~100 MB larger for good (measured:
//! 17 MB at start, 117 MB with 10,000 idle sockets and the same after they
//! closed; `malloc_trim(0)` then brought it to 24 MB). We measured jemalloc
//! and mimalloc too: both held more per socket and neither gave the memory
//! back either (bench/NOTES.md).
//!
//! Before any of that, [`fix_thresholds`]: glibc raises its mmap and trim
//! thresholds each time it frees a large mmapped block (up to 32 MiB and
//! 64 MiB), so after the first argon2 buffer (19 MiB) or the first big
//! table is freed, later ones come from the arenas, and an arena keeps up
//! to twice that at its top even after `malloc_trim`, which trims only the
//! main heap's top (measured: two worker arenas held 2.1 and 1.9 MB after
//! 10,000 sockets closed; heaptrack put the live heap at 1.4 MB).
//!
//! Trimming walks every arena, so it runs only when the open-socket count
//! has fallen by [`TRIM_AFTER_CLOSES`] since the last trim, off the async
//! threads. Argon2's buffers are given back by the hashing threads
//! themselves (auth/password.rs). Must never import storage or the layer.

use crate::metrics::Metrics;
use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

/// How often the open-socket count is looked at.
const EVERY: Duration = Duration::from_secs(5);
/// Sockets that must have closed since the last trim (or since the peak
/// after it) before trimming is worth a walk over the arenas.
const TRIM_AFTER_CLOSES: i64 = 500;

/// Starts the task; it runs for the life of the process.
pub fn spawn(metrics: Arc<Metrics>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            ticks.tick().await;
            if crowd_left(&metrics) {
                let _ = tokio::task::spawn_blocking(give_back).await;
            }
        }
    });
}

/// Whether [`TRIM_AFTER_CLOSES`] sockets have closed since the last look
/// that said so. The high-water mark, not a sample, is compared: 10,000
/// sockets that open and close between two looks must count too.
fn crowd_left(metrics: &Metrics) -> bool {
    let open = metrics.connections.load(Relaxed);
    let peak = metrics.connections_high.load(Relaxed);
    if peak - open < TRIM_AFTER_CLOSES {
        return false;
    }
    metrics.connections_high.store(open, Relaxed);
    true
}

/// Blocks of at least this size get pages of their own, returned whole
/// when freed; a socket's blocks are all far smaller.
const MMAP_AT: i32 = 256 * 1024;
/// Free memory an arena may keep at its top before it is given back.
const KEEP_AT_TOP: i32 = 512 * 1024;

/// Fixes glibc's mmap and trim thresholds (setting them turns off their
/// dynamic growth), so large buffers never settle in an arena and every
/// arena's top is given back past [`KEEP_AT_TOP`]. Call once, at start.
pub fn fix_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's parameters under its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_AT);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_AT_TOP);
    }
}

/// Returns the free pages of every arena to the system.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only takes the allocator's own locks; it is safe
    // to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    /// Resident memory of this process, in MiB.
    fn rss_mib() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        (pages * 4096) >> 20
    }

    /// A crowd that came and went between two looks is seen; a second
    /// look without new closes does not trim again.
    #[test]
    fn a_crowd_between_two_looks_counts_once() {
        use std::sync::atomic::Ordering::Relaxed;
        let metrics = crate::metrics::Metrics::default();
        assert!(!super::crowd_left(&metrics));
        metrics.connections_high.fetch_max(600, Relaxed);
        assert!(super::crowd_left(&metrics), "600 opened and closed");
        assert!(!super::crowd_left(&metrics), "nothing closed since");
        metrics.connections.store(300, Relaxed);
        metrics.connections_high.fetch_max(300, Relaxed);
        assert!(!super::crowd_left(&metrics), "300 open, none closed");
    }

    /// What a crowd of sockets leaves behind: many small blocks, freed
    /// while a later one stays (so the heap's top cannot shrink by itself).
    /// Without trimming the process keeps the pages.
    #[test]
    fn freed_small_blocks_go_back_to_the_system() {
        let blocks: Vec<Vec<u8>> = (0..200_000).map(|_| vec![1u8; 1000]).collect();
        let survivor = vec![1u8; 1000];
        drop(blocks);
        let before = rss_mib();
        super::give_back();
        let after = rss_mib();
        assert!(
            before >= after + 100,
            "RSS {before} MiB before trimming, {after} MiB after"
        );
        drop(survivor);
    }
}
