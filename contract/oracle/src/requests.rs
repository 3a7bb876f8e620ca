//! Requests: a dApp calls `request` with a deposit in an ordinary cross-contract call; the
//! contract yields, and the dApp's callback receives the `OracleResponse` once a quorum resolves
//! the request (the yield is resumed with the request id) or the yield times out (the fee
//! refunded but for the shares of the largest group of equal reveals; `finish.rs`). Finished
//! requests are cleaned up after their retention.

use crate::commitments::CommitPhase;
use crate::committee;
use crate::config::YIELD_TIMEOUT_BLOCKS;
use crate::events::Event;
use crate::fees::request_storage_bytes;
use crate::storage::{cost_of, send};
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId, Gas, GasWeight, Promise, YieldId};
use oracle_protocol::{
    AttestationView, Digest32, ModelId, RequestCreated, RequestParams, RequestPhase, RequestView,
    ResolvedOutput, Signature64,
};

/// Gas reserved for `on_request_finished`, the yield's callback.
pub const FINISH_CALLBACK_GAS: Gas = Gas::from_tgas(40);
/// Gas for `draw_committee`: reading the model's list (at most 100 nodes) and drawing from it
/// takes at most 16 TGas (a full list of 64-character ids: the tests measure it).
pub const DRAW_GAS: Gas = Gas::from_tgas(25);

/// Where a request stands.
#[near(serializers = [borsh])]
#[derive(Clone, Debug)]
pub enum RequestStatus {
    /// Waiting for a quorum; `yield_id` resumes the requester's call flow.
    Pending { yield_id: YieldId },
    /// A quorum agreed on `answer`; anyone may clean the request up from block `cleanable_at`:
    /// [`AWAITING_DELIVERY`] until the yield's callback has handed the answer on, then fixed
    /// with the `retention_blocks` of that moment.
    Resolved {
        answer: ResolvedOutput,
        cleanable_at: u64,
    },
    /// The yield timed out; the fee went back to the request's refund account (less the shares
    /// of the members in the largest group of equal reveals). Cleanable from `cleanable_at`.
    TimedOut { cleanable_at: u64 },
}

/// The `cleanable_at` of a resolved request whose answer the yield's callback has not read
/// yet: cleaning it up before would leave the requester's callback without the answer its fee
/// paid for.
pub const AWAITING_DELIVERY: u64 = u64::MAX;

/// An attestation accepted on-chain: who, what it claimed, and its signature (kept so anyone
/// can check the answer offline).
#[near(serializers = [borsh])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationRecord {
    pub node: AccountId,
    pub result_digest: Digest32,
    pub output_hash: Digest32,
    pub signature: Signature64,
}

/// A request as stored (its input is kept apart, in `inputs`).
#[near(serializers = [borsh])]
#[derive(Clone, Debug)]
pub struct Request {
    pub model_id: ModelId,
    /// The caller of `request`, which paid (its refunds go to `refund_account`).
    pub requester: AccountId,
    /// Who gets the deposit back when not the requester: the excess over the quote at once,
    /// the storage deposit at cleanup (a contract asking on behalf of a user names the user who
    /// paid).
    pub storage_refund_to: Option<AccountId>,
    pub params: RequestParams,
    pub input_hash: Digest32,
    pub input_bytes: u32,
    /// Paid to the agreeing nodes on resolution; on timeout to the members whose reveals
    /// form the largest group of equal answers, the rest refunded (yoctoNEAR).
    pub fee: u128,
    /// Locked for the request's storage until it is cleaned up (yoctoNEAR).
    pub storage_deposit: u128,
    pub committee: Vec<AccountId>,
    pub quorum: u32,
    /// Longest output prefix stored and returned inline (the config when the request was made).
    pub inline_output_limit: u32,
    pub attestations: Vec<AttestationRecord>,
    /// Committee members slashed for this request (at most once each).
    pub slashed: Vec<AccountId>,
    pub created_at: u64,
    pub expires_at: u64,
    pub status: RequestStatus,
}

impl Request {
    /// The account the deposit goes back to: the excess at once, the storage at cleanup.
    pub fn refund_account(&self) -> &AccountId {
        self.storage_refund_to.as_ref().unwrap_or(&self.requester)
    }

    /// The committee size this request was made for: the `committee_size` in force then, read
    /// back from the seats its storage deposit reserved (its draw comes later, when the owner
    /// may have changed the setting; a draw by today's size could break the quorum's majority
    /// or take storage nobody paid for). Always within `quorum ..= 2 × quorum − 1`, the sizes
    /// for which the quorum is a majority.
    fn reserved_committee_size(&self) -> u32 {
        let bytes = |seats| {
            request_storage_bytes(
                self.input_bytes,
                self.params
                    .output_schema
                    .as_ref()
                    .map_or(0, |s| s.len() as u32),
                self.storage_refund_to
                    .as_ref()
                    .map_or(0, |a| a.len() as u32),
                seats,
                self.inline_output_limit,
            )
        };
        let paid = self.storage_deposit / env::storage_byte_cost().as_yoctonear().max(1);
        let seats = u64::try_from(paid)
            .unwrap_or(u64::MAX)
            .saturating_sub(bytes(0))
            / (bytes(1) - bytes(0));
        let seats = u32::try_from(seats).unwrap_or(u32::MAX);
        seats.clamp(
            self.quorum,
            (2 * self.quorum).saturating_sub(1).max(self.quorum),
        )
    }
}

/// `request` as views return it, with its commit `phase` as of block `now` (a request without
/// one, made before commit–reveal, shows its reveal open from its creation).
pub fn request_view(
    request_id: u64,
    request: &Request,
    input: String,
    phase: Option<&CommitPhase>,
    held_fee: u128,
    now: u64,
) -> RequestView {
    let (status, answer, cleanable_at) = match &request.status {
        RequestStatus::Pending { .. } => (RequestPhase::Pending, None, None),
        RequestStatus::Resolved {
            answer,
            cleanable_at,
        } => (
            RequestPhase::Resolved,
            Some(answer.clone()),
            Some(*cleanable_at).filter(|&at| at != AWAITING_DELIVERY),
        ),
        RequestStatus::TimedOut { cleanable_at } => {
            (RequestPhase::TimedOut, None, Some(*cleanable_at))
        }
    };
    let accounts = |list: &[AccountId]| list.iter().map(|a| a.to_string()).collect();
    RequestView {
        request_id,
        model_id: request.model_id,
        requester: request.requester.to_string(),
        storage_refund_to: request.refund_account().to_string(),
        input,
        params: request.params.clone(),
        fee: request.fee,
        held_fee,
        storage_deposit: request.storage_deposit,
        committee: accounts(&request.committee),
        quorum: request.quorum,
        commitments: phase.map(CommitPhase::views).unwrap_or_default(),
        reveal_opens_at: phase.map_or(request.created_at, |p| p.reveal_opens_at),
        reveal_open: phase.is_none_or(|p| p.reveal_open(request, now)),
        attested: request
            .attestations
            .iter()
            .map(|a| a.node.to_string())
            .collect(),
        attestations: request
            .attestations
            .iter()
            .map(|a| AttestationView {
                node: a.node.to_string(),
                result_digest: a.result_digest,
                output_hash: a.output_hash,
                signature: a.signature,
            })
            .collect(),
        slashed: accounts(&request.slashed),
        created_at: request.created_at,
        expires_at: request.expires_at,
        status,
        answer,
        cleanable_at,
    }
}

#[near]
impl OracleContract {
    /// Asks `model_id` to complete `input` with `params`. Attach the model's price plus the
    /// request's storage (see `estimate_fee`, with the same `storage_refund_to`). The deposit
    /// goes back to `storage_refund_to` (default: the caller): any excess at once, a timed-out
    /// request's fee (less what its largest group of equal reveals earned) at the timeout, the
    /// storage deposit and the fee no member earned on cleanup. The caller's callback never
    /// has a refund to pass on. Returns (through a yield) the `OracleResponse` the caller's
    /// callback receives.
    #[payable]
    pub fn request(
        &mut self,
        model_id: ModelId,
        input: String,
        params: RequestParams,
        storage_refund_to: Option<AccountId>,
    ) -> Promise {
        let requester = env::predecessor_account_id();
        let quote = self.quote(&model_id, &params, input.len(), storage_refund_to.as_ref());
        let attached = env::attached_deposit().as_yoctonear();
        require!(
            attached >= quote.total(),
            format!(
                "attach at least {} yoctoNEAR: fee {} plus storage {} ({} bytes); attached {attached}",
                quote.total(),
                quote.fee,
                quote.storage,
                quote.storage_bytes
            )
        );
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.require_servable(&model_id);

        let args = json!({ "request_id": request_id }).to_string();
        let (promise, yield_id) = Promise::new_yield(
            "on_request_finished",
            args,
            FINISH_CALLBACK_GAS,
            GasWeight(0),
        );
        let now = env::block_height();
        let input_hash = Digest32(env::sha256_array(input.as_bytes()));
        let request = Request {
            model_id,
            requester: requester.clone(),
            storage_refund_to,
            params,
            input_hash,
            input_bytes: input.len() as u32,
            fee: quote.fee,
            storage_deposit: quote.storage,
            // Drawn by `draw_committee`, in a receipt of its own.
            committee: Vec::new(),
            quorum: self.config.quorum,
            inline_output_limit: self.config.max_inline_output_bytes,
            attestations: Vec::new(),
            slashed: Vec::new(),
            created_at: now,
            expires_at: now.checked_add(YIELD_TIMEOUT_BLOCKS).unwrap_or_else(|| {
                env::panic_str(&format!("block {now} is too high for a request to expire"))
            }),
            status: RequestStatus::Pending { yield_id },
        };
        Event::RequestCreated.emit(RequestCreated {
            request_id,
            requester: requester.to_string(),
            storage_refund_to: request.refund_account().to_string(),
            model_id,
            params: request.params.clone(),
            input_bytes: request.input_bytes,
            input_hash,
            quorum: request.quorum,
            fee: request.fee,
            expires_at_block: request.expires_at,
        });
        send(request.refund_account(), attached - quote.total());
        self.commit_phases
            .insert(request_id, self.new_commit_phase(now));
        self.requests.insert(request_id, request);
        self.inputs.insert(request_id, input);
        self.pending.insert(request_id);
        self.open_held_fee(request_id);
        Self::ext(env::current_account_id())
            .with_static_gas(DRAW_GAS)
            .with_unused_gas_weight(0)
            .draw_committee(request_id)
            .detach();
        promise
    }

    /// Draws the committee of pending request `request_id` from this receipt's random seed:
    /// the self-call `request` schedules, run after the request's own receipt. The draw is
    /// apart so that nothing the requester sends can depend on who was drawn: in the
    /// request's receipt another action (a view called as a change method, say) could run
    /// out of gas or not by the committee and revert the request, retried until the
    /// committee suits the requester. A request whose model has fewer than `quorum` eligible
    /// nodes by now keeps no committee and times out (its fee refunded).
    #[private]
    pub fn draw_committee(&mut self, request_id: u64) {
        let Some(request) = self.requests.get(&request_id) else {
            return;
        };
        if !request.committee.is_empty() || !matches!(request.status, RequestStatus::Pending { .. })
        {
            return;
        }
        let (model_id, size, quorum) = (
            request.model_id,
            request.reserved_committee_size(),
            request.quorum,
        );
        let Some(committee) = self.choose_committee(request_id, &model_id, size, quorum) else {
            return;
        };
        let names: Vec<String> = committee.iter().map(|a| a.to_string()).collect();
        if let Some(request) = self.requests.get_mut(&request_id) {
            request.committee = committee;
        }
        Event::CommitteeDrawn.emit(json!({ "request_id": request_id, "committee": names }));
    }

    /// Removes a finished request once `retention_blocks` (as configured at that moment) have
    /// passed since `on_request_finished` handed its outcome to the requester's callback (a
    /// resolved request whose answer has not been delivered yet cannot be removed), and
    /// returns its storage deposit, and what it still holds of its fee (`held_fees.rs`), to the
    /// request's `storage_refund_to` account (default: the requester); returns that amount. A
    /// resolved request's committee members that committed and never revealed are slashed now,
    /// with the caller as reporter: it receives the reporter's reward, an incentive to clean
    /// up before such a member can withdraw its stake. Anyone may call it.
    pub fn cleanup_request(&mut self, request_id: u64) -> U128 {
        let mut request = self
            .requests
            .get(&request_id)
            .cloned()
            .unwrap_or_else(|| env::panic_str(&format!("request {request_id} does not exist")));
        let (cleanable_at, resolved) = match request.status {
            RequestStatus::Pending { .. } => {
                env::panic_str(&format!("request {request_id} is still pending"))
            }
            RequestStatus::Resolved { cleanable_at, .. } => (cleanable_at, true),
            RequestStatus::TimedOut { cleanable_at } => (cleanable_at, false),
        };
        require!(
            cleanable_at != AWAITING_DELIVERY,
            format!(
                "request {request_id} is resolved but its answer has not reached the requester's \
                 callback yet; it can be cleaned up retention_blocks after that"
            )
        );
        let now = env::block_height();
        require!(
            now >= cleanable_at,
            format!("request {request_id} can be cleaned up from block {cleanable_at}; now is block {now}")
        );
        let cleaner = env::predecessor_account_id();
        let reward = if resolved {
            self.slash_unrevealed_commitments(request_id, &mut request, &cleaner)
        } else {
            0
        };
        send(&cleaner, reward);
        self.requests.remove(&request_id);
        self.inputs.remove(&request_id);
        self.commit_phases.remove(&request_id);
        let fee_returned = self.release_held_fee(request_id);
        let refund_to = request.refund_account();
        send(refund_to, request.storage_deposit + fee_returned);
        Event::RequestCleanedUp.emit(json!({
            "request_id": request_id,
            "requester": request.requester,
            "refunded_to": refund_to,
            "released": U128(request.storage_deposit),
            "fee_returned": U128(fee_returned),
        }));
        U128(request.storage_deposit + fee_returned)
    }
}

/// What a request costs.
pub struct Quote {
    pub fee: u128,
    pub storage: u128,
    pub storage_bytes: u64,
}

impl Quote {
    pub fn total(&self) -> u128 {
        self.fee + self.storage
    }
}

impl OracleContract {
    /// The block from which a request finishing now may be cleaned up: `retention_blocks` on
    /// (saturating: it runs in the yield callback, which must not panic; the settings' caps
    /// keep it far from overflow).
    pub(crate) fn cleanable_from_now(&self) -> u64 {
        env::block_height().saturating_add(self.config.retention_blocks)
    }

    /// Checks a request against its model's limits and prices it (its storage includes the
    /// account it names in `storage_refund_to`); panics with the reason when the request is
    /// not acceptable.
    pub(crate) fn quote(
        &self,
        model_id: &ModelId,
        params: &RequestParams,
        input_bytes: usize,
        storage_refund_to: Option<&AccountId>,
    ) -> Quote {
        let model = self
            .models
            .get(model_id)
            .unwrap_or_else(|| env::panic_str(&format!("model {model_id} is not registered")));
        params.check().unwrap_or_else(|e| env::panic_str(&e));
        require!(
            params.max_tokens <= model.max_output_tokens,
            format!(
                "max_tokens is {}; model {model_id} allows at most {}",
                params.max_tokens, model.max_output_tokens
            )
        );
        require!(
            input_bytes as u64 <= u64::from(model.max_input_bytes),
            format!(
                "input is {input_bytes} bytes; model {model_id} accepts at most {}",
                model.max_input_bytes
            )
        );
        let schema_bytes = params.output_schema.as_ref().map_or(0, |s| s.len() as u32);
        let storage_bytes = request_storage_bytes(
            input_bytes as u32,
            schema_bytes,
            storage_refund_to.map_or(0, |account| account.len() as u32),
            self.config.committee_size,
            self.config.max_inline_output_bytes,
        );
        let fee = self
            .pricing_of(model_id)
            .fee(model, input_bytes as u64, params.max_tokens)
            .unwrap_or_else(|e| env::panic_str(&e));
        Quote {
            fee,
            storage: cost_of(storage_bytes),
            storage_bytes,
        }
    }

    /// Panics unless at least `quorum` nodes are listed for `model_id` now. Whether enough of
    /// them are eligible (not jailed, staked) is the draw's to find out: reading every listed
    /// node here would cost `request` a gas a dApp's `REQUEST_GAS` cannot spare.
    fn require_servable(&self, model_id: &ModelId) {
        let quorum = self.config.quorum as usize;
        let listed = self.listed_nodes(model_id);
        require!(
            listed >= quorum,
            format!(
                "only {listed} active nodes serve model {model_id}; a request needs at least \
                 {quorum}"
            )
        );
    }

    /// The committee of `request_id`: the `size` best-ranked eligible nodes for this receipt's
    /// seed; `None` when fewer than `quorum` are eligible.
    fn choose_committee(
        &self,
        request_id: u64,
        model_id: &ModelId,
        size: u32,
        quorum: u32,
    ) -> Option<Vec<AccountId>> {
        let eligible = self.eligible_nodes(model_id);
        if eligible.len() < quorum as usize {
            return None;
        }
        let seed = env::random_seed_array();
        let chosen = committee::select(
            &seed,
            request_id,
            eligible.iter().map(|a| a.as_str()),
            size as usize,
            |bytes| env::sha256_array(bytes),
        );
        Some(
            chosen
                .into_iter()
                .map(|a| a.parse().unwrap_or_else(|_| env::abort()))
                .collect(),
        )
    }
}
