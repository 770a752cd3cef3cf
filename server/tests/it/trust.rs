//! Trust boundaries (issue 14), each tried the way an attacker would:
//! lookalike and blank names, fake reactions, control characters,
//! cross-site posts, rights that change while sockets are open, and the
//! headers every page carries.

use crate::common::{Client, PASSWORD, TestServer, act, post_json};
use reqwest::{StatusCode, redirect::Policy};
use serde_json::{Value, json};

/// Registers `name` through the API; the status and the answer.
async fn register(server: &TestServer, name: &str) -> (u16, Value) {
    let body = json!({"username": name, "password": PASSWORD});
    post_json(server, "/api/register", None, &body).await
}

#[tokio::test]
async fn lookalike_and_blank_usernames_are_refused_and_the_original_still_logs_in() {
    let server = TestServer::start().await;
    server.user("alevukqc").await;
    for twin in [
        "Alevukqc",
        "\u{430}levukqc",   // Cyrillic а
        "ａｌｅｖｕｋｑｃ", // fullwidth
        "ALEVUKQC",
    ] {
        let (status, body) = register(&server, twin).await;
        assert_eq!(status, 409, "{twin}: {body}");
        assert_eq!(body["error"]["code"], "username_taken", "{twin}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("looks like"),
            "{body}"
        );
    }
    for blank in [
        "\u{3164}\u{3164}\u{3164}",
        "a\u{3164}\u{3164}",
        "___",
        "a\u{200B}b",
    ] {
        let (status, body) = register(&server, blank).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_username")),
            "{blank:?}"
        );
    }
    // The original is untouched and logs in; names are shown as typed.
    let alice = server.login("alevukqc").await;
    let (status, _) = register(&server, "Ана").await;
    assert_eq!(status, 201, "a name in another script is fine on its own");
    let mut room = server.join_as(&alice, "names").await;
    room.say("hi").await;
    assert_eq!(room.expect("chat_message").await["user"], "alevukqc");
}

#[tokio::test]
async fn accounts_made_before_keys_keep_working_and_the_collision_is_reported() {
    let server = TestServer::start().await;
    server.user("olga").await;
    // Two lookalikes as an older release could have stored them (no key).
    let storage = server::storage::Storage::open(&server.database_url)
        .await
        .unwrap();
    let hash = server::auth::Hasher::default()
        .hash(PASSWORD.to_owned())
        .await
        .unwrap();
    for name in ["bоris", "boris"] {
        // the first has a Cyrillic о
        server::with_pool!(storage, pool => sqlx::query(
            "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(name)
        .bind(&hash)
        .bind(server::storage::Stamp::now())
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
    }
    let collisions = storage.fill_lookalike_keys().await.unwrap();
    assert_eq!(collisions.len(), 1, "{collisions:?}");
    assert_eq!(collisions[0].name, "boris");
    assert_eq!(collisions[0].looks_like, "bоris");
    // Both still log in; a third lookalike of either is refused.
    server.login("bоris").await;
    server.login("boris").await;
    assert_eq!(register(&server, "Boris").await.0, 409);
    assert!(storage.fill_lookalike_keys().await.unwrap().len() == 1);
}

#[tokio::test]
async fn a_lookalike_room_cannot_be_opened_started_or_created() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let root = server.admin("root").await;
    let mut general = server.join_as(&alice, "general").await;
    general.say("the real one").await;
    general.expect("chat_message").await;

    let fake = "g\u{435}neral"; // Cyrillic е
    let refused = Client::connect(&server.ws_url(fake), &[("Cookie", alice.cookie.as_str())])
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.status, 409);
    assert_eq!(refused.body["error"]["code"], "room_name_taken");
    let (status, html) = server.page(&format!("/chat/{fake}/"), None).await;
    assert_eq!(status, 409);
    assert!(html.contains("looks just like the room"), "{html}");
    // The history API keeps the same door (one rule: chat/access.rs).
    let path = format!("/api/rooms/{}/messages", app::names::percent_encode(fake));
    let history = reqwest::get(server.http(&path)).await.unwrap();
    assert_eq!(history.status(), 409);
    let body: Value = history.json().await.unwrap();
    assert_eq!(body["error"]["code"], "room_name_taken", "{body}");

    let (status, body) = act(
        &server,
        &root,
        json!({"action": "create_room", "room": "GENERAL", "admin_only": false}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("room_name_taken"))
    );
    let rooms: Value = reqwest::get(server.http("/api/rooms"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rooms.as_array().unwrap().len(), 1, "{rooms}");
}

#[tokio::test]
async fn a_room_nobody_has_stored_yet_loses_the_race_to_its_lookalike() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    // Both open their (not yet stored) rooms, then alice posts first.
    let mut a = server.join_as(&alice, "lounge").await;
    let mut b = server.join_as(&bob, "L\u{43E}UNGE").await; // Cyrillic О
    a.say("first").await;
    a.expect("chat_message").await;
    b.say("second").await;
    let refusal = b.expect("error").await;
    assert_eq!(refusal["code"], "room_name_taken", "{refusal}");
    assert!(refusal["message"].as_str().unwrap().contains("lounge"));
}

#[tokio::test]
async fn fake_reactions_and_the_21st_distinct_one_are_refused() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let mut a = server.join_as(&alice, "emoji").await;
    let mut b = server.join_as(&bob, "emoji").await;
    a.say("react to me").await;
    let seq = a.expect("chat_message").await["seq"].clone();
    b.expect("chat_message").await;
    for bad in ["ИДИОТ", "\u{202E}", "👍👍", "\u{200B}"] {
        a.send_json(json!({"type": "react", "seq": seq, "emoji": bad}))
            .await;
        assert_eq!(a.expect("error").await["code"], "invalid_emoji", "{bad:?}");
    }
    b.assert_silent().await;

    let twenty: Vec<&str> = emojis::iter().take(21).map(|e| e.as_str()).collect();
    for emoji in &twenty[..20] {
        a.send_json(json!({"type": "react", "seq": seq, "emoji": emoji}))
            .await;
        a.expect("reaction").await;
        b.expect("reaction").await;
    }
    b.send_json(json!({"type": "react", "seq": seq, "emoji": twenty[20]}))
        .await;
    let refusal = b.expect("error").await;
    assert_eq!(refusal["code"], "invalid_emoji");
    assert!(refusal["message"].as_str().unwrap().contains("20"));
    // Joining an existing reaction is still fine, and history holds 20.
    b.send_json(json!({"type": "react", "seq": seq, "emoji": twenty[0]}))
        .await;
    assert_eq!(b.expect("reaction").await["users"], json!(["alice", "bob"]));
    let fresh = server.join("emoji").await;
    let reactions = fresh.history["messages"][0]["reactions"]
        .as_array()
        .unwrap();
    assert_eq!(reactions.len(), 20);
}

#[tokio::test]
async fn control_characters_and_invisible_messages_are_refused() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.join_as(&alice, "text").await;
    a.say("\u{200B}\u{3164} \u{202E}").await;
    assert_eq!(a.expect("error").await["code"], "empty_message");
    a.say("clear\u{1B}[2J screen").await;
    assert_eq!(a.expect("error").await["code"], "invalid_message");
    a.say("two\n\tlines, kept as typed: café").await;
    assert_eq!(
        a.expect("chat_message").await["message"],
        "two\n\tlines, kept as typed: café"
    );
    // Trojan Source: an override left open turns the rest around.
    a.say("invoice\u{202E}fdp.exe").await;
    let refused = a.expect("error").await;
    assert_eq!(refused["code"], "invalid_message");
    assert!(refused["message"].as_str().unwrap().contains("U+202E"));
    // Closed on its line, it is text like any other.
    a.say("\u{202E}olleh\u{202C} world").await;
    a.expect("chat_message").await;
    // Braille blank and the Hangul filler look like nothing.
    for blank in ["\u{2800}", "\u{3164}"] {
        a.say(blank).await;
        assert_eq!(a.expect("error").await["code"], "empty_message");
    }
}

#[tokio::test]
async fn names_that_pass_for_staff_or_pile_up_marks_are_refused_at_sign_up() {
    let server = TestServer::start().await;
    for name in ["admin", "Admin", "\u{430}dmin", "moderator", "SYSTEM"] {
        let (status, body) = register(&server, name).await;
        assert_eq!(status, 409, "{name}: {body}");
        assert_eq!(body["error"]["code"], "username_taken", "{name}");
    }
    let (status, body) = register(&server, "ab\u{0E34}\u{0E35}\u{0E36}\u{0E37}c").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_username");
    assert_eq!(register(&server, "adminfan").await.0, 201);
    // The operator may still name an account so.
    server.admin("admin").await;
}

/// POSTs the login form as a browser on `origin` (or with only
/// `Sec-Fetch-Site`) would; the status.
async fn form_login(server: &TestServer, headers: &[(&str, &str)]) -> StatusCode {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let mut request = client
        .post(server.http("/api/login"))
        .form(&[("username", "alice"), ("password", PASSWORD)]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_same_site_and_api_clients_are_not() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let root = server.admin("root").await;
    let own = format!("http://{}", server.addr);
    assert_eq!(
        form_login(
            &server,
            &[
                ("Origin", "http://evil.example"),
                ("Sec-Fetch-Site", "cross-site")
            ]
        )
        .await,
        403
    );
    assert_eq!(
        form_login(&server, &[("Sec-Fetch-Site", "cross-site")]).await,
        403
    );
    assert_eq!(form_login(&server, &[("Origin", "null")]).await, 403);
    assert_eq!(
        form_login(
            &server,
            &[("Origin", &own), ("Sec-Fetch-Site", "same-origin")]
        )
        .await,
        303
    );
    assert_eq!(
        form_login(&server, &[]).await,
        303,
        "a script without either header"
    );

    // Every other state-changing request: admin actions, logout, register,
    // the pages' server functions.
    let evil = reqwest::Client::new();
    let posts = [
        (
            "/api/admin",
            root.cookie.clone(),
            json!({"action": "set_admin", "username": "alice", "is_admin": true}),
        ),
        ("/api/logout", alice.cookie.clone(), json!({})),
        (
            "/api/register",
            String::new(),
            json!({"username": "mallory", "password": PASSWORD}),
        ),
    ];
    for (path, cookie, body) in posts {
        let response = evil
            .post(server.http(path))
            .header("cookie", cookie)
            .header("origin", "https://evil.example")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "origin_not_allowed");
    }
    // The check runs before routing: any POST, a server function's included.
    let server_fn = evil
        .post(server.http("/api/list_rooms"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(server_fn.status(), 403, "server functions too");
    // None of it happened: alice is no admin, her session lives, no mallory.
    assert_eq!(server.login("alice").await.name, "alice");
    let me: Value = reqwest::Client::new()
        .get(server.http("/api/me"))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["is_admin"], false, "{me}");
    assert_eq!(register(&server, "mallory").await.0, 201);
}

#[tokio::test]
async fn pages_and_answers_carry_the_security_headers() {
    let server = TestServer::start().await;
    // A page that never answers fails here, naming itself, instead of
    // hanging the suite (seen when servers started side by side in this
    // process generated their routes concurrently: see `page_routes`).
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let get = |path: &str| {
        let request = client.get(server.http(path)).send();
        let path = path.to_owned();
        async move { request.await.unwrap_or_else(|e| panic!("{path}: {e}")) }
    };
    for path in [
        "/chat/",
        "/chat/lobby/",
        "/login",
        "/register",
        "/admin",
        "/nowhere",
    ] {
        let response = get(path).await;
        let headers = response.headers().clone();
        let csp = headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let html = response.text().await.unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        // Every inline script carries this response's nonce.
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce");
        let tags: Vec<&str> = html
            .split("<script")
            .skip(1)
            .map(|rest| rest.split('>').next().unwrap())
            .collect();
        assert!(!tags.is_empty(), "{path}");
        for tag in tags {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: <script{tag}> has no nonce"
            );
        }
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
    }
    let api = get("/api/rooms").await;
    assert!(
        api.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    // Two pages, two nonces.
    let csp = |r: reqwest::Response| r.headers()["content-security-policy"].clone();
    let one = csp(get("/chat/").await);
    let two = csp(get("/chat/").await);
    assert_ne!(one, two);
}

#[tokio::test]
async fn with_secure_cookies_the_session_cookie_is_host_only() {
    let server = TestServer::start_with(|c| c.secure_cookies = true).await;
    let response = reqwest::Client::new()
        .post(server.http("/api/register"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-chat_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn a_demoted_admin_cannot_delete_from_an_open_socket_and_a_promoted_one_can() {
    let server = TestServer::start().await;
    let (alice, bob) = (server.user("alice").await, server.user("bob").await);
    let root = server.admin("root").await;
    let boss = server.admin("boss").await;
    let mut a = server.join_as(&alice, "mod").await;
    let mut b = server.join_as(&bob, "mod").await;
    let mut boss_socket = server.join_as(&boss, "mod").await;
    for text in ["one", "two", "three"] {
        a.say(text).await;
        a.expect("chat_message").await;
        b.expect("chat_message").await;
        boss_socket.expect("chat_message").await;
    }
    boss_socket
        .send_json(json!({"type": "delete", "seq": 1}))
        .await;
    assert_eq!(boss_socket.expect("message_deleted").await["seq"], 1);

    let demote = json!({"action": "set_admin", "username": "boss", "is_admin": false});
    assert_eq!(act(&server, &root, demote).await.0, 204);
    boss_socket
        .send_json(json!({"type": "delete", "seq": 2}))
        .await;
    assert_eq!(boss_socket.expect("error").await["code"], "forbidden");

    // And the other way round: bob, made admin, may delete at once.
    let promote = json!({"action": "set_admin", "username": "bob", "is_admin": true});
    assert_eq!(act(&server, &root, promote).await.0, 204);
    b.expect("message_deleted").await;
    b.send_json(json!({"type": "delete", "seq": 3})).await;
    assert_eq!(b.expect("message_deleted").await["seq"], 3);
}

#[tokio::test]
async fn making_a_room_admin_only_ends_the_others_and_keeps_the_admins() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let root = server.admin("root").await;
    let mut a = server.join_as(&alice, "board").await;
    let mut r = server.join_as(&root, "board").await;
    a.say("hello").await;
    a.expect("chat_message").await;
    r.expect("chat_message").await;

    let action = json!({"action": "set_room_admin_only", "room": "board", "admin_only": true});
    assert_eq!(act(&server, &root, action).await.0, 204);
    let ended = a.expect("session_ended").await;
    assert!(ended["reason"].as_str().unwrap().contains("admins only"));
    r.say("still here").await;
    assert_eq!(r.expect("chat_message").await["message"], "still here");

    // "Create room" on it now says so and changes nothing.
    let create = json!({"action": "create_room", "room": "board", "admin_only": false});
    let (status, body) = act(&server, &root, create).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("room_exists"))
    );
    let refused = Client::connect(
        &server.ws_url("board"),
        &[("Cookie", alice.cookie.as_str())],
    )
    .await
    .err()
    .expect("still admin-only");
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn logging_out_ends_that_sessions_sockets_only() {
    let server = TestServer::start().await;
    let laptop = server.user("alice").await;
    let phone = server.login("alice").await;
    let mut on_laptop = server.join_as(&laptop, "home").await;
    let mut on_phone = server.join_as(&phone, "home").await;
    assert_eq!(server.logout(&laptop).await, 204);
    let ended = on_laptop.expect("session_ended").await;
    assert!(ended["reason"].as_str().unwrap().contains("logged out"));
    on_phone.say("still signed in").await;
    assert_eq!(
        on_phone.expect("chat_message").await["message"],
        "still signed in"
    );
}

#[tokio::test]
async fn admin_only_checks_fail_closed_when_storage_fails() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let root = server.admin("root").await;
    let made = json!({"action": "create_room", "room": "vault", "admin_only": true});
    assert_eq!(act(&server, &root, made).await.0, 204);
    // The rooms table goes away under the running server: no check can be made.
    let storage = server::storage::Storage::open(&server.database_url)
        .await
        .unwrap();
    server::with_pool!(storage, pool => sqlx::query("ALTER TABLE rooms RENAME TO rooms_away")
        .execute(pool)
        .await
        .unwrap()
        .rows_affected());
    let refused = Client::connect(
        &server.ws_url("vault"),
        &[("Cookie", alice.cookie.as_str())],
    )
    .await
    .err()
    .expect("no socket without a check");
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("rooms") && !message.contains("SQL"),
        "{message}"
    );
    let history = reqwest::Client::new()
        .get(server.http("/api/rooms/vault/messages"))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 503);
    let body = history.text().await.unwrap();
    assert!(!body.contains("no such table"), "{body}");
    let (status, html) = server.page("/chat/vault/", Some(&alice.cookie)).await;
    assert_eq!(status, 503, "the page does not open either");
    assert!(html.contains("cannot be opened right now"), "{html}");
    assert!(!html.contains("no such table"), "{html}");
}

/// POSTs a login as a browser behind a proxy would: `proto` in
/// `X-Forwarded-Proto`, and an optional `Origin`.
async fn login_behind(server: &TestServer, proto: &str, origin: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(server.http("/api/login"))
        .header("x-forwarded-proto", proto)
        .json(&json!({"username": "alice", "password": PASSWORD}));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn behind_a_tls_proxy_cookies_are_secure_hsts_is_sent_and_origins_compare_schemes() {
    let server = TestServer::start_with(|c| {
        c.trusted_proxies = server::edge::proxy::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    server.user("alice").await;
    let signed_in = login_behind(&server, "https", None).await;
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(
        signed_in.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // Over plain http (as the proxy says) nothing of it.
    let plain = login_behind(&server, "http", None).await;
    assert!(
        !plain.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    assert!(!plain.headers().contains_key("strict-transport-security"));
    // An http page of the same host cannot post to the https site.
    let host = format!("127.0.0.1:{}", server.addr.port());
    let from_http = login_behind(&server, "https", Some(&format!("http://{host}"))).await;
    assert_eq!(from_http.status(), 403);
    let from_https = login_behind(&server, "https", Some(&format!("https://{host}"))).await;
    assert_eq!(from_https.status(), 200);

    // Without trusted proxies the header is anyone's word: ignored.
    let direct = TestServer::start().await;
    direct.user("alice").await;
    let response = login_behind(&direct, "https", None).await;
    assert!(
        !response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    assert!(!response.headers().contains_key("strict-transport-security"));
}
