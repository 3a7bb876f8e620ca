//! Reading a GGUF file's header (metadata and tensor table) so that a malformed file is an
//! error, never a panic: the parser divides by the file's `general.alignment`, which a corrupt
//! or hostile file may set to zero.

use candle_core::quantized::gguf_file::Content;
use std::io::{Read, Seek};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The header of the GGUF file `reader` holds, or why it is not one.
pub fn read_header<R: Read + Seek>(reader: &mut R) -> Result<Content, String> {
    match catch_unwind(AssertUnwindSafe(|| Content::read(reader))) {
        Ok(header) => header.map_err(|e| e.to_string()),
        Err(_) => Err("malformed header (is general.alignment zero?)".into()),
    }
}
