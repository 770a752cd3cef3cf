//! The account API over HTTP: every status code of the contract, the form
//! posts the pages make, and login limits.

use crate::common::{PASSWORD, TestServer, session_cookie};
use reqwest::{Client, StatusCode, redirect::Policy};
use serde_json::{Value, json};

fn http() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

async fn post_json(server: &TestServer, path: &str, body: Value) -> reqwest::Response {
    http()
        .post(server.http(path))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body["error"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn register_answers_201_with_a_session_then_refuses_duplicates() {
    let server = TestServer::start().await;
    let r = post_json(
        &server,
        "/api/register",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(
        !set_cookie.contains("Secure"),
        "plain http by default: {set_cookie}"
    );
    let cookie = session_cookie(&r).unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"username": "alice"})
    );

    let me = http()
        .get(server.http("/api/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<Value>().await.unwrap(),
        json!({"username": "alice", "is_admin": false})
    );

    let again = post_json(
        &server,
        "/api/register",
        json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(again).await, "username_taken");
}

#[tokio::test]
async fn register_refuses_bad_names_weak_passwords_and_bad_bodies() {
    let server = TestServer::start().await;
    for name in ["ab", "two words", "x@y", &"n".repeat(33)] {
        let r = post_json(
            &server,
            "/api/register",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(error_code(r).await, "invalid_username");
    }
    let r = post_json(
        &server,
        "/api/register",
        json!({"username": "bob", "password": "short"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "weak_password");

    let r = http()
        .post(server.http("/api/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "invalid_request");
}

#[tokio::test]
async fn login_logout_and_me() {
    let server = TestServer::start().await;
    server.user("carol").await;

    let wrong = post_json(
        &server,
        "/api/login",
        json!({"username": "carol", "password": "not it at all"}),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&wrong).is_none());
    assert_eq!(error_code(wrong).await, "invalid_credentials");
    let nobody = post_json(
        &server,
        "/api/login",
        json!({"username": "nobody", "password": PASSWORD}),
    )
    .await;
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(nobody).await, "invalid_credentials");

    let ok = post_json(
        &server,
        "/api/login",
        json!({"username": "carol", "password": PASSWORD}),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let cookie = session_cookie(&ok).unwrap();
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"username": "carol"})
    );

    let me = |cookie: String| {
        let url = server.http("/api/me");
        async move {
            http()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(me(cookie.clone()).await.status(), StatusCode::OK);

    let out = http()
        .post(server.http("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = me(cookie).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(after).await, "not_authenticated");
    let anonymous = http().get(server.http("/api/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_logins_are_limited_per_username() {
    // The product's failure limits (the test servers raise them).
    let server = TestServer::start_with(|c| {
        let product = server::config::Limits::default();
        c.limits.failed_logins_per_user = product.failed_logins_per_user;
        c.limits.failed_logins_per_address = product.failed_logins_per_address;
    })
    .await;
    server.user("dave").await;
    for _ in 0..5 {
        let r = post_json(
            &server,
            "/api/login",
            json!({"username": "dave", "password": "guess guess"}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now, so guessing gains nothing.
    let r = post_json(
        &server,
        "/api/login",
        json!({"username": "dave", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(r).await, "too_many_attempts");
}

#[tokio::test]
async fn the_forms_work_without_javascript() {
    let server = TestServer::start().await;
    let form =
        |path: &str, fields: &[(&str, &str)]| http().post(server.http(path)).form(fields).send();
    // Success: redirected onwards, signed in.
    let r = form(
        "/api/register",
        &[
            ("username", "erin"),
            ("password", PASSWORD),
            ("next", "/chat/lobby/"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/chat/lobby/");
    assert!(session_cookie(&r).is_some());

    // A refusal: back to the form with the code, the name kept, and where to go after.
    let r = form(
        "/api/register",
        &[
            ("username", "erin"),
            ("password", PASSWORD),
            ("next", "/chat/lobby/"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/register?error=username_taken&username=erin&next=%2Fchat%2Flobby%2F"
    );
    let r = form(
        "/api/login",
        &[("username", "erin"), ("password", "wrong password")],
    )
    .await
    .unwrap();
    assert_eq!(
        r.headers()["location"],
        "/login?error=invalid_credentials&username=erin"
    );

    // `next` never leads off the site, however it is dressed: a TAB or a
    // newline the browser strips, a backslash it reads as a slash.
    for next in [
        "//evil.example/",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "\t//evil.example",
        "https://evil.example/",
    ] {
        let r = form(
            "/api/login",
            &[("username", "erin"), ("password", PASSWORD), ("next", next)],
        )
        .await
        .unwrap();
        assert_eq!(r.headers()["location"], "/chat/", "{next:?}");
    }
    // And a real path on the site is kept.
    let r = form(
        "/api/login",
        &[
            ("username", "erin"),
            ("password", PASSWORD),
            ("next", "/chat/hall/"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.headers()["location"], "/chat/hall/");

    // The log-in page shows the refusal in words.
    let (_, html) = server
        .page("/login?error=invalid_credentials&username=erin", None)
        .await;
    assert!(html.contains("Wrong username or password."), "{html}");
    assert!(html.contains(r#"value="erin""#));
}

#[tokio::test]
async fn the_header_shows_who_is_signed_in() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let (_, signed_in) = server.page("/chat/", Some(&alice.cookie)).await;
    assert!(signed_in.contains("Signed in as"), "{signed_in}");
    assert!(signed_in.contains("Log out"));
    let (_, anonymous) = server.page("/chat/", None).await;
    assert!(anonymous.contains("Log in") && anonymous.contains("Register"));
    assert!(!anonymous.contains("Signed in as"));
}
