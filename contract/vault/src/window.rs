//! The daily window: how much the vault has paid out on the current UTC day of block time.

use near_sdk::near;

/// Nanoseconds in a day of block time.
pub const NANOS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// The day's running total.
#[near(serializers = [borsh])]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayWindow {
    /// Days since the Unix epoch (block timestamp / one day).
    pub day: u64,
    /// yoctoNEAR paid on `day`.
    pub spent: u128,
}

impl DayWindow {
    /// The day a block timestamp falls on.
    pub fn day_of(timestamp_ns: u64) -> u64 {
        timestamp_ns / NANOS_PER_DAY
    }

    /// What was paid on `day` (0 once the window has moved past it).
    pub fn spent_on(&self, day: u64) -> u128 {
        if self.day == day {
            self.spent
        } else {
            0
        }
    }

    /// Whether `amount` more on `day` stays within `cap`.
    pub fn fits(&self, day: u64, amount: u128, cap: u128) -> bool {
        self.spent_on(day)
            .checked_add(amount)
            .is_some_and(|total| total <= cap)
    }

    /// Counts `amount` paid on `day`.
    pub fn record(&mut self, day: u64, amount: u128) {
        self.spent = self.spent_on(day) + amount;
        self.day = day;
    }

    /// Takes back `amount` paid on `day` (a failed transfer); nothing once the day is over.
    pub fn release(&mut self, day: u64, amount: u128) {
        if self.day == day {
            self.spent = self.spent.saturating_sub(amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_resets_each_day_and_caps_the_total() {
        let mut window = DayWindow::default();
        let day = DayWindow::day_of(3 * NANOS_PER_DAY + 5);
        assert_eq!(day, 3);
        assert!(window.fits(day, 10, 10));
        window.record(day, 6);
        assert!(window.fits(day, 4, 10));
        assert!(!window.fits(day, 5, 10));
        assert!(!window.fits(day, u128::MAX, u128::MAX));
        assert_eq!(window.spent_on(day + 1), 0);
        assert!(window.fits(day + 1, 10, 10));
        window.release(day, 6);
        assert_eq!(window.spent_on(day), 0);
        window.record(day, 6);
        window.record(day + 1, 2);
        assert_eq!((window.day, window.spent), (4, 2));
        window.release(day, 2);
        assert_eq!(window.spent_on(day + 1), 2);
    }
}
