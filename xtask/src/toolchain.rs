//! What the test command needs beyond cargo itself, checked (and installed with rustup where
//! rustup can) before anything is built: rustfmt and clippy (a minimal rustup profile lacks
//! them), the compilation targets beyond the host's, and a C++ compiler (the CUDA kernels are
//! checked on the CPU as C++).

use crate::{run, step};
use anyhow::{bail, Context, Result};
use std::process::Command;

const LINT_COMPONENTS: [&str; 2] = ["rustfmt", "clippy"];

/// Installs rustfmt and clippy with rustup when `cargo fmt` / `cargo clippy` do not run (a
/// toolchain that has them, rustup-managed or not, is left alone).
pub fn ensure_lint_components() -> Result<()> {
    let missing: Vec<&str> = LINT_COMPONENTS
        .into_iter()
        .filter(|component| !cargo_subcommand_runs(cargo_subcommand(component)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("rustup component add {}", missing.join(" ")));
    run(Command::new("rustup")
        .args(["component", "add"])
        .args(&missing))
    .with_context(|| {
        format!(
            "`cargo {}` does not run and rustup could not add {}: install them for this \
             toolchain",
            cargo_subcommand(missing[0]),
            missing.join(" and ")
        )
    })
}

/// The cargo subcommand a component provides.
fn cargo_subcommand(component: &str) -> &str {
    match component {
        "rustfmt" => "fmt",
        other => other,
    }
}

/// Whether `cargo <subcommand> --version` runs.
fn cargo_subcommand_runs(subcommand: &str) -> bool {
    crate::cargo_command()
        .args([subcommand, "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Installs the standard library for `target` with rustup when the toolchain lacks it.
pub fn ensure_target(target: &str) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running `rustup target list` (is rustup installed?)")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == target)
    {
        return Ok(());
    }
    step(&format!("rustup target add {target}"));
    run(Command::new("rustup").args(["target", "add", target]))
}

/// Checks that the C++ compiler the CUDA emulator tests use (`$CXX`, else `g++`) runs.
pub fn ensure_cxx() -> Result<()> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    match Command::new(&cxx).arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => bail!(
            "the C++ compiler `{cxx}` does not work ({}): the CUDA kernels are checked on the \
             CPU as C++; install g++ (e.g. `apt-get install g++`) or set CXX",
            output.status
        ),
        Err(e) => bail!(
            "no C++ compiler `{cxx}` ({e}): the CUDA kernels are checked on the CPU as C++; \
             install g++ (e.g. `apt-get install g++`) or set CXX to another compiler"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_tells_a_working_subcommand_from_a_missing_one() {
        // The test command runs `cargo fmt` itself, so it is there wherever this test runs.
        assert!(cargo_subcommand_runs(cargo_subcommand("rustfmt")));
        assert!(!cargo_subcommand_runs("no-such-subcommand-anywhere"));
    }
}
