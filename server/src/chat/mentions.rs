//! Mentions: after a batch is stored, each message that names people
//! (`@bob`, by the page's own rule: [`app::pages::mentioned`]) is noted
//! for each of them who has the room among theirs, and their inbox hears
//! `{"type":"mention","room":…,"seq":…}`, so the lobby's and the
//! sidebar's badges move at once. Off the writer's path: spawned, and
//! nothing at all for the messages without an `@` (nearly all).
//! Never imports the WebSocket code: only storage and the layer.

use super::groups;
use crate::{layer::ChannelLayer, storage::Storage};
use app::protocol::{ChatMessage, ServerEvent};
use std::sync::Arc;

/// Notes the mentions of a stored batch (at most `most` people a
/// message, `MENTIONS_PER_MESSAGE`), and tells each person noted.
pub fn after_stored(
    layer: &Arc<dyn ChannelLayer>,
    storage: &Storage,
    stored: &[ChatMessage],
    most: usize,
) {
    let named: Vec<(ChatMessage, Vec<String>)> = stored
        .iter()
        // A direct conversation's messages are all for the other person.
        .filter(|m| !m.room.is_direct())
        .filter_map(|m| {
            let names: Vec<String> = app::pages::mentioned(&m.message, most)
                .into_iter()
                .filter(|name| !name.eq_ignore_ascii_case(&m.user))
                .map(str::to_owned)
                .collect();
            (!names.is_empty()).then(|| (m.clone(), names))
        })
        .collect();
    if named.is_empty() {
        return;
    }
    let (layer, storage) = (layer.clone(), storage.clone());
    tokio::spawn(async move {
        for (message, names) in named {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let noted = match storage
                .note_mentions(&message.room, message.seq, &names)
                .await
            {
                Ok(noted) => noted,
                Err(e) => {
                    tracing::warn!("noting mentions in {}: {e}", message.room);
                    continue;
                }
            };
            for person in noted {
                let event = ServerEvent::Mention {
                    room: message.room.clone(),
                    seq: message.seq,
                };
                super::tell(layer.as_ref(), &groups::inbox(&person), event).await;
            }
        }
    });
}
