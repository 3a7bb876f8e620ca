//! A bounded pass over a GGUF file's metadata before candle parses it. The parser turns every
//! array element into a 32-byte `Value`, so a 1 GiB array of bytes — which the file does hold —
//! would take 32 GiB. This pass reads the same bytes into nothing, and refuses metadata larger
//! than [`MAX_METADATA_BYTES`], arrays longer than the limits below, or more than
//! [`MAX_TENSORS`] tensors before any is built. It also refuses what the parser would take
//! silently and wrongly, as llama.cpp refuses it: a key or a tensor listed twice (the parser
//! keeps the last), a `general.alignment` that is not a u32 power of two (the parser falls back
//! to 32 for another type, shifting every tensor), and a tensor dimension this machine's
//! `usize` cannot hold (the parser truncates it).

use std::collections::HashSet;
use std::io::{self, Read};

/// The most bytes the metadata section may take (SmolLM2's takes about 1 MiB; a 256k-token
/// vocabulary with its merges, some tens of MiB).
pub const MAX_METADATA_BYTES: u64 = 256 << 20;
/// The most elements of all metadata arrays together (tokens, their types, merges, ...).
pub const MAX_ARRAY_ELEMENTS: u64 = 1 << 23;
/// The most elements of one array outside the tokenizer's (`tokenizer.*`) keys.
pub const MAX_OTHER_ARRAY_ELEMENTS: u64 = 1 << 16;
/// The most tensors a file may list (a 70B llama has 723; mixtures of experts some thousands).
/// The parser builds a record of about 100 bytes for each before any is checked.
pub const MAX_TENSORS: u64 = 1 << 16;
/// The most dimensions a tensor has (GGML's `GGML_MAX_DIMS`).
const MAX_DIMENSIONS: u32 = 4;
/// The deepest nesting of arrays in arrays.
const MAX_DEPTH: usize = 8;

const TYPE_U32: u32 = 4;
const TYPE_STRING: u32 = 8;
const TYPE_ARRAY: u32 = 9;
const ALIGNMENT_KEY: &str = "general.alignment";

/// Checks the metadata of the GGUF file `reader` starts at against the limits above. A file
/// that does not start with the GGUF magic is refused; one that ends early passes: the parser
/// reports it.
pub fn check_metadata<R: Read>(reader: &mut R) -> Result<(), String> {
    match Scan::new(reader).metadata() {
        Ok(()) => Ok(()),
        Err(Stop::Refused(reason)) => Err(reason),
        Err(Stop::Unreadable) => Ok(()),
    }
}

enum Stop {
    /// Over a limit; why.
    Refused(String),
    /// Not GGUF, or unreadable; left to the parser.
    Unreadable,
}

impl From<io::Error> for Stop {
    fn from(_: io::Error) -> Self {
        Self::Unreadable
    }
}

struct Scan<'a, R> {
    reader: &'a mut R,
    /// Whether lengths are 64-bit (GGUF v2 and v3) or 32-bit (v1).
    long_lengths: bool,
    /// Metadata bytes read so far.
    bytes: u64,
    /// Array elements seen so far.
    elements: u64,
}

impl<'a, R: Read> Scan<'a, R> {
    fn new(reader: &'a mut R) -> Self {
        Self {
            reader,
            long_lengths: true,
            bytes: 0,
            elements: 0,
        }
    }

    fn metadata(&mut self) -> Result<(), Stop> {
        let mut magic = [0u8; 4];
        self.reader.read_exact(&mut magic)?;
        // The parser also takes the byte-swapped magic ("FUGG"), which this scan does not
        // read: refused here, so that no file reaches the parser unchecked.
        if &magic != b"GGUF" {
            return Err(Stop::Refused(format!(
                "not a GGUF file: it starts with {:?}, not \"GGUF\"",
                String::from_utf8_lossy(&magic)
            )));
        }
        self.long_lengths = match self.u32()? {
            1 => false,
            2 | 3 => true,
            _ => return Err(Stop::Unreadable),
        };
        let tensors = self.length()?;
        if tensors > MAX_TENSORS {
            return Err(Stop::Refused(format!(
                "the file lists {tensors} tensors; at most {MAX_TENSORS} are accepted"
            )));
        }
        let entries = self.length()?;
        let mut keys = HashSet::new();
        for _ in 0..entries {
            let key = self.key()?;
            if !keys.insert(key.clone()) {
                return Err(refused(format!("metadata key `{key}` is listed twice")));
            }
            let value_type = self.u32()?;
            if key == ALIGNMENT_KEY {
                self.alignment(value_type)?;
            } else {
                self.value(&key, value_type, 0)?;
            }
        }
        self.tensor_table(tensors)
    }

    fn alignment(&mut self, value_type: u32) -> Result<(), Stop> {
        if value_type != TYPE_U32 {
            return Err(refused(format!(
                "`{ALIGNMENT_KEY}` must be a u32 (GGUF type {TYPE_U32}), not of type {value_type}"
            )));
        }
        let alignment = self.u32()?;
        if !alignment.is_power_of_two() {
            return Err(refused(format!(
                "`{ALIGNMENT_KEY}` is {alignment}, not a power of two"
            )));
        }
        Ok(())
    }

    /// Each tensor's name, dimensions, type and offset: no name twice, every dimension a
    /// `usize` here.
    fn tensor_table(&mut self, tensors: u64) -> Result<(), Stop> {
        let mut names = HashSet::new();
        for _ in 0..tensors {
            let name = self.key()?;
            let dimensions = self.u32()?;
            if dimensions > MAX_DIMENSIONS {
                // The parser refuses it.
                return Err(Stop::Unreadable);
            }
            for _ in 0..dimensions {
                let dimension = self.length()?;
                if usize::try_from(dimension).is_err() {
                    return Err(refused(format!(
                        "tensor `{name}` has a dimension of {dimension}, more than this machine \
                         can address"
                    )));
                }
            }
            self.u32()?; // type
            self.u64()?; // offset
            if !names.insert(name.clone()) {
                return Err(refused(format!("tensor `{name}` is listed twice")));
            }
        }
        Ok(())
    }

    fn value(&mut self, key: &str, value_type: u32, depth: usize) -> Result<(), Stop> {
        match value_type {
            TYPE_STRING => {
                let len = self.length()?;
                self.skip(len)
            }
            TYPE_ARRAY => {
                if depth >= MAX_DEPTH {
                    return Err(refused(format!(
                        "`{key}` nests arrays deeper than {MAX_DEPTH}"
                    )));
                }
                let element_type = self.u32()?;
                let count = self.length()?;
                self.count_elements(key, count)?;
                match fixed_size(element_type) {
                    Some(size) => self.skip(count.saturating_mul(size)),
                    None => (0..count).try_for_each(|_| self.value(key, element_type, depth + 1)),
                }
            }
            other => self.skip(fixed_size(other).ok_or(Stop::Unreadable)?),
        }
    }

    fn count_elements(&mut self, key: &str, count: u64) -> Result<(), Stop> {
        let tokenizer = key.starts_with("tokenizer.");
        if !tokenizer && count > MAX_OTHER_ARRAY_ELEMENTS {
            return Err(refused(format!(
                "metadata array `{key}` has {count} elements; outside the tokenizer's keys at \
                 most {MAX_OTHER_ARRAY_ELEMENTS} are accepted"
            )));
        }
        self.elements = self.elements.saturating_add(count);
        if self.elements > MAX_ARRAY_ELEMENTS {
            return Err(refused(format!(
                "metadata arrays hold more than {MAX_ARRAY_ELEMENTS} elements in all (at `{key}`)"
            )));
        }
        Ok(())
    }

    fn key(&mut self) -> Result<String, Stop> {
        let len = self.length()?;
        self.charge(len)?;
        let mut key = Vec::new();
        self.reader.by_ref().take(len).read_to_end(&mut key)?;
        if key.len() as u64 != len {
            return Err(Stop::Unreadable);
        }
        // As the parser reads names: without trailing NULs (so `a` and `a\0` are one name).
        while key.last() == Some(&0) {
            key.pop();
        }
        Ok(String::from_utf8_lossy(&key).into_owned())
    }

    /// Reads `len` bytes into nothing.
    fn skip(&mut self, len: u64) -> Result<(), Stop> {
        self.charge(len)?;
        let skipped = io::copy(&mut self.reader.by_ref().take(len), &mut io::sink())?;
        if skipped != len {
            return Err(Stop::Unreadable);
        }
        Ok(())
    }

    /// Counts `len` more metadata bytes, refusing them past the limit.
    fn charge(&mut self, len: u64) -> Result<(), Stop> {
        self.bytes = self.bytes.saturating_add(len);
        if self.bytes > MAX_METADATA_BYTES {
            return Err(refused(format!(
                "the metadata and tensor table take more than {MAX_METADATA_BYTES} bytes"
            )));
        }
        Ok(())
    }

    fn length(&mut self) -> Result<u64, Stop> {
        if self.long_lengths {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }

    fn u32(&mut self) -> Result<u32, Stop> {
        let mut bytes = [0u8; 4];
        self.reader.read_exact(&mut bytes)?;
        self.charge(4)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn u64(&mut self) -> Result<u64, Stop> {
        let mut bytes = [0u8; 8];
        self.reader.read_exact(&mut bytes)?;
        self.charge(8)?;
        Ok(u64::from_le_bytes(bytes))
    }
}

fn refused(reason: String) -> Stop {
    Stop::Refused(reason)
}

/// The size of a value of fixed-size GGUF type `value_type` (`None`: a string or an array, or
/// no type).
fn fixed_size(value_type: u32) -> Option<u64> {
    match value_type {
        0 | 1 | 7 => Some(1), // u8, i8, bool
        2 | 3 => Some(2),     // u16, i16
        4..=6 => Some(4),     // u32, i32, f32
        10..=12 => Some(8),   // u64, i64, f64
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GGUF v3 header with no tensors and the given metadata entries (already encoded).
    fn header(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend((entries.len() as u64).to_le_bytes());
        for entry in entries {
            bytes.extend(entry);
        }
        bytes
    }

    fn string(text: &str) -> Vec<u8> {
        let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
        bytes.extend(text.as_bytes());
        bytes
    }

    /// An entry `key` holding an array of `count` u8 values, of which only `present` follow.
    fn u8_array(key: &str, count: u64, present: usize) -> Vec<u8> {
        let mut bytes = string(key);
        bytes.extend(TYPE_ARRAY.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(count.to_le_bytes());
        bytes.extend(vec![7u8; present]);
        bytes
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        check_metadata(&mut &bytes[..])
    }

    /// `header`'s bytes listing `tensors` (name, dimensions) instead of none.
    fn with_tensors(entries: &[Vec<u8>], tensors: &[(&str, &[u64])]) -> Vec<u8> {
        let mut bytes = header(entries);
        bytes[8..16].copy_from_slice(&(tensors.len() as u64).to_le_bytes());
        for (name, dimensions) in tensors {
            bytes.extend(string(name));
            bytes.extend((dimensions.len() as u32).to_le_bytes());
            for dimension in *dimensions {
                bytes.extend(dimension.to_le_bytes());
            }
            bytes.extend(0u32.to_le_bytes());
            bytes.extend(0u64.to_le_bytes());
        }
        bytes
    }

    fn u32_entry(key: &str, value_type: u32, value: &[u8]) -> Vec<u8> {
        let mut bytes = string(key);
        bytes.extend(value_type.to_le_bytes());
        bytes.extend(value);
        bytes
    }

    #[test]
    fn what_the_parser_would_take_wrongly_is_refused() {
        let count = |n: u32| u32_entry("llama.block_count", TYPE_U32, &n.to_le_bytes());
        let err = check(&header(&[count(30), count(2)])).unwrap_err();
        assert!(err.contains("`llama.block_count` is listed twice"), "{err}");

        let alignment = |value_type: u32, value: &[u8]| {
            check(&header(&[u32_entry(ALIGNMENT_KEY, value_type, value)]))
        };
        alignment(TYPE_U32, &64u32.to_le_bytes()).unwrap();
        let err = alignment(10, &64u64.to_le_bytes()).unwrap_err();
        assert!(err.contains("must be a u32"), "{err}");
        for bad in [0u32, 48] {
            let err = alignment(TYPE_U32, &bad.to_le_bytes()).unwrap_err();
            assert!(
                err.contains(&format!("is {bad}, not a power of two")),
                "{err}"
            );
        }

        let table = [("a.weight", &[4u64, 8][..]), ("b.weight", &[8][..])];
        check(&with_tensors(&[count(1)], &table)).unwrap();
        let twice = [table[0], table[1], table[0]];
        let err = check(&with_tensors(&[count(1)], &twice)).unwrap_err();
        assert!(err.contains("tensor `a.weight` is listed twice"), "{err}");

        // The parser drops trailing NULs from names: so does the scan.
        let nul_twice = [table[0], ("a.weight\0", &[8][..])];
        let err = check(&with_tensors(&[count(1)], &nul_twice)).unwrap_err();
        assert!(err.contains("tensor `a.weight` is listed twice"), "{err}");
        let hidden = u32_entry("general.alignment\0", 0, &[48]);
        let err = check(&header(&[hidden])).unwrap_err();
        assert!(err.contains("must be a u32"), "{err}");
    }

    #[test]
    fn ordinary_metadata_passes() {
        let mut name = string("general.name");
        name.extend(TYPE_STRING.to_le_bytes());
        name.extend(string("tiny"));
        let mut count = string("llama.block_count");
        count.extend(4u32.to_le_bytes());
        count.extend(30u32.to_le_bytes());
        let tokens = u8_array("tokenizer.ggml.token_type", 100_000, 100_000);
        check(&header(&[name, count, tokens])).unwrap();
    }

    #[test]
    fn a_huge_array_is_refused_before_it_is_read() {
        // Claims a 1 GiB array in a file of a few dozen bytes.
        let err = check(&header(&[u8_array("general.junk", 1 << 30, 0)])).unwrap_err();
        assert!(
            err.contains("general.junk") && err.contains("elements"),
            "{err}"
        );
        let err = check(&header(&[u8_array("tokenizer.junk", 1 << 30, 0)])).unwrap_err();
        assert!(err.contains("in all"), "{err}");
    }

    #[test]
    fn long_arrays_outside_the_tokenizer_are_refused() {
        let entry = u8_array("general.junk", MAX_OTHER_ARRAY_ELEMENTS + 1, 70_000);
        assert!(check(&header(&[entry])).is_err());
        let entry = u8_array("general.junk", MAX_OTHER_ARRAY_ELEMENTS, 70_000);
        check(&header(&[entry])).unwrap();
    }

    #[test]
    fn metadata_past_the_byte_limit_is_refused() {
        let mut entry = string("general.blob");
        entry.extend(TYPE_STRING.to_le_bytes());
        entry.extend((MAX_METADATA_BYTES + 1).to_le_bytes());
        let err = check(&header(&[entry])).unwrap_err();
        assert!(err.contains("bytes"), "{err}");
    }

    #[test]
    fn a_file_listing_too_many_tensors_is_refused() {
        let mut many = header(&[]);
        many[8..16].copy_from_slice(&(MAX_TENSORS + 1).to_le_bytes());
        let err = check(&many).unwrap_err();
        assert!(err.contains("tensors"), "{err}");
        many[8..16].copy_from_slice(&MAX_TENSORS.to_le_bytes());
        check(&many).unwrap();
    }

    #[test]
    fn a_file_without_the_gguf_magic_is_refused() {
        let err = check(b"GGML\x03\x00\x00\x00").unwrap_err();
        assert!(err.contains("not a GGUF file"), "{err}");
        // The byte-swapped magic the parser would take, with an array it would build into 32 GiB.
        let mut swapped = header(&[u8_array("general.junk", 1 << 30, 0)]);
        swapped[..4].copy_from_slice(b"FUGG");
        let err = check(&swapped).unwrap_err();
        assert!(err.contains("\"FUGG\""), "{err}");
    }

    #[test]
    fn files_the_parser_must_judge_pass() {
        check(b"").unwrap();
        // Ends in the middle of an entry.
        let mut cut = header(&[u8_array("general.junk", 10, 10)]);
        cut.truncate(cut.len() - 3);
        check(&cut).unwrap();
    }
}
