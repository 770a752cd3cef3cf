//! How answers travel: compressed for a client that accepts it, and the
//! site's static files cached for as long as their names allow.
//!
//! - Pages and JSON are compressed on the way out with gzip, never brotli:
//!   brotli sets up its window and tables for every answer, and at
//!   quality 4 that made a 4 KB page cost 4.4x the CPU of sending it plain
//!   (gzip: 1.2x) for 6% fewer bytes (bench/NOTES.md); event streams, WebSocket
//!   upgrades, tiny bodies and static files are not (a file is sent as its
//!   precompressed copy or as it is: compressing a debug build's 11 MB
//!   WASM per request took a debug server 2 s).
//! - The release build's static files come precompressed (`cargo leptos
//!   build --release --precompress` writes `.br` and `.gz` beside each,
//!   at the highest quality), and the file handler sends those as they
//!   are: the 1.7 MB WASM leaves as about 0.45 MB without costing a
//!   request any CPU. A precompressed copy older than its file would send
//!   yesterday's WASM with today's JavaScript, so [`drop_stale_copies`]
//!   removes such copies at start-up.
//! - With content-hashed names (`LEPTOS_HASH_FILES`), `/pkg/` files never
//!   change under their name: cached for a year, `immutable`. Without,
//!   the browser asks each time and gets `304 Not Modified` when nothing
//!   changed.
//!
//! Must never import storage, the layer, presence or the chat domain.

use axum::{
    body::Body,
    extract::Request,
    http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode, Version, header},
    response::{IntoResponse, Response},
};
use std::path::Path;
use tower::ServiceExt;
use tower_http::{
    compression::{
        CompressionLayer, CompressionLevel,
        predicate::{DefaultPredicate, Predicate},
    },
    services::ServeDir,
};

/// Gzip for dynamic answers (a browser that prefers brotli gets gzip):
/// level 4 compresses a page within a few percent of the best at a
/// fraction of its CPU.
pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .no_br()
        .quality(CompressionLevel::Precise(4))
        .compress_when(DefaultPredicate::new().and(not_switching).and(not_a_file))
}

/// Marks an answer from [`StaticFiles`]: never compressed on the way out.
#[derive(Clone, Copy)]
struct StaticFile;

fn not_a_file(_: StatusCode, _: Version, _: &HeaderMap, extensions: &Extensions) -> bool {
    extensions.get::<StaticFile>().is_none()
}

/// A `101 Switching Protocols` answer has no body to compress: the
/// connection becomes a WebSocket.
fn not_switching(status: StatusCode, _: Version, _: &HeaderMap, _: &Extensions) -> bool {
    status != StatusCode::SWITCHING_PROTOCOLS
}

/// The site's static files: precompressed copies when the client accepts
/// them, `304 Not Modified` for a browser that has the file, and the
/// cache policy of [`cache_policy`].
#[derive(Clone)]
pub struct StaticFiles {
    files: ServeDir,
    pkg_dir: String,
    hashed: bool,
}

impl StaticFiles {
    /// The files under `site_root`; `pkg_dir`: where the build's own files
    /// are; `hashed`: their names carry their content's hash.
    pub fn new(site_root: &str, pkg_dir: &str, hashed: bool) -> Self {
        let files = ServeDir::new(site_root)
            .precompressed_br()
            .precompressed_gzip();
        let pkg_dir = pkg_dir.to_owned();
        Self {
            files,
            pkg_dir,
            hashed,
        }
    }

    /// The file the request names, or the request back if there is none
    /// (for the app's own "not found" page).
    pub async fn serve(&self, request: Request) -> Result<Response, Request> {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return Err(request);
        }
        let (parts, body) = request.into_parts();
        let probe = Request::from_parts(parts.clone(), Body::empty());
        let Ok(answer) = self.files.clone().oneshot(probe).await;
        if answer.status() == StatusCode::NOT_FOUND {
            return Err(Request::from_parts(parts, body));
        }
        let mut answer = answer.into_response();
        answer.extensions_mut().insert(StaticFile);
        if answer.status().is_success() || answer.status() == StatusCode::NOT_MODIFIED {
            let policy = cache_policy(parts.uri.path(), &self.pkg_dir, self.hashed);
            answer
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        }
        Ok(answer)
    }
}

/// How long a browser may keep a static file served under `path`.
/// `hashed`: the build names `/pkg/` files by their content.
pub fn cache_policy(path: &str, pkg_dir: &str, hashed: bool) -> &'static str {
    let in_pkg = path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(pkg_dir))
        .is_some_and(|rest| rest.starts_with('/'));
    match (in_pkg, hashed) {
        (true, true) => "public, max-age=31536000, immutable",
        // Icons and the like: a day, then asked again.
        (false, _) => "public, max-age=86400",
        // Same name, new content after a deploy: asked each time (a
        // `304` when unchanged).
        (true, false) => "no-cache",
    }
}

/// Removes every `.br` / `.gz` copy under `site_root` whose file is gone
/// or newer than it (a debug build over a release one rewrites the files
/// and leaves the copies); how many it removed.
pub fn drop_stale_copies(site_root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(site_root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            removed += drop_stale_copies(&path);
            continue;
        }
        let is_copy = matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz"));
        if !is_copy || !is_stale(&path) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!("stale precompressed {}: {e}", path.display()),
        }
    }
    removed
}

/// Whether a compressed copy no longer matches its file.
fn is_stale(copy: &Path) -> bool {
    let original = copy.with_extension("");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(&original), modified(copy)) {
        (Some(file), Some(copy)) => file > copy,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_package_files_are_immutable_and_others_are_revalidated() {
        let immutable = "public, max-age=31536000, immutable";
        assert_eq!(cache_policy("/pkg/chat.1a2b.wasm", "pkg", true), immutable);
        assert_eq!(cache_policy("/pkg/chat.wasm", "pkg", false), "no-cache");
        assert_eq!(
            cache_policy("/favicon.svg", "pkg", true),
            "public, max-age=86400"
        );
        // A name that merely starts like the directory is not in it.
        assert_eq!(
            cache_policy("/pkgs/x.js", "pkg", true),
            "public, max-age=86400"
        );
    }

    #[test]
    fn copies_older_than_their_file_or_without_one_are_removed() {
        let dir = std::env::temp_dir().join(format!("chat-assets-{}", uuid::Uuid::new_v4()));
        let pkg = dir.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let write = |name: &str| std::fs::write(pkg.join(name), name).unwrap();
        write("fresh.wasm.br");
        write("stale.wasm.gz");
        write("orphan.js.br");
        std::thread::sleep(std::time::Duration::from_millis(20));
        write("stale.wasm");
        write("fresh.wasm");
        std::thread::sleep(std::time::Duration::from_millis(20));
        write("fresh.wasm.br");
        assert_eq!(drop_stale_copies(&dir), 2);
        assert!(pkg.join("fresh.wasm.br").exists());
        assert!(!pkg.join("stale.wasm.gz").exists());
        assert!(!pkg.join("orphan.js.br").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
