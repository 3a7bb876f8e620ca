//! `cargo xtask gpu-bundle`: everything the on-GPU check (kernels/cuda/gpu-check.sh) needs on a
//! machine that has a GPU but no Rust, prepared here in the ignored folder `.gpu/`:
//! release builds with `--features cuda` of `detinfer` and the `cuda_engine` test binary, tiny
//! models in every weight format, and the pinned model split into two parts, one per device
//! call, each call under the transfer limit. It prints the two device calls to make.

use crate::model_split::{split_file, split_point, Part};
use crate::{cargo_command, fetch_model, step};
use anyhow::{bail, Context, Result};
use candle_core::quantized::GgmlDType;
use e2e_tests::layout::workspace_root;
use kernels::model_cache::DEFAULT_MODEL;
use kernels::tiny_model::TinyModel;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one device call may carry, working tree included (the tool's limit is 64 MiB; the rest
/// is a margin for files added between bundling and calling).
const CALL_LIMIT: u64 = 60 << 20;
/// The formats of the tiny models: (matrices, embedding); the embedding is the tied output head
/// except where a separate output matrix is written (Q4_K), so every product and embedding
/// kernel runs. The same set as kernels/tests/tiny_model.rs.
const TINY_FORMATS: [(GgmlDType, GgmlDType); 7] = [
    (GgmlDType::Q4_0, GgmlDType::Q8_0),
    (GgmlDType::Q4_1, GgmlDType::Q8_0),
    (GgmlDType::Q8_0, GgmlDType::Q4_0),
    (GgmlDType::Q4K, GgmlDType::Q6K),
    (GgmlDType::Q6K, GgmlDType::Q4K),
    (GgmlDType::F16, GgmlDType::F16),
    (GgmlDType::F32, GgmlDType::F32),
];

/// The folder, relative to the workspace root, and what the two calls carry from it.
const DIR: &str = ".gpu";
const FIRST_CALL_CARRY: [&str; 4] = [
    ".gpu/bin",
    ".gpu/tiny",
    ".gpu/model.part1",
    ".gpu/manifest.txt",
];
const SECOND_CALL_CARRY: [&str; 2] = [".gpu/model.part2", ".gpu/manifest.txt"];

pub fn run() -> Result<()> {
    let root = workspace_root();
    let dir = root.join(DIR);
    std::fs::create_dir_all(dir.join("bin"))?;

    step("build detinfer and the cuda_engine test (release, --features cuda)");
    let detinfer = build_executable(
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "kernels",
            "--features",
            "cuda",
            "--bin",
            "detinfer",
        ],
        "detinfer",
    )?;
    let cuda_engine = build_executable(
        &[
            "test",
            "--release",
            "--locked",
            "-p",
            "kernels",
            "--features",
            "cuda",
            "--test",
            "cuda_engine",
            "--no-run",
        ],
        "cuda_engine",
    )?;
    for (built, name) in [(&detinfer, "detinfer"), (&cuda_engine, "cuda_engine")] {
        copy_stripped(built, &dir.join("bin").join(name))?;
    }

    step("write the tiny models");
    let tiny = dir.join("tiny");
    if tiny.exists() {
        std::fs::remove_dir_all(&tiny)?;
    }
    std::fs::create_dir_all(&tiny)?;
    for (weights, embedding) in TINY_FORMATS {
        let model = TinyModel {
            weights,
            embedding,
            separate_output: weights == GgmlDType::Q4K,
            ..TinyModel::default()
        };
        let path = tiny.join(format!("{weights:?}-{embedding:?}.gguf").to_lowercase());
        model
            .write(&path)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    step("split the pinned model");
    let model = fetch_model()?;
    let manifest_room = 1 << 10;
    let tree = working_tree_bytes(&root)?;
    let first_extra = tree + dir_bytes(&dir.join("bin"))? + dir_bytes(&tiny)? + manifest_room;
    let second_extra = tree + manifest_room;
    let cut = split_point(DEFAULT_MODEL.size, first_extra, second_extra, CALL_LIMIT)?;
    let (one, two) = split_file(
        &model,
        cut,
        &dir.join("model.part1"),
        &dir.join("model.part2"),
    )?;
    let manifest = manifest(&root, &one, &two)?;
    std::fs::write(dir.join("manifest.txt"), &manifest)?;

    let first = first_extra - manifest_room + manifest.len() as u64 + one.len;
    let second = second_extra - manifest_room + manifest.len() as u64 + two.len;
    println!("\n{manifest}");
    println!("working tree that travels with every call: {}", mib(tree));
    println!(
        "call 1 carries {} in all, call 2 {} (limit 64 MiB)\n",
        mib(first),
        mib(second)
    );
    println!("Make these two device calls back to back (the second within the machine's 30 s");
    println!("warm period after the first; read the first one's output afterwards):");
    print_call(1, "stage1", &FIRST_CALL_CARRY, 240);
    print_call(2, "stage2", &SECOND_CALL_CARRY, 480);
    Ok(())
}

fn print_call(n: u32, stage: &str, carry: &[&str], timeout_s: u32) {
    let carry: Vec<String> = carry.iter().map(|c| format!("\"{c}\"")).collect();
    println!(
        "  {n}. run(command=\"bash kernels/cuda/gpu-check.sh {stage}\", carry=[{}], timeout_s={timeout_s})",
        carry.join(", ")
    );
}

/// Runs cargo with JSON messages and returns the executable of the target called `name`.
fn build_executable(args: &[&str], name: &str) -> Result<PathBuf> {
    let output = cargo_command()
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .context("starting cargo")?;
    if !output.status.success() {
        bail!("cargo {} failed ({})", args.join(" "), output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo {} named no executable `{name}`", args.join(" ")))
}

/// Copies `from` to `to` and strips its debug information there when `strip` is installed.
fn copy_stripped(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    match Command::new("strip").arg("--strip-debug").arg(to).status() {
        Ok(status) if status.success() => {}
        Ok(status) => bail!("strip {} failed ({status})", to.display()),
        Err(e) => eprintln!("not stripping {} (no `strip`: {e})", to.display()),
    }
    Ok(())
}

/// Bytes of what a device call sends besides the carried paths: git's tracked and untracked,
/// not ignored files, and `shared/` if the checkout has one.
fn working_tree_bytes(root: &Path) -> Result<u64> {
    let output = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .context("running git ls-files")?;
    if !output.status.success() {
        bail!("git ls-files failed ({})", output.status);
    }
    let mut total = 0;
    for path in output.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = root.join(String::from_utf8_lossy(path).as_ref());
        // A deleted but still tracked file sends nothing.
        total += std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
    }
    let shared = root.join("shared");
    if shared.is_dir() {
        total += dir_bytes(&shared)?;
    }
    Ok(total)
}

fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// `key=value` lines that gpu-check.sh reads: the pinned model and both parts' hashes.
fn manifest(root: &Path, one: &Part, two: &Part) -> Result<String> {
    let commit = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(root)
        .output()
        .context("running git describe")?;
    Ok(format!(
        "commit={}\nmodel_file={}\nmodel_size={}\nmodel_sha256={}\npart1_size={}\npart1_sha256={}\npart2_size={}\npart2_sha256={}\n",
        String::from_utf8_lossy(&commit.stdout).trim(),
        DEFAULT_MODEL.file_name,
        DEFAULT_MODEL.size,
        DEFAULT_MODEL.sha256,
        one.len,
        one.sha256,
        two.len,
        two.sha256,
    ))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}
