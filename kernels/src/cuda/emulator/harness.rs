//! Calls single kernels through the emulation harness (`kernels/cuda/harness/main.cpp`, one
//! process per call): the op name, launch geometry and parameters and the input buffers go to
//! its stdin, the output buffers come back on its stdout.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn harness() -> &'static Path {
    super::harness_binary().expect("the emulation harness builds")
}

/// A kernel launch: grid and block size, then the op's parameters.
pub struct Launch {
    pub grid: u32,
    pub threads: u32,
}

/// A kernel parameter: integers as they are, floats as their bits.
pub enum Param {
    Int(i64),
    F32(f32),
}

/// Runs `op` under the emulator; returns its output buffers.
pub fn run(op: &str, launch: &Launch, params: &[Param], inputs: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut message = Vec::new();
    message.extend((op.len() as u32).to_le_bytes());
    message.extend(op.as_bytes());
    message.extend((params.len() as u32 + 2).to_le_bytes());
    message.extend(u64::from(launch.grid).to_le_bytes());
    message.extend(u64::from(launch.threads).to_le_bytes());
    for p in params {
        let v = match p {
            Param::Int(i) => *i as u64,
            Param::F32(f) => u64::from(f.to_bits()),
        };
        message.extend(v.to_le_bytes());
    }
    message.extend((inputs.len() as u32).to_le_bytes());
    for input in inputs {
        message.extend((input.len() as u64).to_le_bytes());
        message.extend(*input);
    }
    let mut child = Command::new(harness())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the emulation harness");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&message)
        .expect("send the inputs");
    let output = child.wait_with_output().expect("emulation harness output");
    assert!(
        output.status.success(),
        "{op}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&output.stdout)
}

fn parse(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut take = |n: usize| {
        let (head, rest) = bytes.split_at(n);
        bytes = rest;
        head.to_vec()
    };
    let count = u32::from_le_bytes(take(4).try_into().unwrap());
    (0..count)
        .map(|_| {
            let len = u64::from_le_bytes(take(8).try_into().unwrap());
            take(len as usize)
        })
        .collect()
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

pub fn i32s(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
