//! A weight matrix as stored in the GGUF file: its format, shape and raw block bytes.

use super::format::WeightFormat;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum QuantError {
    #[error("{format} rows must be a multiple of {block} elements, got {cols}")]
    RaggedRow {
        format: &'static str,
        block: usize,
        cols: usize,
    },
    #[error("matrix of {rows}×{cols} {format} needs {needed} bytes, got {got}")]
    WrongSize {
        format: &'static str,
        rows: usize,
        cols: usize,
        needed: usize,
        got: usize,
    },
    #[error("a {rows}×{cols} {format} matrix is larger than memory can address")]
    TooLarge {
        format: &'static str,
        rows: usize,
        cols: usize,
    },
}

/// A row-major matrix (`rows` rows of `cols` elements) in one of the GGUF formats.
#[derive(Debug, Clone)]
pub struct QMatrix {
    format: WeightFormat,
    rows: usize,
    cols: usize,
    data: Arc<Vec<u8>>,
    start: usize,
}

impl QMatrix {
    /// A matrix over `data[start..]`; checks that the bytes cover the shape.
    pub fn new(
        format: WeightFormat,
        rows: usize,
        cols: usize,
        data: Arc<Vec<u8>>,
        start: usize,
    ) -> Result<Self, QuantError> {
        let block = format.block_len();
        if !cols.is_multiple_of(block) || (format.is_quantized() && !cols.is_multiple_of(32)) {
            return Err(QuantError::RaggedRow {
                format: format.name(),
                block,
                cols,
            });
        }
        let needed = Self::byte_len(format, rows, cols).ok_or(QuantError::TooLarge {
            format: format.name(),
            rows,
            cols,
        })?;
        let got = data.len().saturating_sub(start);
        if got < needed {
            return Err(QuantError::WrongSize {
                format: format.name(),
                rows,
                cols,
                needed,
                got,
            });
        }
        Ok(Self {
            format,
            rows,
            cols,
            data,
            start,
        })
    }

    /// Bytes a `rows × cols` matrix of `format` occupies (`None` past `usize`).
    pub fn byte_len(format: WeightFormat, rows: usize, cols: usize) -> Option<usize> {
        (cols / format.block_len())
            .checked_mul(format.block_bytes())?
            .checked_mul(rows)
    }

    pub fn format(&self) -> WeightFormat {
        self.format
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The whole matrix's block bytes, row after row.
    pub fn bytes(&self) -> &[u8] {
        let len = Self::byte_len(self.format, self.rows, self.cols).expect("checked by new");
        &self.data[self.start..self.start + len]
    }

    pub fn row_bytes(&self, r: usize) -> &[u8] {
        let len = self.cols / self.format.block_len() * self.format.block_bytes();
        let at = self.start + r * len;
        &self.data[at..at + len]
    }
}
