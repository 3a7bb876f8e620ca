//! Views of blocks and of the node (`block`, `status`).

use super::hash58;
use crate::chain::{BlockHeader, CHAIN_ID, GAS_PRICE};
use serde_json::{json, Value};

/// The protocol version whose fees and limits the chain follows.
const PROTOCOL_VERSION: u32 = 88;
const ZERO_HASH: &str = "11111111111111111111111111111111";
const ZERO_SIGNATURE: &str =
    "ed25519:1111111111111111111111111111111111111111111111111111111111111111";

/// `unix_ns` as RFC 3339 with nanoseconds, UTC (how NEAR writes `latest_block_time`).
pub fn rfc3339(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let nanos = unix_ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// `block`'s result: NEAR's `BlockView` with one chunk; fields this chain has no use for
/// (validators, proofs, signatures) hold zero hashes and empty lists.
pub fn block_view(header: &BlockHeader, prev_height: Option<u64>) -> Value {
    let hash = hash58(&header.hash);
    let prev_hash = hash58(&header.prev_hash);
    let tx_root = hash58(&header.tx_root);
    let outcome_root = hash58(&header.outcome_root);
    let chunk = json!({
        "chunk_hash": hash58(&crate::chain::hash(&header.hash)),
        "prev_block_hash": prev_hash,
        "outcome_root": outcome_root,
        "prev_state_root": ZERO_HASH,
        "encoded_merkle_root": ZERO_HASH,
        "encoded_length": 0,
        "height_created": header.height,
        "height_included": header.height,
        "shard_id": 0,
        "gas_used": 0,
        "gas_limit": 1_000_000_000_000_000u64,
        "rent_paid": "0",
        "validator_reward": "0",
        "balance_burnt": "0",
        "outgoing_receipts_root": ZERO_HASH,
        "tx_root": tx_root,
        "validator_proposals": [],
        "signature": ZERO_SIGNATURE,
    });
    json!({
        "author": "localnet",
        "header": {
            "height": header.height,
            "prev_height": prev_height,
            "epoch_id": ZERO_HASH,
            "next_epoch_id": ZERO_HASH,
            "hash": hash,
            "prev_hash": prev_hash,
            "prev_state_root": ZERO_HASH,
            "block_body_hash": null,
            "chunk_receipts_root": ZERO_HASH,
            "chunk_headers_root": ZERO_HASH,
            "chunk_tx_root": tx_root,
            "outcome_root": outcome_root,
            "chunks_included": 1,
            "challenges_root": ZERO_HASH,
            "timestamp": header.timestamp_ns,
            "timestamp_nanosec": header.timestamp_ns.to_string(),
            "random_value": hash58(&crate::chain::block_random_value(header.height)),
            "validator_proposals": [],
            "chunk_mask": [true],
            "gas_price": GAS_PRICE.to_string(),
            "block_ordinal": header.height + 1,
            "rent_paid": "0",
            "validator_reward": "0",
            "total_supply": "0",
            "challenges_result": [],
            "last_final_block": hash,
            "last_ds_final_block": hash,
            "next_bp_hash": ZERO_HASH,
            "block_merkle_root": ZERO_HASH,
            "epoch_sync_data_hash": null,
            "approvals": [],
            "signature": ZERO_SIGNATURE,
            "latest_protocol_version": PROTOCOL_VERSION,
        },
        "chunks": [chunk],
    })
}

/// What `status` reports besides the chain's head.
pub struct StatusInfo<'a> {
    pub genesis: &'a BlockHeader,
    pub head: &'a BlockHeader,
    pub rpc_addr: &'a str,
    pub uptime_sec: u64,
}

/// `status`'s result: NEAR's `StatusResponse`.
pub fn status_view(info: &StatusInfo<'_>) -> Value {
    json!({
        "version": {
            "version": env!("CARGO_PKG_VERSION"),
            "build": "wasm-host-localnet",
            "commit": "",
            "rustc_version": "",
        },
        "chain_id": CHAIN_ID,
        "protocol_version": PROTOCOL_VERSION,
        "latest_protocol_version": PROTOCOL_VERSION,
        "rpc_addr": info.rpc_addr,
        "validators": [],
        "sync_info": {
            "latest_block_hash": hash58(&info.head.hash),
            "latest_block_height": info.head.height,
            "latest_state_root": ZERO_HASH,
            "latest_block_time": rfc3339(info.head.timestamp_ns),
            "syncing": false,
            "earliest_block_hash": hash58(&info.genesis.hash),
            "earliest_block_height": info.genesis.height,
            "earliest_block_time": rfc3339(info.genesis.timestamp_ns),
            "epoch_id": ZERO_HASH,
            "epoch_start_height": 0,
        },
        "validator_account_id": null,
        "validator_public_key": null,
        "node_public_key": "ed25519:11111111111111111111111111111111",
        "node_key": null,
        "uptime_sec": info.uptime_sec,
        "genesis_hash": hash58(&info.genesis.hash),
        "detailed_debug_status": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
