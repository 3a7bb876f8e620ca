#!/usr/bin/env bash
# Checks gpu-check.sh on a machine without a GPU:
#   1. the library search against a fake tree: 64-bit libraries only, no stubs, libcuda from
#      the driver folder, the newest NVRTC no newer than the driver's CUDA version;
#   2. with the bundle of `cargo xtask gpu-bundle`: stage 1 on the CPU path, then stage 2 must
#      refuse a corrupted part 2 and a machine without stage 1's files, naming the cause;
#   3. with --full: stage 1 and stage 2 on the CPU path end to end (minutes: the torch peer
#      runs on the CPU; needs GPU_CHECK_PYTHON with torch and numpy, or python3 having them).
set -euo pipefail
cd "$(dirname "$0")/../.."
CHECK=kernels/cuda/gpu-check.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

expect() { # expect DESCRIPTION PATTERN FILE
  if grep -q -- "$2" "$3"; then
    echo "ok: $1"
  else
    echo "FAILED: $1 (no '$2' in $3:)" >&2
    sed 's/^/    /' "$3" >&2
    failures=$((failures + 1))
  fi
}

# --- 1. library search --------------------------------------------------------------------
elf64() { printf '\177ELF\002' >"$1"; }
fake=$TMP/fake
mkdir -p "$fake"/nvidia/lib "$fake"/nvidia/lib64 "$fake"/cuda/lib64/stubs "$fake"/cuda-13.1/lib64 \
  "$fake"/site/nvidia/cu13/lib "$fake"/bin
printf '\177ELF\001' >"$fake/nvidia/lib/libcuda.so.580.159.03" # 32-bit: skipped
elf64 "$fake/nvidia/lib64/libcuda.so.580.159.03"
ln -s libcuda.so.580.159.03 "$fake/nvidia/lib64/libcuda.so.1"
elf64 "$fake/cuda/lib64/stubs/libcuda.so"
elf64 "$fake/cuda/lib64/libnvrtc.so.13.0.88"
ln -s libnvrtc.so.13.0.88 "$fake/cuda/lib64/libnvrtc.so.13"
elf64 "$fake/cuda/lib64/libnvrtc-builtins.so.13.0"
elf64 "$fake/cuda-13.1/lib64/libnvrtc.so.13.1.20"
elf64 "$fake/site/nvidia/cu13/lib/libnvrtc.so.13"
printf '#!/bin/sh\necho "| NVIDIA-SMI 580.159.03  Driver Version: 580.159.03  CUDA Version: 13.0 |"\n' \
  >"$fake/bin/nvidia-smi"
chmod +x "$fake/bin/nvidia-smi"
roots=$fake/cuda:$fake/cuda-13.1:$fake/site:$fake/nvidia

PATH=$fake/bin:$PATH GPU_CHECK_LIB_ROOTS=$roots GPU_CHECK_STASH=$TMP/stash OUT=$TMP/out \
  bash "$CHECK" libs >"$TMP/libs.log" 2>&1 || true
expect "libcuda from the driver's 64-bit folder" "^libcuda: $fake/nvidia/lib64/libcuda.so.580" "$TMP/libs.log"
expect "NVRTC 13.1 is newer than the driver's 13.0" "13.1.20 (version 13.1.20)" "$TMP/libs.log"
expect "the newest NVRTC the driver runs" "^NVRTC: $fake/cuda/lib64/libnvrtc.so.13.0.88" "$TMP/libs.log"
expect "the link cudarc opens" "libnvrtc.so -> $fake/cuda/lib64/libnvrtc.so.13.0.88" \
  <(ls -l "$TMP/stash/libs/")
expect "the library path" "LD_LIBRARY_PATH=$TMP/stash/libs:$fake/cuda/lib64:$fake/nvidia/lib64" \
  "$TMP/stash/libs.env"

GPU_CHECK_LIB_ROOTS=$fake/cuda-13.1:$fake/site:$fake/nvidia GPU_CHECK_STASH=$TMP/stash \
  OUT=$TMP/out PATH=/usr/bin:/bin bash "$CHECK" libs >"$TMP/libs2.log" 2>&1 || true
expect "without nvidia-smi the newest NVRTC" "^NVRTC: $fake/cuda-13.1/lib64/libnvrtc.so.13.1.20" "$TMP/libs2.log"
expect "a missing builtins library is reported" "no libnvrtc-builtins" "$TMP/libs2.log"

if GPU_CHECK_LIB_ROOTS=$fake/site GPU_CHECK_STASH=$TMP/stash OUT=$TMP/out \
  bash "$CHECK" libs >"$TMP/libs3.log" 2>&1; then
  echo "FAILED: no libcuda must fail" >&2
  failures=$((failures + 1))
fi
expect "no libcuda is an error" "no libcuda.so\* under" "$TMP/libs3.log"

# --- 2. stages on the CPU path, and stage 2's refusals ---------------------------------------
if [ ! -f .gpu/manifest.txt ]; then
  echo "no .gpu/ bundle: run \`cargo xtask gpu-bundle\` for the stage checks" >&2
  exit 1
fi
export GPU_CHECK_DEVICE=cpu GPU_CHECK_STASH=$TMP/stash OUT=$TMP/out
if ! bash "$CHECK" stage1 >"$TMP/stage1.log" 2>&1; then
  echo "FAILED: stage1 on the CPU path:" >&2
  tail -30 "$TMP/stage1.log" >&2
  failures=$((failures + 1))
fi
expect "stage1 passes on the CPU path" "stage1: every step passed" "$TMP/out/stage1.md"
expect "stage1 reports the tiny models" "| q4k-q6k |" "$TMP/out/stage1.md"

mkdir -p "$TMP/bad"
cp .gpu/manifest.txt "$TMP/bad/"
cp .gpu/model.part2 "$TMP/bad/model.part2"
printf 'x' | dd of="$TMP/bad/model.part2" bs=1 seek=1000 conv=notrunc status=none
GPU_CHECK_BUNDLE=$TMP/bad bash "$CHECK" stage2 >"$TMP/bad.log" 2>&1 || true
expect "a corrupted part 2 is refused" "model.part2: SHA-256 .*, expected $(sed -n 's/^part2_sha256=//p' .gpu/manifest.txt)" "$TMP/bad.log"
expect "and the report names the step" "FAILED: join the model parts" "$TMP/out/stage2.md"

rm "$TMP/stash/model.part1"
bash "$CHECK" stage2 >"$TMP/fresh.log" 2>&1 || true
expect "a machine without stage 1's files is named" "given back between the calls" "$TMP/fresh.log"
cp .gpu/model.part1 "$TMP/stash/"

# --- 3. end to end ---------------------------------------------------------------------------
if [ "${1:-}" = --full ]; then
  GPU_CHECK_TOKENS=${GPU_CHECK_TOKENS:-8} GPU_CHECK_PROMPT_CHARS=${GPU_CHECK_PROMPT_CHARS:-300} \
    bash "$CHECK" stage2 >"$TMP/stage2.log" 2>&1 || true
  cat "$TMP/out/stage2.md"
  expect "stage2 passes on the CPU path" "stage2: every step passed" "$TMP/out/stage2.md"
fi

if [ "$failures" -ne 0 ]; then
  echo "gpu-check-selftest: $failures check(s) failed" >&2
  exit 1
fi
echo "gpu-check-selftest: every check passed"
