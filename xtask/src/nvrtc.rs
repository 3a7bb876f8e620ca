//! NVRTC for the CUDA kernels' compile check: the libraries of NVIDIA's PyPI wheel
//! `nvidia-cuda-nvrtc-cu12`, pinned by version and SHA-256 and cached beside the model (no GPU
//! and no CUDA toolkit needed). `cargo xtask test` puts their folder on `LD_LIBRARY_PATH` for
//! `kernels/tests/nvrtc_ptx.rs`, which compiles the kernels as the GPU backend does and audits
//! the PTX.

use anyhow::{Context, Result};
use kernels::model_cache::{default_cache_dir, ModelCache, PinnedFile};
use std::path::{Path, PathBuf};

const PACKAGE: &str = "nvidia-cuda-nvrtc-cu12";
const VERSION: &str = "12.9.86";

/// NVRTC itself and the builtins it opens from the loader path while it compiles.
const LIBRARIES: [PinnedFile; 2] = [
    PinnedFile {
        package: PACKAGE,
        version: VERSION,
        wheel_member: "nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
        file_name: "libnvrtc.so.12",
        sha256: "7c67c6b51ea0e0279634cebd676ff7efda1674806444520c84430ad5c35fe625",
        size: 106_244_480,
    },
    PinnedFile {
        package: PACKAGE,
        version: VERSION,
        wheel_member: "nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.9",
        file_name: "libnvrtc-builtins.so.12.9",
        sha256: "6507cf33450cfb22970c2c1e7aa8e7c0a33e39d864720277b05f61a92791e2e8",
        size: 7_202_760,
    },
];

/// The name cudarc 0.19 tries first (before `libnvrtc.so.12`): linked in the cached folder to
/// the pinned library, or any `libnvrtc.so` elsewhere on the loader path (a CUDA toolkit's)
/// would be loaded instead of the pinned one.
const UNVERSIONED: &str = "libnvrtc.so";

/// Why the check cannot run on this machine: the pinned libraries are x86-64 glibc Linux ones.
pub const UNSUPPORTED: &str =
    "the pinned NVRTC (nvidia-cuda-nvrtc-cu12 12.9.86) is an x86-64 glibc Linux library \
     (manylinux); this machine is not one, so the CUDA kernels' compile check does not run here";

/// Whether this machine can load the pinned libraries (its wheels are manylinux: glibc only).
const SUPPORTED: bool = cfg!(all(
    target_os = "linux",
    target_arch = "x86_64",
    target_env = "gnu"
));

/// The pinned NVRTC's folder, fetched if needed, on a machine that can load it (x86-64 glibc
/// Linux); `None` elsewhere.
pub fn fetch_for_this_machine() -> Result<Option<PathBuf>> {
    SUPPORTED.then(fetch).transpose()
}

/// Makes sure the pinned NVRTC is in the cache and returns its folder.
pub fn fetch() -> Result<PathBuf> {
    if !SUPPORTED {
        anyhow::bail!("{UNSUPPORTED}");
    }
    crate::step("fetch NVRTC (for the CUDA kernels' compile check)");
    let cache = ModelCache::new(default_cache_dir().join(format!("nvrtc-{VERSION}")));
    // Both libraries come from one wheel: one download, both extracted from it.
    cache
        .ensure_all(&LIBRARIES)
        .with_context(|| format!("fetching NVRTC from {PACKAGE} {VERSION}"))?;
    link_unversioned(cache.dir())?;
    println!("NVRTC {VERSION}: {}", cache.dir().display());
    Ok(cache.dir().to_path_buf())
}

/// Makes `dir/libnvrtc.so` a link to `libnvrtc.so.12` beside it, unless it already is one: the
/// link is made under another name and renamed over the old entry, so a process loading NVRTC
/// meanwhile (another `cargo xtask`) never finds the name missing or pointing elsewhere.
fn link_unversioned(dir: &Path) -> Result<()> {
    let target = Path::new(LIBRARIES[0].file_name);
    let link = dir.join(UNVERSIONED);
    if std::fs::read_link(&link).is_ok_and(|current| current == target) {
        return Ok(());
    }
    let beside = dir.join(format!("{UNVERSIONED}.link-{}", std::process::id()));
    // One this process left (it was killed between the two steps) under the same id.
    let _ = std::fs::remove_file(&beside);
    std::os::unix::fs::symlink(target, &beside)
        .with_context(|| format!("linking {} to {}", beside.display(), target.display()))?;
    std::fs::rename(&beside, &link).with_context(|| {
        let _ = std::fs::remove_file(&beside);
        format!("moving {} to {}", beside.display(), link.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_name_cudarc_tries_first_is_the_pinned_library() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("libnvrtc.so.12"), b"pinned").unwrap();
        link_unversioned(dir.path()).unwrap();
        let link = dir.path().join("libnvrtc.so");
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("libnvrtc.so.12")
        );
        assert_eq!(std::fs::read(&link).unwrap(), b"pinned");
        // Again: nothing changes, nothing is left beside.
        link_unversioned(dir.path()).unwrap();
        assert_eq!(names_in(dir.path()), ["libnvrtc.so", "libnvrtc.so.12"]);
    }

    #[test]
    fn another_libnvrtc_so_in_the_folder_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("libnvrtc.so.12"), b"pinned").unwrap();
        std::fs::write(dir.path().join("other"), b"other").unwrap();
        let link = dir.path().join("libnvrtc.so");
        std::os::unix::fs::symlink("other", &link).unwrap();
        link_unversioned(dir.path()).unwrap();
        assert_eq!(std::fs::read(&link).unwrap(), b"pinned");
        std::fs::remove_file(&link).unwrap();
        std::fs::write(&link, b"a copy of something else").unwrap();
        link_unversioned(dir.path()).unwrap();
        assert_eq!(std::fs::read(&link).unwrap(), b"pinned");
        assert_eq!(
            names_in(dir.path()),
            ["libnvrtc.so", "libnvrtc.so.12", "other"]
        );
    }
}
