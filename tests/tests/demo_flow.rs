//! The main command's devnet, end to end on the real model (`--exit-after-demo`): a localnet
//! chain, the oracle, the example dApp and the vault, three `oracle-node` processes each with a
//! different engine configuration. The question and the claim get three identical digests, the
//! dApp stores its answer, the vault settles the claim within its caps, and both answers verify
//! by re-execution.

use e2e_tests::cluster::{free_port, ONE_NEAR};
use e2e_tests::devnet::{self, DevnetOptions, EngineSetup};
use oracle_protocol::{RequestPhase, RequestView};

fn yocto(value: &serde_json::Value) -> u128 {
    value.as_str().unwrap().parse().unwrap()
}

/// Every committee member attested, all with one digest, and the quorum resolved on it.
fn assert_identical_digests(request: &RequestView) {
    assert_eq!(request.status, RequestPhase::Resolved, "{request:?}");
    assert_eq!(request.attestations.len(), 3, "{request:?}");
    let answer = request.answer.as_ref().unwrap();
    for attestation in &request.attestations {
        assert_eq!(
            attestation.result_digest, answer.result_digest,
            "{request:?}"
        );
        assert_eq!(attestation.output_hash, answer.output_hash, "{request:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devnet_answers_alike_on_three_engine_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let options = DevnetOptions {
        dir: dir.path().join("devnet"),
        rpc_port: free_port().unwrap(),
        // Blocks of 1 s (NEAR's pace): the scalar node on one thread must commit to the vault's
        // verdict within the commit window (150 blocks) even on a loaded CI machine.
        block_time_ms: 1000,
        max_tokens: 12,
        exit_after_demo: true,
    };
    let report = devnet::run(&options).await.unwrap();

    let engines: Vec<_> = report.engines.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(engines, EngineSetup::three());

    let question = &report.question;
    assert_identical_digests(&question.request);
    let answered = &question.dapp_state["answer"]["answered"];
    let output = answered["output"].as_str().unwrap();
    assert!(output.contains("Paris"), "{output}");
    assert_eq!(output, question.request.answer.as_ref().unwrap().output);
    assert_eq!(
        answered["oracle_request_id"].as_u64(),
        Some(question.request.request_id)
    );

    let claim = &report.claim;
    assert_identical_digests(&claim.request);
    let funds_before = yocto(&claim.vault_before["funds"]);
    let funds_after = yocto(&claim.vault_after["funds"]);
    let status = &claim.claim["status"];
    if status == "paid" {
        assert!(claim.amount <= ONE_NEAR, "within the per-claim cap");
        assert_eq!(funds_after, funds_before - claim.amount);
        // The vault counts spending per UTC day: read across midnight, it was yesterday's.
        let spent_today = yocto(&claim.vault_after["spent_today"]);
        if claim.vault_before["day"] == claim.vault_after["day"] {
            assert_eq!(spent_today, claim.amount);
        } else {
            assert!(spent_today == claim.amount || spent_today == 0);
        }
    } else {
        assert!(status["rejected"]["reason"].is_string(), "{status}");
        assert_eq!(funds_after, funds_before, "a rejected claim moves nothing");
    }
    let verdict: serde_json::Value =
        serde_json::from_str(&claim.request.answer.as_ref().unwrap().output).unwrap();
    assert!(["approve", "reject"].contains(&verdict["decision"].as_str().unwrap()));

    // Re-executed here, on this machine's engine: the local digest and output are the ones the
    // committee signed, and the output the one the dApp stored and the vault acted on.
    let verified: Vec<u64> = report.verifications.iter().map(|v| v.request_id).collect();
    assert_eq!(
        verified,
        [question.request.request_id, claim.request.request_id]
    );
    for (verification, request) in report
        .verifications
        .iter()
        .zip([&question.request, &claim.request])
    {
        let answer = request.answer.as_ref().unwrap();
        assert_eq!(verification.agreeing.len(), 3, "{verification:?}");
        let rerun = verification.reexecution.as_ref().expect("re-executed here");
        assert_eq!(rerun.result_digest, answer.result_digest);
        assert_eq!(rerun.output.len(), answer.output_bytes as usize);
        assert!(rerun.output.starts_with(&answer.output), "{rerun:?}");
    }
    let rerun = report.verifications[0].reexecution.as_ref().unwrap();
    assert_eq!(rerun.output, output, "the dApp stored the model's output");
}
