//! The UI's two languages, 简体中文 and English: which one a page is in,
//! the switch that changes it, and the words for what reaches the page
//! as codes (refusals, connection states). The texts live in
//! `locales/{en,zh}.json`, compiled in (keys checked at build time) by
//! `leptos_i18n` through the `i18n` module that `load_locales!` makes.
//!
//! The choice, in order: the `lang` cookie (set only when the person picks
//! on the page), then the browser's languages (`Accept-Language` on the
//! server's render). Hydration takes the language the server rendered from
//! `<html lang>`, so a page never flashes the other language.
//!
//! Must never import `pages`: every page imports this.

pub use crate::i18n::{Locale, t, t_string, td_string, use_i18n};
use crate::{
    account::AuthError,
    names::{ROOM_NAME_MAX_CHARS, RoomNameError},
    protocol::{EndCode, ErrorCode, ErrorEvent, MESSAGE_MAX_CHARS},
};
use leptos::prelude::*;
use leptos_i18n::I18nContext;

/// A text in the page's language that follows the switch:
/// `tr!(i18n, lobby.heading)`, for a view or an attribute. Every such text
/// on every page has the same type (a closure over the context and a
/// function pointer), so the WASM holds one copy of the code that renders
/// and hydrates a reactive text, not one per text (`leptos_i18n`'s `t!`
/// makes a closure type per call: 33 KB of our gzipped WASM, measured).
macro_rules! tr {
    ($i18n:expr, $($key:ident).+) => {
        $crate::lang::text($i18n, |locale| $crate::lang::td_string!(locale, $($key).+))
    };
}
pub(crate) use tr;

/// What [`tr!`] makes: the text for the page's language, tracked.
pub fn text(
    i18n: I18n,
    key: fn(Locale) -> &'static str,
) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    move || key(i18n.get_locale())
}

/// A text with values put into its `{name}` slots, in a language:
/// `tf!(locale, people.pm, name = "bob")`. (`leptos_i18n`'s own `{{ }}`
/// variables make views, not strings, when its texts are loaded with
/// `load_locales!`; titles, labels and notices need strings.)
macro_rules! tf {
    ($locale:expr, $($key:ident).+ $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::lang::fill(
            $crate::lang::td_string!($locale, $($key).+),
            &[$((stringify!($name), &$value as &dyn ::std::fmt::Display)),*],
        )
    };
}
pub(crate) use tf;

/// Puts each value into its `{name}` slot, in one pass (a value is never
/// read for slots itself); an unknown slot is left as it is.
pub fn fill(template: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let slot = after
            .find('}')
            .map(|close| (&after[..close], &after[close + 1..]));
        match slot.and_then(|(name, tail)| Some((values.iter().find(|(n, _)| *n == name)?, tail))) {
            Some(((_, value), tail)) => {
                out.push_str(&value.to_string());
                rest = tail;
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The cookie that remembers a language picked on the page.
pub const COOKIE: &str = "lang";

/// The page's language context (a `Copy` handle).
pub type I18n = I18nContext<Locale>;

/// Makes the page's language context and provides it to every component.
/// (Not the crate's `I18nContextProvider`: it also renders an empty
/// `<script>` without this response's CSP nonce.) `<html lang>` is set
/// by [`HtmlLang`].
pub fn provide() -> I18n {
    let options = leptos_i18n::context::I18nContextOptions::<Locale>::default()
        .enable_cookie(false)
        .ssr_lang_header_getter(request_languages());
    let i18n = leptos_i18n::context::init_i18n_context_with_options(options);
    provide_context(i18n);
    apply_saved_choice(i18n);
    i18n
}

/// `<html lang dir>` for the page's language: what screen readers and
/// fonts go by, and what hydration reads the language back from.
#[component]
pub fn HtmlLang(i18n: I18n) -> impl IntoView {
    let lang = move || code(i18n.get_locale());
    let dir = move || leptos_i18n::Locale::direction(i18n.get_locale()).as_str();
    view! { <leptos_meta::Html attr:lang=lang attr:dir=dir /> }
}

/// The value of `<html lang>`, the cookie and the switch's buttons.
pub fn code(locale: Locale) -> &'static str {
    match locale {
        Locale::en => "en",
        Locale::zh => "zh",
    }
}

/// A language code as we write it (or as a browser might), if it is one of ours.
pub fn parse(code: &str) -> Option<Locale> {
    let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.as_str() {
        "en" => Some(Locale::en),
        "zh" => Some(Locale::zh),
        _ => None,
    }
}

/// Which languages the server's render is asked for: the `lang` cookie if
/// it names one of ours (it is put first, so it wins), then the request's
/// `Accept-Language`.
#[cfg(feature = "ssr")]
pub fn request_languages() -> leptos_use::UseLocalesOptions {
    leptos_use::UseLocalesOptions::default().ssr_lang_header_getter(|| {
        let parts = use_context::<http::request::Parts>()?;
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let chosen = header(http::header::COOKIE)
            .and_then(cookie_choice)
            .map(code);
        let accepted = header(http::header::ACCEPT_LANGUAGE).unwrap_or_default();
        Some(match chosen {
            Some(lang) => format!("{lang},{accepted}"),
            None => accepted.to_owned(),
        })
    })
}

/// In the browser the provider reads `<html lang>` (hydration) or the
/// browser's languages (the client-side build); the cookie is applied by
/// [`apply_saved_choice`].
#[cfg(not(feature = "ssr"))]
pub fn request_languages() -> leptos_use::UseLocalesOptions {
    Default::default()
}

/// The language a `Cookie:` header's `lang=` names, if it is one of ours.
pub fn cookie_choice(header: &str) -> Option<Locale> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| parse(value))
}

/// The client-side build (no server render): a language picked earlier
/// on this browser wins over its languages. In an effect made after the
/// context's own, which sets the browser's language when effects first run.
fn apply_saved_choice(i18n: I18n) {
    #[cfg(all(feature = "browser", not(feature = "hydrate")))]
    Effect::new(move |_| {
        if let Some(locale) = document_cookie().as_deref().and_then(cookie_choice) {
            i18n.set_locale(locale);
        }
    });
    let _ = i18n;
}

#[cfg(feature = "browser")]
fn html_document() -> Option<web_sys::HtmlDocument> {
    use wasm_bindgen::JsCast;
    document().dyn_into::<web_sys::HtmlDocument>().ok()
}

#[cfg(all(feature = "browser", not(feature = "hydrate")))]
fn document_cookie() -> Option<String> {
    html_document()?.cookie().ok()
}

/// The person picked a language: the page changes at once and the choice
/// is kept for a year, for every page of the site.
pub fn choose(i18n: I18n, locale: Locale) {
    i18n.set_locale(locale);
    #[cfg(feature = "browser")]
    if let Some(doc) = html_document() {
        let cookie = format!(
            "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            code(locale)
        );
        let _ = doc.set_cookie(&cookie);
    }
}

/// The two buttons in the top bar: each language named in itself.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let i18n = use_i18n();
    let button = move |locale: Locale, name: &'static str, lang: &'static str| {
        view! {
            <button type="button" lang=lang
                aria-pressed=move || (i18n.get_locale() == locale).to_string()
                on:click=move |_| choose(i18n, locale)>
                {name}
            </button>
        }
    };
    view! {
        <div class="lang-switch" role="group" aria-label=tr!(i18n, nav.language)>
            {button(Locale::en, "English", "en")}
            {button(Locale::zh, "中文", "zh-CN")}
        </div>
    }
}

/// A refusal from the chat server, in the page's language. English shows
/// the server's own words (they are specific: "Messages are at most 4000
/// characters; this one has 4012."); other languages translate the code,
/// and fall back to the server's words for a code this build does not know.
pub fn error_text(locale: Locale, e: &ErrorEvent) -> String {
    if locale == Locale::en || e.code == ErrorCode::Other {
        return e.message.clone();
    }
    match e.code {
        ErrorCode::InvalidJson => td_string!(locale, error.invalid_json).into(),
        ErrorCode::InvalidFrame => td_string!(locale, error.invalid_frame).into(),
        ErrorCode::InvalidMessage => td_string!(locale, error.invalid_message).into(),
        ErrorCode::EmptyMessage => td_string!(locale, error.empty_message).into(),
        ErrorCode::MessageTooLong => {
            tf!(locale, error.message_too_long, max = MESSAGE_MAX_CHARS)
        }
        ErrorCode::UnknownType => td_string!(locale, error.unknown_type).into(),
        ErrorCode::BinaryNotSupported => td_string!(locale, error.binary_not_supported).into(),
        ErrorCode::Unavailable => td_string!(locale, error.unavailable).into(),
        ErrorCode::NotAuthenticated => td_string!(locale, error.not_authenticated).into(),
        ErrorCode::InvalidCommand => td_string!(locale, error.invalid_command).into(),
        ErrorCode::UnknownUser => td_string!(locale, error.unknown_user).into(),
        ErrorCode::UserOffline => td_string!(locale, error.user_offline).into(),
        ErrorCode::UnknownMessage => td_string!(locale, error.unknown_message).into(),
        ErrorCode::Forbidden => td_string!(locale, error.forbidden).into(),
        ErrorCode::InvalidEmoji => td_string!(locale, error.invalid_emoji).into(),
        ErrorCode::RoomNameTaken => td_string!(locale, error.room_name_taken).into(),
        ErrorCode::RateLimited => rate_limited(locale, e.retry_after_ms),
        ErrorCode::Other => e.message.clone(),
    }
}

/// "Slow down", with the wait in seconds (or minutes, for the long ones).
fn rate_limited(locale: Locale, retry_after_ms: Option<u64>) -> String {
    let ms = retry_after_ms.unwrap_or(1_000);
    if ms >= 60_000 {
        let m = ms.div_ceil(60_000);
        tf!(locale, error.rate_limited_min, m = m)
    } else {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        tf!(locale, error.rate_limited, s = s)
    }
}

/// Why the server ended the session, in the page's language (English: the
/// server's words; no code, from an older server: the server's words).
pub fn session_ended_text(locale: Locale, code: Option<EndCode>, reason: &str) -> String {
    match code {
        Some(code) if locale != Locale::en && code != EndCode::Other => {
            end_text(locale, code).to_owned()
        }
        _ => reason.to_owned(),
    }
}

/// An [`EndCode`] in words (in English it is `session_ended`'s `reason`).
pub fn end_text(locale: Locale, code: EndCode) -> &'static str {
    match code {
        EndCode::LoggedOut => td_string!(locale, ended.logged_out),
        EndCode::AccountDisabled => td_string!(locale, ended.account_disabled),
        EndCode::AdminsOnly => td_string!(locale, ended.admins_only),
        EndCode::RoomDeleted => td_string!(locale, ended.room_deleted),
        EndCode::Other => td_string!(locale, ended.other),
    }
}

/// A log-in or registration refusal, in the page's language.
pub fn auth_error_text(locale: Locale, e: AuthError) -> &'static str {
    match e {
        AuthError::InvalidUsername => td_string!(locale, auth_error.invalid_username),
        AuthError::WeakPassword => td_string!(locale, auth_error.weak_password),
        AuthError::UsernameTaken => td_string!(locale, auth_error.username_taken),
        AuthError::InvalidCredentials => td_string!(locale, auth_error.invalid_credentials),
        AuthError::TooManyAttempts => td_string!(locale, auth_error.too_many_attempts),
        AuthError::NotAuthenticated => td_string!(locale, auth_error.not_authenticated),
        AuthError::InvalidRequest => td_string!(locale, auth_error.invalid_request),
        AuthError::AccountDisabled => td_string!(locale, auth_error.account_disabled),
        AuthError::RateLimited => td_string!(locale, auth_error.rate_limited),
        AuthError::Busy => td_string!(locale, auth_error.busy),
    }
}

/// Why a typed room name was refused, in the page's language.
pub fn room_name_error_text(locale: Locale, e: &RoomNameError) -> String {
    match e {
        RoomNameError::Empty => td_string!(locale, room_name_error.empty).into(),
        RoomNameError::TooLong => {
            tf!(locale, room_name_error.too_long, max = ROOM_NAME_MAX_CHARS)
        }
        RoomNameError::InvalidChar(' ') => td_string!(locale, room_name_error.space).into(),
        RoomNameError::InvalidChar(c) => {
            tf!(locale, room_name_error.char, c = format!("{c:?}"))
        }
        RoomNameError::DotsOnly => td_string!(locale, room_name_error.dots_only).into(),
        RoomNameError::NoLetters => td_string!(locale, room_name_error.no_letters).into(),
        RoomNameError::TooManyMarks => {
            tf!(
                locale,
                room_name_error.too_many_marks,
                most = crate::names::MOST_MARKS
            )
        }
    }
}

/// An audit log word (action or actor) in the page's language; a word this
/// build does not know is shown as stored.
pub fn audit_text(locale: Locale, stored: &str) -> String {
    use crate::admin::audit as a;
    type Word = (&'static str, fn(Locale) -> &'static str);
    let known: [Word; 11] = [
        (a::CREATED_ROOM, |l| td_string!(l, audit.created_room)),
        (a::CREATED_ADMIN_ONLY_ROOM, |l| {
            td_string!(l, audit.created_admin_only_room)
        }),
        (a::OPENED_ROOM, |l| td_string!(l, audit.opened_room)),
        (a::MARKED_ADMIN_ONLY, |l| {
            td_string!(l, audit.marked_admin_only)
        }),
        (a::DELETED_ROOM, |l| td_string!(l, audit.deleted_room)),
        (a::MADE_ADMIN, |l| td_string!(l, audit.made_admin)),
        (a::REMOVED_ADMIN, |l| td_string!(l, audit.removed_admin)),
        (a::ENABLED_USER, |l| td_string!(l, audit.enabled_user)),
        (a::DISABLED_USER, |l| td_string!(l, audit.disabled_user)),
        (a::DELETED_MESSAGE, |l| td_string!(l, audit.deleted_message)),
        (a::COMMAND_LINE, |l| td_string!(l, audit.command_line)),
    ];
    match known.iter().find(|(word, _)| *word == stored) {
        Some((_, text)) => text(locale).to_owned(),
        None => stored.to_owned(),
    }
}

/// A page's title: "Lobby · Chat", "大厅 · 聊天".
pub fn page_title(locale: Locale, page: &str) -> String {
    tf!(locale, page_title, page = page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_filled_once_and_unknown_ones_kept() {
        let text = fill("{a} and {b} {c}", &[("a", &"{b}"), ("b", &2)]);
        assert_eq!(text, "{b} and 2 {c}");
        assert_eq!(fill("no slots {", &[]), "no slots {");
    }

    #[test]
    fn the_cookie_wins_and_browser_codes_map_to_ours() {
        assert_eq!(cookie_choice("a=1; lang=zh; b=2"), Some(Locale::zh));
        assert_eq!(cookie_choice("lang=fr"), None);
        assert_eq!(cookie_choice("language=zh"), None);
        assert_eq!(parse("zh-CN"), Some(Locale::zh));
        assert_eq!(parse("EN_us"), Some(Locale::en));
    }

    #[test]
    fn refusals_read_in_both_languages() {
        let slow = ErrorEvent {
            code: ErrorCode::RateLimited,
            message: "Slow down: too many messages. Try again in 1.5 s.".into(),
            retry_after_ms: Some(1_500),
            client_id: None,
        };
        assert_eq!(error_text(Locale::en, &slow), slow.message);
        assert_eq!(
            error_text(Locale::zh, &slow),
            "发得太快了：请 1.5 秒后再试。"
        );
        let long = ErrorEvent {
            retry_after_ms: Some(600_000),
            client_id: None,
            ..slow
        };
        assert_eq!(
            error_text(Locale::zh, &long),
            "这类操作暂时已达上限：请 10 分钟后再试。"
        );
        assert_eq!(
            auth_error_text(Locale::zh, AuthError::InvalidCredentials),
            "用户名或密码错误。"
        );
        assert_eq!(
            room_name_error_text(Locale::en, &RoomNameError::InvalidChar('/')),
            "Room names cannot contain '/': use letters, digits, _, - or ."
        );
        assert_eq!(page_title(Locale::zh, "大厅"), "大厅 · 聊天");
    }

    #[test]
    fn audit_words_read_in_both_languages_as_the_server_stores_them() {
        use crate::admin::audit;
        assert_eq!(audit_text(Locale::zh, audit::DISABLED_USER), "停用了用户");
        assert_eq!(audit_text(Locale::zh, "renamed room"), "renamed room");
        for word in [
            audit::CREATED_ROOM,
            audit::DELETED_MESSAGE,
            audit::COMMAND_LINE,
        ] {
            assert_eq!(audit_text(Locale::en, word), word);
        }
    }
}
