//! NEP-297 events, one per state change:
//! `EVENT_JSON:{"standard":"ai-oracle","version":"2.0.0","event":...,"data":[...]}`.

use near_sdk::env;
use near_sdk::serde::Serialize;
use oracle_protocol::{EVENT_STANDARD, EVENT_VERSION};

/// Every event the oracle emits.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    ModelRegistered,
    ModelRemoved,
    ConfigUpdated,
    OwnerChanged,
    TreasuryWithdrawn,
    TreasuryWithdrawalFailed,
    StateMigrated,
    NodeRegistered,
    NodeStakeAdded,
    NodeUnbonding,
    NodeWithdrawn,
    NodeSlashed,
    NodeJailed,
    NodeUnjailed,
    RequestCreated,
    CommitteeDrawn,
    AttestationCommitted,
    AttestationSubmitted,
    LateFeePaid,
    RequestResolved,
    RequestTimedOut,
    RequestCleanedUp,
}

impl Event {
    /// The event's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            Event::ModelRegistered => "model_registered",
            Event::ModelRemoved => "model_removed",
            Event::ConfigUpdated => "config_updated",
            Event::OwnerChanged => "owner_changed",
            Event::TreasuryWithdrawn => "treasury_withdrawn",
            Event::TreasuryWithdrawalFailed => "treasury_withdrawal_failed",
            Event::StateMigrated => "state_migrated",
            Event::NodeRegistered => "node_registered",
            Event::NodeStakeAdded => "node_stake_added",
            Event::NodeUnbonding => "node_unbonding",
            Event::NodeWithdrawn => "node_withdrawn",
            Event::NodeSlashed => "node_slashed",
            Event::NodeJailed => "node_jailed",
            Event::NodeUnjailed => "node_unjailed",
            Event::RequestCreated => "request_created",
            Event::CommitteeDrawn => "committee_drawn",
            Event::AttestationCommitted => "attestation_committed",
            Event::AttestationSubmitted => "attestation_submitted",
            Event::LateFeePaid => "late_fee_paid",
            Event::RequestResolved => "request_resolved",
            Event::RequestTimedOut => "request_timed_out",
            Event::RequestCleanedUp => "request_cleaned_up",
        }
    }

    /// Logs the event with `data` as its single data entry.
    pub fn emit(self, data: impl Serialize) {
        let line =
            oracle_protocol::event_log_line(EVENT_STANDARD, EVENT_VERSION, self.name(), &data)
                .unwrap_or_else(|_| env::abort());
        crate::log_budget::record(&line);
        env::log_str(&line);
    }
}
