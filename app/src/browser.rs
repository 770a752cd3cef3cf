//! The few things the pages need from the browser itself (the clock, the
//! reader's time zone), in one place: each has a browser arm and a plain
//! arm for server-side rendering, so no page needs `cfg(feature = "browser")`.

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

/// `HH:MM` in the reader's time zone (in the browser), from an RFC 3339
/// time; on the server, the UTC clock time.
pub fn short_time(ts: &str) -> String {
    #[cfg(feature = "browser")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(ts));
        if !date.get_time().is_nan() {
            return format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_time_falls_back_to_utc_clock() {
        assert_eq!(short_time("2026-11-21T10:05:00Z"), "10:05");
    }
}
