//! The devnet's smart-asset vault: deployed with a readable rule and hard caps, funded by its
//! owner, and claimed against.

use crate::cluster::{contract_wasm, succeed, Deployment, Localnet, ONE_NEAR, ORACLE, OWNER, TGAS};
use anyhow::Result;
use sdk::wire::{Action, FunctionCallAction};
use serde_json::{json, Value};

pub const VAULT: &str = "vault.test";
pub const RULE: &str = "Refund a customer whose order never arrived, only for the orders A-1001 \
                        and A-1002, at most 1 NEAR per refund. Reject everything else.";
pub const MAX_PER_CLAIM: u128 = ONE_NEAR;
pub const MAX_PER_DAY: u128 = 3 * ONE_NEAR;
pub const FUNDING: u128 = 10 * ONE_NEAR;
/// Blocks a rule or loosened limits wait before they apply.
const CHANGE_DELAY_BLOCKS: u64 = 100;
/// What a claimant attaches: the oracle's fee and the claim's storage; the rest comes back.
const CLAIM_DEPOSIT: u128 = ONE_NEAR;

/// Deploys the vault (the owner's rule, caps of 1 NEAR per claim and 3 NEAR per day, no
/// allow-list) and funds it with 10 NEAR from the owner.
pub async fn deploy(localnet: &Localnet, deployment: &Deployment) -> Result<()> {
    let vault = localnet.signer(VAULT)?;
    let code = contract_wasm("vault_contract.wasm")?;
    succeed(
        vault
            .send(VAULT, vec![Action::DeployContract { code }])
            .await?,
        "deploying the vault",
    )?;
    let init = json!({
        "owner": OWNER, "oracle": ORACLE, "model_id": deployment.model_id, "rule": RULE,
        "limits": {"max_per_claim": MAX_PER_CLAIM.to_string(), "max_per_day": MAX_PER_DAY.to_string()},
        "rule_change_delay_blocks": CHANGE_DELAY_BLOCKS,
    });
    succeed(
        vault.call(VAULT, "new", &init, 100 * TGAS, 0).await?,
        "vault new",
    )?;
    succeed(
        deployment
            .owner
            .call(VAULT, "deposit", &json!({}), 30 * TGAS, FUNDING)
            .await?,
        "funding the vault",
    )?;
    Ok(())
}

/// The user files a claim paying `amount` to `recipient` (without waiting for its verdict).
pub async fn file_claim(
    deployment: &Deployment,
    recipient: &str,
    amount: u128,
    evidence: &str,
) -> Result<String> {
    let args = json!({"recipient": recipient, "amount": amount.to_string(), "evidence": evidence});
    let action = Action::FunctionCall(Box::new(FunctionCallAction {
        method_name: "file_claim".into(),
        args: serde_json::to_vec(&args)?,
        gas: 300 * TGAS,
        deposit: CLAIM_DEPOSIT,
    }));
    Ok(deployment.user.submit(VAULT, vec![action]).await?)
}

/// The vault's state (`get_vault`).
pub async fn state(deployment: &Deployment) -> Result<Value> {
    deployment.view(VAULT, "get_vault", json!({})).await
}

/// Claim `claim_id` (`get_claim`; `null` when there is none).
pub async fn claim(deployment: &Deployment, claim_id: u64) -> Result<Value> {
    deployment
        .view(VAULT, "get_claim", json!({"claim_id": claim_id}))
        .await
}

/// Whether `claim` is paid or rejected (not waiting for its verdict).
pub fn settled(claim: &Value) -> bool {
    let status = &claim["status"];
    status == "paid" || status.get("rejected").is_some()
}
