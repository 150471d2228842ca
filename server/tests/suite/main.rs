//! The server's integration tests, as one test binary.
//!
//! Each module is what used to be a file of its own under `server/tests/`.
//! One binary links the server once rather than thirty times: a debug test
//! binary is some 400 MB, and thirty of them filled CI's disk while linking.
//! Run one module with `cargo test -p natter-server --test suite receipts::`.

#[macro_use]
mod support;
mod conformance;

mod abusive_accounts;
mod abusive_clients;
mod accounts;
mod bus;
mod calls;
mod changes;
mod cli;
mod cluster;
mod cluster_files;
mod directory_search;
mod exposure;
mod files;
mod headers;
mod image_bombs;
mod layers;
mod messaging;
mod ops;
mod overload;
mod presence;
mod push;
mod receipts;
mod redis_cluster;
mod rooms;
mod rooms_cluster;
mod search;
mod sessions;
mod sign_in_flood;
mod signup_modes;
mod store_conformance;
mod strangers;
mod text_policy;
mod upload_limits;
