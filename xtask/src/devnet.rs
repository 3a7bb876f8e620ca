//! The main job. Until the RPC chain's node daemons take over, it runs the whole oracle flow in
//! one process on the default model (`e2e_tests::demo`): the contracts on the in-process NEAR
//! chain, three staked nodes each with a differently configured engine (SIMD on every core, SIMD
//! on one thread, the scalar reference), and the example dApp, and fails unless the nodes'
//! digests agree bit for bit.

use crate::{contracts, fetch_model, step};
use anyhow::Result;
use e2e_tests::demo::run_in_process;
use kernels::model_cache::DEFAULT_MODEL;
use kernels::quant::KernelPath;

const QUESTION: &str = "What is the capital of France?";

pub fn run() -> Result<()> {
    contracts::build_all()?;
    let model = fetch_model()?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let nodes = [
        (KernelPath::detect(), threads),
        (KernelPath::detect(), 1),
        (KernelPath::Scalar, 1),
    ];
    run_in_process(
        &model,
        DEFAULT_MODEL.sha256.parse()?,
        &nodes,
        QUESTION,
        &mut |line| {
            if line.starts_with(' ') || line.starts_with("every node") {
                println!("{line}");
            } else {
                step(&line);
            }
        },
    )?;
    Ok(())
}
