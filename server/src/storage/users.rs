//! The `users` table: accounts, their password hashes, the admin and
//! disabled flags, and each name's lookalike key (unique). SQL only: never imports the layer or the protocol's events.

use super::{Storage, StorageError, now_rfc3339};
use app::names::{Username, lookalike_key};
use sqlx::Row;

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
        let result = sqlx::query(
            "INSERT INTO users (username, password_hash, is_admin, created_at, name_key)
             VALUES ($1, $2, 0, $3, $4) RETURNING id",
        )
        .bind(username.as_str())
        .bind(password_hash)
        .bind(now_rfc3339())
        .bind(lookalike_key(username.as_str()))
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => Ok(UserRecord {
                id: row.get(0),
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
        let row = sqlx::query(
            "SELECT id, username, password_hash, is_admin, disabled FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| UserRecord {
            id: row.get(0),
            username: row.get(1),
            password_hash: row.get(2),
            is_admin: row.get::<i64, _>(3) != 0,
            disabled: row.get::<i64, _>(4) != 0,
        }))
    }

    /// The user if they exist and are not disabled: who counts as signed in.
    pub async fn active_user(&self, username: &str) -> Result<Option<UserRecord>, StorageError> {
        Ok(self.user_by_name(username).await?.filter(|r| !r.disabled))
    }

    pub async fn users(&self) -> Result<Vec<UserSummary>, StorageError> {
        let rows = sqlx::query(
            "SELECT username, is_admin, disabled, created_at FROM users ORDER BY username",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| UserSummary {
                username: row.get(0),
                is_admin: row.get::<i64, _>(1) != 0,
                disabled: row.get::<i64, _>(2) != 0,
                created_at: row.get(3),
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
        let changed = sqlx::query(&format!(
            "UPDATE users SET {column} = $1 WHERE username = $2"
        ))
        .bind(i64::from(value))
        .bind(username)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Replaces the password hash (used by `server create-admin` on an existing user).
    pub async fn set_password_hash(&self, username: &str, hash: &str) -> Result<(), StorageError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
            .bind(hash)
            .bind(username)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
