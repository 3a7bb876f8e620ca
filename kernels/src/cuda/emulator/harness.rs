//! Single kernel launches on a fresh emulated device, for the unit tests: inputs are uploaded,
//! outputs start zeroed, and every buffer comes back after the launch.

use super::Emulator;
pub use crate::device::{f32_bytes, f32s, i32_bytes, i32s};
use crate::device::{Arg, Device, LaunchConfig};

/// A kernel argument, in the kernel's parameter order.
#[derive(Clone, Copy)]
pub enum Param<'a> {
    /// A buffer holding these bytes.
    In(&'a [u8]),
    /// A buffer of this many zero bytes.
    Out(usize),
    Int(usize),
    F32(f32),
}

/// The emulator's thread orders (`emulate.h`): a kernel whose bits depend on the order has a
/// missing barrier, a shuffle in place of a barrier or a race between blocks.
const SCHEDULES: [&str; 4] = ["forward", "reverse", "warps", "warps-reverse"];

/// Launches `kernel` with `params`, once under each of [`SCHEDULES`]; returns every buffer's
/// bytes after the launch, in the order of the buffer parameters, after checking that every
/// schedule gave the same.
pub fn run(kernel: &str, launch: LaunchConfig, params: &[Param<'_>]) -> Vec<Vec<u8>> {
    let first = run_scheduled(kernel, launch, params, SCHEDULES[0]);
    for schedule in &SCHEDULES[1..] {
        let other = run_scheduled(kernel, launch, params, schedule);
        assert!(
            other == first,
            "{kernel} ({launch:?}): other bits with the `{schedule}` thread order than with `{}` (a race)",
            SCHEDULES[0]
        );
    }
    first
}

fn run_scheduled(
    kernel: &str,
    launch: LaunchConfig,
    params: &[Param<'_>],
    schedule: &str,
) -> Vec<Vec<u8>> {
    let device = Emulator::start_with_schedule(Some(schedule)).expect("the emulated device starts");
    let buffers: Vec<_> = params
        .iter()
        .filter_map(|p| match p {
            Param::In(bytes) => Some(device.upload(bytes)),
            Param::Out(len) => Some(device.alloc_zeros(*len)),
            _ => None,
        })
        .collect::<Result<_, _>>()
        .expect("buffers on the emulated device");
    let mut next = buffers.iter();
    let args: Vec<Arg<'_>> = params
        .iter()
        .map(|p| match p {
            Param::In(_) | Param::Out(_) => Arg::buf(next.next().expect("one buffer each")),
            Param::Int(n) => Arg::int(*n),
            Param::F32(v) => Arg::F32(*v),
        })
        .collect();
    device
        .launch(kernel, launch, &args)
        .unwrap_or_else(|e| panic!("{kernel}: {e}"));
    buffers
        .iter()
        .map(|b| device.download(b, 0..b.len()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{kernel}: {e}"))
}

pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
