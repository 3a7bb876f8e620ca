//! The GPU engine against the CPU: the golden digests (alone, batched, prompt fed in chunks)
//! and the first step's logits bit for bit. Needs the `cuda` feature and a CUDA GPU, so the
//! tests are ignored by default; `kernels/cuda/gpu-check.sh` runs them with `--ignored`.
#![cfg(feature = "cuda")]

mod golden;

use golden::{chat, model_path, requests, GOLDEN};
use kernels::device::DeviceItem;
use kernels::engine::{Engine, Request};
use kernels::model::{BatchItem, KvCache};
use kernels::quant::KernelPath;

fn gpu_engine() -> Engine {
    Engine::load_cuda(&model_path(), 0).expect("a CUDA GPU")
}

fn hex_digests(engine: &Engine, requests: &[Request]) -> Vec<String> {
    engine
        .generate_batch(requests)
        .into_iter()
        .map(|g| hex::encode(g.unwrap().digest))
        .collect()
}

#[test]
#[ignore = "needs a CUDA GPU: kernels/cuda/gpu-check.sh"]
fn gpu_digests_equal_the_cpu_goldens() {
    let engine = gpu_engine();
    let requests = requests();
    for (request, golden) in requests.iter().zip(GOLDEN) {
        let g = engine.generate(request).unwrap();
        let t = g.timings;
        println!(
            "{golden}: prompt {} tokens {:.1} tok/s, output {} tokens {:.1} tok/s",
            g.prompt_tokens.len(),
            g.prompt_tokens.len() as f64 / t.prefill.as_secs_f64(),
            g.output_tokens.len(),
            g.output_tokens.len().saturating_sub(1) as f64 / t.decode.as_secs_f64().max(1e-9),
        );
        assert_eq!(hex::encode(g.digest), golden, "alone");
    }
    assert_eq!(hex_digests(&engine, &requests), GOLDEN, "batched");
    let chunked: Vec<Request> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| Request {
            prefill_chunk: Some(1 + 4 * (i % 2)),
            ..r.clone()
        })
        .collect();
    assert_eq!(hex_digests(&engine, &chunked), GOLDEN, "chunked prefill");
}

#[test]
#[ignore = "needs a CUDA GPU: kernels/cuda/gpu-check.sh"]
fn gpu_logits_equal_cpu_logits_bitwise() {
    let gpu = gpu_engine();
    let cpu = Engine::load(&model_path(), KernelPath::detect(), 2).unwrap();
    let prompt = cpu.prompt_tokens(&chat("Name three colors.")).unwrap();
    let config = &cpu.model().config;
    let mut cache = KvCache::new(config.layers, config.kv_width());
    let mut items = [BatchItem {
        cache: &mut cache,
        tokens: &prompt,
        want_logits: true,
    }];
    let want = cpu
        .model()
        .forward(cpu.compute(), &mut items, false)
        .unwrap()
        .logits[0]
        .clone()
        .unwrap();
    let cuda = gpu.device_model().unwrap();
    let mut device_cache = cuda.new_cache();
    let got = cuda
        .forward(&mut [DeviceItem {
            cache: &mut device_cache,
            tokens: &prompt,
            want_logits: true,
        }])
        .unwrap()
        .remove(0)
        .unwrap();
    let differing = got
        .iter()
        .zip(&want)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differing, 0, "{differing} of {} logits differ", want.len());
}
