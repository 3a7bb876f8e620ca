//! What the test command needs beyond cargo itself, checked (and installed with rustup where
//! rustup can) before anything is built: rustfmt and clippy (a minimal rustup profile lacks
//! them) and a C++ compiler (the CUDA kernels are checked on the CPU as C++).

use crate::{run, step};
use anyhow::{bail, Context, Result};
use std::process::Command;

const LINT_COMPONENTS: [&str; 2] = ["rustfmt", "clippy"];

/// Installs rustfmt and clippy with rustup when the toolchain lacks them.
pub fn ensure_lint_components() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output()
        .context("running `rustup component list` (is rustup installed?)")?;
    let installed = String::from_utf8_lossy(&installed.stdout);
    let missing: Vec<&str> = LINT_COMPONENTS
        .into_iter()
        .filter(|component| !has_component(&installed, component))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("rustup component add {}", missing.join(" ")));
    run(Command::new("rustup")
        .args(["component", "add"])
        .args(&missing))
}

/// Whether `rustup component list --installed` (one `name-<host triple>` per line) lists
/// `component`.
fn has_component(installed: &str, component: &str) -> bool {
    installed.lines().any(|line| {
        line.trim()
            .strip_prefix(component)
            .is_some_and(|rest| rest.starts_with('-'))
    })
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
    fn components_are_found_by_name_not_by_prefix() {
        let installed = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n\
                         rustfmt-preview-x86_64-unknown-linux-gnu\n";
        assert!(has_component(installed, "clippy"));
        assert!(has_component(installed, "cargo"));
        assert!(!has_component(installed, "rustfmt-x86"));
        assert!(!has_component(installed, "rust"));
        assert!(!has_component("", "clippy"));
    }
}
