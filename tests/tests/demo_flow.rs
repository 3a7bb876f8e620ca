//! The main command's flow on the real model: a dApp asks, three differently configured nodes
//! answer with bit-identical digests, the quorum resolves and the dApp's callback has the answer.

use e2e_tests::demo::run_in_process;
use kernels::model_cache::{ModelCache, DEFAULT_MODEL};
use kernels::quant::KernelPath;

#[test]
fn three_nodes_answer_the_dapp_with_identical_digests() {
    let model = ModelCache::from_env()
        .with_progress(false)
        .ensure(&DEFAULT_MODEL)
        .expect("the default model (run `cargo xtask fetch-model`)");
    let nodes = [
        (KernelPath::detect(), 2),
        (KernelPath::detect(), 1),
        (KernelPath::Scalar, 1),
    ];
    let mut lines = Vec::new();
    let outcome = run_in_process(
        &model,
        DEFAULT_MODEL.sha256.parse().unwrap(),
        &nodes,
        "What is the capital of France?",
        &mut |line| lines.push(line),
    )
    .unwrap();
    assert_eq!(outcome.answers.len(), 3, "committee of three");
    let first = &outcome.answers[0];
    assert!(outcome
        .answers
        .iter()
        .all(|a| a.result_digest == first.result_digest));
    assert!(first.text.contains("Paris"), "{}", first.text);
    let outcomes: Vec<&str> = outcome.answers.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["recorded", "resolved", "agreed"]);
    let answered = &outcome.dapp_state["answer"]["answered"];
    assert_eq!(answered["output"].as_str(), Some(first.text.as_str()));
    assert_eq!(
        answered["oracle_request_id"].as_u64(),
        Some(outcome.request_id)
    );
    assert!(lines.iter().any(|l| l.contains("agreed bit for bit")));
}
