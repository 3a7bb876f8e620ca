//! The integrator's walkthrough (README.md) as a program: ask the oracle a question, wait for the
//! answer, check it offline (signatures, committee, quorum, output hash) and by re-running it on
//! a local engine.
//!
//! ```sh
//! cargo run -p sdk --example ask_and_verify -- http://127.0.0.1:3030 oracle.test \
//!     target/devnet/chain/keys/alice.test.json "What is 2+2?"
//! ```

use anyhow::{bail, Context, Result};
use kernels::engine::Engine;
use kernels::model_cache::resolve_model;
use kernels::quant::KernelPath;
use oracle_protocol::{RequestParams, ResponseStatus};
use sdk::oracle::OracleClient;
use sdk::rpc::{NearRpc, RetryPolicy};
use sdk::signer::Signer;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, oracle_contract, credentials, question] = args.as_slice() else {
        bail!("usage: ask_and_verify <rpc url> <oracle contract> <credentials file> <question>");
    };
    let rpc = NearRpc::new(vec![url.clone()], RetryPolicy::default())?;
    let signer = Signer::from_credentials_file(rpc.clone(), Path::new(credentials))?;
    let oracle = OracleClient::new(rpc, oracle_contract.as_str()).with_signer(signer);

    let model = oracle
        .list_models(0, 1)
        .await?
        .into_iter()
        .next()
        .context("the oracle has no model registered")?;
    let params = RequestParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: 16,
        seed: 0,
        output_schema: None,
    };
    let pending = oracle.request(&model.model_id, question, &params).await?;
    println!(
        "request {} sent (paid {} yoctoNEAR)",
        pending.request_id, pending.paid
    );
    let response = pending.wait(Duration::from_secs(180)).await?;
    let answer = match response.status {
        ResponseStatus::Resolved(answer) => answer,
        other => bail!("no answer: {other:?}"),
    };
    println!("answer: {:?}", answer.output);

    let checked = oracle.verify(pending.request_id).await?;
    // The verified answer is the request's view; it must be the one shown above.
    if checked.answer != answer {
        bail!(
            "the answer shown is not the verified one: {answer:?} vs {:?}",
            checked.answer
        );
    }
    println!(
        "verified offline: {} of quorum {} agree on digest {}",
        checked.agreeing.len(),
        checked.quorum,
        checked.result_digest
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let engine = Engine::load(&resolve_model(None)?, KernelPath::detect(), threads)?;
    let rerun = oracle
        .verify_by_reexecution(pending.request_id, Arc::new(engine))
        .await?;
    println!("re-executed here: same digest {}", rerun.result_digest);
    Ok(())
}
