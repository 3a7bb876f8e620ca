//! The registers contracts pass data through: numbered byte buffers held by the host.

use super::error::HostError;
use std::collections::HashMap;

/// A call's registers, with the protocol's limits on their number and total size.
#[derive(Debug, Default)]
pub struct Registers {
    values: HashMap<u64, Box<[u8]>>,
    total_bytes: u64,
}

impl Registers {
    /// The content of register `id`.
    pub fn get(&self, id: u64) -> Option<&[u8]> {
        self.values.get(&id).map(|v| &v[..])
    }

    /// Replaces register `id`'s content, enforcing at most `max_count` registers of at most
    /// `max_size` bytes and `max_total` bytes together.
    pub fn set(
        &mut self,
        id: u64,
        data: &[u8],
        max_size: u64,
        max_count: u64,
        max_total: u64,
    ) -> Result<(), HostError> {
        let len = data.len() as u64;
        let old = self.values.get(&id).map_or(0, |v| v.len() as u64);
        let total = self.total_bytes - old + len;
        let count = self.values.len() as u64 + u64::from(!self.values.contains_key(&id));
        if len > max_size || count > max_count || total > max_total {
            return Err(HostError::RegistersExceeded {
                limit: max_total,
                count: max_count,
            });
        }
        self.values.insert(id, data.into());
        self.total_bytes = total;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_and_size() {
        let mut registers = Registers::default();
        registers.set(1, b"abc", 10, 2, 6).unwrap();
        registers.set(1, b"abcdef", 10, 2, 6).unwrap();
        assert_eq!(registers.get(1), Some(&b"abcdef"[..]));
        assert!(registers.set(2, b"x", 10, 2, 6).is_err());
        registers.set(1, b"", 10, 2, 6).unwrap();
        registers.set(2, b"x", 10, 2, 6).unwrap();
        assert!(registers.set(3, b"", 10, 2, 6).is_err());
        assert_eq!(registers.get(3), None);
    }
}
