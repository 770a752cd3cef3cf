//! Accounts as both ends see them: who is signed in ([`Me`]), what the
//! session stores ([`SessionUser`]), the password rule, and the refusals of
//! the account API with the words shown for each.

use serde::{Deserialize, Serialize};

/// Shortest and longest password accepted, in characters. The upper bound
/// keeps hashing cheap enough that nobody can stall the server with it.
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// The signed-in person, as `GET /api/me` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub is_admin: bool,
}

/// What the session keeps about its user (server side only in practice,
/// defined here so the app's server functions and the server agree).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
}

impl SessionUser {
    /// The session key it is stored under.
    pub const KEY: &'static str = "user";

    pub fn me(&self) -> Me {
        Me {
            username: self.username.clone(),
            is_admin: self.is_admin,
        }
    }
}

/// A refusal from the account API. `code` is the contract; `message` is
/// what the login and register pages show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    InvalidUsername,
    WeakPassword,
    UsernameTaken,
    InvalidCredentials,
    TooManyAttempts,
    NotAuthenticated,
    InvalidRequest,
    /// An admin disabled the account: no logins, no sockets.
    AccountDisabled,
    /// Too many sign-ups or logins from one address: 429 with `Retry-After`.
    RateLimited,
    /// Every password-hashing slot stayed taken: 503, try again shortly.
    Busy,
}

impl AuthError {
    pub const ALL: [AuthError; 10] = [
        Self::InvalidUsername,
        Self::WeakPassword,
        Self::UsernameTaken,
        Self::InvalidCredentials,
        Self::TooManyAttempts,
        Self::NotAuthenticated,
        Self::InvalidRequest,
        Self::AccountDisabled,
        Self::RateLimited,
        Self::Busy,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidUsername => "invalid_username",
            Self::WeakPassword => "weak_password",
            Self::UsernameTaken => "username_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TooManyAttempts => "too_many_attempts",
            Self::NotAuthenticated => "not_authenticated",
            Self::InvalidRequest => "invalid_request",
            Self::AccountDisabled => "account_disabled",
            Self::RateLimited => "rate_limited",
            Self::Busy => "busy",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    /// In English, as the HTTP API says it (the pages say it in theirs:
    /// `lang::auth_error_text`).
    pub fn message(self) -> &'static str {
        crate::lang::auth_error_text(crate::lang::Locale::en, self)
    }
}

/// Where to go after signing in or out: a path on this site, or the lobby.
/// The rule of Django's `url_has_allowed_host_and_scheme`, done the way a
/// browser would read the address: it is parsed by the WHATWG URL parser
/// (which, as browsers do, drops tabs and newlines anywhere and reads `\`
/// as `/`) against a fixed base, and must land on the same origin. What is
/// returned is that parse's own path, query and fragment, so what the
/// browser follows is what was checked: never `//evil.example`,
/// `/%09/evil.example` (a TAB the browser strips), `/\evil.example` or
/// `https://…`. A leading control character or space is refused outright.
/// The server's redirect and the form's hidden field both use this rule.
pub fn safe_next(next: Option<&str>) -> String {
    const LOBBY: &str = "/chat/";
    match next {
        Some(next) if next.starts_with('/') => same_origin_path(next),
        _ => None,
    }
    .unwrap_or_else(|| LOBBY.to_owned())
}

/// The fixed base `?next=` is parsed against.
const NEXT_BASE: &str = "http://next.invalid/";

/// `next`'s path, query and fragment, if parsing it against [`NEXT_BASE`]
/// stays on that origin (natively: the `url` crate).
#[cfg(not(target_arch = "wasm32"))]
fn same_origin_path(next: &str) -> Option<String> {
    let base = url::Url::parse(NEXT_BASE).ok()?;
    let url = url::Url::options().base_url(Some(&base)).parse(next).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    let mut local = url.path().to_owned();
    // As the browser's parser reports them: an empty query or fragment is none.
    if let Some(query) = url.query().filter(|q| !q.is_empty()) {
        local.push('?');
        local.push_str(query);
    }
    if let Some(fragment) = url.fragment().filter(|f| !f.is_empty()) {
        local.push('#');
        local.push_str(fragment);
    }
    Some(local)
}

/// The same in the browser, with the browser's own parser.
#[cfg(target_arch = "wasm32")]
fn same_origin_path(next: &str) -> Option<String> {
    let url = web_sys::Url::new_with_base(next, NEXT_BASE).ok()?;
    let base = web_sys::Url::new(NEXT_BASE).ok()?;
    (url.origin() == base.origin())
        .then(|| format!("{}{}{}", url.pathname(), url.search(), url.hash()))
}

pub fn check_password(password: &str) -> Result<(), AuthError> {
    let chars = password.chars().count();
    if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(AuthError::WeakPassword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/chat/lobby/")), "/chat/lobby/");
        assert_eq!(safe_next(Some("/chat/a/?x=1#end")), "/chat/a/?x=1#end");
        assert_eq!(safe_next(Some("/chat/聊天/")), "/chat/%E8%81%8A%E5%A4%A9/");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            " //evil.example",
            "/\t\\evil.example",
            "///evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "chat",
        ] {
            assert_eq!(safe_next(Some(bad)), "/chat/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/chat/");
    }

    #[test]
    fn codes_round_trip() {
        for e in AuthError::ALL {
            assert_eq!(AuthError::from_code(e.code()), Some(e));
        }
        assert_eq!(AuthError::from_code("<script>"), None);
    }

    #[test]
    fn password_rule() {
        assert_eq!(check_password("short"), Err(AuthError::WeakPassword));
        assert!(check_password("long enough").is_ok());
        assert_eq!(
            check_password(&"x".repeat(257)),
            Err(AuthError::WeakPassword)
        );
    }
}
