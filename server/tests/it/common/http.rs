//! Talking HTTP to a server: signing up, logging in and out, pages,
//! `/metrics`, and JSON posts.

use super::{ANSWERS, Endpoint, PASSWORD, http_client};
use serde_json::Value;

/// A registered user: their name and session cookie (`name=value`).
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub cookie: String,
}

impl Endpoint {
    /// Registers `name` through the API and returns its session.
    pub async fn user(&self, name: &str) -> User {
        let response = http_client()
            .post(self.http("/api/register"))
            .json(&serde_json::json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "registering {name}");
        User {
            name: name.to_owned(),
            cookie: session_cookie(&response).expect("a session cookie"),
        }
    }

    /// Logs `name` in through the API and returns the session.
    pub async fn login(&self, name: &str) -> User {
        let response = http_client()
            .post(self.http("/api/login"))
            .json(&serde_json::json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "logging in {name}");
        User {
            name: name.to_owned(),
            cookie: session_cookie(&response).expect("a session cookie"),
        }
    }

    /// Logs `user`'s session out through the API; the status.
    pub async fn logout(&self, user: &User) -> u16 {
        post_json(self, "/api/logout", Some(&user.cookie), &Value::Null)
            .await
            .0
    }

    /// GETs a page as a browser would (without following redirects), with
    /// an optional session cookie: its status and HTML.
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> (u16, String) {
        let client = reqwest::Client::builder()
            .timeout(ANSWERS)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut request = client.get(self.http(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// One counter or gauge from `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let (_, metrics) = self.page("/metrics", None).await;
        let prefix = format!("{name} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// POSTs `body` as JSON, with the session `cookie` if given; the status
/// and the JSON answer (`null` if there is none).
pub async fn post_json(
    server: &Endpoint,
    path: &str,
    cookie: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut request = http_client().post(server.http(path)).json(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// POSTs an admin action as `user`; the status and body.
pub async fn act(server: &Endpoint, user: &User, action: Value) -> (u16, Value) {
    post_json(server, "/api/admin", Some(&user.cookie), &action).await
}

/// `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chat_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
}
