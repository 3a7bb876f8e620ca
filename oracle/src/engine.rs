//! Loading the engine the node's configuration asks for: the model file, the kernel path and
//! the thread count (none of which can change a result's bits), with a spinner while it loads.

use crate::config::NodeConfig;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use kernels::engine::Engine;
use kernels::model_cache::resolve_model;
use kernels::quant::KernelPath;
use oracle_protocol::ModelId;
use std::path::Path;
use std::time::Duration;

/// The kernel path named in the config (`auto` picks the fastest this CPU has).
pub fn kernel_path(name: &str) -> Result<KernelPath> {
    let path = match name {
        "auto" => KernelPath::detect(),
        "scalar" => KernelPath::Scalar,
        "avx2" => KernelPath::Avx2,
        "avx512" => KernelPath::Avx512Vnni,
        other => bail!("unknown kernel path `{other}` (auto, scalar, avx2, avx512)"),
    };
    if !path.is_supported() {
        bail!("this CPU cannot run the {} kernels", path.name());
    }
    Ok(path)
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
    let explicit = config.model.as_ref().map(|p| NodeConfig::path_in(home, p));
    let path = resolve_model(explicit.as_deref())?;
    let kernels = kernel_path(&config.kernels)?;
    let threads = threads(config.threads);
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    spinner.set_message(format!(
        "loading {} ({} kernels, {threads} threads)",
        path.display(),
        kernels.name()
    ));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let engine = Engine::load(&path, kernels, threads)
        .with_context(|| format!("loading {}", path.display()))?;
    let model_id = oracle_protocol::Digest32(engine.model_sha256());
    spinner.finish_with_message(format!("loaded model {model_id}"));
    Ok((engine, model_id))
}
