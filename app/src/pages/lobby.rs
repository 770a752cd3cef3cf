//! `/chat/`: the lobby, where a person types a room name and goes there,
//! or picks one of the active rooms. The server renders the first list;
//! in the browser the live feed ([`crate::lobby_feed`]) keeps it current,
//! room by room, without polling.

use crate::{
    lang::{Locale, page_title, room_name_error_text, t_string, tf, tr, use_i18n},
    names::{ROOM_NAME_MAX_CHARS, RoomName},
    protocol::ReadMarker,
    server_fns::{RoomSummary, list_rooms},
};
use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn LobbyPage() -> impl IntoView {
    let i18n = use_i18n();
    let input = NodeRef::<html::Input>::new();
    // Kept as the refusal, not its words: switching language re-words it.
    let error = RwSignal::new(None::<crate::names::RoomNameError>);
    let navigate = use_navigate();
    // The signed-in person's read markers (rooms and conversations), from
    // the live feed.
    let markers = RwSignal::new(Vec::<ReadMarker>::new());

    // `autofocus` covers the first load; this covers arriving by client-side navigation.
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(field) = input.get() else { return };
        match RoomName::parse(field.value().trim()) {
            Ok(room) => navigate(&room.page_path(), Default::default()),
            Err(e) => {
                error.set(Some(e));
                let _ = field.focus();
            }
        }
    };

    view! {
        <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, lobby.title)) />
        <main class="page narrow lobby">
            <h1 id="lobby-title">{tr!(i18n, lobby.heading)}</h1>
            <form class="room-picker" on:submit=on_submit aria-labelledby="lobby-title">
                <label for="room-name" class="visually-hidden">
                    {tr!(i18n, lobby.room_name)}
                </label>
                <input
                    id="room-name"
                    node_ref=input
                    type="text"
                    name="room"
                    autofocus
                    autocomplete="off"
                    spellcheck="false"
                    placeholder=tr!(i18n, lobby.placeholder)
                    maxlength=ROOM_NAME_MAX_CHARS.to_string()
                    aria-invalid=move || error.with(|e| e.is_some()).to_string()
                    aria-describedby="room-hint room-error"
                    on:input=move |_| error.set(None)
                />
                <button type="submit">{tr!(i18n, lobby.enter)}</button>
            </form>
            <p id="room-hint" class="hint">
                {tr!(i18n, lobby.hint)}
            </p>
            <p id="room-error" class="form-error" role="alert">
                {move || error.get().map(|e| room_name_error_text(i18n.get_locale(), &e))}
            </p>
            <div class="lobby-lists">
                <ActiveRooms markers />
                <Conversations markers />
            </div>
        </main>
    }
}

/// Rooms worth listing: someone is there or has ever spoken, busiest first.
const LISTED: usize = 30;

/// As the server lists them: readers alone do not list a room nobody has
/// posted in (a visitor cannot put a room in the lobby).
fn listed(room: &RoomSummary) -> bool {
    room.online > 0 || room.last_message_at.is_some()
}

fn active(rooms: Vec<RoomSummary>) -> Vec<RoomSummary> {
    rooms.into_iter().filter(listed).take(LISTED).collect()
}

/// Puts a changed room's line into the list, or takes it off: busiest
/// first, then most recently active, as the server orders the whole list.
fn apply(list: &mut Vec<RoomSummary>, line: RoomSummary) {
    list.retain(|r| r.name != line.name);
    if listed(&line) {
        list.push(line);
    }
    // RFC 3339 UTC strings sort as times; None (never posted) last.
    list.sort_by(|a, b| {
        b.online
            .cmp(&a.online)
            .then_with(|| b.last_message_at.cmp(&a.last_message_at))
            .then_with(|| b.readers.cmp(&a.readers))
    });
    list.truncate(LISTED);
}

/// Unread messages in `room` for a person with these read markers; `None`
/// when there are none, or the room is not one they have read.
fn unread_in(markers: &[ReadMarker], room: &RoomSummary) -> Option<u64> {
    let marker = markers.iter().find(|m| m.room == room.name)?;
    Some(room.last_seq.saturating_sub(marker.seq)).filter(|n| *n > 0)
}

/// Takes in a marker (markers only move forward, and so do rooms).
fn merge(markers: &mut Vec<ReadMarker>, new: ReadMarker) {
    match markers.iter_mut().find(|m| m.room == new.room) {
        Some(m) => {
            m.seq = m.seq.max(new.seq);
            m.last_seq = m.last_seq.max(new.last_seq);
        }
        None => markers.push(new),
    }
}

/// A message `seq` arrived in the direct conversation `room`.
fn arrived(markers: &mut Vec<ReadMarker>, room: RoomName, seq: u64) {
    let last_seq = Some(seq);
    merge(
        markers,
        ReadMarker {
            room,
            seq: 0,
            last_seq,
        },
    );
}

/// The person's direct conversations: the other person, and how many
/// messages they have not read; unread first, then by name.
fn conversations(markers: &[ReadMarker], me: &str) -> Vec<(String, u64)> {
    let mut list: Vec<(String, u64)> = markers
        .iter()
        .filter_map(|m| {
            let peer = m.room.peer_of(me)?;
            let unread = m.last_seq.unwrap_or(0).saturating_sub(m.seq);
            Some((peer.to_owned(), unread))
        })
        .collect();
    list.sort_by(|a, b| (b.1 > 0).cmp(&(a.1 > 0)).then_with(|| a.0.cmp(&b.0)));
    list
}

/// "3 online · 5 reading"; readers only when there are some.
fn occupancy(locale: Locale, room: &RoomSummary) -> String {
    let online = room.online;
    match room.readers {
        0 => tf!(locale, lobby.online, online = online),
        readers => tf!(
            locale,
            lobby.online_reading,
            online = online,
            readers = readers
        ),
    }
}

/// The signed-in person's direct conversations, each with its unread
/// count, live (from the lobby feed's markers and private messages).
#[component]
fn Conversations(markers: RwSignal<Vec<ReadMarker>>) -> impl IntoView {
    let i18n = use_i18n();
    let me = expect_context::<crate::CurrentUser>();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let me = me.0.await.ok().flatten()?.username;
                let list = move || markers.with(|m| conversations(m, &me));
                Some(view! {
                    <section class="rooms conversations" aria-labelledby="direct-title">
                        <h2 id="direct-title">{tr!(i18n, direct.heading)}</h2>
                        {move || match list() {
                            list if list.is_empty() => view! {
                                <p class="hint">{tr!(i18n, direct.none)}</p>
                            }.into_any(),
                            list => view! {
                                <ul id="direct-list" class="room-list">
                                    {list.into_iter().map(|(peer, unread)| view! {
                                        <li data-peer=peer.clone()>
                                            <a href=RoomName::direct_page_path(&peer)>{peer.clone()}</a>
                                            {(unread > 0).then(|| view! {
                                                <span class="unread" aria-label=move || tf!(i18n.get_locale(), lobby.unread, n = unread)>{unread}</span>
                                            })}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }}
                    </section>
                })
            })}
        </Transition>
    }
}

#[component]
fn ActiveRooms(markers: RwSignal<Vec<ReadMarker>>) -> impl IntoView {
    let i18n = use_i18n();
    // The server renders the first list; the live feed takes over once
    // the page runs in the browser.
    let first = OnceResource::new(list_rooms());
    let live = RwSignal::new(None::<Vec<RoomSummary>>);
    follow_live(live, markers);
    let rooms = move || match live.get() {
        Some(list) => Some(Ok(list)),
        None => first.get().map(|r| r.map(active)),
    };
    view! {
        <section class="rooms" aria-labelledby="rooms-title">
            <h2 id="rooms-title">{tr!(i18n, lobby.active)}</h2>
            <Transition fallback=move || view! { <p class="hint">{tr!(i18n, lobby.loading)}</p> }>
                {move || rooms().map(|result| match result {
                    Ok(list) if list.is_empty() => view! {
                        <p class="hint">{tr!(i18n, lobby.none)}</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul id="room-list" class="room-list" aria-live="polite">
                            {list.into_iter().map(|r| view! {
                                <li data-room=r.name.to_string()>
                                    <a href=r.name.page_path()>{r.name.to_string()}</a>
                                    {let r = r.clone(); move || markers.with(|m| unread_in(m, &r)).map(|n| view! {
                                        <span class="unread" aria-label=move || tf!(i18n.get_locale(), lobby.unread, n = n)>{n}</span>
                                    })}
                                    <span class="online" class:some={r.online > 0}>
                                        {let r = r.clone(); move || occupancy(i18n.get_locale(), &r)}
                                    </span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(_) => view! {
                        <p class="hint">{tr!(i18n, lobby.unavailable)}</p>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// Browser only: follows the live feed for as long as the lobby is open.
fn follow_live(live: RwSignal<Option<Vec<RoomSummary>>>, markers: RwSignal<Vec<ReadMarker>>) {
    #[cfg(feature = "browser")]
    Effect::new(move |_| {
        use crate::protocol::LobbyEvent;
        let feed = crate::lobby_feed::LobbyFeed::follow(move |event| match event {
            LobbyEvent::Rooms { rooms, read } => {
                markers.update(|m| read.into_iter().for_each(|r| merge(m, r)));
                live.set(Some(active(rooms)))
            }
            LobbyEvent::Read(marker) => markers.update(|m| merge(m, marker)),
            LobbyEvent::PrivateMessage {
                room: Some(room),
                seq: Some(seq),
                ..
            } => markers.update(|m| arrived(m, room, seq)),
            LobbyEvent::PrivateMessage { .. } => {}
            LobbyEvent::RoomSummary(line) => live.update(|list| {
                if let Some(list) = list {
                    apply(list, line);
                }
            }),
        });
        let feed = StoredValue::new(Some(feed));
        on_cleanup(move || feed.update_value(|f| drop(f.take())));
    });
    #[cfg(not(feature = "browser"))]
    let _ = (live, markers, apply, merge, arrived);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, online: usize, readers: usize, at: Option<&str>) -> RoomSummary {
        RoomSummary {
            name: RoomName::parse(name).unwrap(),
            online,
            readers,
            last_message_at: at.map(str::to_owned),
            last_seq: 0,
        }
    }

    #[test]
    fn unread_counts_only_rooms_read_before_and_markers_only_move_forward() {
        let marker = |room: &str, seq| ReadMarker {
            room: RoomName::parse_stored(room).unwrap(),
            seq,
            last_seq: None,
        };
        let mut markers = Vec::new();
        merge(&mut markers, marker("mine", 3));
        arrived(&mut markers, RoomName::parse_stored("@ala+bob").unwrap(), 2);
        merge(&mut markers, marker("mine", 2));
        let mut room = line("mine", 0, 0, Some("2026-12-01T10:00:00Z"));
        room.last_seq = 7;
        assert_eq!(unread_in(&markers, &room), Some(4));
        merge(&mut markers, marker("mine", 7));
        assert_eq!(unread_in(&markers, &room), None, "all read");
        let mut other = line("other", 0, 0, None);
        other.last_seq = 9;
        assert_eq!(unread_in(&markers, &other), None, "never read");
        assert_eq!(conversations(&markers, "bob"), [("ala".to_owned(), 2)]);
        merge(&mut markers, marker("@ala+bob", 2));
        assert_eq!(conversations(&markers, "ala"), [("bob".to_owned(), 0)]);
    }

    #[test]
    fn a_changed_room_moves_to_its_place_and_an_empty_one_drops_off() {
        let mut list = vec![
            line("busy", 3, 0, Some("2026-12-01T10:00:00Z")),
            line("quiet", 0, 0, Some("2026-12-01T09:00:00Z")),
        ];
        apply(&mut list, line("quiet", 5, 1, Some("2026-12-01T11:00:00Z")));
        let names: Vec<_> = list.iter().map(|r| r.name.to_string()).collect();
        assert_eq!(names, ["quiet", "busy"]);
        apply(&mut list, line("new", 0, 2, None));
        assert_eq!(list.len(), 2, "readers alone do not list a room");
        apply(&mut list, line("busy", 0, 0, None));
        let names: Vec<_> = list.iter().map(|r| r.name.to_string()).collect();
        assert_eq!(names, ["quiet"]);
        assert_eq!(occupancy(Locale::en, &list[0]), "5 online · 1 reading");
        assert_eq!(occupancy(Locale::en, &line("x", 2, 0, None)), "2 online");
        assert_eq!(occupancy(Locale::zh, &list[0]), "5 人在线 · 1 人在看");
    }
}
