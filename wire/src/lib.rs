//! Natter's wire contract, shared by the server, the browser, the tests and
//! the load generator: ids and model, websocket frames, error codes, HTTP API
//! bodies and input rules, call and room types, notifications, and every
//! endpoint's path.
//! Only serde-level dependencies: no UI, no browser, no server.

pub mod api;
pub mod call;
pub mod endpoint;
pub mod fold;
mod error;
pub mod model;
pub mod protocol;
pub mod push;
pub mod room;
