//! Splitting a file into two parts that travel to the GPU machine in two calls, and choosing
//! the split so that both calls stay under the transfer limit.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// One part written: its length and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub len: u64,
    pub sha256: String,
}

/// Where to cut a file of `total` bytes so that the two calls carry about the same: the first
/// call carries `first_extra` bytes besides part 1, the second `second_extra` besides part 2.
/// Both calls must fit in `limit` bytes.
pub fn split_point(total: u64, first_extra: u64, second_extra: u64, limit: u64) -> Result<u64> {
    // part1 + first_extra == (total - part1) + second_extra, as near as integers allow.
    let cut = (total + second_extra).saturating_sub(first_extra) / 2;
    let cut = cut.min(total);
    let first = cut + first_extra;
    let second = total - cut + second_extra;
    if first > limit || second > limit {
        bail!(
            "the calls would carry {} and {} bytes, over the {limit}-byte limit: carry less \
             (strip the binaries, drop tiny models) or split into more parts",
            first,
            second
        );
    }
    Ok(cut)
}

/// Writes `source[..cut]` to `first` and `source[cut..]` to `second`; returns both parts.
pub fn split_file(source: &Path, cut: u64, first: &Path, second: &Path) -> Result<(Part, Part)> {
    let len = std::fs::metadata(source)
        .with_context(|| format!("reading {}", source.display()))?
        .len();
    if cut > len {
        bail!(
            "cut at {cut} is past the end of {} ({len} bytes)",
            source.display()
        );
    }
    let mut reader = BufReader::new(
        File::open(source).with_context(|| format!("opening {}", source.display()))?,
    );
    let one = copy_part(&mut reader, cut, first)?;
    let two = copy_part(&mut reader, len - cut, second)?;
    Ok((one, two))
}

/// Copies `len` bytes from `reader` into a new file at `dest` (written beside it, then renamed).
fn copy_part(reader: &mut impl Read, len: u64, dest: &Path) -> Result<Part> {
    let partial = dest.with_extension("partial");
    let mut writer = BufWriter::new(
        File::create(&partial).with_context(|| format!("creating {}", partial.display()))?,
    );
    let mut hasher = Sha256::new();
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        reader
            .read_exact(&mut buf[..want])
            .context("reading the model")?;
        hasher.update(&buf[..want]);
        writer
            .write_all(&buf[..want])
            .with_context(|| format!("writing {}", partial.display()))?;
        left -= want as u64;
    }
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", partial.display()))?
        .sync_all()?;
    std::fs::rename(&partial, dest)
        .with_context(|| format!("moving {} to {}", partial.display(), dest.display()))?;
    Ok(Part {
        len,
        sha256: hex::encode(hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_balances_the_two_calls() {
        let cut = split_point(100, 20, 2, 80).unwrap();
        assert_eq!(cut, 41);
        assert_eq!((cut + 20, 100 - cut + 2), (61, 61));
        // Extras larger than the file put it all in the second call.
        assert_eq!(split_point(10, 50, 0, 80).unwrap(), 0);
    }

    #[test]
    fn calls_over_the_limit_are_refused() {
        let err = split_point(100, 10, 10, 50).unwrap_err().to_string();
        assert!(err.contains("over the 50-byte limit"), "{err}");
    }

    #[test]
    fn the_parts_join_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("model");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&source, &data).unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let cut = 1_234_567;
        let (one, two) = split_file(&source, cut, &a, &b).unwrap();
        let (got_a, got_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert_eq!([got_a.as_slice(), got_b.as_slice()].concat(), data);
        assert_eq!((one.len, two.len), (cut, data.len() as u64 - cut));
        assert_eq!(one.sha256, hex::encode(Sha256::digest(&got_a)));
        assert_eq!(two.sha256, hex::encode(Sha256::digest(&got_b)));
        // Again, over the existing parts: the same result.
        assert_eq!(split_file(&source, cut, &a, &b).unwrap(), (one, two));
        assert!(split_file(&source, data.len() as u64 + 1, &a, &b).is_err());
    }
}
