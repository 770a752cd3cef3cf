//! How answers travel: compressed when the client accepts it, static files
//! precompressed and cached as their names allow, and what must not be
//! compressed (event streams, WebSocket upgrades) left alone.

use crate::common::TestServer;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, IF_MODIFIED_SINCE};

/// A site directory with a build file and its precompressed copies, as
/// `cargo leptos build --release --precompress` leaves it.
fn site() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("chat-site-{}", uuid::Uuid::new_v4()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("chat.js"), "x".repeat(10_000)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(pkg.join("chat.js.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("chat.js.gz"), b"gzip bytes").unwrap();
    std::fs::write(root.join("favicon.svg"), "<svg/>".repeat(100)).unwrap();
    root
}

async fn start(root: &std::path::Path, hashed: bool) -> TestServer {
    let root = root.to_str().unwrap().to_owned();
    TestServer::start_with(move |c| {
        c.leptos.site_root = root.into();
        c.leptos.hash_files = hashed;
    })
    .await
}

#[tokio::test]
async fn build_files_go_out_precompressed_and_are_revalidated_unless_hashed() {
    let root = site();
    let server = start(&root, false).await;
    let client = reqwest::Client::new();
    let url = server.http("/pkg/chat.js");
    let br = client
        .get(&url)
        .header(ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()[CONTENT_ENCODING], "br");
    assert_eq!(br.headers()[CACHE_CONTROL], "no-cache");
    let modified = br.headers()["last-modified"].clone();
    assert_eq!(br.bytes().await.unwrap(), &b"brotli bytes"[..]);
    let gz = client
        .get(&url)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip");
    let plain = client.get(&url).send().await.unwrap();
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(plain.bytes().await.unwrap().len(), 10_000);
    // A file without a copy in that encoding goes out as it is, never
    // compressed per request (a debug build's WASM is 11 MB).
    let icon = server.http("/favicon.svg");
    let raw = client
        .get(&icon)
        .header(ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert!(raw.headers().get(CONTENT_ENCODING).is_none());
    // A browser that has it is told it still has it.
    let again = client
        .get(&url)
        .header(IF_MODIFIED_SINCE, modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let icon = client
        .get(server.http("/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.headers()[CACHE_CONTROL], "public, max-age=86400");
    // A missing file is the app's "not found" page, uncached.
    let missing = client
        .get(server.http("/pkg/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get(CACHE_CONTROL).is_none());
    drop(server);

    let hashed = start(&root, true).await;
    let file = client
        .get(hashed.http("/pkg/chat.js"))
        .send()
        .await
        .unwrap();
    let immutable = "public, max-age=31536000, immutable";
    assert_eq!(file.headers()[CACHE_CONTROL], immutable);
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn a_precompressed_copy_older_than_its_file_is_never_sent() {
    let root = site();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // A debug build rewrites the file over a release build's copies.
    std::fs::write(root.join("pkg/chat.js"), "new build").unwrap();
    let server = start(&root, false).await;
    let file = reqwest::Client::new()
        .get(server.http("/pkg/chat.js"))
        .header(ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert_ne!(
        file.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes()),
        Some(&b"br"[..])
    );
    assert!(!root.join("pkg/chat.js.br").exists());
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn pages_and_json_are_compressed_and_streams_and_sockets_are_not() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let page = client
        .get(server.http("/chat/"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[CONTENT_ENCODING], "gzip");
    let body = page.bytes().await.unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
    let live = client
        .get(server.http("/api/rooms/live"))
        .header(ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    assert!(live.headers().get(CONTENT_ENCODING).is_none());
    // A socket still opens through the compression layer, and talks.
    let alice = server.user("alice").await;
    let mut socket = server.join_as(&alice, "hall").await;
    socket.say("still plain frames").await;
    assert_eq!(
        socket.expect("chat_message").await["message"],
        "still plain frames"
    );
    let rooms = client
        .get(server.http("/api/rooms"))
        .header(ACCEPT_ENCODING, "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(rooms.status(), 200);
    // Brotli's per-answer set-up costs more than the page: gzip it is.
    assert_eq!(rooms.headers()[CONTENT_ENCODING], "gzip");
}
