//! A quick look inside a GGUF file: architecture, sizes and tensor types, without loading weights.

use crate::model::read_header;
use crate::model_cache::open_regular_file;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ModelInfoError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a readable GGUF file: {reason}")]
    NotGguf { path: PathBuf, reason: String },
}

/// What the header of a GGUF file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufSummary {
    pub architecture: Option<String>,
    pub name: Option<String>,
    pub tensor_count: usize,
    /// Number of tensors per GGML type, e.g. `Q4_1 -> 210`.
    pub tensors_by_type: BTreeMap<String, usize>,
    pub parameter_count: u64,
    pub block_count: Option<u32>,
    pub context_length: Option<u32>,
}

impl GgufSummary {
    pub fn read(path: &Path) -> Result<Self, ModelInfoError> {
        let file = open_regular_file(path).map_err(|source| ModelInfoError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let content =
            read_header(&mut BufReader::new(file)).map_err(|reason| ModelInfoError::NotGguf {
                path: path.to_path_buf(),
                reason,
            })?;
        let text = |key: &str| {
            content
                .metadata
                .get(key)
                .and_then(|v| v.to_string().ok().cloned())
        };
        let architecture = text("general.architecture");
        let number = |suffix: &str| {
            let arch = architecture.as_deref()?;
            content
                .metadata
                .get(&format!("{arch}.{suffix}"))
                .and_then(|v| v.to_u32().ok())
        };
        let mut tensors_by_type = BTreeMap::new();
        let mut parameter_count = 0u64;
        for info in content.tensor_infos.values() {
            *tensors_by_type
                .entry(format!("{:?}", info.ggml_dtype))
                .or_insert(0) += 1;
            let elements = info
                .shape
                .dims()
                .iter()
                .fold(1u64, |n, &d| n.saturating_mul(d as u64));
            parameter_count = parameter_count.saturating_add(elements);
        }
        Ok(Self {
            name: text("general.name"),
            block_count: number("block_count"),
            context_length: number("context_length"),
            architecture,
            tensor_count: content.tensor_infos.len(),
            tensors_by_type,
            parameter_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{gguf_file, gguf_file::Value, GgmlDType, QTensor};
    use candle_core::{Device, Tensor};
    use std::fs::File;

    fn write_tiny_gguf(path: &Path) {
        write_tiny_gguf_with(path, None);
    }

    /// The tiny file, with `general.alignment` set to `alignment` when given.
    fn write_tiny_gguf_with(path: &Path, alignment: Option<u32>) {
        let device = Device::Cpu;
        let weights = Tensor::arange(0f32, 64.0, &device)
            .unwrap()
            .reshape((2, 32))
            .unwrap();
        let q8 = QTensor::quantize(&weights, GgmlDType::Q8_0).unwrap();
        let norm = QTensor::quantize(
            &Tensor::ones(32, candle_core::DType::F32, &device).unwrap(),
            GgmlDType::F32,
        )
        .unwrap();
        let arch = Value::String("llama".into());
        let blocks = Value::U32(1);
        let alignment = alignment.map(Value::U32);
        let mut metadata = vec![
            ("general.architecture", &arch),
            ("llama.block_count", &blocks),
        ];
        metadata.extend(alignment.as_ref().map(|a| ("general.alignment", a)));
        let mut file = File::create(path).unwrap();
        gguf_file::write(
            &mut file,
            &metadata,
            &[("token_embd.weight", &q8), ("output_norm.weight", &norm)],
        )
        .unwrap();
    }

    #[test]
    fn summarises_a_generated_gguf() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        write_tiny_gguf(&path);
        let summary = GgufSummary::read(&path).unwrap();
        assert_eq!(summary.architecture.as_deref(), Some("llama"));
        assert_eq!(summary.block_count, Some(1));
        assert_eq!(summary.context_length, None);
        assert_eq!(summary.tensor_count, 2);
        assert_eq!(summary.parameter_count, 64 + 32);
        assert_eq!(summary.tensors_by_type.get("Q8_0"), Some(&1));
        assert_eq!(summary.tensors_by_type.get("F32"), Some(&1));
    }

    #[test]
    fn truncated_and_foreign_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        write_tiny_gguf(&path);
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 3, 8, 20, 40] {
            let truncated = dir.path().join(format!("cut{cut}.gguf"));
            std::fs::write(&truncated, &bytes[..cut]).unwrap();
            let err = GgufSummary::read(&truncated).unwrap_err();
            assert!(matches!(err, ModelInfoError::NotGguf { .. }), "{err}");
        }
        let unaligned = dir.path().join("alignment0.gguf");
        write_tiny_gguf_with(&unaligned, Some(0));
        let err = GgufSummary::read(&unaligned).unwrap_err();
        assert!(matches!(err, ModelInfoError::NotGguf { .. }), "{err}");
        let missing = GgufSummary::read(&dir.path().join("absent.gguf")).unwrap_err();
        assert!(matches!(missing, ModelInfoError::Open { .. }));
    }
}
