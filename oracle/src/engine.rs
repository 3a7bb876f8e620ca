//! Loading the engine the node's configuration asks for: the model file, the kernels (a CPU
//! path or a GPU) and the thread count (none of which can change a result's bits), with a
//! spinner while it loads.

use crate::config::NodeConfig;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kernels::engine::Engine;
use kernels::model_cache::resolve_model;
use kernels::quant::KernelPath;
use oracle_protocol::ModelId;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

/// The most tokens one forward step of the CPU engine holds: a batch of long prompts is fed
/// over several steps (the same bits, SPEC.md), so one step's activations stay bounded —
/// `tokens × (4 × embedding + 2 × feed_forward)` f32, about 44 MB for SmolLM2 — however many
/// prompts of whatever length `max_batch` lets in. The KV caches still grow with every
/// request's prompt and output.
const CPU_MAX_STEP_TOKENS: NonZeroUsize = NonZeroUsize::new(2048).expect("not zero");

/// What runs the engine, as the config's `kernels` names it. Every choice gives the same bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineDevice {
    /// CPU kernels; `None` (`auto`) picks the fastest this CPU has.
    Cpu(Option<KernelPath>),
    /// The CUDA kernels on GPU `ordinal` (`cuda`, `cuda:N`), in a node built with the `cuda`
    /// feature.
    Cuda { ordinal: usize },
}

impl EngineDevice {
    /// Reads a `kernels` value: `auto`, `scalar`, `avx2`, `avx512`, `cuda` or `cuda:N`.
    pub fn from_name(name: &str) -> Result<Self, String> {
        Ok(match name {
            "auto" => Self::Cpu(None),
            "scalar" => Self::Cpu(Some(KernelPath::Scalar)),
            "avx2" => Self::Cpu(Some(KernelPath::Avx2)),
            "avx512" => Self::Cpu(Some(KernelPath::Avx512Vnni)),
            "cuda" => Self::Cuda { ordinal: 0 },
            other => match other.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(ordinal)) => Self::Cuda { ordinal },
                _ => {
                    return Err(format!(
                        "unknown kernels `{other}`: use auto, scalar, avx2, avx512, cuda or cuda:N"
                    ))
                }
            },
        })
    }
}

/// The CPU kernel path to run: the one asked for, if this CPU has it, or the fastest.
fn cpu_kernels(asked: Option<KernelPath>) -> Result<KernelPath> {
    let path = asked.unwrap_or_else(KernelPath::detect);
    if !path.is_supported() {
        bail!("this CPU cannot run the {} kernels", path.name());
    }
    Ok(path)
}

#[cfg(feature = "cuda")]
fn load_cuda(path: &Path, ordinal: usize) -> Result<Engine> {
    Ok(Engine::load_cuda(path, ordinal)?)
}

#[cfg(not(feature = "cuda"))]
fn load_cuda(_path: &Path, ordinal: usize) -> Result<Engine> {
    bail!(
        "kernels = \"cuda:{ordinal}\" needs an oracle-node built with CUDA \
         (cargo build --release -p oracle --features cuda)"
    )
}

/// Threads to use: the configured number, or every core for 0.
pub fn threads(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Loads the configured model (the default one when none is set) as the config says.
pub fn load(home: &Path, config: &NodeConfig) -> Result<(Engine, ModelId)> {
    let explicit = config
        .model
        .as_ref()
        .map(|p| NodeConfig::path_in(home, p))
        .transpose()?;
    let path = resolve_model(explicit.as_deref())?;
    let device = EngineDevice::from_name(&config.kernels).map_err(anyhow::Error::msg)?;
    // The spinner shows only on a terminal; a log file gets this line.
    tracing::info!(model = %path.display(), kernels = %config.kernels, "loading the model");
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let engine = match device {
        EngineDevice::Cpu(asked) => {
            let kernels = cpu_kernels(asked)?;
            let threads = threads(config.threads);
            spinner.set_message(format!(
                "loading {} ({} kernels, {threads} threads)",
                path.display(),
                kernels.name()
            ));
            Engine::load(&path, kernels, threads)
                .map(|engine| engine.with_max_step_tokens(CPU_MAX_STEP_TOKENS))
                .map_err(anyhow::Error::from)
        }
        EngineDevice::Cuda { ordinal } => {
            spinner.set_message(format!("loading {} onto GPU {ordinal}", path.display()));
            load_cuda(&path, ordinal)
        }
    }
    .with_context(|| format!("loading {}", path.display()))?;
    let model_id = oracle_protocol::Digest32(engine.model_sha256());
    spinner.finish_with_message(format!("loaded model {model_id}"));
    Ok((engine, model_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_are_read() {
        assert_eq!(EngineDevice::from_name("auto"), Ok(EngineDevice::Cpu(None)));
        assert_eq!(
            EngineDevice::from_name("avx512"),
            Ok(EngineDevice::Cpu(Some(KernelPath::Avx512Vnni)))
        );
        assert_eq!(
            EngineDevice::from_name("cuda"),
            Ok(EngineDevice::Cuda { ordinal: 0 })
        );
        assert_eq!(
            EngineDevice::from_name("cuda:3"),
            Ok(EngineDevice::Cuda { ordinal: 3 })
        );
        for bad in ["gpu", "cuda:", "cuda:x", "AVX2"] {
            let error = EngineDevice::from_name(bad).unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_cpu_build_says_how_to_get_cuda() {
        let error = load_cuda(Path::new("model.gguf"), 1)
            .unwrap_err()
            .to_string();
        assert!(error.contains("--features cuda"), "{error}");
    }
}
