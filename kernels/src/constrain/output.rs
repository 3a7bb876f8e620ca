//! One request's constrained output in progress: the automaton of its schema and where the
//! output stands in it.

use super::automaton::{Automaton, State};
use super::error::ConstraintError;
use super::index::TokenIndex;
use super::schema::Schema;

/// The constrained output of one request.
#[derive(Debug, Clone)]
pub struct ConstrainedOutput {
    automaton: Automaton,
    state: State,
}

impl ConstrainedOutput {
    /// Starts an output under `schema`, refusing a schema outside the subset
    /// ([`Schema::validate`]) and one whose shortest serialisation needs more than `max_tokens`
    /// tokens of one byte.
    pub fn new(schema: &Schema, max_tokens: u32) -> Result<Self, ConstraintError> {
        let automaton = Automaton::new(schema)?;
        let state = automaton.start();
        let needed = automaton.bytes_to_go(state);
        if needed > u64::from(max_tokens) {
            return Err(ConstraintError::TooFewTokens { needed, max_tokens });
        }
        Ok(Self { automaton, state })
    }

    /// The tokens allowed next (ascending ids) when `tokens_after` more tokens may follow it.
    pub fn allowed(
        &self,
        index: &TokenIndex,
        tokens_after: u32,
    ) -> Result<Vec<u32>, ConstraintError> {
        let allowed = index.allowed(&self.automaton, self.state, u64::from(tokens_after));
        if allowed.is_empty() {
            return Err(ConstraintError::NoAllowedToken);
        }
        Ok(allowed)
    }

    /// Moves past the bytes of a token that [`Self::allowed`] returned.
    pub fn push(&mut self, bytes: &[u8]) {
        self.state = self
            .automaton
            .advance_all(self.state, bytes)
            .expect("an allowed token advances the automaton");
    }

    /// Whether the output is a whole serialisation of the schema.
    pub fn is_complete(&self) -> bool {
        self.automaton.is_complete(self.state)
    }
}
