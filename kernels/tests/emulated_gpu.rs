//! The GPU forward pass without a GPU: the CUDA kernels (`kernels/cuda/`) and the host code that
//! drives them (`kernels::device`) run under the CPU emulator, through the whole engine, on tiny
//! models. Digests and logits must equal the CPU engine's bit for bit — alone, batched and with
//! chunked prefill. (Every format's kernels are checked one by one in the crate's unit tests;
//! here, the default model's formats with a tied output head, and K-quants with a separate one.)
//! Needs a C++ compiler (g++ or $CXX).

mod golden;

use candle_core::quantized::GgmlDType;
use kernels::cuda::emulator::Emulator;
use kernels::device::{self, Arg, Buffer, Device, DeviceItem, LaunchConfig};
use kernels::engine::{Engine, Prompt, Request};
use kernels::model::{BatchItem, KvCache};
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use kernels::tiny_model::TinyModel;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn write(dir: &Path, model: TinyModel) -> PathBuf {
    let path = dir.join(format!("{:?}-{:?}.gguf", model.weights, model.embedding));
    model.write(&path).unwrap();
    path
}

fn request(text: &str, seed: u64, temperature: f32) -> Request {
    Request {
        prompt: Prompt::Text(text.into()),
        params: SamplingParams {
            temperature,
            top_k: 50,
            top_p: 0.95,
            max_tokens: 4,
            seed,
        },
        stream_id: text.as_bytes().to_vec(),
        stop: Vec::new(),
        prefill_chunk: None,
        constraint: None,
    }
}

fn digests(engine: &Engine, requests: &[Request]) -> Vec<String> {
    engine
        .generate_batch(requests)
        .into_iter()
        .map(|g| hex::encode(g.unwrap().digest))
        .collect()
}

/// The emulated GPU engine gives the CPU engine's digests for a tiny model with `weights` and
/// `embedding` (and a separate output head when `separate_output`): each request alone,
/// batched, and with chunked prefill.
fn assert_emulated_gpu_gives_the_cpu_digests(
    weights: GgmlDType,
    embedding: GgmlDType,
    separate_output: bool,
) {
    let dir = tempfile::tempdir().unwrap();
    let requests = [
        request("the cat", 1, 0.9),
        request("is he there", 2, 0.0),
        request("hi", 3, 1.3),
    ];
    let path = write(
        dir.path(),
        TinyModel {
            weights,
            embedding,
            separate_output,
            ..TinyModel::default()
        },
    );
    let cpu = Engine::load(&path, KernelPath::Scalar, 1).unwrap();
    let gpu = Engine::load_cuda_emulated(&path).unwrap();
    let want = digests(&cpu, &requests);
    let alone: Vec<String> = requests
        .iter()
        .map(|r| hex::encode(gpu.generate(r).unwrap().digest))
        .collect();
    assert_eq!(alone, want, "{weights:?}/{embedding:?} alone");
    assert_eq!(digests(&gpu, &requests), want, "{weights:?} batched");
    let chunked: Vec<Request> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| Request {
            prefill_chunk: Some(1 + 2 * i),
            ..r.clone()
        })
        .collect();
    assert_eq!(digests(&gpu, &chunked), want, "{weights:?} chunked prefill");
}

// One test per format group, so that the test harness runs them side by side.

/// The default model's formats: Q4_1 weights, a Q8_0 embedding tied to the output head.
#[test]
fn emulated_gpu_engine_gives_the_cpu_digests_for_q4_1_with_a_tied_head() {
    assert_emulated_gpu_gives_the_cpu_digests(GgmlDType::Q4_1, GgmlDType::Q8_0, false);
}

/// K-quants: Q4_K weights, a Q6_K embedding, a separate output head.
#[test]
fn emulated_gpu_engine_gives_the_cpu_digests_for_k_quants_with_a_separate_head() {
    assert_emulated_gpu_gives_the_cpu_digests(GgmlDType::Q4K, GgmlDType::Q6K, true);
}

/// The emulator, recording the most tokens a step embeds.
struct StepRecorder {
    emulator: Emulator,
    most_tokens: Arc<AtomicUsize>,
}

impl StepRecorder {
    fn start() -> (Self, Arc<AtomicUsize>) {
        let most_tokens = Arc::new(AtomicUsize::new(0));
        let device = Self {
            emulator: Emulator::start().unwrap(),
            most_tokens: most_tokens.clone(),
        };
        (device, most_tokens)
    }
}

impl Device for StepRecorder {
    fn name(&self) -> &str {
        self.emulator.name()
    }
    fn alloc_zeros(&self, len: usize) -> device::Result<Buffer> {
        self.emulator.alloc_zeros(len)
    }
    fn alloc(&self, len: usize) -> device::Result<Buffer> {
        self.emulator.alloc(len)
    }
    fn upload(&self, bytes: &[u8]) -> device::Result<Buffer> {
        self.emulator.upload(bytes)
    }
    fn download(&self, buffer: &Buffer, range: Range<usize>) -> device::Result<Vec<u8>> {
        self.emulator.download(buffer, range)
    }
    fn copy(
        &self,
        src: &Buffer,
        src_range: Range<usize>,
        dst: &Buffer,
        dst_at: usize,
    ) -> device::Result<()> {
        self.emulator.copy(src, src_range, dst, dst_at)
    }
    fn launch(&self, kernel: &str, config: LaunchConfig, args: &[Arg<'_>]) -> device::Result<()> {
        // A step's first launch embeds its tokens: `embed_*(weights, ids, out, count, cols)`.
        if let (true, Some(Arg::I32(count))) = (kernel.starts_with("embed_"), args.get(3)) {
            self.most_tokens
                .fetch_max(*count as usize, Ordering::Relaxed);
        }
        self.emulator.launch(kernel, config, args)
    }
}

#[test]
fn a_step_token_limit_splits_prompts_and_batches_with_the_same_digests() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), TinyModel::default());
    let requests = [
        request("the cat is here", 1, 0.9),
        request("is he there", 2, 0.0),
        request("hi", 3, 1.3),
    ];
    let want = digests(
        &Engine::load(&path, KernelPath::Scalar, 1).unwrap(),
        &requests,
    );
    let limit = |tokens| NonZeroUsize::new(tokens).unwrap();
    let gpu = Engine::load_cuda_emulated(&path).unwrap();
    // The device's own limit: a step's widest launch fits the kernels' int thread indices.
    let c = &gpu.model().config;
    let widest = 32
        * [c.embedding, c.kv_width(), c.feed_forward, c.vocab_size]
            .into_iter()
            .max()
            .unwrap();
    let most = gpu.max_step_tokens();
    assert_eq!(most, gpu.device_model().unwrap().max_step_tokens());
    // … with room left for the last stride of a full grid.
    let room = i32::MAX as usize - device::MAX_STRIDE;
    assert!(most * widest <= room && (most + 1) * widest > room);
    assert_eq!(
        gpu.with_max_step_tokens(limit(usize::MAX))
            .max_step_tokens(),
        most
    );
    // Steps of 3 tokens: each prompt in chunks, the batch's sequences in several steps.
    let (device, most_tokens) = StepRecorder::start();
    let gpu = Engine::load_on_device(&path, Box::new(device))
        .unwrap()
        .with_max_step_tokens(limit(3));
    assert_eq!(gpu.max_step_tokens(), 3);
    assert_eq!(digests(&gpu, &requests), want, "device, 3 tokens a step");
    assert_eq!(most_tokens.load(Ordering::Relaxed), 3);
    for tokens in [1, 4] {
        let cpu = Engine::load(&path, KernelPath::Scalar, 1)
            .unwrap()
            .with_max_step_tokens(limit(tokens));
        assert_eq!(
            digests(&cpu, &requests),
            want,
            "cpu, {tokens} tokens a step"
        );
    }
}

#[test]
fn emulated_gpu_logits_equal_cpu_logits_bitwise_over_two_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), TinyModel::default());
    let cpu = Engine::load(&path, KernelPath::Scalar, 1).unwrap();
    let gpu = Engine::load_cuda_emulated(&path).unwrap();
    let config = &cpu.model().config;
    let mut cache = KvCache::new(config.layers, config.kv_width());
    let device = gpu.device_model().unwrap();
    let mut device_cache = device.new_cache();
    // A prompt, then one more token over the cache.
    for tokens in [&[5u32, 17, 200, 3, 99][..], &[42]] {
        let want = cpu
            .model()
            .forward(
                cpu.compute(),
                &mut [BatchItem {
                    cache: &mut cache,
                    tokens,
                    want_logits: true,
                }],
                false,
            )
            .unwrap()
            .logits
            .remove(0)
            .unwrap();
        let got = device
            .forward(&mut [DeviceItem {
                cache: &mut device_cache,
                tokens,
                want_logits: true,
            }])
            .unwrap()
            .remove(0)
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "after {} positions", cache.len());
    }
    assert_eq!(device_cache.len(), 6);
}

#[test]
fn bad_tokens_on_the_emulated_gpu_are_errors_that_keep_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), TinyModel::default());
    let gpu = Engine::load_cuda_emulated(&path).unwrap();
    let device = gpu.device_model().unwrap();
    let mut cache = device.new_cache();
    let vocab = gpu.model().config.vocab_size as u32;
    let err = device
        .forward(&mut [DeviceItem {
            cache: &mut cache,
            tokens: &[1, vocab],
            want_logits: true,
        }])
        .unwrap_err();
    assert!(err.to_string().contains("outside the vocabulary"), "{err}");
    assert!(cache.is_empty());
}

/// The pinned model through the emulated GPU gives the committed golden digest (raw prompt,
/// sampled, 12 tokens). Minutes per token under the emulator, so not in the default run:
/// `cargo test --release -p kernels --test emulated_gpu -- --ignored` (about 10 minutes).
#[test]
#[ignore = "the real model under the emulator takes about 10 minutes"]
fn the_pinned_model_on_the_emulated_gpu_gives_the_golden_digest() {
    let gpu = Engine::load_cuda_emulated(&golden::model_path()).unwrap();
    let request = &golden::requests()[2];
    assert!(
        matches!(request.prompt, Prompt::Text(_)),
        "the short raw prompt"
    );
    let got = gpu.generate(request).unwrap();
    assert_eq!(hex::encode(got.digest), golden::GOLDEN[2]);
}
