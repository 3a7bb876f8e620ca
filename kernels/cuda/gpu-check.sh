#!/usr/bin/env bash
# The on-GPU check of the CUDA backend, for the device machine: an NVIDIA GPU, its driver,
# CUDA 13 libraries and python3 with torch, but no Rust and no network. Everything it runs was
# built elsewhere by `cargo xtask gpu-bundle` into the ignored folder .gpu/, and the pinned
# model arrives in two parts, one per device call (each call carries at most 64 MiB):
#
#   gpu-check.sh stage1   probe the machine (GPU, driver, where libcuda and libnvrtc are); make
#                         them findable for cudarc; keep the binaries and model part 1 for stage
#                         2; run every tiny model (each weight format) on the GPU and the CPU and
#                         compare the digests.
#   gpu-check.sh stage2   join the model and check its SHA-256 against the pinned one; run the
#                         cuda_engine tests (golden digests alone, batched and chunked; the first
#                         step's logits bit for bit against the CPU); time detinfer on the GPU
#                         and the CPU on the same requests (same digest required) and the torch
#                         peer (torch_peer.py, the non-deterministic path) on the same prompts.
#   gpu-check.sh sanitize after stage 1, if time is left: NVIDIA's compute-sanitizer (when the
#                         machine has it) runs a tiny model on the GPU under racecheck, synccheck,
#                         initcheck and memcheck: the races and barrier misuse the CPU emulator
#                         can only make likely to show, checked on the hardware.
#   gpu-check.sh libs     only find the libraries and print the environment it would use.
#
# Each stage writes <stage>.md (the report, every figure) and <stage>.log (every step's full
# output) to $OUT, also when a step fails; it ends non-zero, naming the failed steps.
#
# Environment (defaults in brackets):
#   OUT                  where the report and the log go [target/gpu-check]
#   GPU_CHECK_DEVICE     cuda, or cpu to run the "GPU" side on the CPU (to test this script on a
#                        machine without a GPU; the cuda_engine tests are then skipped) [cuda]
#   GPU_CHECK_BUNDLE     the folder gpu-bundle wrote [.gpu]
#   GPU_CHECK_STASH      where stage 1 keeps what stage 2 needs [/var/tmp/ai-oracle-gpu-check]
#   GPU_CHECK_LIB_ROOTS  colon-separated folders searched for libcuda and libnvrtc [the usual]
#   GPU_CHECK_PYTHON     the python with torch and numpy [python3]
#   GPU_CHECK_TOKENS     tokens each timed request generates [128]
#   GPU_CHECK_PROMPT_CHARS  characters of the long raw prompt (kernels/cuda/README.md) [2400]
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."

STAGE=${1:-}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
BUNDLE=${GPU_CHECK_BUNDLE:-.gpu}
STASH=${GPU_CHECK_STASH:-/var/tmp/ai-oracle-gpu-check}
PYTHON=${GPU_CHECK_PYTHON:-python3}
TOKENS=${GPU_CHECK_TOKENS:-128}
PROMPT_CHARS=${GPU_CHECK_PROMPT_CHARS:-2400}
OUT=${OUT:-target/gpu-check}
BIN=$STASH/bin
MODELS=$STASH/models

case "$STAGE" in
  stage1 | stage2 | sanitize | libs) ;;
  *)
    echo "usage: $0 stage1|stage2|sanitize|libs (see the comment at the top)" >&2
    exit 2
    ;;
esac
case "$DEVICE" in
  cuda | cpu) ;;
  *)
    echo "GPU_CHECK_DEVICE must be cuda or cpu, not '$DEVICE'" >&2
    exit 2
    ;;
esac

# ---------------------------------------------------------------------------------------------
# Report, log and steps.

mkdir -p "$OUT" "$STASH"
REPORT=$OUT/$STAGE.md
LOG=$OUT/$STAGE.log
FAILED=()
CURRENT="start"

# Appends a line to the report and prints it.
say() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# Runs "$@" (a command or a function) as one step: its output goes to the log and is echoed;
# its status is left in STEP_RC and recorded, and the stage goes on. Call it as a plain command,
# never under `if`, `||` or `&&`: bash ignores -e in functions called where a status is tested,
# down into their background jobs. The step runs as a background job and is waited for, so
# that -e holds inside it and its failure does not end the stage.
step() {
  local name=$1 rc=0 started=$SECONDS offset
  shift
  CURRENT=$name
  offset=$(($(wc -c <"$LOG") + 1))
  printf '\n==> %s\n' "$name" >>"$LOG"
  "$@" >>"$LOG" 2>&1 &
  wait $! || rc=$?
  tail -c +"$offset" "$LOG"
  if [ "$rc" -ne 0 ]; then
    FAILED+=("$name")
    say "- **FAILED: $name** (exit $rc after $((SECONDS - started)) s; see $STAGE.log)"
    echo "gpu-check: step '$name' failed with exit $rc" >&2
  else
    say "- ok: $name ($((SECONDS - started)) s)"
  fi
  STEP_RC=$rc
}

# A step the rest depends on: on failure the stage ends here (the report says so).
require() {
  step "$@"
  if [ "$STEP_RC" -ne 0 ]; then
    echo "gpu-check: cannot go on without '$1'" >&2
    exit 1
  fi
}

finish() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "${#FAILED[@]}" -eq 0 ]; then
    FAILED+=("$CURRENT")
  fi
  say ""
  if [ "${#FAILED[@]}" -eq 0 ]; then
    say "**$STAGE: every step passed** ($SECONDS s in all)"
  else
    say "**$STAGE: FAILED** — $(printf '%s; ' "${FAILED[@]}")($SECONDS s in all)"
  fi
  cp "$REPORT" "$STASH/" 2>/dev/null || true
  [ "${#FAILED[@]}" -eq 0 ] || exit 1
}
trap finish EXIT

: >"$LOG"
printf '# gpu-check %s (device %s)\n\n' "$STAGE" "$DEVICE" >"$REPORT"

# ---------------------------------------------------------------------------------------------
# Libraries: cudarc (feature cuda-12040) opens libcuda.so / libcuda.so.1 and libnvrtc.so or
# libnvrtc.so.{12,11,10,9,1} — never libnvrtc.so.13, which is all a CUDA 13 machine may have.
# So link the newest NVRTC that the driver can run (its version ≤ the driver's CUDA version)
# and the driver's libcuda into a folder of ours under the names cudarc tries, and put that
# folder, NVRTC's own (libnvrtc-builtins) and the driver's first on LD_LIBRARY_PATH.

# The driver's folder, the CUDA toolkits, the system's library folders, and the nvidia/ folder
# (CUDA wheels such as nvidia-cuda-nvrtc) of python's site-packages.
default_lib_roots() {
  local roots=/usr/local/nvidia:/usr/local/cuda:/usr/lib/x86_64-linux-gnu:/usr/lib64
  local d
  for d in /usr/local/cuda-*; do
    [ -d "$d" ] && roots=$roots:$d
  done
  roots=$roots:$("$PYTHON" -c 'import site; print(":".join(d + "/nvidia" for d in site.getsitepackages()))' 2>/dev/null || true)
  echo "$roots"
}

# Whether $1 is a 64-bit ELF file (the driver folder also holds 32-bit libraries).
is_elf64() { [ "$(head -c 5 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF002' ]; }

# Lists the 64-bit libraries named like $1 under the roots, links resolved, in the roots' order,
# once each.
find_named() {
  local pattern=$1 root
  local IFS=:
  for root in $LIB_ROOTS; do
    [ -d "$root" ] || continue
    find -L "$root" -maxdepth 8 -name stubs -prune -o -name "$pattern" -print 2>/dev/null || true
  done | while read -r f; do
    f=$(readlink -f "$f")
    if is_elf64 "$f"; then echo "$f"; fi
  done | awk '!seen[$0]++'
}

# "13.0.88" from ".../libnvrtc.so.13.0.88".
version_of() { basename "$1" | sed -n 's/^lib[a-z]*\.so\.\([0-9][0-9.]*\)$/\1/p'; }

# Whether version $1 (e.g. 13.1.80) is of a newer CUDA than $2 (e.g. 13.0); no if $2 is empty.
newer_than() {
  local mm
  mm=$(cut -d. -f1-2 <<<"$1")
  [ -n "$2" ] && [ "$mm" != "$2" ] && [ "$(printf '%s\n%s\n' "$mm" "$2" | sort -V | tail -1)" = "$mm" ]
}

# The driver's CUDA version as "13.0", from nvidia-smi, or empty.
driver_cuda_version() {
  command -v nvidia-smi >/dev/null || return 0
  nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | sed -n 1p
}

# Picks the libraries, makes the link folder and writes $STASH/libs.env.
find_libs() {
  LIB_ROOTS=${GPU_CHECK_LIB_ROOTS:-$(default_lib_roots)}
  echo "searching: $LIB_ROOTS"
  local cuda nvrtc driver best="" v f
  cuda=$(find_named 'libcuda.so*' | grep -v '/stubs/' | sed -n 1p || true)
  if [ -z "$cuda" ]; then
    echo "no libcuda.so* under $LIB_ROOTS: is the NVIDIA driver mounted?" >&2
    return 1
  fi
  echo "libcuda: $cuda"
  driver=$(driver_cuda_version)
  echo "driver's CUDA version: ${driver:-unknown}"
  local candidates
  candidates=$(find_named 'libnvrtc.so*' | grep -v builtins || true)
  if [ -z "$candidates" ]; then
    echo "no libnvrtc.so* under $LIB_ROOTS (CUDA toolkit or the nvidia-cuda-nvrtc wheel)" >&2
    return 1
  fi
  echo "NVRTC candidates:"
  while read -r f; do
    v=$(version_of "$f")
    echo "  $f (version ${v:-?})"
    [ -n "$v" ] || continue
    if newer_than "$v" "$driver"; then
      echo "    (newer than the driver's CUDA $driver: its PTX would not load)"
      continue
    fi
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$(version_of "$best")" "$v" | sort -V | tail -1)" = "$v" ]; then
      best=$f
    fi
  done <<<"$candidates"
  if [ -z "$best" ]; then
    echo "no NVRTC with a version the driver (CUDA $driver) can run" >&2
    return 1
  fi
  nvrtc=$best
  echo "NVRTC: $nvrtc"
  if ! ls "$(dirname "$nvrtc")"/libnvrtc-builtins.so* >/dev/null 2>&1; then
    echo "warning: no libnvrtc-builtins.so* beside $nvrtc; NVRTC may fail to compile" >&2
  fi
  local links=$STASH/libs
  rm -rf "$links"
  mkdir -p "$links"
  ln -s "$nvrtc" "$links/libnvrtc.so"
  ln -s "$cuda" "$links/libcuda.so"
  ln -s "$cuda" "$links/libcuda.so.1"
  local path
  path="$links:$(dirname "$nvrtc"):$(dirname "$cuda")"
  printf 'export LD_LIBRARY_PATH=%q\n' "$path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" >"$STASH/libs.env"
  echo "wrote $STASH/libs.env:"
  cat "$STASH/libs.env"
}

# Opens both libraries the way cudarc will and asks their versions.
check_libs() {
  "$PYTHON" - <<'EOF'
import ctypes
nvrtc = ctypes.CDLL("libnvrtc.so")
major, minor = ctypes.c_int(), ctypes.c_int()
assert nvrtc.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)) == 0, "nvrtcVersion failed"
print(f"libnvrtc.so opens: NVRTC {major.value}.{minor.value}")
cuda = ctypes.CDLL("libcuda.so")
rc = cuda.cuInit(0)
assert rc == 0, f"cuInit failed with CUresult {rc}"
version, count = ctypes.c_int(), ctypes.c_int()
assert cuda.cuDriverGetVersion(ctypes.byref(version)) == 0
assert cuda.cuDeviceGetCount(ctypes.byref(count)) == 0
print(f"libcuda.so opens: driver CUDA {version.value // 1000}.{version.value % 1000 // 10}, {count.value} device(s)")
assert count.value > 0, "no CUDA device"
EOF
}

# The kernels through the NVRTC we linked, for this GPU's architecture, with the compile log.
nvrtc_compile() {
  local cap
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | sed -n 1p | tr -d .)
  "$PYTHON" kernels/cuda/nvrtc_compile.py --arch "compute_$cap"
}

# ---------------------------------------------------------------------------------------------
# Pieces of the stages.

manifest() { sed -n "s/^$1=//p" "$BUNDLE/manifest.txt" "$STASH/manifest.txt" 2>/dev/null | sed -n 1p; }

# The pinned SHA-256 as the source states it (kernels/src/model_cache.rs, DEFAULT_MODEL).
pinned_sha256() {
  awk '/pub const DEFAULT_MODEL/,/^};/' kernels/src/model_cache.rs | sed -n 's/.*sha256: "\([0-9a-f]\{64\}\)".*/\1/p'
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

check_sha() {
  local file=$1 want=$2 got
  got=$(sha_of "$file")
  if [ "$got" != "$want" ]; then
    echo "$file: SHA-256 $got, expected $want" >&2
    return 1
  fi
  echo "$file: SHA-256 $got as expected"
}

probe() {
  uname -srm
  sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null || true
  ldd --version 2>&1 | sed -n 1p
  echo "cpus: $(nproc)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv
    nvidia-smi | sed -n 's/.*\(CUDA Version: [0-9.]*\).*/\1/p'
  else
    echo "no nvidia-smi"
  fi
  if command -v nvcc >/dev/null; then nvcc --version | tail -2; else echo "no nvcc"; fi
  "$PYTHON" -c 'import torch, numpy; print("python torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "numpy", numpy.__version__)' ||
    echo "$PYTHON has no torch or numpy: stage 2's peer needs them (GPU_CHECK_PYTHON)"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  ldd "$BIN/detinfer"
}

# Checks the bundle's files under each of "$@" (a folder ending in /, or a file) against the
# SHA-256s in its manifest, which gpu-bundle writes last (a bundle that failed on the way has
# none): every file listed there must match, and every model (*.gguf) of a folder be listed.
verify_bundle() {
  local listed names selected="" item f
  if [ ! -f "$BUNDLE/manifest.txt" ]; then
    echo "$BUNDLE/manifest.txt is missing: run \`cargo xtask gpu-bundle\` (to its end) and carry it" \
      "(see kernels/cuda/README.md)" >&2
    return 1
  fi
  listed=$(sed -n 's/^file_sha256=//p' "$BUNDLE/manifest.txt")
  names=$(sed 's/^[0-9a-f]*  //' <<<"$listed")
  if [ -z "$listed" ]; then
    echo "$BUNDLE/manifest.txt lists no file hashes: it is not from a complete run of the current" \
      "\`cargo xtask gpu-bundle\`; bundle again and carry it (see kernels/cuda/README.md)" >&2
    return 1
  fi
  for item in "$@"; do
    if ! grep -F "  $item" <<<"$listed" >/dev/null; then
      echo "$BUNDLE/manifest.txt lists nothing for $item: bundle again" >&2
      return 1
    fi
    selected+=$(grep -F "  $item" <<<"$listed")$'\n'
    case "$item" in
      */)
        while read -r f; do
          if ! grep -qxF -- "${f#"$BUNDLE"/}" <<<"$names"; then
            echo "$f is not in $BUNDLE/manifest.txt: not part of this bundle; bundle again" >&2
            return 1
          fi
        done < <(find "$BUNDLE/$item" -type f -name '*.gguf')
        ;;
    esac
  done
  if ! (cd "$BUNDLE" && sha256sum --check --strict --quiet) <<<"${selected%$'\n'}"; then
    echo "the files in $BUNDLE do not match the SHA-256s in its manifest (above): the bundle is" \
      "incomplete or was changed after \`cargo xtask gpu-bundle\`; bundle again and carry it" >&2
    return 1
  fi
  echo "$(grep -c . <<<"$selected") files of $BUNDLE match the SHA-256s in its manifest"
}

stash() {
  for f in bin/detinfer bin/cuda_engine manifest.txt model.part1; do
    [ -f "$BUNDLE/$f" ] || {
      echo "$BUNDLE/$f is missing: run \`cargo xtask gpu-bundle\` and carry it (see kernels/cuda/README.md)" >&2
      return 1
    }
  done
  verify_bundle bin/ tiny/ model.part1 || return 1
  mkdir -p "$BIN"
  cp "$BUNDLE/bin/detinfer" "$BUNDLE/bin/cuda_engine" "$BIN/"
  chmod +x "$BIN"/*
  cp "$BUNDLE/manifest.txt" "$STASH/"
  check_sha "$BUNDLE/model.part1" "$(manifest part1_sha256)"
  cp "$BUNDLE/model.part1" "$STASH/"
  echo "bundle of commit $(manifest commit) kept in $STASH"
}

# detinfer on $DEVICE or cpu: detinfer_on DEVICE ARGS...
detinfer_on() {
  local on=$1
  shift
  timeout --kill-after=10 240 "$BIN/detinfer" --device "$on" "$@"
}

digest_of() { sed -n 's/^digest: *//p'; }

# GPU time by kernel (DET_CUDA_PROFILE) for the long prompt's prefill alone (one output token
# needs no decode step), then for the prefill and 64 decode steps; the tables go to the report.
profile_kernels() {
  local prompt out tokens
  prompt=$(head -c "$PROMPT_CHARS" kernels/cuda/README.md)
  for tokens in 1 65; do
    out=$(DET_CUDA_PROFILE=1 detinfer_on cuda --raw --max-tokens "$tokens" "$prompt" 2>&1)
    printf '%s\n' "$out"
    {
      echo ""
      echo "long prompt, $tokens output token(s):"
      echo '```text'
      sed -n '/^GPU time by kernel/,$p' <<<"$out"
      echo '```'
    } >>"$STASH/profile.md"
  done
}

# Every tiny model (one per weight format) on $DEVICE and on the CPU: the digests must agree.
tiny_models() {
  local m gpu cpu bad=0 args=(--raw --max-tokens 24 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 7 --runs 2)
  [ -n "$(ls "$BUNDLE"/tiny/*.gguf 2>/dev/null)" ] || {
    echo "no tiny models in $BUNDLE/tiny" >&2
    return 1
  }
  echo "| tiny model | $DEVICE digest | cpu digest | equal |" >"$STASH/tiny.md"
  echo "|---|---|---|---|" >>"$STASH/tiny.md"
  for m in "$BUNDLE"/tiny/*.gguf; do
    gpu=$(detinfer_on "$DEVICE" --model "$m" "${args[@]}" "the cat is here" | tee /dev/stderr | digest_of)
    cpu=$(detinfer_on cpu --model "$m" "${args[@]}" "the cat is here" | tee /dev/stderr | digest_of)
    local same=yes
    if [ -z "$gpu" ] || [ "$gpu" != "$cpu" ]; then
      same=NO
      bad=1
    fi
    echo "| $(basename "$m" .gguf) | ${gpu:0:16}… | ${cpu:0:16}… | $same |" >>"$STASH/tiny.md"
  done
  cat "$STASH/tiny.md"
  return "$bad"
}

# compute-sanitizer's path, from PATH or the usual CUDA folders; empty when the machine has none.
find_sanitizer() {
  local s
  for s in "$(command -v compute-sanitizer 2>/dev/null || true)" /usr/local/cuda/bin/compute-sanitizer \
    /usr/local/cuda-*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer; do
    if [ -n "$s" ] && [ -x "$s" ]; then
      echo "$s"
      return 0
    fi
  done
}

# Every tiny model on the GPU under compute-sanitizer's tool $1; any finding fails the step.
# The 12-token prompt runs the tiled product on each model's layer format, the decode steps
# the per-token one and the tied head's format. Freed buffers are not reused
# (DET_CUDA_NO_POOL): a reused one holds an earlier kernel's bytes, which initcheck would not
# flag if read before written.
sanitize_with() {
  local model
  for model in "$BUNDLE"/tiny/*.gguf; do
    DET_CUDA_NO_POOL=1 timeout --kill-after=10 120 "$SANITIZER" --tool "$1" --error-exitcode 3 \
      "$BIN/detinfer" --device cuda --model "$model" --raw --max-tokens 4 "the cat is here"
  done
}

join_model() {
  local file part2_sha pinned
  file=$(manifest model_file)
  [ -f "$STASH/model.part1" ] || {
    echo "$STASH/model.part1 is missing: this machine is not the one stage 1 ran on (it was" \
      "given back between the calls). Make both calls again, the second right after the first." >&2
    return 1
  }
  [ -f "$BUNDLE/model.part2" ] || {
    echo "$BUNDLE/model.part2 is missing: carry it in this call" >&2
    return 1
  }
  part2_sha=$(manifest part2_sha256)
  check_sha "$BUNDLE/model.part2" "$part2_sha"
  pinned=$(pinned_sha256)
  [ -n "$pinned" ] || {
    echo "cannot read the pinned SHA-256 from kernels/src/model_cache.rs" >&2
    return 1
  }
  if [ "$pinned" != "$(manifest model_sha256)" ]; then
    echo "the bundle's model ($(manifest model_sha256)) is not the pinned one ($pinned): bundle again" >&2
    return 1
  fi
  mkdir -p "$MODELS"
  cat "$STASH/model.part1" "$BUNDLE/model.part2" >"$MODELS/$file.partial"
  check_sha "$MODELS/$file.partial" "$pinned"
  mv "$MODELS/$file.partial" "$MODELS/$file"
}

cuda_engine_tests() {
  timeout --kill-after=10 300 "$BIN/cuda_engine" --ignored --nocapture --test-threads=1
}

# "12 tokens in 0.010 s (1200.0 tok/s)" → 1200.0, from detinfer's line starting with $1.
rate() { sed -n "s/^$1: .*(\([0-9.inf]*\) tok\/s)$/\1/p"; }
ids() { sed -n "s/^$1 ids: //p"; }

# The torch peer on the model, with the library path the machine had before ours (torch brings
# its own CUDA libraries; the toolkit's folder first on the path could shadow them).
peer() {
  if [ -n "${ORIGINAL_LD_LIBRARY_PATH+set}" ]; then
    LD_LIBRARY_PATH=$ORIGINAL_LD_LIBRARY_PATH timeout 240 "$PYTHON" kernels/cuda/torch_peer.py --model "$AI_ORACLE_MODEL" "$@"
  else
    env -u LD_LIBRARY_PATH timeout 240 "$PYTHON" kernels/cuda/torch_peer.py --model "$AI_ORACLE_MODEL" "$@"
  fi
}

# One timed workload: timed NAME MODE PROMPT. Ours on $DEVICE (3 runs, the last timed) and on
# the CPU; the digests must agree; then the torch peer on the same prompt ids, f16 (timed) and
# f32 (agreement). Appends a row to $STASH/timing.tsv.
timed() {
  local name=$1 mode=$2 prompt=$3 raw=() gpu cpu peer16 peer32
  [ "$mode" = raw ] && raw=(--raw)
  gpu=$(detinfer_on "$DEVICE" "${raw[@]}" --max-tokens "$TOKENS" --runs 3 --print-token-ids "$prompt")
  printf '%s\n' "$gpu"
  cpu=$(detinfer_on cpu "${raw[@]}" --max-tokens "$TOKENS" --print-token-ids "$prompt")
  printf '%s\n' "$cpu"
  local gd cd
  gd=$(digest_of <<<"$gpu")
  cd=$(digest_of <<<"$cpu")
  local prompt_ids out_ids n
  prompt_ids=$(ids prompt <<<"$gpu")
  out_ids=$(ids output <<<"$gpu")
  n=$(wc -w <<<"$out_ids")
  local peer_device=$DEVICE peer_dtype=f16
  [ "$DEVICE" = cpu ] && peer_dtype=f32
  peer16=$(peer --prompt-ids "$prompt_ids" --max-tokens "$n" --device "$peer_device" --dtype "$peer_dtype" --runs 3)
  echo "peer $peer_dtype: $peer16"
  peer32=$(peer --prompt-ids "$prompt_ids" --max-tokens "$n" --device "$peer_device" --dtype f32 --runs 1)
  echo "peer f32: $peer32"
  "$PYTHON" - "$name" "$gd" "$cd" "$(rate prompt <<<"$gpu")" "$(rate output <<<"$gpu")" \
    "$(rate prompt <<<"$cpu")" "$(rate output <<<"$cpu")" "$out_ids" "$peer16" "$peer32" \
    >>"$STASH/timing.tsv" <<'EOF'
import json, sys
name, gd, cd, gp, go, cp, co, ours, p16, p32 = sys.argv[1:]
ours = ours.split()
p16, p32 = json.loads(p16), json.loads(p32)
def agree(a, b):
    n = 0
    for x, y in zip(a, b):
        if str(x) != str(y):
            break
        n += 1
    return n
gp, go, cp, co = map(float, (gp, go, cp, co))
row = [name, str(p16["prompt_tokens"]), str(len(ours)), "yes" if gd == cd and gd else "NO",
       f"{gp:.1f}", f"{go:.1f}", f"{cp:.1f}", f"{co:.1f}",
       f"{p16['prefill_tok_s']:.1f}", f"{p16['decode_tok_s']:.1f}",
       f"{p16['prefill_tok_s'] / gp:.2f}", f"{p16['decode_tok_s'] / go:.2f}",
       f"{agree(ours, p16['output_ids'])}/{len(ours)}", f"{agree(ours, p32['output_ids'])}/{len(ours)}",
       f"{p32['prefill_tok_s']:.1f}", f"{p32['decode_tok_s']:.1f}"]
print("\t".join(row))
EOF
  tail -1 "$STASH/timing.tsv"
  if [ -z "$gd" ] || [ "$gd" != "$cd" ]; then
    echo "$name: the $DEVICE digest ($gd) differs from the CPU's ($cd)" >&2
    return 1
  fi
}

timing_table() {
  say ""
  local dtype=f16
  [ "$DEVICE" = cpu ] && dtype=f32
  say "Speed: ours (detinfer, $DEVICE; the last of 3 runs) vs the CPU engine and the torch peer"
  say "($dtype weights on $DEVICE; median of 3 after a warm-up) on the same prompt ids and token count."
  say "ratio = our time / the peer's time (target ≤ 1.2). agree = leading tokens equal to ours."
  say ""
  say "| workload | prompt tok | output tok | digest $DEVICE = cpu | ours prefill tok/s | ours decode tok/s | cpu prefill tok/s | cpu decode tok/s | peer prefill tok/s | peer decode tok/s | prefill ratio | decode ratio | agree f16 | agree f32 | peer f32 prefill tok/s | peer f32 decode tok/s |"
  say "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r -a row; do
    say "| $(printf '%s | ' "${row[@]}")"
  done <"$STASH/timing.tsv"
}

# ---------------------------------------------------------------------------------------------

if [ -n "${LD_LIBRARY_PATH+set}" ]; then
  ORIGINAL_LD_LIBRARY_PATH=$LD_LIBRARY_PATH
fi

if [ "$STAGE" = libs ]; then
  find_libs
  exit 0
fi

# The manifest names the commit (and -dirty) the bundle was built from; `git describe` here
# would not: the device's copy of the working tree came with an older .git.
say "commit of the bundle: $(manifest commit)"
say ""

if [ "$STAGE" = sanitize ]; then
  if [ "$DEVICE" != cuda ]; then
    say "- skipped: sanitize needs GPU_CHECK_DEVICE=cuda"
    exit 0
  fi
  [ -x "$BIN/detinfer" ] || {
    echo "run stage1 first: no binaries in $BIN" >&2
    exit 1
  }
  SANITIZER=$(find_sanitizer)
  if [ -z "$SANITIZER" ]; then
    say "- skipped: no compute-sanitizer on this machine"
    exit 0
  fi
  require "check the tiny models against the bundle's manifest" verify_bundle tiny/
  require "find libcuda and NVRTC" find_libs
  # shellcheck disable=SC1091
  source "$STASH/libs.env"
  for tool in racecheck synccheck initcheck memcheck; do
    step "compute-sanitizer --tool $tool: every tiny model on the GPU" sanitize_with "$tool"
  done
  exit 0
fi

if [ "$STAGE" = stage1 ]; then
  require "keep the binaries and model part 1 in $STASH" stash
  step "probe the machine" probe
  if [ "$DEVICE" = cuda ]; then
    require "find libcuda and NVRTC" find_libs
    # shellcheck disable=SC1091
    source "$STASH/libs.env"
    step "NVRTC compiles the kernels as the backend does" nvrtc_compile
    require "open libcuda and NVRTC" check_libs
  fi
  step "tiny models: $DEVICE digests equal the CPU's" tiny_models
  [ -f "$STASH/tiny.md" ] && { say ""; cat "$STASH/tiny.md" >>"$REPORT"; }
  grep -h '^loaded .*CUDA' "$LOG" | sed -n 1p | sed 's/^/first GPU load (NVRTC compile included): /' | tee -a "$REPORT" || true
  exit 0
fi

# stage2
[ -f "$STASH/stage1.md" ] && cp "$STASH/stage1.md" "$OUT/"
require "join the model parts and check the pinned SHA-256" join_model
export AI_ORACLE_MODEL_CACHE=$MODELS
AI_ORACLE_MODEL=$MODELS/$(manifest model_file)
export AI_ORACLE_MODEL
if [ "$DEVICE" = cuda ]; then
  require "find libcuda and NVRTC" find_libs
  # shellcheck disable=SC1091
  source "$STASH/libs.env"
  step "cuda_engine: goldens alone/batched/chunked and logits bit for bit" cuda_engine_tests
  say ""
  grep -h -e '^[0-9a-f]\{64\}: prompt' -e '^test result' -e '^test .* \.\.\. ' "$LOG" | sed 's/^/    /' >>"$REPORT" || true
  say ""
else
  say "- skipped: cuda_engine tests (GPU_CHECK_DEVICE=cpu)"
fi
: >"$STASH/timing.tsv"
step "time: chat, $TOKENS tokens" timed chat chat \
  "Write a short paragraph about the history of the printing press."
step "time: long raw prompt, $TOKENS tokens" timed long-prompt raw \
  "$(head -c "$PROMPT_CHARS" kernels/cuda/README.md)"
timing_table
if [ "$DEVICE" = cuda ]; then
  : >"$STASH/profile.md"
  step "profile: GPU time by kernel" profile_kernels
  cat "$STASH/profile.md" >>"$REPORT"
fi
