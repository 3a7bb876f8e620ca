//! How the watcher pages through `list_pending_requests` when a page cannot be read. A NEAR
//! view's return value is capped (4 MiB) and its gas limited, so a few pending requests with
//! large inputs can make a whole page fail while each of them alone reads fine. A failed page is
//! read again from the same index with half the limit, down to one request; a single request
//! that still fails for good is skipped (the rest of the list is still read), and the limit
//! grows back (doubling) after each page that reads.

/// What the watcher does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read `limit` requests from index `from`.
    Read { from: u32, limit: u32 },
    /// The round is over.
    Done,
}

/// Where the watcher is in the pending list, and how many requests it reads at once.
#[derive(Debug, Clone)]
pub struct PageCursor {
    page_size: u32,
    from: u32,
    limit: u32,
    /// Requests skipped one after another: a whole page of them means the endpoint fails every
    /// read (not one request's size), so the round ends instead of walking on forever.
    skipped_in_a_row: u32,
}

impl PageCursor {
    /// A round from the list's start, `page_size` (at least 1) requests a page.
    pub fn new(page_size: u32) -> Self {
        let page_size = page_size.max(1);
        Self {
            page_size,
            from: 0,
            limit: page_size,
            skipped_in_a_row: 0,
        }
    }

    /// The first read of the round.
    pub fn start(&self) -> Next {
        self.read()
    }

    fn read(&self) -> Next {
        Next::Read {
            from: self.from,
            limit: self.limit,
        }
    }

    /// The read asked for got `len` requests.
    pub fn read_ok(&mut self, len: usize) -> Next {
        if (len as u64) < u64::from(self.limit) {
            return Next::Done;
        }
        self.from = self.from.saturating_add(self.limit);
        self.limit = self.limit.saturating_mul(2).min(self.page_size);
        self.skipped_in_a_row = 0;
        self.read()
    }

    /// The read asked for failed; `transient`: the endpoints are down or slow (a single
    /// request that fails so ends the round: the next one reads it again). Returns the index
    /// skipped, if any, with what to do next.
    pub fn read_failed(&mut self, transient: bool) -> (Option<u32>, Next) {
        if self.limit > 1 {
            self.limit /= 2;
            return (None, self.read());
        }
        if transient {
            return (None, Next::Done);
        }
        let skipped = self.from;
        self.from = self.from.saturating_add(1);
        self.skipped_in_a_row += 1;
        if self.skipped_in_a_row >= self.page_size {
            return (Some(skipped), Next::Done);
        }
        (Some(skipped), self.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(from: u32, limit: u32) -> Next {
        Next::Read { from, limit }
    }

    #[test]
    fn full_pages_go_on_and_a_short_one_ends_the_round() {
        let mut cursor = PageCursor::new(50);
        assert_eq!(cursor.start(), read(0, 50));
        assert_eq!(cursor.read_ok(50), read(50, 50));
        assert_eq!(cursor.read_ok(49), Next::Done);
    }

    #[test]
    fn a_failing_page_is_halved_down_to_one_request_which_is_skipped() {
        let mut cursor = PageCursor::new(8);
        assert_eq!(cursor.start(), read(0, 8));
        assert_eq!(cursor.read_failed(false), (None, read(0, 4)));
        assert_eq!(cursor.read_ok(4), read(4, 8));
        assert_eq!(cursor.read_failed(false), (None, read(4, 4)));
        assert_eq!(cursor.read_failed(false), (None, read(4, 2)));
        assert_eq!(cursor.read_failed(false), (None, read(4, 1)));
        assert_eq!(cursor.read_failed(false), (Some(4), read(5, 1)));
        // The limit grows back after reads that work.
        assert_eq!(cursor.read_ok(1), read(6, 2));
        assert_eq!(cursor.read_ok(2), read(8, 4));
        assert_eq!(cursor.read_ok(4), read(12, 8));
        assert_eq!(cursor.read_ok(3), Next::Done);
    }

    #[test]
    fn a_single_request_failing_transiently_ends_the_round_without_skipping() {
        let mut cursor = PageCursor::new(2);
        assert_eq!(cursor.read_failed(true), (None, read(0, 1)));
        assert_eq!(cursor.read_failed(true), (None, Next::Done));
    }

    #[test]
    fn an_endpoint_failing_every_read_ends_the_round_after_a_page_of_skips() {
        let mut cursor = PageCursor::new(3);
        assert_eq!(cursor.read_failed(false), (None, read(0, 1)));
        assert_eq!(cursor.read_failed(false), (Some(0), read(1, 1)));
        assert_eq!(cursor.read_failed(false), (Some(1), read(2, 1)));
        assert_eq!(cursor.read_failed(false), (Some(2), Next::Done));
    }
}
