//! The oracle contract as wasm on wasm-host, with the example dApp and real ed25519 node keys:
//! request → attestations → the dApp's callback gets the answer; timeouts and refunds; slashing;
//! every rejection with its message; storage, cleanup, node lifecycle, admin and upgrade. Gas per
//! request, attestation and resolution is printed (`--nocapture`) for the README.

use e2e_tests::layout::contracts_dir;
use oracle_protocol::{
    attestation_commitment, AttestationMessage, Digest32, ModelId, RequestPhase, RequestView,
    Signature64, MAX_OUTPUT_SCHEMA_BYTES,
};
use sdk::keys::{PublicKey, SecretKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wasm_host::abi::{Action, CryptoHash};
use wasm_host::chain::{Chain, FinalStatus, TxResult, CHAIN_ID, ONE_NEAR, TGAS};

const ORACLE: &str = "oracle.test";
const OWNER: &str = "owner.test";
const DAPP: &str = "dapp.test";
const ALICE: &str = "alice.test";
const RELAYER: &str = "relayer.test";
const GAS: u64 = 100 * TGAS;
const ASK_GAS: u64 = 200 * TGAS;
/// Nodes registered (committees take 4 of them, quorum 3).
const NODES: usize = 5;
const MIN_STAKE: u128 = 5 * ONE_NEAR;
const NODE_DEPOSIT: u128 = 10 * ONE_NEAR;
const PRICE: u128 = ONE_NEAR / 100;
const MAX_INPUT_BYTES: u32 = 256;
const INLINE_OUTPUT: u32 = 64;
const RETENTION_BLOCKS: u64 = 50;
const UNBONDING_BLOCKS: u64 = 400;
/// The oracle's cap on a model's active nodes (`MAX_ACTIVE_NODES_PER_MODEL`).
const MAX_ACTIVE_NODES_PER_MODEL: usize = 100;
const ANSWER: &str = "Paris is the capital of France.";

fn sha256(bytes: &[u8]) -> Digest32 {
    Digest32(Sha256::digest(bytes).into())
}

fn model_id() -> ModelId {
    sha256(b"test model gguf")
}

/// The engine's digest a node would compute for `output` (the contract only compares them).
fn digest_of(output: &str) -> Digest32 {
    sha256(format!("digest of {output}").as_bytes())
}

fn wasm(name: &str) -> Vec<u8> {
    let path = contracts_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask build-contracts` first",
            path.display()
        )
    })
}

fn params(max_tokens: u32) -> Value {
    json!({"temperature_milli": 0, "top_k": 0, "top_p_milli": 1000, "max_tokens": max_tokens, "seed": "0"})
}

/// A chain with the oracle (committee 4, quorum 3), one model, five staked nodes and the dApp.
struct World {
    chain: Chain,
    keys: Vec<SecretKey>,
}

fn node_name(index: usize) -> String {
    format!("node{index}.test")
}

/// The attestation message of `account` for `output` with `result_digest` as the answer to
/// `request_id`.
fn attestation_message(
    account: &str,
    request_id: u64,
    result_digest: Digest32,
    output: &str,
) -> AttestationMessage {
    AttestationMessage {
        chain_id: CHAIN_ID.into(),
        oracle_contract: ORACLE.into(),
        request_id,
        node: account.into(),
        model_id: model_id(),
        result_digest,
        output_hash: sha256(output.as_bytes()),
    }
}

/// `key`'s signature of `account`'s attestation of `output` with `result_digest` for
/// `request_id`.
fn sign_as(
    key: &SecretKey,
    account: &str,
    request_id: u64,
    result_digest: Digest32,
    output: &str,
) -> Signature64 {
    let message = attestation_message(account, request_id, result_digest, output);
    Signature64(sdk::attest::sign(key, &message))
}

fn setup() -> World {
    let mut chain = Chain::new();
    for (account, balance) in [
        (OWNER, 100),
        (ORACLE, 50),
        (DAPP, 50),
        (ALICE, 100),
        (RELAYER, 100),
    ] {
        chain.create_account(account, balance * ONE_NEAR).unwrap();
    }
    chain
        .deploy(ORACLE, wasm("oracle_contract"))
        .unwrap()
        .into_result()
        .unwrap();
    let config = json!({
        "committee_size": 4, "quorum": 3, "min_stake": MIN_STAKE.to_string(),
        "unbonding_blocks": UNBONDING_BLOCKS, "slash_bps": 1000, "reporter_bps": 5000,
        "max_output_bytes": 4096, "max_inline_output_bytes": INLINE_OUTPUT,
        "retention_blocks": RETENTION_BLOCKS,
    });
    let init = chain
        .call(
            ORACLE,
            ORACLE,
            "new",
            json!({"owner": OWNER, "config": config}).to_string(),
            0,
            GAS,
        )
        .unwrap();
    assert_success(&init);
    let model = json!({"model": {
        "model_id": model_id(), "name": "test model", "spec_version": "detspec-1",
        "max_input_bytes": MAX_INPUT_BYTES, "max_output_tokens": 128, "price": PRICE.to_string(),
    }});
    assert_success(
        &chain
            .call(
                OWNER,
                ORACLE,
                "register_model",
                model.to_string(),
                ONE_NEAR,
                GAS,
            )
            .unwrap(),
    );
    chain
        .deploy(DAPP, wasm("example_dapp"))
        .unwrap()
        .into_result()
        .unwrap();
    let dapp_init = json!({"oracle": ORACLE, "model_id": model_id()});
    assert_success(
        &chain
            .call(DAPP, DAPP, "new", dapp_init.to_string(), 0, GAS)
            .unwrap(),
    );
    let mut world = World {
        chain,
        keys: Vec::new(),
    };
    for _ in 0..NODES {
        world.add_node();
    }
    world
}

fn assert_success(result: &TxResult) {
    assert!(
        matches!(result.status, FinalStatus::SuccessValue(_)),
        "{:?}",
        result.status
    );
}

/// Asserts the transaction failed with a message containing `expected`.
fn assert_fails(result: &TxResult, expected: &str) {
    let message = result.status_message();
    assert!(
        matches!(result.status, FinalStatus::Failure(_)) && message.contains(expected),
        "expected a failure containing `{expected}`, got: {message}"
    );
}

/// The data of every `event` the oracle logged in `result`.
fn events(result: &TxResult, event: &str) -> Vec<Value> {
    result
        .logs()
        .iter()
        .filter_map(|log| log.strip_prefix("EVENT_JSON:"))
        .map(|body| serde_json::from_str::<Value>(body).unwrap())
        .filter(|body| body["standard"] == "ai-oracle" && body["event"] == event)
        .map(|body| body["data"][0].clone())
        .collect()
}

fn yocto(value: &Value) -> u128 {
    value.as_str().unwrap().parse().unwrap()
}

impl World {
    /// Creates and registers the next staked node for the test model.
    fn add_node(&mut self) {
        let index = self.keys.len();
        let key = SecretKey::from_seed([index as u8 + 1; 32]);
        self.chain
            .create_account(&node_name(index), 100 * ONE_NEAR)
            .unwrap();
        let registered = self.register_node(index, &key, NODE_DEPOSIT);
        assert_success(&registered);
        self.keys.push(key);
    }

    fn register_node(&mut self, index: usize, key: &SecretKey, deposit: u128) -> TxResult {
        let args = json!({
            "attestation_key": key.public_key().to_string(),
            "models": [model_id()],
        });
        self.chain
            .call(
                &node_name(index),
                ORACLE,
                "register_node",
                args.to_string(),
                deposit,
                GAS,
            )
            .unwrap()
    }

    /// The owner sets the fields of `changes` in the oracle's config (the others stay); returns
    /// the call.
    fn update_config(&mut self, changes: Value) -> TxResult {
        let mut config = self.view(ORACLE, "get_config", json!({}));
        for (field, value) in changes.as_object().expect("an object of config fields") {
            config[field] = value.clone();
        }
        let updated = self.call(OWNER, "update_config", json!({"config": config}), 0);
        assert_success(&updated);
        updated
    }

    fn call(&mut self, signer: &str, method: &str, args: Value, deposit: u128) -> TxResult {
        self.chain
            .call(signer, ORACLE, method, args.to_string(), deposit, GAS)
            .unwrap()
    }

    fn view(&self, account: &str, method: &str, args: Value) -> Value {
        self.chain
            .view(account, method, args.to_string())
            .unwrap()
            .json()
            .unwrap()
    }

    fn request(&self, request_id: u64) -> Value {
        self.view(ORACLE, "get_request", json!({"request_id": request_id}))
    }

    /// What Alice attaches to ask the dApp `input`: the oracle's fee for a request that names
    /// her as its refund account, plus the dApp's storage deposit for the question.
    fn deposit_for(&self, input: &str) -> u128 {
        let estimate = self.view(
            ORACLE,
            "estimate_fee",
            json!({"model_id": model_id(), "params": params(32), "input_bytes": input.len(),
                "storage_refund_to": ALICE}),
        );
        yocto(&estimate["total"]) + self.dapp_storage(input)
    }

    /// The dApp's storage deposit for `question`.
    fn dapp_storage(&self, question: &str) -> u128 {
        let args = json!({"question_bytes": question.len()});
        yocto(&self.view(DAPP, "question_storage_deposit", args))
    }

    /// Alice asks the dApp `question`; returns the transaction once the oracle has created the
    /// request (the dApp's callback then waits on the oracle's yield).
    fn ask(&mut self, question: &str, deposit: u128) -> CryptoHash {
        let action = Action::FunctionCall {
            method_name: "ask".into(),
            args: json!({"question": question, "max_tokens": 32})
                .to_string()
                .into_bytes(),
            deposit,
            gas: ASK_GAS,
        };
        let tx = self.chain.submit(ALICE, DAPP, vec![action]).unwrap();
        // The transaction's block, the dApp's `ask`, the oracle's `request`, one spare.
        self.chain.advance_blocks(4);
        tx
    }

    /// The committee of `request_id` as node indices, in rank order.
    fn committee(&self, request_id: u64) -> Vec<usize> {
        self.request(request_id)["committee"]
            .as_array()
            .unwrap()
            .iter()
            .map(|account| {
                (0..self.keys.len())
                    .find(|i| node_name(*i) == account.as_str().unwrap())
                    .unwrap()
            })
            .collect()
    }

    fn non_member(&self, request_id: u64) -> usize {
        let committee = self.committee(request_id);
        (0..NODES).find(|i| !committee.contains(i)).unwrap()
    }

    /// The attestation message of `output` with `result_digest` for `request_id` by node
    /// `node`, on this chain and oracle.
    /// `key`'s signature of the attestation of `output` with `result_digest` for `request_id`
    /// by node `node`.
    fn sign_with(
        key: &SecretKey,
        node: usize,
        request_id: u64,
        result_digest: Digest32,
        output: &str,
    ) -> Signature64 {
        sign_as(key, &node_name(node), request_id, result_digest, output)
    }

    fn sign(&self, node: usize, request_id: u64, output: &str) -> Signature64 {
        Self::sign_with(
            &self.keys[node],
            node,
            request_id,
            digest_of(output),
            output,
        )
    }

    /// Node `node`'s signed claim that `output` answers `request_id` (equivocation evidence).
    fn claim(&self, node: usize, request_id: u64, output: &str) -> Value {
        json!({
            "result_digest": digest_of(output),
            "output_hash": sha256(output.as_bytes()),
            "signature": self.sign(node, request_id, output),
        })
    }

    /// A relayer reports node `node`'s signed claims of `first` and `second` for `request_id`.
    fn report_equivocation(
        &mut self,
        node: usize,
        request_id: u64,
        first: &str,
        second: &str,
    ) -> TxResult {
        let args = json!({"request_id": request_id, "node": node_name(node),
            "first": self.claim(node, request_id, first),
            "second": self.claim(node, request_id, second)});
        self.call(RELAYER, "report_equivocation", args, 0)
    }

    /// Node `node` commits to its attestation of `output` for `request_id`.
    fn commit(&mut self, node: usize, request_id: u64, output: &str) -> TxResult {
        let signature = self.sign(node, request_id, output);
        self.commit_signed(node, request_id, signature)
    }

    /// Node `node` commits to the attestation signed `signature` for `request_id`.
    fn commit_signed(&mut self, node: usize, request_id: u64, signature: Signature64) -> TxResult {
        let args = json!({
            "request_id": request_id,
            "commitment": attestation_commitment(&signature),
        });
        self.chain
            .call(
                &node_name(node),
                ORACLE,
                "commit_attestation",
                args.to_string(),
                0,
                GAS,
            )
            .unwrap()
    }

    /// Each of `answers`' nodes commits to its output for `request_id`; then the blocks pass
    /// until the reveal phase is open (at once when every member committed).
    fn commit_answers(&mut self, request_id: u64, answers: &[(usize, &str)]) {
        for (node, output) in answers {
            assert_success(&self.commit(*node, request_id, output));
        }
        self.open_reveal(request_id);
    }

    /// Every committee member of `request_id` commits to `output` (the reveal phase opens).
    fn commit_all(&mut self, request_id: u64, output: &str) -> Vec<usize> {
        let committee = self.committee(request_id);
        let answers: Vec<(usize, &str)> = committee.iter().map(|n| (*n, output)).collect();
        self.commit_answers(request_id, &answers);
        committee
    }

    /// Lets the blocks pass until the reveal phase of `request_id` is open.
    fn open_reveal(&mut self, request_id: u64) {
        let request = self.request(request_id);
        if request["reveal_open"] != true {
            let opens_at = request["reveal_opens_at"].as_u64().unwrap();
            let now = self.chain.block_height();
            self.chain.advance_blocks(opens_at.saturating_sub(now));
            assert_eq!(self.request(request_id)["reveal_open"], true);
        }
    }

    /// Node `node` attests to `output` for `request_id` with a valid signature (the reveal of
    /// its commitment).
    fn attest(&mut self, node: usize, request_id: u64, output: &str) -> TxResult {
        let signature = self.sign(node, request_id, output);
        self.attest_signed(node, request_id, output, signature)
    }

    fn attest_signed(
        &mut self,
        node: usize,
        request_id: u64,
        output: &str,
        signature: Signature64,
    ) -> TxResult {
        let args = json!({
            "request_id": request_id, "output": output,
            "result_digest": digest_of(output), "signature": signature,
        });
        self.chain
            .call(
                &node_name(node),
                ORACLE,
                "submit_attestation",
                args.to_string(),
                0,
                GAS,
            )
            .unwrap()
    }

    fn stake(&self, node: usize) -> u128 {
        let view = self.view(ORACLE, "get_node", json!({"account_id": node_name(node)}));
        yocto(&view["stake"])
    }

    fn call_dapp(&mut self, signer: &str, method: &str, args: Value) -> TxResult {
        self.chain
            .call(signer, DAPP, method, args.to_string(), 0, GAS)
            .unwrap()
    }

    /// The dApp's record of question `id`.
    fn question(&self, id: u64) -> Value {
        self.view(DAPP, "get_question", json!({"question_id": id}))
    }
}

impl World {
    /// `list_pending_assignments` of node `node` from `from_index`, `limit` at a time: the
    /// request ids listed, and where the next page starts.
    fn assignments(&self, node: usize, from_index: u64, limit: u32) -> (Vec<u64>, Option<u64>) {
        let page = self.view(
            ORACLE,
            "list_pending_assignments",
            json!({"account_id": node_name(node), "from_index": from_index, "limit": limit}),
        );
        let ids = page["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|assignment| {
                // Ids and models only: never the inputs.
                let mut fields: Vec<&String> = assignment.as_object().unwrap().keys().collect();
                fields.sort();
                assert_eq!(fields, ["model_id", "request_id"]);
                assert_eq!(assignment["model_id"], json!(model_id()));
                assignment["request_id"].as_u64().unwrap()
            })
            .collect();
        (ids, page["next_index"].as_u64())
    }
}

#[test]
fn a_node_polls_its_assignments_by_id_without_the_inputs() {
    let mut world = setup();
    for question in ["first?", "second?", "third?", "fourth?"] {
        let deposit = world.deposit_for(question);
        world.ask(question, deposit);
    }
    let assigned_to = |world: &World, node: usize| -> Vec<u64> {
        (0..4)
            .filter(|id| world.committee(*id).contains(&node))
            .collect()
    };
    for node in 0..NODES {
        let (mut ids, next) = world.assignments(node, 0, 50);
        ids.sort();
        assert_eq!(ids, assigned_to(&world, node), "node {node}");
        assert_eq!(next, None);
        // A page at a time, following next_index, lists the same requests.
        let mut paged = Vec::new();
        let mut from = Some(0);
        while let Some(index) = from {
            let (ids, next) = world.assignments(node, index, 1);
            assert!(ids.len() <= 1);
            paged.extend(ids);
            from = next;
        }
        paged.sort();
        assert_eq!(paged, assigned_to(&world, node), "node {node}, paged");
    }
    // A node that attested is no longer asked; its fellow members still are.
    let committee = world.commit_all(0, ANSWER);
    world.attest(committee[0], 0, ANSWER);
    assert!(!world.assignments(committee[0], 0, 50).0.contains(&0));
    assert!(world.assignments(committee[1], 0, 50).0.contains(&0));
    // A page past the end is empty and ends the scan.
    assert_eq!(world.assignments(committee[1], 10, 50), (vec![], None));

    // Once the commit phase of request 1 has closed, only its members that committed in time
    // are still asked: the others could no longer have an attestation accepted.
    let committee = world.committee(1);
    assert_success(&world.commit(committee[0], 1, ANSWER));
    for node in &committee[..2] {
        assert!(
            world.assignments(*node, 0, 50).0.contains(&1),
            "commit phase open"
        );
    }
    world.open_reveal(1);
    assert!(world.assignments(committee[0], 0, 50).0.contains(&1));
    for node in &committee[1..] {
        assert!(
            !world.assignments(*node, 0, 50).0.contains(&1),
            "node {node}"
        );
    }
}

#[test]
fn request_then_quorum_of_attestations_delivers_the_answer_to_the_dapp_callback() {
    let mut world = setup();
    let deposit = world.deposit_for("What is the capital of France?");
    let oracle_storage_before = world.chain.account(ORACLE).unwrap().storage_usage;
    let ask = world.ask("What is the capital of France?", deposit);

    let created = events(&world.chain.tx_result(&ask), "request_created");
    assert_eq!(created.len(), 1, "{:?}", world.chain.tx_result(&ask).logs());
    assert_eq!(created[0]["request_id"], 0);
    assert_eq!(created[0]["quorum"], 3);
    assert_eq!(yocto(&created[0]["fee"]), PRICE);
    let request = world.request(0);
    assert_eq!(request["status"], "pending");
    assert_eq!(request["input"], "What is the capital of France?");
    assert_eq!(request["requester"], DAPP);
    let pending = world.view(ORACLE, "list_pending_requests", json!({}));
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let request_gas = world
        .chain
        .tx_result(&ask)
        .receipts
        .iter()
        .find(|o| o.executor_id.as_str() == ORACLE)
        .unwrap()
        .gas_burnt;

    let committee = world.committee(0);
    assert_eq!(committee.len(), 4);
    let commit = world.commit(committee[0], 0, ANSWER);
    assert!(
        !commit.json::<bool>(),
        "the reveal phase waits for the others"
    );
    let committed = events(&commit, "attestation_committed");
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0]["node"], node_name(committee[0]));
    for node in &committee[1..3] {
        assert_success(&world.commit(*node, 0, ANSWER));
    }
    let last_commit = world.commit(committee[3], 0, ANSWER);
    assert!(
        last_commit.json::<bool>(),
        "the last member's commitment opens the reveal phase"
    );
    let first = world.attest(committee[0], 0, ANSWER);
    assert_eq!(first.json::<String>(), "recorded");
    assert_eq!(events(&first, "attestation_submitted").len(), 1);
    let second = world.attest(committee[1], 0, ANSWER);
    assert_eq!(second.json::<String>(), "recorded");
    assert_eq!(
        world.chain.tx_result(&ask).status,
        FinalStatus::Pending,
        "no answer before the quorum"
    );
    let third = world.attest(committee[2], 0, ANSWER);
    assert_eq!(third.json::<String>(), "resolved");
    let resolved = events(&third, "request_resolved");
    assert_eq!(resolved.len(), 1);
    let paid: Vec<(String, u128)> = resolved[0]["paid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["node"].as_str().unwrap().to_string(), yocto(&p["amount"])))
        .collect();
    let expected: Vec<(String, u128)> = committee[..3]
        .iter()
        .map(|n| (node_name(*n), SEAT_SHARE))
        .collect();
    assert_eq!(paid, expected);
    assert_eq!(yocto(&resolved[0]["held"]), PRICE - 3 * SEAT_SHARE);

    world.chain.advance_blocks(3);
    let ask_result = world.chain.tx_result(&ask);
    let answer: Value = ask_result.json();
    assert_eq!(answer["answered"]["output"], ANSWER);
    assert_eq!(answer["answered"]["truncated"], false);
    assert_eq!(answer["answered"]["oracle_request_id"], 0);
    assert_eq!(world.question(0)["answer"], answer);
    let finish_gas = ask_result
        .receipts
        .iter()
        .find(|o| o.executor_id.as_str() == ORACLE && o.logs.is_empty() && o.gas_burnt > 0)
        .map(|o| o.gas_burnt)
        .unwrap();

    assert_eq!(world.request(0)["status"], "resolved");
    let pending = world.view(ORACLE, "list_pending_requests", json!({}));
    assert!(pending.as_array().unwrap().is_empty());

    // A late agreeing attestation is recorded, unpaid and unslashed.
    let late = world.attest(committee[3], 0, ANSWER);
    assert_eq!(late.json::<String>(), "agreed");

    // The request stayed within the storage its requester paid for.
    let estimate = world.view(
        ORACLE,
        "estimate_fee",
        json!({"model_id": model_id(), "params": params(32), "input_bytes": 30,
            "storage_refund_to": ALICE}),
    );
    let used = world.chain.account(ORACLE).unwrap().storage_usage - oracle_storage_before;
    let reserved = estimate["storage_bytes"].as_u64().unwrap();
    assert!(used <= reserved, "used {used} bytes, reserved {reserved}");

    println!("gas: request (oracle `request` receipt) {request_gas}");
    println!(
        "gas: commitment (whole tx) {}, last one {}",
        commit.total_gas_burnt(),
        last_commit.total_gas_burnt()
    );
    println!(
        "gas: attestation (whole tx) {}, {}",
        first.total_gas_burnt(),
        second.total_gas_burnt()
    );
    println!(
        "gas: resolving attestation (whole tx, incl. fee transfers) {}",
        third.total_gas_burnt()
    );
    println!("gas: yield callback `on_request_finished` {finish_gas}");
    println!(
        "gas: whole ask tx via the dApp {}",
        ask_result.total_gas_burnt()
    );
    println!("storage: used {used} bytes of {reserved} reserved");
}

#[test]
fn an_output_schema_is_paid_for_stored_and_returned_with_verifiable_attestations() {
    let mut world = setup();
    // The longest schema the oracle accepts, padded with a long property name.
    let base =
        r#"{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"title":""}"#;
    let padding = "x".repeat(MAX_OUTPUT_SCHEMA_BYTES - base.len());
    let schema = base.replace(r#""title":"""#, &format!(r#""title":"{padding}""#));
    assert_eq!(schema.len(), MAX_OUTPUT_SCHEMA_BYTES);
    let mut params = params(32);
    params["output_schema"] = json!(schema);
    let input = "Is Paris the capital of France? ".repeat(8);
    let estimate = world.view(
        ORACLE,
        "estimate_fee",
        json!({"model_id": model_id(), "params": params, "input_bytes": input.len()}),
    );
    let without_schema = world.deposit_for(&input);
    assert!(yocto(&estimate["total"]) > without_schema);
    let oracle_storage_before = world.chain.account(ORACLE).unwrap().storage_usage;
    let request = Action::FunctionCall {
        method_name: "request".into(),
        args: json!({"model_id": model_id(), "input": input, "params": params})
            .to_string()
            .into_bytes(),
        deposit: yocto(&estimate["total"]),
        gas: GAS,
    };
    let tx = world.chain.submit(ALICE, ORACLE, vec![request]).unwrap();
    world.chain.advance_blocks(3);
    let view: RequestView = serde_json::from_value(world.request(0)).unwrap();
    assert_eq!(view.params.output_schema.as_deref(), Some(schema.as_str()));
    assert_eq!(view.status, RequestPhase::Pending);

    // Every committee member attests (the last one after resolution): each record carries a
    // signature that verifies offline against the node's key.
    let output = r#"{"ok":true}"#;
    let committee = world.commit_all(0, output);
    for node in &committee {
        assert_success(&world.attest(*node, 0, output));
    }
    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&tx).json();
    assert_eq!(answer["status"]["resolved"]["output"], output);
    let view: RequestView = serde_json::from_value(world.request(0)).unwrap();
    assert_eq!(view.status, RequestPhase::Resolved);
    assert_eq!(view.attestations.len(), committee.len());
    for (attestation, node) in view.attestations.iter().zip(&committee) {
        assert_eq!(attestation.node, node_name(*node));
        assert_eq!(attestation.output_hash, sha256(output.as_bytes()));
        let message = view.attestation_message(CHAIN_ID, ORACLE, attestation);
        let key = world.keys[*node].public_key();
        assert!(sdk::attest::verify(
            &key,
            &message,
            &attestation.signature.0
        ));
        let forged = AttestationMessage {
            request_id: 1,
            ..message
        };
        assert!(!sdk::attest::verify(
            &key,
            &forged,
            &attestation.signature.0
        ));
    }
    assert_eq!(
        view.attested,
        committee.iter().map(|n| node_name(*n)).collect::<Vec<_>>()
    );

    let used = world.chain.account(ORACLE).unwrap().storage_usage - oracle_storage_before;
    let reserved = estimate["storage_bytes"].as_u64().unwrap();
    assert!(used <= reserved, "used {used} bytes, reserved {reserved}");
    println!("storage with a {MAX_OUTPUT_SCHEMA_BYTES}-byte schema: used {used} of {reserved}");

    // One byte more is refused, with the reason.
    params["output_schema"] = json!(format!("{schema} "));
    let refused = world.call(
        ALICE,
        "request",
        json!({"model_id": model_id(), "input": "q", "params": params}),
        10 * ONE_NEAR,
    );
    assert_fails(
        &refused,
        &format!(
            "output_schema is {} bytes; at most {MAX_OUTPUT_SCHEMA_BYTES} are accepted",
            MAX_OUTPUT_SCHEMA_BYTES + 1
        ),
    );
}

/// An agreeing member's share of the fee: one of the committee's four seats.
const SEAT_SHARE: u128 = PRICE / 4;

#[test]
fn a_member_agreeing_after_the_resolution_is_paid_its_share_and_the_rest_returns_at_cleanup() {
    let mut world = setup();
    // A price four seats do not divide: 3 yoctoNEAR are left over.
    let price = PRICE + 3;
    let model = json!({"model": {
        "model_id": model_id(), "name": "test model", "spec_version": "detspec-1",
        "max_input_bytes": MAX_INPUT_BYTES, "max_output_tokens": 128,
        "price": price.to_string(),
    }});
    assert_success(&world.call(OWNER, "register_model", model, ONE_NEAR));
    let share = price / 4;
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    assert_eq!(world.request(0)["held_fee"], "0");
    let committee = world.commit_all(0, ANSWER);
    let mut resolving = None;
    for node in &committee[..3] {
        resolving = Some(world.attest(*node, 0, ANSWER));
    }
    let resolved = &events(&resolving.unwrap(), "request_resolved")[0];
    assert_eq!(yocto(&resolved["held"]), price - 3 * share);
    assert_eq!(yocto(&world.request(0)["held_fee"]), price - 3 * share);
    // The fourth member reveals after the resolution, through a relayer: the node, not the
    // relayer, is paid its seat's share from what the request holds.
    let late_entry = json!([{
        "node": node_name(committee[3]), "result_digest": digest_of(ANSWER),
        "signature": world.sign(committee[3], 0, ANSWER),
    }]);
    let node_before = world.chain.balance(&node_name(committee[3]));
    let late = world.call(
        RELAYER,
        "submit_attestation_bundle",
        json!({"request_id": 0, "output": ANSWER, "attestations": late_entry}),
        0,
    );
    assert_eq!(late.json::<Vec<String>>(), vec!["agreed"]);
    println!(
        "gas: a late agreeing reveal (relayed), paid its share {}",
        late.total_gas_burnt()
    );
    assert_eq!(
        events(&late, "late_fee_paid"),
        vec![json!({
            "request_id": 0, "node": node_name(committee[3]),
            "amount": share.to_string(), "held": "3",
        })]
    );
    world.chain.advance_blocks(2);
    assert_eq!(
        world.chain.balance(&node_name(committee[3])) - node_before,
        share
    );
    // At cleanup the division's remainder goes back.
    let (cleaned, _) = clean_up(&mut world, 0);
    assert_eq!(cleaned["fee_returned"], "3");

    // A member that never commits leaves its share held: it goes back to the refund account
    // (Alice) with the storage at cleanup. The request stays within the storage it paid for
    // while it holds the share.
    let oracle_storage_before = world.chain.account(ORACLE).unwrap().storage_usage;
    world.ask("q", deposit);
    let reserved = world.request(1)["storage_deposit"].clone();
    let committee = world.committee(1);
    let answering: Vec<(usize, &str)> = committee[..3].iter().map(|n| (*n, ANSWER)).collect();
    world.commit_answers(1, &answering);
    for node in &committee[..3] {
        world.attest(*node, 1, ANSWER);
    }
    assert_eq!(world.request(1)["status"], "resolved");
    let used = world.chain.account(ORACLE).unwrap().storage_usage - oracle_storage_before;
    assert!(
        u128::from(used) * STORAGE_BYTE_COST <= yocto(&reserved),
        "used {used} bytes"
    );
    // (The answer's delivery and the ask's gas refund land first.)
    world.chain.advance_blocks(5);
    let alice_before = world.chain.balance(ALICE);
    let (cleaned, returned) = clean_up(&mut world, 1);
    assert_eq!(cleaned["refunded_to"], ALICE);
    assert_eq!(yocto(&cleaned["fee_returned"]), price - 3 * share);
    assert_eq!(returned, yocto(&cleaned["released"]) + price - 3 * share);
    world.chain.advance_blocks(2);
    assert_eq!(world.chain.balance(ALICE) - alice_before, returned);

    // A member slashed for equivocation on the request is paid nothing when it agrees late:
    // its share goes back at cleanup.
    world.ask("q", deposit);
    let committee = resolve_by_three_of_four(&mut world, 2);
    let cheat = committee[3];
    assert_success(&world.report_equivocation(cheat, 2, ANSWER, "Lyon"));
    let late = world.attest(cheat, 2, ANSWER);
    assert_eq!(late.json::<String>(), "agreed");
    assert!(events(&late, "late_fee_paid").is_empty());
    let (cleaned, _) = clean_up(&mut world, 2);
    assert_eq!(yocto(&cleaned["fee_returned"]), price - 3 * share);
}

/// Cleans up `request_id` (Relayer pays the gas) once its retention has passed; returns the
/// `request_cleaned_up` event and the amount the call returned.
fn clean_up(world: &mut World, request_id: u64) -> (Value, u128) {
    world.chain.advance_blocks(3 + RETENTION_BLOCKS);
    let cleaned = world.call(
        RELAYER,
        "cleanup_request",
        json!({"request_id": request_id}),
        0,
    );
    assert_success(&cleaned);
    let returned = yocto(&cleaned.json::<Value>());
    (events(&cleaned, "request_cleaned_up").remove(0), returned)
}

#[test]
fn without_a_quorum_the_request_times_out_and_the_fee_is_refunded() {
    let mut world = setup();
    let deposit = world.deposit_for("Will it rain?");
    let ask = world.ask("Will it rain?", deposit);
    let committee = world.committee(0);
    world.commit_answers(0, &[(committee[0], ANSWER)]);
    assert_success(&world.attest(committee[0], 0, ANSWER));
    let alice_before = world.chain.balance(ALICE);

    world.chain.advance_blocks(200);
    let result = world.chain.tx_result(&ask);
    let answer: Value = result.json();
    let reason = answer["failed"]["reason"].as_str().unwrap();
    assert!(reason.contains("request 0 timed out"), "{reason}");
    assert!(
        reason.contains("1 of 4 committee nodes attested"),
        "{reason}"
    );
    let timed_out = events(&result, "request_timed_out");
    assert_eq!(timed_out.len(), 1);
    assert_eq!(yocto(&timed_out[0]["refunded"]), PRICE);
    world.chain.advance_blocks(2);
    // The dApp passed the refunded fee on to Alice (who also got her unused gas back, at the
    // price she bought it at).
    let gained = world.chain.balance(ALICE) - alice_before;
    let most_gas = u128::from(ASK_GAS) * world.chain.gas_purchase_price();
    assert!(gained >= PRICE && gained < PRICE + most_gas, "{gained}");
    assert_eq!(world.request(0)["status"], "timed_out");

    // Too late: attestations are closed.
    assert_fails(
        &world.attest(committee[1], 0, ANSWER),
        "request 0 timed out",
    );
}

#[test]
fn a_timed_out_question_names_the_oracle_request_whose_cleanup_returns_the_storage() {
    let mut world = setup();
    // A request of Alice's own comes first, so the dApp's question is the oracle's request 1.
    let direct = json!({"model_id": model_id(), "input": "q", "params": params(32)});
    let direct_deposit = yocto(
        &world.view(
            ORACLE,
            "estimate_fee",
            json!({"model_id": model_id(), "params": params(32), "input_bytes": 1}),
        )["total"],
    );
    request_directly(&mut world, direct, direct_deposit);
    let deposit = world.deposit_for("Will it rain?");
    let ask = world.ask("Will it rain?", deposit);
    assert_eq!(world.request(1)["requester"], DAPP);

    // The yield times out 200 blocks after the request; the callbacks take a few more.
    world.chain.advance_blocks(205);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert!(answer["failed"]["reason"]
        .as_str()
        .unwrap()
        .contains("request 1 timed out"));
    // The failed record keeps the request id, so the asker (or anyone) can clean it up.
    assert_eq!(answer["failed"]["oracle_request_id"], 1);
    assert_eq!(world.question(0)["answer"], answer);
    let view: RequestView = serde_json::from_value(world.request(1)).unwrap();
    let cleanable_at = view
        .cleanable_at
        .expect("timed out: cleanable from a block");
    world
        .chain
        .advance_blocks(cleanable_at.saturating_sub(world.chain.block_height()));
    let alice_before = world.chain.balance(ALICE);
    let cleaned = world.call(RELAYER, "cleanup_request", json!({"request_id": 1}), 0);
    assert_success(&cleaned);
    // The request's storage deposit: what the dApp forwarded for Alice, less the fee.
    let returned = yocto(&cleaned.json::<Value>());
    assert_eq!(
        returned,
        deposit - PRICE - world.dapp_storage("Will it rain?")
    );
    world.chain.advance_blocks(2);
    assert_eq!(world.chain.balance(ALICE) - alice_before, returned);
}

#[test]
fn a_timeout_pays_the_largest_group_of_equal_reveals_and_refunds_the_rest() {
    let mut world = setup();
    world.update_config(json!({"quorum": 4}));
    let deposit = world.deposit_for("Will it rain?");
    let ask = world.ask("Will it rain?", deposit);
    let committee = world.committee(0);
    // Two members reveal the same answer, a third its own: no quorum of four. The two matching
    // reveals are public; the requester pays for them.
    let (pair, lone, cheat) = (&committee[..2], committee[2], committee[3]);
    world.commit_answers(
        0,
        &[
            (pair[0], ANSWER),
            (pair[1], ANSWER),
            (lone, "Lyon"),
            (cheat, ANSWER),
        ],
    );
    for node in [pair[0], pair[1], lone, cheat] {
        assert_success(&world.attest(node, 0, if node == lone { "Lyon" } else { ANSWER }));
    }
    // The fourth revealed the pair's answer too, but is slashed for equivocating: it is neither
    // paid nor counted as a match.
    assert_success(&world.report_equivocation(cheat, 0, ANSWER, "Nice"));
    world.chain.advance_blocks(5);
    let balances: Vec<u128> = committee
        .iter()
        .map(|n| world.chain.balance(&node_name(*n)))
        .collect();
    let stakes: Vec<u128> = committee.iter().map(|n| world.stake(*n)).collect();
    let alice_before = world.chain.balance(ALICE);

    world.chain.advance_blocks(200);
    let result = world.chain.tx_result(&ask);
    let reason = result.json::<Value>()["failed"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    let refunded = PRICE - 2 * SEAT_SHARE;
    assert!(
        reason.contains(&format!(
            "the 2 members that revealed the most common answer were paid {} yoctoNEAR of the \
             fee, the other {refunded} yoctoNEAR was refunded to {ALICE}",
            2 * SEAT_SHARE
        )),
        "{reason}"
    );
    let timed_out = events(&result, "request_timed_out");
    assert_eq!(
        timed_out,
        vec![json!({
            "request_id": 0,
            "paid": [
                {"node": node_name(pair[0]), "amount": SEAT_SHARE.to_string()},
                {"node": node_name(pair[1]), "amount": SEAT_SHARE.to_string()},
            ],
            "refunded": refunded.to_string(),
            "refunded_to": ALICE,
            "requester": DAPP,
        })]
    );
    world.chain.advance_blocks(2);
    for (i, node) in committee.iter().enumerate() {
        let gained = world.chain.balance(&node_name(*node)) - balances[i];
        let expected = if pair.contains(node) { SEAT_SHARE } else { 0 };
        assert_eq!(gained, expected, "node {node}");
    }
    // Nobody is slashed for a timeout: the lone answer has no quorum to be judged by.
    assert_eq!(world.stake(lone), stakes[2]);
    // The oracle refunded Alice, the request's refund account, itself (and her gas refund).
    let gained = world.chain.balance(ALICE) - alice_before;
    let most_gas = u128::from(ASK_GAS) * world.chain.gas_purchase_price();
    assert!(
        gained >= refunded && gained < refunded + most_gas,
        "{gained}"
    );
    // Nothing is held back for cleanup.
    assert_eq!(world.request(0)["held_fee"], "0");
    let (cleaned, _) = clean_up(&mut world, 0);
    assert_eq!(cleaned["fee_returned"], "0");

    // Two answers, two reveals each, but one of the first answer's members is slashed before the
    // timeout: it does not count, so the other answer's pair is the largest group and is paid.
    // (Counted, it would tie two against two, and a tie pays nobody.)
    let ask = world.ask("Will it rain?", deposit);
    let committee = world.committee(1);
    let answers = [ANSWER, ANSWER, "Lyon", "Lyon"];
    let pairs: Vec<(usize, &str)> = committee.iter().copied().zip(answers).collect();
    world.commit_answers(1, &pairs);
    for (node, output) in &pairs {
        assert_success(&world.attest(*node, 1, output));
    }
    let cheat = committee[0];
    assert_success(&world.report_equivocation(cheat, 1, ANSWER, "Nice"));
    world.chain.advance_blocks(200);
    let timed_out = events(&world.chain.tx_result(&ask), "request_timed_out");
    assert_eq!(
        timed_out[0]["paid"],
        json!([
            {"node": node_name(committee[2]), "amount": SEAT_SHARE.to_string()},
            {"node": node_name(committee[3]), "amount": SEAT_SHARE.to_string()},
        ])
    );
    assert_eq!(yocto(&timed_out[0]["refunded"]), PRICE - 2 * SEAT_SHARE);
}

#[test]
fn a_timeout_pays_nobody_when_a_seat_share_rounds_to_zero() {
    let mut world = setup();
    // A fee of 3 yoctoNEAR over four seats: a seat's share is 0, so matching reveals earn
    // nothing and the whole fee goes back.
    let model = json!({"model": {
        "model_id": model_id(), "name": "test model", "spec_version": "detspec-1",
        "max_input_bytes": MAX_INPUT_BYTES, "max_output_tokens": 128, "price": "3",
    }});
    assert_success(&world.call(OWNER, "register_model", model, ONE_NEAR));
    let deposit = world.deposit_for("Will it rain?");
    let ask = world.ask("Will it rain?", deposit);
    let committee = world.committee(0);
    let pair = &committee[..2];
    world.commit_answers(0, &[(pair[0], ANSWER), (pair[1], ANSWER)]);
    for node in pair {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    world.chain.advance_blocks(5);
    let balances: Vec<u128> = pair
        .iter()
        .map(|n| world.chain.balance(&node_name(*n)))
        .collect();

    world.chain.advance_blocks(200);
    let result = world.chain.tx_result(&ask);
    let reason = result.json::<Value>()["failed"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains(&format!("the fee of 3 yoctoNEAR was refunded to {ALICE}")),
        "{reason}"
    );
    let timed_out = events(&result, "request_timed_out");
    assert_eq!(timed_out[0]["paid"], json!([]));
    assert_eq!(yocto(&timed_out[0]["refunded"]), 3);
    world.chain.advance_blocks(2);
    for (node, before) in pair.iter().zip(balances) {
        assert_eq!(
            world.chain.balance(&node_name(*node)),
            before,
            "node {node}"
        );
    }
    assert_eq!(world.request(0)["held_fee"], "0");
}

/// The oracle's own account calls the yield's callback directly for `request_id`.
fn finish_directly(world: &mut World, request_id: u64) -> TxResult {
    world.call(
        ORACLE,
        "on_request_finished",
        json!({"request_id": request_id}),
        0,
    )
}

#[test]
fn the_yield_callback_refuses_a_direct_call_and_the_request_stays_pending() {
    let mut world = setup();
    // `#[private]` lets the oracle's own account through, but only the yield runs the callback
    // with a promise result: a direct call is refused, whether the request exists or not.
    assert_fails(
        &finish_directly(&mut world, 9),
        "on_request_finished is the yield's callback and runs with exactly one promise result; \
         this call has 0",
    );

    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let dapp_before = world.chain.balance(DAPP);
    let early = finish_directly(&mut world, 0);
    assert_fails(
        &early,
        "runs with exactly one promise result; this call has 0",
    );
    assert!(events(&early, "request_timed_out").is_empty());
    // Nothing ended: the request is still pending, listed, open to its committee, and its fee
    // stayed with the oracle.
    world.chain.advance_blocks(2);
    assert_eq!(world.request(0)["status"], "pending");
    let pending = world.view(ORACLE, "list_pending_requests", json!({}));
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(world.chain.balance(DAPP), dapp_before);
    assert_eq!(world.chain.tx_result(&ask).status, FinalStatus::Pending);
    let committee = world.committee(0);
    assert_success(&world.commit(committee[0], 0, ANSWER));

    // The yield's own timeout ends it, refunding the whole fee once.
    world.chain.advance_blocks(200);
    let result = world.chain.tx_result(&ask);
    let timed_out = events(&result, "request_timed_out");
    assert_eq!(timed_out.len(), 1);
    assert_eq!(yocto(&timed_out[0]["refunded"]), PRICE);
    let reason = result.json::<Value>()["failed"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("request 0 timed out"), "{reason}");
    assert_eq!(world.request(0)["status"], "timed_out");
    world.chain.advance_blocks(RETENTION_BLOCKS);
    let cleaned = world.call(ALICE, "cleanup_request", json!({"request_id": 0}), 0);
    // What the dApp forwarded on Alice's behalf, less the fee: its own storage stayed with it.
    assert_eq!(
        yocto(&cleaned.json::<Value>()),
        deposit - PRICE - world.dapp_storage("q")
    );
}

#[test]
fn a_wrong_digest_is_slashed_and_the_right_answer_still_wins() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let committee = world.committee(0);
    let liar = committee[0];
    let stake_before = world.stake(liar);
    let honest_stakes: Vec<u128> = committee[1..].iter().map(|n| world.stake(*n)).collect();
    world.commit_answers(
        0,
        &[
            (liar, "Lyon is the capital of France."),
            (committee[1], ANSWER),
            (committee[2], ANSWER),
            (committee[3], ANSWER),
        ],
    );

    let wrong = world.attest(liar, 0, "Lyon is the capital of France.");
    assert_eq!(wrong.json::<String>(), "recorded");
    assert_success(&world.attest(committee[1], 0, ANSWER));
    assert_success(&world.attest(committee[2], 0, ANSWER));
    let resolving = world.attest(committee[3], 0, ANSWER);
    assert_eq!(resolving.json::<String>(), "resolved");
    let slashed = events(&resolving, "node_slashed");
    assert_eq!(slashed.len(), 1);
    assert_eq!(slashed[0]["node"], node_name(liar));
    assert_eq!(slashed[0]["reason"], "wrong_digest");
    let amount = yocto(&slashed[0]["amount"]);
    assert_eq!(amount, stake_before / 10);
    assert_eq!(world.stake(liar), stake_before - amount);
    for (honest, before) in committee[1..].iter().zip(honest_stakes) {
        assert_eq!(world.stake(*honest), before);
    }
    let info = world.view(ORACLE, "get_info", json!({}));
    assert_eq!(yocto(&info["treasury"]), amount);

    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert_eq!(answer["answered"]["output"], ANSWER);
    assert_eq!(world.request(0)["slashed"], json!([node_name(liar)]));

    // The slashed stake leaves the treasury only to an account that takes it: a transfer to
    // one that does not exist puts it back.
    let withdraw = |world: &mut World, receiver: &str| {
        let args = json!({"receiver_id": receiver, "amount": amount.to_string()});
        let result = world.call(OWNER, "withdraw_treasury", args, 0);
        assert_success(&result);
        result
    };
    let treasury = |world: &World| yocto(&world.view(ORACLE, "get_info", json!({}))["treasury"]);
    let lost = withdraw(&mut world, "nobody-here.test");
    assert!(!lost.json::<bool>());
    assert_eq!(treasury(&world), amount);
    assert_eq!(
        events(&lost, "treasury_withdrawal_failed"),
        vec![
            json!({"receiver_id": "nobody-here.test", "amount": amount.to_string(),
            "treasury": amount.to_string()})
        ]
    );
    assert!(events(&lost, "treasury_withdrawn").is_empty());
    let alice_before = world.chain.balance(ALICE);
    let sent = withdraw(&mut world, ALICE);
    assert!(sent.json::<bool>());
    assert_eq!(treasury(&world), 0);
    assert_eq!(world.chain.balance(ALICE) - alice_before, amount);
    assert_eq!(events(&sent, "treasury_withdrawn").len(), 1);
}

#[test]
fn a_dissent_after_resolution_is_slashed_too() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.committee(0);
    world.commit_answers(
        0,
        &[
            (committee[0], ANSWER),
            (committee[1], ANSWER),
            (committee[2], ANSWER),
            (committee[3], "something else"),
        ],
    );
    for node in &committee[..3] {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    let late = world.attest(committee[3], 0, "something else");
    assert_eq!(late.json::<String>(), "slashed");
    assert_eq!(events(&late, "node_slashed")[0]["reason"], "wrong_digest");
}

/// Every member of `request_id`'s committee commits to `ANSWER` and the first three reveal
/// it: the request resolves, its committee is returned.
fn resolve_by_three_of_four(world: &mut World, request_id: u64) -> Vec<usize> {
    let committee = world.commit_all(request_id, ANSWER);
    for node in &committee[..3] {
        assert_success(&world.attest(*node, request_id, ANSWER));
    }
    assert_eq!(world.request(request_id)["status"], "resolved");
    committee
}

/// Cleans up `request_id` once its retention has passed; returns the `node_slashed` events
/// and the gas the cleanup burnt.
fn clean_up_after_retention(world: &mut World, request_id: u64) -> (Vec<Value>, u64) {
    world.chain.advance_blocks(3 + RETENTION_BLOCKS);
    let cleaned = world.call(
        RELAYER,
        "cleanup_request",
        json!({"request_id": request_id}),
        0,
    );
    assert_success(&cleaned);
    (events(&cleaned, "node_slashed"), cleaned.total_gas_burnt())
}

#[test]
fn a_member_that_commits_to_a_resolved_request_and_never_reveals_is_slashed_at_cleanup() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    // A guesser commits like everyone else, sees the quorum resolve on an answer its guess
    // does not match, and keeps its attestation to itself.
    let committee = resolve_by_three_of_four(&mut world, 0);
    let guesser = committee[3];
    let stakes: Vec<u128> = committee.iter().map(|n| world.stake(*n)).collect();
    // The view says from when, and whom the cleanup will slash.
    world.chain.advance_blocks(3);
    let view: RequestView = serde_json::from_value(world.request(0)).unwrap();
    assert_eq!(view.unrevealed_commitments(), [node_name(guesser)]);
    let cleanable_at = view
        .cleanable_at
        .expect("delivered: cleanable from a block");
    // Sent now, the call runs two blocks on: one block early.
    world
        .chain
        .advance_blocks(cleanable_at - 3 - world.chain.block_height());
    let early = world.call(RELAYER, "cleanup_request", json!({"request_id": 0}), 0);
    assert!(
        early.status_message().contains(&format!(
            "can be cleaned up from block {cleanable_at}; now is block {}",
            cleanable_at - 1
        )),
        "{}",
        early.status_message()
    );
    let relayer_before = world.chain.balance(RELAYER);
    let (slashed, gas) = clean_up_after_retention(&mut world, 0);
    // The cleanup's caller reported it: the reporter's half of the tenth, on top.
    let penalty = stakes[3] / 10;
    let reward = penalty / 2;
    assert_eq!(
        slashed,
        vec![json!({
            "node": node_name(guesser), "request_id": 0, "reason": "committed_without_reveal",
            "amount": (penalty + reward).to_string(),
            "remaining_stake": (stakes[3] - penalty - reward).to_string(),
            "reporter": RELAYER, "reporter_reward": reward.to_string(),
        })]
    );
    assert_eq!(world.stake(guesser), stakes[3] - penalty - reward);
    assert_eq!(
        world.chain.balance(RELAYER) + u128::from(gas) * wasm_host::chain::GAS_PRICE
            - relayer_before,
        reward
    );
    for (node, stake) in committee[..3].iter().zip(&stakes) {
        assert_eq!(world.stake(*node), *stake, "node {node} revealed");
    }
}

#[test]
fn cleaning_up_a_full_committee_that_slashes_every_silent_committer_stays_cheap() {
    let mut world = setup();
    while world.keys.len() < 32 {
        world.add_node();
    }
    // Time for 32 commitment transactions.
    world.update_config(json!({"committee_size": 32, "quorum": 17, "commit_window_blocks": 150}));
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.commit_all(0, ANSWER);
    assert_eq!(committee.len(), 32);
    for node in &committee[..17] {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    world.chain.advance_blocks(3 + RETENTION_BLOCKS);
    let cleaned = world.call(RELAYER, "cleanup_request", json!({"request_id": 0}), 0);
    assert_success(&cleaned);
    assert_eq!(events(&cleaned, "node_slashed").len(), 15);
    let gas = cleaned.total_gas_burnt();
    println!("gas: cleanup_request slashing 15 of a committee of 32 {gas}");
    assert!(gas < 15 * TGAS, "{gas}");
}

#[test]
fn a_member_that_reveals_after_resolution_is_not_slashed_at_cleanup() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = resolve_by_three_of_four(&mut world, 0);
    let late = world.attest(committee[3], 0, ANSWER);
    assert_eq!(late.json::<String>(), "agreed");
    let stake = world.stake(committee[3]);
    let (slashed, gas) = clean_up_after_retention(&mut world, 0);
    assert_eq!(slashed, Vec::<Value>::new());
    println!("gas: cleanup_request of a resolved request, nobody slashed {gas}");
    assert_eq!(world.stake(committee[3]), stake);
}

#[test]
fn a_timed_out_request_slashes_no_member_that_committed_without_revealing() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.commit_all(0, ANSWER);
    assert_success(&world.attest(committee[0], 0, ANSWER));
    world.chain.advance_blocks(200);
    assert_eq!(world.request(0)["status"], "timed_out");
    let stakes: Vec<u128> = committee.iter().map(|n| world.stake(*n)).collect();
    assert_eq!(
        clean_up_after_retention(&mut world, 0).0,
        Vec::<Value>::new()
    );
    for (node, stake) in committee.iter().zip(&stakes) {
        assert_eq!(world.stake(*node), *stake, "node {node}");
    }
}

#[test]
fn the_reveal_phase_opens_when_all_committed_or_at_the_window_and_commits_close_then() {
    let mut world = setup();
    let config = world.view(ORACLE, "get_config", json!({}));
    assert_eq!(config["commit_window_blocks"], 40, "the default");
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    world.ask("q", deposit);

    // Request 0: every member commits, and the last commitment opens the reveal phase at once.
    let committee = world.committee(0);
    let created_at = world.request(0)["created_at"].as_u64().unwrap();
    assert_eq!(world.request(0)["reveal_opens_at"], created_at + 40);
    // Before the reveal phase, an attestation is refused (even a committed one).
    assert_success(&world.commit(committee[0], 0, ANSWER));
    assert_fails(
        &world.attest(committee[0], 0, ANSWER),
        &format!(
            "the reveal phase of request 0 is not open: 1 of 4 members committed, it opens at \
             block {}",
            created_at + 40
        ),
    );
    assert_fails(
        &world.commit(committee[0], 0, ANSWER),
        &format!(
            "{} has already committed to request 0",
            node_name(committee[0])
        ),
    );
    let outsider = world.non_member(0);
    assert_fails(
        &world.commit(outsider, 0, ANSWER),
        &format!(
            "{} is not on the committee of request 0",
            node_name(outsider)
        ),
    );
    for node in &committee[1..] {
        assert_success(&world.commit(*node, 0, ANSWER));
    }
    let view: RequestView = serde_json::from_value(world.request(0)).unwrap();
    assert!(
        view.reveal_open,
        "open before its window ends: all committed"
    );
    assert!(world.chain.block_height() < created_at + 40);
    assert_eq!(view.commitments.len(), 4);
    assert!(view.has_committed(&node_name(committee[3])));
    assert_eq!(
        view.commitments[0].commitment,
        attestation_commitment(&world.sign(committee[0], 0, ANSWER))
    );
    assert_success(&world.attest(committee[0], 0, ANSWER));

    // Request 1: two members commit; the phase stays closed until the window ends, then
    // opens without the others, and their commitments come too late.
    let committee_0 = committee;
    let committee = world.committee(1);
    assert_success(&world.commit(committee[0], 1, ANSWER));
    assert_success(&world.commit(committee[1], 1, ANSWER));
    let opens_at = world.request(1)["reveal_opens_at"].as_u64().unwrap();
    world
        .chain
        .advance_blocks(opens_at - 1 - world.chain.block_height());
    assert_eq!(world.request(1)["reveal_open"], false, "one block before");
    world.chain.advance_blocks(1);
    assert_eq!(world.request(1)["reveal_open"], true, "at the window's end");
    assert_fails(
        &world.commit(committee[2], 1, ANSWER),
        &format!(
            "the commit phase of request 1 is closed: its window ended at block {opens_at} \
             with 2 of 4 members committed"
        ),
    );
    assert_success(&world.attest(committee[0], 1, ANSWER));
    // A member that did not commit cannot attest, even to the answer everyone can now see.
    assert_fails(
        &world.attest(committee[2], 1, ANSWER),
        &format!(
            "{} did not commit to request 1 before its reveal phase",
            node_name(committee[2])
        ),
    );
    assert_eq!(
        world.request(1)["attested"],
        json!([node_name(committee[0])])
    );
    // After the quorum, no more commitments: the request is no longer pending.
    assert_success(&world.attest(committee_0[1], 0, ANSWER));
    assert_success(&world.attest(committee_0[2], 0, ANSWER));
    assert_eq!(world.request(0)["status"], "resolved");
    assert_fails(
        &world.commit(committee_0[0], 0, ANSWER),
        "request 0 is no longer pending; it takes no more commitments",
    );
}

#[test]
fn a_copied_answer_cannot_complete_the_quorum() {
    let mut world = setup();
    world.update_config(json!({"committee_size": 3, "quorum": 2}));
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let committee = world.committee(0);
    let (honest, copier, guesser) = (committee[0], committee[1], committee[2]);
    // The honest member commits to its answer; the guesser commits to a guess; the copier
    // commits to nothing, waiting to see an answer.
    world.commit_answers(0, &[(honest, ANSWER), (guesser, "Lyon")]);
    assert_eq!(world.attest(honest, 0, ANSWER).json::<String>(), "recorded");
    // Both now read the honest answer and sign it as their own: the copier made no commitment,
    // the guesser's commitment is to another signature. Neither completes the quorum.
    assert_fails(
        &world.attest(copier, 0, ANSWER),
        &format!(
            "{} did not commit to request 0 before its reveal phase",
            node_name(copier)
        ),
    );
    assert_fails(
        &world.attest(guesser, 0, ANSWER),
        &format!(
            "the attestation of {} does not match the node's commitment for request 0",
            node_name(guesser)
        ),
    );
    // A relayer cannot slip the copy in through a bundle either.
    let copied = json!({
        "node": node_name(copier),
        "result_digest": digest_of(ANSWER),
        "signature": world.sign(copier, 0, ANSWER),
    });
    assert_fails(
        &world.call(
            RELAYER,
            "submit_attestation_bundle",
            json!({"request_id": 0, "output": ANSWER, "attestations": [copied]}),
            0,
        ),
        "did not commit to request 0",
    );
    assert_eq!(world.request(0)["status"], "pending");
    // Without a second independent answer the request times out; the fee goes back.
    world.chain.advance_blocks(200);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert!(answer["failed"]["reason"]
        .as_str()
        .unwrap()
        .contains("request 0 timed out"));
}

/// A function call of the oracle's `method` with `args` and `deposit`, as a transaction's action.
fn oracle_action(method: &str, args: Value, deposit: u128) -> Action {
    Action::FunctionCall {
        method_name: method.into(),
        args: args.to_string().into_bytes(),
        deposit,
        gas: GAS,
    }
}

#[test]
fn a_node_cannot_act_on_the_committee_of_a_request_in_the_transaction_that_makes_it() {
    let mut world = setup();
    // Every node sits on every committee, so a node asking is always drawn.
    world.update_config(json!({"committee_size": NODES, "quorum": 3}));
    let asker = 0;
    let deposit = world.deposit_for("q");
    let ask = json!({"model_id": model_id(), "input": "q", "params": params(1)});
    // One transaction that makes request 0 and commits to it would revert the request unless
    // its sender was drawn: retried until it is, it would put the node on the committee of its
    // own request. The commitment is refused in the request's block, drawn or not.
    let commitment = attestation_commitment(&world.sign(asker, 0, ANSWER));
    let (claim_a, claim_b) = (world.claim(asker, 0, ANSWER), world.claim(asker, 0, "Lyon"));
    for (second, refused) in [
        (
            oracle_action(
                "commit_attestation",
                json!({"request_id": 0, "commitment": commitment}),
                0,
            ),
            "it takes commitments from the next block",
        ),
        // So is an equivocation report, which a node could send about itself.
        (
            oracle_action(
                "report_equivocation",
                json!({"request_id": 0, "node": node_name(asker),
                    "first": claim_a, "second": claim_b}),
                0,
            ),
            "it takes equivocation reports from the next block",
        ),
    ] {
        let batch = vec![oracle_action("request", ask.clone(), deposit), second];
        let tx = world
            .chain
            .submit(&node_name(asker), ORACLE, batch)
            .unwrap();
        world.chain.advance_blocks(3);
        let result = world.chain.tx_result(&tx);
        assert_fails(&result, "request 0 was made in this block");
        assert_fails(&result, refused);
        assert_eq!(world.request(0), Value::Null, "the request is reverted");
    }
    // Made on its own, the request takes the node's commitment from the next block.
    let tx = world
        .chain
        .submit(
            &node_name(asker),
            ORACLE,
            vec![oracle_action("request", ask, deposit)],
        )
        .unwrap();
    world.chain.advance_blocks(3);
    assert_eq!(
        events(&world.chain.tx_result(&tx), "request_created").len(),
        1
    );
    assert!(world.committee(0).contains(&asker));
    assert_success(&world.commit(asker, 0, ANSWER));
}

#[test]
fn nothing_in_the_requests_own_receipt_can_depend_on_its_committee() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    let ask = json!({"model_id": model_id(), "input": "q", "params": params(1)});
    // A requester batches `request` with a call whose gas (or success) would depend on who was
    // drawn — here the request view itself, called as a change method — to revert and retry
    // the request until the committee suits it. In the request's receipt there is no
    // committee yet: the oracle draws it in a receipt of its own, which nobody can batch with.
    let batch = vec![
        oracle_action("request", ask, deposit),
        oracle_action("get_request", json!({"request_id": 0}), 0),
    ];
    let tx = world.chain.submit(ALICE, ORACLE, batch).unwrap();
    world.chain.advance_blocks(3);
    let result = world.chain.tx_result(&tx);
    let seen: Value = result.json();
    assert_eq!(seen["committee"], json!([]), "{seen}");
    assert_eq!(seen["reveal_open"], false, "{seen}");
    let drawn = events(&result, "committee_drawn");
    assert_eq!(drawn.len(), 1, "{:?}", result.logs());
    let committee = world.request(0)["committee"].clone();
    assert_eq!(committee.as_array().unwrap().len(), 4);
    assert_eq!(drawn[0], json!({"request_id": 0, "committee": committee}));
    // The draw is the oracle's own: nobody else may call it.
    assert_fails(
        &world.call(ALICE, "draw_committee", json!({"request_id": 0}), 0),
        "is private",
    );
}

#[test]
fn the_draw_keeps_the_committee_size_the_request_was_made_for() {
    let mut world = setup();
    for result in register_many(&mut world, "m", 3, json!([model_id()])) {
        assert_success(&result);
    }
    let deposit = world.deposit_for("q");
    let ask = json!({"model_id": model_id(), "input": "q", "params": params(1)});
    // The owner's change lands between the request and its draw.
    let mut config = world.view(ORACLE, "get_config", json!({}));
    config["committee_size"] = json!(8);
    config["quorum"] = json!(5);
    world
        .chain
        .submit(ALICE, ORACLE, vec![oracle_action("request", ask, deposit)])
        .unwrap();
    let change = json!({"config": config});
    world
        .chain
        .submit(
            OWNER,
            ORACLE,
            vec![oracle_action("update_config", change, 0)],
        )
        .unwrap();
    world.chain.advance_blocks(4);
    assert_eq!(
        world.view(ORACLE, "get_config", json!({}))["committee_size"],
        8
    );
    // Drawn by today's size, 8 members would take a quorum of 3: no majority.
    let request = world.request(0);
    assert_eq!(request["quorum"], 3);
    assert_eq!(
        request["committee"].as_array().unwrap().len(),
        4,
        "{request}"
    );
}

#[test]
fn a_request_whose_model_has_too_few_eligible_nodes_at_its_draw_times_out_refunded() {
    let mut world = setup();
    // Every node stays listed, but under a raised minimum stake none can be drawn.
    world.update_config(json!({"min_stake": (100 * ONE_NEAR).to_string()}));
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    assert_eq!(world.request(0)["committee"], json!([]));
    assert!(events(&world.chain.tx_result(&ask), "committee_drawn").is_empty());
    let alice_before = world.chain.balance(ALICE);
    world.chain.advance_blocks(200);
    assert_eq!(world.request(0)["status"], "timed_out");
    let timed_out = &events(&world.chain.tx_result(&ask), "request_timed_out")[0];
    assert_eq!(timed_out["paid"], json!([]));
    assert_eq!(timed_out["refunded_to"], ALICE);
    assert_eq!(yocto(&timed_out["refunded"]), PRICE);
    // The whole fee came back to Alice (with what is left of her gas).
    world.chain.advance_blocks(2);
    let gained = world.chain.balance(ALICE) - alice_before;
    assert!(gained >= PRICE, "gained {gained}");
}

#[test]
fn the_commit_window_is_validated() {
    let mut world = setup();
    let config = world.view(ORACLE, "get_config", json!({}));
    for bad in [0, 1, 9, 151] {
        let mut config = config.clone();
        config["commit_window_blocks"] = json!(bad);
        assert_fails(
            &world.call(OWNER, "update_config", json!({"config": config}), 0),
            &format!(
                "commit_window_blocks must be 10 to 150: at least 10 so that nodes have time to \
                 run the model and commit, at most a request's 200 blocks less 50 left to \
                 reveal; got {bad}"
            ),
        );
    }
    let mut config = config.clone();
    config["commit_window_blocks"] = json!(10);
    assert_success(&world.call(OWNER, "update_config", json!({"config": config}), 0));
    assert_eq!(
        world.view(ORACLE, "get_config", json!({}))["commit_window_blocks"],
        10
    );
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let request = world.request(0);
    assert_eq!(
        request["reveal_opens_at"].as_u64().unwrap(),
        request["created_at"].as_u64().unwrap() + 10
    );
}

#[test]
fn invalid_attestations_are_rejected_with_clear_errors() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    world.ask("q", deposit);
    let committee = world.commit_all(0, ANSWER);
    let member = committee[0];

    // Forged: signed by a key that is not the node's attestation key.
    let forger = SecretKey::from_seed([99; 32]);
    let forged = World::sign_with(&forger, member, 0, digest_of(ANSWER), ANSWER);
    assert_fails(
        &world.attest_signed(member, 0, ANSWER, forged),
        &format!(
            "the signature of {} does not verify for request 0",
            node_name(member)
        ),
    );

    // Replayed: a valid signature made for request 1 submitted for request 0.
    let committee_1 = world.committee(1);
    let shared = *committee
        .iter()
        .find(|n| committee_1.contains(n))
        .expect("two committees of 4 out of 5 nodes overlap");
    let for_request_1 = world.sign(shared, 1, ANSWER);
    assert_fails(
        &world.attest_signed(shared, 0, ANSWER, for_request_1),
        "does not verify for request 0",
    );

    // Signed for another output than the one submitted.
    let other_output = world.sign(member, 0, "another output");
    assert_fails(
        &world.attest_signed(member, 0, ANSWER, other_output),
        "does not verify",
    );

    // Domain separation: the node's own key, this request and output, but signed for another
    // chain or another oracle contract.
    let key = world.keys[member].clone();
    let on_other_chain = AttestationMessage {
        chain_id: "mainnet".into(),
        ..attestation_message(&node_name(member), 0, digest_of(ANSWER), ANSWER)
    };
    let for_other_oracle = AttestationMessage {
        oracle_contract: "other-oracle.test".into(),
        ..attestation_message(&node_name(member), 0, digest_of(ANSWER), ANSWER)
    };
    for message in [on_other_chain, for_other_oracle] {
        let signature = Signature64(sdk::attest::sign(&key, &message));
        assert_fails(
            &world.attest_signed(member, 0, ANSWER, signature),
            &format!(
                "the signature of {} does not verify for request 0",
                node_name(member)
            ),
        );
    }

    // Not on the committee, even with a valid signature.
    let outsider = world.non_member(0);
    assert_fails(
        &world.attest(outsider, 0, ANSWER),
        &format!(
            "{} is not on the committee of request 0",
            node_name(outsider)
        ),
    );

    // Once each.
    assert_success(&world.attest(member, 0, ANSWER));
    assert_fails(
        &world.attest(member, 0, ANSWER),
        &format!("{} has already attested to request 0", node_name(member)),
    );

    // Unknown request, oversized output.
    assert_fails(&world.attest(member, 7, ANSWER), "request 7 does not exist");
    let huge = "x".repeat(5000);
    assert_fails(
        &world.attest(member, 0, &huge),
        "output is 5000 bytes; the oracle accepts at most 4096",
    );
}

#[test]
fn a_weak_key_stored_by_older_code_signs_nothing() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.committee(0);
    let weak = committee[0];
    // The node's record as code without the check could have stored it: the identity point as
    // its attestation key. (`nodes` is an IterableMap: its values lie at SHA-256 of its prefix,
    // tag 1 and `m`, and the borsh account id.)
    let name = node_name(weak);
    let mut preimage = vec![1, b'm'];
    preimage.extend_from_slice(&(name.len() as u32).to_le_bytes());
    preimage.extend_from_slice(name.as_bytes());
    let key = Sha256::digest(&preimage).to_vec();
    let mut record = world.chain.storage_value(ORACLE, &key).unwrap().to_vec();
    assert_eq!(record[..32], world.keys[weak].public_key().to_bytes()[1..]);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    record[..32].copy_from_slice(&identity);
    world.write_oracle_key(&key, &record);
    // The signature (R = identity, S = 0) the host's ed25519_verify accepts with that key for
    // every message: committed, then revealed, it is refused.
    let mut universal = [0u8; 64];
    universal[0] = 1;
    assert_success(&world.commit_signed(weak, 0, Signature64(universal)));
    let others: Vec<(usize, &str)> = committee[1..].iter().map(|n| (*n, ANSWER)).collect();
    world.commit_answers(0, &others);
    assert_fails(
        &world.attest_signed(weak, 0, ANSWER, Signature64(universal)),
        &format!("the signature of {name} does not verify"),
    );
    assert_success(&world.attest(committee[1], 0, ANSWER));
}

#[test]
fn an_attestation_key_serves_one_node_and_signs_as_that_node_only() {
    let mut world = setup();
    // Another account cannot register with node 0's key, so it cannot pass node 0's
    // signatures off as its own.
    world
        .chain
        .create_account("copycat.test", 100 * ONE_NEAR)
        .unwrap();
    let key_0 = world.keys[0].public_key().to_string();
    assert_fails(
        &register_copycat(&mut world, &key_0),
        &format!("attestation key {key_0} is already used by node node0.test"),
    );
    // Nor with a weak key, whose one signature would verify for every answer: the identity
    // point, also written with the sign bit set, and a point of order 8.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut signed_identity = identity;
    signed_identity[31] = 0x80;
    let order_8 =
        hex::decode("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05").unwrap();
    for weak in [identity, signed_identity, order_8.try_into().unwrap()] {
        assert_fails(
            &register_copycat(&mut world, &PublicKey::Ed25519(weak).to_string()),
            "attestation_key is a weak ed25519 key",
        );
    }

    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.commit_all(0, ANSWER);
    let (first, second) = (committee[0], committee[1]);
    // A node's own key signing a message that names another node does not verify.
    let naming_other = World::sign_with(&world.keys[first], second, 0, digest_of(ANSWER), ANSWER);
    assert_fails(
        &world.attest_signed(first, 0, ANSWER, naming_other),
        &format!("the signature of {} does not verify", node_name(first)),
    );
    // A valid signature of one member relayed as another member's is refused.
    let relayed_as_other = json!({
        "node": node_name(second),
        "result_digest": digest_of(ANSWER),
        "signature": world.sign(first, 0, ANSWER),
    });
    assert_fails(
        &world.call(
            RELAYER,
            "submit_attestation_bundle",
            json!({"request_id": 0, "output": ANSWER, "attestations": [relayed_as_other]}),
            0,
        ),
        &format!("the signature of {} does not verify", node_name(second)),
    );
    assert_success(&world.attest(first, 0, ANSWER));

    // Once node 0 has withdrawn, its key is free for another node.
    world.call(&node_name(0), "unregister_node", json!({}), 0);
    world.chain.advance_blocks(UNBONDING_BLOCKS + 1);
    assert_success(&world.call(&node_name(0), "withdraw_stake", json!({}), 0));
    assert_success(&register_copycat(&mut world, &key_0));
}

/// `copycat.test` registers as a node of the model with `attestation_key`.
fn register_copycat(world: &mut World, attestation_key: &str) -> TxResult {
    let args = json!({"attestation_key": attestation_key, "models": [model_id()]});
    world
        .chain
        .call(
            "copycat.test",
            ORACLE,
            "register_node",
            args.to_string(),
            NODE_DEPOSIT,
            GAS,
        )
        .unwrap()
}

#[test]
fn a_relayed_bundle_of_k_attestations_resolves_in_one_transaction() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let committee = world.commit_all(0, ANSWER);
    let balances_before: Vec<u128> = committee
        .iter()
        .map(|n| world.chain.balance(&node_name(*n)))
        .collect();
    let bundle = answer_bundle(&world, &committee[..3]);

    // A relayer cannot swap the output: every signature names the output's hash.
    let tampered = world.call(
        RELAYER,
        "submit_attestation_bundle",
        json!({"request_id": 0, "output": "Lyon", "attestations": bundle}),
        0,
    );
    assert_fails(&tampered, "does not verify for request 0");

    let relayed = world.call(
        RELAYER,
        "submit_attestation_bundle",
        json!({"request_id": 0, "output": ANSWER, "attestations": bundle}),
        0,
    );
    assert_eq!(
        relayed.json::<Vec<String>>(),
        vec!["recorded", "recorded", "resolved"]
    );
    println!(
        "gas: relayed bundle of 3 (resolving) {}",
        relayed.total_gas_burnt()
    );
    // The relayer paid the gas, so the nodes' balances moved by their fee shares only.
    for (i, node) in committee.iter().enumerate() {
        let gained = world.chain.balance(&node_name(*node)) - balances_before[i];
        let expected = if i < 3 { SEAT_SHARE } else { 0 };
        assert_eq!(gained, expected, "node {node}");
    }
    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert_eq!(answer["answered"]["output"], ANSWER);
}

#[test]
fn a_relayed_bundle_defers_the_entries_whose_events_could_pass_the_receipts_log_cap() {
    let mut world = setup();
    // The longest events: 64-character account ids; 15 dissenters whose slashing jails them.
    let prefix = "a-node-operator-with-a-long-account-name-on-the-devnet-xy";
    for result in register_many(&mut world, prefix, 32, json!([model_id()])) {
        assert_success(&result);
    }
    for node in 0..NODES {
        assert_success(&world.call(&node_name(node), "unregister_node", json!({}), 0));
    }
    let least_stake = (0..32)
        .map(|i| {
            let node = world.view(
                ORACLE,
                "get_node",
                json!({"account_id": format!("{prefix}{i}.test")}),
            );
            yocto(&node["stake"])
        })
        .min()
        .unwrap();
    world.update_config(json!({
        "committee_size": 32, "quorum": 17, "commit_window_blocks": 150,
        "min_stake": least_stake.to_string(),
    }));
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee: Vec<String> =
        serde_json::from_value(world.request(0)["committee"].clone()).unwrap();
    assert_eq!(committee.len(), 32);
    let (agreeing, dissenting) = committee.split_at(17);
    let agreeing: Vec<(String, Signature64)> = agreeing
        .iter()
        .map(|account| {
            (
                account.clone(),
                commit_signed_as(&mut world, account, 0, ANSWER),
            )
        })
        .collect();
    let dissenting: Vec<(String, Signature64)> = dissenting
        .iter()
        .map(|account| {
            (
                account.clone(),
                commit_signed_as(&mut world, account, 0, "Lyon"),
            )
        })
        .collect();
    world.open_reveal(0);
    for (account, signature) in &dissenting {
        let args = json!({
            "request_id": 0, "output": "Lyon",
            "result_digest": digest_of("Lyon"), "signature": signature,
        });
        assert_success(&world.call(account, "submit_attestation", args, 0));
    }

    // All 17 agreeing reveals in one bundle would log about 17.5 KB (the 17th resolves the
    // request, slashing and jailing the 15 dissenters): NEAR would fail the whole receipt. The
    // oracle takes what surely fits and defers the rest; the relayer sends those again.
    let mut pending: Vec<Value> = agreeing
        .iter()
        .map(|(account, signature)| {
            json!({"node": account, "result_digest": digest_of(ANSWER), "signature": signature})
        })
        .collect();
    let mut bundles = 0;
    let mut outcomes = Vec::new();
    while !pending.is_empty() {
        let relayed = world.call(
            RELAYER,
            "submit_attestation_bundle",
            json!({"request_id": 0, "output": ANSWER, "attestations": pending}),
            0,
        );
        assert_success(&relayed);
        bundles += 1;
        let log_bytes: usize = relayed.logs().iter().map(|l| l.len()).sum();
        assert!(log_bytes <= 16 * 1024, "{log_bytes}");
        let taken: Vec<String> = relayed.json();
        assert_eq!(taken.len(), pending.len());
        let deferred = taken.iter().filter(|o| *o == "deferred").count();
        println!(
            "bundle {bundles}: took {} of {}",
            taken.len() - deferred,
            taken.len()
        );
        assert!(
            taken[..taken.len() - deferred]
                .iter()
                .all(|o| o != "deferred"),
            "{taken:?}"
        );
        if taken.contains(&"resolved".to_string()) {
            println!("logs: the resolving bundle wrote {log_bytes} bytes");
            assert_eq!(events(&relayed, "node_slashed").len(), 15);
            assert_eq!(events(&relayed, "node_jailed").len(), 15);
        }
        outcomes.extend(taken[..taken.len() - deferred].iter().cloned());
        pending = pending.split_off(pending.len() - deferred);
    }
    assert!(bundles > 1, "nothing was deferred");
    assert_eq!(outcomes.len(), 17);
    assert_eq!(outcomes.iter().filter(|o| *o == "resolved").count(), 1);
    assert_eq!(outcomes.last().unwrap(), "resolved");
    assert_eq!(world.request(0)["status"], "resolved");
}

/// The signed attestations of `ANSWER` to request 0 by `members`, as a relayer bundles them.
fn answer_bundle(world: &World, members: &[usize]) -> Vec<Value> {
    members
        .iter()
        .map(|node| {
            json!({
                "node": node_name(*node),
                "result_digest": digest_of(ANSWER),
                "signature": world.sign(*node, 0, ANSWER),
            })
        })
        .collect()
}

#[test]
fn a_bundle_entry_copied_and_sent_first_is_skipped_not_fatal() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.commit_all(0, ANSWER);
    let bundle = answer_bundle(&world, &committee[..3]);
    // Anyone can copy an entry of a pending bundle and send it first.
    let copied = world.call(
        ALICE,
        "submit_attestation_bundle",
        json!({"request_id": 0, "output": ANSWER, "attestations": [bundle[0]]}),
        0,
    );
    assert_eq!(copied.json::<Vec<String>>(), vec!["recorded"]);
    let relayed = world.call(
        RELAYER,
        "submit_attestation_bundle",
        json!({"request_id": 0, "output": ANSWER, "attestations": bundle}),
        0,
    );
    assert_eq!(
        relayed.json::<Vec<String>>(),
        vec!["already_recorded", "recorded", "resolved"]
    );
    // A node's own second submission is still refused.
    assert_fails(
        &world.attest(committee[1], 0, ANSWER),
        "has already attested to request 0",
    );
}

#[test]
fn equivocation_evidence_slashes_and_rewards_the_reporter() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let node = world.committee(0)[0];
    let first = world.claim(node, 0, ANSWER);
    let second = world.claim(node, 0, "Lyon");
    let stake_before = world.stake(node);

    let same = world.call(
        RELAYER,
        "report_equivocation",
        json!({"request_id": 0, "node": node_name(node), "first": first, "second": first}),
        0,
    );
    assert_fails(&same, "not equivocation");

    let relayer_before = world.chain.balance(RELAYER);
    let report = world.call(
        RELAYER,
        "report_equivocation",
        json!({"request_id": 0, "node": node_name(node), "first": first, "second": second}),
        0,
    );
    let slashed = yocto(&report.json::<Value>());
    let penalty = stake_before / 10;
    // The reporter's reward (half the penalty) is taken on top of the penalty.
    assert_eq!(slashed, penalty + penalty / 2);
    assert_eq!(world.stake(node), stake_before - slashed);
    let event = &events(&report, "node_slashed")[0];
    assert_eq!(event["reason"], "equivocation");
    assert_eq!(event["reporter"], RELAYER);
    assert_eq!(yocto(&event["amount"]), slashed);
    let reward = yocto(&event["reporter_reward"]);
    assert_eq!(reward, penalty / 2);
    let info = world.view(ORACLE, "get_info", json!({}));
    assert_eq!(yocto(&info["treasury"]), penalty);
    // The reward outweighs the report's gas.
    assert!(world.chain.balance(RELAYER) > relayer_before);

    let again = world.call(
        RELAYER,
        "report_equivocation",
        json!({"request_id": 0, "node": node_name(node), "first": first, "second": second}),
        0,
    );
    assert_fails(&again, "already slashed for request 0");
}

#[test]
fn a_node_reporting_its_own_equivocation_loses_as_much_as_for_a_wrong_answer() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let committee = world.committee(0);
    let liar = committee[0];
    let stake_before = world.stake(liar);
    let (first, second) = (
        world.claim(liar, 0, "Lyon"),
        world.claim(liar, 0, "Marseille"),
    );
    // The liar reports itself (any account of its own would do), then attests a wrong answer,
    // which it cannot be slashed for again.
    let report = world.call(
        &node_name(liar),
        "report_equivocation",
        json!({"request_id": 0, "node": node_name(liar), "first": first, "second": second}),
        0,
    );
    assert_success(&report);
    let reward = yocto(&events(&report, "node_slashed")[0]["reporter_reward"]);
    assert!(reward > 0);
    world.commit_answers(
        0,
        &[
            (liar, "Lyon"),
            (committee[1], ANSWER),
            (committee[2], ANSWER),
            (committee[3], ANSWER),
        ],
    );
    assert_eq!(world.attest(liar, 0, "Lyon").json::<String>(), "recorded");
    for node in &committee[1..3] {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    let resolving = world.attest(committee[3], 0, ANSWER);
    assert_eq!(resolving.json::<String>(), "resolved");
    assert!(
        events(&resolving, "node_slashed").is_empty(),
        "once per request"
    );
    let net_loss = stake_before - world.stake(liar) - reward;
    assert_eq!(
        net_loss,
        stake_before / 10,
        "the full slash_bps, as a wrong answer alone costs"
    );
    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert_eq!(answer["answered"]["output"], ANSWER);
}

#[test]
fn a_resolved_request_cannot_be_cleaned_up_before_its_answer_is_delivered() {
    let mut world = setup();
    world.update_config(json!({"retention_blocks": 50}));
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let committee = world.commit_all(0, ANSWER);
    assert_success(&world.attest(committee[0], 0, ANSWER));
    assert_success(&world.attest(committee[1], 0, ANSWER));
    // The resolving attestation and, in the same block, a third party's cleanup.
    let args = json!({
        "request_id": 0, "output": ANSWER,
        "result_digest": digest_of(ANSWER), "signature": world.sign(committee[2], 0, ANSWER),
    });
    let attest = Action::FunctionCall {
        method_name: "submit_attestation".into(),
        args: args.to_string().into_bytes(),
        deposit: 0,
        gas: GAS,
    };
    let resolving = world
        .chain
        .submit(&node_name(committee[2]), ORACLE, vec![attest])
        .unwrap();
    let cleanup = || Action::FunctionCall {
        method_name: "cleanup_request".into(),
        args: json!({"request_id": 0}).to_string().into_bytes(),
        deposit: 0,
        gas: GAS,
    };
    let early = world
        .chain
        .submit(RELAYER, ORACLE, vec![cleanup()])
        .unwrap();
    world.chain.advance_blocks(5);
    assert_eq!(
        world.chain.tx_result(&resolving).json::<String>(),
        "resolved"
    );
    assert_fails(
        &world.chain.tx_result(&early),
        "has not reached the requester's callback yet",
    );
    let answer: Value = world.chain.tx_result(&ask).json();
    assert_eq!(answer["answered"]["output"], ANSWER, "{answer}");
    // Delivered: cleanable once the retention has passed.
    world.chain.advance_blocks(50);
    assert_success(&world.call(RELAYER, "cleanup_request", json!({"request_id": 0}), 0));
}

#[test]
fn requests_without_enough_deposit_or_within_limits_are_refused() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    let request = |input: &str, max_tokens: u32| json!({"model_id": model_id(), "input": input, "params": params(max_tokens), "storage_refund_to": ALICE});
    let fee = deposit - world.dapp_storage("q");
    assert_fails(
        &world.call(ALICE, "request", request("q", 32), fee - 1),
        &format!("attach at least {fee} yoctoNEAR"),
    );
    let oversized = "x".repeat(MAX_INPUT_BYTES as usize + 1);
    assert_fails(
        &world.call(ALICE, "request", request(&oversized, 32), 10 * ONE_NEAR),
        &format!(
            "input is {} bytes; model {} accepts at most {MAX_INPUT_BYTES}",
            MAX_INPUT_BYTES + 1,
            model_id()
        ),
    );
    assert_fails(
        &world.call(ALICE, "request", request("q", 129), 10 * ONE_NEAR),
        "max_tokens is 129",
    );
    let unknown = json!({"model_id": sha256(b"other"), "input": "q", "params": params(1)});
    assert_fails(
        &world.call(ALICE, "request", unknown, 10 * ONE_NEAR),
        "is not registered",
    );

    // Through the dApp: its callback learns of the refusal and Alice gets her deposit back.
    let alice_before = world.chain.balance(ALICE);
    let ask = world.ask("q", deposit - 1);
    world.chain.advance_blocks(3);
    let result = world.chain.tx_result(&ask);
    let answer: Value = result.json();
    assert_eq!(
        answer["failed"],
        json!({"reason": "the oracle refused the request (or its callback failed)",
            "oracle_request_id": null})
    );
    let gas_cost = u128::from(ASK_GAS) * wasm_host::chain::GAS_PRICE;
    // Alice paid gas (some refunded) but no deposit.
    assert!(alice_before - world.chain.balance(ALICE) <= gas_cost);
}

#[test]
fn long_outputs_are_returned_as_a_prefix_with_the_full_hash() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let long = "é".repeat(100); // 200 bytes; the inline limit (64) falls on a boundary
    for node in &world.commit_all(0, &long)[..3] {
        assert_success(&world.attest(*node, 0, &long));
    }
    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert_eq!(answer["answered"]["output"], "é".repeat(32));
    assert_eq!(answer["answered"]["truncated"], true);
    assert_eq!(
        answer["answered"]["output_hash"],
        sha256(long.as_bytes()).to_hex()
    );
    let stored = world.request(0)["answer"].clone();
    assert_eq!(stored["output_bytes"], 200);
    assert_eq!(stored["result_digest"], json!(digest_of(&long)));
}

#[test]
fn finished_requests_are_cleaned_up_after_retention_and_release_storage() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    for node in &world.commit_all(0, ANSWER)[..3] {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    world.chain.advance_blocks(3);
    assert_fails(
        &world.call(ALICE, "cleanup_request", json!({"request_id": 0}), 0),
        "request 0 can be cleaned up from block",
    );
    world.chain.advance_blocks(RETENTION_BLOCKS);
    // The dApp asked on Alice's behalf: the request's storage deposit goes to her.
    let (alice_before, dapp_before) = (world.chain.balance(ALICE), world.chain.balance(DAPP));
    let cleaned = world.call(RELAYER, "cleanup_request", json!({"request_id": 0}), 0);
    // Its fourth member committed and never revealed.
    assert_eq!(events(&cleaned, "node_slashed").len(), 1);
    println!(
        "gas: cleanup_request of a resolved request slashing one member {}",
        cleaned.total_gas_burnt()
    );
    let released = yocto(&cleaned.json::<Value>());
    // The storage, and the fee share its silent member left.
    assert_eq!(
        released,
        deposit - PRICE - world.dapp_storage("q") + SEAT_SHARE
    );
    assert_eq!(world.chain.balance(ALICE) - alice_before, released);
    assert_eq!(world.chain.balance(DAPP), dapp_before);
    assert_eq!(events(&cleaned, "request_cleaned_up").len(), 1);
    assert_eq!(world.request(0), Value::Null);
}

#[test]
fn block_settings_are_capped_and_retention_is_fixed_when_a_request_finishes() {
    let mut world = setup();
    let mut config = world.view(ORACLE, "get_config", json!({}));
    for (field, value, error) in [
        (
            "unbonding_blocks",
            json!(u64::MAX),
            "unbonding_blocks must be at most 2000000",
        ),
        (
            "retention_blocks",
            json!(u64::MAX),
            "retention_blocks must be 50 to 1000000",
        ),
        (
            "retention_blocks",
            json!(0),
            "retention_blocks must be 50 to 1000000",
        ),
    ] {
        let mut bad = config.clone();
        bad[field] = value;
        assert_fails(
            &world.call(OWNER, "update_config", json!({"config": bad}), 0),
            error,
        );
    }

    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    for node in &world.commit_all(0, ANSWER)[..3] {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    // Lengthening the retention afterwards does not hold back a request that already finished.
    config["retention_blocks"] = json!(1_000_000);
    config["unbonding_blocks"] = json!(2_000_000);
    assert_success(&world.call(OWNER, "update_config", json!({"config": config}), 0));
    world.chain.advance_blocks(RETENTION_BLOCKS + 1);
    assert_success(&world.call(ALICE, "cleanup_request", json!({"request_id": 0}), 0));

    // Nodes unregistering now wait the new unbonding delay, without overflow.
    let height_before = world.chain.block_height();
    let unregistered = world.call(&node_name(0), "unregister_node", json!({}), 0);
    let unlocks_at = unregistered.json::<u64>();
    assert!(
        (height_before + 2_000_000..=world.chain.block_height() + 2_000_000).contains(&unlocks_at),
        "{unlocks_at}"
    );
}

/// Alice calls the oracle's `request` herself with `args`; returns the transaction once the
/// request exists.
fn request_directly(world: &mut World, args: Value, deposit: u128) -> CryptoHash {
    let action = Action::FunctionCall {
        method_name: "request".into(),
        args: args.to_string().into_bytes(),
        deposit,
        gas: GAS,
    };
    let tx = world.chain.submit(ALICE, ORACLE, vec![action]).unwrap();
    world.chain.advance_blocks(3);
    tx
}

/// Resolves `request_id` with a quorum and waits out its retention.
fn resolve_and_retire(world: &mut World, request_id: u64) {
    for node in &world.commit_all(request_id, ANSWER)[..3] {
        assert_success(&world.attest(*node, request_id, ANSWER));
    }
    world.chain.advance_blocks(3 + RETENTION_BLOCKS);
}

#[test]
fn cleanup_returns_the_storage_deposit_to_the_account_the_request_names() {
    let mut world = setup();
    const CAROL: &str = "carol.test";
    world.chain.create_account(CAROL, ONE_NEAR).unwrap();
    let input = "What is the capital of France?";
    let estimate_for = |world: &World, refund_to: Option<&str>| {
        let mut args =
            json!({"model_id": model_id(), "params": params(32), "input_bytes": input.len()});
        if let Some(account) = refund_to {
            args["storage_refund_to"] = json!(account);
        }
        world.view(ORACLE, "estimate_fee", args)
    };
    // Naming an account costs its bytes (length prefix + text), paid by the caller.
    let plain = estimate_for(&world, None);
    let named = estimate_for(&world, Some(CAROL));
    let extra_bytes =
        named["storage_bytes"].as_u64().unwrap() - plain["storage_bytes"].as_u64().unwrap();
    assert_eq!(extra_bytes, 4 + CAROL.len() as u64);
    let deposit = yocto(&named["total"]);
    let args = json!({"model_id": model_id(), "input": input, "params": params(32),
        "storage_refund_to": CAROL});
    assert_fails(
        &world.call(ALICE, "request", args.clone(), deposit - 1),
        &format!("attach at least {deposit} yoctoNEAR"),
    );

    let oracle_storage_before = world.chain.account(ORACLE).unwrap().storage_usage;
    let tx = request_directly(&mut world, args, deposit);
    let created = events(&world.chain.tx_result(&tx), "request_created");
    assert_eq!(created[0]["requester"], ALICE);
    assert_eq!(created[0]["storage_refund_to"], CAROL);
    let view: RequestView = serde_json::from_value(world.request(0)).unwrap();
    assert_eq!(
        (view.requester.as_str(), view.storage_refund_to.as_str()),
        (ALICE, CAROL)
    );
    resolve_and_retire(&mut world, 0);
    let used = world.chain.account(ORACLE).unwrap().storage_usage - oracle_storage_before;
    let reserved = named["storage_bytes"].as_u64().unwrap();
    assert!(used <= reserved, "used {used} bytes, reserved {reserved}");
    println!("storage with a storage refund account: used {used} of {reserved}");

    // A third party cleans up: Carol receives exactly the storage deposit and the fee share the
    // member that never revealed left, Alice nothing.
    let (alice_before, carol_before) = (world.chain.balance(ALICE), world.chain.balance(CAROL));
    let cleaned = world.call(RELAYER, "cleanup_request", json!({"request_id": 0}), 0);
    assert_success(&cleaned);
    let released = yocto(&cleaned.json::<Value>());
    assert_eq!(released, yocto(&named["storage"]) + SEAT_SHARE);
    assert_eq!(world.chain.balance(CAROL) - carol_before, released);
    assert_eq!(world.chain.balance(ALICE), alice_before);
    let cleaned_up = events(&cleaned, "request_cleaned_up");
    assert_eq!(cleaned_up[0]["refunded_to"], CAROL);

    // Without the argument (the JSON of callers written before it existed), the requester is
    // refunded.
    let args = json!({"model_id": model_id(), "input": input, "params": params(32)});
    let tx = request_directly(&mut world, args, yocto(&plain["total"]));
    let created = events(&world.chain.tx_result(&tx), "request_created");
    assert_eq!(created[0]["storage_refund_to"], ALICE);
    assert_eq!(world.request(1)["storage_refund_to"], ALICE);
    resolve_and_retire(&mut world, 1);
    let (alice_before, carol_before) = (world.chain.balance(ALICE), world.chain.balance(CAROL));
    let cleaned = world.call(RELAYER, "cleanup_request", json!({"request_id": 1}), 0);
    let returned = yocto(&plain["storage"]) + SEAT_SHARE;
    assert_eq!(yocto(&cleaned.json::<Value>()), returned);
    assert_eq!(world.chain.balance(ALICE) - alice_before, returned);
    assert_eq!(world.chain.balance(CAROL), carol_before);

    // An invalid account id is refused before anything is stored, with the reason.
    let bad = json!({"model_id": model_id(), "input": input, "params": params(32),
        "storage_refund_to": "Not An Account!"});
    let refused = world.call(ALICE, "request", bad, deposit);
    assert_fails(&refused, "Failed to deserialize input from JSON");
    assert_fails(&refused, "the Account ID contains an invalid character");
    assert_eq!(world.request(2), Value::Null);
}

#[test]
fn the_named_refund_account_gets_the_excess_at_once_and_the_storage_at_cleanup() {
    let mut world = setup();
    const CAROL: &str = "carol.test";
    world.chain.create_account(CAROL, ONE_NEAR).unwrap();
    let input = "What is the capital of France?";
    let estimate = world.view(
        ORACLE,
        "estimate_fee",
        json!({"model_id": model_id(), "params": params(32), "input_bytes": input.len(),
            "storage_refund_to": CAROL}),
    );
    let quote = yocto(&estimate["total"]);
    let args = json!({"model_id": model_id(), "input": input, "params": params(32),
        "storage_refund_to": CAROL});
    let (alice_before, carol_before) = (world.chain.balance(ALICE), world.chain.balance(CAROL));
    request_directly(&mut world, args, quote + ONE_NEAR);
    // Carol, who is named, got the excess; Alice, the caller, got none of it back.
    assert_eq!(world.chain.balance(CAROL) - carol_before, ONE_NEAR);
    assert!(alice_before - world.chain.balance(ALICE) >= quote + ONE_NEAR);

    resolve_and_retire(&mut world, 0);
    let (alice_before, carol_before) = (world.chain.balance(ALICE), world.chain.balance(CAROL));
    let cleaned = world.call(RELAYER, "cleanup_request", json!({"request_id": 0}), 0);
    let returned = yocto(&estimate["storage"]) + SEAT_SHARE;
    assert_eq!(yocto(&cleaned.json::<Value>()), returned);
    assert_eq!(world.chain.balance(CAROL) - carol_before, returned);
    assert_eq!(world.chain.balance(ALICE), alice_before);
}

#[test]
fn nodes_stake_unbond_and_withdraw() {
    let mut world = setup();
    let key = SecretKey::from_seed([50; 32]);
    world
        .chain
        .create_account("late.test", 100 * ONE_NEAR)
        .unwrap();
    let args = json!({"attestation_key": key.public_key().to_string(), "models": [model_id()]});
    let low = world
        .chain
        .call(
            "late.test",
            ORACLE,
            "register_node",
            args.to_string(),
            MIN_STAKE,
            GAS,
        )
        .unwrap();
    assert_fails(&low, "the minimum stake");
    let key_0 = world.keys[0].clone();
    let again = world.register_node(0, &key_0, NODE_DEPOSIT);
    assert_fails(&again, "node0.test is already registered");
    assert_fails(
        &world.call(&node_name(0), "withdraw_stake", json!({}), 0),
        "call unregister_node first",
    );

    let unregistered = world.call(&node_name(0), "unregister_node", json!({}), 0);
    let unlocks_at = unregistered.json::<u64>();
    assert_eq!(events(&unregistered, "node_unbonding").len(), 1);
    // An unbonding node is no longer chosen.
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    assert!(!world.committee(0).contains(&0));
    assert_fails(
        &world.call(&node_name(0), "withdraw_stake", json!({}), 0),
        &format!("stake unlocks at block {unlocks_at}"),
    );
    world
        .chain
        .advance_blocks(unlocks_at - world.chain.block_height());
    let before = world.chain.balance(&node_name(0));
    let withdrawn = world.call(&node_name(0), "withdraw_stake", json!({}), 0);
    let amount = yocto(&withdrawn.json::<Value>());
    assert_eq!(amount, NODE_DEPOSIT);
    let most_gas = u128::from(GAS) * wasm_host::chain::GAS_PRICE;
    assert!(world.chain.balance(&node_name(0)) + most_gas - before >= amount);
    assert_eq!(
        world.view(ORACLE, "get_node", json!({"account_id": node_name(0)})),
        Value::Null
    );

    // With two active nodes left, no committee can reach the quorum of three.
    world.call(&node_name(1), "unregister_node", json!({}), 0);
    world.call(&node_name(2), "unregister_node", json!({}), 0);
    let refused = world.call(
        ALICE,
        "request",
        json!({"model_id": model_id(), "input": "q", "params": params(1)}),
        deposit,
    );
    assert_fails(&refused, "only 2 active nodes serve model");
}

impl World {
    /// Node `node` unregisters; returns the block its stake unlocks at, as the call returns it,
    /// after checking that `get_node` and the `node_unbonding` event say the same.
    fn unregister(&mut self, node: usize) -> u64 {
        let unregistered = self.call(&node_name(node), "unregister_node", json!({}), 0);
        let unlocks_at = unregistered.json::<u64>();
        assert_eq!(
            events(&unregistered, "node_unbonding"),
            vec![json!({"node": node_name(node), "unlocks_at": unlocks_at})]
        );
        assert_eq!(self.unlocks_at(node), unlocks_at);
        unlocks_at
    }

    /// The block unbonding node `node` may withdraw from, as `get_node` shows it.
    fn unlocks_at(&self, node: usize) -> u64 {
        node_entry(self, node)["status"]["unbonding"]["unlocks_at"]
            .as_u64()
            .unwrap()
    }

    /// Node `node` withdraws its stake.
    fn withdraw(&mut self, node: usize) -> TxResult {
        self.call(&node_name(node), "withdraw_stake", json!({}), 0)
    }

    /// Lets the blocks pass until a call sent now runs at block `height` (a call runs two
    /// blocks after it is sent).
    fn advance_to_call_at(&mut self, height: u64) {
        let now = self.chain.block_height();
        self.chain.advance_blocks((height - 2).saturating_sub(now));
    }
}

/// Cleans up resolved `request_id` at its `cleanable_at` and checks that it slashes `guesser`,
/// which committed and never revealed.
fn clean_up_slashing(world: &mut World, request_id: u64, cleanable_at: u64, guesser: usize) {
    world.advance_to_call_at(cleanable_at);
    let cleaned = world.call(
        RELAYER,
        "cleanup_request",
        json!({"request_id": request_id}),
        0,
    );
    assert_success(&cleaned);
    let slashed = events(&cleaned, "node_slashed");
    assert_eq!(slashed.len(), 1, "{slashed:?}");
    assert_eq!(
        (&slashed[0]["node"], &slashed[0]["reason"]),
        (
            &json!(node_name(guesser)),
            &json!("committed_without_reveal")
        )
    );
}

/// The block resolved `request_id` can be cleaned up from (its answer delivered).
fn cleanable_at(world: &World, request_id: u64) -> u64 {
    world.request(request_id)["cleanable_at"].as_u64().unwrap()
}

/// `CLEANUP_MARGIN_BLOCKS`: between the latest a request a node was on becomes cleanable and
/// the earliest the node may withdraw.
const CLEANUP_MARGIN_BLOCKS: u64 = 100;
/// `YIELD_TIMEOUT_BLOCKS`.
const YIELD_TIMEOUT_BLOCKS: u64 = 200;

#[test]
fn a_lowered_retention_holds_stakes_until_older_requests_can_be_cleaned_up() {
    let mut world = setup();
    world.update_config(json!({"retention_blocks": 1000, "unbonding_blocks": 1400}));
    // A guesser commits with the others, sees the quorum resolve on an answer its guess does
    // not match, and keeps its attestation to itself: the cleanup is to slash it, 1000 blocks
    // after the delivery.
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let guesser = resolve_by_three_of_four(&mut world, 0)[3];
    world.chain.advance_blocks(3);
    let cleanable_at = cleanable_at(&world, 0);
    // The owner shortens the retention and the unbonding, then the guesser unregisters: under
    // the new settings alone it would unlock 400 blocks on, long before that cleanup.
    let lowered = world.update_config(json!({
        "retention_blocks": RETENTION_BLOCKS, "unbonding_blocks": UNBONDING_BLOCKS,
    }));
    let changed_at = lowered.receipts[0].block_height;
    let unregistered_at = world.chain.block_height() + 2;
    let unlocks_at = world.unregister(guesser);
    world.advance_to_call_at(unregistered_at + UNBONDING_BLOCKS);
    assert_fails(
        &world.withdraw(guesser),
        &format!("stake unlocks at block {unlocks_at}; now is block"),
    );
    // Held until every request made before the change can be cleaned up under the retention
    // it had, and the cleanup has had its margin.
    assert_eq!(
        unlocks_at,
        changed_at + YIELD_TIMEOUT_BLOCKS + 1000 + CLEANUP_MARGIN_BLOCKS
    );
    assert!(unlocks_at >= cleanable_at + CLEANUP_MARGIN_BLOCKS);
    let stake = world.stake(guesser);
    clean_up_slashing(&mut world, 0, cleanable_at, guesser);
    assert!(world.stake(guesser) < stake);
    world.advance_to_call_at(unlocks_at);
    let withdrawn = world.withdraw(guesser);
    assert_success(&withdrawn);
    assert!(yocto(&withdrawn.json::<Value>()) < NODE_DEPOSIT);
}

/// A change of `retention_blocks` holds only the stakes it can concern: not one that unlocked
/// before it (every request of that node finished and got its cleanup block before the change),
/// nor one of a node registered after it (its requests are all made under the new value) —
/// a mistyped retention, corrected at once, would otherwise hold every exit for days.
#[test]
fn a_retention_change_holds_no_stake_it_cannot_concern() {
    let mut world = setup();
    let unlocked_before = world.unregister(0);
    world.advance_to_call_at(unlocked_before + 5);
    world.update_config(json!({"retention_blocks": 1_000_000, "unbonding_blocks": 1_000_301}));
    world.update_config(json!({
        "retention_blocks": RETENTION_BLOCKS, "unbonding_blocks": UNBONDING_BLOCKS,
    }));
    assert_success(&world.withdraw(0));
    // Registered after the change: unbonds as the settings say, held by nothing before it.
    world.add_node();
    let newcomer = world.keys.len() - 1;
    let unregistered_at = world.chain.block_height() + 2;
    let unlocks_at = world.unregister(newcomer);
    assert_eq!(unlocks_at, unregistered_at + UNBONDING_BLOCKS);
    world.advance_to_call_at(unlocks_at);
    assert_success(&world.withdraw(newcomer));
    // A node registered before the change and unbonding after it is held.
    let unregistered_at = world.chain.block_height() + 2;
    let held = world.unregister(1);
    assert!(held > unregistered_at + UNBONDING_BLOCKS, "{held}");
}

#[test]
fn a_raised_retention_holds_the_stakes_of_nodes_that_unregistered_before() {
    let mut world = setup();
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    // The guesser commits with the others and unregisters before the request resolves: it
    // unlocks after the unbonding delay of the retention of that moment.
    let committee = world.commit_all(0, ANSWER);
    let guesser = committee[3];
    let unregistered_at = world.chain.block_height() + 2;
    let unlocks_at = world.unregister(guesser);
    assert_eq!(unlocks_at, unregistered_at + UNBONDING_BLOCKS);
    // The owner lengthens the retention (and the unbonding of nodes unregistering from now
    // on); the request resolves after, so it is cleanable 1000 blocks after its delivery.
    let raised = world.update_config(json!({"retention_blocks": 1000, "unbonding_blocks": 1400}));
    let changed_at = raised.receipts[0].block_height;
    for node in &committee[..3] {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    world.chain.advance_blocks(3);
    let cleanable_at = cleanable_at(&world, 0);
    assert!(cleanable_at > unlocks_at);
    // The guesser's stake is held until that cleanup can land, and `get_node` says until when.
    let held_until = changed_at + YIELD_TIMEOUT_BLOCKS + 1000 + CLEANUP_MARGIN_BLOCKS;
    world.advance_to_call_at(unlocks_at);
    assert_fails(
        &world.withdraw(guesser),
        &format!(
            "stake unlocks at block {held_until} (retention_blocks changed: stakes are held \
             until the requests made before can be cleaned up)"
        ),
    );
    assert_eq!(world.unlocks_at(guesser), held_until);
    assert!(held_until >= cleanable_at + CLEANUP_MARGIN_BLOCKS);
    clean_up_slashing(&mut world, 0, cleanable_at, guesser);
    world.advance_to_call_at(held_until);
    let withdrawn = world.withdraw(guesser);
    assert_success(&withdrawn);
    assert!(yocto(&withdrawn.json::<Value>()) < NODE_DEPOSIT);
}

/// Registers `count` new nodes named `{prefix}{i}.test` serving `models`, each with its own key.
/// The attestation key of `register_many`'s `i`-th node named with `prefix`.
fn many_key(prefix: &str, i: usize) -> SecretKey {
    SecretKey::from_seed(sha256(format!("{prefix}{i}").as_bytes()).0)
}

fn register_many(world: &mut World, prefix: &str, count: usize, models: Value) -> Vec<TxResult> {
    (0..count)
        .map(|i| {
            let account = format!("{prefix}{i}.test");
            world.chain.create_account(&account, 20 * ONE_NEAR).unwrap();
            let key = many_key(prefix, i);
            let args = json!({"attestation_key": key.public_key().to_string(), "models": models});
            world
                .chain
                .call(
                    &account,
                    ORACLE,
                    "register_node",
                    args.to_string(),
                    NODE_DEPOSIT,
                    GAS,
                )
                .unwrap()
        })
        .collect()
}

#[test]
fn a_node_pays_at_registration_for_the_bytes_its_record_takes_when_jailed_or_unbonding() {
    let mut world = setup();
    let storage = |world: &World| world.chain.account(ORACLE).unwrap().storage_usage;
    let before = storage(&world);
    assert_success(&register_many(&mut world, "p", 1, json!([model_id()]))[0]);
    let taken = storage(&world) - before;
    // The stake is the deposit less the record's storage: the bytes it takes now, the 8 its
    // status grows by once jailed (it keeps its seat) or unbonding, and the model's list
    // entry it joined (77 bytes: `a_model_list_is_paid_by_every_node_listed_on_it`).
    let paid = paid_storage_bytes(&world, "p0.test");
    assert_eq!(paid, taken + 8 + 77);
}

/// Bytes of storage `node` paid for at registration: its deposit less its stake.
fn paid_storage_bytes(world: &World, node: &str) -> u64 {
    let stake = yocto(&world.view(ORACLE, "get_node", json!({"account_id": node}))["stake"]);
    let bytes = (NODE_DEPOSIT - stake) / world.chain.fees().storage_amount_per_byte();
    u64::try_from(bytes).unwrap()
}

#[test]
fn a_model_list_is_paid_by_every_node_listed_on_it() {
    let mut world = setup();
    let storage = |world: &World| world.chain.account(ORACLE).unwrap().storage_usage;
    let other = sha256(b"another model");
    let model = json!({"model": {
        "model_id": other, "name": "another model", "spec_version": "detspec-1",
        "max_input_bytes": 64, "max_output_tokens": 16, "price": "1",
    }});
    assert_success(&world.call(OWNER, "register_model", model, ONE_NEAR));
    let before = storage(&world);
    // The first node creates the model's list; the second joins it. Both pay the same.
    for result in register_many(&mut world, "q", 2, json!([other])) {
        assert_success(&result);
    }
    let (first, second) = (
        paid_storage_bytes(&world, "q0.test"),
        paid_storage_bytes(&world, "q1.test"),
    );
    assert_eq!(first, second);
    // The creator leaves; the list stays, and the one still listed paid for all it takes.
    assert_success(&world.call("q0.test", "unregister_node", json!({}), 0));
    world.chain.advance_blocks(UNBONDING_BLOCKS + 5);
    assert_success(&world.call("q0.test", "withdraw_stake", json!({}), 0));
    let taken = storage(&world) - before;
    assert!(
        taken <= second,
        "the oracle holds {taken} bytes for q1, which paid {second}"
    );
}

/// Gas the oracle's `request` receipt burnt in the dApp's `ask` transaction `tx`.
fn request_receipt_gas(world: &World, tx: &CryptoHash) -> u64 {
    world
        .chain
        .tx_result(tx)
        .receipts
        .iter()
        .find(|o| o.executor_id.as_str() == ORACLE)
        .unwrap()
        .gas_burnt
}

/// Gas the oracle's `draw_committee` receipt burnt for the request of transaction `tx`.
fn draw_receipt_gas(world: &World, tx: &CryptoHash) -> u64 {
    world
        .chain
        .tx_result(tx)
        .receipts
        .iter()
        .find(|o| o.logs.iter().any(|l| l.contains("\"committee_drawn\"")))
        .expect("the committee's draw")
        .gas_burnt
}

#[test]
fn the_draw_fits_its_gas_on_a_full_list_of_the_longest_account_ids() {
    let mut world = setup();
    for node in 0..NODES {
        assert_success(&world.call(&node_name(node), "unregister_node", json!({}), 0));
    }
    // 63- and 64-character ids (`….test` included), the most the model's list holds.
    let prefix = "a-node-operator-with-a-long-account-name-on-the-devnet-xy";
    let registered = register_many(
        &mut world,
        prefix,
        MAX_ACTIVE_NODES_PER_MODEL,
        json!([model_id()]),
    );
    for result in registered {
        assert_success(&result);
    }
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let committee = world.request(0)["committee"].clone();
    assert_eq!(committee.as_array().unwrap().len(), 4);
    assert!(committee[0].as_str().unwrap().len() >= 63, "{committee}");
    let (request, draw) = (
        request_receipt_gas(&world, &ask),
        draw_receipt_gas(&world, &ask),
    );
    println!("gas: request with a full list of 64-character ids {request}, its draw {draw}");
    // `DRAW_GAS` is 25 TGas; the request's own receipt no longer reads the whole list.
    assert!(draw < 17 * TGAS, "{draw}");
    assert!(request < 6 * TGAS, "{request}");
}

#[test]
fn committee_selection_reads_only_the_models_active_nodes() {
    let mut world = setup();
    // 400 nodes serve four other models (a full 100 each): enough to exhaust the request's gas
    // when selection read every registered node.
    for name in ["b", "c", "d", "e"] {
        let other_model = sha256(name.as_bytes());
        let model = json!({"model": {
            "model_id": other_model, "name": name, "spec_version": "detspec-1",
            "max_input_bytes": 64, "max_output_tokens": 16, "price": "1",
        }});
        assert_success(&world.call(OWNER, "register_model", model, ONE_NEAR));
        let nodes = register_many(
            &mut world,
            name,
            MAX_ACTIVE_NODES_PER_MODEL,
            json!([other_model]),
        );
        for result in nodes {
            assert_success(&result);
        }
    }
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    assert_eq!(
        events(&world.chain.tx_result(&ask), "request_created").len(),
        1,
        "the dApp's REQUEST_GAS must suffice: {:?}",
        world.chain.tx_result(&ask).status
    );
    assert_eq!(world.committee(0).len(), 4);
    println!(
        "gas: request with 5 nodes for the model and 400 for other models {}, its draw {}",
        request_receipt_gas(&world, &ask),
        draw_receipt_gas(&world, &ask)
    );

    let twice = register_many(&mut world, "w", 1, json!([model_id(), model_id()]));
    assert_fails(&twice[0], &format!("model {} is listed twice", model_id()));

    // A model's active nodes are capped, so its own nodes cannot exhaust a request's gas either.
    let room = MAX_ACTIVE_NODES_PER_MODEL - NODES;
    for result in register_many(&mut world, "a", room, json!([model_id()])) {
        assert_success(&result);
    }
    let full = register_many(&mut world, "z", 1, json!([model_id()]));
    assert_fails(
        &full[0],
        &format!(
            "model {} already has {MAX_ACTIVE_NODES_PER_MODEL} active nodes",
            model_id()
        ),
    );
    let ask = world.ask("q", deposit);
    assert_eq!(
        events(&world.chain.tx_result(&ask), "request_created").len(),
        1,
        "{:?}",
        world.chain.tx_result(&ask).status
    );
    let draw = draw_receipt_gas(&world, &ask);
    println!(
        "gas: request with {MAX_ACTIVE_NODES_PER_MODEL} nodes for the model and 400 for other models {}, its draw {draw}",
        request_receipt_gas(&world, &ask)
    );
    // The draw's 25 TGas (`DRAW_GAS`) cover the largest list with room to spare.
    assert!(draw < 15 * TGAS, "{draw}");
    // A node that leaves frees its seat at once.
    assert_success(&world.call(&node_name(0), "unregister_node", json!({}), 0));
    assert_success(&register_many(&mut world, "y", 1, json!([model_id()]))[0]);

    // A jailed node keeps its seat until a new node needs it; unjailing then needs a free seat.
    // (Request 1 times out first, counted under the default of 10 misses.)
    world.chain.advance_blocks(200);
    assert_eq!(world.request(1)["status"], "timed_out");
    set_liveness(&mut world, 1, 1);
    world.ask("q", deposit);
    let committee: Vec<String> =
        serde_json::from_value(world.request(2)["committee"].clone()).unwrap();
    // Three members commit and reveal three different answers; the fourth stays silent.
    let outputs = ["Paris", "Lyon", "Nice"];
    let signatures: Vec<Signature64> = committee[..3]
        .iter()
        .zip(outputs)
        .map(|(account, output)| commit_signed_as(&mut world, account, 2, output))
        .collect();
    world.open_reveal(2);
    for ((account, output), signature) in committee[..3].iter().zip(outputs).zip(&signatures) {
        let args = json!({
            "request_id": 2, "output": output,
            "result_digest": digest_of(output), "signature": signature,
        });
        assert_success(&world.call(account, "submit_attestation", args, 0));
    }
    world.chain.advance_blocks(200);
    assert_eq!(world.request(2)["status"], "timed_out");
    let jailed = &committee[3];
    let newcomers = register_many(&mut world, "x", 2, json!([model_id()]));
    assert_success(&newcomers[0]);
    println!(
        "gas: register_node dropping a jailed node from a full list of {MAX_ACTIVE_NODES_PER_MODEL} {}",
        newcomers[0].total_gas_burnt()
    );
    // The newcomer paid for its whole seat: the bytes the jailed node freed are not taken off
    // its bill (y0, registered with a free seat, has a name as long).
    let stake_of = |world: &World, account: &str| {
        yocto(&world.view(ORACLE, "get_node", json!({"account_id": account}))["stake"])
    };
    assert_eq!(stake_of(&world, "x0.test"), stake_of(&world, "y0.test"));
    assert_fails(
        &newcomers[1],
        &format!(
            "model {} already has {MAX_ACTIVE_NODES_PER_MODEL} active nodes",
            model_id()
        ),
    );
    let unjail = world.call(jailed, "unjail_node", json!({}), 0);
    assert_fails(
        &unjail,
        "a seat frees when one of them unregisters or is jailed",
    );
    // Once a seat frees, it unjails into it, listed once: the list is full again.
    assert_success(&world.call("x0.test", "unregister_node", json!({}), 0));
    assert_success(&world.call(jailed, "unjail_node", json!({}), 0));
    assert_fails(
        &register_many(&mut world, "v", 1, json!([model_id()]))[0],
        "already has 100 active nodes",
    );

    // The owner raises min_stake above y0's stake: the nodes under it can no longer be chosen,
    // and a newcomer holding the new minimum takes the seat of one of them, which is jailed for
    // its stake (as a slash below the minimum is): topped up, it unjails into a free seat.
    let raised = stake_of(&world, "y0.test") + 1;
    world.update_config(json!({"min_stake": raised.to_string()}));
    world
        .chain
        .create_account("rich.test", 40 * ONE_NEAR)
        .unwrap();
    let args = json!({"attestation_key": many_key("rich", 0).public_key().to_string(),
        "models": [model_id()]});
    let rich = world
        .chain
        .call(
            "rich.test",
            ORACLE,
            "register_node",
            args.to_string(),
            2 * NODE_DEPOSIT,
            GAS,
        )
        .unwrap();
    assert_success(&rich);
    println!(
        "gas: register_node jailing an under-staked node of a full list {}",
        rich.total_gas_burnt()
    );
    let jailed_for_stake = events(&rich, "node_jailed");
    assert_eq!(jailed_for_stake.len(), 1, "{jailed_for_stake:?}");
    assert_eq!(jailed_for_stake[0]["reason"], "stake_below_minimum");
    let gave_way = jailed_for_stake[0]["node"].as_str().unwrap().to_string();
    let status = |world: &World, account: &str| {
        world.view(ORACLE, "get_node", json!({"account_id": account}))["status"].clone()
    };
    assert_eq!(status(&world, "rich.test"), "active");
    assert_ne!(status(&world, &gave_way), "active");
    // Topped up, it unjails into the seat of the next under-staked node.
    assert_success(&world.call(&gave_way, "add_stake", json!({}), 2 * ONE_NEAR));
    let unjailed = world.call(&gave_way, "unjail_node", json!({}), 0);
    assert_success(&unjailed);
    assert_eq!(status(&world, &gave_way), "active");
    let next = events(&unjailed, "node_jailed");
    assert_eq!(next.len(), 1, "{next:?}");
    assert_ne!(next[0]["node"], gave_way.as_str());
}

#[test]
fn admin_methods_are_owner_only_and_validated() {
    let mut world = setup();
    let model = json!({"model": {
        "model_id": sha256(b"m2"), "name": "m2", "spec_version": "detspec-1",
        "max_input_bytes": 10, "max_output_tokens": 10, "price": "1",
    }});
    assert_fails(
        &world.call(ALICE, "register_model", model, ONE_NEAR),
        "only the owner (owner.test) can register models",
    );
    let mut config = world.view(ORACLE, "get_config", json!({}));
    config["quorum"] = json!(2);
    assert_fails(
        &world.call(OWNER, "update_config", json!({"config": config}), 0),
        "quorum must be more than half of committee_size",
    );
    config["quorum"] = json!(4);
    assert_success(&world.call(OWNER, "update_config", json!({"config": config}), 0));
    assert_eq!(world.view(ORACLE, "get_config", json!({}))["quorum"], 4);
    assert_fails(
        &world.call(
            OWNER,
            "withdraw_treasury",
            json!({"receiver_id": OWNER, "amount": "1"}),
            0,
        ),
        "the treasury holds 0 yoctoNEAR",
    );
    assert_fails(
        &world.call(ALICE, "set_owner", json!({"new_owner": ALICE}), 0),
        "only the owner",
    );
    let removed = world.call(OWNER, "remove_model", json!({"model_id": model_id()}), 0);
    assert_eq!(events(&removed, "model_removed").len(), 1);
    assert_eq!(
        world.view(ORACLE, "get_model", json!({"model_id": model_id()})),
        Value::Null
    );
}

#[test]
fn an_upgrade_redeploys_and_migrates_keeping_the_state() {
    let mut world = setup();
    let info_before = world.view(ORACLE, "get_info", json!({}));
    let code = wasm("oracle_contract");
    let refused = world
        .chain
        .call(ALICE, ORACLE, "upgrade", code.clone(), 0, 200 * TGAS)
        .unwrap();
    assert_fails(
        &refused,
        "only the owner (owner.test) can upgrade the contract",
    );
    let upgraded = world
        .chain
        .call(OWNER, ORACLE, "upgrade", code, 0, 200 * TGAS)
        .unwrap();
    assert_success(&upgraded);
    let migrated = events(&upgraded, "state_migrated");
    assert_eq!(migrated, vec![json!({"from": 4, "to": 4, "raised": []})]);
    assert_eq!(world.view(ORACLE, "get_info", json!({})), info_before);
    assert_eq!(info_before["state_version"], 4);
    assert_fails(
        &world.call(ALICE, "migrate", json!({}), 0),
        "Method migrate is private",
    );
}

/// A contract that stores its call's raw arguments as the contract state (`STATE`), or
/// removes the storage key its arguments name: it stands in for the oracle's old code writing
/// a state of an old layout.
const STATE_WRITER: &str = r#"(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i64)))
  (import "env" "storage_write" (func $storage_write (param i64 i64 i64 i64 i64) (result i64)))
  (import "env" "storage_remove" (func $storage_remove (param i64 i64 i64) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "STATE")
  (func (export "write_state")
    (call $input (i64.const 0))
    (call $read_register (i64.const 0) (i64.const 64))
    (drop (call $storage_write (i64.const 5) (i64.const 0)
      (call $register_len (i64.const 0)) (i64.const 64) (i64.const 1))))
  (func (export "write_key")
    ;; input: the key's length (u32 LE), the key, the value
    (call $input (i64.const 0))
    (call $read_register (i64.const 0) (i64.const 64))
    (drop (call $storage_write
      (i64.extend_i32_u (i32.load (i32.const 64))) (i64.const 68)
      (i64.sub (i64.sub (call $register_len (i64.const 0)) (i64.const 4))
        (i64.extend_i32_u (i32.load (i32.const 64))))
      (i64.add (i64.const 68) (i64.extend_i32_u (i32.load (i32.const 64))))
      (i64.const 1))))
  (func (export "remove_key")
    (call $input (i64.const 0))
    (call $read_register (i64.const 0) (i64.const 64))
    (drop (call $storage_remove (call $register_len (i64.const 0)) (i64.const 64)
      (i64.const 1)))))"#;

impl World {
    /// The oracle's stored state (`STATE`).
    fn oracle_state(&self) -> Vec<u8> {
        self.chain.storage_value(ORACLE, b"STATE").unwrap().to_vec()
    }

    /// Deploys the state writer over the oracle and stores `state` as the oracle's state, as
    /// the code of an older layout left it.
    fn write_old_state(&mut self, state: Vec<u8>) {
        let writer = wat::parse_str(STATE_WRITER).unwrap();
        assert_success(&self.chain.deploy(ORACLE, writer).unwrap());
        assert_success(
            &self
                .chain
                .call(ORACLE, ORACLE, "write_state", state, 0, GAS)
                .unwrap(),
        );
    }

    /// Deploys today's oracle code and calls its `migrate` (as `upgrade` does); returns the
    /// call and the oracle's storage usage before it.
    fn migrate_to_today(&mut self) -> (TxResult, u64) {
        assert_success(&self.chain.deploy(ORACLE, wasm("oracle_contract")).unwrap());
        let storage_before = self.chain.account(ORACLE).unwrap().storage_usage;
        (self.call(ORACLE, "migrate", json!({}), 0), storage_before)
    }

    /// Checks that `get_info` reads layout version 4 and otherwise equals `before`.
    fn assert_info_at_version_4(&self, before: &Value) {
        let mut info = self.view(ORACLE, "get_info", json!({}));
        assert_eq!(info["state_version"], 4);
        info["state_version"] = before["state_version"].clone();
        assert_eq!(&info, before);
    }

    /// Overwrites the oracle's storage key `key` with `value`, as older code could have left
    /// it, and puts today's oracle code back.
    fn write_oracle_key(&mut self, key: &[u8], value: &[u8]) {
        let writer = wat::parse_str(STATE_WRITER).unwrap();
        assert_success(&self.chain.deploy(ORACLE, writer).unwrap());
        let mut input = (key.len() as u32).to_le_bytes().to_vec();
        input.extend_from_slice(key);
        input.extend_from_slice(value);
        assert_success(
            &self
                .chain
                .call(ORACLE, ORACLE, "write_key", input, 0, GAS)
                .unwrap(),
        );
        assert_success(&self.chain.deploy(ORACLE, wasm("oracle_contract")).unwrap());
    }

    /// Removes the oracle's storage key `key` (the state writer must be deployed).
    fn remove_oracle_key(&mut self, key: Vec<u8>) {
        assert_success(
            &self
                .chain
                .call(ORACLE, ORACLE, "remove_key", key, 0, GAS)
                .unwrap(),
        );
    }
}

/// The storage key of request `request_id`'s commit phase: the `commit_phases` prefix (tag 7)
/// and the id.
fn commit_phase_key(request_id: u64) -> Vec<u8> {
    let mut key = vec![7];
    key.extend_from_slice(&request_id.to_le_bytes());
    key
}

/// The storage key of `node`'s missed-commit count: the `missed_commits` prefix (tag 8) and
/// the borsh account id.
fn missed_commits_key(node: &str) -> Vec<u8> {
    let mut key = vec![8];
    key.extend_from_slice(&(node.len() as u32).to_le_bytes());
    key.extend_from_slice(node.as_bytes());
    key
}

/// The storage key of request `request_id`'s held fee: the `held_fees` prefix (tag 10) and the
/// id.
fn held_fee_key(request_id: u64) -> Vec<u8> {
    let mut key = vec![10];
    key.extend_from_slice(&request_id.to_le_bytes());
    key
}

/// `state` (layout version 4) as layout version 3 stored it: no `unlock_floor` (three u64s) at
/// the end.
fn as_layout_v3(state: &[u8]) -> Vec<u8> {
    let mut v3 = state.to_vec();
    v3[..4].copy_from_slice(&3u32.to_le_bytes());
    v3.truncate(v3.len() - 24);
    v3
}

/// `state` (layout version 4) as layout version 2 stored it: version 3's without
/// `max_missed_commits` and `jail_blocks` at the end of the settings, and without the
/// `missed_commits`, `model_pricing` and `held_fees` maps before the two counters that end the
/// state.
fn as_layout_v2(state: &[u8]) -> Vec<u8> {
    let mut v2 = as_layout_v3(state);
    v2[..4].copy_from_slice(&2u32.to_le_bytes());
    let owner_len = u32::from_le_bytes(v2[4..8].try_into().unwrap()) as usize;
    let config = 8 + owner_len;
    // The settings are 76 bytes; the liveness settings are the last 12.
    v2.drain(config + 64..config + 76);
    // `missed_commits`, `model_pricing` and `held_fees` (prefix tags 8 to 10) come before
    // `next_request_id` (u64) and `treasury` (u128).
    let end = v2.len() - 24;
    assert_eq!(
        &v2[end - 15..end],
        [1, 0, 0, 0, 8, 1, 0, 0, 0, 9, 1, 0, 0, 0, 10]
    );
    v2.drain(end - 15..end);
    v2
}

/// `state` (layout version 4) as layout version 1 stored it: version 2's without
/// `commit_window_blocks` at the end of the settings and the `commit_phases` map after
/// `requests`.
fn as_layout_v1(state: &[u8]) -> Vec<u8> {
    let mut v1 = as_layout_v2(state);
    v1[..4].copy_from_slice(&1u32.to_le_bytes());
    let owner_len = u32::from_le_bytes(v1[4..8].try_into().unwrap()) as usize;
    let config = 8 + owner_len;
    // Version 2's settings are 64 bytes; the commit window is the last 8.
    v1.drain(config + 56..config + 64);
    // `requests` (prefix tag 2) is followed by `commit_phases` (prefix tag 7).
    let maps = [1, 0, 0, 0, 2, 1, 0, 0, 0, 7];
    let at = v1
        .windows(maps.len())
        .position(|w| w == maps)
        .expect("the requests and commit_phases prefixes");
    v1.drain(at + 5..at + 10);
    v1
}

#[test]
fn settings_older_code_allowed_are_raised_to_todays_minimums_by_the_migration() {
    let mut world = setup();
    // Node 0 unbonds across the upgrade.
    let unlocks_at = world.unregister(0);
    world.chain.advance_blocks(100);
    let state = world.oracle_state();
    let mut v2 = as_layout_v2(&state);
    // Version 2 took a retention of 10 blocks (a cleanup could then slash members still
    // within their reveal time) and a commit window of 5 (too short for any node).
    let owner_len = u32::from_le_bytes(v2[4..8].try_into().unwrap()) as usize;
    let config = 8 + owner_len;
    v2[config + 48..config + 56].copy_from_slice(&10u64.to_le_bytes());
    v2[config + 56..config + 64].copy_from_slice(&5u64.to_le_bytes());
    world.write_old_state(v2);
    let (migrated, _) = world.migrate_to_today();
    assert_eq!(
        events(&migrated, "state_migrated"),
        vec![json!({"from": 2, "to": 4,
            "raised": ["retention_blocks", "commit_window_blocks"]})]
    );
    let config = world.view(ORACLE, "get_config", json!({}));
    assert_eq!(config["retention_blocks"], 50);
    assert_eq!(config["commit_window_blocks"], 10);
    // Raising the retention holds stakes as `update_config` would: until every request made
    // before can be cleaned up under it.
    let migrated_at = migrated.receipts[0].block_height;
    let held_until = migrated_at + YIELD_TIMEOUT_BLOCKS + 50 + CLEANUP_MARGIN_BLOCKS;
    assert!(held_until > unlocks_at);
    assert_eq!(world.unlocks_at(0), held_until);
}

#[test]
fn a_version_3_state_migrates_with_no_unlock_floor() {
    let mut world = setup();
    // Node 0 unbonds across the upgrade.
    let unlocks_at = world.unregister(0);
    let state = world.oracle_state();
    let config_before = world.view(ORACLE, "get_config", json!({}));
    let info_before = world.view(ORACLE, "get_info", json!({}));
    let mut v3 = as_layout_v3(&state);
    assert_eq!(v3.len(), state.len() - 24);
    // Version 3 took a `jail_blocks` of 0 (a jailing that ends as it starts): the last 8 bytes
    // of its 76 bytes of settings.
    let owner_len = u32::from_le_bytes(v3[4..8].try_into().unwrap()) as usize;
    let config = 8 + owner_len;
    v3[config + 68..config + 76].copy_from_slice(&0u64.to_le_bytes());
    world.write_old_state(v3);
    let (migrated, storage_before) = world.migrate_to_today();
    assert_eq!(
        events(&migrated, "state_migrated"),
        vec![json!({"from": 3, "to": 4, "raised": ["jail_blocks"]})]
    );
    world.assert_info_at_version_4(&info_before);
    let mut config_after = world.view(ORACLE, "get_config", json!({}));
    assert_eq!(config_after["jail_blocks"], 1);
    config_after["jail_blocks"] = config_before["jail_blocks"].clone();
    assert_eq!(config_after, config_before);
    assert_eq!(
        world.chain.account(ORACLE).unwrap().storage_usage,
        storage_before + 24
    );
    // No change of the retention was recorded before the upgrade: node 0 unlocks as it did.
    assert_eq!(world.unlocks_at(0), unlocks_at);
    // One after it holds node 0 until the requests made before can be cleaned up.
    let changed = world.update_config(json!({"retention_blocks": 100, "unbonding_blocks": 500}));
    let changed_at = changed.receipts[0].block_height;
    assert_eq!(
        world.unlocks_at(0),
        changed_at + YIELD_TIMEOUT_BLOCKS + 100 + CLEANUP_MARGIN_BLOCKS
    );
}

#[test]
fn a_version_1_state_migrates_to_commit_reveal() {
    let mut world = setup();
    // Request 0 is pending across the upgrade.
    let deposit = world.deposit_for("q");
    let legacy_ask = world.ask("q", deposit);
    let state = world.oracle_state();
    let config_before = world.view(ORACLE, "get_config", json!({}));
    let info_before = world.view(ORACLE, "get_info", json!({}));
    // The oracle's state as the code before commit–reveal left it.
    let v1 = as_layout_v1(&state);
    assert_eq!(v1.len(), state.len() - 64);
    world.write_old_state(v1);
    // Version 1 kept no commit phases.
    assert!(world
        .chain
        .storage_value(ORACLE, &commit_phase_key(0))
        .is_some());
    world.remove_oracle_key(commit_phase_key(0));
    // Nor held fees.
    world.remove_oracle_key(held_fee_key(0));
    // Today's code, then its migrate (as `upgrade` does).
    let (migrated, storage_before) = world.migrate_to_today();
    assert_eq!(
        events(&migrated, "state_migrated"),
        vec![json!({"from": 1, "to": 4, "raised": []})]
    );
    world.assert_info_at_version_4(&info_before);
    assert_eq!(world.view(ORACLE, "get_config", json!({})), config_before);
    assert_eq!(config_before["commit_window_blocks"], 40, "the default");
    // The state grew by its 64 new bytes, and nothing was written for the request pending
    // across the upgrade.
    assert_eq!(
        world.chain.account(ORACLE).unwrap().storage_usage,
        storage_before + 64
    );
    assert!(world
        .chain
        .storage_value(ORACLE, &commit_phase_key(0))
        .is_none());

    // The migrated oracle takes requests, commitments and reveals.
    let ask = world.ask("q", deposit);
    for node in &world.commit_all(1, ANSWER)[..3] {
        assert_success(&world.attest(*node, 1, ANSWER));
    }
    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert_eq!(answer["answered"]["output"], ANSWER);

    // Request 0, made before the upgrade, finishes under version 1's rules, even past the
    // commit window of today's settings: no commit phase, its members attest without
    // committing (and are still asked to).
    let created_at = world.request(0)["created_at"].as_u64().unwrap();
    world
        .chain
        .advance_blocks((created_at + 41).saturating_sub(world.chain.block_height()));
    assert!(world.chain.block_height() > created_at + 40);
    let view: RequestView = serde_json::from_value(world.request(0)).unwrap();
    assert!(view.reveal_open);
    assert_eq!(view.reveal_opens_at, created_at);
    assert!(view.commitments.is_empty());
    let committee = world.committee(0);
    for node in &committee {
        assert!(
            world.assignments(*node, 0, 50).0.contains(&0),
            "node {node}"
        );
    }
    assert_fails(
        &world.commit(committee[0], 0, ANSWER),
        "request 0 was made before commit–reveal; it takes attestations without commitments",
    );
    let mut resolving = None;
    for node in &committee[..3] {
        resolving = Some(world.attest(*node, 0, ANSWER));
    }
    // Its quorum splits the whole fee, as under version 1: nothing is held.
    let resolved = &events(&resolving.unwrap(), "request_resolved")[0];
    let paid: Vec<u128> = resolved["paid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| yocto(&p["amount"]))
        .collect();
    assert_eq!(paid, vec![PRICE / 3 + PRICE % 3, PRICE / 3, PRICE / 3]);
    assert_eq!(resolved["held"], "0");
    assert!(events(&world.attest(committee[3], 0, ANSWER), "late_fee_paid").is_empty());
    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&legacy_ask).json();
    assert_eq!(answer["answered"]["output"], ANSWER);
    // Its silent member is no guesser: without a commit phase, the cleanup slashes nobody.
    world.chain.advance_blocks(RETENTION_BLOCKS);
    let cleaned = world.call(RELAYER, "cleanup_request", json!({"request_id": 0}), 0);
    assert_success(&cleaned);
    assert!(events(&cleaned, "node_slashed").is_empty());
}

#[test]
fn a_version_2_state_migrates_to_liveness_and_its_nodes_pay_their_count_from_stake() {
    let mut world = setup();
    // Request 0 is pending across the upgrade.
    let deposit = world.deposit_for("q");
    let legacy_ask = world.ask("q", deposit);
    let state = world.oracle_state();
    let config_before = world.view(ORACLE, "get_config", json!({}));
    let info_before = world.view(ORACLE, "get_info", json!({}));
    // The oracle's state as the code before liveness left it: no missed-commit counts, no
    // held fees.
    let v2 = as_layout_v2(&state);
    assert_eq!(v2.len(), state.len() - 51);
    world.write_old_state(v2);
    world.remove_oracle_key(held_fee_key(0));
    for node in 0..NODES {
        let key = missed_commits_key(&node_name(node));
        assert!(world.chain.storage_value(ORACLE, &key).is_some());
        world.remove_oracle_key(key);
    }
    let (migrated, storage_before) = world.migrate_to_today();
    assert_eq!(
        events(&migrated, "state_migrated"),
        vec![json!({"from": 2, "to": 4, "raised": []})]
    );
    world.assert_info_at_version_4(&info_before);
    assert_eq!(world.view(ORACLE, "get_config", json!({})), config_before);
    assert_eq!(
        (
            &config_before["max_missed_commits"],
            &config_before["jail_blocks"]
        ),
        (&json!(10), &json!(1000)),
        "the defaults"
    );
    assert_eq!(
        world.chain.account(ORACLE).unwrap().storage_usage,
        storage_before + 51
    );

    // Request 0, made before held fees, times out as then: two matching reveals (fewer than
    // the quorum of commitments, so no miss is counted) are not paid, the whole fee is refunded.
    let committee = world.committee(0);
    world.commit_answers(0, &[(committee[0], ANSWER), (committee[1], ANSWER)]);
    for node in &committee[..2] {
        assert_success(&world.attest(*node, 0, ANSWER));
    }
    world.chain.advance_blocks(200);
    let timed_out = events(&world.chain.tx_result(&legacy_ask), "request_timed_out");
    assert_eq!(timed_out[0]["paid"], json!([]));
    assert_eq!(yocto(&timed_out[0]["refunded"]), PRICE);

    // A node registered before pays its count's storage from its stake at its first miss,
    // once; members that reveal write nothing.
    let stakes: Vec<u128> = (0..NODES).map(|n| world.stake(n)).collect();
    let mut silent = None;
    for request_id in 1..3 {
        world.ask("q", deposit);
        let committee = world.committee(request_id);
        let silent = *silent.get_or_insert(committee[3]);
        let answering: Vec<(usize, &str)> = committee
            .iter()
            .filter(|n| **n != silent)
            .map(|n| (*n, ANSWER))
            .collect();
        world.commit_answers(request_id, &answering);
        for (node, _) in &answering[..3] {
            assert_success(&world.attest(*node, request_id, ANSWER));
        }
        assert_eq!(world.request(request_id)["status"], "resolved");
        if !committee.contains(&silent) {
            continue;
        }
        let view = world.view(ORACLE, "get_node", json!({"account_id": node_name(silent)}));
        // The key, the record (misses u32, jailings u32, last jail's end u64), 40 bytes.
        let entry_bytes = missed_commits_key(&node_name(silent)).len() as u128 + 16 + 40;
        assert_eq!(
            world.stake(silent),
            stakes[silent] - entry_bytes * STORAGE_BYTE_COST,
            "request {request_id}"
        );
        assert!(view["missed_commits"].as_u64().unwrap() >= 1);
        for (node, _) in &answering {
            let key = missed_commits_key(&node_name(*node));
            assert!(world.chain.storage_value(ORACLE, &key).is_none());
            assert_eq!(world.stake(*node), stakes[*node]);
        }
    }

    // A node registered before, never counted (so without an entry), that a slash jails
    // unjails without getting an entry nobody paid for.
    let silent = silent.unwrap();
    world.update_config(json!({"slash_bps": 6000}));
    world.ask("q", deposit);
    let committee = world.committee(3);
    let wrong = *committee.iter().find(|n| **n != silent).unwrap();
    let answers: Vec<(usize, &str)> = committee
        .iter()
        .map(|n| (*n, if *n == wrong { "Lyon" } else { ANSWER }))
        .collect();
    world.commit_answers(3, &answers);
    for (node, output) in &answers {
        world.attest(*node, 3, output);
    }
    assert_eq!(world.request(3)["status"], "resolved");
    let key = missed_commits_key(&node_name(wrong));
    assert!(node_entry(&world, wrong)["status"]["jailed"].is_object());
    let short = MIN_STAKE - world.stake(wrong);
    assert_success(&world.call(&node_name(wrong), "add_stake", json!({}), short));
    assert_success(&world.call(&node_name(wrong), "unjail_node", json!({}), 0));
    assert!(world.chain.storage_value(ORACLE, &key).is_none());
    assert_eq!(node_entry(&world, wrong)["status"], "active");
}

#[test]
fn a_model_priced_by_size_charges_for_input_bytes_and_max_tokens() {
    let mut world = setup();
    let (per_byte, per_token) = (ONE_NEAR / 10_000, ONE_NEAR / 1_000);
    let model = |per_byte: u128, per_token: u128| {
        json!({"model": {
            "model_id": model_id(), "name": "test model", "spec_version": "detspec-1",
            "max_input_bytes": MAX_INPUT_BYTES, "max_output_tokens": 128,
            "price": PRICE.to_string(), "price_per_input_byte": per_byte.to_string(),
            "price_per_output_token": per_token.to_string(),
        }})
    };
    let registered = world.call(
        OWNER,
        "register_model",
        model(per_byte, per_token),
        ONE_NEAR,
    );
    assert_success(&registered);
    let view = world.view(ORACLE, "get_model", json!({"model_id": model_id()}));
    assert_eq!(events(&registered, "model_registered"), vec![view.clone()]);
    assert_eq!(yocto(&view["price_per_input_byte"]), per_byte);
    assert_eq!(yocto(&view["price_per_output_token"]), per_token);
    // The dApp asks with max_tokens 32.
    let question = "What is the capital of France?";
    let fee = PRICE + question.len() as u128 * per_byte + 32 * per_token;
    let estimate = world.view(
        ORACLE,
        "estimate_fee",
        json!({"model_id": model_id(), "params": params(32), "input_bytes": question.len()}),
    );
    assert_eq!(yocto(&estimate["fee"]), fee);
    // What the flat price alone would have needed is refused.
    let flat_total = yocto(&estimate["total"]) - fee + PRICE;
    let args = json!({"model_id": model_id(), "input": question, "params": params(32)});
    let refused = world
        .chain
        .call(
            ALICE,
            ORACLE,
            "request",
            args.to_string(),
            flat_total,
            ASK_GAS,
        )
        .unwrap();
    assert_fails(&refused, "attach at least");

    let deposit = world.deposit_for(question);
    world.ask(question, deposit);
    let committee = world.commit_all(0, ANSWER);
    let mut resolving = None;
    for node in &committee[..3] {
        resolving = Some(world.attest(*node, 0, ANSWER));
    }
    let resolved = events(&resolving.unwrap(), "request_resolved");
    // Each of the three agreeing members is paid a seat's share; the fourth's is held.
    let paid: Vec<u128> = resolved[0]["paid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| yocto(&p["amount"]))
        .collect();
    assert_eq!(paid, vec![fee / 4; 3]);
    assert_eq!(yocto(&resolved[0]["held"]), fee - 3 * (fee / 4));

    // Registered again without fees by size, it charges its flat price only; its pricing
    // entry (a 33-byte key, two u128 and the record's 40 bytes) is gone, and its storage went
    // back to the owner with the attached deposit.
    let storage_before = world.chain.account(ORACLE).unwrap().storage_usage;
    let owner_before = world.chain.balance(OWNER);
    let flat = world.call(OWNER, "register_model", model(0, 0), ONE_NEAR);
    assert_success(&flat);
    let freed = storage_before - world.chain.account(ORACLE).unwrap().storage_usage;
    assert_eq!(freed, 33 + 32 + 40);
    world.chain.advance_blocks(2);
    // Without the refund the owner would be down by the call's gas (about 0.0003 NEAR).
    let gained = world.chain.balance(OWNER).saturating_sub(owner_before);
    assert!(
        gained > u128::from(freed) * STORAGE_BYTE_COST / 2,
        "the freed storage was not refunded: gained {gained}"
    );
    let estimate = world.view(
        ORACLE,
        "estimate_fee",
        json!({"model_id": model_id(), "params": params(32), "input_bytes": question.len()}),
    );
    assert_eq!(yocto(&estimate["fee"]), PRICE);
    // Prices that could overflow a fee are refused at registration.
    assert_fails(
        &world.call(OWNER, "register_model", model(0, u128::MAX / 100), ONE_NEAR),
        "the request's fee overflows",
    );
}

/// Sets the oracle's `max_missed_commits` and `jail_blocks`.
fn set_liveness(world: &mut World, max_missed_commits: u32, jail_blocks: u64) {
    world.update_config(
        json!({"max_missed_commits": max_missed_commits, "jail_blocks": jail_blocks}),
    );
}

/// `node`'s entry as `get_node` returns it.
fn node_entry(world: &World, node: usize) -> Value {
    world.view(ORACLE, "get_node", json!({"account_id": node_name(node)}))
}

/// Asks one question as request `request_id`, which every committee member but `silent`
/// commits to and three reveal: it resolves. Returns the committee and the resolving
/// attestation.
fn resolve_without(world: &mut World, request_id: u64, silent: usize) -> (Vec<usize>, TxResult) {
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.committee(request_id);
    let answering: Vec<(usize, &str)> = committee
        .iter()
        .filter(|n| **n != silent)
        .map(|n| (*n, ANSWER))
        .collect();
    world.commit_answers(request_id, &answering);
    let mut resolving = None;
    for (node, _) in &answering[..3] {
        resolving = Some(world.attest(*node, request_id, ANSWER));
    }
    assert_eq!(world.request(request_id)["status"], "resolved");
    (committee, resolving.unwrap())
}

#[test]
fn a_member_that_keeps_missing_commitments_is_jailed_until_it_unjails() {
    let mut world = setup();
    set_liveness(&mut world, 2, 200);
    let silent = 0;
    let mut request_id = 0;
    let mut missed = 0;
    let jailed = loop {
        let (committee, resolving) = resolve_without(&mut world, request_id, silent);
        request_id += 1;
        for node in committee.iter().filter(|n| **n != silent) {
            assert_eq!(node_entry(&world, *node)["missed_commits"], 0);
        }
        if !committee.contains(&silent) {
            assert!(events(&resolving, "node_jailed").is_empty());
            continue;
        }
        missed += 1;
        assert_eq!(node_entry(&world, silent)["missed_commits"], missed);
        if missed == 2 {
            break resolving;
        }
        assert_eq!(node_entry(&world, silent)["status"], "active");
        assert!(events(&resolving, "node_jailed").is_empty());
    };
    let until = jailed.receipts[0].block_height + 200;
    let stake = world.stake(silent);
    assert_eq!(
        events(&jailed, "node_jailed"),
        vec![json!({
            "node": node_name(silent), "reason": "missed_commits", "until": until,
            "missed_commits": 2, "jailings": 1, "stake": stake.to_string(),
        })]
    );
    assert_eq!(
        node_entry(&world, silent)["status"],
        json!({"jailed": {"until": until}})
    );
    // Off committees: four nodes remain for a committee of four.
    for _ in 0..3 {
        let (committee, _) = resolve_without(&mut world, request_id, silent);
        assert!(!committee.contains(&silent), "{committee:?}");
        request_id += 1;
    }
    let early = world.call(&node_name(silent), "unjail_node", json!({}), 0);
    assert_fails(
        &early,
        &format!("{} is jailed until block {until}", node_name(silent)),
    );
    let now = world.chain.block_height();
    world.chain.advance_blocks(until.saturating_sub(now));
    let unjailed = world.call(&node_name(silent), "unjail_node", json!({}), 0);
    assert_success(&unjailed);
    let view = node_entry(&world, silent);
    assert_eq!(events(&unjailed, "node_unjailed"), vec![view.clone()]);
    assert_eq!(
        (&view["status"], &view["missed_commits"]),
        (&json!("active"), &json!(0))
    );
    assert_fails(
        &world.call(&node_name(silent), "unjail_node", json!({}), 0),
        "is not jailed (it is active)",
    );

    // A reveal starts the count again, not a commitment alone: one miss, then a commitment
    // whose reveal comes after the resolution.
    let first_miss = loop {
        let (committee, _) = resolve_without(&mut world, request_id, silent);
        request_id += 1;
        if committee.contains(&silent) {
            break request_id - 1;
        }
    };
    assert_eq!(node_entry(&world, silent)["missed_commits"], 1);
    loop {
        let deposit = world.deposit_for("q");
        world.ask("q", deposit);
        let committee = world.committee(request_id);
        world.commit_all(request_id, ANSWER);
        let others: Vec<usize> = committee.iter().copied().filter(|n| *n != silent).collect();
        for node in &others[..3] {
            assert_success(&world.attest(*node, request_id, ANSWER));
        }
        assert_eq!(world.request(request_id)["status"], "resolved");
        request_id += 1;
        if committee.contains(&silent) {
            assert_eq!(node_entry(&world, silent)["missed_commits"], 1);
            let late = world.attest(silent, request_id - 1, ANSWER);
            assert_eq!(late.json::<String>(), "agreed");
            break;
        }
    }
    assert_eq!(node_entry(&world, silent)["missed_commits"], 0);
    assert_eq!(node_entry(&world, silent)["status"], "active");
    assert!(request_id > first_miss);

    // Jailed again soon after its last jailing ended: for twice as long.
    let mut missed = 0;
    let jailed = loop {
        let (committee, resolving) = resolve_without(&mut world, request_id, silent);
        request_id += 1;
        if committee.contains(&silent) {
            missed += 1;
            if missed == 2 {
                break resolving;
            }
        }
    };
    let event = &events(&jailed, "node_jailed")[0];
    assert_eq!(event["jailings"], 2);
    assert_eq!(
        event["until"].as_u64().unwrap(),
        jailed.receipts[0].block_height + 2 * 200
    );
}

/// The attestation key of `account`: a node of `setup` or one `register_many` made.
fn key_of(world: &World, account: &str) -> SecretKey {
    if let Some(node) = (0..NODES).find(|i| node_name(*i) == account) {
        return world.keys[node].clone();
    }
    let name = account.trim_end_matches(".test");
    let digits = name
        .find(|c: char| c.is_ascii_digit())
        .expect("a numbered account");
    many_key(&name[..digits], name[digits..].parse().unwrap())
}

/// `account` commits to its attestation of `output` for `request_id`; returns the signature,
/// for the reveal.
fn commit_signed_as(
    world: &mut World,
    account: &str,
    request_id: u64,
    output: &str,
) -> Signature64 {
    let key = key_of(world, account);
    let signature = sign_as(&key, account, request_id, digest_of(output), output);
    let args = json!({"request_id": request_id, "commitment": attestation_commitment(&signature)});
    assert_success(&world.call(account, "commit_attestation", args, 0));
    signature
}

/// `account` commits to `request_id` (a commitment it will never reveal).
fn commit_as(world: &mut World, account: &str, request_id: u64) {
    let args = json!({"request_id": request_id, "commitment": sha256(account.as_bytes())});
    assert_success(&world.call(account, "commit_attestation", args, 0));
}

#[test]
fn a_timed_out_request_jails_its_silent_members_within_the_callback_gas() {
    let mut world = setup();
    // The heaviest members to jail: 64-character account ids (the longest, as every implicit
    // account has), each serving the most models a node may (16).
    let mut models = vec![model_id()];
    for i in 1..16u8 {
        let other = sha256(&[i]);
        let model = json!({"model": {
            "model_id": other, "name": format!("model {i}"), "spec_version": "detspec-1",
            "max_input_bytes": 64, "max_output_tokens": 16, "price": "1",
        }});
        assert_success(&world.call(OWNER, "register_model", model, ONE_NEAR));
        models.push(other);
    }
    let prefix = "a-node-operator-with-a-long-account-name-on-the-devnet-xy";
    for result in register_many(&mut world, prefix, 32, json!(models)) {
        assert_success(&result);
    }
    for node in 0..NODES {
        assert_success(&world.call(&node_name(node), "unregister_node", json!({}), 0));
    }
    // Time for 32 commitment transactions.
    world.update_config(json!({
        "committee_size": 32, "quorum": 17, "max_missed_commits": 1, "commit_window_blocks": 150,
    }));
    let deposit = world.deposit_for("q");
    let ask = world.ask("q", deposit);
    let committee: Vec<String> =
        serde_json::from_value(world.request(0)["committee"].clone()).unwrap();
    assert_eq!(committee.len(), 32);
    assert!(committee.iter().all(|a| a.len() >= 63), "{committee:?}");
    // The most misses one request can count: 15 members never commit, the quorum of 17 commits
    // and never reveals. All 32 are jailed when the request times out. (A member paid at a
    // timeout revealed, so it is never also counted: payments and misses together are at most
    // the committee, and a payment costs less than a jailing.)
    let (committed, silent) = committee.split_at(17);
    for account in committed {
        commit_as(&mut world, account, 0);
    }
    world.chain.advance_blocks(200);
    let result = world.chain.tx_result(&ask);
    let finished = result
        .receipts
        .iter()
        .find(|o| o.logs.iter().any(|l| l.contains("\"request_timed_out\"")))
        .expect("the yield's callback");
    assert!(
        matches!(
            finished.status,
            wasm_host::chain::ExecutionStatus::SuccessValue(_)
        ),
        "{:?}",
        finished.status
    );
    println!(
        "gas: the yield's callback timing out a committee of 32 and jailing all its members (15 \
         silent, 17 unrevealed; 64-character ids, 16 models each) {}",
        finished.gas_burnt
    );
    let jailed = finished
        .logs
        .iter()
        .filter(|l| l.contains("\"node_jailed\""))
        .count();
    assert_eq!(jailed, 32);
    // The callback's 40 TGas leave room, and its logs stay far below NEAR's 16 KiB a receipt.
    assert!(finished.gas_burnt < 35 * TGAS, "{}", finished.gas_burnt);
    let log_bytes: usize = finished.logs.iter().map(String::len).sum();
    println!("logs: the same callback wrote {log_bytes} bytes of logs");
    assert!(log_bytes < 12 * 1024, "{log_bytes}");
    for node in silent.iter().chain(committed) {
        let view = world.view(ORACLE, "get_node", json!({"account_id": node}));
        assert_eq!(view["missed_commits"], 1, "{node}");
        assert!(view["status"]["jailed"].is_object(), "{node}");
    }
}

#[test]
fn a_request_that_fewer_than_a_quorum_committed_to_counts_no_miss() {
    let mut world = setup();
    set_liveness(&mut world, 1, 1);
    // A request no honest node can serve (an output over the byte limit, a schema outside the
    // subset) gets no commitment from any: its end counts nothing, so a requester cannot get
    // honest nodes jailed. Nor can fewer colluders than a quorum frame the others as silent.
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.committee(0);
    for node in &committee[..2] {
        commit_as(&mut world, &node_name(*node), 0);
    }
    world.chain.advance_blocks(200);
    assert_eq!(world.request(0)["status"], "timed_out");
    for node in 0..NODES {
        let view = node_entry(&world, node);
        assert_eq!(
            (&view["missed_commits"], &view["status"]),
            (&json!(0), &json!("active")),
            "node {node}"
        );
    }
    // With a quorum committed, the silent member is counted (and jailed at once here).
    world.ask("q", deposit);
    let committee = world.committee(1);
    for node in &committee[..3] {
        commit_as(&mut world, &node_name(*node), 1);
    }
    world.chain.advance_blocks(200);
    assert_eq!(world.request(1)["status"], "timed_out");
    assert!(node_entry(&world, committee[3])["status"]["jailed"].is_object());
}

#[test]
fn a_slash_below_the_minimum_stake_jails_until_the_stake_is_topped_up() {
    let mut world = setup();
    world.update_config(json!({"slash_bps": 6000}));
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.committee(0);
    let wrong = committee[3];
    world.commit_answers(
        0,
        &[
            (committee[0], ANSWER),
            (committee[1], ANSWER),
            (committee[2], ANSWER),
            (wrong, "Lyon"),
        ],
    );
    assert_success(&world.attest(wrong, 0, "Lyon"));
    assert_success(&world.attest(committee[0], 0, ANSWER));
    assert_success(&world.attest(committee[1], 0, ANSWER));
    let resolving = world.attest(committee[2], 0, ANSWER);
    let stake = world.stake(wrong);
    assert!(stake < MIN_STAKE, "{stake}");
    let now = resolving.receipts[0].block_height;
    assert_eq!(
        events(&resolving, "node_jailed"),
        vec![json!({
            "node": node_name(wrong), "reason": "stake_below_minimum", "until": now,
            "missed_commits": 0, "jailings": 0, "stake": stake.to_string(),
        })]
    );
    let short = MIN_STAKE - stake;
    assert_fails(
        &world.call(&node_name(wrong), "unjail_node", json!({}), 0),
        &format!("call add_stake with at least {short} yoctoNEAR first"),
    );
    assert_success(&world.call(&node_name(wrong), "add_stake", json!({}), short));
    assert_success(&world.call(&node_name(wrong), "unjail_node", json!({}), 0));
    assert_eq!(node_entry(&world, wrong)["status"], "active");
}

/// Asks one question as request `request_id`; its committee's last member stays silent while
/// the others commit and three of them reveal, so that it resolves with the silent member
/// counted a miss. Returns the silent member and the resolving attestation.
fn resolve_with_a_silent_member(world: &mut World, request_id: u64) -> (usize, TxResult) {
    let deposit = world.deposit_for("q");
    world.ask("q", deposit);
    let committee = world.committee(request_id);
    let silent = committee[3];
    let answering: Vec<(usize, &str)> = committee[..3].iter().map(|n| (*n, ANSWER)).collect();
    world.commit_answers(request_id, &answering);
    let mut resolving = None;
    for node in &committee[..3] {
        resolving = Some(world.attest(*node, request_id, ANSWER));
    }
    assert_eq!(world.request(request_id)["status"], "resolved");
    (silent, resolving.unwrap())
}

/// The block `resolving` jailed a node until.
fn jailed_until(resolving: &TxResult) -> u64 {
    let jailed = events(resolving, "node_jailed");
    assert_eq!(jailed.len(), 1, "{jailed:?}");
    jailed[0]["until"].as_u64().unwrap()
}

#[test]
fn a_jailed_node_that_unregisters_unlocks_no_sooner_than_its_jailing_ends() {
    let mut world = setup();
    // Jailed for longer than the unbonding delay.
    set_liveness(&mut world, 1, 1000);
    const { assert!(UNBONDING_BLOCKS < 1000) };
    let (jailed, resolving) = resolve_with_a_silent_member(&mut world, 0);
    let until = jailed_until(&resolving);
    // Unregistering, withdrawing and registering again (a fresh, active node) would end the
    // jailing early: the stake unlocks at the jailing's end at the earliest.
    let unregistered_at = world.chain.block_height() + 2;
    let unlocks_at = world.unregister(jailed);
    world.advance_to_call_at(unregistered_at + UNBONDING_BLOCKS);
    assert_fails(
        &world.withdraw(jailed),
        &format!("stake unlocks at block {until}; now is block"),
    );
    assert_eq!(unlocks_at, until);
    world.advance_to_call_at(until);
    assert_success(&world.withdraw(jailed));
    let key = world.keys[jailed].clone();
    assert_success(&world.register_node(jailed, &key, NODE_DEPOSIT));
    assert_eq!(node_entry(&world, jailed)["status"], "active");
    // A jailing always lasts: `jail_blocks` is at least 1.
    let mut config = world.view(ORACLE, "get_config", json!({}));
    config["jail_blocks"] = json!(0);
    assert_fails(
        &world.call(OWNER, "update_config", json!({ "config": config }), 0),
        "jail_blocks must be 1 to 1000000, got 0",
    );
}

#[test]
fn unjailing_a_node_that_kept_its_seat_reads_no_list_and_takes_no_seat() {
    let mut world = setup();
    set_liveness(&mut world, 1, 10);
    let (jailed, resolving) = resolve_with_a_silent_member(&mut world, 0);
    let until = jailed_until(&resolving);
    // The model's list fills up around the jailed node, which keeps its seat.
    for result in register_many(
        &mut world,
        "a",
        MAX_ACTIVE_NODES_PER_MODEL - NODES,
        json!([model_id()]),
    ) {
        assert_success(&result);
    }
    // The owner raises the minimum stake above every node's; the jailed node tops up its own.
    world.update_config(json!({"min_stake": NODE_DEPOSIT.to_string()}));
    assert_success(&world.call(&node_name(jailed), "add_stake", json!({}), ONE_NEAR));
    world.advance_to_call_at(until);
    let unjailed = world.call(&node_name(jailed), "unjail_node", json!({}), 0);
    assert_success(&unjailed);
    assert_eq!(node_entry(&world, jailed)["status"], "active");
    // It needed no seat: the full list is neither read through nor made to give up the seat of
    // an under-staked node.
    assert_eq!(events(&unjailed, "node_jailed"), Vec::<Value>::new());
    for node in (0..NODES).filter(|n| *n != jailed) {
        assert_eq!(node_entry(&world, node)["status"], "active", "node {node}");
    }
    let gas = unjailed.total_gas_burnt();
    println!(
        "gas: unjail_node of a node that kept its seat on a full list of \
         {MAX_ACTIVE_NODES_PER_MODEL} {gas}"
    );
    assert!(gas < 5 * TGAS, "{gas}");
}

/// The example dApp's `MAX_QUESTION_BYTES`.
const DAPP_MAX_QUESTION_BYTES: usize = 2048;
/// yoctoNEAR a byte of storage locks.
const STORAGE_BYTE_COST: u128 = 10_u128.pow(19);

/// The dApp's storage in bytes.
fn dapp_storage_usage(world: &World) -> u64 {
    world.chain.account(DAPP).unwrap().storage_usage
}

#[test]
fn the_dapp_keeps_nothing_it_was_not_paid_for_and_refused_asks_cost_only_gas() {
    let mut world = setup();
    let (storage_before, dapp_before) = (dapp_storage_usage(&world), world.chain.balance(DAPP));
    let alice_before = world.chain.balance(ALICE);

    // Refused by the dApp itself: nothing is stored, nothing is asked.
    let huge = "x".repeat(DAPP_MAX_QUESTION_BYTES + 1);
    let ask = world.ask(&huge, 10 * ONE_NEAR);
    assert_fails(
        &world.chain.tx_result(&ask),
        &format!(
            "the question is {} bytes; at most {}",
            huge.len(),
            DAPP_MAX_QUESTION_BYTES
        ),
    );
    let ask = world.ask("q", 0);
    assert_fails(
        &world.chain.tx_result(&ask),
        "yoctoNEAR for the question's storage",
    );
    assert_eq!(world.request(0), Value::Null);

    // Paid storage but no fee, and an input longer than the model takes: the oracle refuses
    // both; each question is deleted and Alice gets everything back (the forwarded deposit
    // from the oracle's failed receipt, the storage deposit from the dApp).
    let unpaid = world.ask("q", world.dapp_storage("q"));
    let oversized = "y".repeat(MAX_INPUT_BYTES as usize + 1);
    let too_long = world.ask(&oversized, world.deposit_for("q") + 5 * ONE_NEAR);
    world.chain.advance_blocks(3);
    for (tx, question_id) in [(unpaid, 0), (too_long, 1)] {
        let answer: Value = world.chain.tx_result(&tx).json();
        assert_eq!(
            answer["failed"]["reason"],
            "the oracle refused the request (or its callback failed)"
        );
        assert_eq!(world.question(question_id), Value::Null);
    }
    assert_eq!(world.request(0), Value::Null);
    assert_eq!(dapp_storage_usage(&world), storage_before);
    assert!(world.chain.balance(DAPP) >= dapp_before, "the dApp paid");
    // Four transactions' gas at most, no deposit.
    let most_gas = 4 * u128::from(ASK_GAS) * wasm_host::chain::GAS_PRICE;
    let spent = alice_before - world.chain.balance(ALICE);
    assert!(spent <= most_gas, "Alice spent {spent}");
}

#[test]
fn an_answered_question_stays_within_its_storage_deposit_which_its_asker_gets_back() {
    let mut world = setup();
    let question = "What is the capital of France?";
    let storage_before = dapp_storage_usage(&world);
    let deposit = world.deposit_for(question);
    let ask = world.ask(question, deposit);
    let charged = world.dapp_storage(question);
    let stored: Value = world.question(0);
    assert_eq!(yocto(&stored["storage_deposit"]), charged);
    assert_fails(
        &world.call_dapp(ALICE, "delete_question", json!({"question_id": 0})),
        "question 0 is still waiting for the oracle",
    );

    // The longest answer the oracle returns inline: the record grows to hold it, within what
    // Alice paid.
    let long = "é".repeat(100);
    for node in &world.commit_all(0, &long)[..3] {
        assert_success(&world.attest(*node, 0, &long));
    }
    world.chain.advance_blocks(3);
    let answer: Value = world.chain.tx_result(&ask).json();
    assert_eq!(answer["answered"]["truncated"], true);
    let grown = dapp_storage_usage(&world) - storage_before;
    assert!(
        u128::from(grown) * STORAGE_BYTE_COST <= charged,
        "grew {grown} bytes, paid {charged}"
    );
    println!(
        "dApp storage: a {}-byte question and its answer use {grown} bytes; paid {charged} yoctoNEAR",
        question.len()
    );

    assert_fails(
        &world.call_dapp(RELAYER, "delete_question", json!({"question_id": 0})),
        "only alice.test (who asked question 0) may delete it",
    );
    let alice_before = world.chain.balance(ALICE);
    let deleted = world.call_dapp(ALICE, "delete_question", json!({"question_id": 0}));
    assert_eq!(yocto(&deleted.json::<Value>()), charged);
    world.chain.advance_blocks(2);
    let gained = world.chain.balance(ALICE) - alice_before;
    let most_gas = u128::from(GAS) * wasm_host::chain::GAS_PRICE;
    assert!(
        gained <= charged && gained + most_gas >= charged,
        "{gained}"
    );
    assert_eq!(world.question(0), Value::Null);
    assert_eq!(dapp_storage_usage(&world), storage_before);
}
