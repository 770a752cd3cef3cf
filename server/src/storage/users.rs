//! The `users` table: accounts, their password hashes, the admin and
//! disabled flags, and each name's lookalike key (unique). SQL only: never imports the layer or the protocol's events.

use super::{Stamp, Storage, StorageError, with_pool};
use app::names::{Username, lookalike_key};

/// A stored user, with the hash to check a password against.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
}

/// A user as the admin page lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSummary {
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: String,
}

impl Storage {
    pub async fn create_user(
        &self,
        username: &Username,
        password_hash: &str,
    ) -> Result<UserRecord, StorageError> {
        let result: Result<i64, sqlx::Error> = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, is_admin, created_at, name_key)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(username.as_str())
        .bind(password_hash)
        .bind(false)
        .bind(Stamp::now())
        .bind(lookalike_key(username.as_str()))
        .fetch_one(pool)
        .await);
        match result {
            Ok(id) => Ok(UserRecord {
                id,
                username: username.to_string(),
                password_hash: password_hash.to_owned(),
                is_admin: false,
                disabled: false,
            }),
            // The name itself, or its lookalike key, is taken.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StorageError::UsernameTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StorageError> {
        let row: Option<(i64, String, String, bool, bool)> = with_pool!(self, pool =>
            sqlx::query_as(
                "SELECT id, username, password_hash, is_admin, disabled
                 FROM users WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(
            |(id, username, password_hash, is_admin, disabled)| UserRecord {
                id,
                username,
                password_hash,
                is_admin,
                disabled,
            },
        ))
    }

    /// The user if they exist and are not disabled: who counts as signed in.
    pub async fn active_user(&self, username: &str) -> Result<Option<UserRecord>, StorageError> {
        Ok(self.user_by_name(username).await?.filter(|r| !r.disabled))
    }

    pub async fn users(&self) -> Result<Vec<UserSummary>, StorageError> {
        let rows: Vec<(String, bool, bool, Stamp)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT username, is_admin, disabled, created_at FROM users ORDER BY username",
        )
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(username, is_admin, disabled, created_at)| UserSummary {
                username,
                is_admin,
                disabled,
                created_at: created_at.rfc3339(),
            })
            .collect())
    }

    /// Sets the flag; false if there is no such user.
    pub async fn set_admin(&self, username: &str, is_admin: bool) -> Result<bool, StorageError> {
        self.set_user_flag("is_admin", username, is_admin).await
    }

    /// Sets the flag; false if there is no such user.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, StorageError> {
        self.set_user_flag("disabled", username, disabled).await
    }

    async fn set_user_flag(
        &self,
        column: &'static str,
        username: &str,
        value: bool,
    ) -> Result<bool, StorageError> {
        let sql = format!("UPDATE users SET {column} = $1 WHERE username = $2");
        let changed = with_pool!(self, pool => sqlx::query(&sql)
            .bind(value)
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed > 0)
    }

    /// Replaces the password hash (used by `server create-admin` on an existing user).
    pub async fn set_password_hash(&self, username: &str, hash: &str) -> Result<(), StorageError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE users SET password_hash = $1 WHERE username = $2",
        )
        .bind(hash)
        .bind(username)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }
}
