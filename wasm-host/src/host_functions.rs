//! The host functions a contract may import from module `env` under NEAR protocol 88, with their
//! wasm signatures. Every argument is an i64, except `abort` whose four arguments are i32; a
//! function returns nothing, an i64, or (for `promise_yield_resume*`) an i32.
//!
//! This is the contract side of the ABI (what near-sys declares for near-sdk 5.30); the runtime's
//! implementations live elsewhere and must cover exactly this list.

use wasmparser::ValType;

/// `(name, parameters, result)`; in the type strings `L` is i64 and `I` is i32.
const TABLE: &[(&str, &str, &str)] = &[
    ("read_register", "LL", ""),
    ("register_len", "L", "L"),
    ("write_register", "LLL", ""),
    ("current_account_id", "L", ""),
    ("current_contract_code", "L", "L"),
    ("refund_to_account_id", "L", ""),
    ("signer_account_id", "L", ""),
    ("signer_account_pk", "L", ""),
    ("predecessor_account_id", "L", ""),
    ("input", "L", ""),
    ("chain_id", "L", ""),
    ("block_index", "", "L"),
    ("block_timestamp", "", "L"),
    ("epoch_height", "", "L"),
    ("storage_usage", "", "L"),
    ("account_balance", "L", ""),
    ("account_locked_balance", "L", ""),
    ("attached_deposit", "L", ""),
    ("prepaid_gas", "", "L"),
    ("used_gas", "", "L"),
    ("random_seed", "L", ""),
    ("sha256", "LLL", ""),
    ("keccak256", "LLL", ""),
    ("keccak512", "LLL", ""),
    ("sha3_256", "LLL", ""),
    ("sha3_384", "LLL", ""),
    ("sha3_512", "LLL", ""),
    ("ripemd160", "LLL", ""),
    ("ecrecover", "LLLLLLL", "L"),
    ("ed25519_verify", "LLLLLL", "L"),
    ("p256_verify", "LLLLLL", "L"),
    ("ml_dsa_verify", "LLLLLL", "L"),
    ("value_return", "LL", ""),
    ("panic", "", ""),
    ("panic_utf8", "LL", ""),
    ("log_utf8", "LL", ""),
    ("log_utf16", "LL", ""),
    ("abort", "IIII", ""),
    ("promise_create", "LLLLLLLL", "L"),
    ("promise_then", "LLLLLLLLL", "L"),
    ("promise_and", "LL", "L"),
    ("promise_batch_create", "LL", "L"),
    ("promise_batch_then", "LLL", "L"),
    ("promise_set_refund_to", "LLL", ""),
    ("promise_batch_action_state_init", "LLLL", "L"),
    ("promise_batch_action_state_init_by_account_id", "LLLL", "L"),
    ("set_state_init_data_entry", "LLLLLL", ""),
    ("promise_batch_action_create_account", "L", ""),
    ("promise_batch_action_deploy_contract", "LLL", ""),
    ("promise_batch_action_function_call", "LLLLLLL", ""),
    ("promise_batch_action_function_call_weight", "LLLLLLLL", ""),
    ("promise_batch_action_transfer", "LL", ""),
    ("promise_batch_action_stake", "LLLL", ""),
    ("promise_batch_action_add_key_with_full_access", "LLLL", ""),
    (
        "promise_batch_action_add_key_with_function_call",
        "LLLLLLLLL",
        "",
    ),
    ("promise_batch_action_transfer_to_gas_key", "LLLL", ""),
    (
        "promise_batch_action_add_gas_key_with_full_access",
        "LLLL",
        "",
    ),
    (
        "promise_batch_action_add_gas_key_with_function_call",
        "LLLLLLLLL",
        "",
    ),
    ("promise_batch_action_delete_key", "LLL", ""),
    ("promise_batch_action_delete_account", "LLL", ""),
    ("promise_batch_action_deploy_global_contract", "LLL", ""),
    (
        "promise_batch_action_deploy_global_contract_by_account_id",
        "LLL",
        "",
    ),
    ("promise_batch_action_use_global_contract", "LLL", ""),
    (
        "promise_batch_action_use_global_contract_by_account_id",
        "LLL",
        "",
    ),
    ("universal_state_init_to_account_id", "LLL", "L"),
    ("promise_batch_action_universal_state_init", "LLLL", ""),
    ("promise_yield_create", "LLLLLLL", "L"),
    ("promise_yield_resume", "LLLL", "I"),
    ("promise_yield_create_with_id", "LLLLLLLLL", "L"),
    ("promise_yield_resume_with_yield_id", "LLLL", "I"),
    ("promise_results_count", "", "L"),
    ("promise_result", "LL", "L"),
    ("promise_return", "L", ""),
    ("storage_write", "LLLLL", "L"),
    ("storage_read", "LLL", "L"),
    ("storage_remove", "LLL", "L"),
    ("storage_has_key", "LL", "L"),
    ("storage_iter_prefix", "LL", "L"),
    ("storage_iter_range", "LLLL", "L"),
    ("storage_iter_next", "LLL", ""),
    ("validator_stake", "LLL", ""),
    ("validator_total_stake", "L", ""),
    ("alt_bn128_g1_multiexp", "LLL", ""),
    ("alt_bn128_g1_sum", "LLL", ""),
    ("alt_bn128_pairing_check", "LL", "L"),
    ("bls12381_p1_sum", "LLL", "L"),
    ("bls12381_p2_sum", "LLL", "L"),
    ("bls12381_g1_multiexp", "LLL", "L"),
    ("bls12381_g2_multiexp", "LLL", "L"),
    ("bls12381_map_fp_to_g1", "LLL", "L"),
    ("bls12381_map_fp2_to_g2", "LLL", "L"),
    ("bls12381_pairing_check", "LL", "L"),
    ("bls12381_p1_decompress", "LLL", "L"),
    ("bls12381_p2_decompress", "LLL", "L"),
];

/// One host function's name and wasm signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFunction {
    pub name: &'static str,
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

fn val_types(code: &str) -> Vec<ValType> {
    code.chars()
        .map(|c| match c {
            'L' => ValType::I64,
            'I' => ValType::I32,
            other => unreachable!("bad type code {other} in the host function table"),
        })
        .collect()
}

/// Looks up a host function by its import name.
pub fn lookup(name: &str) -> Option<HostFunction> {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(name, params, result)| HostFunction {
            name,
            params: val_types(params),
            results: val_types(result),
        })
}

/// Every host function, in table order.
pub fn all() -> impl Iterator<Item = HostFunction> {
    TABLE.iter().filter_map(|(name, _, _)| lookup(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_well_formed() {
        let names: HashSet<_> = TABLE.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names.len(), TABLE.len(), "duplicate host function name");
        assert_eq!(all().count(), TABLE.len());
        for f in all() {
            assert!(f.results.len() <= 1, "{} returns several values", f.name);
            assert!(f.params.len() <= 9, "{} has too many parameters", f.name);
        }
    }

    #[test]
    fn known_signatures() {
        let abort = lookup("abort").unwrap();
        assert_eq!(abort.params, vec![ValType::I32; 4]);
        assert!(abort.results.is_empty());
        let resume = lookup("promise_yield_resume").unwrap();
        assert_eq!(resume.params, vec![ValType::I64; 4]);
        assert_eq!(resume.results, vec![ValType::I32]);
        let create = lookup("promise_yield_create").unwrap();
        assert_eq!(create.params.len(), 7);
        assert_eq!(create.results, vec![ValType::I64]);
        assert_eq!(lookup("storage_write").unwrap().params.len(), 5);
        assert!(lookup("fd_write").is_none());
    }
}
