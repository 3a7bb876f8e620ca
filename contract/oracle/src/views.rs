//! View methods: requests, nodes, models, settings, prices.

use crate::config::Config;
use crate::models::{model_view, page};
use crate::nodes::node_view;
use crate::requests::request_view;
use crate::{OracleContract, OracleContractExt};
use near_sdk::{env, near, AccountId};
use oracle_protocol::{
    FeeEstimate, ModelId, ModelView, NodeView, OracleInfo, PendingAssignment, PendingAssignments,
    RequestParams, RequestView,
};

#[near]
impl OracleContract {
    pub fn owner(&self) -> AccountId {
        self.owner.clone()
    }

    pub fn get_config(&self) -> Config {
        self.config.clone()
    }

    pub fn get_info(&self) -> OracleInfo {
        OracleInfo {
            owner: self.owner.to_string(),
            state_version: self.version,
            next_request_id: self.next_request_id,
            pending_requests: self.pending.len(),
            nodes: self.nodes.len(),
            models: self.models.len(),
            treasury: self.treasury,
        }
    }

    /// The deposit `request` needs for `model_id` with `params` (its `output_schema` included),
    /// an input of `input_bytes` bytes (default: the model's largest input, so the estimate
    /// always suffices) and the `storage_refund_to` account the request will name (default:
    /// none). Panics with the reason when such a request would be refused.
    pub fn estimate_fee(
        &self,
        model_id: ModelId,
        params: RequestParams,
        input_bytes: Option<u32>,
        storage_refund_to: Option<AccountId>,
    ) -> FeeEstimate {
        let input_bytes = input_bytes.unwrap_or_else(|| {
            self.models
                .get(&model_id)
                .map_or(0, |model| model.max_input_bytes)
        });
        let quote = self.quote(
            &model_id,
            &params,
            input_bytes as usize,
            storage_refund_to.as_ref(),
        );
        FeeEstimate {
            fee: quote.fee,
            storage: quote.storage,
            storage_bytes: quote.storage_bytes,
            total: quote.total(),
        }
    }

    pub fn get_request(&self, request_id: u64) -> Option<RequestView> {
        let request = self.requests.get(&request_id)?;
        let input = self.inputs.get(&request_id).cloned().unwrap_or_default();
        Some(request_view(
            request_id,
            request,
            input,
            self.commit_phase(request_id),
            self.held_fee(request_id),
            env::block_height(),
        ))
    }

    /// Requests still waiting for a quorum, a page at a time (the order changes as requests
    /// finish).
    pub fn list_pending_requests(
        &self,
        from_index: Option<u32>,
        limit: Option<u32>,
    ) -> Vec<RequestView> {
        let (skip, take) = page(from_index, limit);
        self.pending
            .iter()
            .skip(skip)
            .take(take)
            .filter_map(|id| self.get_request(*id))
            .collect()
    }

    /// Scans `limit` pending requests from `from_index` (a page, as `list_pending_requests`
    /// counts) and returns those on `account_id`'s committee that it has not attested and can
    /// still attest (a request whose commit phase closed without its commitment is left out),
    /// ids and models only: what a node polls, then reads each new one with `get_request`.
    pub fn list_pending_assignments(
        &self,
        account_id: AccountId,
        from_index: Option<u32>,
        limit: Option<u32>,
    ) -> PendingAssignments {
        let (skip, take) = page(from_index, limit);
        let now = env::block_height();
        let assignments = self
            .pending
            .iter()
            .skip(skip)
            .take(take)
            .filter_map(|id| Some((*id, self.requests.get(id)?)))
            .filter(|(request_id, request)| {
                request.committee.contains(&account_id)
                    && !request.attestations.iter().any(|a| a.node == account_id)
                    && self.may_still_attest(*request_id, request, &account_id, now)
            })
            .map(|(request_id, request)| PendingAssignment {
                request_id,
                model_id: request.model_id,
            })
            .collect();
        let scanned = skip.saturating_add(take).min(self.pending.len() as usize);
        PendingAssignments {
            assignments,
            next_index: (scanned < self.pending.len() as usize).then_some(scanned as u32),
        }
    }

    /// `account_id`'s node; an unbonding node's `unlocks_at` is the block it may withdraw
    /// from (`withdraw_stake`).
    pub fn get_node(&self, account_id: AccountId) -> Option<NodeView> {
        self.nodes.get(&account_id).map(|node| {
            node_view(
                &account_id,
                node,
                self.missed_commits_of(&account_id),
                &self.unlock_floor,
            )
        })
    }

    pub fn list_nodes(&self, from_index: Option<u32>, limit: Option<u32>) -> Vec<NodeView> {
        let (skip, take) = page(from_index, limit);
        self.nodes
            .iter()
            .skip(skip)
            .take(take)
            .map(|(account, node)| {
                node_view(
                    account,
                    node,
                    self.missed_commits_of(account),
                    &self.unlock_floor,
                )
            })
            .collect()
    }

    pub fn get_model(&self, model_id: ModelId) -> Option<ModelView> {
        self.models
            .get(&model_id)
            .map(|info| model_view(model_id, info, self.pricing_of(&model_id)))
    }

    pub fn list_models(&self, from_index: Option<u32>, limit: Option<u32>) -> Vec<ModelView> {
        let (skip, take) = page(from_index, limit);
        self.models
            .iter()
            .skip(skip)
            .take(take)
            .map(|(id, info)| model_view(*id, info, self.pricing_of(id)))
            .collect()
    }
}
