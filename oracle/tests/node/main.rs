//! The node daemon and its commands against a scripted chain (a fake RPC endpoint).

mod cli;
mod common;
mod daemon;
mod engine_health;
mod register;
mod standing;
mod status;
mod submit;
mod verify;
mod watcher;
