//! What the devnet prints: the demo's answers, attestations, claim and verifications, and how to
//! use the running devnet.

use super::demo::{ClaimOutcome, DemoReport};
use super::{step, vault, Devnet, OPERATOR};
use crate::cluster::{binary, DAPP, ORACLE, USER};
use crate::layout::workspace_root;
use kernels::model_cache::DEFAULT_MODEL;
use oracle_protocol::RequestView;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn print_demo(report: &DemoReport) {
    step("the answers");
    let question = &report.question;
    println!("question {:?}", question.question);
    print_attestations(report, &question.request);
    let answered = &question.dapp_state["answer"]["answered"];
    println!(
        "  the dApp stored the answer of request {}: {}",
        answered["oracle_request_id"], answered["output"]
    );

    let claim = &report.claim;
    println!(
        "claim {} to the vault: {} for {}, evidence {:?}",
        claim.claim["claim_id"],
        near(claim.amount),
        claim.recipient,
        claim.evidence
    );
    print_attestations(report, &claim.request);
    print_claim(claim);

    step("verification by re-execution");
    for verification in &report.verifications {
        println!(
            "  request {}: {} valid signatures from the committee agree (quorum {}): {}",
            verification.request_id,
            verification.agreeing.len(),
            verification.quorum,
            verification.agreeing.join(", "),
        );
        if let Some(rerun) = &verification.reexecution {
            println!(
                "    re-run here ({}): result digest {}, the signed one; output {:?}, whose \
                 SHA-256 is the signed one",
                report.verifier_engine, rerun.result_digest, rerun.output
            );
        }
    }
}

/// Each node's attestation to `request`, and whether the digests agree across the engines.
fn print_attestations(report: &DemoReport, request: &RequestView) {
    println!(
        "  request {} (committee {}, quorum {}), status {:?}",
        request.request_id,
        request.committee.join(", "),
        request.quorum,
        request.status
    );
    for attestation in &request.attestations {
        let engine = report
            .engines
            .iter()
            .find(|(account, _)| *account == attestation.node)
            .map_or_else(String::new, |(_, engine)| engine.describe());
        let signature = hex::encode(attestation.signature.as_bytes());
        println!(
            "  {:<11} {:<27} result digest {}  signature {}…",
            attestation.node,
            engine,
            attestation.result_digest,
            &signature[..24]
        );
    }
    let first = request.attestations.first().map(|a| a.result_digest);
    if request
        .attestations
        .iter()
        .all(|a| Some(a.result_digest) == first)
    {
        println!(
            "  {} engine configurations, one digest: identical bit for bit",
            request.attestations.len()
        );
    } else {
        println!("  the digests DIFFER: determinism is broken");
    }
}

fn print_claim(claim: &ClaimOutcome) {
    if let Some(answer) = &claim.request.answer {
        println!("  the model's verdict: {}", answer.output);
        if claim.request.model_id.to_hex() == DEFAULT_MODEL.sha256 {
            println!(
                "  (the default model has 135M parameters and judges rules little better than \
                 chance: its verdict is reproducible bit for bit, not wise; the caps below bound \
                 what any verdict moves — contract/vault/README.md)"
            );
        }
    }
    let status = &claim.claim["status"];
    if status == "paid" {
        println!(
            "  the vault paid {} to {}",
            near(claim.amount),
            claim.recipient
        );
    } else {
        println!("  the vault rejected it: {}", status["rejected"]["reason"]);
    }
    let (before, after) = (&claim.vault_before, &claim.vault_after);
    println!(
        "  caps: {} per claim, {} per day; spent today {}, left today {}; funds {} -> {}",
        near_of(&after["limits"]["max_per_claim"]),
        near_of(&after["limits"]["max_per_day"]),
        near_of(&after["spent_today"]),
        near_of(&after["remaining_today"]),
        near_of(&before["funds"]),
        near_of(&after["funds"]),
    );
}

pub fn print_usage(devnet: &Devnet) {
    let rpc = devnet.rpc_url();
    let keys = devnet.localnet().dir.join("keys");
    let client = binary_path("oracle-client");
    let node = binary_path("oracle-node");
    let node0 = &devnet.nodes()[0].0.home;
    step("the devnet is running; Ctrl-C stops it");
    println!("  RPC          {rpc}  (chain id localnet)");
    println!(
        "  contracts    oracle {ORACLE}, example dApp {DAPP}, vault {}",
        vault::VAULT
    );
    println!(
        "  account keys {}/<account>.json (NEAR credentials files; {OPERATOR} is spare, for your own node)",
        shown(&keys)
    );
    println!(
        "  node homes   {} (config.toml, keys/, node.log, journal.redb)",
        devnet
            .nodes()
            .iter()
            .map(|(node, _)| shown(&node.home))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  chain log    {}", shown(&devnet.localnet().log_path()));
    println!("From the repository root, in another terminal:");
    println!(
        "  {client} --rpc {rpc} --oracle {ORACLE} --credentials {}/{USER}.json ask \"What is 2+2?\" --max-tokens 16",
        shown(&keys)
    );
    println!("  {client} --rpc {rpc} --oracle {ORACLE} verify 0 --reexecute");
    println!(
        "  {client} --rpc {rpc} --credentials {}/{USER}.json call {} file_claim \
         '{{\"recipient\":\"{USER}\",\"amount\":\"500000000000000000000000\",\"evidence\":\"My order \
         A-1002 never arrived.\"}}' --deposit 1",
        shown(&keys),
        vault::VAULT
    );
    println!("  {client} --rpc {rpc} view {} get_vault", vault::VAULT);
    println!("  {node} status --home {}", shown(node0));
    println!("See README.md (walkthroughs) for the SDK and for running your own node.");
}

/// The path of workspace binary `name`, relative to the repository root when under it.
fn binary_path(name: &str) -> String {
    let dir = binary("localnet")
        .ok()
        .and_then(|path| path.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/debug"));
    shown(&dir.join(name))
}

/// `path` relative to the repository root when it is under it.
pub(super) fn shown(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// yoctoNEAR as an exact decimal NEAR amount, e.g. `1.5 NEAR`.
fn near(yocto: u128) -> String {
    let whole = yocto / crate::cluster::ONE_NEAR;
    let fraction = yocto % crate::cluster::ONE_NEAR;
    if fraction == 0 {
        return format!("{whole} NEAR");
    }
    let digits = format!("{fraction:024}");
    format!("{whole}.{} NEAR", digits.trim_end_matches('0'))
}

/// A yoctoNEAR JSON string as NEAR.
fn near_of(value: &Value) -> String {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .map_or_else(|| value.to_string(), near)
}
