//! Every supported weight format through the whole engine on tiny generated llama models, and
//! clear errors (never panics) for files that are not what they claim.

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use kernels::engine::{Engine, EngineError, Prompt, Request};
use kernels::model::{ModelError, MAX_CONTEXT};
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use kernels::tiny_model::{TinyModel, EMBEDDING};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, model: TinyModel) -> PathBuf {
    let path = dir.join(name);
    model.write(&path).unwrap();
    path
}

fn request(text: &str, seed: u64) -> Request {
    Request {
        prompt: Prompt::Text(text.into()),
        params: SamplingParams {
            temperature: 0.9,
            top_k: 50,
            top_p: 0.95,
            max_tokens: 6,
            seed,
        },
        stream_id: text.as_bytes().to_vec(),
        stop: Vec::new(),
        prefill_chunk: None,
        constraint: None,
    }
}

#[test]
fn every_weight_format_runs_with_identical_bits_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let formats = [
        (GgmlDType::Q4_0, GgmlDType::Q8_0),
        (GgmlDType::Q4_1, GgmlDType::Q8_0),
        (GgmlDType::Q8_0, GgmlDType::Q4_0),
        (GgmlDType::Q4K, GgmlDType::Q6K),
        (GgmlDType::Q6K, GgmlDType::Q4K),
        (GgmlDType::F16, GgmlDType::F16),
        (GgmlDType::F32, GgmlDType::F32),
    ];
    let requests = [request("the cat is here", 1), request("hello there", 2)];
    for (weights, embedding) in formats {
        let path = write(
            dir.path(),
            &format!("{weights:?}.gguf"),
            TinyModel {
                weights,
                embedding,
                separate_output: weights == GgmlDType::Q4K,
                ..TinyModel::default()
            },
        );
        let mut reference: Option<Vec<[u8; 32]>> = None;
        for path_kind in KernelPath::to_compare() {
            for threads in [1, 3] {
                let engine = Engine::load(&path, path_kind, threads).unwrap();
                let alone: Vec<[u8; 32]> = requests
                    .iter()
                    .map(|r| engine.generate(r).unwrap().digest)
                    .collect();
                let batched: Vec<[u8; 32]> = engine
                    .generate_batch(&requests)
                    .into_iter()
                    .map(|g| g.unwrap().digest)
                    .collect();
                assert_eq!(alone, batched, "{weights:?} {path_kind:?} {threads}");
                match &reference {
                    None => reference = Some(alone),
                    Some(r) => assert_eq!(&alone, r, "{weights:?} {path_kind:?} {threads}"),
                }
            }
        }
    }
}

fn load_error(path: &Path) -> EngineError {
    let result = std::panic::catch_unwind(|| Engine::load(path, KernelPath::detect(), 1));
    match result {
        Ok(Ok(_)) => panic!("{} loaded", path.display()),
        Ok(Err(e)) => e,
        Err(_) => panic!("loading {} panicked", path.display()),
    }
}

#[test]
fn truncated_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "tiny.gguf", TinyModel::default());
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 10, 100, 5_000, bytes.len() / 2, bytes.len() - 1] {
        let truncated = dir.path().join(format!("cut-{cut}.gguf"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let err = load_error(&truncated);
        assert!(
            matches!(
                err,
                EngineError::Model(ModelError::Gguf(_) | ModelError::TensorOutOfBounds { .. })
                    | EngineError::Tokenizer(_)
            ),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "tiny.gguf", TinyModel::default());
    let bytes = std::fs::read(&path).unwrap();
    let mut state = 7u64;
    for round in 0..40 {
        let mut corrupted = bytes.clone();
        for _ in 0..4 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            // Mostly in the header, where lengths and counts live.
            let at = (state >> 33) as usize % 4096.min(corrupted.len());
            corrupted[at] ^= (state >> 20) as u8 | 1;
        }
        let file = dir.path().join(format!("corrupt-{round}.gguf"));
        std::fs::write(&file, &corrupted).unwrap();
        let outcome = std::panic::catch_unwind(|| Engine::load(&file, KernelPath::detect(), 1));
        assert!(outcome.is_ok(), "round {round} panicked");
    }
}

#[test]
fn another_architecture_or_a_missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "tiny.gguf", TinyModel::default());
    let bytes = std::fs::read(&path).unwrap();
    // "llama" → "gpt2x" in the architecture value (same length keeps the layout).
    let swapped = replace_once(&bytes, b"llama\x0c", b"gpt2x\x0c");
    let other_arch = dir.path().join("arch.gguf");
    std::fs::write(&other_arch, swapped).unwrap();
    match load_error(&other_arch) {
        EngineError::Model(ModelError::UnsupportedArchitecture(arch)) => assert_eq!(arch, "gpt2x"),
        other => panic!("{other}"),
    }
    // Renaming a tensor makes it missing.
    let renamed = replace_once(&bytes, b"blk.1.ffn_up.weight", b"blk.1.ffn_XX.weight");
    let missing = dir.path().join("missing.gguf");
    std::fs::write(&missing, renamed).unwrap();
    match load_error(&missing) {
        EngineError::Model(ModelError::MissingTensor(name)) => {
            assert_eq!(name, "blk.1.ffn_up.weight")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn an_unsupported_tensor_type_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "q5.gguf",
        TinyModel {
            weights: GgmlDType::Q5_0,
            ..TinyModel::default()
        },
    );
    match load_error(&path) {
        EngineError::Model(ModelError::UnsupportedTensorType { name, dtype }) => {
            assert!(name.starts_with("blk.0."), "{name}");
            assert!(dtype.contains("Q5"), "{dtype}");
        }
        other => panic!("{other}"),
    }
}

type Tensors = Vec<(String, QTensor)>;

/// The tiny model rewritten with its metadata and tensors edited by `edit`.
fn rewritten(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut HashMap<String, Value>, &mut Tensors),
) -> PathBuf {
    let source = write(dir, &format!("{name}-source.gguf"), TinyModel::default());
    let mut file = std::fs::File::open(&source).unwrap();
    let mut content = Content::read(&mut file).unwrap();
    let mut tensors: Tensors = content
        .tensor_infos
        .keys()
        .map(|n| {
            (
                n.clone(),
                content.tensor(&mut file, n, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    edit(&mut content.metadata, &mut tensors);
    let metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let path = dir.join(name);
    gguf_file::write(
        &mut std::fs::File::create(&path).unwrap(),
        &metadata,
        &tensors,
    )
    .unwrap();
    path
}

#[test]
fn hostile_headers_are_typed_errors_not_aborts() {
    let dir = tempfile::tempdir().unwrap();
    // A block count far beyond the tensors present.
    let blocks = rewritten(dir.path(), "blocks.gguf", |m, _| {
        m.insert("llama.block_count".into(), Value::U32(u32::MAX));
    });
    match load_error(&blocks) {
        EngineError::Model(ModelError::MissingTensor(name)) => {
            assert_eq!(name, "blk.2.attn_norm.weight")
        }
        other => panic!("{other}"),
    }
    // An alignment of zero (the parser would divide by it).
    let unaligned = rewritten(dir.path(), "alignment.gguf", |m, _| {
        m.insert("general.alignment".into(), Value::U32(0));
    });
    assert!(
        matches!(
            load_error(&unaligned),
            EngineError::Model(ModelError::Gguf(_))
        ),
        "alignment 0"
    );
    // An alignment of another type than u32: the parser would fall back to 32 and shift every
    // tensor.
    let wide = rewritten(dir.path(), "wide-alignment.gguf", |m, _| {
        m.insert("general.alignment".into(), Value::U64(64));
    });
    match load_error(&wide) {
        EngineError::Model(ModelError::Gguf(reason)) => {
            assert!(reason.contains("must be a u32"), "{reason}")
        }
        other => panic!("{other}"),
    }
    // A vocabulary size that is not a number.
    let vocab = rewritten(dir.path(), "vocab.gguf", |m, _| {
        m.insert("llama.vocab_size".into(), Value::String("many".into()));
    });
    match load_error(&vocab) {
        EngineError::Model(ModelError::BadMetadata { key, .. }) => {
            assert_eq!(key, "llama.vocab_size")
        }
        other => panic!("{other}"),
    }
    // A long metadata array the parser would turn into 32-byte values, one per byte.
    let junk = rewritten(dir.path(), "junk.gguf", |m, _| {
        m.insert(
            "general.junk".into(),
            Value::Array(vec![Value::U8(7); 70_000]),
        );
    });
    match load_error(&junk) {
        EngineError::Model(ModelError::Gguf(reason)) => {
            assert!(reason.contains("general.junk"), "{reason}")
        }
        other => panic!("{other}"),
    }
    // An embedding of 2^62 rows: its byte size overflows.
    let path = write(dir.path(), "huge.gguf", TinyModel::default());
    let vocab = 256 + 4 + 3; // byte tokens, merges, specials
    let shape = |rows: u64| {
        let mut bytes = b"token_embd.weight".to_vec();
        bytes.extend(2u32.to_le_bytes());
        bytes.extend((EMBEDDING as u64).to_le_bytes());
        bytes.extend(rows.to_le_bytes());
        bytes
    };
    let huge = replace_once(
        &std::fs::read(&path).unwrap(),
        &shape(vocab),
        &shape(1 << 62),
    );
    std::fs::write(&path, huge).unwrap();
    match load_error(&path) {
        EngineError::Model(ModelError::TensorOutOfBounds { name, reason }) => {
            assert_eq!(name, "token_embd.weight");
            assert!(reason.contains("overflows"), "{reason}");
        }
        other => panic!("{other}"),
    }
}

/// Where the offset of 2-D tensor `name` lies in the GGUF header at `bytes`: after the name,
/// its dimension count, two dimensions and its type.
fn offset_field(bytes: &[u8], name: &str) -> std::ops::Range<usize> {
    let at = bytes
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("tensor named in the header");
    let start = at + name.len() + 4 + 2 * 8 + 4;
    start..start + 8
}

#[test]
fn tensors_sharing_bytes_are_refused_before_any_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "tiny.gguf", TinyModel::default());
    let mut bytes = std::fs::read(&path).unwrap();
    // blk.1.attn_q points at blk.0.attn_q's bytes: a hostile file could alias one blob
    // thousands of times and have each copy read into memory.
    let first = offset_field(&bytes, "blk.0.attn_q.weight");
    let second = offset_field(&bytes, "blk.1.attn_q.weight");
    let offset = bytes[first].to_vec();
    bytes[second].copy_from_slice(&offset);
    std::fs::write(&path, bytes).unwrap();
    match load_error(&path) {
        EngineError::Model(ModelError::OverlappingTensors { first, second }) => {
            let mut names = [first, second];
            names.sort();
            assert_eq!(names, ["blk.0.attn_q.weight", "blk.1.attn_q.weight"]);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn llama_variants_computed_differently_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let head_dim = EMBEDDING / 4;
    let refused =
        |name: &str, edit: &dyn Fn(&mut HashMap<String, Value>, &mut Tensors)| match load_error(
            &rewritten(dir.path(), name, edit),
        ) {
            EngineError::Model(ModelError::UnsupportedFeature(what)) => what,
            other => panic!("{name}: {other}"),
        };
    let what = refused("freqs.gguf", &|_, tensors| {
        let factors = Tensor::ones(head_dim / 2, DType::F32, &Device::Cpu).unwrap();
        let factors = QTensor::quantize(&factors, GgmlDType::F32).unwrap();
        tensors.push(("rope_freqs.weight".into(), factors));
    });
    assert!(what.contains("rope_freqs.weight"), "{what}");
    let what = refused("scaling.gguf", &|m, _| {
        m.insert(
            "llama.rope.scaling.type".into(),
            Value::String("linear".into()),
        );
        m.insert("llama.rope.scaling.factor".into(), Value::F32(8.0));
    });
    assert!(what.contains("llama.rope.scaling."), "{what}");
    // A tensor the engine would ignore: the file's model is not the one computed.
    let what = refused("bias.gguf", &|_, tensors| {
        let bias = Tensor::zeros(EMBEDDING, DType::F32, &Device::Cpu).unwrap();
        let bias = QTensor::quantize(&bias, GgmlDType::F32).unwrap();
        tensors.push(("blk.0.attn_q.bias".into(), bias));
    });
    assert!(what.contains("blk.0.attn_q.bias"), "{what}");
    // A mixture of experts, refused as such rather than for a missing dense tensor.
    let what = refused("experts.gguf", &|m, _| {
        m.insert("llama.expert_count".into(), Value::U32(8));
        m.insert("llama.expert_used_count".into(), Value::U32(2));
    });
    assert!(what.contains("llama.expert_count"), "{what}");
    for key in [
        "llama.rope.dimension_count",
        "llama.attention.key_length",
        "llama.attention.value_length",
    ] {
        let what = refused("sizes.gguf", &|m, _| {
            m.insert(key.into(), Value::U32(head_dim as u32 / 2));
        });
        assert!(what.contains(key), "{what}");
    }
    // The same settings at their neutral values load.
    let neutral = rewritten(dir.path(), "neutral.gguf", |m, _| {
        m.insert(
            "llama.rope.scaling.type".into(),
            Value::String("none".into()),
        );
        m.insert("llama.rope.scaling.factor".into(), Value::F32(1.0));
        m.insert(
            "llama.rope.dimension_count".into(),
            Value::U32(head_dim as u32),
        );
        m.insert(
            "llama.attention.key_length".into(),
            Value::U32(head_dim as u32),
        );
    });
    Engine::load(&neutral, KernelPath::Scalar, 1).unwrap();
}

#[test]
fn a_tokenizer_of_another_size_than_the_embedding_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = rewritten(dir.path(), "vocab.gguf", |m, _| {
        let push = |m: &mut HashMap<String, Value>, key: &str, value: Value| match m.get_mut(key) {
            Some(Value::Array(items)) => items.push(value),
            other => panic!("{key}: {other:?}"),
        };
        push(
            m,
            "tokenizer.ggml.tokens",
            Value::String("<|extra|>".into()),
        );
        push(m, "tokenizer.ggml.token_type", Value::I32(1));
    });
    match load_error(&path) {
        EngineError::Model(ModelError::BadConfig(reason)) => {
            assert!(reason.contains("264 tokens"), "{reason}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn zero_sized_layers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for key in ["llama.feed_forward_length", "llama.embedding_length"] {
        let path = rewritten(dir.path(), "zero.gguf", |m, _| {
            m.insert(key.into(), Value::U32(0));
        });
        match load_error(&path) {
            EngineError::Model(ModelError::BadConfig(reason)) => {
                assert!(reason.contains("must be positive"), "{key}: {reason}")
            }
            other => panic!("{key}: {other}"),
        }
    }
}

#[test]
fn a_context_beyond_the_rope_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = rewritten(dir.path(), "context.gguf", |m, _| {
        m.insert(
            "llama.context_length".into(),
            Value::U32(MAX_CONTEXT as u32 + 1),
        );
    });
    match load_error(&path) {
        EngineError::Model(ModelError::BadConfig(reason)) => {
            assert!(reason.contains("context length"), "{reason}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn stop_strings_enter_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::load(
        &write(dir.path(), "tiny.gguf", TinyModel::default()),
        KernelPath::Scalar,
        1,
    )
    .unwrap();
    let plain = request("the cat", 3);
    let never = Request {
        stop: vec!["\u{1}never\u{2}".into()],
        ..plain.clone()
    };
    let (a, b) = (
        engine.generate(&plain).unwrap(),
        engine.generate(&never).unwrap(),
    );
    assert_eq!(a.output_tokens, b.output_tokens);
    assert_ne!(a.digest, b.digest);
}

fn replace_once(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = haystack
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = haystack.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}
