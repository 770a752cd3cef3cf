//! Accounts: registering, logging in and out, and who a request is from.
//! Passwords are hashed with argon2id on the blocking pool (never on the
//! async runtime); sessions are tower-sessions in SQL, with an HttpOnly,
//! SameSite=Lax cookie (Secure when `SECURE_COOKIES` is set). Sign-ups and
//! logins are rate-limited per client address, failed logins per
//! (username, address), per address, and past a ceiling per username
//! ([`limiter`]), and hashing runs a few at a time ([`Guards`]).
//! Passwords and hashes are never logged; usernames only once validated.
//!
//! `auth` stores and checks; it never tells a socket. A logout returns the
//! session it ended ([`EndedSession`]) and `chat/` tells that session's
//! sockets. Must never import the chat domain, the app's state or protocol
//! events: `grep -rn 'App[S]tate\|crate::c[h]at\|Server[E]vent' server/src/auth`
//! prints nothing.

pub mod limiter;
pub mod password;

pub use limiter::LoginLimiter;
pub use password::Hasher;

use crate::edge::proxy::ClientKey;
use crate::{config::Limits, edge::throttle::Throttle};
use crate::{
    error::ApiError,
    storage::{Storage, StorageError},
};
use app::{
    account::{AuthError, SessionUser, check_password},
    admin::audit,
    names::Username,
};
use std::time::Duration;
use tower_sessions::Session;

/// What stands between a stranger and our CPU and memory on the account
/// endpoints: per-address rates, failure limits, and the hashing slots.
pub struct Guards {
    pub hasher: Hasher,
    pub failures: LoginLimiter,
    pub registrations: Throttle<ClientKey>,
    pub logins: Throttle<ClientKey>,
}

impl Guards {
    pub fn new(limits: &Limits) -> Self {
        const QUARTER_HOUR: Duration = Duration::from_secs(15 * 60);
        Self {
            hasher: Hasher::new(limits.hashes_at_once, limits.hash_wait),
            failures: LoginLimiter::new(
                QUARTER_HOUR,
                limits.failed_logins_per_user,
                limits.failed_logins_per_address,
            ),
            registrations: Throttle::new(
                limits.registrations_per_hour,
                Duration::from_secs(60 * 60),
            ),
            logins: Throttle::new(limits.login_attempts_per_15_min, QUARTER_HOUR),
        }
    }
}

/// The cookie that carries the session id. Over HTTPS (`SECURE_COOKIES`)
/// it is `__Host-chat_session`: browsers then take it only if it is
/// Secure, for `/` and without a Domain, so a sibling subdomain cannot
/// plant or overwrite it.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-chat_session"
    } else {
        "chat_session"
    }
}

/// Why an account action failed: a refusal for the person, or a fault of ours.
#[derive(Debug)]
pub enum AccountError {
    Refused(AuthError),
    /// Refused until `Retry-After`.
    Throttled(AuthError, Duration),
    Internal(String),
}

impl From<AuthError> for AccountError {
    fn from(e: AuthError) -> Self {
        Self::Refused(e)
    }
}

impl From<StorageError> for AccountError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::UsernameTaken => Self::Refused(AuthError::UsernameTaken),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<tower_sessions::session::Error> for AccountError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Internal(format!("session: {e}"))
    }
}

/// The signed-in user of this session, if any.
pub async fn current_user(session: &Session) -> Option<SessionUser> {
    session
        .get::<SessionUser>(SessionUser::KEY)
        .await
        .ok()
        .flatten()
}

/// The signed-in user as the database has them now: an admin flag given
/// or taken since they logged in counts at once, and a disabled account's
/// session ends here (it is signed out and continues as a visitor).
pub async fn current_account(
    storage: &Storage,
    session: &Session,
) -> Result<Option<SessionUser>, ApiError> {
    let Some(mut user) = current_user(session).await else {
        return Ok(None);
    };
    match storage.active_user(&user.username).await {
        Ok(Some(record)) => {
            user.is_admin = record.is_admin;
            Ok(Some(user))
        }
        Ok(None) => {
            // Disabled (or gone): this session is over.
            let _ = session.flush().await;
            Ok(None)
        }
        Err(e) => {
            tracing::error!("reading account {}: {e}", user.username);
            Err(ApiError::unavailable("Try again in a moment."))
        }
    }
}

/// Only admins get past this (403 `forbidden` otherwise).
pub fn require_admin(user: Option<&SessionUser>) -> Result<&SessionUser, ApiError> {
    match user {
        Some(user) if user.is_admin => Ok(user),
        Some(_) => Err(ApiError::forbidden("forbidden", "Only admins can do that.")),
        None => Err(ApiError::unauthorized("not_authenticated", "Log in first.")),
    }
}

pub async fn register(
    storage: &Storage,
    guards: &Guards,
    session: &Session,
    client: ClientKey,
    username: &str,
    password: &str,
) -> Result<SessionUser, AccountError> {
    let username = Username::parse(username).map_err(|_| AuthError::InvalidUsername)?;
    // A name that would pass for the service or its staff is "taken".
    if app::names::is_reserved(&username) {
        return Err(AuthError::UsernameTaken.into());
    }
    check_password(password)?;
    guards
        .registrations
        .check(&client)
        .map_err(|wait| AccountError::Throttled(AuthError::RateLimited, wait))?;
    let hash = guards.hasher.hash(password.to_owned()).await?;
    let user = storage.create_user(&username, &hash).await?;
    let user = SessionUser {
        id: user.id,
        username: user.username,
        is_admin: user.is_admin,
    };
    start_session(session, &user).await?;
    tracing::info!(user = %user.username, "registered");
    Ok(user)
}

pub async fn login(
    storage: &Storage,
    guards: &Guards,
    session: &Session,
    client: ClientKey,
    username: &str,
    password: &str,
) -> Result<SessionUser, AccountError> {
    guards
        .logins
        .check(&client)
        .map_err(|wait| AccountError::Throttled(AuthError::RateLimited, wait))?;
    // No account can have an invalid name: refused without a hash, and
    // never remembered or logged. Names made under older, looser rules
    // still log in.
    let username = Username::parse_existing(username).map_err(|_| AuthError::InvalidCredentials)?;
    let attempt = guards
        .failures
        .reserve(&username, client)
        .map_err(|wait| AccountError::Throttled(AuthError::TooManyAttempts, wait))?;
    let record = storage.user_by_name(username.as_str()).await?;
    // Unknown users are checked against a decoy hash, so the answer takes
    // as long whether or not the username exists.
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let matches = match guards.hasher.verify(password.to_owned(), hash).await {
        Ok(matches) => matches,
        Err(e) => {
            attempt.cancel();
            return Err(e);
        }
    };
    let Some(record) = record.filter(|_| matches) else {
        // `attempt` stays counted as a failure.
        tracing::info!(user = %username, %client, "failed login");
        return Err(AuthError::InvalidCredentials.into());
    };
    attempt.succeeded();
    if record.disabled {
        return Err(AuthError::AccountDisabled.into());
    }
    let user = SessionUser {
        id: record.id,
        username: record.username,
        is_admin: record.is_admin,
    };
    start_session(session, &user).await?;
    Ok(user)
}

/// `server create-admin <name>`: creates the account as an admin, or makes
/// an existing one an admin (enabled, with this password). Returns what it did.
pub async fn create_admin(
    storage: &Storage,
    username: &str,
    password: &str,
) -> Result<&'static str, AccountError> {
    let username = Username::parse(username).map_err(|_| AuthError::InvalidUsername)?;
    check_password(password)?;
    let hash = Hasher::default().hash(password.to_owned()).await?;
    let done = match storage.create_user(&username, &hash).await {
        Ok(_) => "created",
        // Taken by a lookalike, not by this very name: nothing to update.
        Err(StorageError::UsernameTaken)
            if storage.user_by_name(username.as_str()).await?.is_none() =>
        {
            return Err(AuthError::UsernameTaken.into());
        }
        Err(StorageError::UsernameTaken) => {
            storage.set_password_hash(username.as_str(), &hash).await?;
            storage.set_disabled(username.as_str(), false).await?;
            "updated"
        }
        Err(e) => return Err(e.into()),
    };
    storage.set_admin(username.as_str(), true).await?;
    storage
        .audit(audit::COMMAND_LINE, audit::MADE_ADMIN, username.as_str())
        .await?;
    Ok(done)
}

/// A signed-in session that a logout ended: whose it was, and the tag its
/// sockets carry, so that `chat/` can end them on every process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSession {
    pub username: String,
    pub socket_tag: String,
}

/// Ends the session; returns it if it was signed in with sockets to end.
pub async fn logout(session: &Session) -> Result<Option<EndedSession>, AccountError> {
    let user = current_user(session).await;
    let tag = session.get::<String>(SOCKET_TAG_KEY).await.ok().flatten();
    session.flush().await?;
    Ok(user.zip(tag).map(|(user, socket_tag)| EndedSession {
        username: user.username,
        socket_tag,
    }))
}

/// Where a session keeps the tag its sockets are known by. Not the
/// session id: the tag travels through Redis, the id must not.
const SOCKET_TAG_KEY: &str = "socket_tag";

/// The tag this signed-in session's sockets carry, so that logging out
/// ends them (made on first use for sessions older than tags).
pub async fn socket_tag(session: &Session) -> Result<String, ApiError> {
    if let Ok(Some(tag)) = session.get::<String>(SOCKET_TAG_KEY).await {
        return Ok(tag);
    }
    let tag = uuid::Uuid::new_v4().simple().to_string();
    session.insert(SOCKET_TAG_KEY, &tag).await.map_err(|e| {
        tracing::error!("session: {e}");
        ApiError::unavailable("Try again in a moment.")
    })?;
    Ok(tag)
}

/// A new session id on every sign-in, so a planted id is worthless.
async fn start_session(session: &Session, user: &SessionUser) -> Result<(), AccountError> {
    session.cycle_id().await?;
    session.insert(SessionUser::KEY, user).await?;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    session.insert(SOCKET_TAG_KEY, tag).await?;
    Ok(())
}
