//! The `audit_log` table: every admin action, who did it and to what.
//! SQL only: never imports the layer or the protocol's events.

use super::{Storage, StorageError, now_rfc3339};
use sqlx::Row;

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
        sqlx::query("INSERT INTO audit_log (at, actor, action, target) VALUES ($1, $2, $3, $4)")
            .bind(now_rfc3339())
            .bind(actor)
            .bind(action)
            .bind(target)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The newest audit entries first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        let rows = sqlx::query(
            "SELECT at, actor, action, target FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|row| AuditEntry {
                at: row.get(0),
                actor: row.get(1),
                action: row.get(2),
                target: row.get(3),
            })
            .collect())
    }
}
