//! vault-contract: a smart-asset vault holding NEAR whose release rule is written in natural
//! language by its owner and judged by the AI oracle, inside hard limits written in code.
//!
//! Anyone may file a claim (recipient, amount, evidence) and pays the oracle's fee and the
//! claim's storage. The amount is checked against the limits (per claim, per day, allowed
//! recipients, the vault's funds) before the oracle is asked and again when its verdict arrives;
//! the verdict must be exactly the JSON of a fixed schema. The model can refuse a payment the
//! code would allow, never allow one the code refuses. Rule and limit changes are time-locked;
//! each claim is judged under the rule in force when it was filed. The owner takes funds back
//! only by a time-locked withdrawal that leaves every claim in flight payable, and a claimant
//! deletes a claim record once it is final to get back the storage it paid for. A claim the
//! oracle never answers as expected expires after `CLAIM_EXPIRY_BLOCKS` (`expire_claim`, anyone),
//! releasing its reservation.
//!
//! The verdict protects nothing on its own. The prompt is public (`get_claim_prompt`), the model
//! public and decoding greedy, so anyone can run the same inference offline and try wordings
//! until one is approved, then file that one: assume every claim the limits allow is approved.
//! What bounds a loss is the code: `max_per_claim`, `max_per_day` (per UTC day of block time, so
//! up to two days' caps can leave around midnight) and the funds; the allow-list is the only
//! protection of who receives. Only `deposit` adds to the funds.
//!
//! It must never depend on the inference engine, the node, an async runtime, or floating point:
//! every amount is an integer.

mod claims;
mod deletion;
mod events;
mod fenced_text;
mod governance;
mod limits;
mod prompt;
mod reasons;
mod storage;
mod verdict;
mod views;
mod window;
mod withdrawal;

use near_sdk::json_types::U128;
use near_sdk::store::LookupMap;
use near_sdk::{env, near, require, AccountId, BorshStorageKey, PanicOnDefault};
use oracle_dapp::{Digest32, ModelId};

pub use claims::{Claim, ClaimStatus, CLAIM_EXPIRY_BLOCKS};
pub use governance::{PendingLimits, PendingRule, Rule};
pub use limits::Limits;
pub use prompt::{claim_prompt, verdict_schema, MAX_EVIDENCE_BYTES, MAX_RULE_BYTES};
pub use reasons::RejectReason;
pub use verdict::{parse_verdict, Verdict};
pub use views::VaultView;
pub use withdrawal::PendingWithdrawal;

use events::Event;
use window::DayWindow;

/// The longest `rule_change_delay_blocks` a vault accepts: 10 million blocks, about four months
/// at one block a second. Bounded so that no delay overflows a block height or locks the
/// funds for good.
pub const MAX_CHANGE_DELAY_BLOCKS: u64 = 10_000_000;

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct Vault {
    owner: AccountId,
    oracle: AccountId,
    model_id: ModelId,
    /// Every rule the vault has had, by version; claims name the version they are judged by.
    rules: LookupMap<u32, Rule>,
    rule_version: u32,
    limits: Limits,
    rule_change_delay_blocks: u64,
    pending_rule: Option<PendingRule>,
    pending_limits: Option<PendingLimits>,
    claims: LookupMap<u64, Claim>,
    next_claim_id: u64,
    /// yoctoNEAR held for claims: deposits minus payouts and withdrawals (storage deposits and
    /// claimants' fees in flight are not part of it).
    funds: u128,
    /// The sum of the amounts of claims filed but not yet approved or rejected (`quoting`,
    /// `awaiting_verdict`): a withdrawal may take only `funds - reserved`.
    reserved: u128,
    pending_withdrawal: Option<PendingWithdrawal>,
    window: DayWindow,
}

#[near]
impl Vault {
    /// A vault of `owner` that asks `oracle` to judge claims with `model_id` under `rule`,
    /// within `limits`; rule and limit changes wait `rule_change_delay_blocks` blocks. Only
    /// the vault's own account may initialise it (deploy and init in one transaction, or init
    /// signed by the account's key), so nobody can seize a deployed, uninitialised vault.
    #[init]
    #[private]
    pub fn new(
        owner: AccountId,
        oracle: AccountId,
        model_id: ModelId,
        rule: String,
        limits: Limits,
        rule_change_delay_blocks: u64,
    ) -> Self {
        fenced_text::check_fenced_text("rule", &rule, MAX_RULE_BYTES)
            .unwrap_or_else(|e| env::panic_str(&e));
        require!(!rule.trim().is_empty(), "the rule is empty");
        limits.validate().unwrap_or_else(|e| env::panic_str(&e));
        require!(
            rule_change_delay_blocks <= MAX_CHANGE_DELAY_BLOCKS,
            format!(
                "rule_change_delay_blocks may be at most {MAX_CHANGE_DELAY_BLOCKS} (about four \
                 months of blocks): a longer delay would lock the funds and the rule for good"
            )
        );
        let mut rules = LookupMap::new(StorageKey::Rules);
        rules.insert(0, Rule::new(rule));
        Self {
            owner,
            oracle,
            model_id,
            rules,
            rule_version: 0,
            limits,
            rule_change_delay_blocks,
            pending_rule: None,
            pending_limits: None,
            claims: LookupMap::new(StorageKey::Claims),
            next_claim_id: 0,
            funds: 0,
            reserved: 0,
            pending_withdrawal: None,
            window: DayWindow::default(),
        }
    }

    /// Adds the attached NEAR to the vault's funds; anyone may fund it. The only way into the
    /// funds: NEAR that reaches the account otherwise (a plain transfer) is not counted, and no
    /// claim or withdrawal can move it.
    #[payable]
    pub fn deposit(&mut self) -> U128 {
        let amount = env::attached_deposit().as_yoctonear();
        require!(amount > 0, "attach the NEAR to deposit");
        self.funds += amount;
        Event::Deposited.emit(near_sdk::serde_json::json!({
            "from": env::predecessor_account_id(),
            "amount": U128(amount),
            "funds": U128(self.funds),
        }));
        U128(self.funds)
    }
}

impl Vault {
    fn current_rule(&self) -> &Rule {
        self.rules
            .get(&self.rule_version)
            .unwrap_or_else(|| env::abort())
    }

    fn require_owner(&self) {
        require!(
            env::predecessor_account_id() == self.owner,
            "only the vault's owner may do this"
        );
    }

    fn today() -> u64 {
        DayWindow::day_of(env::block_timestamp())
    }

    /// The funds no claim in flight may need: what a withdrawal may take.
    fn unreserved_funds(&self) -> u128 {
        self.funds.saturating_sub(self.reserved)
    }
}

/// SHA-256 of `text`.
fn sha256(text: &str) -> Digest32 {
    Digest32(env::sha256_array(text.as_bytes()))
}

#[derive(BorshStorageKey)]
#[near]
enum StorageKey {
    Rules,
    Claims,
}
