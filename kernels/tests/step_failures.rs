//! A request that fails inside a forward step fails alone: its batch-mates get the bits they
//! would have got alone, on the CPU and on the emulated GPU, and a failed step leaves every KV
//! cache exactly as it was, so the next step continues as if it had never run.
//! (The emulated GPU needs a C++ compiler, g++ or $CXX.)

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::GgmlDType;
use kernels::device::{DeviceError, DeviceItem};
use kernels::engine::{Engine, EngineError, Generation, Prompt, Request};
use kernels::model::{BatchItem, KvCache, ModelError};
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use kernels::tiny_model::{TinyModel, EMBEDDING};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The byte token `Z`, whose embedding row is poisoned with infinities.
const POISONED: u32 = b'Z' as u32;

/// A tiny model with an f32 embedding whose row [`POISONED`] is infinite. With a separate
/// output head only prompts holding that token fail; with the head tied to the embedding,
/// every step that asks for logits fails too, after the whole forward pass.
fn poisoned_model(dir: &Path, separate_output: bool) -> PathBuf {
    let path = dir.join(format!("poisoned-{separate_output}.gguf"));
    TinyModel {
        embedding: GgmlDType::F32,
        separate_output,
        ..TinyModel::default()
    }
    .write(&path)
    .unwrap();
    let content = Content::read(&mut std::fs::File::open(&path).unwrap()).unwrap();
    let info = &content.tensor_infos["token_embd.weight"];
    let row = content.tensor_data_offset + info.offset + (POISONED as usize * EMBEDDING * 4) as u64;
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(row)).unwrap();
    let infinities: Vec<u8> = (0..EMBEDDING)
        .flat_map(|_| f32::INFINITY.to_le_bytes())
        .collect();
    file.write_all(&infinities).unwrap();
    path
}

fn request(prompt: Prompt, seed: u64, prefill_chunk: Option<usize>) -> Request {
    Request {
        prompt,
        params: SamplingParams {
            temperature: 0.9,
            top_k: 50,
            top_p: 0.95,
            max_tokens: 4,
            seed,
        },
        stream_id: seed.to_le_bytes().to_vec(),
        stop: Vec::new(),
        prefill_chunk,
        constraint: None,
    }
}

fn is_non_finite(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Model(ModelError::NonFinite(_))
            | EngineError::Device(DeviceError::Model(ModelError::NonFinite(_)))
    )
}

/// Batches of good and failing requests: each good one equals its run alone, each bad one gets
/// the error it gets alone.
fn assert_failures_stay_with_their_request(engine: &Engine) {
    let good = [
        request(Prompt::Text("the cat is here".into()), 1, None),
        request(Prompt::Text("he is".into()), 2, Some(2)),
    ];
    // The poisoned token comes after a few chunks, so it fails mid-prefill, once its
    // batch-mates have cached several steps.
    let poisoned = request(Prompt::Tokens(vec![5, 17, 200, 3, POISONED]), 3, Some(2));
    let vocab = engine.model().config.vocab_size as u32;
    let out_of_vocab = request(Prompt::Tokens(vec![5, vocab]), 4, None);

    let alone: Vec<Generation> = good.iter().map(|r| engine.generate(r).unwrap()).collect();
    let err = engine.generate(&poisoned).unwrap_err();
    assert!(is_non_finite(&err), "{err}");
    assert!(err.is_caused_by_request());

    let batch = [
        good[0].clone(),
        poisoned.clone(),
        out_of_vocab,
        good[1].clone(),
    ];
    let results = engine.generate_batch(&batch);
    assert_eq!(results[0].as_ref().unwrap(), &strip(&alone[0], &results[0]));
    assert_eq!(results[3].as_ref().unwrap(), &strip(&alone[1], &results[3]));
    let err = results[1].as_ref().unwrap_err();
    assert!(is_non_finite(err), "{err}");
    match results[2].as_ref().unwrap_err() {
        EngineError::Model(ModelError::TokenOutOfRange { id, .. }) => assert_eq!(*id, vocab),
        other => panic!("{other}"),
    }
    assert!(results[2].as_ref().unwrap_err().is_caused_by_request());
}

/// `alone` with the timings of `batched` (wall-clock times are no part of the result).
fn strip(alone: &Generation, batched: &Result<Generation, EngineError>) -> Generation {
    Generation {
        timings: batched.as_ref().unwrap().timings,
        ..alone.clone()
    }
}

#[test]
fn a_failing_request_does_not_fail_its_batch_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let path = poisoned_model(dir.path(), true);
    for (kernels, threads) in [(KernelPath::Scalar, 1), (KernelPath::detect(), 2)] {
        assert_failures_stay_with_their_request(&Engine::load(&path, kernels, threads).unwrap());
    }
}

#[test]
fn a_failing_request_does_not_fail_its_batch_on_the_emulated_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let path = poisoned_model(dir.path(), true);
    assert_failures_stay_with_their_request(&Engine::load_cuda_emulated(&path).unwrap());
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn a_failed_step_leaves_the_cpu_cache_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    // Tied head: asking for logits fails after every layer has pushed its keys and values.
    let engine = Engine::load(&poisoned_model(dir.path(), false), KernelPath::Scalar, 1).unwrap();
    let config = &engine.model().config;
    let step = |cache: &mut KvCache, tokens: &[u32], want_logits| {
        engine
            .model()
            .forward(
                engine.compute(),
                &mut [BatchItem {
                    cache,
                    tokens,
                    want_logits,
                }],
                false,
            )
            .map(|_| ())
    };
    let mut cache = KvCache::new(config.layers, config.kv_width());
    step(&mut cache, &[5, 17, 200], false).unwrap();
    let before = format!("{cache:?}");
    let err = step(&mut cache, &[3, 99], true).unwrap_err();
    assert!(matches!(err, ModelError::NonFinite("logits")), "{err}");
    assert_eq!(cache.len(), 3);
    assert_eq!(format!("{cache:?}"), before);
    step(&mut cache, &[3, 99], false).unwrap();
    let mut fresh = KvCache::new(config.layers, config.kv_width());
    step(&mut fresh, &[5, 17, 200, 3, 99], false).unwrap();
    assert_eq!(format!("{cache:?}"), format!("{fresh:?}"));
}

#[test]
fn a_failed_step_leaves_the_device_cache_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = poisoned_model(dir.path(), true);
    let gpu = Engine::load_cuda_emulated(&path).unwrap();
    let device = gpu.device_model().unwrap();
    let step = |cache: &mut kernels::device::DeviceCache, tokens: &[u32]| {
        device
            .forward(&mut [DeviceItem {
                cache,
                tokens,
                want_logits: true,
            }])
            .map(|mut logits| logits.remove(0).unwrap())
    };
    let mut cache = device.new_cache();
    step(&mut cache, &[5, 17, 200]).unwrap();
    let err = step(&mut cache, &[3, POISONED]).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    assert_eq!(cache.len(), 3);
    let retried = step(&mut cache, &[3, 99]).unwrap();
    let mut fresh = device.new_cache();
    let want = step(&mut fresh, &[5, 17, 200, 3, 99]).unwrap();
    assert_eq!(bits(&retried), bits(&want));
    assert_eq!(cache.len(), 5);
}
