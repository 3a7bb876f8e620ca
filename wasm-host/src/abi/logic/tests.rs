use super::*;
use crate::abi::{AccountId, PromiseResult};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Default)]
struct MapExt {
    data: BTreeMap<Vec<u8>, Vec<u8>>,
    next_id: u8,
    pending: Vec<CryptoHash>,
}

impl External for MapExt {
    fn storage_read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.data.get(key).cloned()
    }
    fn storage_write(&mut self, key: &[u8], value: &[u8]) -> Option<Vec<u8>> {
        self.data.insert(key.to_vec(), value.to_vec())
    }
    fn storage_remove(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.data.remove(key)
    }
    fn storage_has_key(&self, key: &[u8]) -> bool {
        self.data.contains_key(key)
    }
    fn generate_data_id(&mut self) -> CryptoHash {
        self.next_id += 1;
        [self.next_id; 32]
    }
    fn yield_pending(&self, data_id: &CryptoHash) -> bool {
        self.pending.contains(data_id)
    }
}

fn account(id: &str) -> AccountId {
    id.parse().unwrap()
}

fn context(view: bool) -> VMContext {
    VMContext {
        current_account_id: account("contract.test"),
        signer_account_id: account("alice.test"),
        signer_account_pk: vec![0; 33],
        predecessor_account_id: account("alice.test"),
        refund_to_account_id: account("alice.test"),
        input: Arc::new(b"{}".to_vec()),
        promise_results: Arc::new(vec![PromiseResult::Successful(b"7".to_vec())]),
        block_height: 10,
        block_timestamp: 1_000,
        epoch_height: 1,
        account_balance: 1_000,
        account_locked_balance: 0,
        storage_usage: 100,
        attached_deposit: 0,
        prepaid_gas: 300_000_000_000_000,
        random_seed: vec![1; 32],
        view,
        output_data_receivers: Vec::new(),
        chain_id: "localnet".into(),
        code_hash: [0; 32],
    }
}

fn logic(view: bool) -> Logic<MapExt> {
    Logic::new(Fees::default(), context(view), MapExt::default())
}

#[test]
fn storage_round_trip_tracks_usage_and_charges_gas() {
    let mut logic = logic(false);
    let mut mem = vec![0u8; 64];
    mem[..3].copy_from_slice(b"key");
    mem[8..13].copy_from_slice(b"value");
    assert_eq!(logic.storage_write(&mut mem, 3, 0, 5, 8, 0).unwrap(), 0);
    assert_eq!(logic.storage_usage, 100 + 3 + 5 + 40);
    assert_eq!(logic.storage_read(&mut mem, 3, 0, 1).unwrap(), 1);
    assert_eq!(logic.register_len(&mut mem, 1).unwrap(), 5);
    logic.read_register(&mut mem, 1, 32).unwrap();
    assert_eq!(&mem[32..37], b"value");
    assert_eq!(logic.storage_has_key(&mut mem, 3, 0).unwrap(), 1);
    assert_eq!(logic.storage_remove(&mut mem, 3, 0, 2).unwrap(), 1);
    assert_eq!(logic.storage_usage, 100);
    assert_eq!(logic.storage_read(&mut mem, 3, 0, 1).unwrap(), 0);
    assert!(logic.gas().burnt() > 0);
}

#[test]
fn views_cannot_write_or_create_promises() {
    let mut logic = logic(true);
    let mut mem = vec![0u8; 64];
    assert_eq!(
        logic.storage_write(&mut mem, 1, 0, 1, 0, 0),
        Err(HostError::ProhibitedInView {
            method: "storage_write"
        })
    );
    assert_eq!(
        logic.promise_yield_resume(&mut mem, 32, 0, 0, 0),
        Err(HostError::ProhibitedInView {
            method: "promise_submit_data"
        })
    );
    assert!(logic.signer_account_id(&mut mem, 0).is_err());
    assert!(logic.current_account_id(&mut mem, 0).is_ok());
}

#[test]
fn logs_are_limited_in_number() {
    let mut logic = logic(false);
    let mut mem = b"hello".to_vec();
    for _ in 0..100 {
        logic.log_utf8(&mut mem, 5, 0).unwrap();
    }
    assert_eq!(
        logic.log_utf8(&mut mem, 5, 0),
        Err(HostError::NumberOfLogsExceeded { limit: 100 })
    );
}

#[test]
fn strings_are_bounded_by_what_the_log_budget_has_left_before_memory_is_read() {
    // As nearcore's `get_utf8_string`: a length over the budget (16,384 bytes of logs per call)
    // is refused before the memory is read or charged.
    let exceeded = Err(HostError::TotalLogLengthExceeded { limit: 16_384 });
    let mut logic = logic(false);
    let mut mem = vec![b'a'; 16_400];
    assert_eq!(logic.log_utf8(&mut mem, 1 << 40, 0), exceeded);
    assert_eq!(logic.panic_utf8(&mut mem, 20_000, 0), exceeded);
    assert!(
        logic.gas().burnt() < 10_000_000_000,
        "no memory was charged"
    );
    logic.log_utf8(&mut mem, 16_000, 0).unwrap();
    // 384 bytes are left: a longer message fails, whether panicked or logged, with its length
    // given or NUL-terminated.
    assert_eq!(logic.panic_utf8(&mut mem, 385, 0), exceeded);
    mem[385] = 0;
    assert_eq!(logic.log_utf8(&mut mem, u64::MAX, 0), exceeded);
    mem[384] = 0;
    let panic = logic.panic_utf8(&mut mem, u64::MAX, 0);
    assert_eq!(panic, Err(HostError::GuestPanic("a".repeat(384))));
    logic.log_utf8(&mut mem, u64::MAX, 0).unwrap();
    assert_eq!(logic.log_utf8(&mut mem, 1, 0), exceeded);
}

#[test]
fn failed_calls_keep_logs_and_gas_but_drop_everything_else() {
    let mut logic = logic(false);
    let mut mem = vec![0u8; 64];
    mem[..9].copy_from_slice(b"bob.test\0");
    logic.log_utf8(&mut mem, u64::MAX, 0).unwrap();
    let promise = logic.promise_batch_create(&mut mem, 8, 0).unwrap();
    mem[16..32].copy_from_slice(&10u128.to_le_bytes());
    logic
        .promise_batch_action_transfer(&mut mem, promise, 16)
        .unwrap();
    let (outcome, _) = logic.finish(true);
    assert_eq!(outcome.logs, vec!["bob.test"]);
    assert!(outcome.receipts.is_empty());
    assert_eq!(outcome.balance, 1_000);
    assert_eq!(outcome.burnt_gas, outcome.used_gas);
}

#[test]
fn callbacks_wire_data_dependencies_and_weights_share_unused_gas() {
    let mut logic = logic(false);
    let mut mem = vec![0u8; 128];
    mem[..8].copy_from_slice(b"bob.test");
    mem[8..16].copy_from_slice(b"echo_me_");
    let first = logic
        .promise_create(&mut mem, 8, 0, 4, 8, 0, 0, 64, 5_000_000_000_000)
        .unwrap();
    let second = logic
        .promise_create(&mut mem, 8, 0, 4, 8, 0, 0, 64, 5_000_000_000_000)
        .unwrap();
    mem[80..88].copy_from_slice(&first.to_le_bytes());
    mem[88..96].copy_from_slice(&second.to_le_bytes());
    let joint = logic.promise_and(&mut mem, 80, 2).unwrap();
    mem[96..109].copy_from_slice(b"contract.test");
    let callback = logic.promise_batch_then(&mut mem, joint, 13, 96).unwrap();
    logic
        .promise_batch_action_function_call_weight(&mut mem, callback, 4, 8, 0, 0, 64, 0, 1)
        .unwrap();
    logic.promise_return(&mut mem, callback).unwrap();
    assert_eq!(
        logic.promise_return(&mut mem, joint),
        Err(HostError::CannotReturnJointPromise)
    );
    assert_eq!(
        logic.promise_set_refund_to(&mut mem, joint, 8, 0),
        Err(HostError::CannotSetRefundToOnJointPromise)
    );
    let (outcome, _) = logic.finish(false);
    assert_eq!(outcome.receipts.len(), 3);
    let callback = &outcome.receipts[2];
    assert_eq!(callback.input_data_ids.len(), 2);
    assert_eq!(
        outcome.receipts[0].output_data_receivers[0].data_id,
        callback.input_data_ids[0]
    );
    assert_eq!(outcome.return_data, ReturnData::ReceiptIndex(2));
    // All prepaid gas is used: the weighted callback got what was left.
    assert_eq!(outcome.used_gas, 300_000_000_000_000);
    assert!(callback.actions[0].prepaid_gas() > 200_000_000_000_000);
}

#[test]
fn huge_gas_weights_share_unused_gas_without_overflow() {
    let mut logic = logic(false);
    let mut mem = vec![0u8; 128];
    mem[..8].copy_from_slice(b"bob.test");
    mem[8..12].copy_from_slice(b"echo");
    let promise = logic.promise_batch_create(&mut mem, 8, 0).unwrap();
    for weight in [u64::MAX, 2] {
        logic
            .promise_batch_action_function_call_weight(&mut mem, promise, 4, 8, 0, 0, 64, 0, weight)
            .unwrap();
    }
    let unused = logic.gas().unused();
    let (outcome, _) = logic.finish(false);
    let gas: Vec<u64> = outcome.receipts[0]
        .actions
        .iter()
        .map(|a| a.prepaid_gas())
        .collect();
    // nearcore's formula: unused * weight / total in u128, the rest to the last call.
    let total = u128::from(u64::MAX) + 2;
    let first = (u128::from(unused) * u128::from(u64::MAX) / total) as u64;
    assert_eq!(gas, vec![first, unused - first]);
    assert_eq!(outcome.used_gas, 300_000_000_000_000);
}

#[test]
fn promise_results_and_yield_resume() {
    let mut logic = logic(false);
    let mut mem = vec![0u8; 2048];
    assert_eq!(logic.promise_results_count(&mut mem).unwrap(), 1);
    assert_eq!(logic.promise_result(&mut mem, 0, 3).unwrap(), 1);
    assert!(logic.promise_result(&mut mem, 1, 3).is_err());
    mem[..2].copy_from_slice(b"cb");
    logic
        .promise_yield_create(&mut mem, 2, 0, 0, 0, 1_000_000_000_000, 0, 5)
        .unwrap();
    let data_id: CryptoHash = logic.registers.get(5).unwrap().try_into().unwrap();
    logic.ext.pending.push(data_id);
    mem[..32].copy_from_slice(&data_id);
    assert_eq!(
        logic.promise_yield_resume(&mut mem, 32, 0, 1025, 32),
        Err(HostError::YieldPayloadLength {
            length: 1025,
            limit: 1024
        })
    );
    // A yield in the state takes every resume until the first one arrives (the chain delivers
    // that one only), so a second resume in the same call succeeds too, as on NEAR.
    assert_eq!(
        logic.promise_yield_resume(&mut mem, 32, 0, 4, 32).unwrap(),
        1
    );
    assert_eq!(
        logic.promise_yield_resume(&mut mem, 32, 0, 4, 32).unwrap(),
        1
    );
    assert_eq!(
        logic.promise_yield_resume(&mut mem, 31, 0, 4, 32),
        Err(HostError::DataIdMalformed)
    );
    let (outcome, _) = logic.finish(false);
    assert_eq!(outcome.receipts[0].yield_data_id, Some(data_id));
    assert_eq!(outcome.resumes.len(), 2);
}

#[test]
fn yield_create_pays_the_callbacks_receipt_and_function_call_fees() {
    use crate::fees::{Action as Fee, Ext};
    let mut logic = logic(false);
    let mut mem = vec![0u8; 64];
    mem[..2].copy_from_slice(b"cb");
    mem[2..5].copy_from_slice(b"abc");
    let gas = 1_000_000_000_000;
    logic
        .promise_yield_create(&mut mem, 2, 0, 3, 2, gas, 0, 5)
        .unwrap();
    let fees = Fees::default();
    let bytes = 5;
    let host = fees.ext(Ext::base)
        + fees.ext(Ext::yield_create_base)
        + 2 * fees.ext(Ext::read_memory_base)
        + bytes * fees.ext(Ext::read_memory_byte)
        + bytes * fees.ext(Ext::yield_create_byte)
        + fees.ext(Ext::write_register_base)
        + 32 * fees.ext(Ext::write_register_byte);
    // nearcore: a new receipt to the same account with one data dependency, plus the function
    // call's base and per-byte (method name and arguments) action fees.
    let send = fees.send(Fee::new_action_receipt, true)
        + fees.send(Fee::new_data_receipt_base, true)
        + fees.exec(Fee::new_data_receipt_base)
        + fees.send(Fee::function_call_base, true)
        + bytes * fees.send(Fee::function_call_byte, true);
    let exec = fees.exec(Fee::new_action_receipt)
        + fees.exec(Fee::function_call_base)
        + bytes * fees.exec(Fee::function_call_byte);
    assert_eq!(logic.gas().burnt(), host + send);
    assert_eq!(logic.gas().used(), host + send + exec + gas);
}

#[test]
fn a_yield_resumed_by_the_call_that_created_it_gets_the_payload() {
    let mut logic = logic(false);
    let mut mem = vec![0u8; 64];
    mem[..2].copy_from_slice(b"cb");
    logic
        .promise_yield_create(&mut mem, 2, 0, 0, 0, 1_000_000_000_000, 0, 5)
        .unwrap();
    let data_id: CryptoHash = logic.registers.get(5).unwrap().try_into().unwrap();
    mem[..32].copy_from_slice(&data_id);
    mem[32..36].copy_from_slice(b"done");
    assert_eq!(
        logic.promise_yield_resume(&mut mem, 32, 0, 4, 32).unwrap(),
        1
    );
    assert_eq!(
        logic.promise_yield_resume(&mut mem, 32, 0, 4, 32).unwrap(),
        0
    );
    let (outcome, _) = logic.finish(false);
    assert_eq!(outcome.resumes, vec![(data_id, b"done".to_vec())]);
    // Resolved at once: the callback is an ordinary receipt waiting for the payload.
    assert_eq!(outcome.receipts[0].yield_data_id, None);
}

#[test]
fn gas_exhaustion_in_a_host_function() {
    let mut context = context(false);
    context.prepaid_gas = 1_000_000;
    let mut logic = Logic::new(Fees::default(), context, MapExt::default());
    let mut mem = vec![0u8; 8];
    assert_eq!(logic.sha256(&mut mem, 8, 0, 0), Err(HostError::GasExceeded));
    assert_eq!(logic.gas().burnt(), 1_000_000);
}

#[test]
fn validator_stake_reads_the_account_id_as_nearcore_does() {
    // From memory or a register, charged as UTF-8 decoding; bad UTF-8 fails, and so (under
    // protocol 88's validity rules) does an invalid id, before the stake lookup is charged.
    let fees = Fees::default();
    let mut logic = logic(false);
    let mut mem = vec![0u8; 64];
    mem[..8].copy_from_slice(b"val.test");
    let read = |len: u64| {
        fees.ext(Ext::base)
            + fees.ext(Ext::read_memory_base)
            + len * fees.ext(Ext::read_memory_byte)
            + fees.ext(Ext::utf8_decoding_base)
            + len * fees.ext(Ext::utf8_decoding_byte)
    };
    let before = logic.gas().burnt();
    logic.validator_stake(&mut mem, 8, 0, 32).unwrap();
    assert_eq!(mem[32..48], [0; 16]);
    let charged = read(8)
        + fees.ext(Ext::validator_stake_base)
        + fees.ext(Ext::write_memory_base)
        + 16 * fees.ext(Ext::write_memory_byte);
    assert_eq!(logic.gas().burnt() - before, charged);
    logic.write_register(&mut mem, 3, 8, 0).unwrap();
    logic.validator_stake(&mut mem, u64::MAX, 3, 32).unwrap();

    mem[..7].copy_from_slice(b"NOT-ID!");
    let before = logic.gas().burnt();
    assert_eq!(
        logic.validator_stake(&mut mem, 7, 0, 32),
        Err(HostError::InvalidAccountId)
    );
    assert_eq!(logic.gas().burnt() - before, read(7));
    logic.write_register(&mut mem, 3, 7, 0).unwrap();
    assert_eq!(
        logic.validator_stake(&mut mem, u64::MAX, 3, 32),
        Err(HostError::InvalidAccountId)
    );
    mem[0] = 0xff;
    assert_eq!(
        logic.validator_stake(&mut mem, 1, 0, 32),
        Err(HostError::BadUtf8)
    );
}

#[test]
fn account_id_validation_follows_the_protocols_rules() {
    // Before protocol 83 (validity rules version 1) nearcore took any UTF-8 text here.
    let logic_for = |fees| Logic::new(fees, context(false), MapExt::default());
    let mut logic = logic_for(Fees::for_protocol(82));
    let mut mem = vec![0u8; 64];
    mem[..7].copy_from_slice(b"NOT-ID!");
    logic.validator_stake(&mut mem, 7, 0, 32).unwrap();
    let mut logic = logic_for(Fees::for_protocol(83));
    assert_eq!(
        logic.validator_stake(&mut mem, 7, 0, 32),
        Err(HostError::InvalidAccountId)
    );
}

#[test]
fn invalid_account_ids_fail_the_host_call_at_once() {
    let fees = Fees::default();
    let mut logic = logic(false);
    let mut mem = vec![0u8; 128];
    mem[..9].copy_from_slice(b"NOT VALID");
    let before = logic.gas().burnt();
    assert_eq!(
        logic.promise_batch_create(&mut mem, 9, 0),
        Err(HostError::InvalidAccountId)
    );
    // Charged for reading and decoding the id only, not for a receipt.
    let read = fees.ext(Ext::base)
        + fees.ext(Ext::read_memory_base)
        + 9 * fees.ext(Ext::read_memory_byte)
        + fees.ext(Ext::utf8_decoding_base)
        + 9 * fees.ext(Ext::utf8_decoding_byte);
    assert_eq!(logic.gas().burnt() - before, read);

    mem[16..24].copy_from_slice(b"bob.test");
    let promise = logic.promise_batch_create(&mut mem, 8, 16).unwrap();
    assert_eq!(promise, 0, "the invalid id made no promise");
    mem[32] = 0; // an ed25519 key
    assert_eq!(
        logic.promise_batch_action_add_key_with_function_call(
            &mut mem, promise, 33, 32, 0, 96, 9, 0, 0, 0
        ),
        Err(HostError::InvalidAccountId)
    );
    assert_eq!(
        logic.promise_set_refund_to(&mut mem, promise, 9, 0),
        Err(HostError::InvalidAccountId)
    );
    assert_eq!(
        logic.promise_batch_action_delete_account(&mut mem, promise, 9, 0),
        Err(HostError::InvalidAccountId)
    );
    assert_eq!(
        logic.promise_batch_then(&mut mem, promise, 9, 0),
        Err(HostError::InvalidAccountId)
    );
    let (outcome, _) = logic.finish(false);
    assert_eq!(outcome.receipts.len(), 1);
    assert!(outcome.receipts[0].actions.is_empty());
    assert_eq!(outcome.receipts[0].refund_to, None);
}

/// Gas used and burnt after one host call on a fresh `Logic`, and the call's result.
fn gas_after<T>(
    call: impl FnOnce(&mut Logic<MapExt>, &mut Vec<u8>) -> Result<T, HostError>,
) -> (u64, u64, Result<T, HostError>) {
    let mut logic = logic(false);
    let mut mem = vec![0u8; 256];
    mem[..8].copy_from_slice(b"bob.test");
    mem[64] = 0; // an ed25519 key at 64..97
    let result = call(&mut logic, &mut mem);
    (logic.gas().used(), logic.gas().burnt(), result)
}

#[test]
fn non_utf8_method_names_fail_after_the_action_fees_are_paid() {
    // nearcore appends the action (checking UTF-8) after paying its fees, prepaid gas and
    // deposit: the same gas as a valid name of the same length, then `InvalidMethodName`.
    let with_name = |name: &'static [u8]| {
        gas_after(move |logic, mem| {
            mem[8..8 + name.len()].copy_from_slice(name);
            let promise = logic.promise_batch_create(mem, 8, 0)?;
            logic.promise_batch_action_function_call_weight(
                mem,
                promise,
                name.len() as u64,
                8,
                0,
                0,
                128,
                1_000_000,
                1,
            )
        })
    };
    let (used, burnt, result) = with_name(b"\xff");
    assert_eq!(result, Err(HostError::InvalidMethodName));
    let (valid_used, valid_burnt, valid) = with_name(b"a");
    valid.unwrap();
    assert_eq!((used, burnt), (valid_used, valid_burnt));

    let yield_with = |name: &'static [u8]| {
        gas_after(move |logic, mem| {
            mem[8..8 + name.len()].copy_from_slice(name);
            logic.promise_yield_create(mem, name.len() as u64, 8, 0, 0, 1_000_000, 0, 5)
        })
    };
    let (used, burnt, result) = yield_with(b"\xff");
    assert_eq!(result, Err(HostError::InvalidMethodName));
    let (valid_used, valid_burnt, valid) = yield_with(b"a");
    valid.unwrap();
    // The valid one then also writes its data id to the register.
    let fees = Fees::default();
    let register = fees.ext(Ext::write_register_base) + 32 * fees.ext(Ext::write_register_byte);
    assert_eq!(
        (used, burnt),
        (valid_used - register, valid_burnt - register)
    );

    let key_with = |names: &'static [u8]| {
        gas_after(move |logic, mem| {
            mem[8..16].copy_from_slice(b"bob.test");
            mem[16..16 + names.len()].copy_from_slice(names);
            let promise = logic.promise_batch_create(mem, 8, 0)?;
            logic.promise_batch_action_add_key_with_function_call(
                mem,
                promise,
                33,
                64,
                0,
                128,
                8,
                8,
                names.len() as u64,
                16,
            )
        })
    };
    let (used, burnt, result) = key_with(b"a,\xff");
    assert_eq!(result, Err(HostError::InvalidMethodName));
    let (valid_used, valid_burnt, valid) = key_with(b"a,b");
    valid.unwrap();
    assert_eq!((used, burnt), (valid_used, valid_burnt));
    // An empty name is refused before any fee.
    let (_, empty_burnt, result) = key_with(b"a,,b");
    assert_eq!(result, Err(HostError::EmptyMethodName));
    assert!(empty_burnt < valid_burnt);
}

#[test]
fn one_yocto_on_a_call_from_an_empty_account_is_subsidised_as_from_protocol_85() {
    let call_with = |balance: u128, deposit: u128| {
        let mut context = context(false);
        context.account_balance = balance;
        let mut logic = Logic::new(Fees::default(), context, MapExt::default());
        let mut mem = vec![0u8; 64];
        mem[..8].copy_from_slice(b"bob.test");
        mem[8..16].copy_from_slice(b"transfer");
        mem[32..48].copy_from_slice(&deposit.to_le_bytes());
        let promise = logic.promise_batch_create(&mut mem, 8, 0).unwrap();
        let called =
            logic.promise_batch_action_function_call(&mut mem, promise, 8, 8, 0, 0, 32, 1_000);
        (called, logic.finish(false).0)
    };
    let (called, outcome) = call_with(0, 1);
    called.unwrap();
    assert_eq!(outcome.balance, 0);
    assert_eq!(outcome.receipts[0].actions[0].deposit(), 1);
    // Only exactly one yocto, and only from an empty account.
    let (called, _) = call_with(0, 2);
    assert_eq!(
        called,
        Err(HostError::BalanceExceeded {
            amount: 2,
            balance: 0
        })
    );
    let (called, outcome) = call_with(1, 1);
    called.unwrap();
    assert_eq!(outcome.balance, 0);
}

#[test]
fn reading_a_value_longer_than_nearcores_inline_threshold_pays_the_large_read_overhead() {
    let read_gas = |len: usize| {
        let mut logic = logic(false);
        let mut mem = vec![7u8; 8 + len];
        mem[..3].copy_from_slice(b"key");
        logic
            .storage_write(&mut mem, 3, 0, len as u64, 8, 0)
            .unwrap();
        let before = logic.gas().burnt();
        assert_eq!(logic.storage_read(&mut mem, 3, 0, 1).unwrap(), 1);
        logic.gas().burnt() - before
    };
    let fees = Fees::default();
    let per_byte = fees.ext(Ext::storage_read_value_byte) + fees.ext(Ext::write_register_byte);
    assert_eq!(read_gas(4000) - read_gas(3999), per_byte);
    let overhead = fees.ext(Ext::storage_large_read_overhead_base)
        + 4001 * fees.ext(Ext::storage_large_read_overhead_byte);
    assert!(overhead > 0);
    assert_eq!(read_gas(4001) - read_gas(4000), per_byte + overhead);
}

#[test]
fn reading_a_register_that_does_not_exist_costs_only_the_host_call() {
    let (_, burnt, result) = gas_after(|logic, mem| logic.read_register(mem, 99, 0));
    assert_eq!(result, Err(HostError::InvalidRegisterId(99)));
    assert_eq!(burnt, Fees::default().ext(Ext::base));
}
