//! The emulated CUDA device: the kernel sources of `kernels/cuda/` compiled as C++ under
//! `kernels/cuda/emulate.h`, which runs the grid, blocks, threads, barriers and warp shuffles
//! sequentially on the CPU, in a child process that holds the device memory
//! (`harness/main.cpp`). Slow, but faithful: the whole GPU forward pass — kernels and
//! the host code that drives them — runs on any machine with a C++ compiler (`g++`, or `$CXX`),
//! and its bits are checked against the CPU engine in every `cargo test`.

#[cfg(test)]
mod harness;
#[cfg(test)]
mod ops_tests;
#[cfg(test)]
mod quant_tests;

use crate::device::{Arg, Buffer, Device, DeviceError, LaunchConfig, Result};
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The harness sources, by their paths under `kernels/cuda/` (the includes are relative).
const SOURCES: [(&str, &str); 9] = [
    ("emulate.h", include_str!("../../../cuda/emulate.h")),
    ("common.cuh", include_str!("../../../cuda/common.cuh")),
    ("blocks.cuh", include_str!("../../../cuda/blocks.cuh")),
    ("quant.cu", include_str!("../../../cuda/quant.cu")),
    ("norm.cu", include_str!("../../../cuda/norm.cu")),
    (
        "elementwise.cu",
        include_str!("../../../cuda/elementwise.cu"),
    ),
    ("attention.cu", include_str!("../../../cuda/attention.cu")),
    (
        "harness/main.cpp",
        include_str!("../../../cuda/harness/main.cpp"),
    ),
    (
        "harness/probes.cu",
        include_str!("../../../cuda/harness/probes.cu"),
    ),
];

/// Compiles the harness once per process; its path, or why it cannot be built.
fn harness_binary() -> Result<&'static Path> {
    static BUILT: OnceLock<std::result::Result<(tempfile::TempDir, PathBuf), String>> =
        OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
        for (name, text) in SOURCES {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        let exe = dir.path().join("cuda-emulator");
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
        let output = Command::new(&cxx)
            .args(["-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math"])
            // The kernels read aligned words of byte buffers, as the GPU does.
            .args(["-fno-strict-aliasing"])
            // Coroutines switch with _longjmp across stacks, which fortified builds refuse.
            .args(["-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=0"])
            .args(["-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&exe)
            .arg(dir.path().join("harness/main.cpp"))
            .output()
            .map_err(|e| format!("cannot run the C++ compiler `{cxx}` (set $CXX): {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "the emulator does not compile with `{cxx}`:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok((dir, exe))
    });
    match built {
        Ok((_, exe)) => Ok(exe),
        Err(e) => Err(DeviceError::Backend(e.clone())),
    }
}

/// The emulator process and its pipes.
struct Server {
    child: Child,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
}

impl Server {
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        match self.input.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(_) => Err(self.died()),
        }
    }

    fn receive(&mut self, len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; len];
        if self.input.flush().is_err() || self.output.read_exact(&mut out).is_err() {
            return Err(self.died());
        }
        Ok(out)
    }

    /// The error of a process that stopped answering: what it said on stderr.
    fn died(&mut self) -> DeviceError {
        let _ = self.child.kill();
        let mut said = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut said);
        }
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        DeviceError::Backend(format!(
            "the CUDA emulator stopped ({status}): {}",
            said.trim()
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A buffer of the emulator: freed in the process when dropped.
struct Handle {
    id: u64,
    server: Arc<Mutex<Server>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Ok(mut server) = self.server.lock() {
            let mut message = vec![b'F'];
            message.extend(self.id.to_le_bytes());
            let _ = server.send(&message);
        }
    }
}

/// The emulated device (see the module's documentation).
pub struct Emulator {
    server: Arc<Mutex<Server>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Emulator")
    }
}

fn u64_le(v: usize) -> [u8; 8] {
    (v as u64).to_le_bytes()
}

impl Emulator {
    /// Builds the harness (once per process) and starts an emulated device.
    pub fn start() -> Result<Self> {
        Self::start_with_schedule(None)
    }

    /// [`Emulator::start`] with one order of the threads for every block (`forward`,
    /// `reverse`, `warps`, `warps-reverse`: `DET_EMU_SCHEDULE` in `emulate.h`); `None`
    /// rotates them block by block (or keeps the caller's `DET_EMU_SCHEDULE`).
    pub fn start_with_schedule(schedule: Option<&str>) -> Result<Self> {
        let mut command = Command::new(harness_binary()?);
        if let Some(schedule) = schedule {
            command.env("DET_EMU_SCHEDULE", schedule);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DeviceError::Backend(format!("cannot start the CUDA emulator: {e}")))?;
        let input = BufWriter::new(child.stdin.take().expect("piped stdin"));
        let output = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Self {
            server: Arc::new(Mutex::new(Server {
                child,
                input,
                output,
            })),
            next_id: AtomicU64::new(1),
        })
    }

    fn server(&self) -> std::sync::MutexGuard<'_, Server> {
        self.server.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn id(buffer: &Buffer) -> u64 {
        buffer.handle::<Handle>().id
    }

    fn new_buffer(&self, command: u8, len: usize, bytes: &[u8]) -> Result<Buffer> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = vec![command];
        message.extend(id.to_le_bytes());
        message.extend(u64_le(len));
        message.extend(bytes);
        self.server().send(&message)?;
        let handle = Handle {
            id,
            server: Arc::clone(&self.server),
        };
        Ok(Buffer::new(len, handle))
    }
}

impl Device for Emulator {
    fn name(&self) -> &str {
        "CUDA emulator (kernels/cuda on the CPU)"
    }

    fn alloc_zeros(&self, len: usize) -> Result<Buffer> {
        self.new_buffer(b'Z', len, &[])
    }

    fn alloc(&self, len: usize) -> Result<Buffer> {
        self.upload(&vec![0xff; len])
    }

    fn upload(&self, bytes: &[u8]) -> Result<Buffer> {
        self.new_buffer(b'U', bytes.len(), bytes)
    }

    fn download(&self, buffer: &Buffer, range: Range<usize>) -> Result<Vec<u8>> {
        buffer.assert_contains(&range, "download");
        let mut message = vec![b'D'];
        message.extend(Self::id(buffer).to_le_bytes());
        message.extend(u64_le(range.start));
        message.extend(u64_le(range.len()));
        let mut server = self.server();
        server.send(&message)?;
        server.receive(range.len())
    }

    fn copy(
        &self,
        src: &Buffer,
        src_range: Range<usize>,
        dst: &Buffer,
        dst_at: usize,
    ) -> Result<()> {
        src.assert_contains(&src_range, "copy source");
        dst.assert_contains(&(dst_at..dst_at + src_range.len()), "copy destination");
        let mut message = vec![b'C'];
        message.extend(Self::id(src).to_le_bytes());
        message.extend(u64_le(src_range.start));
        message.extend(u64_le(src_range.len()));
        message.extend(Self::id(dst).to_le_bytes());
        message.extend(u64_le(dst_at));
        self.server().send(&message)
    }

    fn launch(&self, kernel: &str, config: LaunchConfig, args: &[Arg<'_>]) -> Result<()> {
        let mut message = vec![b'L'];
        message.extend((kernel.len() as u32).to_le_bytes());
        message.extend(kernel.as_bytes());
        message.extend(config.grid.to_le_bytes());
        message.extend(config.threads.to_le_bytes());
        message.extend((args.len() as u32).to_le_bytes());
        for arg in args {
            match arg {
                Arg::Ptr(buffer, offset) => {
                    buffer.assert_contains(&(*offset..*offset), "kernel argument");
                    message.push(b'P');
                    message.extend(Self::id(buffer).to_le_bytes());
                    message.extend(u64_le(*offset));
                }
                Arg::I32(v) => {
                    message.push(b'I');
                    message.extend(v.to_le_bytes());
                }
                Arg::F32(v) => {
                    message.push(b'F');
                    message.extend(v.to_bits().to_le_bytes());
                }
            }
        }
        self.server().send(&message)
    }
}
