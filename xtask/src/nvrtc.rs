//! NVRTC for the CUDA kernels' compile check: the libraries of NVIDIA's PyPI wheel
//! `nvidia-cuda-nvrtc-cu12`, pinned by version and SHA-256 and cached beside the model (no GPU
//! and no CUDA toolkit needed). `cargo xtask test` puts their folder on `LD_LIBRARY_PATH` for
//! `kernels/tests/nvrtc_ptx.rs`, which compiles the kernels as the GPU backend does and audits
//! the PTX.

use anyhow::{Context, Result};
use kernels::model_cache::{default_cache_dir, ModelCache, PinnedFile};
use std::path::PathBuf;

const PACKAGE: &str = "nvidia-cuda-nvrtc-cu12";
const VERSION: &str = "12.9.86";

/// NVRTC itself (cudarc opens it as `libnvrtc.so.12`) and the builtins it opens from the
/// loader path while it compiles.
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
    println!("NVRTC {VERSION}: {}", cache.dir().display());
    Ok(cache.dir().to_path_buf())
}
