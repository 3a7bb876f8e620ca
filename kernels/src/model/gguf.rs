//! Reading a GGUF file's header (metadata and tensor table) so that a malformed file is an
//! error, never a panic or an abort: the parser divides by the file's `general.alignment`,
//! which a corrupt or hostile file may set to zero, and would build every element of a huge
//! metadata array (see `metadata_scan.rs`, which refuses those first).

use super::metadata_scan::check_metadata;
use candle_core::quantized::gguf_file::Content;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The header of the GGUF file `reader` holds, or why it is not one.
pub fn read_header<R: Read + Seek>(reader: &mut R) -> Result<Content, String> {
    let start = reader.stream_position().map_err(|e| e.to_string())?;
    check_metadata(reader)?;
    reader
        .seek(SeekFrom::Start(start))
        .map_err(|e| e.to_string())?;
    match catch_unwind(AssertUnwindSafe(|| Content::read(reader))) {
        Ok(header) => header.map_err(|e| e.to_string()),
        Err(_) => Err("malformed header (is general.alignment zero?)".into()),
    }
}
