//! Signals between server processes that no client ever sees: they travel
//! through the channel layer like events (so every process hears them) and
//! each consumer acts on them instead of forwarding them. They exist so
//! that rights count at once on sockets already open: an admin removed, a
//! room made admin-only, a session logged out. Must never import the
//! consumer (`ws/`) or HTTP types.

use super::{Chat, groups, tell_text};
use crate::{
    auth::EndedSession,
    layer::{ChannelLayer, GroupName},
};
use serde::{Deserialize, Serialize};

/// How every signal's JSON begins, so a consumer tells one from an event
/// without parsing each payload.
pub const PREFIX: &str = r#"{"control":"#;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum Control {
    /// Read your account and room from storage again and act on what
    /// changed (admin rights given or taken, the room made admin-only).
    Recheck,
    /// The session with this tag logged out: its sockets end.
    LoggedOut { session: String },
}

impl Control {
    /// The signal in a payload's text, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        if !text.starts_with(PREFIX) {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// Sends the signal to every connection in `group`, on every process.
pub async fn signal(layer: &dyn ChannelLayer, group: &GroupName, control: Control) {
    let text = serde_json::to_string(&control).unwrap_or_default();
    tell_text(layer, group, text).await;
}

impl Chat {
    /// Ends the sockets of a session that logged out, on every process
    /// (the person's other sessions stay).
    pub async fn logged_out(&self, ended: EndedSession) {
        let inbox = groups::inbox(&ended.username);
        let control = Control::LoggedOut {
            session: ended.socket_tag,
        };
        signal(self.layer.as_ref(), &inbox, control).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_round_trip_and_events_are_not_signals() {
        for control in [
            Control::Recheck,
            Control::LoggedOut {
                session: "abc".into(),
            },
        ] {
            let text = serde_json::to_string(&control).unwrap();
            assert!(text.starts_with(PREFIX), "{text}");
            assert_eq!(Control::parse(&text), Some(control));
        }
        assert_eq!(
            Control::parse(r#"{"type":"chat","control":"recheck"}"#),
            None
        );
    }
}
