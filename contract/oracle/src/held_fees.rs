//! Fees for every agreeing member, not only the quickest `quorum`. A resolved request pays each
//! agreeing member one seat's share of the fee (`fee / committee_size`, rounded down) and holds
//! the rest; a member that reveals the agreed answer after the resolution — which it must, or be
//! slashed at cleanup for its unrevealed commitment — is paid its share from what is held, so
//! an honest node slower than the quorum is not left to pay its gas for nothing. At cleanup
//! what is still held (the shares of silent members and the division's remainder) goes back to
//! the request's refund account: a requester pays for the answers it got.
//!
//! The held amount is stored apart from the request (`held_fees`, paid for in the request's
//! storage reserve). A request resolved before this existed has no entry and pays nobody
//! later, as then.

use crate::events::Event;
use crate::fees::seat_share;
use crate::requests::Request;
use crate::storage::send;
use crate::OracleContract;
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::AccountId;

impl OracleContract {
    /// Pays each of `agreeing`, the members whose attestations resolved `request`, one seat's
    /// share and holds the rest of the fee. Returns the share and the amount held.
    pub(crate) fn pay_quorum(
        &mut self,
        request_id: u64,
        request: &Request,
        agreeing: &[AccountId],
    ) -> (u128, u128) {
        let share = seat_share(request.fee, request.committee.len());
        for node in agreeing {
            send(node, share);
        }
        let held = request.fee - share * agreeing.len() as u128;
        if held > 0 {
            self.held_fees.insert(request_id, held);
        }
        (share, held)
    }

    /// Pays `node`, whose attestation agreed with resolved `request` after its resolution, one
    /// seat's share from what the request holds (as far as it goes). Returns the amount paid.
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
        let left = held - paid;
        if left == 0 {
            self.held_fees.remove(&request_id);
        } else {
            self.held_fees.insert(request_id, left);
        }
        send(node, paid);
        Event::LateFeePaid.emit(json!({
            "request_id": request_id,
            "node": node,
            "amount": U128(paid),
            "held": U128(left),
        }));
        paid
    }

    /// Removes what `request_id` still holds (when cleaned up) and returns it, for the refund
    /// account.
    pub(crate) fn release_held_fee(&mut self, request_id: u64) -> u128 {
        self.held_fees.remove(&request_id).unwrap_or(0)
    }
}
