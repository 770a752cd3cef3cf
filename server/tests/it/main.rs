//! The server's integration tests, in one binary (one link instead of
//! nine): each module starts real servers on port 0 and talks HTTP and
//! WebSocket to them, as clients do; `common` holds the helpers.

mod abuse;
mod accounts;
mod admin;
mod closing;
mod common;
mod delivery;
mod direct;
mod hidden;
mod history;
mod lobby;
mod moderation;
mod multiprocess;
mod pages;
mod places;
mod presence;
mod recovery;
mod sync;
mod trust;
mod ws_chat;
