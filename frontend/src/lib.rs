//! The WASM entry point. `hydrate` takes over the server-rendered page
//! (cargo-leptos build); `csr` mounts the same app into an empty page (the
//! Trunk build).

#[cfg(any(feature = "hydrate", feature = "csr"))]
use wasm_bindgen::prelude::wasm_bindgen;

#[cfg(any(feature = "hydrate", feature = "csr"))]
fn init_logging() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen]
pub fn hydrate() {
    init_logging();
    leptos::mount::hydrate_body(app::App);
}

#[cfg(feature = "csr")]
#[wasm_bindgen(start)]
pub fn start() {
    init_logging();
    leptos::mount::mount_to_body(app::App);
}
