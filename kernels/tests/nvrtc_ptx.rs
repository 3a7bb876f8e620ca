//! The CUDA kernels compiled by a real NVRTC, as the GPU backend compiles them, for every GPU
//! generation an operator may run (Ampere to Blackwell): each PTX passes the exactness audit
//! (`kernels::cuda::ptx_audit`), and NVRTC's own assembler turns it into machine code for that
//! generation with every kernel's registers and shared memory within what a launch of
//! `THREADS` threads may use. Needs NVRTC 12.9 (the pinned 12.9.86: its folder, with
//! `libnvrtc.so` and `libnvrtc.so.12`, first on the loader path), not a GPU: `cargo xtask
//! test` fetches it and runs this with the `cuda` feature. The figures in kernels/cuda/README.md
//! are that version's, so another NVRTC that cudarc finds first fails every test here, naming
//! both versions (`NVRTC_PTX_VERSION=13.0`, say, runs them on another one by hand).
#![cfg(feature = "cuda")]

use kernels::cuda::nvrtc::{compile_ptx, nvrtc_compile};
use kernels::cuda::ptx_audit::audit;
use kernels::device::{DeviceError, KERNELS, THREADS};
use std::path::Path;

/// A100, A10/RTX 30, L4/RTX 40, H100/H200, B200, RTX 50.
const GENERATIONS: [u32; 6] = [80, 86, 89, 90, 100, 120];
/// Registers one block may hold on every generation above.
const REGISTERS_PER_BLOCK: u32 = 65_536;
/// Static shared memory one block may use without opting in.
const SHARED_BYTES_PER_BLOCK: u32 = 48 * 1024;

fn missing_nvrtc(e: DeviceError) -> ! {
    panic!(
        "{e}: `cargo xtask fetch-nvrtc` fetches a pinned NVRTC and prints the folder to put on \
         LD_LIBRARY_PATH"
    )
}

/// The NVRTC version the checks are pinned to (`cargo xtask fetch-nvrtc`).
const PINNED_VERSION: &str = "12.9";
/// Another version to expect instead, "major.minor", for a run by hand.
const VERSION_ENV: &str = "NVRTC_PTX_VERSION";

/// Fails unless the NVRTC that cudarc loads is the expected version: cudarc opens the first of
/// `libnvrtc.so`, …, `libnvrtc.so.12` that the loader finds, which may be another than the
/// pinned one (a CUDA toolkit's `libnvrtc.so` on the loader path).
fn require_expected_nvrtc() {
    let expected = std::env::var(VERSION_ENV).unwrap_or_else(|_| PINNED_VERSION.into());
    // SAFETY: this only tries to open the library (cudarc would panic on first use).
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        missing_nvrtc(DeviceError::Missing("NVRTC"));
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is present; both pointers are to live integers.
    let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    assert_eq!(
        status,
        cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS,
        "nvrtcVersion failed"
    );
    let loaded = format!("{major}.{minor}");
    assert!(
        loaded == expected,
        "cudarc loaded NVRTC {loaded} ({}), not the expected {expected}: put the folder that \
         `cargo xtask fetch-nvrtc` prints (NVRTC 12.9.86, with its `libnvrtc.so` link) first on \
         LD_LIBRARY_PATH, or set {VERSION_ENV}={loaded} to check this one by hand",
        loaded_nvrtc_file()
    );
}

/// The file of the NVRTC this process mapped, for the message above.
fn loaded_nvrtc_file() -> String {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| {
            Path::new(path)
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("libnvrtc.so"))
        })
        .unwrap_or("file unknown")
        .to_string()
}

#[test]
fn nvrtc_compiles_exact_ptx_for_every_gpu_generation() {
    require_expected_nvrtc();
    for generation in GENERATIONS {
        let arch = format!("compute_{generation}");
        let ptx = match compile_ptx(&arch) {
            Ok(ptx) => ptx,
            Err(e @ DeviceError::Missing(_)) => missing_nvrtc(e),
            Err(e) => panic!("{arch}: {e}"),
        };
        let target = format!(".target sm_{generation}");
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

/// One kernel as the assembler reports it.
#[derive(Debug, Default)]
struct Resources {
    registers: u32,
    shared_bytes: u32,
    spill_bytes: u32,
}

/// Reads ptxas's `-v` report: "Function properties for NAME", then its stack/spill line and its
/// "Used N registers, …, M bytes smem" line.
fn resources(log: &str) -> Vec<(String, Resources)> {
    let number_before = |line: &str, unit: &str| -> u32 {
        line.split(',')
            .find_map(|part| part.trim().strip_suffix(unit))
            .and_then(|n| n.split_whitespace().last()?.parse().ok())
            .unwrap_or(0)
    };
    let mut kernels: Vec<(String, Resources)> = Vec::new();
    for line in log.lines() {
        if let Some(name) = line.split("Function properties for ").nth(1) {
            kernels.push((name.trim().to_string(), Resources::default()));
        } else if let Some((_, current)) = kernels.last_mut() {
            if line.contains("Used ") {
                current.registers = line
                    .split("Used ")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0);
                current.shared_bytes = number_before(line, "bytes smem");
            } else if line.contains("spill stores") {
                current.spill_bytes = number_before(line, "bytes spill stores");
            }
        }
    }
    kernels
}

#[test]
fn every_kernel_assembles_within_a_blocks_resources_on_every_generation() {
    require_expected_nvrtc();
    for generation in GENERATIONS {
        let arch = format!("sm_{generation}");
        let output = match nvrtc_compile(&arch, &["--ptxas-options=-v"]) {
            Ok(output) => output,
            Err(e @ DeviceError::Missing(_)) => missing_nvrtc(e),
            Err(e) => panic!("{arch}: {e}"),
        };
        let report = resources(&output.log);
        for kernel in KERNELS {
            let (_, used) = report
                .iter()
                .find(|(name, _)| name == kernel)
                .unwrap_or_else(|| {
                    panic!("{arch}: no assembler report for {kernel}:\n{}", output.log)
                });
            assert!(used.registers > 0, "{arch} {kernel}: {used:?}");
            assert!(
                used.registers * THREADS <= REGISTERS_PER_BLOCK,
                "{arch} {kernel}: {used:?} cannot launch {THREADS} threads"
            );
            assert!(
                used.shared_bytes <= SHARED_BYTES_PER_BLOCK,
                "{arch} {kernel}: {used:?}"
            );
        }
        let most =
            |field: fn(&Resources) -> u32| report.iter().map(|(_, r)| field(r)).max().unwrap_or(0);
        println!(
            "{arch}: {} kernels assembled; at most {} registers, {} bytes of shared memory, {} \
             bytes spilled",
            report.len(),
            most(|r| r.registers),
            most(|r| r.shared_bytes),
            most(|r| r.spill_bytes)
        );
    }
}
