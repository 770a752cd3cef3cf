//! Admins: `create-admin`, admin-only rooms, disabling users, deleting any
//! message, the admin API and its audit log — and that nobody else can.

use crate::common::{Client, TestServer, User, act};
use serde_json::{Value, json};

async fn get_json(server: &TestServer, path: &str, user: &User) -> (u16, Value) {
    let response = crate::common::http_client()
        .get(server.http(path))
        .header("cookie", &user.cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn only_admins_may_act_and_every_action_is_audited() {
    let server = TestServer::start().await;
    let bob = server.user("bob").await;
    let root = server.admin("root").await;

    let (status, body) = act(
        &server,
        &bob,
        json!({"action": "set_admin", "username": "bob", "is_admin": true}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(get_json(&server, "/api/admin", &bob).await.0, 403);
    assert_eq!(server.page("/admin", Some(&bob.cookie)).await.0, 403);

    let (status, _) = act(
        &server,
        &root,
        json!({"action": "create_room", "room": "staff", "admin_only": true}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = act(
        &server,
        &root,
        json!({"action": "disable_user", "username": "nobody", "disabled": true}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_user"))
    );
    let (status, overview) = get_json(&server, "/api/admin", &root).await;
    assert_eq!(status, 200);
    assert_eq!(
        overview["rooms"][0],
        json!({"name": "staff", "admin_only": true, "last_message_at": null})
    );
    let audit = &overview["audit"];
    assert_eq!(audit[0]["actor"], "root");
    assert_eq!(audit[0]["action"], "created admin-only room");
    assert_eq!(audit[0]["target"], "staff");
    assert_eq!(
        audit[1]["action"], "made admin",
        "create-admin is recorded too"
    );

    // The admin page renders the lists for an admin.
    let (status, html) = server.page("/admin", Some(&root.cookie)).await;
    assert_eq!(status, 200);
    assert!(html.contains("created admin-only room"));
}

#[tokio::test]
async fn admin_only_rooms_refuse_and_hide_from_everyone_else() {
    let server = TestServer::start().await;
    let bob = server.user("bob").await;
    let root = server.admin("root").await;
    let mut bobs = server.join_as(&bob, "ops").await;
    server.join_as(&root, "ops").await;

    let (status, _) = act(
        &server,
        &root,
        json!({"action": "set_room_admin_only", "room": "ops", "admin_only": true}),
    )
    .await;
    assert_eq!(status, 204);
    // Bob, already inside, is told and disconnected; he cannot come back.
    let ended = bobs.expect("session_ended").await;
    assert!(ended["reason"].as_str().unwrap().contains("admins only"));
    match bobs.next_frame().await {
        Some(tokio_tungstenite::tungstenite::Message::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), 4003)
        }
        other => panic!("expected a close, got {other:?}"),
    }
    let refused = Client::connect(&server.ws_url("ops"), &[("Cookie", bob.cookie.as_str())])
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (403, Some("admin_only"))
    );
    assert_eq!(
        Client::connect(&server.ws_url("ops"), &[])
            .await
            .err()
            .unwrap()
            .status,
        403
    );
    assert_eq!(server.page("/chat/ops/", Some(&bob.cookie)).await.0, 403);
    assert_eq!(
        get_json(&server, "/api/rooms/ops/messages", &bob).await.0,
        403
    );
    let (_, rooms) = get_json(&server, "/api/rooms", &bob).await;
    assert_eq!(rooms, json!([]));

    // Admins still see it and get in.
    let (_, rooms) = get_json(&server, "/api/rooms", &root).await;
    assert_eq!(rooms[0]["name"], "ops");
    server.join_as(&root, "ops").await;
    assert_eq!(server.page("/chat/ops/", Some(&root.cookie)).await.0, 200);
}

#[tokio::test]
async fn a_disabled_user_is_thrown_out_and_cannot_return() {
    let server = TestServer::start().await;
    let bob = server.user("bob").await;
    let root = server.admin("root").await;
    let mut tab1 = server.join_as(&bob, "one").await;
    let mut tab2 = server.join_as(&bob, "two").await;

    let (status, _) = act(
        &server,
        &root,
        json!({"action": "disable_user", "username": "bob", "disabled": true}),
    )
    .await;
    assert_eq!(status, 204);
    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(tab.expect("session_ended").await["type"], "session_ended");
        assert!(matches!(
            tab.next_frame().await,
            Some(tokio_tungstenite::tungstenite::Message::Close(_))
        ));
    }
    // His session is over: with the old cookie he is a visitor who can read
    // but not post, and the API does not know him.
    let mut visitor = Client::connect(&server.ws_url("one"), &[("Cookie", bob.cookie.as_str())])
        .await
        .expect("readers are let in");
    visitor.expect("history").await;
    assert_eq!(visitor.expect("user_list").await["users"], json!([]));
    visitor.say("still here?").await;
    assert_eq!(visitor.expect("error").await["code"], "not_authenticated");
    let me = reqwest::Client::new()
        .get(server.http("/api/me"))
        .header("cookie", &bob.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let login = reqwest::Client::new()
        .post(server.http("/api/login"))
        .json(&json!({"username": "bob", "password": crate::common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["error"]["code"], "account_disabled");

    // Enabled again, bob logs in and chats.
    act(
        &server,
        &root,
        json!({"action": "disable_user", "username": "bob", "disabled": false}),
    )
    .await;
    let bob = server.login("bob").await;
    server.join_as(&bob, "one").await;
    // An admin cannot lock themselves out.
    let (status, _) = act(
        &server,
        &root,
        json!({"action": "disable_user", "username": "root", "disabled": true}),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn admins_delete_any_message_from_the_socket_or_the_page() {
    let server = TestServer::start().await;
    let bob = server.user("bob").await;
    let root = server.admin("root").await;
    let mut b = server.join_as(&bob, "mod").await;
    let mut r = server.join_as(&root, "mod").await;
    for text in ["rude", "ruder"] {
        b.say(text).await;
        b.expect("chat_message").await;
        r.expect("chat_message").await;
    }
    r.send_json(json!({"type": "delete", "seq": 1})).await;
    assert_eq!(b.expect("message_deleted").await["seq"], 1);
    let (status, _) = act(
        &server,
        &root,
        json!({"action": "delete_message", "room": "mod", "seq": 2}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(b.expect("message_deleted").await["seq"], 2);
    let (_, overview) = get_json(&server, "/api/admin", &root).await;
    assert_eq!(
        overview["messages"],
        json!([]),
        "deleted messages leave the recent list"
    );
    assert_eq!(overview["audit"][0]["target"], "mod #2");
}

#[tokio::test]
async fn admin_forms_post_and_come_back_to_the_page() {
    let server = TestServer::start().await;
    let root = server.admin("root").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(server.http("/api/admin"))
        .header("cookie", &root.cookie)
        .form(&[("action", "create_room"), ("room", "bad name!")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/admin?error="), "{location}");
    let (_, html) = server.page(&location, Some(&root.cookie)).await;
    assert!(html.contains("admin-error"));

    let response = client
        .post(server.http("/api/admin"))
        .header("cookie", &root.cookie)
        .form(&[
            ("action", "create_room"),
            ("room", "news"),
            ("value", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/admin");
    let (_, overview) = get_json(&server, "/api/admin", &root).await;
    assert_eq!(overview["rooms"][0]["admin_only"], true);
}

#[tokio::test]
async fn admin_rights_count_at_once_without_logging_in_again() {
    let server = TestServer::start().await;
    let bob = server.user("bob").await;
    let root = server.admin("root").await;
    let (_, page) = server.page("/chat/", Some(&bob.cookie)).await;
    assert!(!page.contains(r#"href="/admin""#));
    let (status, _) = act(
        &server,
        &root,
        json!({"action": "set_admin", "username": "bob", "is_admin": true}),
    )
    .await;
    assert_eq!(status, 204);
    let (_, page) = server.page("/chat/", Some(&bob.cookie)).await;
    assert!(
        page.contains(r#"href="/admin""#),
        "the header links to /admin"
    );
    assert_eq!(get_json(&server, "/api/admin", &bob).await.0, 200);
    assert_eq!(get_json(&server, "/api/me", &bob).await.1["is_admin"], true);
}

#[tokio::test]
async fn deleting_a_room_takes_its_messages_and_ends_its_connections() {
    let server = TestServer::start().await;
    let bob = server.user("bob").await;
    let root = server.admin("root").await;
    let mut b = server.join_as(&bob, "doomed").await;
    b.say("last words").await;
    b.expect("chat_message").await;
    b.send_json(json!({"type": "react", "seq": 1, "emoji": "👍"}))
        .await;
    b.expect("reaction").await;

    let (status, _) = act(
        &server,
        &root,
        json!({"action": "delete_room", "room": "doomed"}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        b.expect("session_ended").await["reason"],
        "This room was deleted."
    );
    let (_, rooms) = get_json(&server, "/api/rooms", &root).await;
    assert_eq!(rooms, json!([]));
    let (status, history) = get_json(&server, "/api/rooms/doomed/messages", &root).await;
    assert_eq!((status, history["messages"].clone()), (200, json!([])));
    let (_, overview) = get_json(&server, "/api/admin", &root).await;
    assert_eq!(overview["audit"][0]["action"], "deleted room");
    // Deleting it again: there is no such room.
    let (status, body) = act(
        &server,
        &root,
        json!({"action": "delete_room", "room": "doomed"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_room"))
    );
}

/// Every refusal of an admin action has its own status and code, and
/// leaves nothing in the audit log.
#[tokio::test]
async fn refused_admin_actions_say_why_with_fitting_statuses() {
    let server = TestServer::start().await;
    let root = server.admin("root").await;
    let refusals = [
        (
            json!({"action": "delete_room", "room": "two words"}),
            400,
            "invalid_room",
        ),
        (
            json!({"action": "delete_room", "room": "nowhere"}),
            404,
            "unknown_room",
        ),
        (
            json!({"action": "set_admin", "username": "nobody", "is_admin": true}),
            404,
            "unknown_user",
        ),
        (
            json!({"action": "delete_message", "room": "hall", "seq": 9}),
            404,
            "unknown_message",
        ),
        (
            json!({"action": "disable_user", "username": "root", "disabled": true}),
            400,
            "invalid_request",
        ),
    ];
    for (action, status, code) in refusals {
        let (got, body) = act(&server, &root, action.clone()).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{action}"
        );
        assert!(!body["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    let (_, overview) = get_json(&server, "/api/admin", &root).await;
    let recorded: Vec<_> = overview["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].clone())
        .collect();
    assert!(
        recorded.iter().all(|a| a == "made admin"),
        "only the setup is audited: {recorded:?}"
    );
}
