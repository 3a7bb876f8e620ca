//! The CUDA C source NVRTC compiles: `kernels/cuda/` in dependency order, headers first, their
//! local `#include` and `#pragma once` lines dropped (one translation unit, no include paths).

const FILES: [&str; 6] = [
    include_str!("../../cuda/common.cuh"),
    include_str!("../../cuda/blocks.cuh"),
    include_str!("../../cuda/quant.cu"),
    include_str!("../../cuda/norm.cu"),
    include_str!("../../cuda/elementwise.cu"),
    include_str!("../../cuda/attention.cu"),
];

pub fn source() -> String {
    let mut out = String::new();
    for line in FILES.iter().flat_map(|f| f.lines()) {
        if !line.starts_with("#include \"") && line != "#pragma once" {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_unit_defining_every_kernel() {
        let src = super::source();
        assert!(!src.contains("#include"));
        for name in crate::device::KERNELS {
            // Per-format kernels are stamped out by macros: `DET_EMBED(q8_0, DET_Q8_0)`.
            let defined = match name.split_once('_') {
                Some(("matvec" | "matmul" | "embed", format)) => format!("({format}, DET_"),
                _ => format!("void {name}("),
            };
            assert!(src.contains(&defined), "{name}");
        }
    }
}
