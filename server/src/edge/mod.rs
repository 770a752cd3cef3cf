//! The guards at the edge: what every request passes before a handler
//! runs, and the limiter every per-client budget is made with.
//!
//! - [`delivery`]: compression, and the static files with their cache
//!   policy.
//! - [`origin`]: which pages may open a WebSocket or send a state-changing
//!   request (`ALLOWED_ORIGINS`).
//! - [`proxy`]: who the client is behind a trusted proxy (`TRUSTED_PROXIES`),
//!   as the [`proxy::ClientAddr`] extractor.
//! - [`security`]: the cross-site refusal and the headers every answer carries.
//! - [`throttle`]: rate limits (governor) and per-connection budgets. It
//!   imports nothing of the crate (ground, in `lib.rs`'s map), so `auth`,
//!   `chat` and the consumer make their limits with it too.
//!
//! Must never import storage, the layer, presence or the chat domain: a
//! guard decides from the request alone.

pub mod delivery;
pub mod origin;
pub mod proxy;
pub mod security;
pub mod throttle;
