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
//!
//! Trimming can return only pages that hold no block in use, and a runtime
//! worker's own cache (glibc's tcache: up to 7 freed blocks of each of 64
//! sizes, kept for that thread alone) counts as in use. After a crowd's
//! sockets close, those ~450 blocks per worker are the last ones freed,
//! scattered over the whole heap the crowd grew, one to a page: walking the
//! arenas after 10,000 sockets closed found 475 of a worker's 575 resident
//! pages held by nothing else (bench/NOTES.md). No call empties another
//! thread's cache, so each worker swaps its own ([`swap_worker_caches`])
//! just before the trim. Threads that are not ours hold such blocks too
//! (the database pool's): the caller's `release` ends them first (closing
//! idle connections), and as a thread may finish just after, the trim runs
//! once more at the next look.

use crate::metrics::counters::Metrics;
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::Duration,
};

/// How often the open-socket count is looked at.
const EVERY: Duration = Duration::from_secs(5);
/// Sockets that must have closed since the last trim (or since the peak
/// after it) before trimming is worth a walk over the arenas.
const TRIM_AFTER_CLOSES: i64 = 500;

/// Starts the task; it runs for the life of the process. `release`: what
/// else to let go of when a crowd has left, before the trim (the storage's
/// idle connections, whose threads' caches pin pages too).
pub fn spawn<F, Fut>(metrics: Arc<Metrics>, release: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        let mut again = false;
        loop {
            ticks.tick().await;
            if crowd_left(&metrics) {
                release().await;
                again = true;
            } else if std::mem::take(&mut again) {
                // A thread that `release` ended may have finished after
                // the trim: its cache is in the arenas now.
            } else {
                continue;
            }
            swap_worker_caches().await;
            let _ = tokio::task::spawn_blocking(give_back).await;
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

/// How long a worker's swap waits for the others to be running theirs at
/// once, which is what puts one on each worker. Idle workers take their
/// task within microseconds; a worker busy with a long poll may not, and
/// then the rest go ahead rather than hold their threads.
const SWAP_WAIT: Duration = Duration::from_millis(200);

/// Has every runtime worker swap its allocator cache
/// ([`swap_thread_cache`]). There is no call to run code on a chosen
/// worker, so one task per worker is spawned and each holds its thread
/// until all have started: no worker can then be running two of them.
async fn swap_worker_caches() {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let started = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let started = started.clone();
            tokio::spawn(async move {
                started.fetch_add(1, Relaxed);
                let since = std::time::Instant::now();
                while started.load(Relaxed) < workers && since.elapsed() < SWAP_WAIT {
                    std::thread::yield_now();
                }
                swap_thread_cache();
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// glibc's per-thread cache, with its default tunables: 64 bins of chunk
/// sizes 32, 48, ... 1040 bytes, up to 7 blocks each.
const CACHE_BINS: usize = 64;
const CACHE_PER_BIN: usize = 7;
/// Chunk size of bin `bin` (a block's usable size plus 8 bytes of header).
const fn cache_chunk(bin: usize) -> usize {
    32 + 16 * bin
}
/// The cache is refilled from a few blocks ("spans"), each cut into the
/// chunks of this many bins.
const BINS_PER_SPAN: usize = 16;
/// What a span keeps after the cuts: too big for the cache, so freeing it
/// returns it to the arena.
const SPAN_TAIL: usize = 2 * cache_chunk(CACHE_BINS);
/// Chunk size of the span for bins `first..first + BINS_PER_SPAN`.
const fn span_chunk(first: usize) -> usize {
    let mut total = SPAN_TAIL;
    let mut bin = first;
    while bin < first + BINS_PER_SPAN {
        total += CACHE_PER_BIN * cache_chunk(bin);
        bin += 1;
    }
    total
}
// The largest span must come from the arena, not from mmap: under glibc's
// lowest mmap threshold (its default, 128 KiB; fix_thresholds raises it).
const _: () = assert!(span_chunk(CACHE_BINS - BINS_PER_SPAN) < 128 * 1024);

/// Swaps the blocks this thread's allocator cache holds (the last ones it
/// freed, anywhere in the heap) for blocks side by side, and frees the old
/// ones into the arena, where trimming can return their pages.
///
/// Taking 7 blocks of each size empties the cache. Then each span is
/// shrunk in place by one chunk at a time: glibc frees each cut-off tail as
/// a chunk of that size, into the cache while it has room, so the cache
/// ends up holding four runs of adjacent chunks (~60 pages in all). The old
/// blocks, freed last, find it full and go back to the arena.
pub fn swap_thread_cache() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let old = take_cached_blocks();
        for first in (0..CACHE_BINS).step_by(BINS_PER_SPAN) {
            refill_from_span(first);
        }
        for block in old {
            // SAFETY: from malloc in take_cached_blocks, freed once here
            // (free of a null pointer from a failed malloc does nothing).
            unsafe { libc::free(block) };
        }
    }
}

/// Takes 7 blocks of each of the cache's sizes: what the cache held, so
/// it is empty afterwards.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn take_cached_blocks() -> Vec<*mut libc::c_void> {
    let mut blocks = Vec::with_capacity(CACHE_BINS * CACHE_PER_BIN);
    for bin in 0..CACHE_BINS {
        // The largest request that still fits this bin's chunk size.
        let size = cache_chunk(bin) - 8;
        // SAFETY: plain malloc; the caller frees each block once.
        blocks.extend((0..CACHE_PER_BIN).map(|_| unsafe { libc::malloc(size) }));
    }
    blocks
}

/// Fills the cache's bins `first..first + BINS_PER_SPAN` with the tails
/// cut off one span, then frees what is left of it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn refill_from_span(first: usize) {
    let mut chunk = span_chunk(first);
    // SAFETY: plain malloc, realloc and free of one block, freed once at
    // the end; a failed realloc leaves the block as it was.
    unsafe {
        let mut span = libc::malloc(chunk - 8);
        let cuts = (first..first + BINS_PER_SPAN).flat_map(|bin| [bin; CACHE_PER_BIN]);
        for bin in cuts {
            if span.is_null() {
                return;
            }
            chunk -= cache_chunk(bin);
            let shrunk = libc::realloc(span, chunk - 8);
            if shrunk.is_null() {
                break;
            }
            span = shrunk;
        }
        libc::free(span);
    }
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
        let metrics = crate::metrics::counters::Metrics::default();
        assert!(!super::crowd_left(&metrics));
        metrics.connections_high.fetch_max(600, Relaxed);
        assert!(super::crowd_left(&metrics), "600 opened and closed");
        assert!(!super::crowd_left(&metrics), "nothing closed since");
        metrics.connections.store(300, Relaxed);
        metrics.connections_high.fetch_max(300, Relaxed);
        assert!(!super::crowd_left(&metrics), "300 open, none closed");
    }

    /// How many of the pages that held `blocks` are resident.
    fn resident_pages(blocks: &[*mut libc::c_void]) -> usize {
        let pages: std::collections::BTreeSet<usize> =
            blocks.iter().map(|&block| block as usize & !4095).collect();
        let resident = |&page: &usize| {
            let mut bit = 0u8;
            // SAFETY: the page is in heap memory that is still mapped (a
            // block after it stays allocated); `bit` takes its one byte.
            let rc = unsafe { libc::mincore(page as *mut _, 4096, &mut bit) };
            assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
            bit & 1 == 1
        };
        pages.iter().filter(|page| resident(page)).count()
    }

    /// On a thread of its own: what a crowd's close leaves in the thread's
    /// allocator cache (7 blocks of each of its 64 sizes, freed last, each
    /// on a page of its own among ~30 MB of freed blocks), then `tidy`,
    /// then a trim. Returns how many of the crowd's pages stay resident.
    fn crowd_pages_after(tidy: fn()) -> usize {
        std::thread::spawn(move || {
            let bins = super::CACHE_BINS;
            let cached = bins * super::CACHE_PER_BIN;
            let rounds = 2 * cached;
            // One allocation for the list (mmapped: far above the threshold),
            // so that nothing but the crowd's blocks lies among them.
            let mut blocks = Vec::with_capacity(rounds * bins);
            for _round in 0..rounds {
                let sizes = (0..bins).map(|bin| super::cache_chunk(bin) - 8);
                // SAFETY: plain malloc and free, each block freed once below.
                blocks.extend(sizes.map(|size| unsafe { libc::malloc(size) }));
            }
            let survivor = vec![1u8; 1000];
            // Copy j of bin b comes from round 2 × (64 × j + b): 8 pages apart.
            let is_cached = |round: usize, bin: usize| {
                round.is_multiple_of(2) && (round / 2) % bins == bin && round / 2 < cached
            };
            // The cached copies first, while the cache has room.
            for pass in [true, false] {
                for (i, &block) in blocks.iter().enumerate() {
                    if is_cached(i / bins, i % bins) == pass {
                        unsafe { libc::free(block) };
                    }
                }
            }
            tidy();
            super::give_back();
            let resident = resident_pages(&blocks);
            drop(survivor);
            resident
        })
        .join()
        .unwrap()
    }

    /// Trimming cannot return a page that holds a block in the thread's
    /// cache; once the cache is swapped for blocks side by side, it can.
    #[test]
    fn a_swapped_cache_lets_the_crowds_pages_go() {
        let kept = crowd_pages_after(|| {});
        let swapped = crowd_pages_after(super::swap_thread_cache);
        assert!(kept >= 300, "{kept} pages kept by the cache without a swap");
        assert!(
            swapped * 2 <= kept,
            "{swapped} pages kept after the swap, {kept} without"
        );
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
