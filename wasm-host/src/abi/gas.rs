//! Gas accounting of one call: gas burnt (paid for now) and gas used (burnt plus gas prepaid for
//! the receipts the call creates), against the call's prepaid gas and the burn limit.

use super::error::HostError;
use super::types::Gas;

/// Counts a call's gas.
#[derive(Debug, Clone)]
pub struct GasCounter {
    burnt: Gas,
    used: Gas,
    prepaid: Gas,
    max_burnt: Gas,
}

impl GasCounter {
    /// A counter for a call with `prepaid` gas that may burn at most `max_burnt`.
    pub fn new(prepaid: Gas, max_burnt: Gas) -> Self {
        Self {
            burnt: 0,
            used: 0,
            prepaid,
            max_burnt,
        }
    }

    /// Burns `gas` (it counts as used too).
    pub fn burn(&mut self, gas: Gas) -> Result<(), HostError> {
        self.deduct(gas, gas)
    }

    /// Burns `burn` and uses `used` (≥ `burn`: the rest is prepaid for later execution). A sum
    /// that overflows is `IntegerOverflow`, burning nothing, as in nearcore.
    pub fn deduct(&mut self, burn: Gas, used: Gas) -> Result<(), HostError> {
        let new_burnt = self
            .burnt
            .checked_add(burn)
            .ok_or(HostError::IntegerOverflow)?;
        let new_used = self
            .used
            .checked_add(used)
            .ok_or(HostError::IntegerOverflow)?;
        if new_burnt <= self.max_burnt && new_used <= self.prepaid {
            self.burnt = new_burnt;
            self.used = new_used;
            return Ok(());
        }
        // Never burn more than the call paid for or the protocol allows.
        let limit = self.prepaid.min(self.max_burnt);
        self.burnt = new_burnt.min(limit);
        self.used = new_used.min(self.prepaid).max(self.burnt);
        if new_burnt > self.max_burnt {
            Err(HostError::GasLimitExceeded)
        } else {
            Err(HostError::GasExceeded)
        }
    }

    /// Gas that may still be burnt before a limit is hit.
    pub fn remaining(&self) -> Gas {
        (self.prepaid - self.used).min(self.max_burnt - self.burnt)
    }

    /// Gas left unused, available to give to function calls with a gas weight.
    pub fn unused(&self) -> Gas {
        self.prepaid - self.used
    }

    /// Gas burnt so far.
    pub fn burnt(&self) -> Gas {
        self.burnt
    }

    /// Gas used so far (burnt plus prepaid for new receipts).
    pub fn used(&self) -> Gas {
        self.used
    }

    /// Gas the call started with.
    pub fn prepaid(&self) -> Gas {
        self.prepaid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepaid_and_burn_limits() {
        let mut gas = GasCounter::new(100, 1_000);
        gas.burn(40).unwrap();
        gas.deduct(10, 30).unwrap();
        assert_eq!((gas.burnt(), gas.used(), gas.remaining()), (50, 70, 30));
        assert_eq!(gas.burn(31), Err(HostError::GasExceeded));
        assert_eq!((gas.burnt(), gas.used()), (81, 100));

        let mut gas = GasCounter::new(1_000, 100);
        assert_eq!(gas.burn(101), Err(HostError::GasLimitExceeded));
        assert_eq!(gas.burnt(), 100);
    }

    #[test]
    fn an_overflowing_charge_burns_nothing() {
        let mut gas = GasCounter::new(100, 1_000);
        gas.deduct(10, 20).unwrap();
        assert_eq!(gas.burn(u64::MAX), Err(HostError::IntegerOverflow));
        assert_eq!(gas.deduct(0, u64::MAX), Err(HostError::IntegerOverflow));
        assert_eq!((gas.burnt(), gas.used()), (10, 20));
    }
}
