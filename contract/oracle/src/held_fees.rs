//! Fees for every agreeing member, not only the quickest `quorum`. A resolved request pays each
//! agreeing member one seat's share of the fee (`fee / committee`, the committee's size, rounded
//! down) and holds the rest; a member that reveals the agreed answer after the resolution —
//! which it must, or be slashed at cleanup for its unrevealed commitment — is paid its share
//! from what is held, so an honest node slower than the quorum is not left to pay its gas for
//! nothing. A member slashed on the request (an equivocation) is paid nothing. At cleanup what
//! is still held (the shares of members that never agreed and the division's remainder) goes
//! back to the request's refund account: a requester pays for the answers it got.
//!
//! A request that times out pays, from its fee, a seat's share to each member of the largest
//! group of equal reveals — at least two, and no other group as large (`quorum::timeout_claim`):
//! their answers are public in their transactions, and a requester holding enough silent seats
//! to block the quorum would otherwise read them for free. The rest goes back to the request's
//! refund account.
//!
//! The held amount is stored apart from the request (`held_fees`), in an entry every request
//! gets when it is made (0 until it resolves), paid for in its storage reserve. The entry marks
//! the requests made under these rules: a request made before (pending across the upgrade,
//! with a reserve that did not cover the entry; or made before commit–reveal, whose
//! attestations need no commitment, so a member could copy the public answer after the
//! resolution) has none, and its quorum splits the whole fee as it did then.

use crate::events::Event;
use crate::fees::{seat_share, split_fee};
use crate::quorum::timeout_claim;
use crate::requests::Request;
use crate::storage::send;
use crate::OracleContract;
use near_sdk::json_types::U128;
use near_sdk::serde_json::{json, Value};
use near_sdk::AccountId;

impl OracleContract {
    /// Pays `agreeing`, the members whose attestations resolved `request`: a seat's share each
    /// (nothing to a slashed one), the rest held for late agreeing members; or, for a request
    /// made before held fees, the whole fee split among them. Returns what the
    /// `request_resolved` event reports: the payments and the amount held.
    pub(crate) fn pay_quorum(
        &mut self,
        request_id: u64,
        request: &Request,
        agreeing: &[AccountId],
    ) -> (Value, u128) {
        let shares = if self.held_fees.contains_key(&request_id) {
            let share = seat_share(request.fee, request.committee.len());
            agreeing
                .iter()
                .map(|node| {
                    if request.slashed.contains(node) {
                        0
                    } else {
                        share
                    }
                })
                .collect()
        } else {
            split_fee(request.fee, agreeing.len())
        };
        for (node, share) in agreeing.iter().zip(&shares) {
            send(node, *share);
        }
        let held = request.fee - shares.iter().sum::<u128>();
        if self.held_fees.contains_key(&request_id) {
            self.held_fees.insert(request_id, held);
        }
        let paid = agreeing
            .iter()
            .zip(&shares)
            .map(|(node, share)| json!({ "node": node, "amount": U128(*share) }))
            .collect();
        (paid, held)
    }

    /// Pays `node`, whose attestation agreed with resolved `request` after its resolution, one
    /// seat's share from what the request holds (as far as it goes; nothing to a slashed
    /// member or for a request without held fees). Returns the amount paid.
    pub(crate) fn pay_late_member(
        &mut self,
        request_id: u64,
        request: &Request,
        node: &AccountId,
    ) -> u128 {
        let Some(held) = self.held_fees.get(&request_id).copied() else {
            return 0;
        };
        let paid = seat_share(request.fee, request.committee.len()).min(held);
        if paid == 0 || request.slashed.contains(node) {
            return 0;
        }
        let left = held - paid;
        self.held_fees.insert(request_id, left);
        send(node, paid);
        Event::LateFeePaid.emit(json!({
            "request_id": request_id,
            "node": node,
            "amount": U128(paid),
            "held": U128(left),
        }));
        paid
    }

    /// Pays the members of timed-out `request` in the largest group of equal reveals
    /// (`quorum::timeout_claim`) a seat's share each. A member slashed on the request (an
    /// equivocation) is neither paid nor counted; a request made before held fees pays nothing.
    /// Returns the payments, for the `request_timed_out` event, and their total.
    pub(crate) fn pay_timeout_reveals(
        &mut self,
        request_id: u64,
        request: &Request,
    ) -> (Vec<Value>, u128) {
        let share = seat_share(request.fee, request.committee.len());
        if share == 0 || !self.held_fees.contains_key(&request_id) {
            return (Vec::new(), 0);
        }
        let unslashed: Vec<_> = request
            .attestations
            .iter()
            .filter(|a| !request.slashed.contains(&a.node))
            .collect();
        let claims: Vec<_> = unslashed
            .iter()
            .map(|a| (a.result_digest, a.output_hash))
            .collect();
        let Some(paid_claim) = timeout_claim(&claims) else {
            return (Vec::new(), 0);
        };
        let mut paid = Vec::new();
        let mut total = 0;
        for (attestation, claim) in unslashed.iter().zip(&claims) {
            if *claim != paid_claim {
                continue;
            }
            send(&attestation.node, share);
            total += share;
            paid.push(json!({ "node": attestation.node, "amount": U128(share) }));
        }
        (paid, total)
    }

    /// The held fee entry of new request `request_id` (nothing held yet).
    pub(crate) fn open_held_fee(&mut self, request_id: u64) {
        self.held_fees.insert(request_id, 0);
    }

    /// What `request_id` holds now (0 without an entry).
    pub(crate) fn held_fee(&self, request_id: u64) -> u128 {
        self.held_fees.get(&request_id).copied().unwrap_or(0)
    }

    /// Removes what `request_id` still holds (when cleaned up) and returns it, for the refund
    /// account.
    pub(crate) fn release_held_fee(&mut self, request_id: u64) -> u128 {
        self.held_fees.remove(&request_id).unwrap_or(0)
    }
}
