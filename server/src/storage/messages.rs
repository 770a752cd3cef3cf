//! The `messages` table: each room's log, numbered by `seq`. Pages of it
//! for history and catch-up, the batch insert the message writer commits,
//! edits and tombstones. SQL only: returns rows, never tells anyone, never
//! imports the layer or the protocol's events.

use super::{MessageId, Stamp, Storage, StorageError, with_pool};
use app::{
    names::RoomName,
    protocol::{ChatMessage, ClientId, History},
};
use std::collections::HashMap;

/// Who is reading: an admin-only room's log is read by admins only, a
/// rule the query itself keeps (whatever a caller checked before).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Admin,
    Anyone,
}

impl Reader {
    pub fn admin(is_admin: bool) -> Self {
        if is_admin { Self::Admin } else { Self::Anyone }
    }
}

/// Which slice of a room's log to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The newest `limit` messages.
    Latest { limit: u32 },
    /// The newest `limit` messages with seq < `seq`.
    Before { seq: u64, limit: u32 },
    /// The oldest `limit` messages with seq > `seq`.
    After { seq: u64, limit: u32 },
}

/// Who wrote a message and when: what permission checks need.
#[derive(Clone, Debug)]
pub struct MessageMeta {
    pub user_id: i64,
    pub created_at: time::OffsetDateTime,
    pub deleted: bool,
}

/// A chat message to store: who posted what, where. Its id is chosen
/// before it is stored, so a commit whose outcome was lost with the
/// connection can be looked up instead of stored twice.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub id: MessageId,
    pub room: RoomName,
    pub user_id: i64,
    pub username: String,
    pub text: String,
    /// The id the sender's client gave it, if any: unique per room and
    /// sender, so a resend is found instead of stored twice.
    pub client_id: Option<ClientId>,
}

impl NewMessage {
    pub fn new(room: RoomName, user_id: i64, username: String, text: String) -> Self {
        Self {
            id: MessageId::new(),
            room,
            user_id,
            username,
            text,
            client_id: None,
        }
    }

    pub fn with_client_id(self, client_id: Option<ClientId>) -> Self {
        Self { client_id, ..self }
    }
}

/// A post's client id as its sender and room scope it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SentAs {
    pub room: RoomName,
    pub user_id: i64,
    pub client_id: ClientId,
}

impl SentAs {
    pub fn of(new: &NewMessage) -> Option<Self> {
        Some(Self {
            room: new.room.clone(),
            user_id: new.user_id,
            client_id: new.client_id.clone()?,
        })
    }
}

/// The stored seqs of any of `n` (room, sender, client id) triples, bound
/// as `$1, $2, $3`, `$4, …`: one statement however many there are.
pub(super) fn known_ids_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    format!(
        "SELECT r.name, m.user_id, m.client_id, m.seq FROM messages m
         JOIN rooms r ON r.id = m.room_id
         WHERE m.client_id IS NOT NULL AND (r.name, m.user_id, m.client_id) IN (VALUES {})",
        rows.join(", ")
    )
}

/// A message row as the log pages read it: seq, id, author, text, posted,
/// edited, deleted.
type MessageRow = (
    i64,
    MessageId,
    String,
    String,
    Stamp,
    Option<Stamp>,
    bool,
    Option<String>,
);
/// The room's name, then a message row without the deleted flag.
type RecentRow = (String, i64, MessageId, String, String, Stamp, Option<Stamp>);

impl Storage {
    /// A page of the room's log, oldest first. At most a few run at once
    /// (see [`super::HISTORY_READERS`]).
    /// An admin-only room reads as empty to anyone but an admin.
    pub async fn messages(
        &self,
        room: &RoomName,
        page: Page,
        reader: Reader,
    ) -> Result<History, StorageError> {
        let _place = self.history_reader().await?;
        const SELECT: &str = "SELECT m.seq, m.id, m.username, m.body, m.created_at,
                m.edited_at, m.deleted_at IS NOT NULL, m.client_id
             FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = $1";
        let hidden = match reader {
            Reader::Admin => "",
            Reader::Anyone => " AND NOT r.admin_only",
        };
        let columns = format!("{SELECT}{hidden}");
        let columns = columns.as_str();
        // Fetch one extra row to learn whether there is more beyond the page.
        let (sql, seq, limit, newest_first) = match page {
            Page::Latest { limit } => (
                format!("{columns} ORDER BY m.seq DESC LIMIT $2"),
                None,
                limit,
                true,
            ),
            Page::Before { seq, limit } => (
                format!("{columns} AND m.seq < $3 ORDER BY m.seq DESC LIMIT $2"),
                Some(seq),
                limit,
                true,
            ),
            Page::After { seq, limit } => (
                format!("{columns} AND m.seq > $3 ORDER BY m.seq ASC LIMIT $2"),
                Some(seq),
                limit,
                false,
            ),
        };
        let rows: Vec<MessageRow> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql)
                .bind(room.as_str())
                .bind(i64::from(limit) + 1);
            if let Some(seq) = seq {
                query = query.bind(i64::try_from(seq).unwrap_or(i64::MAX));
            }
            query.fetch_all(pool).await?
        });
        let has_more = rows.len() > limit as usize;
        let mut messages: Vec<ChatMessage> = rows
            .into_iter()
            .take(limit as usize)
            .map(|row| message_from_row(room.clone(), row))
            .collect();
        if newest_first {
            messages.reverse();
        }
        self.attach_reactions(room, &mut messages).await?;
        Ok(History { messages, has_more })
    }

    /// The newest messages across every room, newest first (deleted ones left out).
    pub async fn recent_messages(&self, limit: u32) -> Result<Vec<ChatMessage>, StorageError> {
        let rows: Vec<RecentRow> = with_pool!(self, pool => sqlx::query_as(
                "SELECT r.name, m.seq, m.id, m.username, m.body, m.created_at, m.edited_at
                 FROM messages m JOIN rooms r ON r.id = m.room_id
                 WHERE m.deleted_at IS NULL AND r.name NOT LIKE '@%'
                 ORDER BY m.created_at DESC, m.seq DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .filter_map(|(room, seq, id, user, body, ts, edited)| {
                let room = RoomName::parse(&room).ok()?; // never a conversation
                Some(message_from_row(
                    room,
                    (seq, id, user, body, ts, edited, false, None),
                ))
            })
            .collect())
    }

    /// The message's author and age, if the room has that seq.
    pub async fn message_meta(
        &self,
        room: &RoomName,
        seq: u64,
    ) -> Result<Option<MessageMeta>, StorageError> {
        let row: Option<(i64, Stamp, bool)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT m.user_id, m.created_at, m.deleted_at IS NOT NULL
             FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE r.name = $1 AND m.seq = $2",
        )
        .bind(room.as_str())
        .bind(seq as i64)
        .fetch_optional(pool)
        .await?);
        Ok(row.map(|(user_id, created_at, deleted)| MessageMeta {
            user_id,
            created_at: created_at.0,
            deleted,
        }))
    }

    /// Sets message `seq`'s text, unless it was deleted. With the edit's
    /// client id: a repeat of one applied already changes nothing
    /// ([`Edited::Repeat`]). One transaction: the id is kept only if the
    /// edit was made.
    pub async fn edit_message(
        &self,
        room: &RoomName,
        seq: u64,
        text: &str,
        client_id: Option<&ClientId>,
    ) -> Result<Edited, StorageError> {
        let at = Stamp::now();
        let edited = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(id) = client_id {
                let fresh = sqlx::query(
                    "INSERT INTO edit_ids (room_id, seq, client_id)
                     SELECT id, $2, $3 FROM rooms WHERE name = $1
                     ON CONFLICT DO NOTHING",
                )
                .bind(room.as_str())
                .bind(seq as i64)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if fresh == 0 {
                    // Ended now: a dropped transaction would keep the
                    // write lock until the pool next used its connection.
                    tx.rollback().await?;
                    return Ok(Edited::Repeat);
                }
            }
            let edited = sqlx::query(
                "UPDATE messages SET body = $1, edited_at = $2
                 WHERE room_id = (SELECT id FROM rooms WHERE name = $3) AND seq = $4
                   AND deleted_at IS NULL",
            )
            .bind(text)
            .bind(at)
            .bind(room.as_str())
            .bind(seq as i64)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            match edited {
                0 => tx.rollback().await?,
                _ => tx.commit().await?,
            }
            edited
        });
        Ok(match edited {
            0 => Edited::Gone,
            _ => Edited::Done(at.rfc3339()),
        })
    }

    /// Leaves a tombstone: the row stays (seqs remain contiguous), the text
    /// and its reactions go.
    pub async fn delete_message(&self, room: &RoomName, seq: u64) -> Result<(), StorageError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "DELETE FROM reactions
                 WHERE room_id = (SELECT id FROM rooms WHERE name = $1) AND seq = $2",
            )
            .bind(room.as_str())
            .bind(seq as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE messages SET body = '', deleted_at = $1
                 WHERE room_id = (SELECT id FROM rooms WHERE name = $2) AND seq = $3",
            )
            .bind(Stamp::now())
            .bind(room.as_str())
            .bind(seq as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// What an edit did.
#[derive(Debug, PartialEq, Eq)]
pub enum Edited {
    /// Made, at this time (RFC 3339).
    Done(String),
    /// Its client id was applied already: nothing changed.
    Repeat,
    /// The message was deleted: nothing changed.
    Gone,
}

fn message_from_row(
    room: RoomName,
    (seq, id, user, message, ts, edited_at, deleted, client_id): MessageRow,
) -> ChatMessage {
    ChatMessage {
        room,
        seq: seq as u64,
        id: id.to_string(),
        user,
        message,
        ts: ts.rfc3339(),
        edited_at: edited_at.map(|at| at.rfc3339()),
        deleted,
        reactions: Vec::new(),
        client_id: client_id.and_then(|c| ClientId::parse(&c).ok()),
    }
}

/// Reserves `$3` seqs for room `$1` at time `$2` (creating the room if it
/// is new); returns its id and its last seq. Shared with the SQLite
/// writer's own connection (`sqlite_writer.rs`).
pub(super) const RESERVE_SEQS: &str =
    "INSERT INTO rooms (name, created_at, last_seq, last_message_at)
     VALUES ($1, $2, $3, $2)
     ON CONFLICT (name) DO UPDATE
        SET last_seq = rooms.last_seq + excluded.last_seq,
            last_message_at = excluded.last_message_at
     RETURNING id, last_seq";

/// Rows per multi-row INSERT: 7 parameters each stays well under SQLite's
/// limit of 32,766 bound parameters per statement (PostgreSQL's is 65,535).
const ROWS_PER_INSERT: usize = 500;

impl Storage {
    /// Stores the batch in one transaction (group commit: one disk sync for
    /// all of it); each message gets its room's next seq, in batch order.
    /// Returns the stored messages in the same order.
    ///
    /// The number of statements does not grow with the batch: one UPSERT per
    /// room reserves that room's block of seqs, and the messages go in with
    /// multi-row INSERTs. Each statement is a round trip (to SQLite's thread
    /// or PostgreSQL's socket), so one or two per message used to cap the
    /// writer at a few thousand messages a second (`bench/NOTES.md`).
    ///
    /// Safe with several processes writing at once: the UPSERT holds the
    /// room row's lock until commit (SQLite: the one write lock), so a
    /// second reservation for that room waits and then reads the committed
    /// `last_seq`; blocks never overlap and a rolled-back batch gives its
    /// block back. Rooms are reserved in name order, so two batches that
    /// share rooms take their locks in the same order and cannot deadlock.
    ///
    /// The message writer's storage on SQLite runs the same SQL on a
    /// connection of its own and blocks meanwhile ([`super::sqlite_writer`]:
    /// no hand-off to sqlx's thread per statement); the writer calls it from
    /// a thread of its own ([`Storage::blocks_on_insert`]).
    pub async fn insert_batch(
        &self,
        batch: &[NewMessage],
    ) -> Result<Vec<ChatMessage>, StorageError> {
        if let Some(connection) = &self.batches {
            return connection.insert_batch(batch);
        }
        let ts = Stamp::now();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut blocks = HashMap::new();
            for (room, count) in posts_per_room(batch) {
                let (room_id, last_seq): (i64, i64) = sqlx::query_as(RESERVE_SEQS)
                .bind(room.as_str())
                .bind(ts)
                .bind(count)
                .fetch_one(&mut *tx)
                .await?;
                // Per room: its id and the next seq of its block.
                blocks.insert(room, (room_id, last_seq - count + 1));
            }
            let rows = number(batch, &mut blocks);
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO messages (room_id, seq, id, user_id, username, body, created_at, client_id) ",
                );
                insert.push_values(chunk, |mut row, (new, room_id, seq)| {
                    row.push_bind(*room_id)
                        .push_bind(*seq)
                        .push_bind(new.id)
                        .push_bind(new.user_id)
                        .push_bind(&new.username)
                        .push_bind(&new.text)
                        .push_bind(ts)
                        .push_bind(new.client_id.as_ref().map(ClientId::as_str));
                });
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(rows
                .iter()
                .map(|(new, _, seq)| stored_message(new, *seq as u64, ts))
                .collect())
        })
    }

    /// Which of these posts' client ids are stored already, and as which
    /// seq: one statement for the lot (on the writer's SQLite connection,
    /// a call on its own thread, like its batches).
    pub async fn known_client_ids(
        &self,
        sent: &[SentAs],
    ) -> Result<HashMap<SentAs, u64>, StorageError> {
        if sent.is_empty() {
            return Ok(HashMap::new());
        }
        if let Some(connection) = &self.batches {
            return connection.known_client_ids(sent);
        }
        let sql = known_ids_sql(sent.len());
        let rows: Vec<(String, i64, String, i64)> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql);
            for s in sent {
                query = query.bind(s.room.as_str()).bind(s.user_id).bind(s.client_id.as_str());
            }
            query.fetch_all(pool).await?
        });
        Ok(known_from_rows(rows))
    }

    /// The batch as stored, if it was: after a commit whose answer was lost
    /// with the connection, this tells whether it happened (a transaction
    /// is all or nothing, so its first message says it for all of them).
    pub async fn stored_batch(
        &self,
        batch: &[NewMessage],
    ) -> Result<Option<Vec<ChatMessage>>, StorageError> {
        let Some(first) = batch.first() else {
            return Ok(Some(Vec::new()));
        };
        let mut stored = Vec::with_capacity(batch.len());
        for new in batch {
            let row: Option<(i64, Stamp)> = with_pool!(self, pool => sqlx::query_as(
                "SELECT seq, created_at FROM messages WHERE id = $1",
            )
            .bind(new.id)
            .fetch_optional(pool)
            .await?);
            match row {
                Some((seq, ts)) => stored.push(stored_message(new, seq as u64, ts)),
                None if new.id == first.id => return Ok(None),
                None => {
                    return Err(StorageError::Database(sqlx::Error::Protocol(format!(
                        "message {} of a committed batch is missing",
                        new.id
                    ))));
                }
            }
        }
        Ok(Some(stored))
    }
}

/// `(room, user, client id, seq)` rows as a lookup.
pub(super) fn known_from_rows(rows: Vec<(String, i64, String, i64)>) -> HashMap<SentAs, u64> {
    rows.into_iter()
        .filter_map(|(room, user_id, client_id, seq)| {
            let sent = SentAs {
                room: RoomName::parse_stored(&room).ok()?,
                user_id,
                client_id: ClientId::parse(&client_id).ok()?,
            };
            Some((sent, seq as u64))
        })
        .collect()
}

/// Each post with its room's id and its seq, in batch order, taken from
/// the room's reserved block.
pub(super) fn number<'a>(
    batch: &'a [NewMessage],
    blocks: &mut HashMap<&RoomName, (i64, i64)>,
) -> Vec<(&'a NewMessage, i64, i64)> {
    batch
        .iter()
        .map(|new| {
            let (room_id, seq) = blocks
                .get_mut(&new.room)
                .expect("every post's room has a block of seqs");
            *seq += 1;
            (new, *room_id, *seq - 1)
        })
        .collect()
}

/// Per room: how many posts it has in the batch, in name order (the order
/// every process takes the rooms' locks in).
pub(super) fn posts_per_room(batch: &[NewMessage]) -> Vec<(&RoomName, i64)> {
    let mut counts: std::collections::BTreeMap<&str, (&RoomName, i64)> = Default::default();
    for new in batch {
        counts.entry(new.room.as_str()).or_insert((&new.room, 0)).1 += 1;
    }
    counts.into_values().collect()
}

/// The message as everyone will see it once stored.
pub(super) fn stored_message(new: &NewMessage, seq: u64, ts: Stamp) -> ChatMessage {
    ChatMessage {
        room: new.room.clone(),
        seq,
        id: new.id.to_string(),
        user: new.username.clone(),
        message: new.text.clone(),
        ts: ts.rfc3339(),
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        client_id: new.client_id.clone(),
    }
}
