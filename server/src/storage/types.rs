//! Column types whose representation differs between the backends, as
//! newtypes that encode and decode on both: a query binds a [`Stamp`] or a
//! [`MessageId`] and reads one back whichever database runs it. This is
//! what `sqlx::Any` cannot do (it has no timestamp or UUID type at all),
//! and why storage is generic over the two concrete backends instead.
//!
//! - [`Stamp`]: `timestamptz` on PostgreSQL; on SQLite RFC 3339 text in UTC
//!   with exactly six fractional digits, so the text sorts as the time does
//!   (older rows with other precisions still parse).
//! - [`MessageId`]: `uuid` on PostgreSQL; hyphenated text on SQLite (what
//!   databases of earlier releases hold; sqlx's own `Uuid` would be a blob).
//!
//! Never imports the layer, the protocol's events or metrics.

use sqlx::{
    Decode, Encode, Postgres, Sqlite, Type,
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
    sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef},
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// A point in time, to microseconds (PostgreSQL's precision, so what a
/// message carries live is what history returns later).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(pub OffsetDateTime);

/// SQLite's text form: sortable, UTC, microseconds.
const TEXT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

impl Stamp {
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        let micros = now.microsecond();
        Self(now.replace_microsecond(micros).unwrap_or(now))
    }

    /// RFC 3339 in UTC, as the wire protocol carries times.
    pub fn rfc3339(&self) -> String {
        self.0
            .to_offset(time::UtcOffset::UTC)
            .format(TEXT)
            .unwrap_or_default()
    }
}

impl Type<Sqlite> for Stamp {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl<'q> Encode<'q, Sqlite> for Stamp {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode(self.rfc3339(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Stamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(OffsetDateTime::parse(text, &Rfc3339)?))
    }
}

impl Type<Postgres> for Stamp {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Stamp {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Stamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<OffsetDateTime as Decode<Postgres>>::decode(value)?))
    }
}

/// A message's id: a time-ordered UUID (v7), so new ids land at the end of
/// the id index instead of dirtying a random page of it per message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(pub uuid::Uuid);

impl MessageId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Type<Sqlite> for MessageId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl<'q> Encode<'q, Sqlite> for MessageId {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode(self.to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for MessageId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(uuid::Uuid::parse_str(text)?))
    }
}

impl Type<Postgres> for MessageId {
    fn type_info() -> PgTypeInfo {
        <uuid::Uuid as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for MessageId {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <uuid::Uuid as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for MessageId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<uuid::Uuid as Decode<Postgres>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_text_sorts_as_time_does_and_reads_back() {
        let early = Stamp(time::macros::datetime!(2026-12-02 10:00:00.1 UTC));
        let late = Stamp(time::macros::datetime!(2026-12-02 10:00:00.12 UTC));
        assert_eq!(early.rfc3339(), "2026-12-02T10:00:00.100000Z");
        assert!(early.rfc3339() < late.rfc3339());
        let parsed = OffsetDateTime::parse(&late.rfc3339(), &Rfc3339).unwrap();
        assert_eq!(Stamp(parsed), late);
    }
}
