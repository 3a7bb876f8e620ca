//! The byte automaton of a schema (SPEC.md §7.1). The canonical output of an object schema is
//! a fixed sequence of segments — literal punctuation and keys, choices (enum strings,
//! booleans), free strings and integers — so a state is a segment index and the partial value
//! of that segment.

use super::error::SchemaError;
use super::integer::{IntegerState, Range};
use super::schema::{quote, Schema, StringSchema};
use super::text::{TextState, TextStep};

/// One stretch of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Exactly one of these byte strings; none is a prefix of another (a literal is a choice
    /// of one).
    Choice(Vec<Vec<u8>>),
    /// A free string's body and closing quote (its opening quote ends the previous literal).
    Text { max_chars: Option<u32> },
    /// An integer; always followed by a literal that starts with `,` or `}`.
    Integer(Range),
}

/// Where the output stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    segment: usize,
    part: Part,
}

/// The partial value of the current segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `pos` bytes of alternative `alt` (the first one they are a prefix of) are written.
    Choice {
        alt: usize,
        pos: usize,
    },
    Text(TextState),
    Integer(IntegerState),
}

/// The automaton of one object schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Automaton {
    segments: Vec<Segment>,
    /// `rest[i]`: the fewest bytes of all segments after segment `i`.
    rest: Vec<u64>,
}

impl Automaton {
    /// Compiles an object schema (see [`Schema::from_json_schema`]), refusing one that
    /// [`Schema::validate`] refuses.
    pub fn new(schema: &Schema) -> Result<Self, SchemaError> {
        schema.validate()?;
        let mut builder = Builder::default();
        builder.value(schema);
        builder.flush();
        let segments = builder.segments;
        let mut rest = vec![0u64; segments.len()];
        for i in (0..segments.len().saturating_sub(1)).rev() {
            rest[i] = rest[i + 1] + segment_min(&segments[i + 1]);
        }
        Ok(Self { segments, rest })
    }

    /// The state before any output.
    pub fn start(&self) -> State {
        self.enter(0)
    }

    fn enter(&self, segment: usize) -> State {
        let part = match self.segments.get(segment) {
            Some(Segment::Text { .. }) => Part::Text(TextState::default()),
            Some(Segment::Integer(_)) => Part::Integer(IntegerState::default()),
            // A choice, or the end (where no byte is accepted and the part is never read).
            _ => Part::Choice { alt: 0, pos: 0 },
        };
        State { segment, part }
    }

    /// The state after `byte`, or `None` if no canonical output continues with it.
    pub fn advance(&self, state: State, byte: u8) -> Option<State> {
        let at = |part| State {
            segment: state.segment,
            part,
        };
        match (self.segments.get(state.segment)?, state.part) {
            (Segment::Choice(alts), Part::Choice { alt, pos }) => {
                let written = &alts[alt][..pos];
                let next = alts
                    .iter()
                    .position(|a| a.len() > pos && a[..pos] == *written && a[pos] == byte)?;
                if pos + 1 == alts[next].len() {
                    Some(self.enter(state.segment + 1))
                } else {
                    Some(at(Part::Choice {
                        alt: next,
                        pos: pos + 1,
                    }))
                }
            }
            (Segment::Text { max_chars }, Part::Text(text)) => {
                match text.advance(byte, *max_chars)? {
                    TextStep::Inside(text) => Some(at(Part::Text(text))),
                    TextStep::Closed => Some(self.enter(state.segment + 1)),
                }
            }
            (Segment::Integer(range), Part::Integer(integer)) => {
                match integer.advance(byte, *range) {
                    Some(integer) => Some(at(Part::Integer(integer))),
                    // A byte that is not part of the integer ends it, if it is complete.
                    None if integer.is_complete(*range) => {
                        self.advance(self.enter(state.segment + 1), byte)
                    }
                    None => None,
                }
            }
            _ => unreachable!("a state's part matches its segment"),
        }
    }

    /// The state after all of `bytes`.
    pub fn advance_all(&self, state: State, bytes: &[u8]) -> Option<State> {
        bytes.iter().try_fold(state, |s, &b| self.advance(s, b))
    }

    /// How many more characters fit if `state` is inside a free string between characters
    /// (`None` otherwise). There, any run of plain characters (no `"`, `\`, control
    /// character) no longer than that advances the automaton to another such state, exactly
    /// as far from complete.
    pub fn text_room(&self, state: State) -> Option<u32> {
        match (self.segments.get(state.segment)?, state.part) {
            (Segment::Text { max_chars }, Part::Text(text)) => text.room(*max_chars),
            _ => None,
        }
    }

    /// Whether the output is a whole canonical serialisation; no byte follows one.
    pub fn is_complete(&self, state: State) -> bool {
        state.segment == self.segments.len()
    }

    /// The length in bytes of the shortest continuation that completes the output.
    pub fn bytes_to_go(&self, state: State) -> u64 {
        let Some(segment) = self.segments.get(state.segment) else {
            return 0;
        };
        let here = match (segment, state.part) {
            (Segment::Choice(alts), Part::Choice { alt, pos }) => alts
                .iter()
                .filter(|a| a.len() >= pos && a[..pos] == alts[alt][..pos])
                .map(|a| (a.len() - pos) as u64)
                .min()
                .expect("the written prefix is some alternative's"),
            (Segment::Text { .. }, Part::Text(text)) => u64::from(text.bytes_to_go()),
            (Segment::Integer(range), Part::Integer(integer)) => u64::from(
                integer
                    .bytes_to_go(*range)
                    .expect("every reachable integer prefix extends into its range"),
            ),
            _ => unreachable!("a state's part matches its segment"),
        };
        here + self.rest[state.segment]
    }
}

/// The fewest bytes of a segment.
fn segment_min(segment: &Segment) -> u64 {
    match segment {
        Segment::Choice(alts) => alts.iter().map(|a| a.len() as u64).min().unwrap_or(0),
        Segment::Text { .. } => 1,
        Segment::Integer(range) => u64::from(
            IntegerState::default()
                .bytes_to_go(*range)
                .expect("a schema's range is not empty"),
        ),
    }
}

/// Lays a schema out as segments, joining adjacent literal bytes.
#[derive(Default)]
struct Builder {
    segments: Vec<Segment>,
    literal: Vec<u8>,
}

impl Builder {
    fn value(&mut self, schema: &Schema) {
        match schema {
            Schema::Object(properties) => {
                self.literal.push(b'{');
                for (i, (name, value)) in properties.iter().enumerate() {
                    if i > 0 {
                        self.literal.push(b',');
                    }
                    self.literal.extend_from_slice(quote(name).as_bytes());
                    self.literal.push(b':');
                    self.value(value);
                }
                self.literal.push(b'}');
            }
            Schema::String(StringSchema::Enum(values)) => {
                self.push(Segment::Choice(
                    values.iter().map(|v| quote(v).into_bytes()).collect(),
                ));
            }
            Schema::String(StringSchema::Free { max_length }) => {
                self.literal.push(b'"');
                self.push(Segment::Text {
                    max_chars: *max_length,
                });
            }
            Schema::Integer { minimum, maximum } => self.push(Segment::Integer(Range {
                min: minimum.unwrap_or(i64::MIN),
                max: maximum.unwrap_or(i64::MAX),
            })),
            Schema::Boolean => {
                self.push(Segment::Choice(vec![b"true".to_vec(), b"false".to_vec()]));
            }
        }
    }

    fn push(&mut self, segment: Segment) {
        self.flush();
        self.segments.push(segment);
    }

    /// Ends the pending literal, if any.
    fn flush(&mut self) {
        if !self.literal.is_empty() {
            let literal = std::mem::take(&mut self.literal);
            self.segments.push(Segment::Choice(vec![literal]));
        }
    }
}
