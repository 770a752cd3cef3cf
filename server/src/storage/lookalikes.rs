//! Lookalike keys of names already stored: a migration cannot compute a
//! TR39 skeleton, so at start-up every user and room without a key gets
//! one here. Two names made before keys existed may share one: the older
//! keeps it, the newer stays without (both go on working), and the pair is
//! logged at each start so an admin can rename or disable one. SQL only:
//! never imports the layer or the protocol's events.

use super::{Storage, StorageError, with_pool};
use app::names::lookalike_key;

/// A name that could not get its key because an older one has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collision {
    pub table: &'static str,
    pub name: String,
    pub looks_like: String,
}

impl Storage {
    /// Gives every keyless user and room its key; returns the collisions
    /// found (also logged as warnings).
    pub async fn fill_lookalike_keys(&self) -> Result<Vec<Collision>, StorageError> {
        let mut collisions = self.fill_keys("users", "username").await?;
        collisions.extend(self.fill_keys("rooms", "name").await?);
        for c in &collisions {
            tracing::warn!(
                "{} {:?} looks like {:?}: both kept; new lookalikes of it are refused",
                c.table,
                c.name,
                c.looks_like
            );
        }
        Ok(collisions)
    }

    async fn fill_keys(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Vec<Collision>, StorageError> {
        let keyless =
            format!("SELECT id, {column} FROM {table} WHERE name_key IS NULL ORDER BY id");
        let holder_of = format!("SELECT {column} FROM {table} WHERE name_key = $1");
        let set_key = format!("UPDATE {table} SET name_key = $1 WHERE id = $2");
        let rows: Vec<(i64, String)> =
            with_pool!(self, pool => sqlx::query_as(&keyless).fetch_all(pool).await?);
        let mut collisions = Vec::new();
        for (id, name) in rows {
            let key = lookalike_key(&name);
            let holder: Option<String> = with_pool!(self, pool => sqlx::query_scalar(&holder_of)
                .bind(&key)
                .fetch_optional(pool)
                .await?);
            match holder {
                Some(looks_like) => collisions.push(Collision {
                    table,
                    name,
                    looks_like,
                }),
                None => {
                    with_pool!(self, pool => sqlx::query(&set_key)
                        .bind(&key)
                        .bind(id)
                        .execute(pool)
                        .await?
                        .rows_affected());
                }
            }
        }
        Ok(collisions)
    }
}
