//! What a node checks before it takes any work: every RPC endpoint is on the same chain, and
//! the contract knows this node as it is configured — registered, with the attestation key it
//! signs with, for the model it serves, registered under the determinism spec this engine runs
//! — and that the model's vocabulary can encode the chat prompt every on-chain request is.
//! A node that fails these would idle, compute and pay gas for attestations the contract
//! refuses, or disagree with every other node (and be slashed for it). A node also registered
//! for models it does not serve is only warned of ([`unserved_models_warning`]).

use kernels::tokenizer::{Tokenizer, TokenizerError};
use oracle_protocol::{ModelId, ModelView, NodeView};
use sdk::keys::PublicKey;
use sdk::rpc::{redact_url, ChainError, NearRpc, RetryPolicy};
use thiserror::Error;
use tracing::warn;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StartupError {
    #[error("{account} is not registered with {contract}: run `oracle-node register` first")]
    NotRegistered { account: String, contract: String },
    #[error("{account} is registered with attestation key {registered}, but this node's attestation key is {local}: the contract would refuse every attestation (use the registered key, or register this one)")]
    KeyMismatch {
        account: String,
        registered: String,
        local: String,
    },
    #[error("{account} is registered for models [{registered}], not for {served}, the model this node serves: it would never be on a committee (serve a registered model, or register this one)")]
    ModelNotRegistered {
        account: String,
        served: ModelId,
        registered: String,
    },
    #[error("model {model} is not registered with {contract}")]
    ModelMissing { model: ModelId, contract: String },
    #[error("model {model} is registered under determinism spec `{registered}`, but this engine runs `{local}`: its results would agree with no node of the registered spec (run a node build for `{registered}`)")]
    SpecMismatch {
        model: ModelId,
        registered: String,
        local: String,
    },
    #[error("model {model} cannot serve oracle requests, which are all chat prompts: {source}; serve a model with ChatML control tokens (such as the default SmolLM2-Instruct)")]
    NoChatTemplate {
        model: ModelId,
        source: TokenizerError,
    },
    /// The URLs as [`redact_url`] shows them.
    #[error("the RPC endpoints are on different chains: {first_url} on `{first}`, {url} on `{other}`; list endpoints of one network only")]
    ChainMismatch {
        first_url: String,
        first: String,
        url: String,
        other: String,
    },
}

/// Checks the node entry `node` of `account` (as `get_node` returned it) against the local
/// attestation key.
pub fn check_registration<'a>(
    node: Option<&'a NodeView>,
    account: &str,
    contract: &str,
    attestation_key: &PublicKey,
) -> Result<&'a NodeView, StartupError> {
    let node = node.ok_or_else(|| StartupError::NotRegistered {
        account: account.to_string(),
        contract: contract.to_string(),
    })?;
    let local = attestation_key.to_string();
    if node.attestation_key != local {
        return Err(StartupError::KeyMismatch {
            account: account.to_string(),
            registered: node.attestation_key.clone(),
            local,
        });
    }
    Ok(node)
}

/// Checks that `node` is registered for `served`.
pub fn check_model(node: &NodeView, served: ModelId) -> Result<(), StartupError> {
    if node.models.contains(&served) {
        return Ok(());
    }
    Err(StartupError::ModelNotRegistered {
        account: node.account_id.clone(),
        served,
        registered: node
            .models
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Why a node registered for models besides `served`, the one it serves (a node serves one
/// model; registering for several is done by hand), is jailed in time: the oracle puts it on
/// those models' committees too and counts it silent on each of their requests. `None` when
/// `node` is registered for `served` alone. A warning, not a refusal: an operator may be
/// moving the node to another model.
pub fn unserved_models_warning(node: &NodeView, served: ModelId) -> Option<String> {
    let unserved: Vec<String> = node
        .models
        .iter()
        .filter(|model| **model != served)
        .map(ToString::to_string)
        .collect();
    if unserved.is_empty() {
        return None;
    }
    Some(format!(
        "{} is registered for models [{}] besides {served}, the one this node serves: the oracle \
         puts it on their committees too, and each of their requests it lets pass without a \
         commitment counts as missed, so it will be jailed; register it for the served model \
         only (unregister_node, withdraw_stake once unbonded, then `oracle-node register` again), \
         or run one node (account) per model",
        node.account_id,
        unserved.join(", ")
    ))
}

/// Checks that `tokenizer`, the one of the model `served`, can encode chat prompts: without it
/// the node would take every request and miss each one, while reporting itself healthy.
pub fn check_chat_template(tokenizer: &Tokenizer, served: ModelId) -> Result<(), StartupError> {
    tokenizer
        .check_chat_template()
        .map_err(|source| StartupError::NoChatTemplate {
            model: served,
            source,
        })
}

/// Checks that the contract's entry for `served` (`get_model`'s answer) names the determinism
/// spec `local` this engine runs.
pub fn check_spec(
    model: Option<&ModelView>,
    served: ModelId,
    contract: &str,
    local: &str,
) -> Result<(), StartupError> {
    let model = model.ok_or_else(|| StartupError::ModelMissing {
        model: served,
        contract: contract.to_string(),
    })?;
    if model.spec_version == local {
        return Ok(());
    }
    Err(StartupError::SpecMismatch {
        model: served,
        registered: model.spec_version.clone(),
        local: local.to_string(),
    })
}

/// Asks each of `urls` for its chain id; they must all agree. An endpoint that does not answer
/// is skipped with a warning (failover covers it); `None` when none answered.
pub async fn common_chain_id(
    urls: &[String],
    policy: &RetryPolicy,
) -> Result<Option<String>, StartupError> {
    let mut first: Option<(String, String)> = None;
    for url in urls {
        let status = match NearRpc::new(vec![url.clone()], policy.clone()) {
            Ok(rpc) => rpc.status().await,
            Err(error) => Err(error),
        };
        let chain_id = match status {
            Ok(status) => status.chain_id,
            Err(error) => {
                warn_unreachable(url, &error);
                continue;
            }
        };
        match &first {
            None => first = Some((url.clone(), chain_id)),
            Some((first_url, first_id)) if *first_id != chain_id => {
                return Err(StartupError::ChainMismatch {
                    first_url: redact_url(first_url),
                    first: first_id.clone(),
                    url: redact_url(url),
                    other: chain_id,
                })
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(_, chain_id)| chain_id))
}

fn warn_unreachable(url: &str, error: &ChainError) {
    warn!(endpoint = redact_url(url), %error, "cannot read the chain id of this endpoint");
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracle_protocol::{Digest32, NodeStatus};
    use sdk::keys::SecretKey;

    #[test]
    fn the_model_must_be_registered_under_this_engines_spec() {
        let served = Digest32([7; 32]);
        let model = |spec: &str| ModelView {
            model_id: served,
            name: "m".into(),
            spec_version: spec.into(),
            max_input_bytes: 1,
            max_output_tokens: 1,
            price: 1,
            price_per_input_byte: 0,
            price_per_output_token: 0,
        };
        let local = kernels::SPEC_VERSION;
        assert_eq!(
            check_spec(Some(&model(local)), served, "oracle.test", local),
            Ok(())
        );
        let older = check_spec(Some(&model("detspec-0")), served, "oracle.test", local);
        assert!(
            matches!(&older, Err(StartupError::SpecMismatch { registered, .. }) if registered == "detspec-0"),
            "{older:?}"
        );
        assert!(matches!(
            check_spec(None, served, "oracle.test", local),
            Err(StartupError::ModelMissing { .. })
        ));
    }

    fn node(key: &PublicKey, models: Vec<ModelId>) -> NodeView {
        NodeView {
            account_id: "node0.test".into(),
            attestation_key: key.to_string(),
            models,
            stake: 5,
            status: NodeStatus::Active,
            registered_at: 1,
            missed_commits: 0,
        }
    }

    #[test]
    fn a_node_must_be_registered_with_its_key_and_model() {
        let key = SecretKey::from_seed([1; 32]).public_key();
        let other = SecretKey::from_seed([2; 32]).public_key();
        let (served, elsewhere) = (Digest32([7; 32]), Digest32([8; 32]));
        let registered = node(&key, vec![served]);

        let missing = check_registration(None, "node0.test", "oracle.test", &key).unwrap_err();
        assert!(
            missing.to_string().contains("oracle-node register"),
            "{missing}"
        );
        let wrong_key =
            check_registration(Some(&registered), "node0.test", "oracle.test", &other).unwrap_err();
        assert_eq!(
            wrong_key,
            StartupError::KeyMismatch {
                account: "node0.test".into(),
                registered: key.to_string(),
                local: other.to_string(),
            }
        );
        let found =
            check_registration(Some(&registered), "node0.test", "oracle.test", &key).unwrap();
        assert_eq!(check_model(found, served), Ok(()));
        assert_eq!(unserved_models_warning(found, served), None);
        let wrong_model = check_model(found, elsewhere).unwrap_err();
        assert!(
            wrong_model.to_string().contains(&elsewhere.to_string())
                && wrong_model.to_string().contains(&served.to_string()),
            "{wrong_model}"
        );
    }

    #[test]
    fn a_node_registered_for_models_it_does_not_serve_is_warned_of_jailing() {
        let key = SecretKey::from_seed([1; 32]).public_key();
        let (served, second, third) = (Digest32([7; 32]), Digest32([8; 32]), Digest32([9; 32]));
        let several = node(&key, vec![second, served, third]);
        assert_eq!(check_model(&several, served), Ok(()), "it still starts");
        let warning = unserved_models_warning(&several, served).unwrap();
        let names = format!("[{second}, {third}] besides {served}");
        assert!(warning.contains(&names), "{warning}");
        for advice in ["jailed", "unregister_node", "withdraw_stake", "one node"] {
            assert!(warning.contains(advice), "no `{advice}` in {warning}");
        }
        assert_eq!(
            unserved_models_warning(&node(&key, vec![served]), served),
            None
        );
    }
}
