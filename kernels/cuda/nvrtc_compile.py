#!/usr/bin/env python3
"""Compiles the CUDA kernels with NVRTC exactly as the backend does, without a GPU.

The source is built by the rule of kernels/src/cuda/source.rs (the files in dependency order,
their local `#include "…"` and `#pragma once` lines dropped) and compiled with the options of
kernels/src/cuda/nvrtc.rs (`NVRTC_OPTIONS`, then the architecture), for one virtual architecture. It prints the
NVRTC version, the compile log and the PTX size, and checks that the PTX defines every kernel
the backend loads (kernels/src/device/mod.rs). Exit status 1 on a compile error.

    python3 kernels/cuda/nvrtc_compile.py [--nvrtc PATH/libnvrtc.so.13] [--arch compute_90]

Standard library only (ctypes).
"""

import argparse
import ctypes
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FILES = ["common.cuh", "blocks.cuh", "quant.cu", "norm.cu", "elementwise.cu", "attention.cu"]
OPTIONS = ["--ftz=false", "--prec-sqrt=true", "--prec-div=true", "--fmad=false"]


def source():
    lines = []
    for name in FILES:
        for line in (HERE / name).read_text().splitlines():
            if not line.startswith('#include "') and line != "#pragma once":
                lines.append(line)
    return "\n".join(lines) + "\n"


def kernel_names():
    """The KERNELS list of kernels/src/device/mod.rs."""
    text = (ROOT / "kernels/src/device/mod.rs").read_text()
    block = re.search(r"const KERNELS: \[&str; \d+\] = \[(.*?)\];", text, re.S)
    if not block:
        sys.exit("cannot find KERNELS in kernels/src/device/mod.rs")
    return re.findall(r'"([a-z0-9_]+)"', block.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvrtc", default="libnvrtc.so", help="the NVRTC library to open")
    parser.add_argument("--arch", default="compute_90", help="virtual architecture (H200: compute_90)")
    args = parser.parse_args()
    lib = ctypes.CDLL(args.nvrtc)
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p
    print(f"NVRTC {major.value}.{minor.value} ({args.nvrtc}), {args.arch}")

    def check(rc, what):
        if rc != 0:
            sys.exit(f"{what}: {lib.nvrtcGetErrorString(rc).decode()}")

    program = ctypes.c_void_p()
    src = source().encode()
    check(lib.nvrtcCreateProgram(ctypes.byref(program), src, b"kernels.cu", 0, None, None),
          "nvrtcCreateProgram")
    options = OPTIONS + [f"--gpu-architecture={args.arch}"]
    print("options:", " ".join(options))
    argv = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    compiled = lib.nvrtcCompileProgram(program, len(options), argv)
    size = ctypes.c_size_t()
    check(lib.nvrtcGetProgramLogSize(program, ctypes.byref(size)), "nvrtcGetProgramLogSize")
    log = ctypes.create_string_buffer(size.value)
    check(lib.nvrtcGetProgramLog(program, log), "nvrtcGetProgramLog")
    if log.value.strip():
        print(log.value.decode(errors="replace"))
    check(compiled, "nvrtcCompileProgram")
    check(lib.nvrtcGetPTXSize(program, ctypes.byref(size)), "nvrtcGetPTXSize")
    ptx = ctypes.create_string_buffer(size.value)
    check(lib.nvrtcGetPTX(program, ptx), "nvrtcGetPTX")
    text = ptx.value.decode()
    version = re.search(r"^\.version (\S+)", text, re.M)
    entries = set(re.findall(r"\.entry (\w+)\(", text))
    missing = [k for k in kernel_names() if k not in entries]
    print(f"PTX {len(text)} bytes, ISA {version.group(1) if version else '?'}, {len(entries)} kernels")
    if missing:
        sys.exit(f"the PTX lacks kernels the backend loads: {', '.join(missing)}")
    print("every kernel of kernels/src/device/mod.rs is in the PTX")


if __name__ == "__main__":
    main()
