//! `EXPERIMENTAL_protocol_config`: the genesis parameters this chain has (nearcore's
//! `ProtocolConfigView` less the validator, reward and resharding fields, which a chain with one
//! producer and no staking does not have) and the runtime configuration in force.

use super::error::RpcError;
use super::params::block_ref;
use super::query::header;
use crate::chain::{CHAIN_ID, EPOCH_LENGTH, GAS_PRICE, TRANSACTION_VALIDITY_PERIOD};
use crate::fees::PROTOCOL_VERSION;
use crate::node::Node;
use crate::views::rfc3339;
use serde_json::{json, Value};

/// `EXPERIMENTAL_protocol_config` at the block `params` name.
pub fn protocol_config(node: &Node, params: &Value) -> Result<Value, RpcError> {
    header(node, &block_ref(params)?)?;
    let runtime_config = node.chain().fees().runtime_config_view();
    let runtime_config = serde_json::to_value(runtime_config)
        .map_err(|e| RpcError::internal(format!("runtime config: {e}")))?;
    let genesis = node.genesis();
    Ok(json!({
        "protocol_version": PROTOCOL_VERSION,
        "genesis_time": rfc3339(genesis.timestamp_ns),
        "chain_id": CHAIN_ID,
        "genesis_height": genesis.height,
        "epoch_length": EPOCH_LENGTH,
        // The gas price never changes here.
        "min_gas_price": GAS_PRICE.to_string(),
        "max_gas_price": GAS_PRICE.to_string(),
        "transaction_validity_period": TRANSACTION_VALIDITY_PERIOD,
        "runtime_config": runtime_config,
    }))
}
