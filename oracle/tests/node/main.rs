//! The node daemon and its commands against a scripted chain (a fake RPC endpoint).

mod common;
mod daemon;
mod engine_health;
mod register;
mod submit;
