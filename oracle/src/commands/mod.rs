//! The operator commands besides `init` and `run`: `register`, `status` and `verify`.

pub mod register;
pub mod status;
pub mod verify;
