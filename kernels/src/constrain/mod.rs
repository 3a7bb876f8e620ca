//! Constrained decoding (SPEC.md §7.1): generation held to a JSON-schema subset, so a
//! contract always receives parseable, typed output.
//!
//! A [`Schema`] (objects with ordered required properties, strings with `enum` or
//! `maxLength`, bounded integers, booleans) has exactly one serialisation per value: compact
//! canonical JSON with a restricted escape set. Its byte [`Automaton`] accepts exactly those
//! serialisations; at each step the [`TokenIndex`] gives the tokens whose bytes all advance it
//! and that still leave room to finish within `max_tokens`, and sampling picks among them only.
//! Generation ends as soon as the output is complete.

mod automaton;
mod error;
mod index;
mod integer;
mod output;
mod schema;
mod text;

pub use automaton::{Automaton, State};
pub use error::{ConstraintError, SchemaError};
pub use index::TokenIndex;
pub use output::ConstrainedOutput;
pub use schema::{Schema, StringSchema};

#[cfg(test)]
mod tests;
