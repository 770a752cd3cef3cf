//! The chat's web app: routes and components (rendered on the server,
//! hydrated in the browser, or mounted client-side by the Trunk build) and
//! the types both ends share.
//!
//! - [`names`]: `RoomName::parse`, `Username::parse`.
//! - [`protocol`]: the WebSocket events and frames, as Rust types.
//! - [`account`]: who is signed in, the password rule, account refusals,
//!   the safe `next` after signing in.
//! - [`admin`]: the admin page's actions, lists and audit words.
//! - [`server_fns`]: server functions the pages call.
//! - [`pages`]: lobby, room, log in, register, admin.
//! - [`lang`]: 简体中文 and English: the choice, the switch, translated refusals.
//! - [`browser`]: the clock and time zone, with a plain arm for the server.
//! - [`durable`]: records that survive a reload (IndexedDB): the outbox.
//! - `client` (browser only): the room's self-reconnecting WebSocket.
//! - `lobby_feed` (browser only): the lobby's live room list.
//! - `i18n` (generated from `locales/*.json`): the `Locale` enum and texts.

// The `i18n` module: the `Locale` enum and the texts of `locales/*.json`.
// Deprecated in favour of build.rs code generation, which would compile
// ICU's data exporter into every build; the macro generates the same module.
#[allow(deprecated)]
mod i18n_module {
    leptos_i18n::load_locales!();
}
pub use i18n_module::i18n;

pub mod account;
pub mod admin;
pub mod browser;
pub mod durable;
pub mod lang;
pub mod names;
pub mod pages;
pub mod protocol;
pub mod server_fns;

#[cfg(feature = "browser")]
pub mod client;
#[cfg(feature = "browser")]
pub mod lobby_feed;

use account::Me;
use lang::{HtmlLang, LanguageSwitch, Locale, td_string, tf, tr, use_i18n};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Redirect, Route, Router, Routes},
    path,
};

/// The state of a room's live connection, as the status indicator shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnStatus {
    Connecting,
    Live,
    Reconnecting,
    /// Live again after a drop, with this many missed messages caught up on.
    BackOnline(usize),
    /// The server closed the connection for good (see the notice for why).
    Ended,
}

impl ConnStatus {
    /// Stable value for `data-state`, which tests and CSS select on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live | Self::BackOnline(_) => "live",
            Self::Reconnecting => "reconnecting",
            Self::Ended => "ended",
        }
    }

    pub fn label(self, locale: Locale) -> String {
        match self {
            Self::Connecting => td_string!(locale, status.connecting).into(),
            Self::Live => td_string!(locale, status.live).into(),
            Self::Reconnecting => td_string!(locale, status.reconnecting).into(),
            Self::Ended => td_string!(locale, status.ended).into(),
            Self::BackOnline(0) => td_string!(locale, status.back_online).into(),
            Self::BackOnline(1) => td_string!(locale, status.back_online_one).into(),
            Self::BackOnline(n) => tf!(locale, status.back_online_many, n = n),
        }
    }
}

/// Who is signed in, loaded once per page load (signing in or out reloads
/// the page) and provided to every component.
/// Whether the page is live in the browser: `false` while the server
/// renders it and while the browser takes over that HTML. What only the
/// browser can know (the reader's clock and time zone) waits for it, so
/// both render the same page first.
#[derive(Clone, Copy)]
pub struct Hydrated(pub ReadSignal<bool>);

impl Hydrated {
    pub fn get(self) -> bool {
        self.0.get()
    }
}

#[derive(Clone, Copy)]
pub struct CurrentUser(OnceResource<Result<Option<Me>, ServerFnError>>);

impl CurrentUser {
    /// The signed-in person (tracked: re-renders once known).
    pub fn get(&self) -> Option<Me> {
        self.0.get().and_then(Result::ok).flatten()
    }

    /// The signed-in person's name, read without tracking (for event
    /// handlers: who is signed in never changes without a reload).
    pub fn name_untracked(&self) -> Option<String> {
        self.0
            .get_untracked()
            .and_then(Result::ok)
            .flatten()
            .map(|me| me.username)
    }

    pub fn name(&self) -> Option<String> {
        self.get().map(|me| me.username)
    }
}

/// The HTML document around the app, for server-side rendering.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_csp(&options);
    let css = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        // `lang` and `dir` come from the language the page is rendered in.
        <html>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="stylesheet" id="leptos" href=css />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <noscript>
                    <link rel="stylesheet" href="/noscript.css" />
                </noscript>
                <AutoReload options=options.clone() />
                <HydrateWhenIdle options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Loads the app's JS and WASM and hydrates the page once it has been
/// painted whole (the frame after the HTML is parsed) and the browser is
/// idle (at the latest 2 s later; 3 s in a background tab, which paints
/// no frames). Leptos' `HydrationScripts` preloads both at once, and on
/// a slow phone network the 0.5 MB of WASM then shares the line with what
/// paints the page: Lighthouse's mobile profile put the largest paint of
/// the lobby, drawn from the HTML alone, at 3.5 s; fetched after the
/// paint, 0.8 s (bench/NOTES.md, issue 37). The page is readable as
/// rendered by the server meanwhile; what needs the app waits for it.
#[component]
fn HydrateWhenIdle(options: LeptosOptions) -> impl IntoView {
    let (js, wasm) = package_names(&options);
    let pkg = format!("/{}", options.site_pkg_dir);
    let script = format!(
        "let started = false;\
         const hydrate = () => started || (started = true, import(\"{pkg}/{js}.js\")\
         .then(m => m.default({{module_or_path: \"{pkg}/{wasm}.wasm\"}}).then(() => m.hydrate())));\
         const idle = () => \"requestIdleCallback\" in window ? requestIdleCallback(hydrate, {{timeout: 2000}}) : hydrate();\
         requestAnimationFrame(() => setTimeout(idle, 0));\
         setTimeout(hydrate, 3000);"
    );
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> }
}

/// The app's JS and WASM file names without their extension, as Leptos'
/// own hydration script names them: with `hash-files`, the hashes from
/// the file `cargo leptos` writes beside the server; a plain `cargo build`
/// (no `LEPTOS_OUTPUT_NAME`) leaves wasm-bindgen's `_bg` on the WASM.
fn package_names(options: &LeptosOptions) -> (String, String) {
    let name = options.output_name.to_string();
    if !options.hash_files {
        let bg = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
            ""
        } else {
            "_bg"
        };
        return (name.clone(), format!("{name}{bg}"));
    }
    let hashes = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            std::fs::read_to_string(exe.with_file_name(options.hash_file.as_ref())).ok()
        })
        .unwrap_or_default();
    let hash_of = |kind: &str| {
        hashes.lines().find_map(|line| {
            let (file, hash) = line.split_once(':')?;
            (file.trim() == kind).then(|| format!("{name}.{}", hash.trim()))
        })
    };
    let js = hash_of("js").unwrap_or_else(|| name.clone());
    let wasm = hash_of("wasm").unwrap_or_else(|| name.clone());
    (js, wasm)
}

/// The Content-Security-Policy of a page: scripts only from us or inline
/// with this response's `nonce` (Leptos puts it on its hydration and
/// resource scripts), WebAssembly allowed, styles, images and connections
/// (the WebSocket included) only from us, no plugins, and no framing by
/// anyone. `live_reload_port`: `cargo leptos watch`'s reload socket.
pub fn page_csp(nonce: &str, live_reload_port: Option<u32>) -> String {
    let reload = live_reload_port
        .map(|port| format!(" ws://*:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sends the page's CSP with the nonce Leptos made for this response.
#[cfg(feature = "ssr")]
fn set_page_csp(options: &LeptosOptions) {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let watching = std::env::var_os("LEPTOS_WATCH").is_some();
    let csp = page_csp(&nonce.to_string(), watching.then_some(options.reload_port));
    if let Ok(value) = http::HeaderValue::from_str(&csp) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    // The page's language depends on these (lang::request_languages).
    response.insert_header(
        http::header::VARY,
        http::HeaderValue::from_static("Accept-Language, Cookie"),
    );
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let i18n = lang::provide();
    view! {
        <Site />
        <HtmlLang i18n />
    }
}

#[component]
fn Site() -> impl IntoView {
    let i18n = use_i18n();
    // Effects run only in the browser, so this flips once the page is live;
    // tests wait for it before they type.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    provide_context(Hydrated(hydrated.read_only()));
    let me = CurrentUser(OnceResource::new_blocking(server_fns::current_user()));
    provide_context(me);

    view! {
        <Title text=tr!(i18n, brand) />
        <Router>
            <div id="app" data-hydrated=move || hydrated.get().to_string()>
                <header class="topbar">
                    <a class="brand" href="/chat/">
                        <img src="/favicon.svg" alt="" width="22" height="22" />
                        {tr!(i18n, brand)}
                    </a>
                    <Suspense>
                        <AccountBar me />
                    </Suspense>
                    <LanguageSwitch />
                </header>
                <Routes fallback=pages::NotFound>
                    // The server answers `/` with a real redirect; this covers client-side routing.
                    <Route path=path!("/") view=|| view! { <Redirect path="/chat/" /> } />
                    <Route path=path!("/chat/") view=pages::LobbyPage />
                    // Its messages come in the page for readers without
                    // JavaScript too: rendered whole once its resources are
                    // in (out of order, they sometimes came after `</html>`
                    // for a script to move into place; `PartiallyBlocked`
                    // did the same). Its resources block the head anyway.
                    <Route path=path!("/chat/:room/") view=pages::RoomPage ssr=SsrMode::Async />
                    <Route path=path!("/chat/dm/:peer/") view=pages::DirectPage />
                    <Route path=path!("/login") view=pages::LoginPage />
                    <Route path=path!("/register") view=pages::RegisterPage />
                    <Route path=path!("/admin") view=pages::AdminPage />
                </Routes>
            </div>
        </Router>
    }
}

/// Who is signed in, with the way out; or the ways in.
#[component]
fn AccountBar(me: CurrentUser) -> impl IntoView {
    let i18n = use_i18n();
    let here = leptos_router::hooks::use_location();
    // Come back to the same page after logging in.
    let next = move || names::percent_encode(&here.pathname.get());
    move || match me.get() {
        Some(me) => view! {
            <nav class="account" aria-label=tr!(i18n, nav.label)>
                <span class="signed-in">
                    {tr!(i18n, nav.signed_in_as)} " " <strong id="whoami">{me.username}</strong>
                </span>
                {me.is_admin.then(|| view! { <a href="/admin">{tr!(i18n, nav.admin)}</a> })}
                <form method="post" action="/api/logout?next=/chat/">
                    <button type="submit" class="link-button">{tr!(i18n, nav.log_out)}</button>
                </form>
            </nav>
        }
        .into_any(),
        None => view! {
            <nav class="account" aria-label=tr!(i18n, nav.label)>
                <a href=move || format!("/login?next={}", next())>{tr!(i18n, nav.log_in)}</a>
                <a class="button" href=move || format!("/register?next={}", next())>
                    {tr!(i18n, nav.register)}
                </a>
            </nav>
        }
        .into_any(),
    }
}
