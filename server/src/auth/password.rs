//! Password hashing with argon2id (the `argon2` crate's defaults, the OWASP
//! recommendation), on `PASSWORD_HASHES_AT_ONCE` threads of its own (never
//! on the async runtime): each hash holds 19 MiB and a core for a while, so
//! requests wait for a free thread at most `PASSWORD_HASH_WAIT_SECS`, then
//! are refused as busy. Fixed threads rather than tokio's blocking pool,
//! because glibc keeps the freed 19 MiB buffers in a per-thread arena:
//! with a pool that grows to dozens of threads, a login flood left the
//! process gigabytes larger; with N threads it keeps at most N arenas.

use super::AccountError;
use app::account::AuthError;
use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{self, Output, ParamsString, Salt, SaltString, rand_core::OsRng},
};
use std::{sync::OnceLock, time::Duration};
use tokio::sync::Semaphore;

pub struct Hasher {
    slots: Semaphore,
    wait: Duration,
    jobs: std::sync::mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Default for Hasher {
    /// One hash per core, waiting up to 5 s (the command line's hasher).
    fn default() -> Self {
        let limits = crate::config::Limits::default();
        Self::new(limits.hashes_at_once, limits.hash_wait)
    }
}

/// A hashing thread's loop: jobs until the hasher is dropped. The lock is
/// held only while waiting for a job. After [`KEEP_MEMORY`] without one,
/// the thread's argon2 memory is given back, so a burst of logins does not
/// leave the process 19 MiB per thread larger for good (threads waiting
/// for the lock time out in turn, so all give it back within N × that).
fn work_on(queue: &std::sync::Mutex<std::sync::mpsc::Receiver<Job>>) {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        let job = queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(KEEP_MEMORY);
        match job {
            Ok(job) => job(),
            Err(RecvTimeoutError::Timeout) => {
                // The freed buffer sits in this thread's arena, not at the
                // top of the heap, so glibc keeps its pages unless asked;
                // the thread's cache holds blocks of the burst's requests,
                // freed here, which would keep theirs.
                let freed = MEMORY.take();
                if freed.capacity() > 0 {
                    drop(freed);
                    crate::serve::trim::swap_thread_cache();
                    crate::serve::trim::give_back();
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
    }
}

/// How long a hashing thread keeps its memory between hashes: long enough
/// that a stream of logins reuses it, short enough to be back soon after.
const KEEP_MEMORY: Duration = Duration::from_secs(2);

impl Hasher {
    /// Starts `at_once` hashing threads; they end when the hasher is dropped.
    pub fn new(at_once: usize, wait: Duration) -> Self {
        let at_once = at_once.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for n in 0..at_once {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work_on(&queue));
            if let Err(e) = spawned {
                tracing::error!("cannot start a hashing thread: {e}");
            }
        }
        Self {
            slots: Semaphore::new(at_once),
            wait,
            jobs,
        }
    }

    /// Runs `work` on a hashing thread once one is free (a slot is held
    /// per thread, so a job never queues behind another).
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let _slot = tokio::time::timeout(self.wait, self.slots.acquire())
            .await
            .map_err(|_| AccountError::Refused(AuthError::Busy))?
            .map_err(|e| AccountError::Internal(format!("hashing slots: {e}")))?;
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| AccountError::Internal("the hashing threads are gone".into()))?;
        result
            .await
            .map_err(|_| AccountError::Internal("a hashing job was lost".into()))?
    }

    pub async fn hash(&self, password: String) -> Result<String, AccountError> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            hash_in_place(Argon2::default(), password.as_bytes(), salt.as_salt())
                .map(|h| h.to_string())
                .map_err(|e| AccountError::Internal(format!("hashing: {e}")))
        })
        .await
    }

    /// Checks `password` against `hash`; with no hash (no such user),
    /// against a decoy, so the answer takes as long either way.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, AccountError> {
        self.run(move || {
            let stored: &str = match &hash {
                Some(hash) => hash,
                None => decoy_hash(),
            };
            let parsed = PasswordHash::new(stored)
                .map_err(|e| AccountError::Internal(format!("stored hash: {e}")))?;
            Ok(verify_in_place(password.as_bytes(), &parsed))
        })
        .await
    }
}

thread_local! {
    /// This hashing thread's argon2 memory (19 MiB with the defaults),
    /// kept from one hash to the next instead of allocated for each.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What `Argon2::hash_password` does, in this thread's [`MEMORY`].
fn hash_in_place<'a>(
    argon2: Argon2<'_>,
    password: &[u8],
    salt: Salt<'a>,
) -> password_hash::Result<PasswordHash<'a>> {
    let params = argon2.params().clone();
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output =
        MEMORY.with_borrow_mut(|blocks| {
            blocks.resize(params.block_count(), Block::default());
            Output::init_with(output_len, |out| {
                Ok(argon2.hash_password_into_with_memory(
                    password,
                    salt_bytes,
                    out,
                    &mut blocks[..],
                )?)
            })
        })?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt),
        hash: Some(output),
    })
}

/// What `PasswordVerifier::verify_password` does, in this thread's
/// [`MEMORY`]; the outputs are compared in constant time (`Output`'s `==`).
fn verify_in_place(password: &[u8], hash: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (hash.salt, &hash.hash) else {
        return false;
    };
    let argon2 = (|| {
        let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
        let version = hash
            .version
            .map_or(Ok(Version::default()), Version::try_from)
            .ok()?;
        let params = Params::try_from(hash).ok()?;
        Some(Argon2::new(algorithm, version, params))
    })();
    let Some(argon2) = argon2.filter(|_| hash.algorithm == Algorithm::Argon2id.ident()) else {
        return false;
    };
    hash_in_place(argon2, password, salt)
        .is_ok_and(|computed| computed.hash.as_ref() == Some(expected))
}

/// A hash of a random password, checked when the username does not exist.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hash_in_place(Argon2::default(), salt.as_str().as_bytes(), salt.as_salt())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_per_salt() {
        let h = Hasher::default();
        let a = h.hash("correct horse".into()).await.unwrap();
        let b = h.hash("correct horse".into()).await.unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(
            h.verify("correct horse".into(), Some(a.clone()))
                .await
                .unwrap()
        );
        assert!(!h.verify("wrong horse".into(), Some(a)).await.unwrap());
        assert!(!h.verify("correct horse".into(), None).await.unwrap());
    }

    #[test]
    fn hashes_made_by_the_crate_itself_verify_here_and_back() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"pw 12345", &salt).unwrap();
        assert!(verify_in_place(b"pw 12345", &theirs));
        assert!(!verify_in_place(b"pw 12346", &theirs));
        let ours = hash_in_place(Argon2::default(), b"pw 12345", salt.as_salt()).unwrap();
        assert_eq!(ours.to_string(), theirs.to_string());
        assert!(
            Argon2::default()
                .verify_password(b"pw 12345", &ours)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn beyond_the_slots_a_request_waits_then_is_busy() {
        let h = std::sync::Arc::new(Hasher::new(1, Duration::from_millis(1)));
        let busy = h.clone();
        let (first, second) = tokio::join!(
            h.hash("correct horse".into()),
            busy.hash("correct horse".into())
        );
        assert!(first.is_ok());
        assert!(matches!(
            second,
            Err(AccountError::Refused(AuthError::Busy))
        ));
    }
}
