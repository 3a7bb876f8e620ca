//! Pre-tokenizers: how text is cut into words before BPE runs on each word.
//!
//! Each model names its pre-tokenizer in `tokenizer.ggml.pre`. llama.cpp (`src/llama-vocab.cpp`)
//! gives each one a list of regexes applied in turn: every pass cuts each piece left by the
//! previous pass further, keeping both the matches and the text between them.

use super::char_class::{is_number, is_punctuation};
use super::error::TokenizerError;
use super::word_split::{split_gpt2, split_llama3};

/// A pre-tokenizer of byte-level BPE models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// `smollm` (llama.cpp also uses it for StarCoder, Refact, Command-R, CodeShell, EXAONE):
    /// `\p{N}` (every digit alone), then the GPT-2 regex. No prefix space.
    SmolLm,
    /// `gpt2` / `gpt-2`: the GPT-2 regex alone.
    Gpt2,
    /// `default`: `[\p{P}\$\+<=>\^~\|]+`, then the GPT-2 regex, then `\p{N}+`, then
    /// `[0-9][0-9][0-9]`.
    Default,
    /// `llama-bpe` / `llama3` / `llama-v3`: the Llama 3 regex (digits in groups of up to
    /// three); a word that is itself a token is taken whole, without merges.
    Llama3,
}

impl PreTokenizer {
    /// The pre-tokenizer named by `tokenizer.ggml.pre`.
    pub fn from_gguf_name(name: &str) -> Result<Self, TokenizerError> {
        match name {
            "smollm" => Ok(Self::SmolLm),
            "gpt2" | "gpt-2" => Ok(Self::Gpt2),
            "default" => Ok(Self::Default),
            "llama-bpe" | "llama3" | "llama-v3" => Ok(Self::Llama3),
            other => Err(TokenizerError::UnsupportedPreTokenizer(other.to_owned())),
        }
    }

    /// Whether a word that is itself a vocabulary token is emitted whole, skipping the merges
    /// (llama.cpp's `ignore_merges`).
    pub(crate) fn ignores_merges(self) -> bool {
        self == Self::Llama3
    }

    /// Whether llama.cpp prepends BOS for this pre-tokenizer when the file does not say.
    pub(crate) fn adds_bos_by_default(self) -> bool {
        self == Self::Llama3
    }

    /// Cuts `text` into the words BPE runs on. The words, in order, make up `text`.
    pub(crate) fn split(self, text: &str) -> Vec<&str> {
        let mut pieces = vec![text];
        match self {
            Self::SmolLm => {
                pieces = split_runs(&pieces, is_number, Some(1));
                pieces = split_each(&pieces, split_gpt2);
            }
            Self::Gpt2 => pieces = split_each(&pieces, split_gpt2),
            Self::Default => {
                let punctuation_or_symbol = |c| is_punctuation(c) || "$+<=>^~|".contains(c);
                pieces = split_runs(&pieces, punctuation_or_symbol, None);
                pieces = split_each(&pieces, split_gpt2);
                pieces = split_runs(&pieces, is_number, None);
                pieces = split_runs(&pieces, |c| c.is_ascii_digit(), Some(3));
            }
            Self::Llama3 => pieces = split_each(&pieces, split_llama3),
        }
        pieces
    }
}

/// Applies a word splitter to every piece.
fn split_each<'a>(pieces: &[&'a str], split: fn(&'a str, &mut Vec<&'a str>)) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        split(piece, &mut out);
    }
    out
}

/// One regex pass whose regex is a character class: `[class]+` when `chunk` is `None`,
/// `[class]{n}` when it is `Some(n)` (a run is cut into chunks of `n`; a shorter rest is not a
/// match). Matches and the text between them all become pieces.
fn split_runs<'a>(
    pieces: &[&'a str],
    in_class: impl Fn(char) -> bool,
    chunk: Option<usize>,
) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        // Start of the text not yet emitted.
        let mut gap_start = 0;
        let mut chars = piece.char_indices().peekable();
        while let Some((run_start, c)) = chars.next() {
            if !in_class(c) {
                continue;
            }
            // The end of each character of the run.
            let mut char_ends = vec![run_start + c.len_utf8()];
            while let Some((at, next)) = chars.next_if(|&(_, next)| in_class(next)) {
                char_ends.push(at + next.len_utf8());
            }
            let match_ends: Vec<usize> = match chunk {
                None => char_ends.last().copied().into_iter().collect(),
                Some(n) => char_ends.iter().skip(n - 1).step_by(n).copied().collect(),
            };
            let Some(&last_end) = match_ends.last() else {
                continue;
            };
            if gap_start < run_start {
                out.push(&piece[gap_start..run_start]);
            }
            let mut from = run_start;
            for end in match_ends {
                out.push(&piece[from..end]);
                from = end;
            }
            gap_start = last_end;
        }
        if gap_start < piece.len() {
            out.push(&piece[gap_start..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            PreTokenizer::from_gguf_name("smollm"),
            Ok(PreTokenizer::SmolLm)
        );
        assert_eq!(
            PreTokenizer::from_gguf_name("gpt-2"),
            Ok(PreTokenizer::Gpt2)
        );
        assert_eq!(
            PreTokenizer::from_gguf_name("llama-bpe"),
            Ok(PreTokenizer::Llama3)
        );
        let err = PreTokenizer::from_gguf_name("qwen2").unwrap_err();
        assert_eq!(err, TokenizerError::UnsupportedPreTokenizer("qwen2".into()));
        assert!(err.to_string().contains("`qwen2`"));
    }

    #[test]
    fn smollm_splits_every_digit_and_keeps_spaces_apart_from_digits() {
        let split = PreTokenizer::SmolLm.split("The year 2024 had x=3.14");
        assert_eq!(
            split,
            ["The", " year", " ", "2", "0", "2", "4", " had", " x", "=", "3", ".", "1", "4"]
        );
        // The digit pass runs first, so the GPT-2 lookahead cannot see past a digit.
        assert_eq!(PreTokenizer::SmolLm.split("a  1"), ["a", "  ", "1"]);
        assert_eq!(PreTokenizer::Gpt2.split("a  1"), ["a", " ", " 1"]);
        assert_eq!(PreTokenizer::SmolLm.split("٣²"), ["٣", "²"]);
    }

    #[test]
    fn default_runs_its_four_passes() {
        assert_eq!(
            PreTokenizer::Default.split("pay $12345, ok?"),
            ["pay", " ", "$", "123", "45", ",", " ok", "?"]
        );
    }

    #[test]
    fn character_class_runs_and_chunks() {
        let digits = |c: char| c.is_ascii_digit();
        assert_eq!(
            split_runs(&["ab12c3"], digits, None),
            ["ab", "12", "c", "3"]
        );
        assert_eq!(
            split_runs(&["1234567x"], digits, Some(3)),
            ["123", "456", "7x"]
        );
        assert_eq!(split_runs(&["12"], digits, Some(3)), ["12"]);
        assert_eq!(
            split_runs(&["a12", "3"], digits, Some(1)),
            ["a", "1", "2", "3"]
        );
        assert!(split_runs(&[""], digits, None).is_empty());
    }
}
