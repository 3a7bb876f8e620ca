//! `detinfer`: run a prompt through the deterministic engine and print the text, the result
//! digest and the speed.

use anyhow::{bail, Context, Result};
use clap::Parser;
use kernels::constrain::Schema;
use kernels::engine::{Engine, Prompt, Request};
use kernels::model_cache::resolve_model;
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use kernels::tokenizer::ChatMessage;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "detinfer",
    version,
    about = "Deterministic LLM inference on a GGUF model"
)]
struct Args {
    /// The prompt: a user message for the chat template, or raw text with --raw.
    prompt: String,
    /// A GGUF file (default: the pinned SmolLM2-135M-Instruct Q4_1, fetched if needed).
    #[arg(long, env = "AI_ORACLE_MODEL")]
    model: Option<PathBuf>,
    /// Send the prompt as raw text instead of a chat message.
    #[arg(long)]
    raw: bool,
    #[arg(long, default_value_t = 64)]
    max_tokens: u32,
    /// 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    #[arg(long, default_value_t = 0)]
    top_k: u32,
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The request id that keys the random stream and enters the digest.
    #[arg(long, default_value = "detinfer")]
    request_id: String,
    /// Stop strings (repeatable).
    #[arg(long)]
    stop: Vec<String>,
    /// Hold the output to a JSON schema (the supported subset): a file, or the schema itself
    /// written inline (starting with `{`).
    #[arg(long, value_name = "FILE_OR_JSON")]
    json_schema: Option<String>,
    #[arg(long, default_value_t = default_threads(),
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    threads: usize,
    /// auto, scalar, avx2 or avx512 (CPU only).
    #[arg(long, default_value = "auto")]
    kernels: String,
    /// cpu; cuda / cuda:N for GPU N (builds with the `cuda` feature); or cuda-emu: the CUDA
    /// kernels under the CPU emulator (slow; checks them where no GPU is; needs g++).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Run the request this many times in one process and report the last run's speed (the
    /// earlier runs warm up); every run's digest must be the same.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Also print the prompt's and the output's token ids (to compare with other engines).
    #[arg(long)]
    print_token_ids: bool,
}

/// Loads the engine on the device `--device` names; returns it with a description.
fn load(args: &Args, path: &std::path::Path, kernels: KernelPath) -> Result<(Engine, String)> {
    if args.device == "cpu" {
        let engine = Engine::load(path, kernels, args.threads)?;
        return Ok((
            engine,
            format!("{} kernels, {} threads", kernels.name(), args.threads),
        ));
    }
    if args.device == "cuda-emu" {
        let engine = Engine::load_cuda_emulated(path)?;
        return Ok((engine, "the CUDA emulator".to_string()));
    }
    let Some(ordinal) = args.device.strip_prefix("cuda") else {
        bail!(
            "unknown device `{}` (cpu, cuda, cuda:N, cuda-emu)",
            args.device
        );
    };
    let ordinal: usize = match ordinal.strip_prefix(':') {
        Some(n) => n.parse().context("the GPU number after cuda:")?,
        None if ordinal.is_empty() => 0,
        None => bail!(
            "unknown device `{}` (cpu, cuda, cuda:N, cuda-emu)",
            args.device
        ),
    };
    cuda_engine(path, ordinal)
}

#[cfg(feature = "cuda")]
fn cuda_engine(path: &std::path::Path, ordinal: usize) -> Result<(Engine, String)> {
    let engine = Engine::load_cuda(path, ordinal)?;
    let name = engine
        .device_model()
        .map(|m| m.device().name().to_string())
        .unwrap_or_default();
    Ok((engine, format!("CUDA GPU {ordinal}: {name}")))
}

#[cfg(not(feature = "cuda"))]
fn cuda_engine(_: &std::path::Path, _: usize) -> Result<(Engine, String)> {
    bail!("this detinfer was built without the CUDA backend (cargo build --features cuda)")
}

fn join_ids(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Reads `--json-schema`: inline JSON if it starts with `{`, else a file.
fn read_schema(arg: &str) -> Result<Schema> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("reading the schema {arg}"))?
    };
    let value = serde_json::from_str(&text).context("the schema is not JSON")?;
    Ok(Schema::from_json_schema(&value)?)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let constraint = args.json_schema.as_deref().map(read_schema).transpose()?;
    // Checked before the model is read: a bad flag costs no load.
    let params = SamplingParams {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        max_tokens: args.max_tokens,
        seed: args.seed,
    };
    params.validate()?;
    let kernels = match args.kernels.as_str() {
        "auto" => KernelPath::detect(),
        "scalar" => KernelPath::Scalar,
        "avx2" => KernelPath::Avx2,
        "avx512" => KernelPath::Avx512Vnni,
        other => bail!("unknown kernel path `{other}` (auto, scalar, avx2, avx512)"),
    };
    let path = resolve_model(args.model.as_deref())?;
    let started = Instant::now();
    let (engine, on) =
        load(&args, &path, kernels).with_context(|| format!("loading {}", path.display()))?;
    eprintln!(
        "loaded {} in {:.2} s ({on})",
        path.display(),
        started.elapsed().as_secs_f64(),
    );
    let request = Request {
        prompt: if args.raw {
            Prompt::Text(args.prompt)
        } else {
            Prompt::Chat(vec![ChatMessage::new("user", args.prompt)])
        },
        params,
        stream_id: args.request_id.into_bytes(),
        stop: args.stop,
        prefill_chunk: None,
        constraint,
    };
    let mut generation = engine.generate(&request)?;
    for run in 2..=args.runs {
        let again = engine.generate(&request)?;
        if again.digest != generation.digest {
            bail!(
                "run {run} gave digest {}, the run before {}",
                hex::encode(again.digest),
                hex::encode(generation.digest)
            );
        }
        generation = again;
    }
    let t = generation.timings;
    println!("{}", generation.text);
    println!("---");
    println!("digest:  {}", hex::encode(generation.digest));
    println!("model:   {}", hex::encode(engine.model_sha256()));
    println!("finish:  {:?}", generation.finish);
    println!(
        "prompt:  {} tokens in {:.3} s ({:.1} tok/s)",
        generation.prompt_tokens.len(),
        t.prefill.as_secs_f64(),
        generation.prompt_tokens.len() as f64 / t.prefill.as_secs_f64()
    );
    println!(
        "output:  {} tokens in {:.3} s ({:.1} tok/s)",
        generation.output_tokens.len(),
        t.decode.as_secs_f64(),
        generation.output_tokens.len().saturating_sub(1) as f64 / t.decode.as_secs_f64().max(1e-9)
    );
    if args.runs > 1 {
        println!(
            "runs:    {} (one digest; the speed is the last run's)",
            args.runs
        );
    }
    if args.print_token_ids {
        println!("prompt ids: {}", join_ids(&generation.prompt_tokens));
        println!("output ids: {}", join_ids(&generation.output_tokens));
    }
    Ok(())
}
