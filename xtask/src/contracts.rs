//! Building contracts to wasm32 the way cargo-near does, reproducibly.

use crate::{cargo_command, run, step};
use anyhow::{bail, Context, Result};
use e2e_tests::layout::{contract_crates, contracts_dir, workspace_root};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use wasm_host::prepare::prepare;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// `--cfg near` keeps panic messages and uses the host's hashing; `-s` strips symbols.
const RUSTFLAGS: [&str; 4] = ["-C", "link-arg=-s", "--cfg", "near"];

/// The flags, plus path remapping so that the bytes do not depend on where the repository or
/// the cargo registry lie (panic messages embed source paths).
fn rustflags() -> String {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut flags: Vec<String> = RUSTFLAGS.iter().map(|f| f.to_string()).collect();
    flags.push(format!(
        "--remap-path-prefix={}=/build",
        workspace_root().display()
    ));
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.join("\x1f")
}

/// Builds every contract, checks that it loads on NEAR and copies it to `target/contracts/`.
pub fn build_all() -> Result<()> {
    step("build contracts");
    crate::toolchain::ensure_target(WASM_TARGET)?;
    let crates = contract_crates().context("listing contract/")?;
    if crates.is_empty() {
        bail!("no contract crates under contract/");
    }
    // A target folder of their own, so the wasm RUSTFLAGS never invalidate host builds.
    let target_dir = workspace_root().join("target").join("wasm");
    let mut command = cargo_command();
    command
        .args([
            "build",
            "--locked",
            "--target",
            WASM_TARGET,
            "--profile",
            "contract",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags())
        .env_remove("RUSTFLAGS");
    for contract in &crates {
        command.args(["--package", &contract.package]);
    }
    run(&mut command)?;

    let out_dir = contracts_dir();
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    // Every contract is checked before any is replaced, so a refused one leaves none stale
    // beside fresh ones; each is written beside its place and renamed in, so a test or devnet
    // deploying meanwhile reads the old file or the new one, never half of one.
    let mut built = Vec::new();
    for contract in crates {
        let from = target_dir
            .join(WASM_TARGET)
            .join("contract")
            .join(contract.wasm_file_name());
        let wasm = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        prepare(&wasm).with_context(|| format!("{} would not load on NEAR", contract.package))?;
        built.push((contract, wasm));
    }
    for (contract, wasm) in built {
        let path = contract.built_wasm();
        // Named after this process: two builds finishing together never share a partial file.
        let partial = path.with_extension(format!("wasm.partial-{}", std::process::id()));
        std::fs::write(&partial, &wasm)
            .with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, &path)
            .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        println!(
            "contract {:<20} {:>8} bytes  sha256 {}  {}",
            contract.package,
            wasm.len(),
            sha256,
            path.display()
        );
    }
    Ok(())
}
