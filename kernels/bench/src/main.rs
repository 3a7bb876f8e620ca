//! `kernels-bench`: how fast is the deterministic engine of `kernels/` next to candle-transformers'
//! stock quantized llama, on the same GGUF file, the same prompt token ids, the same number of
//! greedy tokens, on the same machine, in one run?
//!
//! Run it with
//!
//! ```text
//! cargo run --release -p kernels-bench                 # default model, 1 and 2 threads, 3 runs
//! cargo run --release -p kernels-bench -- --help       # model, threads, runs, tokens, prompt
//! ```
//!
//! Every measurement (engine × thread count) runs in a child process of this binary
//! (`kernels-bench child --engine ours|candle --threads N …`) so that its peak RSS (VmHWM,
//! read by the child at its end) is its own. The child loads the model, warms up once, then
//! times `--runs` generations and reports the medians of prompt tokens/s (the prefill forward
//! pass over the whole prompt) and of generation tokens/s (every decode step after the first
//! token, which the prefill pass yields). Our engine runs first; candle is then fed exactly the
//! prompt ids our tokenizer produced and asked for exactly as many tokens as ours generated, so
//! both do the same work. candle's thread count is set with `RAYON_NUM_THREADS` (it uses rayon's
//! global pool); the variable is set for our children too, and our engine gets `--threads`.
//!
//! A benchmark prints; it asserts nothing about time. The figures are noisy on a shared machine.
//!
//! This crate exists only to produce these figures: nothing else in the workspace may depend on
//! it (it is the only user of candle-transformers).

use anyhow::{bail, ensure, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use kernels::engine::{Engine, Generation, Prompt, Request};
use kernels::model_cache::{ModelCache, DEFAULT_MODEL};
use kernels::quant::KernelPath;
use kernels::sampling::SamplingParams;
use kernels::tokenizer::ChatMessage;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The prefix of the one line a child prints on stdout with its results.
const RESULT_PREFIX: &str = "BENCH-RESULT";

/// A user message whose answer is long, so greedy decoding rarely meets end-of-generation early.
const DEFAULT_PROMPT: &str = "Write a long story about the sea.";

#[derive(Parser)]
#[command(
    name = "kernels-bench",
    about = "Compare the deterministic engine with candle-transformers' quantized llama"
)]
struct Cli {
    #[command(subcommand)]
    child: Option<Child>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// A GGUF file (default: the pinned SmolLM2-135M-Instruct Q4_1 from the model cache).
    #[arg(long, env = "AI_ORACLE_MODEL")]
    model: Option<PathBuf>,
    /// Timed runs per measurement (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// New tokens to generate (greedy); fewer if our engine meets end-of-generation first.
    #[arg(long, default_value_t = 64)]
    gen_tokens: u32,
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    threads: Vec<usize>,
    /// The user message, formatted with the chat template.
    #[arg(long, default_value = DEFAULT_PROMPT)]
    prompt: String,
}

#[derive(Subcommand)]
enum Child {
    /// Internal: one measurement, run by the parent in its own process.
    Child(ChildArgs),
}

#[derive(clap::Args)]
struct ChildArgs {
    #[arg(long, value_enum)]
    engine: EngineKind,
    #[arg(long)]
    threads: usize,
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    runs: usize,
    #[arg(long)]
    gen_tokens: u32,
    /// The prompt's token ids (from our tokenizer), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    prompt_ids: Vec<u32>,
    /// The user message (our engine formats and tokenizes it itself, and checks the ids).
    #[arg(long)]
    prompt: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineKind {
    Ours,
    Candle,
}

impl EngineKind {
    fn name(self) -> &'static str {
        match self {
            EngineKind::Ours => "ours",
            EngineKind::Candle => "candle",
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.child {
        Some(Child::Child(args)) => run_child(&args),
        None => run_parent(&cli.bench),
    }
}

// ------------------------------------------------------------------------------------------
// Parent

fn run_parent(args: &BenchArgs) -> Result<()> {
    ensure!(args.runs >= 1, "--runs must be at least 1");
    ensure!(args.gen_tokens >= 2, "--gen-tokens must be at least 2");
    ensure!(!args.threads.is_empty(), "--threads needs a thread count");
    let model = match &args.model {
        Some(path) => path.clone(),
        None => ModelCache::from_env()
            .ensure(&DEFAULT_MODEL)
            .context("the default model")?,
    };
    // Our tokenizer gives the prompt ids that both engines are fed.
    let tokenizer_engine = Engine::load(&model, KernelPath::detect(), 1)
        .with_context(|| format!("loading {}", model.display()))?;
    let prompt_ids = tokenizer_engine
        .prompt_tokens(&chat_prompt(&args.prompt))
        .context("encoding the chat prompt")?;
    let kernels = KernelPath::detect();
    eprintln!(
        "model {}\nprompt {:?}: {} tokens (chat template); up to {} new tokens, greedy; \
         {} timed runs after 1 warm-up; our kernels: {}; {} CPUs visible",
        model.display(),
        args.prompt,
        prompt_ids.len(),
        args.gen_tokens,
        args.runs,
        kernels.name(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let mut rows = Vec::new();
    // Ours first: its token count is what candle is asked for.
    for &threads in &args.threads {
        rows.push(spawn_child(
            EngineKind::Ours,
            threads,
            &model,
            args,
            args.gen_tokens,
            &prompt_ids,
        )?);
    }
    let ours_count = rows[0].tokens.len() as u32;
    if ours_count < args.gen_tokens {
        eprintln!(
            "note: our engine met end-of-generation after {ours_count} tokens; \
             candle generates exactly {ours_count} too"
        );
    }
    for &threads in &args.threads {
        rows.push(spawn_child(
            EngineKind::Candle,
            threads,
            &model,
            args,
            ours_count,
            &prompt_ids,
        )?);
    }

    println!();
    print!("{}", format_report(&rows, &args.threads));

    // Correctness, not speed: ours must give the same tokens at every thread count.
    let ours: Vec<&Measurement> = rows.iter().filter(|r| r.engine == "ours").collect();
    let same_tokens = ours.iter().all(|r| r.tokens == ours[0].tokens);
    let same_digest = ours.iter().all(|r| r.digest == ours[0].digest);
    println!();
    println!(
        "ours: greedy tokens identical at {} threads: {} ({} tokens); result digest identical: {}",
        join(&args.threads),
        yes_no(same_tokens),
        ours[0].tokens.len(),
        yes_no(same_digest),
    );
    println!("ours: result digest {}", ours[0].digest);
    let tokenizer = tokenizer_engine.tokenizer();
    let decode = |ids: &[u32]| -> Result<String> {
        Ok(String::from_utf8_lossy(&tokenizer.decode(ids)?).into_owned())
    };
    println!("ours:   {:?}", decode(&ours[0].tokens)?);
    if let Some(candle) = rows.iter().find(|r| r.engine == "candle") {
        let agree = common_prefix(&ours[0].tokens, &candle.tokens);
        println!("candle: {:?}", decode(&candle.tokens)?);
        println!(
            "candle agrees with ours on the first {agree} of {} greedy tokens \
             (different arithmetic; not expected to match bit for bit)",
            candle.tokens.len()
        );
        let candle_same = rows
            .iter()
            .filter(|r| r.engine == "candle")
            .all(|r| r.tokens == candle.tokens);
        println!(
            "candle: greedy tokens identical at {} threads: {}",
            join(&args.threads),
            yes_no(candle_same)
        );
    }
    if !(same_tokens && same_digest) {
        bail!("our engine gave different results at different thread counts");
    }
    Ok(())
}

fn chat_prompt(user: &str) -> Prompt {
    Prompt::Chat(vec![ChatMessage::new("user", user)])
}

fn spawn_child(
    engine: EngineKind,
    threads: usize,
    model: &Path,
    args: &BenchArgs,
    gen_tokens: u32,
    prompt_ids: &[u32],
) -> Result<Measurement> {
    eprintln!("measuring {} at {threads} thread(s)…", engine.name());
    let exe = std::env::current_exe().context("locating this binary")?;
    let ids: Vec<String> = prompt_ids.iter().map(u32::to_string).collect();
    let output = Command::new(exe)
        .arg("child")
        .args(["--engine", engine.name()])
        .args(["--threads", &threads.to_string()])
        .arg("--model")
        .arg(model)
        .args(["--runs", &args.runs.to_string()])
        .args(["--gen-tokens", &gen_tokens.to_string()])
        .args(["--prompt-ids", &ids.join(",")])
        .args(["--prompt", &args.prompt])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("starting a child")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "the {} child at {threads} threads failed ({}): {stdout}",
        engine.name(),
        output.status
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with(RESULT_PREFIX))
        .with_context(|| format!("no result line from the child: {stdout}"))?;
    let m = Measurement::parse(line)?;
    eprintln!(
        "  load {:.2} s, prompt {:.1} tok/s, gen {:.1} tok/s, peak RSS {}",
        m.load_s,
        m.prompt_tps,
        m.gen_tps,
        m.rss_mb()
            .map_or_else(|| "n/a".to_string(), |mb| format!("{mb:.0} MB"))
    );
    Ok(m)
}

// ------------------------------------------------------------------------------------------
// Child

/// Times of one generation: the prefill pass and the decode steps after it.
struct RunTimes {
    prefill: Duration,
    decode: Duration,
}

fn run_child(args: &ChildArgs) -> Result<()> {
    ensure!(args.runs >= 1 && args.gen_tokens >= 2);
    let (load_s, runs, tokens, digest) = match args.engine {
        EngineKind::Ours => child_ours(args)?,
        EngineKind::Candle => child_candle(args)?,
    };
    let prompt_tps: Vec<f64> = runs
        .iter()
        .map(|r| args.prompt_ids.len() as f64 / r.prefill.as_secs_f64())
        .collect();
    // The prefill pass yields the first token; each later token is one decode step.
    let decode_steps = tokens.len().saturating_sub(1) as f64;
    let gen_tps: Vec<f64> = runs
        .iter()
        .map(|r| decode_steps / r.decode.as_secs_f64())
        .collect();
    let m = Measurement {
        engine: args.engine.name().to_string(),
        threads: args.threads,
        load_s,
        prompt_tps: median(&prompt_tps).expect("at least one run"),
        gen_tps: median(&gen_tps).expect("at least one run"),
        rss_kb: peak_rss_kb(),
        tokens,
        digest,
    };
    println!("{}", m.to_line());
    Ok(())
}

type ChildResult = (f64, Vec<RunTimes>, Vec<u32>, String);

fn child_ours(args: &ChildArgs) -> Result<ChildResult> {
    let started = Instant::now();
    let engine = Engine::load(&args.model, KernelPath::detect(), args.threads)?;
    let load_s = started.elapsed().as_secs_f64();
    let request = Request {
        prompt: chat_prompt(&args.prompt),
        params: SamplingParams {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            max_tokens: args.gen_tokens,
            seed: 0,
        },
        stream_id: b"kernels-bench".to_vec(),
        stop: Vec::new(),
        prefill_chunk: None,
        constraint: None,
    };
    let warm_up = engine.generate(&request)?;
    ensure!(
        warm_up.prompt_tokens == args.prompt_ids,
        "our engine tokenized the prompt differently in the child"
    );
    ensure!(
        warm_up.output_tokens.len() >= 2,
        "our engine stopped after {} token(s): no decode step to time",
        warm_up.output_tokens.len()
    );
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let g: Generation = engine.generate(&request)?;
        ensure!(
            g.output_tokens == warm_up.output_tokens && g.digest == warm_up.digest,
            "our engine gave a different result on a repeated run"
        );
        runs.push(RunTimes {
            prefill: g.timings.prefill,
            decode: g.timings.decode,
        });
    }
    Ok((
        load_s,
        runs,
        warm_up.output_tokens,
        hex::encode(warm_up.digest),
    ))
}

fn child_candle(args: &ChildArgs) -> Result<ChildResult> {
    use candle_core::quantized::gguf_file;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;

    let device = Device::Cpu;
    let started = Instant::now();
    let mut file = std::fs::File::open(&args.model)
        .with_context(|| format!("opening {}", args.model.display()))?;
    let content = gguf_file::Content::read(&mut file)?;
    let mut model = ModelWeights::from_gguf(content, &mut file, &device)?;
    let load_s = started.elapsed().as_secs_f64();
    eprintln!(
        "  candle: {} rayon threads",
        candle_core::utils::get_num_threads()
    );

    // One greedy generation of exactly `gen_tokens` tokens (end-of-generation is not a stop).
    let mut generate = || -> Result<(RunTimes, Vec<u32>)> {
        model.clear_kv_cache();
        let prompt = &args.prompt_ids;
        let started = Instant::now();
        let input = Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?;
        let logits: Vec<f32> = model.forward(&input, 0)?.squeeze(0)?.to_vec1()?;
        let prefill = started.elapsed();
        let mut tokens = vec![argmax(&logits)];
        let mut decode = Duration::ZERO;
        while tokens.len() < args.gen_tokens as usize {
            let position = prompt.len() + tokens.len() - 1;
            let last = *tokens.last().expect("a token");
            let started = Instant::now();
            let input = Tensor::new(&[last], &device)?.unsqueeze(0)?;
            let logits: Vec<f32> = model.forward(&input, position)?.squeeze(0)?.to_vec1()?;
            decode += started.elapsed();
            tokens.push(argmax(&logits));
        }
        Ok((RunTimes { prefill, decode }, tokens))
    };
    let (_, first) = generate()?;
    let mut runs = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let (times, tokens) = generate()?;
        if tokens != first {
            eprintln!("  candle: a repeated run gave different tokens");
        }
        runs.push(times);
    }
    Ok((load_s, runs, first, "-".to_string()))
}

/// The first index of the largest value (greedy choice; ties go to the lowest id).
fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Peak resident set size of this process, in kB (Linux: VmHWM in /proc/self/status).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

// ------------------------------------------------------------------------------------------
// Pure parts: results, medians, the report

/// One engine at one thread count, as a child reports it.
#[derive(Debug, Clone, PartialEq)]
struct Measurement {
    engine: String,
    threads: usize,
    load_s: f64,
    /// Median prompt tokens per second.
    prompt_tps: f64,
    /// Median generated tokens per second.
    gen_tps: f64,
    rss_kb: Option<u64>,
    /// The greedy tokens generated.
    tokens: Vec<u32>,
    /// Our result digest (hex), or `-`.
    digest: String,
}

impl Measurement {
    fn rss_mb(&self) -> Option<f64> {
        self.rss_kb.map(|kb| kb as f64 / 1024.0)
    }

    fn to_line(&self) -> String {
        let tokens: Vec<String> = self.tokens.iter().map(u32::to_string).collect();
        format!(
            "{RESULT_PREFIX} engine={} threads={} load_s={} prompt_tps={} gen_tps={} rss_kb={} \
             tokens={} digest={}",
            self.engine,
            self.threads,
            self.load_s,
            self.prompt_tps,
            self.gen_tps,
            self.rss_kb
                .map_or_else(|| "-".to_string(), |kb| kb.to_string()),
            tokens.join(","),
            self.digest,
        )
    }

    fn parse(line: &str) -> Result<Self> {
        let rest = line
            .strip_prefix(RESULT_PREFIX)
            .context("not a result line")?;
        let fields: BTreeMap<&str, &str> = rest
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let get = |key: &str| {
            fields
                .get(key)
                .copied()
                .with_context(|| format!("result line without `{key}`: {line}"))
        };
        let tokens = get("tokens")?;
        Ok(Self {
            engine: get("engine")?.to_string(),
            threads: get("threads")?.parse()?,
            load_s: get("load_s")?.parse()?,
            prompt_tps: get("prompt_tps")?.parse()?,
            gen_tps: get("gen_tps")?.parse()?,
            rss_kb: match get("rss_kb")? {
                "-" => None,
                kb => Some(kb.parse()?),
            },
            tokens: if tokens.is_empty() {
                Vec::new()
            } else {
                tokens
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            },
            digest: get("digest")?.to_string(),
        })
    }
}

/// The median (the mean of the middle two for an even count); `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// `a / b` written as `1.23x`, or `n/a` when either is missing or `b` is not positive.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() && b.is_finite() => {
            format!("{:.2}x", a / b)
        }
        _ => "n/a".to_string(),
    }
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.decimals$}"))
}

/// llama.cpp on this model, measured elsewhere (not in this run): model-facts.md, llama-cpp-python
/// 0.3.36 native build, a 2-core AVX-512 machine, 42-token chat prompt, greedy, medians.
/// (threads, prompt tok/s, gen tok/s, peak RSS MB)
const LLAMA_CPP_REFERENCE: [(usize, f64, f64, f64); 2] =
    [(1, 128.0, 46.0, 190.0), (2, 193.0, 73.0, 190.0)];

/// candle-transformers 0.11.1 quantized_llama as measured elsewhere (model-facts.md), to judge
/// this run's noise. (threads, prompt tok/s, gen tok/s, peak RSS MB)
const CANDLE_REFERENCE: [(usize, f64, f64, f64); 2] =
    [(1, 10.0, 9.0, 240.0), (2, 22.0, 18.0, 240.0)];

fn format_report(rows: &[Measurement], threads: &[usize]) -> String {
    let mut out = String::new();
    let find = |engine: &str, t: usize| rows.iter().find(|r| r.engine == engine && r.threads == t);

    let _ = writeln!(
        out,
        "Measured in this run (medians of the timed runs):\n\
         {:<8} {:>7} {:>13} {:>10} {:>12} {:>7}",
        "engine", "threads", "prompt tok/s", "gen tok/s", "peak RSS MB", "load s"
    );
    for &t in threads {
        for engine in ["ours", "candle"] {
            if let Some(r) = find(engine, t) {
                let _ = writeln!(
                    out,
                    "{:<8} {:>7} {:>13.1} {:>10.1} {:>12} {:>7.2}",
                    r.engine,
                    r.threads,
                    r.prompt_tps,
                    r.gen_tps,
                    opt(r.rss_mb(), 0),
                    r.load_s
                );
            }
        }
    }

    let _ = writeln!(
        out,
        "\nours / candle (speed: above 1 means ours is faster; RSS: below 1 means ours is smaller):\n\
         {:<7} {:>13} {:>10} {:>12}",
        "threads", "prompt tok/s", "gen tok/s", "peak RSS"
    );
    for &t in threads {
        let (ours, candle) = (find("ours", t), find("candle", t));
        let _ = writeln!(
            out,
            "{:<7} {:>13} {:>10} {:>12}",
            t,
            ratio(ours.map(|r| r.prompt_tps), candle.map(|r| r.prompt_tps)),
            ratio(ours.map(|r| r.gen_tps), candle.map(|r| r.gen_tps)),
            ratio(
                ours.and_then(Measurement::rss_mb),
                candle.and_then(Measurement::rss_mb)
            ),
        );
    }

    let _ = writeln!(
        out,
        "\nReference figures MEASURED ELSEWHERE, not in this run (shared/notes/model-facts.md: \
         same model, a 2-core AVX-512 machine):\n\
         {:<26} {:>7} {:>13} {:>10} {:>12}",
        "engine", "threads", "prompt tok/s", "gen tok/s", "peak RSS MB"
    );
    for (name, table) in [
        ("llama.cpp (py 0.3.36)", &LLAMA_CPP_REFERENCE),
        ("candle 0.11.1 (elsewhere)", &CANDLE_REFERENCE),
    ] {
        for &(t, prompt, gen, rss) in table.iter() {
            let _ = writeln!(
                out,
                "{:<26} {:>7} {:>13.0} {:>10.0} {:>12.0}",
                name, t, prompt, gen, rss
            );
        }
    }
    let _ = writeln!(
        out,
        "\nours (this run) / llama.cpp (elsewhere):\n{:<7} {:>13} {:>10} {:>12}",
        "threads", "prompt tok/s", "gen tok/s", "peak RSS"
    );
    for &t in threads {
        let ours = find("ours", t);
        let reference = LLAMA_CPP_REFERENCE.iter().find(|r| r.0 == t);
        let _ = writeln!(
            out,
            "{:<7} {:>13} {:>10} {:>12}",
            t,
            ratio(ours.map(|r| r.prompt_tps), reference.map(|r| r.1)),
            ratio(ours.map(|r| r.gen_tps), reference.map(|r| r.2)),
            ratio(ours.and_then(Measurement::rss_mb), reference.map(|r| r.3)),
        );
    }
    out
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn join(values: &[usize]) -> String {
    let s: Vec<String> = values.iter().map(usize::to_string).collect();
    s.join(" and ")
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "NO"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, threads: usize, prompt: f64, gen: f64, rss_kb: u64) -> Measurement {
        Measurement {
            engine: engine.to_string(),
            threads,
            load_s: 0.5,
            prompt_tps: prompt,
            gen_tps: gen,
            rss_kb: Some(rss_kb),
            tokens: vec![1, 2, 3],
            digest: "ab".to_string(),
        }
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(Some(30.0), Some(10.0)), "3.00x");
        assert_eq!(ratio(Some(1.0), Some(0.0)), "n/a");
        assert_eq!(ratio(None, Some(1.0)), "n/a");
    }

    #[test]
    fn result_line_round_trips() {
        let m = row("ours", 2, 123.456, 45.5, 200 * 1024);
        assert_eq!(Measurement::parse(&m.to_line()).unwrap(), m);
        let no_rss = Measurement {
            rss_kb: None,
            tokens: vec![],
            ..m
        };
        assert_eq!(Measurement::parse(&no_rss.to_line()).unwrap(), no_rss);
        assert!(Measurement::parse("BENCH-RESULT engine=ours").is_err());
    }

    #[test]
    fn vm_hwm_is_parsed() {
        let status = "Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(204800));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn argmax_takes_the_first_largest() {
        assert_eq!(argmax(&[0.0, 2.0, 1.0, 2.0]), 1);
    }

    #[test]
    fn report_has_rows_and_ratios() {
        let rows = [
            row("ours", 1, 100.0, 40.0, 150 * 1024),
            row("candle", 1, 10.0, 8.0, 300 * 1024),
        ];
        let report = format_report(&rows, &[1]);
        assert!(report.contains("ours"), "{report}");
        assert!(report.contains("candle"), "{report}");
        // ours / candle: prompt 10x, gen 5x, RSS 0.5x.
        let ratio_line = report
            .lines()
            .skip_while(|l| !l.starts_with("ours / candle"))
            .nth(2)
            .unwrap();
        assert_eq!(
            ratio_line.split_whitespace().collect::<Vec<_>>(),
            ["1", "10.00x", "5.00x", "0.50x"]
        );
        assert!(report.contains("MEASURED ELSEWHERE"));
        // ours / llama.cpp at 1 thread: 100/128, 40/46, 150/190.
        assert!(report.contains("0.78x") && report.contains("0.87x") && report.contains("0.79x"));
    }
}
