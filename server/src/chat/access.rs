//! Who may open a room: the one rule behind the WebSocket upgrade, the
//! room page's server function, the history API and the consumer's
//! recheck, so the four cannot drift. An admin-only room is for admins; a
//! room not stored whose name looks like a stored one's is refused
//! (`#gеneral` cannot shadow `#general`), naming the real room only to
//! those who may see it; looking never stores a room. If
//! storage cannot answer, callers refuse: the rule fails closed.
//! Must never import HTTP types or the consumer (`ws/`): each caller words
//! a [`Refused`] its own way (an HTTP status, a page, a `session_ended`).

use super::Chat;
use crate::storage::{RoomRecord, StorageError};
use app::names::RoomName;

/// The room may be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// The room is in storage (false until its first message).
    pub stored: bool,
}

/// Why the room may not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The room is admin-only and the viewer is not an admin.
    AdminsOnly(RoomName),
    /// Not stored, and its name looks like the stored room `like`'s.
    LooksLike { room: RoomName, like: RoomName },
}

/// The rule itself: what `record` (the stored room under `room`'s
/// lookalike key, if any) means for a viewer who is an `admin` or not.
pub fn judge(room: &RoomName, record: Option<&RoomRecord>, admin: bool) -> Result<Open, Refused> {
    match record {
        // A lookalike of a hidden room: refused without naming it.
        Some(r) if &r.name != room && r.admin_only && !admin => {
            Err(Refused::AdminsOnly(room.clone()))
        }
        Some(r) if &r.name != room => Err(Refused::LooksLike {
            room: room.clone(),
            like: r.name.clone(),
        }),
        Some(r) if r.admin_only && !admin => Err(Refused::AdminsOnly(room.clone())),
        Some(_) => Ok(Open { stored: true }),
        None => Ok(Open { stored: false }),
    }
}

impl Chat {
    /// Whether a viewer (`admin` or not) may open `room`, as storage has
    /// it now.
    pub async fn access(
        &self,
        room: &RoomName,
        admin: bool,
    ) -> Result<Result<Open, Refused>, StorageError> {
        let record = self.storage.room_like(room).await?;
        Ok(judge(room, record.as_ref(), admin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    fn stored(name: &str, admin_only: bool) -> RoomRecord {
        RoomRecord::unstored(room(name), admin_only)
    }

    #[test]
    fn admin_only_rooms_are_for_admins_and_lookalikes_never_open() {
        let general = room("general");
        assert_eq!(judge(&general, None, false), Ok(Open { stored: false }));
        let open = stored("general", false);
        assert_eq!(
            judge(&general, Some(&open), false),
            Ok(Open { stored: true })
        );
        let closed = stored("general", true);
        assert_eq!(
            judge(&general, Some(&closed), false),
            Err(Refused::AdminsOnly(general.clone()))
        );
        assert_eq!(
            judge(&general, Some(&closed), true),
            Ok(Open { stored: true })
        );
        // Cyrillic е: not the stored room, but looks like it, even to admins.
        let fake = room("gеneral");
        // A hidden room's lookalike names nothing to a non-admin.
        assert_eq!(
            judge(&fake, Some(&closed), false),
            Err(Refused::AdminsOnly(fake.clone()))
        );
        assert_eq!(
            judge(&fake, Some(&open), true),
            Err(Refused::LooksLike {
                room: fake.clone(),
                like: general
            })
        );
    }
}
