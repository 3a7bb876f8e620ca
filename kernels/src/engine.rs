//! The generation API: load a GGUF model once, then turn requests (prompt, sampling parameters,
//! seed, request id, optional output schema) into tokens, text and a result digest — alone or
//! batched with others, with the same bits either way.

use crate::constrain::{ConstrainedOutput, ConstraintError, Schema, TokenIndex};
use crate::device::{Device, DeviceCache, DeviceError, DeviceItem, DeviceModel};
use crate::digest::ResultRecord;
use crate::matmul::{Compute, ComputeError};
use crate::model::{read_header, BatchItem, KvCache, LlamaModel, ModelError, ModelSource};
use crate::model_cache::sha256_open_file;
use crate::quant::KernelPath;
use crate::sampling::{Sampler, SamplingError, SamplingParams};
use crate::tokenizer::{
    output_text, ChatMessage, StopDetector, StopReason, Tokenizer, TokenizerError,
};
use candle_core::quantized::gguf_file::Content;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why a request failed. [`EngineError::is_caused_by_request`] tells the errors that are a
/// function of the request and the model alone (every node gets the same one, so retrying is
/// pointless) from those of the machine (a device failure), which another try may not meet.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
    #[error("sampling: {0}")]
    Sampling(#[from] SamplingError),
    #[error(transparent)]
    Compute(#[from] ComputeError),
    #[error("constraint: {0}")]
    Constraint(#[from] ConstraintError),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error(
        "this thread's floating-point mode is not SPEC.md §0's: it flushes denormals to zero \
         (x86-64 MXCSR FTZ/DAZ, AArch64 FPCR FZ, e.g. set by a library built with -ffast-math) \
         or rounds otherwise than to nearest (fesetround)"
    )]
    FloatModeOffSpec,
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// The prompt and the new tokens are more than the model's context (SPEC.md §7: one
    /// more than the positions a generation feeds, which never feeds its last token; the
    /// rule is part of the spec's version, so every node refuses the same requests).
    #[error(
        "prompt of {prompt} tokens plus {max_tokens} new tokens exceeds the context of {context}"
    )]
    TooLong {
        prompt: usize,
        max_tokens: u32,
        context: usize,
    },
}

impl EngineError {
    /// True when the error follows from the request and the model alone (a bad prompt, bad
    /// parameters, a non-finite value in its forward pass): every honest node meets it. False
    /// for errors of the machine — I/O, the thread pool, a failing device — which a retry may
    /// not meet.
    pub fn is_caused_by_request(&self) -> bool {
        match self {
            Self::Model(e) | Self::Device(DeviceError::Model(e)) => {
                !matches!(e, ModelError::Io { .. })
            }
            Self::Tokenizer(_)
            | Self::Sampling(_)
            | Self::Constraint(_)
            | Self::EmptyPrompt
            | Self::TooLong { .. } => true,
            Self::Compute(_) | Self::Device(_) | Self::FloatModeOffSpec => false,
        }
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Chat messages, formatted with the model's chat template and a generation prompt; the
    /// messages' text is encoded without parsing control tokens (SPEC.md §11).
    Chat(Vec<ChatMessage>),
    /// Raw text; special tokens written in it are parsed.
    Text(String),
    /// Token ids as they are.
    Tokens(Vec<u32>),
}

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub prompt: Prompt,
    pub params: SamplingParams,
    /// The request's id: keys its random stream and enters its digest.
    pub stream_id: Vec<u8>,
    /// Extra stop strings (end-of-generation tokens always stop); an empty one never matches
    /// but still enters the digest (SPEC.md §12).
    pub stop: Vec<String>,
    /// Feed the prompt in chunks of this many tokens (`None`: all at once). It never changes
    /// the result; it exists to prove that.
    pub prefill_chunk: Option<usize>,
    /// Hold the output to this schema (SPEC.md §7.1); it enters the digest.
    pub constraint: Option<Schema>,
}

impl Request {
    pub fn chat(user: &str, params: SamplingParams, stream_id: &[u8]) -> Self {
        Self {
            prompt: Prompt::Chat(vec![ChatMessage::new("user", user)]),
            params,
            stream_id: stream_id.to_vec(),
            stop: Vec::new(),
            prefill_chunk: None,
            constraint: None,
        }
    }

    /// The same request with its output held to `schema`.
    pub fn with_constraint(self, schema: Schema) -> Self {
        Self {
            constraint: Some(schema),
            ..self
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// An end-of-generation token.
    EndOfGeneration,
    /// One of the request's stop strings (its index).
    StopString(usize),
    /// `max_tokens` reached.
    Length,
    /// The constrained output is a whole serialisation of its schema.
    Complete,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub prompt_tokens: Vec<u32>,
    /// Every generated token, the stopping one included.
    pub output_tokens: Vec<u32>,
    /// The output text, without the end-of-generation token or stop string.
    pub text: String,
    pub finish: Finish,
    /// SHA-256 of SPEC.md §9 over model, prompt, parameters, stream id and output.
    pub digest: [u8; 32],
    pub timings: Timings,
}

/// Wall-clock time of a generation (not part of any digest).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    pub prefill: Duration,
    pub decode: Duration,
}

/// A loaded model with its tokenizer, on one kernel path and thread pool, or on a GPU.
pub struct Engine {
    model: LlamaModel,
    tokenizer: Tokenizer,
    compute: Compute,
    model_sha256: [u8; 32],
    /// The vocabulary's token bytes, for the masks of constrained requests.
    token_index: TokenIndex,
    /// The model on a device (a GPU, or the emulator): when present, every forward step runs
    /// there.
    device: Option<DeviceModel>,
    /// The most tokens one forward step holds: longer prompts are fed in chunks, larger
    /// batches in several steps (neither changes a bit).
    max_step_tokens: usize,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Engine({}, {:?})",
            hex::encode(self.model_sha256),
            self.compute
        )
    }
}

impl Engine {
    /// Loads a GGUF llama model from `path` for `path` kernels on `threads` threads. The file
    /// is opened once: the model id is the hash of the bytes the weights are read from.
    pub fn load(path: &Path, kernels: KernelPath, threads: usize) -> Result<Self, EngineError> {
        check_float_mode()?;
        let io = |source| ModelError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = crate::model_cache::open_regular_file(path).map_err(io)?;
        let model_sha256 = sha256_open_file(&mut file, false).map_err(io)?;
        let content = read_header(&mut std::io::BufReader::new(&file)).map_err(ModelError::Gguf)?;
        Self::build(
            &content,
            &ModelSource::new(file).map_err(io)?,
            model_sha256,
            kernels,
            threads,
        )
    }

    fn build(
        content: &Content,
        source: &ModelSource,
        model_sha256: [u8; 32],
        kernels: KernelPath,
        threads: usize,
    ) -> Result<Self, EngineError> {
        let compute = Compute::new(kernels, threads)?;
        let tokenizer = Tokenizer::from_gguf(content)?;
        let model = LlamaModel::load(content, source, &compute)?;
        if tokenizer.vocab_size() != model.config.vocab_size {
            return Err(ModelError::BadConfig(format!(
                "the tokenizer has {} tokens but token_embd.weight has {} rows",
                tokenizer.vocab_size(),
                model.config.vocab_size
            ))
            .into());
        }
        Ok(Self {
            model,
            token_index: TokenIndex::new(&tokenizer),
            tokenizer,
            compute,
            model_sha256,
            device: None,
            max_step_tokens: usize::MAX,
        })
    }

    /// Loads a GGUF llama model from `path` onto `device`: the file's matrices are kept as
    /// they are (scalar path) and uploaded; forward steps run on the device.
    pub fn load_on_device(path: &Path, device: Box<dyn Device>) -> Result<Self, EngineError> {
        let mut engine = Self::load(path, KernelPath::Scalar, 1)?;
        let model = DeviceModel::upload(&engine.model, device)?;
        engine.max_step_tokens = model.max_step_tokens();
        engine.device = Some(model);
        Ok(engine)
    }

    /// Loads a GGUF llama model from `path` onto GPU `ordinal`.
    #[cfg(feature = "cuda")]
    pub fn load_cuda(path: &Path, ordinal: usize) -> Result<Self, EngineError> {
        Self::load_on_device(path, Box::new(crate::cuda::Gpu::new(ordinal)?))
    }

    /// Loads a GGUF llama model from `path` onto the CUDA emulator: the GPU's kernels and
    /// forward pass, run on the CPU (slow; for checking them where no GPU is).
    pub fn load_cuda_emulated(path: &Path) -> Result<Self, EngineError> {
        Self::load_on_device(path, Box::new(crate::cuda::emulator::Emulator::start()?))
    }

    /// The same engine with at most `tokens` tokens in one forward step (a device engine keeps
    /// its own limit when that is lower). Results are the same bits whatever the limit.
    pub fn with_max_step_tokens(self, tokens: NonZeroUsize) -> Self {
        Self {
            max_step_tokens: self.max_step_tokens.min(tokens.get()),
            ..self
        }
    }

    /// The most tokens one forward step holds (unbounded on the CPU unless set with
    /// [`Engine::with_max_step_tokens`]; on a device, [`DeviceModel::max_step_tokens`]).
    pub fn max_step_tokens(&self) -> usize {
        self.max_step_tokens
    }

    /// The model on its device, for engines loaded with [`Engine::load_on_device`].
    pub fn device_model(&self) -> Option<&DeviceModel> {
        self.device.as_ref()
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn model(&self) -> &LlamaModel {
        &self.model
    }

    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// SHA-256 of the model file: the model's id.
    pub fn model_sha256(&self) -> [u8; 32] {
        self.model_sha256
    }

    /// The prompt's token ids; a chat prompt fails on a model without ChatML's control tokens.
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, TokenizerError> {
        Ok(match prompt {
            Prompt::Chat(messages) => self.tokenizer.encode_chat(messages, true)?,
            Prompt::Text(text) => self.tokenizer.encode(text, true),
            Prompt::Tokens(ids) => ids.clone(),
        })
    }

    pub fn generate(&self, request: &Request) -> Result<Generation, EngineError> {
        self.generate_batch(std::slice::from_ref(request))
            .pop()
            .expect("one result per request")
    }

    /// Runs every request together, one batched forward pass per step; each result is
    /// bit-identical to running that request alone, and so is each failure: a request fails
    /// only with the error it would have met alone.
    pub fn generate_batch(&self, requests: &[Request]) -> Vec<Result<Generation, EngineError>> {
        let mut results: Vec<Option<Result<Generation, EngineError>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut batch = self.batch();
        for (i, request) in requests.iter().enumerate() {
            if let Err((i, e)) = batch.admit(i, request.clone()) {
                results[i] = Some(Err(e));
            }
        }
        while !batch.is_empty() {
            for (i, result) in batch.step().ended {
                results[i] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every request ends"))
            .collect()
    }

    /// An empty running batch: requests join it at any step and leave it as soon as they end
    /// (continuous batching). Batch invariance makes each result the bits of running alone,
    /// whenever it joined and whoever ran beside it. `T` tags each request for its caller.
    pub fn batch<T>(&self) -> Batch<'_, T> {
        Batch {
            engine: self,
            running: Vec::new(),
        }
    }

    /// One forward step of every active sequence, each with its own outcome: when the batched
    /// step fails (which leaves every cache as it was), each sequence runs the step alone, so
    /// only those that fail alone fail.
    fn step_each<T>(
        &self,
        active: &mut [Running<T>],
        inputs: &[(Vec<u32>, bool)],
    ) -> Vec<Result<Option<Vec<f32>>, EngineError>> {
        match self.step(active, inputs) {
            Ok(logits) => logits.into_iter().map(Ok).collect(),
            Err(e) if active.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::debug!(error = %e, batch = active.len(), "batched step failed; running each request alone");
                active
                    .chunks_mut(1)
                    .zip(inputs.chunks(1))
                    .map(|(one, input)| {
                        self.step(one, input)
                            .map(|mut logits| logits.pop().expect("one result per item"))
                    })
                    .collect()
            }
        }
    }

    /// One forward step of every active sequence: the logits each asked for.
    fn step<T>(
        &self,
        active: &mut [Running<T>],
        inputs: &[(Vec<u32>, bool)],
    ) -> Result<Vec<Option<Vec<f32>>>, EngineError> {
        if let Some(device) = &self.device {
            let mut items: Vec<DeviceItem<'_>> = active
                .iter_mut()
                .zip(inputs)
                .map(|(r, (tokens, want_logits))| DeviceItem {
                    cache: r
                        .sequence
                        .device_cache
                        .get_or_insert_with(|| device.new_cache()),
                    tokens,
                    want_logits: *want_logits,
                })
                .collect();
            return Ok(device.forward(&mut items)?);
        }
        let mut items: Vec<BatchItem<'_>> = active
            .iter_mut()
            .zip(inputs)
            .map(|(r, (tokens, want_logits))| BatchItem {
                cache: &mut r.sequence.cache,
                tokens,
                want_logits: *want_logits,
            })
            .collect();
        Ok(self.model.forward(&self.compute, &mut items, false)?.logits)
    }

    fn start(&self, request: &Request) -> Result<Sequence, EngineError> {
        let prompt = self.prompt_tokens(&request.prompt)?;
        if prompt.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        let vocab = self.model.config.vocab_size;
        if let Some(&id) = prompt.iter().find(|&&id| id as usize >= vocab) {
            return Err(ModelError::TokenOutOfRange { id, vocab }.into());
        }
        // One more than the positions the request feeds (its last token never is): the rule
        // of SPEC.md §7, which every node must apply alike.
        let context = self.model.config.context_length;
        if prompt
            .len()
            .saturating_add(request.params.max_tokens as usize)
            > context
        {
            return Err(EngineError::TooLong {
                prompt: prompt.len(),
                max_tokens: request.params.max_tokens,
                context,
            });
        }
        let sampler = Sampler::new(request.params, &request.stream_id)?;
        let constraint = request
            .constraint
            .as_ref()
            .map(|schema| ConstrainedOutput::new(schema, request.params.max_tokens))
            .transpose()?;
        let config = &self.model.config;
        Ok(Sequence {
            cache: KvCache::new(config.layers, config.kv_width()),
            device_cache: None,
            chunk: request
                .prefill_chunk
                .unwrap_or(usize::MAX)
                .clamp(1, self.max_step_tokens),
            fed: 0,
            output: Vec::new(),
            stops: StopDetector::new(self.tokenizer.end_of_generation_ids(), &request.stop),
            sampler,
            constraint,
            max_tokens: request.params.max_tokens,
            timings: Timings::default(),
            prompt,
        })
    }
}

/// Requests generating together, each tagged with a `T` (see [`Engine::batch`]).
pub struct Batch<'e, T> {
    engine: &'e Engine,
    running: Vec<Running<T>>,
}

struct Running<T> {
    tag: T,
    request: Request,
    sequence: Sequence,
}

/// What one [`Batch::step`] did.
pub struct Round<T> {
    /// The requests that ended in this round, with their results.
    pub ended: Vec<(T, Result<Generation, EngineError>)>,
    /// Requests that ran in this round.
    pub requests: usize,
    /// Tokens sampled in this round (one per request past its prompt).
    pub sampled: usize,
}

impl<T> Batch<'_, T> {
    /// Adds `request`, which starts with the next step; when it cannot start (an empty or too
    /// long prompt, tokens the model lacks, bad parameters) its error comes back with its tag.
    pub fn admit(&mut self, tag: T, request: Request) -> Result<(), (T, EngineError)> {
        if let Err(e) = check_float_mode() {
            return Err((tag, e));
        }
        match self.engine.start(&request) {
            Ok(sequence) => {
                self.running.push(Running {
                    tag,
                    request,
                    sequence,
                });
                Ok(())
            }
            Err(e) => Err((tag, e)),
        }
    }

    /// Requests running.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Runs one round: every running request takes one step (a chunk of its prompt, or one
    /// token), in forward passes of at most the engine's `max_step_tokens`. A request that
    /// fails in a step fails alone; those that end leave the batch.
    pub fn step(&mut self) -> Round<T> {
        let requests = self.running.len();
        if check_float_mode().is_err() {
            let ended = self
                .running
                .drain(..)
                .map(|r| (r.tag, Err(EngineError::FloatModeOffSpec)))
                .collect();
            return Round {
                ended,
                requests,
                sampled: 0,
            };
        }
        let engine = self.engine;
        let inputs: Vec<(Vec<u32>, bool)> = self
            .running
            .iter()
            .map(|r| r.sequence.next_input())
            .collect();
        let mut outcomes = Vec::with_capacity(requests);
        let mut first = 0;
        for end in step_ends(&inputs, engine.max_step_tokens) {
            let step_started = Instant::now();
            let logits = engine.step_each(&mut self.running[first..end], &inputs[first..end]);
            let elapsed = step_started.elapsed();
            outcomes.extend(logits.into_iter().map(|logits| (logits, elapsed)));
            first = end;
        }
        let mut ended = Vec::new();
        let mut sampled = 0;
        let mut still = Vec::with_capacity(requests);
        for ((mut r, (tokens, _)), (logits, elapsed)) in
            self.running.drain(..).zip(&inputs).zip(outcomes)
        {
            let outcome = logits.and_then(|logits| {
                r.sequence.account(tokens.len(), elapsed);
                match logits {
                    Some(logits) => {
                        let ended = r.sequence.take_logits(
                            &logits,
                            &engine.tokenizer,
                            &engine.token_index,
                        )?;
                        sampled += 1;
                        Ok(ended)
                    }
                    None => Ok(false),
                }
            });
            match outcome {
                Ok(true) => {
                    let generation = r.sequence.finish(engine.model_sha256, &r.request);
                    ended.push((r.tag, Ok(generation)));
                }
                Ok(false) => still.push(r),
                Err(e) => ended.push((r.tag, Err(e))),
            }
        }
        self.running = still;
        Round {
            ended,
            requests,
            sampled,
        }
    }
}

/// Where the steps of one round end: runs of consecutive sequences whose inputs hold at most
/// `max_tokens` tokens together (each input holds at most that many).
fn step_ends(inputs: &[(Vec<u32>, bool)], max_tokens: usize) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut tokens = 0;
    for (i, (input, _)) in inputs.iter().enumerate() {
        if tokens > 0 && tokens + input.len() > max_tokens {
            ends.push(i);
            tokens = 0;
        }
        tokens += input.len();
    }
    ends.push(inputs.len());
    ends
}

/// Puts the calling thread in SPEC.md §0's float mode (denormals kept, rounding to nearest).
/// The engine checks the mode of the thread that calls it and refuses to run otherwise
/// ([`EngineError::FloatModeOffSpec`]) but never changes it: a thread that runs the engine for
/// its whole life (a node's engine worker) calls this once first, so that a mode inherited
/// from whatever spawned it cannot fail every request.
pub fn use_spec_float_mode() {
    crate::cpu::use_spec_float_mode();
}

/// Fails on a thread whose float mode is not the spec's (denormals dropped, rounding not to
/// nearest): the calling thread computes the RoPE tables and samples, and a silent change of
/// mode would change bits (the pool's own threads reset the mode).
fn check_float_mode() -> Result<(), EngineError> {
    if crate::cpu::float_mode_off_spec() {
        return Err(EngineError::FloatModeOffSpec);
    }
    Ok(())
}

/// One request in flight.
struct Sequence {
    prompt: Vec<u32>,
    cache: KvCache,
    /// The sequence's cache on the device (device engines only).
    device_cache: Option<DeviceCache>,
    chunk: usize,
    /// Prompt tokens fed so far.
    fed: usize,
    output: Vec<u32>,
    stops: StopDetector,
    sampler: Sampler,
    constraint: Option<ConstrainedOutput>,
    max_tokens: u32,
    timings: Timings,
}

impl Sequence {
    /// The tokens for the next step, and whether its logits are needed.
    fn next_input(&self) -> (Vec<u32>, bool) {
        if self.fed < self.prompt.len() {
            let end = (self.fed + self.chunk).min(self.prompt.len());
            (
                self.prompt[self.fed..end].to_vec(),
                end == self.prompt.len(),
            )
        } else {
            (
                vec![*self
                    .output
                    .last()
                    .expect("decoding follows a sampled token")],
                true,
            )
        }
    }

    fn account(&mut self, tokens: usize, elapsed: Duration) {
        if self.fed < self.prompt.len() {
            self.fed += tokens;
            self.timings.prefill += elapsed;
        } else {
            self.timings.decode += elapsed;
        }
    }

    /// Samples the next token; `Ok(true)` when the generation is over.
    fn take_logits(
        &mut self,
        logits: &[f32],
        tokenizer: &Tokenizer,
        index: &TokenIndex,
    ) -> Result<bool, EngineError> {
        let token = match &self.constraint {
            None => self.sampler.sample(logits)?,
            Some(constraint) => {
                let tokens_after = self.max_tokens - self.output.len() as u32 - 1;
                let allowed = constraint.allowed(index, tokens_after)?;
                self.sampler.sample_among(logits, &allowed)?
            }
        };
        self.output.push(token);
        let bytes = tokenizer.token_bytes(token)?;
        let stopped = self.stops.push(token, bytes).is_some();
        let complete = self.constraint.as_mut().is_some_and(|c| {
            c.push(bytes);
            c.is_complete()
        });
        Ok(stopped || complete || self.output.len() >= self.max_tokens as usize)
    }

    fn finish(self, model_sha256: [u8; 32], request: &Request) -> Generation {
        let finish = match self.stops.stop().map(|s| s.reason) {
            Some(StopReason::EndOfGeneration { .. }) => Finish::EndOfGeneration,
            Some(StopReason::StopString { index }) => Finish::StopString(index),
            None if self.constraint.as_ref().is_some_and(|c| c.is_complete()) => Finish::Complete,
            None => Finish::Length,
        };
        let digest = ResultRecord {
            model_sha256,
            prompt_tokens: &self.prompt,
            params: &request.params,
            stream_id: &request.stream_id,
            output_tokens: &self.output,
            constraint: request.constraint.as_ref(),
            stop: &request.stop,
        }
        .digest();
        Generation {
            text: output_text(self.stops.text()),
            prompt_tokens: self.prompt,
            output_tokens: self.output,
            finish,
            digest,
            timings: self.timings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{step_ends, Engine, EngineError, Finish, Prompt, Request};
    use crate::quant::KernelPath;
    use crate::sampling::SamplingParams;
    use crate::tiny_model::TinyModel;
    use crate::tokenizer::ChatMessage;

    /// The default tiny model (context 512) on the scalar path.
    fn tiny_engine() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        TinyModel::default().write(&path).unwrap();
        Engine::load(&path, KernelPath::Scalar, 1).unwrap()
    }

    fn tokens_request(prompt_len: usize, max_tokens: u32) -> Request {
        Request {
            // Token 97 is the byte `a` in the tiny vocabulary.
            prompt: Prompt::Tokens(vec![97; prompt_len]),
            params: SamplingParams {
                max_tokens,
                ..SamplingParams::default()
            },
            stream_id: b"context".to_vec(),
            stop: Vec::new(),
            prefill_chunk: None,
            constraint: None,
        }
    }

    /// A text prompt parses control tokens written in it (SPEC.md §11); a chat message keeps
    /// them as text; neither gets a BOS.
    #[test]
    fn a_text_prompt_parses_control_tokens_and_a_chat_message_does_not() {
        let engine = tiny_engine();
        let tokenizer = engine.tokenizer();
        let (start, end) = (
            tokenizer.token_id("<|im_start|>").unwrap(),
            tokenizer.token_id("<|im_end|>").unwrap(),
        );
        let text = "<|im_start|>a<|im_end|>";
        let ids = engine.prompt_tokens(&Prompt::Text(text.into())).unwrap();
        assert_eq!(ids, [start, 97, end]);
        let chat = engine
            .prompt_tokens(&Prompt::Chat(vec![ChatMessage::new("user", text)]))
            .unwrap();
        let count = |id| chat.iter().filter(|&&i| i == id).count();
        // The default system turn, the user turn and the generation prompt.
        assert_eq!((count(start), count(end)), (3, 2));
        assert_eq!(chat.first(), Some(&start));
    }

    /// An empty stop string never matches (SPEC.md §12) but is part of the request, so it
    /// enters the digest (§9) and keeps its place in the order stops are named by.
    #[test]
    fn empty_stop_strings_never_stop_but_enter_the_digest() {
        let engine = tiny_engine();
        let plain = engine.generate(&tokens_request(3, 4)).unwrap();
        assert_eq!(plain.finish, Finish::Length);
        let with_stops = |stop: &[&str]| {
            engine
                .generate(&Request {
                    stop: stop.iter().map(|s| s.to_string()).collect(),
                    ..tokens_request(3, 4)
                })
                .unwrap()
        };
        let mut digests = vec![plain.digest];
        for stop in [&[""][..], &["", ""]] {
            let empty = with_stops(stop);
            assert_eq!(
                (&empty.output_tokens, &empty.text, empty.finish),
                (&plain.output_tokens, &plain.text, plain.finish),
                "{stop:?}"
            );
            assert!(!digests.contains(&empty.digest), "{stop:?}");
            digests.push(empty.digest);
        }
        // The text is `aaaa`: the stop `a` at index 1 cuts it at once.
        assert_eq!(plain.text, "aaaa");
        let cut = with_stops(&["", "a"]);
        assert_eq!((cut.text.as_str(), cut.finish), ("", Finish::StopString(1)));
        assert_eq!(cut.output_tokens, plain.output_tokens[..1]);
    }

    /// The last new token is never fed back, so a request feeds `prompt + max_tokens − 1`
    /// positions; SPEC.md §7 still requires `prompt + max_tokens` to fit the context, one
    /// more, and every node must refuse alike: a full prompt gets nothing.
    #[test]
    fn a_request_fits_when_prompt_plus_max_tokens_fits_the_context() {
        let engine = tiny_engine();
        let context = engine.model().config.context_length;
        assert_eq!(context, 512);
        let first = engine.generate(&tokens_request(context - 2, 1)).unwrap();
        let two = engine.generate(&tokens_request(context - 2, 2)).unwrap();
        // The first token does not end the generation, so the second is sampled from position
        // `context - 2`: the context's last position is never fed.
        assert!(!engine
            .tokenizer()
            .end_of_generation_ids()
            .contains(&first.output_tokens[0]));
        assert_eq!(two.output_tokens[0], first.output_tokens[0]);
        assert_eq!((two.output_tokens.len(), two.finish), (2, Finish::Length));
        assert_eq!(
            engine
                .generate(&tokens_request(context - 1, 1))
                .unwrap()
                .output_tokens
                .len(),
            1
        );
        // One position more than fed is required: SPEC.md §7's rule, the same on every node.
        for (prompt, max_tokens) in [
            (context, 1),
            (context - 1, 2),
            (context + 1, 1),
            (2, u32::MAX),
        ] {
            match engine.generate(&tokens_request(prompt, max_tokens)) {
                Err(e @ EngineError::TooLong { .. }) => assert!(e.is_caused_by_request()),
                other => panic!("{prompt} + {max_tokens}: {other:?}"),
            }
        }
        // `max_tokens = 0` is refused as a sampling parameter.
        for prompt in [context, 1] {
            assert!(matches!(
                engine.generate(&tokens_request(prompt, 0)),
                Err(EngineError::Sampling(_))
            ));
        }
    }

    #[test]
    fn a_round_splits_into_steps_of_at_most_the_limit() {
        let inputs = |lens: &[usize]| -> Vec<(Vec<u32>, bool)> {
            lens.iter().map(|&n| (vec![0; n], true)).collect()
        };
        assert_eq!(step_ends(&inputs(&[3, 1, 2, 3, 1]), 3), [1, 3, 4, 5]);
        assert_eq!(step_ends(&inputs(&[1, 1, 1]), 1), [1, 2, 3]);
        assert_eq!(step_ends(&inputs(&[5, 1, 7]), usize::MAX), [3]);
    }
}
