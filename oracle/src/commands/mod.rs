//! The operator commands besides `init` and `run`: `infer`, `register`, `status` and `verify`.

pub mod infer;
pub mod register;
pub mod status;
pub mod verify;
