//! The `audit_log` table: every admin action, who did it and to what.
//! SQL only: never imports the layer or the protocol's events.

use super::{Stamp, Storage, StorageError, with_pool};

/// One recorded admin action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
}

impl Storage {
    /// Records an admin action.
    pub async fn audit(&self, actor: &str, action: &str, target: &str) -> Result<(), StorageError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target) VALUES ($1, $2, $3, $4)",
        )
        .bind(Stamp::now())
        .bind(actor)
        .bind(action)
        .bind(target)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The newest audit entries first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        let rows: Vec<(Stamp, String, String, String)> = with_pool!(self, pool =>
            sqlx::query_as(
                "SELECT at, actor, action, target FROM audit_log ORDER BY id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, target)| AuditEntry {
                at: at.rfc3339(),
                actor,
                action,
                target,
            })
            .collect())
    }
}
