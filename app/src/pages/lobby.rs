//! `/chat/`: the lobby, where a person types a room name and goes there,
//! or picks one of the active rooms. The server renders the first list;
//! in the browser the live feed ([`crate::lobby_feed`]) keeps it current,
//! room by room, without polling.

use super::{badge::MentionBadge, mine::Mine};
use crate::{
    lang::{Locale, page_title, room_name_error_text, t_string, tf, tr, use_i18n},
    names::{ROOM_NAME_MAX_CHARS, RoomName},
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
    // The signed-in person's rooms and conversations, from the live feed.
    let mine = RwSignal::new(Mine::default());

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
                <ActiveRooms mine />
                <Conversations mine />
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
fn Conversations(mine: RwSignal<Mine>) -> impl IntoView {
    let i18n = use_i18n();
    let me = expect_context::<crate::CurrentUser>();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let me = me.0.await.ok().flatten()?.username;
                let list = move || mine.with(|m| m.places(&me, true));
                Some(view! {
                    <section class="rooms conversations" aria-labelledby="direct-title">
                        <h2 id="direct-title">{tr!(i18n, direct.heading)}</h2>
                        {move || match list() {
                            list if list.is_empty() => view! {
                                <p class="hint">{tr!(i18n, direct.none)}</p>
                            }.into_any(),
                            list => view! {
                                <ul id="direct-list" class="room-list">
                                    {list.into_iter().map(|place| { let unread = place.unread; view! {
                                        <li data-peer=place.label().to_owned()>
                                            <a href=place.page_path()>{place.label().to_owned()}</a>
                                            {(unread > 0).then(|| view! {
                                                <span class="unread" aria-label=move || tf!(i18n.get_locale(), lobby.unread, n = unread)>{unread}</span>
                                            })}
                                        </li>
                                    }}).collect_view()}
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
fn ActiveRooms(mine: RwSignal<Mine>) -> impl IntoView {
    let i18n = use_i18n();
    // The server renders the first list; the live feed takes over once
    // the page runs in the browser.
    let first = OnceResource::new(list_rooms());
    let live = RwSignal::new(None::<Vec<RoomSummary>>);
    follow_live(live, mine);
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
                                    {let room = r.name.clone(); move || view! { <MentionBadge n=mine.with(|m| m.mentions(&room)) /> }}
                                    {let room = r.name.clone(); move || mine.with(|m| m.unread(&room)).filter(|n| *n > 0).map(|n| view! {
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

/// Browser only: follows the live feed while the lobby's tab is visible.
fn follow_live(live: RwSignal<Option<Vec<RoomSummary>>>, mine: RwSignal<Mine>) {
    #[cfg(feature = "browser")]
    Effect::new(move |_| {
        use crate::protocol::LobbyEvent;
        crate::lobby_feed::follow_while_visible(move |event| {
            mine.update(|m| m.apply(&event));
            match event {
                LobbyEvent::Rooms { rooms, .. } => live.set(Some(active(rooms))),
                LobbyEvent::RoomSummary(line) => live.update(|list| {
                    if let Some(list) = list {
                        apply(list, line);
                    }
                }),
                LobbyEvent::Read(_)
                | LobbyEvent::PrivateMessage { .. }
                | LobbyEvent::Mention { .. } => {}
            }
        });
    });
    #[cfg(not(feature = "browser"))]
    let _ = (live, mine, apply);
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
