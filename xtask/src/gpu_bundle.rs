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
use kernels::model_cache::{sha256_file, PinnedFile, DEFAULT_MODEL};
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
    // The manifest is what makes a bundle: gone until every file is in place, so a bundle
    // that fails part-way is never taken for a complete one.
    remove_manifest(&dir)?;

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
    let model = fetch_model()?;
    let bundle = assemble(&Inputs {
        dir: &dir,
        binaries: &[(&detinfer, "detinfer"), (&cuda_engine, "cuda_engine")],
        model: &model,
        pinned: &DEFAULT_MODEL,
        tree: working_tree_bytes(&root)?,
        commit: &commit(&root)?,
    })?;

    println!("\n{}", bundle.manifest);
    println!(
        "working tree that travels with every call: {}",
        mib(bundle.tree)
    );
    println!(
        "call 1 carries {} in all, call 2 {} (limit 64 MiB)\n",
        mib(bundle.first),
        mib(bundle.second)
    );
    println!("Make these two device calls back to back (the second within the machine's 30 s");
    println!("warm period after the first; read the first one's output afterwards):");
    print_call(1, "stage1", &FIRST_CALL_CARRY, 240);
    print_call(2, "stage2", &SECOND_CALL_CARRY, 480);
    Ok(())
}

/// What goes into a bundle.
struct Inputs<'a> {
    /// The bundle's folder (`.gpu/`).
    dir: &'a Path,
    /// Built executables and their names in `bin/`.
    binaries: &'a [(&'a Path, &'a str)],
    /// The pinned model's file, and its pin.
    model: &'a Path,
    pinned: &'a PinnedFile,
    /// Bytes of the working tree that travels with every call.
    tree: u64,
    commit: &'a str,
}

/// A complete bundle: its manifest and what each call carries.
struct Bundle {
    manifest: String,
    tree: u64,
    first: u64,
    second: u64,
}

/// Room left in the size estimates for the manifest, which is written last.
const MANIFEST_ROOM: u64 = 4 << 10;

/// Writes the bundle into `inputs.dir`: binaries, tiny models, the model's two parts, and then,
/// last, `manifest.txt` with every file's SHA-256. Each file is written beside its place and
/// renamed into it; the manifest is removed first, so a bundle that fails on the way has none
/// (gpu-check.sh refuses to run without one, and checks every file against it).
fn assemble(inputs: &Inputs) -> Result<Bundle> {
    let dir = inputs.dir;
    remove_manifest(dir)?;
    std::fs::create_dir_all(dir.join("bin"))
        .with_context(|| format!("creating {}", dir.join("bin").display()))?;
    for (built, name) in inputs.binaries {
        copy_stripped(built, &dir.join("bin").join(name))?;
    }

    step("write the tiny models");
    let tiny = dir.join("tiny");
    if tiny.exists() {
        std::fs::remove_dir_all(&tiny).with_context(|| format!("removing {}", tiny.display()))?;
    }
    std::fs::create_dir_all(&tiny).with_context(|| format!("creating {}", tiny.display()))?;
    for (weights, embedding) in TINY_FORMATS {
        let model = TinyModel {
            weights,
            embedding,
            separate_output: weights == GgmlDType::Q4K,
            ..TinyModel::default()
        };
        let path = tiny.join(format!("{weights:?}-{embedding:?}.gguf").to_lowercase());
        let partial = partial_of(&path);
        model
            .write(&partial)
            .with_context(|| format!("writing {}", partial.display()))?;
        rename(&partial, &path)?;
    }

    step("split the pinned model");
    let first_extra =
        inputs.tree + dir_bytes(&dir.join("bin"))? + dir_bytes(&tiny)? + MANIFEST_ROOM;
    let second_extra = inputs.tree + MANIFEST_ROOM;
    let cut = split_point(inputs.pinned.size, first_extra, second_extra, CALL_LIMIT)?;
    let (one, two) = split_file(
        inputs.model,
        cut,
        &dir.join("model.part1"),
        &dir.join("model.part2"),
    )?;

    let manifest = manifest(dir, inputs, &one, &two)?;
    if manifest.len() as u64 > MANIFEST_ROOM {
        bail!(
            "the manifest ({} bytes) is larger than the {MANIFEST_ROOM} bytes the calls' sizes \
             were estimated with: raise MANIFEST_ROOM",
            manifest.len()
        );
    }
    let path = dir.join("manifest.txt");
    let partial = partial_of(&path);
    std::fs::write(&partial, &manifest)
        .with_context(|| format!("writing {}", partial.display()))?;
    rename(&partial, &path)?;

    let manifest_len = manifest.len() as u64;
    Ok(Bundle {
        tree: inputs.tree,
        first: first_extra - MANIFEST_ROOM + manifest_len + one.len,
        second: second_extra - MANIFEST_ROOM + manifest_len + two.len,
        manifest,
    })
}

fn remove_manifest(dir: &Path) -> Result<()> {
    let path = dir.join("manifest.txt");
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Where `path` is written before it is renamed into place.
fn partial_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("moving {} to {}", from.display(), to.display()))
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

/// Copies `from` to `to` and strips its debug information when `strip` is installed; the copy
/// is made and stripped beside `to`, then renamed over it.
fn copy_stripped(from: &Path, to: &Path) -> Result<()> {
    let partial = partial_of(to);
    std::fs::copy(from, &partial)
        .with_context(|| format!("copying {} to {}", from.display(), partial.display()))?;
    match Command::new("strip")
        .arg("--strip-debug")
        .arg(&partial)
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => bail!("strip {} failed ({status})", partial.display()),
        Err(e) => eprintln!("not stripping {} (no `strip`: {e})", to.display()),
    }
    rename(&partial, to)
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

fn commit(root: &Path) -> Result<String> {
    let commit = Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(root)
        .output()
        .context("running git describe")?;
    Ok(String::from_utf8_lossy(&commit.stdout).trim().to_string())
}

/// `key=value` lines that gpu-check.sh reads: the pinned model, both parts' hashes, and a
/// `file_sha256=<hex>  <path>` line for every file of the bundle (`<hex>  <path>` is what
/// `sha256sum -c` checks, in the bundle's folder).
fn manifest(dir: &Path, inputs: &Inputs, one: &Part, two: &Part) -> Result<String> {
    let mut manifest = format!(
        "commit={}\nmodel_file={}\nmodel_size={}\nmodel_sha256={}\npart1_size={}\npart1_sha256={}\npart2_size={}\npart2_sha256={}\n",
        inputs.commit,
        inputs.pinned.file_name,
        inputs.pinned.size,
        inputs.pinned.sha256,
        one.len,
        one.sha256,
        two.len,
        two.sha256,
    );
    for file in bundle_files(dir, inputs)? {
        let path = dir.join(&file);
        let hash =
            sha256_file(&path, false).with_context(|| format!("hashing {}", path.display()))?;
        manifest.push_str(&format!("file_sha256={}  {file}\n", hex::encode(hash)));
    }
    Ok(manifest)
}

/// The bundle's files, relative to its folder: binaries, tiny models (sorted), model parts.
fn bundle_files(dir: &Path, inputs: &Inputs) -> Result<Vec<String>> {
    let mut files: Vec<String> = inputs
        .binaries
        .iter()
        .map(|(_, name)| format!("bin/{name}"))
        .collect();
    let tiny = dir.join("tiny");
    let mut models = Vec::new();
    for entry in std::fs::read_dir(&tiny).with_context(|| format!("listing {}", tiny.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".gguf") {
            models.push(format!("tiny/{name}"));
        }
    }
    models.sort();
    files.extend(models);
    files.extend(["model.part1".to_string(), "model.part2".to_string()]);
    Ok(files)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// A fake "model" of `size` bytes in `dir`, pinned by its hash.
    fn fake_model(dir: &Path, size: usize) -> (PathBuf, PinnedFile) {
        let data: Vec<u8> = (0..size as u32).map(|i| (i * 7 % 251) as u8).collect();
        let path = dir.join("model.gguf");
        std::fs::write(&path, &data).unwrap();
        let pinned = PinnedFile {
            package: "tiny-model",
            version: "0.1.0",
            wheel_member: "tiny_model/model.gguf",
            file_name: "model.gguf",
            sha256: Box::leak(hex::encode(Sha256::digest(&data)).into_boxed_str()),
            size: size as u64,
        };
        (path, pinned)
    }

    /// A small real executable, so that `strip` accepts it.
    const EXECUTABLE: &str = "/bin/true";

    #[test]
    fn the_manifest_is_written_last_with_every_files_sha256() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join(".gpu");
        let (model, pinned) = fake_model(work.path(), 300_000);
        let exe = Path::new(EXECUTABLE);
        let bundle = assemble(&Inputs {
            dir: &dir,
            binaries: &[(exe, "detinfer"), (exe, "cuda_engine")],
            model: &model,
            pinned: &pinned,
            tree: 1000,
            commit: "abc1234",
        })
        .unwrap();
        let written = std::fs::read_to_string(dir.join("manifest.txt")).unwrap();
        assert_eq!(written, bundle.manifest);
        assert!(
            written.starts_with("commit=abc1234\nmodel_file=model.gguf\n"),
            "{written}"
        );
        let listed: Vec<(&str, &str)> = written
            .lines()
            .filter_map(|line| line.strip_prefix("file_sha256="))
            .map(|line| line.split_once("  ").unwrap())
            .collect();
        let names: Vec<&str> = listed.iter().map(|(_, name)| *name).collect();
        assert_eq!(
            names,
            [
                "bin/detinfer",
                "bin/cuda_engine",
                "tiny/f16-f16.gguf",
                "tiny/f32-f32.gguf",
                "tiny/q4_0-q8_0.gguf",
                "tiny/q4_1-q8_0.gguf",
                "tiny/q4k-q6k.gguf",
                "tiny/q6k-q4k.gguf",
                "tiny/q8_0-q4_0.gguf",
                "model.part1",
                "model.part2",
            ]
        );
        for (hash, name) in &listed {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert_eq!(*hash, hex::encode(Sha256::digest(&bytes)), "{name}");
        }
        // Nothing is left beside the files.
        for sub in ["", "bin", "tiny"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                assert!(!name.ends_with(".partial"), "{sub}/{name} left behind");
            }
        }
        // The lines are what gpu-check.sh hands to `sha256sum -c` in the bundle's folder.
        let check: String = listed
            .iter()
            .map(|(hash, name)| format!("{hash}  {name}\n"))
            .collect();
        let check_file = work.path().join("check.sha256");
        std::fs::write(&check_file, check).unwrap();
        let status = Command::new("sha256sum")
            .args(["--check", "--quiet", "--strict"])
            .arg(&check_file)
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(status.success());
        // The parts join to the model.
        let joined = [
            std::fs::read(dir.join("model.part1")).unwrap(),
            std::fs::read(dir.join("model.part2")).unwrap(),
        ]
        .concat();
        assert_eq!(joined, std::fs::read(&model).unwrap());
    }

    #[test]
    fn a_bundle_that_fails_on_the_way_leaves_no_manifest() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join(".gpu");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        // An earlier, complete bundle's manifest.
        std::fs::write(dir.join("manifest.txt"), "commit=old\n").unwrap();
        let (model, pinned) = fake_model(work.path(), 1000);
        let exe = Path::new(EXECUTABLE);
        // A working tree too large for the calls: the split fails after the binaries and the
        // tiny models were replaced.
        let error = assemble(&Inputs {
            dir: &dir,
            binaries: &[(exe, "detinfer"), (exe, "cuda_engine")],
            model: &model,
            pinned: &pinned,
            tree: CALL_LIMIT,
            commit: "abc1234",
        })
        .err()
        .expect("a bundle over the limit must fail");
        assert!(error.to_string().contains("limit"), "{error:#}");
        assert!(dir.join("bin/detinfer").exists());
        assert!(
            !dir.join("manifest.txt").exists(),
            "the old manifest would vouch for the new binaries"
        );
    }
}
