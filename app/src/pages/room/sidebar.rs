//! The sidebar beside the log: the signed-in person's rooms and direct
//! conversations ([`Mine`], from the lobby's live feed), each with its
//! unread count, live, the one open now marked. Alt+↑ and Alt+↓ move to
//! the one above or below from anywhere on the page. On a phone it is a
//! drawer behind the ☰ button in the room's header. Visitors have none.

use super::state::RoomState;
use crate::pages::badge::MentionBadge;
use crate::{
    lang::{tf, tr},
    pages::mine::{Mine, Place},
};
use leptos::prelude::*;

/// The person's places in sidebar order (rooms, then conversations), the
/// one open now among them even before the server has its marker.
fn ordered(mine: &Mine, me: &str, current: &Place) -> (Vec<Place>, Vec<Place>) {
    let mut rooms = mine.places(me, false);
    let directs = mine.places(me, true);
    let listed = rooms.iter().chain(&directs).any(|p| p.room == current.room);
    if !listed {
        match current.peer {
            Some(_) => {
                return (
                    rooms,
                    std::iter::once(current.clone()).chain(directs).collect(),
                );
            }
            None => rooms.insert(0, current.clone()),
        }
    }
    (rooms, directs)
}

/// The page `step` places away from the open one (wrapping around).
fn neighbour(places: &[Place], current: &Place, step: isize) -> Option<String> {
    let at = places.iter().position(|p| p.room == current.room)? as isize;
    let n = places.len() as isize;
    let to = (at + step).rem_euclid(n) as usize;
    (to as isize != at).then(|| places[to].page_path())
}

#[component]
pub fn Sidebar(open: RwSignal<bool>) -> impl IntoView {
    let state = expect_context::<RoomState>();
    let i18n = state.i18n;
    let mine = RwSignal::new(Mine::default());
    follow(mine);
    let current = Place {
        room: state.room.get_value(),
        peer: state.peer.get_value(),
        unread: 0,
        mentions: 0,
    };
    let places = {
        let current = current.clone();
        move || {
            let me = state.me.name()?;
            Some(mine.with(|m| ordered(m, &me, &current)))
        }
    };
    move_with_keys(places.clone(), current.clone(), open);
    let nav = NodeRef::<leptos::html::Nav>::new();
    // Opened as a drawer: the focus goes into it, on the open place.
    Effect::new(move |_| {
        if open.get()
            && let Some(nav) = nav.get()
            && let Ok(Some(link)) = nav.query_selector("a.place")
        {
            use leptos::wasm_bindgen::JsCast;
            if let Ok(link) = link.dyn_into::<leptos::web_sys::HtmlElement>() {
                let _ = link.focus();
            }
        }
    });
    let open_now = StoredValue::new(current.room);
    let item = move |place: Place| {
        let here = open_now.with_value(|room| place.room == *room);
        let unread = place.unread;
        let label = place.label().to_owned();
        let described = move || tf!(i18n.get_locale(), lobby.unread, n = unread);
        view! {
            <li>
                <a href=place.page_path() class="place" class:current=here class:direct=place.peer.is_some()
                    aria-current=here.then_some("page") on:click=move |_| open.set(false)>
                    <span class="name" dir="auto">{label}</span>
                    {(!here).then(|| view! { <MentionBadge n=place.mentions /> })}
                    {(unread > 0 && !here).then(|| view! {
                        <span class="unread" aria-label=described>{unread}</span>
                    })}
                </a>
            </li>
        }
        // Erased: keeps the sidebar's view type shallow (release builds).
        .into_any()
    };
    view! {
        <nav id="sidebar" class="sidebar" class:open=move || open.get() node_ref=nav
            aria-label=tr!(i18n, sidebar.label)
            hidden=move || state.me.get().is_none()>
            {move || places().map(|(rooms, directs)| view! {
                <h2>{tr!(i18n, sidebar.rooms)}</h2>
                <ul class="places" id="my-rooms">{rooms.into_iter().map(item).collect_view()}</ul>
                <h2>{tr!(i18n, direct.heading)}</h2>
                {if directs.is_empty() {
                    view! { <p class="hint">{tr!(i18n, sidebar.no_conversations)}</p> }.into_any()
                } else {
                    view! { <ul class="places" id="my-conversations">{directs.into_iter().map(item).collect_view()}</ul> }.into_any()
                }}
                <p class="hint keys">{tr!(i18n, sidebar.keys)}</p>
            })}
        </nav>
    }
    // Erased: the room's view type stays shallow enough for release builds.
    .into_any()
}

/// The ☰ button that opens the sidebar as a drawer (phones only: CSS
/// hides it on wide screens, where the sidebar is always there).
#[component]
pub fn SidebarToggle(open: RwSignal<bool>) -> impl IntoView {
    let state = expect_context::<RoomState>();
    view! {
        <button type="button" id="sidebar-toggle" class="sidebar-toggle"
            hidden=move || state.me.get().is_none()
            aria-controls="sidebar" aria-expanded=move || open.get().to_string()
            aria-label=tr!(state.i18n, sidebar.toggle)
            on:click=move |_| open.update(|o| *o = !*o)>
            "☰"
        </button>
    }
}

/// Alt+↑ / Alt+↓ anywhere on the page: the place above or below. Esc
/// closes the drawer.
fn move_with_keys(
    places: impl Fn() -> Option<(Vec<Place>, Vec<Place>)> + Clone + 'static,
    current: Place,
    open: RwSignal<bool>,
) {
    Effect::new(move |_| {
        let (places, current) = (places.clone(), current.clone());
        let navigate = leptos_router::hooks::use_navigate();
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let step = match ev.key().as_str() {
                "ArrowUp" if ev.alt_key() => -1,
                "ArrowDown" if ev.alt_key() => 1,
                "Escape" if open.get_untracked() => return open.set(false),
                _ => return,
            };
            let Some((rooms, directs)) = places() else {
                return;
            };
            let all: Vec<Place> = rooms.into_iter().chain(directs).collect();
            if let Some(path) = neighbour(&all, &current, step) {
                ev.prevent_default();
                navigate(&path, Default::default());
            }
        });
        on_cleanup(move || handle.remove());
    });
}

/// Browser only: the lobby's live feed, while the tab is visible.
fn follow(mine: RwSignal<Mine>) {
    #[cfg(feature = "browser")]
    Effect::new(move |_| {
        crate::lobby_feed::follow_while_visible(move |event| mine.update(|m| m.apply(&event)));
    });
    // On the server the list is empty until the browser takes over.
    #[cfg(not(feature = "browser"))]
    let _ = (mine, Mine::apply);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        names::RoomName,
        protocol::{LobbyEvent, ReadMarker},
    };

    fn place(room: &str, peer: Option<&str>) -> Place {
        Place {
            room: RoomName::parse_stored(room).unwrap(),
            peer: peer.map(str::to_owned),
            unread: 0,
            mentions: 0,
        }
    }

    #[test]
    fn the_open_room_is_listed_and_alt_arrows_wrap_around() {
        let mut mine = Mine::default();
        let marker = |room: &str| ReadMarker {
            room: RoomName::parse_stored(room).unwrap(),
            seq: 1,
            last_seq: Some(1),
            mentions: Vec::new(),
        };
        mine.apply(&LobbyEvent::Rooms {
            rooms: Vec::new(),
            read: vec![marker("alpha"), marker("@ala+bob")],
        });
        let new = place("beta", None);
        let (rooms, directs) = ordered(&mine, "bob", &new);
        let names: Vec<_> = rooms.iter().chain(&directs).map(Place::label).collect();
        assert_eq!(names, ["beta", "alpha", "ala"]);
        let all: Vec<Place> = rooms.into_iter().chain(directs).collect();
        assert_eq!(neighbour(&all, &new, 1).as_deref(), Some("/chat/alpha/"));
        assert_eq!(neighbour(&all, &new, -1).as_deref(), Some("/chat/dm/ala/"));
        let alone = [new.clone()];
        assert_eq!(neighbour(&alone, &new, 1), None);
    }
}
