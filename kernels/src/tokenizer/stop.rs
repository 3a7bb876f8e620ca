//! Stop conditions, checked as generated tokens arrive: an end-of-generation token, or a stop
//! string appearing in the decoded bytes (possibly spread over several tokens).

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// An end-of-generation token came; its text is not part of the output.
    EndOfGeneration { id: u32 },
    /// The stop string with this index (in the order given) appeared.
    StopString { index: usize },
}

/// Where generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// What stopped it.
    pub reason: StopReason,
    /// How many bytes of the decoded output to keep: everything before the stop string or
    /// the end-of-generation token.
    pub text_len: usize,
}

/// Watches the tokens of one generation for its stop conditions.
#[derive(Debug, Clone)]
pub struct StopDetector {
    stop_ids: Vec<u32>,
    /// The non-empty stop strings, each with its index in the order given.
    stop_strings: Vec<(usize, Vec<u8>)>,
    /// The decoded output so far; cut to the kept text once stopped.
    text: Vec<u8>,
    stop: Option<Stop>,
}

impl StopDetector {
    /// Stops on any of `stop_ids` (e.g. [`Tokenizer::end_of_generation_ids`]) and on any of
    /// `stop_strings`, matched on bytes. Empty stop strings are ignored (and keep their place
    /// in the order given: a stop names its string's index among them all).
    ///
    /// [`Tokenizer::end_of_generation_ids`]: super::Tokenizer::end_of_generation_ids
    pub fn new<S: AsRef<[u8]>>(
        stop_ids: &[u32],
        stop_strings: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            stop_ids: stop_ids.to_vec(),
            stop_strings: stop_strings
                .into_iter()
                .map(|s| s.as_ref().to_vec())
                .enumerate()
                .filter(|(_, s)| !s.is_empty())
                .collect(),
            text: Vec::new(),
            stop: None,
        }
    }

    /// Takes the next generated token and its bytes ([`Tokenizer::token_bytes`]); returns the
    /// stop once a condition is met, and the same stop for every token after it.
    ///
    /// [`Tokenizer::token_bytes`]: super::Tokenizer::token_bytes
    pub fn push(&mut self, id: u32, bytes: &[u8]) -> Option<Stop> {
        if self.stop.is_some() {
            return self.stop;
        }
        if self.stop_ids.contains(&id) {
            return self.stop_at(StopReason::EndOfGeneration { id }, self.text.len());
        }
        let old_len = self.text.len();
        self.text.extend_from_slice(bytes);
        // Earlier pushes found no match, so a new one must end in the new bytes.
        let found = self
            .stop_strings
            .iter()
            .filter_map(|(index, stop)| {
                let from = (old_len + 1).saturating_sub(stop.len());
                find(&self.text[from..], stop).map(|at| (from + at, *index))
            })
            .min();
        match found {
            Some((at, index)) => self.stop_at(StopReason::StopString { index }, at),
            None => None,
        }
    }

    fn stop_at(&mut self, reason: StopReason, text_len: usize) -> Option<Stop> {
        self.text.truncate(text_len);
        self.stop = Some(Stop { reason, text_len });
        self.stop
    }

    /// The stop, once one happened.
    pub fn stop(&self) -> Option<Stop> {
        self.stop
    }

    /// The decoded output so far; once stopped, exactly the text to keep.
    pub fn text(&self) -> &[u8] {
        &self.text
    }
}

/// The text of a generation's output bytes (SPEC.md §12): an incomplete character at the very
/// end (a generation cut by `max_tokens` or a stop string inside a character) is left out, and
/// every other invalid UTF-8 sequence becomes U+FFFD.
pub fn output_text(bytes: &[u8]) -> String {
    let complete = match bytes.utf8_chunks().last() {
        Some(last) if is_cut_character(last.invalid()) => bytes.len() - last.invalid().len(),
        _ => bytes.len(),
    };
    String::from_utf8_lossy(&bytes[..complete]).into_owned()
}

/// Whether `bytes` (an invalid sequence at the end of the output) is the beginning of a valid
/// character that was cut, rather than bytes no character starts with.
fn is_cut_character(bytes: &[u8]) -> bool {
    !bytes.is_empty() && std::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_none())
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_string_across_pushes_cuts_before_it() {
        let mut detector = StopDetector::new(&[2], ["\nUser:"]);
        assert_eq!(detector.push(10, b"Hello"), None);
        assert_eq!(detector.push(11, b".\nUs"), None);
        assert_eq!(detector.text(), b"Hello.\nUs");
        let stop = detector.push(12, b"er: hi").unwrap();
        assert_eq!(
            stop,
            Stop {
                reason: StopReason::StopString { index: 0 },
                text_len: 6
            }
        );
        assert_eq!(detector.text(), b"Hello.");
        assert_eq!(detector.push(13, b"more"), Some(stop));
    }

    #[test]
    fn end_of_generation_token_is_not_part_of_the_text() {
        let mut detector = StopDetector::new(&[2, 7], Vec::<String>::new());
        assert_eq!(detector.push(5, b"Paris."), None);
        let stop = detector.push(7, b"<|eot|>").unwrap();
        assert_eq!(stop.reason, StopReason::EndOfGeneration { id: 7 });
        assert_eq!(stop.text_len, 6);
        assert_eq!(detector.stop(), Some(stop));
    }

    #[test]
    fn the_earliest_of_several_stop_strings_wins() {
        let mut detector = StopDetector::new(&[], ["cd", "bcd", ""]);
        let stop = detector.push(1, b"abcde").unwrap();
        assert_eq!(stop.reason, StopReason::StopString { index: 1 });
        assert_eq!(stop.text_len, 1);
    }

    #[test]
    fn a_stop_names_its_string_by_its_place_among_all_given_empty_ones_too() {
        let mut detector = StopDetector::new(&[], ["", "b", "", "c"]);
        let stop = detector.push(1, b"abc").unwrap();
        assert_eq!(stop.reason, StopReason::StopString { index: 1 });
        let mut detector = StopDetector::new(&[], ["", "x", "", "c"]);
        let stop = detector.push(1, b"abc").unwrap();
        assert_eq!(stop.reason, StopReason::StopString { index: 3 });
    }

    #[test]
    fn a_special_tokens_text_is_output_and_matched_unless_it_ends_the_generation() {
        // 5 is a control token that does not end generation, 7 one that does.
        let mut detector = StopDetector::new(&[7], ["<|im_start|>us", "<|im_end|>"]);
        assert_eq!(detector.push(1, b"a"), None);
        assert_eq!(detector.push(5, b"<|im_start|>"), None);
        assert_eq!(detector.text(), b"a<|im_start|>");
        let stop = detector.push(2, b"user").unwrap();
        assert_eq!(
            stop,
            Stop {
                reason: StopReason::StopString { index: 0 },
                text_len: 1
            }
        );
        // An end token's text is neither output nor matched: the token ends the generation.
        let mut detector = StopDetector::new(&[7], ["<|im_end|>", "a<"]);
        assert_eq!(detector.push(1, b"a"), None);
        let stop = detector.push(7, b"<|im_end|>").unwrap();
        assert_eq!(stop.reason, StopReason::EndOfGeneration { id: 7 });
        assert_eq!(detector.text(), b"a");
    }

    #[test]
    fn empty_stop_strings_never_match() {
        let mut detector = StopDetector::new(&[], ["", ""]);
        assert_eq!(detector.push(1, b""), None);
        assert_eq!(detector.push(2, b"abc"), None);
        assert_eq!(detector.text(), b"abc");
    }

    #[test]
    fn a_character_cut_at_the_end_is_left_out_of_the_text() {
        // "é" is C3 A9, "€" E2 82 AC, "🙂" F0 9F 99 82.
        assert_eq!(output_text(b"caf\xc3"), "caf");
        assert_eq!(output_text(b"1 \xe2\x82"), "1 ");
        assert_eq!(output_text(b"ok \xf0\x9f\x99"), "ok ");
        assert_eq!(output_text(b"\xf0"), "");
        assert_eq!(output_text("café €".as_bytes()), "café €");
        assert_eq!(output_text(b""), "");
    }

    #[test]
    fn invalid_bytes_that_are_not_a_cut_character_become_replacement_characters() {
        // A lone continuation byte, a lead byte followed by ASCII, and bytes no character
        // starts with — at the end too.
        assert_eq!(output_text(b"a\xa9b"), "a\u{fffd}b");
        assert_eq!(output_text(b"a\xc3b"), "a\u{fffd}b");
        assert_eq!(output_text(b"a\xff"), "a\u{fffd}");
        assert_eq!(output_text(b"a\xa9"), "a\u{fffd}");
        // An invalid sequence, then a cut character: only the cut one is left out.
        assert_eq!(output_text(b"\xff\xe2\x82"), "\u{fffd}");
        // Surrogates (ED A0..) are never a character's beginning.
        assert_eq!(output_text(b"x\xed\xa0"), "x\u{fffd}\u{fffd}");
    }

    #[test]
    fn a_stop_string_inside_one_token_and_at_the_very_start() {
        let mut detector = StopDetector::new(&[], ["###"]);
        let stop = detector.push(1, b"###x").unwrap();
        assert_eq!(stop.text_len, 0);
        assert!(detector.text().is_empty());
    }
}
