#!/usr/bin/env bash
# The GPU check of the CUDA backend (issue part 5): builds with the `cuda` feature, runs the
# golden prompts on GPU 0 and compares their digests with the CPU's committed goldens
# (kernels/tests/golden/mod.rs), alone, batched and with chunked prefill; compares the first
# step's logits with the CPU's bit for bit; then times prompt and generation speed.
#
# STATUS: written without a GPU and NOT YET RUN ON A GPU. Its first run is the first real test
# of NVRTC compilation and of the device path; the kernel bodies themselves are checked on the
# CPU by the emulator in every `cargo test` (kernels/src/cuda_emu/).
#
# Needs: an NVIDIA driver (libcuda) and NVRTC (libnvrtc, CUDA ≥ 12.4) on the library path, and
# the pinned model (`cargo xtask fetch-model`, or AI_ORACLE_MODEL / the model cache).
set -euo pipefail
cd "$(dirname "$0")/../.."

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

start=$(date +%s)
cargo build --release -p kernels --features cuda --bin detinfer
cargo test --release -p kernels --features cuda --test cuda_engine --no-run
echo "build: $(( $(date +%s) - start )) s"

# Digests and logits against the CPU (prints per-request prompt/output tok/s).
cargo test --release -p kernels --features cuda --test cuda_engine -- --ignored --nocapture --test-threads=1

# Speed on a longer generation, GPU then CPU, same request: the digests must match too.
prompt="Write a short paragraph about the history of the printing press."
gpu=$(./target/release/detinfer --device cuda --max-tokens 128 "$prompt" | tee /dev/stderr | grep '^digest:')
cpu=$(./target/release/detinfer --device cpu --max-tokens 128 "$prompt" | tee /dev/stderr | grep '^digest:')
if [ "$gpu" != "$cpu" ]; then
  echo "GPU and CPU digests differ: $gpu vs $cpu" >&2
  exit 1
fi
echo "gpu-check: GPU digests equal the CPU goldens"
