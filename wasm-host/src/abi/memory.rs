//! The contract's linear memory, as the ABI sees it.

use thiserror::Error;

/// What nearcore reports as `MemoryAccessViolation`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MemoryError {
    /// A read or write outside the contract's memory.
    #[error("memory access out of bounds: {len} bytes at offset {ptr}")]
    OutOfBounds { ptr: u64, len: u64 },
    /// A call the contract made would have taken its wasm stack past NEAR's
    /// `max_stack_height` (in finite-wasm's count of frames and operands).
    #[error("the contract's wasm stack exceeded {limit} bytes")]
    StackExhausted { limit: u64 },
}

/// Guest memory: bytes addressed by the contract's 64-bit pointers.
pub trait MemoryLike {
    /// Copies `buf.len()` bytes at `ptr` into `buf`.
    fn read(&self, ptr: u64, buf: &mut [u8]) -> Result<(), MemoryError>;
    /// Writes `data` at `ptr`.
    fn write(&mut self, ptr: u64, data: &[u8]) -> Result<(), MemoryError>;
}

fn range(ptr: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>, MemoryError> {
    let error = || MemoryError::OutOfBounds {
        ptr,
        len: len as u64,
    };
    let start = usize::try_from(ptr).map_err(|_| error())?;
    let end = start.checked_add(len).ok_or_else(error)?;
    if end > size {
        return Err(error());
    }
    Ok(start..end)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MemoryLike for T {
    fn read(&self, ptr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let bytes = self.as_ref();
        buf.copy_from_slice(&bytes[range(ptr, buf.len(), bytes.len())?]);
        Ok(())
    }

    fn write(&mut self, ptr: u64, data: &[u8]) -> Result<(), MemoryError> {
        let bytes = self.as_mut();
        let range = range(ptr, data.len(), bytes.len())?;
        bytes[range].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let mut memory = vec![0u8; 8];
        memory.write(4, &[1, 2, 3, 4]).unwrap();
        let mut buf = [0u8; 2];
        memory.read(5, &mut buf).unwrap();
        assert_eq!(buf, [2, 3]);
        assert!(memory.write(5, &[0; 4]).is_err());
        assert!(memory.read(u64::MAX, &mut buf).is_err());
    }
}
