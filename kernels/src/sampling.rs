//! Choosing the next token (SPEC.md §7): greedy, or temperature / top-k / top-p with a ChaCha20
//! stream keyed by the seed and the request's id.

use crate::math::exp32;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use thiserror::Error;

const STREAM_DOMAIN: &[u8] = b"ai-oracle/sampling/detspec-1";

/// The smallest non-zero temperature: below it `logit / temperature` could overflow.
pub const MIN_TEMPERATURE: f32 = 0.001;
/// The largest temperature.
pub const MAX_TEMPERATURE: f32 = 100.0;

/// How to sample; part of the result digest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 keeps all.
    pub top_k: u32,
    /// Keep the smallest set whose probability reaches `top_p`; 1 keeps all.
    pub top_p: f32,
    /// Most tokens to generate.
    pub max_tokens: u32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            max_tokens: 64,
            seed: 0,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SamplingError {
    #[error("temperature must be 0 (greedy) or between 0.001 and 100, got {0}")]
    Temperature(f32),
    #[error("max_tokens must be at least 1")]
    NoTokens,
    #[error("the allowed token ids must be strictly increasing: {previous} then {id}")]
    UnorderedAllowed { previous: u32, id: u32 },
    #[error("top_p must be in (0, 1], got {0}")]
    TopP(f32),
    #[error("no logits to sample from")]
    Empty,
    #[error("token {id} is outside the {len} logits")]
    OutOfRange { id: u32, len: usize },
    #[error(
        "logit {logit} of token {id} divided by temperature {temperature} is not finite; \
         use a higher temperature"
    )]
    ScaledLogitOverflow {
        id: u32,
        logit: f32,
        temperature: f32,
    },
}

impl SamplingParams {
    /// Refuses parameters SPEC.md §7 does not define: a temperature other than +0 or in
    /// [0.001, 100] (−0 too: it would sample like +0 under another digest), top_p outside
    /// (0, 1], no token to generate.
    pub fn validate(&self) -> Result<(), SamplingError> {
        let t = self.temperature;
        if !(t.to_bits() == 0 || (MIN_TEMPERATURE..=MAX_TEMPERATURE).contains(&t)) {
            return Err(SamplingError::Temperature(t));
        }
        if self.max_tokens == 0 {
            return Err(SamplingError::NoTokens);
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SamplingError::TopP(self.top_p));
        }
        Ok(())
    }
}

/// The sampler of one request: its parameters and its random stream.
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha20Rng,
}

impl Sampler {
    /// A sampler for the request named `stream_id` (its bytes key the random stream).
    pub fn new(params: SamplingParams, stream_id: &[u8]) -> Result<Self, SamplingError> {
        params.validate()?;
        let mut hasher = Sha256::new();
        hasher.update(STREAM_DOMAIN);
        hasher.update(params.seed.to_le_bytes());
        hasher.update((stream_id.len() as u32).to_le_bytes());
        hasher.update(stream_id);
        Ok(Self {
            params,
            rng: ChaCha20Rng::from_seed(hasher.finalize().into()),
        })
    }

    /// The next token for these logits (which must be finite).
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32, SamplingError> {
        if logits.is_empty() {
            return Err(SamplingError::Empty);
        }
        self.pick(logits, 0..logits.len() as u32)
    }

    /// The next token among `allowed` (strictly increasing ids) only (SPEC.md §7.1): the other
    /// tokens are removed before temperature, top-k and top-p apply, as if they were not in
    /// the vocabulary.
    pub fn sample_among(&mut self, logits: &[f32], allowed: &[u32]) -> Result<u32, SamplingError> {
        if allowed.is_empty() {
            return Err(SamplingError::Empty);
        }
        if let Some(pair) = allowed.windows(2).find(|pair| pair[0] >= pair[1]) {
            return Err(SamplingError::UnorderedAllowed {
                previous: pair[0],
                id: pair[1],
            });
        }
        if let Some(&id) = allowed.iter().find(|&&id| id as usize >= logits.len()) {
            return Err(SamplingError::OutOfRange {
                id,
                len: logits.len(),
            });
        }
        self.pick(logits, allowed.iter().copied())
    }

    /// Samples among the candidate ids `ids` (in-range, at least one).
    fn pick(
        &mut self,
        logits: &[f32],
        ids: impl Iterator<Item = u32>,
    ) -> Result<u32, SamplingError> {
        if self.params.temperature == 0.0 {
            return Ok(argmax_among(logits, ids));
        }
        let t = self.params.temperature;
        let mut candidates = Vec::new();
        for id in ids {
            let logit = logits[id as usize];
            let scaled = logit / t;
            if !scaled.is_finite() {
                return Err(SamplingError::ScaledLogitOverflow {
                    id,
                    logit,
                    temperature: t,
                });
            }
            candidates.push((scaled, id));
        }
        // By value (so −0 and +0 tie, as in SPEC.md §7), then by index; values are finite.
        candidates.sort_unstable_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        if self.params.top_k > 0 {
            candidates.truncate(self.params.top_k as usize);
        }
        let m = candidates[0].0;
        let weights: Vec<f32> = candidates.iter().map(|&(l, _)| exp32(l - m)).collect();
        let mut total = weights.iter().fold(0f32, |acc, w| acc + w);
        let mut keep = weights.len();
        if self.params.top_p < 1.0 {
            let target = self.params.top_p * total;
            let mut running = 0f32;
            for (i, w) in weights.iter().enumerate() {
                running += w;
                if running >= target {
                    keep = i + 1;
                    total = running;
                    break;
                }
            }
        }
        let u = (self.rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32);
        let threshold = u * total;
        let mut running = 0f32;
        for i in 0..keep {
            running += weights[i];
            if running > threshold {
                return Ok(candidates[i].1);
            }
        }
        Ok(candidates[keep - 1].1)
    }
}

/// The index of the largest value, the lowest index on ties.
pub fn argmax(values: &[f32]) -> u32 {
    argmax_among(values, 0..values.len() as u32)
}

/// The id in `ids` (at least one, in range) of the largest value, the lowest id on ties.
fn argmax_among(values: &[f32], ids: impl Iterator<Item = u32>) -> u32 {
    let mut best: Option<u32> = None;
    for id in ids {
        let (v, i) = (values[id as usize], id);
        let better =
            best.is_none_or(|b| v > values[b as usize] || (v == values[b as usize] && i < b));
        if better {
            best = Some(id);
        }
    }
    best.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32, top_k: u32, top_p: f32, seed: u64) -> SamplingParams {
        SamplingParams {
            temperature,
            top_k,
            top_p,
            max_tokens: 8,
            seed,
        }
    }

    #[test]
    fn greedy_takes_the_first_maximum() {
        let mut s = Sampler::new(params(0.0, 0, 1.0, 0), b"r").unwrap();
        assert_eq!(s.sample(&[1.0, 3.0, 3.0, -1.0]).unwrap(), 1);
    }

    #[test]
    fn same_seed_and_stream_same_draws_other_stream_other_draws() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 17) as f32 * 0.3).collect();
        let draw = |seed, stream: &[u8]| {
            let mut s = Sampler::new(params(1.0, 0, 1.0, seed), stream).unwrap();
            (0..32)
                .map(|_| s.sample(&logits).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7, b"req-1"), draw(7, b"req-1"));
        assert_ne!(draw(7, b"req-1"), draw(7, b"req-2"));
        assert_ne!(draw(7, b"req-1"), draw(8, b"req-1"));
    }

    #[test]
    fn top_k_and_top_p_restrict_the_choice() {
        let logits = [5.0f32, 4.0, 1.0, 0.0, -1.0];
        let mut s = Sampler::new(params(1.0, 2, 1.0, 1), b"x").unwrap();
        for _ in 0..200 {
            assert!(s.sample(&logits).unwrap() < 2);
        }
        // top_p small enough keeps only the best token.
        let mut s = Sampler::new(params(1.0, 0, 0.5, 1), b"x").unwrap();
        for _ in 0..200 {
            assert_eq!(s.sample(&logits).unwrap(), 0);
        }
    }

    #[test]
    fn sampling_among_allowed_tokens_only() {
        let logits = [5.0f32, 4.0, 1.0, 4.0, -1.0];
        // Greedy: the best allowed token, the lowest id on ties.
        let mut s = Sampler::new(params(0.0, 0, 1.0, 0), b"m").unwrap();
        assert_eq!(s.sample_among(&logits, &[1, 2, 3]).unwrap(), 1);
        assert_eq!(s.sample_among(&logits, &[4]).unwrap(), 4);
        // Sampled: only allowed tokens come out, and top-k counts allowed tokens only.
        let mut s = Sampler::new(params(1.0, 1, 1.0, 3), b"m").unwrap();
        for _ in 0..50 {
            assert_eq!(s.sample_among(&logits, &[2, 4]).unwrap(), 2);
        }
        let mut s = Sampler::new(params(1.0, 0, 1.0, 3), b"m").unwrap();
        let drawn: Vec<u32> = (0..200)
            .map(|_| s.sample_among(&logits, &[1, 2, 4]).unwrap())
            .collect();
        assert!(drawn.iter().all(|id| [1, 2, 4].contains(id)));
        assert!(drawn.contains(&1) && drawn.contains(&2));
        // Everything allowed draws exactly what unconstrained sampling draws.
        let all: Vec<u32> = (0..5).collect();
        let mut a = Sampler::new(params(0.7, 3, 0.9, 5), b"m").unwrap();
        let mut b = Sampler::new(params(0.7, 3, 0.9, 5), b"m").unwrap();
        for _ in 0..50 {
            assert_eq!(
                a.sample(&logits).unwrap(),
                b.sample_among(&logits, &all).unwrap()
            );
        }
        assert_eq!(s.sample_among(&logits, &[]), Err(SamplingError::Empty));
        assert_eq!(
            s.sample_among(&logits, &[5]),
            Err(SamplingError::OutOfRange { id: 5, len: 5 })
        );
        // A repeated id would weigh twice (and take two top-k places): refused, as is disorder.
        assert_eq!(
            s.sample_among(&logits, &[1, 1, 2]),
            Err(SamplingError::UnorderedAllowed { previous: 1, id: 1 })
        );
        assert_eq!(
            s.sample_among(&logits, &[2, 1]),
            Err(SamplingError::UnorderedAllowed { previous: 2, id: 1 })
        );
    }

    /// SPEC.md §7's random stream, derived here from the text of the spec: ChaCha20 keyed by
    /// SHA-256 of the domain, the seed (u64 LE), the stream id's length (u32 LE) and bytes.
    fn spec_stream(seed: u64, stream_id: &[u8]) -> ChaCha20Rng {
        let mut key = Sha256::new();
        key.update(b"ai-oracle/sampling/detspec-1");
        key.update(seed.to_le_bytes());
        key.update((stream_id.len() as u32).to_le_bytes());
        key.update(stream_id);
        ChaCha20Rng::from_seed(key.finalize().into())
    }

    /// The stream is RFC 7539's ChaCha20 keystream read as little-endian 32-bit words, pinned
    /// by the RFC's own vector (A.1 #1: zero key, zero nonce, block 0), so that no update of
    /// `rand_chacha` can change it unnoticed.
    #[test]
    fn the_stream_is_rfc_7539_chacha20() {
        let keystream: [u8; 64] = hex::decode(
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
             da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586",
        )
        .unwrap()
        .try_into()
        .unwrap();
        let mut stream = ChaCha20Rng::from_seed([0; 32]);
        for word in keystream.chunks(4) {
            assert_eq!(
                stream.next_u32(),
                u32::from_le_bytes(word.try_into().unwrap())
            );
        }
    }

    #[test]
    fn draws_follow_the_spec_stream_and_arithmetic_exactly() {
        // Four equal logits: weights 1, total 4, and u = (r >> 8) / 2^24 exactly, so the draw
        // is the first i with i + 1 > 4u: i = r >> 30, the top two bits of the stream's word.
        let logits = [0.5f32; 4];
        let mut sampler = Sampler::new(params(0.8, 0, 1.0, 42), b"request-7").unwrap();
        let mut stream = spec_stream(42, b"request-7");
        let drawn: Vec<u32> = (0..64).map(|_| sampler.sample(&logits).unwrap()).collect();
        let expected: Vec<u32> = (0..64).map(|_| stream.next_u32() >> 30).collect();
        assert_eq!(drawn, expected);
        assert!((0..4).all(|id| drawn.contains(&id)), "{drawn:?}");
    }

    #[test]
    fn top_p_keeps_the_tokens_whose_running_sum_first_reaches_it() {
        // Equal weights 1 in index order (−0 and +0 tie as equal values): the running sum
        // reaches top_p × total = 0.5 × 4 = 2 exactly at the second token, which is kept.
        let logits = [0.0f32, -0.0, 0.0, -0.0];
        let mut sampler = Sampler::new(params(1.0, 0, 0.5, 9), b"p").unwrap();
        let drawn: Vec<u32> = (0..200).map(|_| sampler.sample(&logits).unwrap()).collect();
        assert!(drawn.iter().all(|&id| id < 2), "{drawn:?}");
        assert!(drawn.contains(&0) && drawn.contains(&1));
        // top_k 3 of them, then top_p 0.5 of the three (running sum 2 ≥ 1.5 at the second).
        let mut sampler = Sampler::new(params(1.0, 3, 0.5, 9), b"p").unwrap();
        let drawn: Vec<u32> = (0..200).map(|_| sampler.sample(&logits).unwrap()).collect();
        assert!(drawn.iter().all(|&id| id < 2), "{drawn:?}");
    }

    #[test]
    fn invalid_parameters_are_refused() {
        assert!(Sampler::new(params(-1.0, 0, 1.0, 0), b"").is_err());
        assert!(Sampler::new(params(1e-30, 0, 1.0, 0), b"").is_err());
        assert!(Sampler::new(params(1e3, 0, 1.0, 0), b"").is_err());
        assert!(Sampler::new(params(f32::NAN, 0, 1.0, 0), b"").is_err());
        assert!(Sampler::new(params(1.0, 0, 0.0, 0), b"").is_err());
        assert!(Sampler::new(params(1.0, 0, 1.5, 0), b"").is_err());
        // −0 would sample greedily like +0 but enter the digest with other bits.
        assert_eq!(
            Sampler::new(params(-0.0, 0, 1.0, 0), b"").err(),
            Some(SamplingError::Temperature(-0.0))
        );
        let none = SamplingParams {
            max_tokens: 0,
            ..params(0.0, 0, 1.0, 0)
        };
        assert_eq!(Sampler::new(none, b"").err(), Some(SamplingError::NoTokens));
    }

    #[test]
    fn a_logit_that_overflows_at_low_temperature_is_an_error() {
        // 1e36 / 0.001 is beyond f32's range: no meaningless draw, an error naming the token.
        let mut sampler = Sampler::new(params(0.001, 0, 1.0, 0), b"r").unwrap();
        assert_eq!(
            sampler.sample(&[1.0, 1e36, 2.0]),
            Err(SamplingError::ScaledLogitOverflow {
                id: 1,
                logit: 1e36,
                temperature: 0.001
            })
        );
        // The same logit is fine at temperature 1, and greedy never divides.
        let mut sampler = Sampler::new(params(1.0, 0, 1.0, 0), b"r").unwrap();
        assert_eq!(sampler.sample(&[1.0, 1e36, 2.0]), Ok(1));
        let mut greedy = Sampler::new(params(0.0, 0, 1.0, 0), b"r").unwrap();
        assert_eq!(greedy.sample(&[1.0, 1e36, 2.0]), Ok(1));
    }
}
