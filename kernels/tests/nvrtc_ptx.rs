//! The CUDA kernels compiled by a real NVRTC, as the GPU backend compiles them, for every GPU
//! generation an operator may run (Ampere to Blackwell), each PTX passing the exactness audit
//! (`kernels::cuda::ptx_audit`). Needs NVRTC (`libnvrtc.so.12` on the loader path), not a GPU:
//! `cargo xtask test` fetches a pinned one and runs this with the `cuda` feature.
#![cfg(feature = "cuda")]

use kernels::cuda::compile_ptx;
use kernels::cuda::ptx_audit::audit;
use kernels::device::DeviceError;

/// A100, A10/RTX 30, L4/RTX 40, H100/H200, B200, RTX 50.
const ARCHITECTURES: [&str; 6] = [
    "compute_80",
    "compute_86",
    "compute_89",
    "compute_90",
    "compute_100",
    "compute_120",
];

#[test]
fn nvrtc_compiles_exact_ptx_for_every_gpu_generation() {
    for arch in ARCHITECTURES {
        let ptx = match compile_ptx(arch) {
            Ok(ptx) => ptx,
            Err(e @ DeviceError::Missing(_)) => panic!(
                "{e}: `cargo xtask fetch-nvrtc` fetches a pinned NVRTC and prints the folder to \
                 put on LD_LIBRARY_PATH"
            ),
            Err(e) => panic!("{arch}: {e}"),
        };
        let target = format!(".target sm_{}", arch.trim_start_matches("compute_"));
        assert!(ptx.contains(&target), "{arch}: no `{target}` in the PTX");
        let summary = audit(&ptx).expect("compile_ptx returns audited PTX");
        println!(
            "{arch}: {} bytes of PTX, {} kernels, {} float instructions, all exact",
            ptx.len(),
            summary.entries,
            summary.float_instructions
        );
    }
}
