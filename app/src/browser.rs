//! The few things the pages need from the browser itself (the clock, the
//! reader's time zone, whether the tab is hidden, desktop notifications),
//! in one place: each has a browser arm and a plain arm for server-side
//! rendering, so no page needs `cfg(feature = "browser")`.

use crate::protocol::EDIT_WINDOW_SECS;

/// Milliseconds since the epoch, in the browser (typing signals and
/// notices are timed); 0 while rendering on the server.
pub fn now_ms() -> f64 {
    #[cfg(feature = "browser")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "browser"))]
    {
        0.0
    }
}

/// A random number in [0, 1) (the browser's `Math.random`; 0.5 on the
/// server, which never makes ids).
pub fn random() -> f64 {
    #[cfg(feature = "browser")]
    {
        js_sys::Math::random()
    }
    #[cfg(not(feature = "browser"))]
    {
        0.5
    }
}

/// Hours and minutes in the reader's time zone and the page's language
/// (in the browser: `Intl`, so "14:05", "2:05 PM" or "14:05" as the
/// reader's region writes it), from an RFC 3339 time; on the server, the
/// UTC clock time. `lang`: the page's language ("en", "zh"); the
/// browser's own region is used when it speaks the same language.
pub fn short_time(ts: &str, lang: &str) -> String {
    #[cfg(feature = "browser")]
    {
        use wasm_bindgen::JsValue;
        let date = js_sys::Date::new(&JsValue::from_str(ts));
        if !date.get_time().is_nan() {
            let own = leptos::prelude::window().navigator().language();
            let locale = own.filter(|l| l.split('-').next() == Some(lang));
            let options = js_sys::Object::new();
            for (key, value) in [("hour", "2-digit"), ("minute", "2-digit")] {
                let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
            }
            let locale = locale.as_deref().unwrap_or(lang);
            return date
                .to_locale_time_string_with_options(locale, &options)
                .into();
        }
    }
    let _ = lang;
    utc_clock(ts)
}

/// The UTC clock time of an RFC 3339 time ("10:05"): what the server can
/// say without knowing the reader's time zone.
pub fn utc_clock(ts: &str) -> String {
    ts.get(11..16).unwrap_or(ts).to_owned()
}

/// Whether a message sent at `ts` may still be edited or deleted by its
/// author (the server checks too). Never on the server: the page renders
/// without the buttons and shows them once hydrated.
pub fn within_edit_window(ts: &str) -> bool {
    #[cfg(feature = "browser")]
    {
        let sent = js_sys::Date::parse(ts);
        !sent.is_nan() && now_ms() - sent < (EDIT_WINDOW_SECS * 1000) as f64
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = (ts, EDIT_WINDOW_SECS);
        false
    }
}

/// Whether the page is out of sight (another tab, a minimised window).
pub fn page_hidden() -> bool {
    #[cfg(feature = "browser")]
    {
        leptos::prelude::document().hidden()
    }
    #[cfg(not(feature = "browser"))]
    {
        false
    }
}

/// Where the person's "Notify me" choice is kept (this browser only).
#[cfg(feature = "browser")]
const NOTIFY_KEY: &str = "chat.notify";

#[cfg(feature = "browser")]
fn storage() -> Option<web_sys::Storage> {
    leptos::prelude::window().local_storage().ok().flatten()
}

/// Whether the person asked for desktop notifications here and the
/// browser allows them.
pub fn notifications_on() -> bool {
    #[cfg(feature = "browser")]
    {
        let chosen = storage().and_then(|s| s.get_item(NOTIFY_KEY).ok().flatten());
        chosen.as_deref() == Some("on") && notifications_allowed()
    }
    #[cfg(not(feature = "browser"))]
    {
        false
    }
}

/// Whether the browser has desktop notifications at all.
pub fn notifications_supported() -> bool {
    #[cfg(feature = "browser")]
    {
        js_sys::Reflect::has(&leptos::prelude::window(), &"Notification".into()).unwrap_or(false)
    }
    #[cfg(not(feature = "browser"))]
    {
        false
    }
}

#[cfg(feature = "browser")]
fn notifications_allowed() -> bool {
    notifications_supported()
        && web_sys::Notification::permission() == web_sys::NotificationPermission::Granted
}

/// Turns desktop notifications on (asking the browser's permission, which
/// only a click may do) or off; `done` hears whether they are on now.
pub fn set_notifications(on: bool, done: impl FnOnce(bool) + 'static) {
    #[cfg(feature = "browser")]
    {
        use wasm_bindgen::closure::Closure;
        let remember = move |on: bool| {
            if let Some(s) = storage() {
                let _ = s.set_item(NOTIFY_KEY, if on { "on" } else { "off" });
            }
            done(on && notifications_allowed());
        };
        if !on || !notifications_supported() || notifications_allowed() {
            return remember(on);
        }
        let Ok(asked) = web_sys::Notification::request_permission() else {
            return remember(false);
        };
        let answered = Closure::once(move |_: wasm_bindgen::JsValue| remember(true));
        let _ = asked.then(&answered);
        // Called once by the browser, whenever the person answers.
        answered.forget();
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = on;
        done(false);
    }
}

/// Shows a desktop notification if the person turned them on and is not
/// looking at this page (hidden, or another window has the focus). `tag`
/// groups them: every open room gets the same PM, and the browser shows
/// one notification per tag.
pub fn notify(title: &str, body: &str, tag: &str) {
    #[cfg(feature = "browser")]
    {
        let document = leptos::prelude::document();
        let looking = !document.hidden() && document.has_focus().unwrap_or(false);
        if looking || !notifications_on() {
            return;
        }
        let options = web_sys::NotificationOptions::new();
        options.set_body(body);
        options.set_tag(tag);
        let _ = web_sys::Notification::new_with_options(title, &options);
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = (title, body, tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_time_falls_back_to_utc_clock() {
        assert_eq!(short_time("2026-11-21T10:05:00Z", "en"), "10:05");
    }
}
