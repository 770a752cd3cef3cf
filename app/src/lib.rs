//! The chat's web app: routes and components (rendered on the server,
//! hydrated in the browser, or mounted client-side by the Trunk build) and
//! the types both ends share.
//!
//! - [`names`]: `RoomName::parse` and the other name rules.
//! - [`protocol`]: the WebSocket events and frames, as Rust types.
//! - [`pages`]: the lobby (`/chat/`) and the room (`/chat/<room>/`).
//! - `client` (browser only): the room's self-reconnecting WebSocket.

pub mod names;
pub mod pages;
pub mod protocol;

#[cfg(feature = "browser")]
pub mod client;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path,
};

/// The state of a room's live connection, as the status indicator shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnStatus {
    Connecting,
    Live,
    Reconnecting,
}

impl ConnStatus {
    /// Stable value for `data-state`, which tests and CSS select on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting…",
            Self::Live => "Live",
            Self::Reconnecting => "Reconnecting…",
        }
    }
}

/// The HTML document around the app, for server-side rendering.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let css = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="stylesheet" id="leptos" href=css />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this flips once the page is live;
    // tests wait for it before they type.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Title text="Chat" />
        <Router>
            <div id="app" data-hydrated=move || hydrated.get().to_string()>
                <header class="topbar">
                    <a class="brand" href="/chat/">
                        <img src="/favicon.svg" alt="" width="22" height="22" />
                        "Chat"
                    </a>
                </header>
                <Routes fallback=pages::NotFound>
                    // The server answers `/` with a real redirect; this covers client-side routing.
                    <Route path=path!("/") view=|| view! { <Redirect path="/chat/" /> } />
                    <Route path=path!("/chat/") view=pages::LobbyPage />
                    <Route path=path!("/chat/:room/") view=pages::RoomPage />
                </Routes>
            </div>
        </Router>
    }
}
