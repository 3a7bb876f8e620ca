//! The integrator SDK against the oracle contract on a local chain over HTTP: views, a paid
//! request followed to its answer, scripted committee nodes that sign and attest, offline
//! verification (and its refusals), and re-execution on a tiny model.

mod common;

use common::oracle_net::{deploy, params, Deployment, NODES, ORACLE};
use common::NEAR;
use kernels::engine::{Engine, Generation};
use kernels::quant::KernelPath;
use kernels::tiny_model::TinyModel;
use oracle_protocol::{Digest32, ModelId, RequestParams, RequestView, ResponseStatus};
use sdk::inference::{engine_request, RequestKey};
use sdk::keys::PublicKey;
use sdk::oracle::verify::{reexecute_view, verify_view};
use sdk::oracle::{NewRequest, OracleClient, OracleError, PendingRequest, VerifyError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

async fn node_keys(client: &OracleClient) -> HashMap<String, String> {
    client
        .list_nodes(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|node| (node.account_id, node.attestation_key))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_answered_verified_and_tampering_is_caught() {
    let model_id = Digest32([42; 32]);
    let net = deploy(model_id).await;
    let client = &net.client;

    let config = client.get_config().await.unwrap();
    assert_eq!((config.committee_size, config.quorum), (3, 2));
    let models = client.list_models(0, 10).await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(
        client.get_model(&model_id).await.unwrap().unwrap().name,
        "tiny"
    );
    assert_eq!(client.list_nodes(0, 10).await.unwrap().len(), 3);
    assert_eq!(client.all_nodes().await.unwrap().len(), 3);
    // An endpoint that ignores `from_index` (the first page, every time) ends the listing
    // with an error, not a list that grows until memory runs out.
    let first_page_only = common::proxy::proxy_endpoint(net.chain.url.clone(), |call| {
        if call["params"]["method_name"] == "list_nodes" {
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::STANDARD;
            let args = engine
                .decode(call["params"]["args_base64"].as_str().unwrap())
                .unwrap();
            let mut args: serde_json::Value = serde_json::from_slice(&args).unwrap();
            args["from_index"] = 0.into();
            call["params"]["args_base64"] = engine.encode(args.to_string()).into();
        }
        true
    })
    .await;
    let lied_to = OracleClient::new(
        sdk::rpc::NearRpc::new(vec![first_page_only], common::quick_policy()).unwrap(),
        ORACLE,
    );
    let error = lied_to.all_nodes().await.unwrap_err().to_string();
    assert!(
        error.contains("not serving the contract's pages"),
        "{error}"
    );
    assert_eq!(client.all_models().await.unwrap(), models);
    assert!(client.get_node("nobody.test").await.unwrap().is_none());
    let fee = client.estimate_fee(&model_id, &params(), 12).await.unwrap();
    assert_eq!(fee.fee, NEAR / 100);

    // A schema no node can run is refused before anything is sent.
    let unservable = RequestParams {
        output_schema: Some("{".into()),
        ..params()
    };
    assert!(matches!(
        client.request(&model_id, "What is 2+2?", &unservable).await,
        Err(OracleError::Unservable(_))
    ));
    assert_eq!(client.get_info().await.unwrap().next_request_id, 0);

    let pending = client
        .request(&model_id, "What is 2+2?", &params())
        .await
        .unwrap();
    assert_eq!(pending.paid, fee.total);
    assert_eq!(client.get_info().await.unwrap().pending_requests, 1);
    let listed = client.list_pending_requests(0, 10).await.unwrap();
    assert_eq!(listed[0].request_id, pending.request_id);
    // Without the event (as on NEAR while the yield waits), the request is found by what it is.
    let sender = listed[0].requester.clone();
    let described = NewRequest {
        sender: &sender,
        model_id: &model_id,
        input: "What is 2+2?",
        params: &params(),
        first_possible_id: 0,
    };
    // (Found by another client: this one claimed it for the request it sent.)
    let reader = OracleClient::new(client.rpc().clone(), client.contract());
    assert_eq!(client.find_new_request(&described).await.unwrap(), None);
    assert_eq!(
        reader.find_new_request(&described).await.unwrap(),
        Some(pending.request_id)
    );
    let other_input = NewRequest {
        input: "What is 3+3?",
        ..described
    };
    assert_eq!(reader.find_new_request(&other_input).await.unwrap(), None);
    // The same request again: each gets its own id, by event and by contents alike.
    let again = client
        .request(&model_id, "What is 2+2?", &params())
        .await
        .unwrap();
    assert_ne!(again.request_id, pending.request_id);
    assert_eq!(
        reader.find_new_request(&described).await.unwrap(),
        Some(again.request_id)
    );
    assert_eq!(reader.find_new_request(&described).await.unwrap(), None);
    assert!(matches!(
        pending.wait(Duration::from_millis(500)).await,
        Err(OracleError::WaitTimeout { .. })
    ));

    let chain_id = client.rpc().status().await.unwrap().chain_id;
    let digest = Digest32([7; 32]);
    net.committee_attests(pending.request_id, 2, model_id, "4", digest)
        .await;
    let response = pending.wait(Duration::from_secs(60)).await.unwrap();
    assert_eq!(response.request_id, pending.request_id);
    match &response.status {
        ResponseStatus::Resolved(answer) => {
            assert_eq!(answer.output, "4");
            assert_eq!(answer.result_digest, digest);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client.attestations(pending.request_id).await.unwrap().len(),
        2
    );

    let verification = client.verify(pending.request_id).await.unwrap();
    assert_eq!(verification.result_digest, digest);
    assert_eq!(verification.agreeing.len(), 2);
    assert!(verification.output_checked);
    assert_eq!(verification.reexecution, None, "not re-run");

    // What a lying RPC node could show: each alteration is caught.
    let view = client.get_request(pending.request_id).await.unwrap();
    let keys = node_keys(client).await;
    verify_view(&view, &chain_id, ORACLE, &keys).unwrap();
    let mut altered = view.clone();
    altered.answer.as_mut().unwrap().output = "5".into();
    assert!(matches!(
        verify_view(&altered, &chain_id, ORACLE, &keys),
        Err(VerifyError::OutputAltered { .. })
    ));
    // A whole output shown as a truncated prefix (whose hash cannot be checked), and one whose
    // length the answer does not match: both caught.
    let mut marked_truncated = view.clone();
    marked_truncated.answer.as_mut().unwrap().output_truncated = true;
    assert!(matches!(
        verify_view(&marked_truncated, &chain_id, ORACLE, &keys),
        Err(VerifyError::OutputLength {
            truncated: true,
            ..
        })
    ));
    let mut longer = view.clone();
    longer.answer.as_mut().unwrap().output_bytes += 1;
    assert!(matches!(
        verify_view(&longer, &chain_id, ORACLE, &keys),
        Err(VerifyError::OutputLength {
            truncated: false,
            ..
        })
    ));
    let mut swapped = view.clone();
    swapped.answer.as_mut().unwrap().result_digest = Digest32([8; 32]);
    assert!(matches!(
        verify_view(&swapped, &chain_id, ORACLE, &keys),
        Err(VerifyError::AnswerNotQuorums { .. })
    ));
    let mut forged = view.clone();
    forged.attestations[0].signature.0[3] ^= 1;
    assert!(matches!(
        verify_view(&forged, &chain_id, ORACLE, &keys),
        Err(VerifyError::BadSignature { .. })
    ));
    // A weak key (the identity point) with its any-message signature: not counted.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut weak_keys = keys.clone();
    let weak_node = view.attestations[0].node.clone();
    weak_keys.insert(weak_node.clone(), PublicKey::Ed25519(identity).to_string());
    let mut universal = view.clone();
    universal.attestations[0].signature.0 = [0; 64];
    universal.attestations[0].signature.0[0] = 1;
    match verify_view(&universal, &chain_id, ORACLE, &weak_keys) {
        Err(VerifyError::NoQuorum {
            agreeing: 1,
            unchecked,
            ..
        }) => assert_eq!(unchecked, [weak_node]),
        other => panic!("{other:?}"),
    }
    let mut outsider = view.clone();
    outsider
        .committee
        .retain(|n| n != &view.attestations[0].node);
    assert!(matches!(
        verify_view(&outsider, &chain_id, ORACLE, &keys),
        Err(VerifyError::NotOnCommittee { .. })
    ));
    let mut lonely = view.clone();
    lonely.attestations.truncate(1);
    assert!(matches!(
        verify_view(&lonely, &chain_id, ORACLE, &keys),
        Err(VerifyError::NoQuorum {
            agreeing: 1,
            quorum: 2,
            ..
        })
    ));
    // A view that shrinks the quorum to what one attestation reaches: no such request exists.
    let mut one_of_two = lonely.clone();
    one_of_two.quorum = 1;
    assert!(matches!(
        verify_view(&one_of_two, &chain_id, ORACLE, &keys),
        Err(VerifyError::ImpossibleQuorum { quorum: 1, .. })
    ));
    // A node that withdrew has no key any more: its attestation is unchecked, not counted.
    let withdrawn = &view.attestations[0].node;
    let mut remaining = keys.clone();
    remaining.remove(withdrawn);
    match verify_view(&view, &chain_id, ORACLE, &remaining) {
        Err(VerifyError::NoQuorum {
            agreeing: 1,
            quorum: 2,
            unchecked,
        }) => assert_eq!(&unchecked, std::slice::from_ref(withdrawn)),
        other => panic!("{other:?}"),
    }
    // A request still pending is reported as such, whatever its attestations.
    let mut pending_view = lonely.clone();
    pending_view.status = oracle_protocol::RequestPhase::Pending;
    pending_view.answer = None;
    assert!(matches!(
        verify_view(&pending_view, &chain_id, ORACLE, &keys),
        Err(VerifyError::NotResolved { .. })
    ));
    // One that timed out will never have an answer: the message does not say "yet".
    let mut timed_out_view = pending_view.clone();
    timed_out_view.status = oracle_protocol::RequestPhase::TimedOut;
    let timed_out = verify_view(&timed_out_view, &chain_id, ORACLE, &keys).unwrap_err();
    assert!(
        matches!(timed_out, VerifyError::NotResolved { .. })
            && timed_out
                .to_string()
                .contains("timed out without an answer"),
        "{timed_out}"
    );
    assert!(matches!(
        verify_view(&view, "mainnet", ORACLE, &keys),
        Err(VerifyError::BadSignature { .. })
    ));
    assert!(matches!(
        client.verify(999).await,
        Err(VerifyError::Oracle(OracleError::UnknownRequest {
            request_id: 999,
            ..
        }))
    ));
    net.chain.shutdown().await;
}

fn tiny_model(dir: &Path, seed: u64) -> (Engine, ModelId) {
    let path = dir.join(format!("tiny-{seed}.gguf"));
    TinyModel {
        seed,
        ..TinyModel::default()
    }
    .write(&path)
    .unwrap();
    let model_id = Digest32(Sha256::digest(std::fs::read(&path).unwrap()).into());
    (
        Engine::load(&path, KernelPath::Scalar, 1).unwrap(),
        model_id,
    )
}

/// Asks `question` of model `model_id` and runs the request on `engine` as an honest node would.
async fn ask_and_run(
    net: &Deployment,
    engine: &Engine,
    model_id: ModelId,
    question: &str,
) -> (PendingRequest, Generation) {
    let client = &net.client;
    let pending = client
        .request(&model_id, question, &params())
        .await
        .unwrap();
    let chain_id = client.rpc().status().await.unwrap().chain_id;
    let view = client.get_request(pending.request_id).await.unwrap();
    let key = RequestKey {
        chain_id: &chain_id,
        oracle_contract: ORACLE,
        request_id: pending.request_id,
    };
    let generation = engine
        .generate(&engine_request(&key, &view.input, &view.params).unwrap())
        .unwrap();
    (pending, generation)
}

/// Committee nodes run `engine` (model `model_id`) and attest; re-execution on `engine` confirms
/// the answer and re-execution on `other` (another model) refuses it.
async fn reexecution_confirms(engine: Arc<Engine>, model_id: ModelId, other: Arc<Engine>) {
    let net = deploy(model_id).await;
    let client = &net.client;
    let (pending, generation) =
        ask_and_run(&net, &engine, model_id, "What is the capital of France?").await;
    let chain_id = client.rpc().status().await.unwrap().chain_id;
    let view = client.get_request(pending.request_id).await.unwrap();
    net.committee_attests(
        pending.request_id,
        NODES.len(),
        model_id,
        &generation.text,
        Digest32(generation.digest),
    )
    .await;
    let response = pending.wait(Duration::from_secs(60)).await.unwrap();
    assert!(
        matches!(response.status, ResponseStatus::Resolved(_)),
        "{response:?}"
    );
    let verification = client
        .verify_by_reexecution(pending.request_id, engine.clone())
        .await
        .unwrap();
    assert_eq!(verification.result_digest, Digest32(generation.digest));
    assert_eq!(verification.agreeing.len(), 3);
    assert!(verification.unchecked.is_empty());
    let reexecution = verification.reexecution.expect("re-run here");
    assert_eq!(reexecution.result_digest, Digest32(generation.digest));
    assert_eq!(reexecution.output, generation.text);
    assert!(matches!(
        client
            .verify_by_reexecution(pending.request_id, other)
            .await,
        Err(VerifyError::WrongModel { requested, .. }) if requested == model_id
    ));
    // Keys pinned out of band, one node's missing: the other two still make the quorum.
    let mut pinned = node_keys(client).await;
    let dropped = view.committee[0].clone();
    pinned.remove(&dropped);
    let checked = client
        .verify_pinned(pending.request_id, &chain_id, &pinned)
        .await
        .unwrap();
    assert_eq!(checked.agreeing.len(), 2);
    assert_eq!(checked.unchecked, [dropped]);
    assert!(matches!(
        client
            .verify_pinned(pending.request_id, "mainnet", &pinned)
            .await,
        Err(VerifyError::BadSignature { .. })
    ));
    let rerun = client
        .verify_pinned_by_reexecution(pending.request_id, &chain_id, &pinned, engine.clone())
        .await
        .unwrap();
    assert_eq!(rerun.agreeing.len(), 2);
    assert_eq!(rerun.reexecution.unwrap().output, generation.text);
    // What the signatures alone do not catch: a view with another input. Re-running it gives
    // another digest.
    let mut swapped = client.get_request(pending.request_id).await.unwrap();
    swapped.input = "What is the capital of Spain?".into();
    verify_view(&swapped, &chain_id, ORACLE, &pinned).unwrap();
    assert!(matches!(
        reexecute_view(&swapped, &chain_id, ORACLE, &engine),
        Err(VerifyError::DigestMismatch { .. })
    ));
    net.chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tiny_model_is_confirmed_by_reexecution() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, model_id) = tiny_model(dir.path(), 1);
    let (other, _) = tiny_model(dir.path(), 2);
    reexecution_confirms(Arc::new(engine), model_id, Arc::new(other)).await;
}

/// The default model (`cargo xtask fetch-model`), on this machine's best kernels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_model_is_confirmed_by_reexecution() {
    let path = kernels::model_cache::resolve_model(None)
        .expect("the default model: run `cargo xtask fetch-model`");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let model_id = Digest32(Sha256::digest(&bytes).into());
    let engine = Engine::load(&path, KernelPath::detect(), 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (other, _) = tiny_model(dir.path(), 1);
    reexecution_confirms(Arc::new(engine), model_id, Arc::new(other)).await;
}

fn sha256(text: &str) -> Digest32 {
    Digest32(Sha256::digest(text.as_bytes()).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reexecution_catches_another_output_attached_to_the_honest_digest() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, model_id) = tiny_model(dir.path(), 1);
    let engine = Arc::new(engine);
    let net = deploy(model_id).await;
    let client = &net.client;
    let (pending, honest) = ask_and_run(&net, &engine, model_id, "Approve the claim?").await;
    let chain_id = client.rpc().status().await.unwrap().chain_id;
    let fabricated = format!("FABRICATED {:?}", honest.text);
    net.committee_attests(
        pending.request_id,
        NODES.len(),
        model_id,
        &fabricated,
        Digest32(honest.digest),
    )
    .await;
    let response = pending.wait(Duration::from_secs(60)).await.unwrap();
    assert!(matches!(response.status, ResponseStatus::Resolved(_)));
    // The signatures hold: only re-running the request shows the output is not the model's.
    let signed = client.verify(pending.request_id).await.unwrap();
    assert_eq!(signed.answer.output, fabricated);
    match client
        .verify_by_reexecution(pending.request_id, engine.clone())
        .await
    {
        Err(VerifyError::OutputNotReexecuted { local_output, .. }) => {
            assert_eq!(local_output, honest.text)
        }
        other => panic!("{other:?}"),
    }

    // The same checks on views: the honest answer, whole or truncated to a prefix, passes.
    let resolved = client.get_request(pending.request_id).await.unwrap();
    let reexecute = |view: &RequestView| reexecute_view(view, &chain_id, ORACLE, &engine);
    let with_answer = |output: &str, hash: Digest32, bytes: usize, truncated: bool| {
        let mut view = resolved.clone();
        let answer = view.answer.as_mut().unwrap();
        (answer.output, answer.output_hash) = (output.to_string(), hash);
        (answer.output_bytes, answer.output_truncated) = (bytes as u32, truncated);
        view
    };
    let text = &honest.text;
    let (hash, bytes) = (sha256(text), text.len());
    reexecute(&with_answer(text, hash, bytes, false)).unwrap();
    reexecute(&with_answer("", hash, bytes, true)).unwrap();
    for (view, what) in [
        (
            with_answer(&fabricated, sha256(&fabricated), fabricated.len(), false),
            "another output",
        ),
        (
            with_answer("X", hash, bytes, true),
            "a truncated output that is no prefix",
        ),
        (with_answer(text, hash, bytes + 1, false), "a wrong length"),
        (
            with_answer("X", hash, bytes, false),
            "an output unlike its hash",
        ),
    ] {
        assert!(
            matches!(
                reexecute(&view),
                Err(VerifyError::OutputNotReexecuted { .. })
            ),
            "{what}"
        );
    }
    net.chain.shutdown().await;
}

/// A JSON-RPC endpoint in front of `upstream` that answers `get_request(from)` with request
/// `to` (a lying endpoint serving another request's genuine view).
async fn substituting_endpoint(upstream: String, from: u64, to: u64) -> String {
    use base64::Engine as _;
    common::proxy::proxy_endpoint(upstream, move |call| {
        if call["params"]["method_name"] == "get_request" {
            let b64 = base64::engine::general_purpose::STANDARD;
            let args = b64
                .decode(call["params"]["args_base64"].as_str().unwrap())
                .unwrap();
            let mut args: serde_json::Value = serde_json::from_slice(&args).unwrap();
            if args["request_id"] == from {
                args["request_id"] = to.into();
                call["params"]["args_base64"] = b64.encode(args.to_string()).into();
            }
        }
        true
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_serving_another_requests_answer_is_caught() {
    let model_id = Digest32([42; 32]);
    let net = deploy(model_id).await;
    let client = &net.client;
    let chain_id = client.rpc().status().await.unwrap().chain_id;
    let mut ids = Vec::new();
    for (question, answer) in [("Pay Mallory?", "yes"), ("Pay Mallory 1000 NEAR?", "no")] {
        let pending = client
            .request(&model_id, question, &params())
            .await
            .unwrap();
        net.committee_attests(pending.request_id, 2, model_id, answer, sha256(answer))
            .await;
        pending.wait(Duration::from_secs(60)).await.unwrap();
        ids.push(pending.request_id);
    }
    let keys = node_keys(client).await;
    let lying_url = substituting_endpoint(net.chain.url.clone(), ids[1], ids[0]).await;
    let lying = OracleClient::new(
        sdk::rpc::NearRpc::new(vec![lying_url], sdk::rpc::RetryPolicy::default()).unwrap(),
        ORACLE,
    );
    assert!(matches!(
        lying.get_request(ids[1]).await,
        Err(OracleError::WrongRequest { .. })
    ));
    for verified in [
        lying.verify(ids[1]).await,
        lying.verify_pinned(ids[1], &chain_id, &keys).await,
    ] {
        match verified {
            Err(VerifyError::Oracle(OracleError::WrongRequest { asked, returned })) => {
                assert_eq!((asked, returned), (ids[1], ids[0]))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(client.verify(ids[1]).await.unwrap().answer.output, "no");
    net.chain.shutdown().await;
}
