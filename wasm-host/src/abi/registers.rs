//! The registers contracts pass data through: numbered byte buffers held by the host.

use super::error::HostError;
use std::collections::HashMap;

/// A call's registers, with the protocol's limits on their number and total size.
#[derive(Debug, Default)]
pub struct Registers {
    values: HashMap<u64, Box<[u8]>>,
    /// Memory the registers count for: each its length plus 8 bytes (its id), as nearcore counts.
    usage: u64,
}

/// What one register counts for against the registers' memory limit.
fn usage_of(len: u64) -> u64 {
    len + std::mem::size_of::<u64>() as u64
}

impl Registers {
    /// The content of register `id`.
    pub fn get(&self, id: u64) -> Option<&[u8]> {
        self.values.get(&id).map(|v| &v[..])
    }

    /// Replaces register `id`'s content, enforcing registers of at most `max_size` bytes, and
    /// `max_total` bytes of usage together. As nearcore does, once `max_count` registers exist no
    /// register may be set, not even one that exists ("this bug is now part of the protocol").
    pub fn set(
        &mut self,
        id: u64,
        data: &[u8],
        max_size: u64,
        max_count: u64,
        max_total: u64,
    ) -> Result<(), HostError> {
        let exceeded = HostError::RegistersExceeded {
            limit: max_total,
            count: max_count,
        };
        let len = data.len() as u64;
        if len > max_size || self.values.len() as u64 >= max_count {
            return Err(exceeded);
        }
        let old = self.values.get(&id).map_or(0, |v| usage_of(v.len() as u64));
        let usage = (self.usage - old)
            .checked_add(usage_of(len))
            .filter(|usage| *usage <= max_total)
            .ok_or(exceeded)?;
        self.values.insert(id, data.into());
        self.usage = usage;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_size_and_usage_as_nearcore() {
        // At most 16 bytes a register, 2 registers, 20 bytes of usage (length + 8 each).
        let set = |r: &mut Registers, id, data: &[u8]| r.set(id, data, 16, 2, 20);
        let mut registers = Registers::default();
        assert!(set(&mut registers, 1, &[0; 17]).is_err());
        set(&mut registers, 1, b"abcd").unwrap();
        assert!(set(&mut registers, 2, b"x").is_err(), "21 bytes of usage");
        set(&mut registers, 2, b"").unwrap();
        assert_eq!(registers.get(1), Some(&b"abcd"[..]));
        // Two registers exist: none may be set, not even an existing one.
        assert!(set(&mut registers, 3, b"").is_err());
        assert!(set(&mut registers, 1, b"").is_err());
        assert_eq!(registers.get(3), None);

        let mut registers = Registers::default();
        registers.set(1, b"abcd", 16, 3, 20).unwrap();
        registers.set(2, b"", 16, 3, 20).unwrap();
        assert!(registers.set(1, b"abcde", 16, 3, 20).is_err());
        registers.set(1, b"abc", 16, 3, 20).unwrap();
        assert_eq!(registers.get(1), Some(&b"abc"[..]));
    }
}
