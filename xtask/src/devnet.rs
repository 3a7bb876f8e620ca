//! The main job. Until the local chain and the nodes land, it builds and checks every contract,
//! fetches and verifies the model, and describes both — real work on what exists.

use crate::{contracts, fetch_model, step};
use anyhow::{Context, Result};
use kernels::model_info::GgufSummary;
use wasm_host::prepare::prepare;

pub fn run() -> Result<()> {
    let built = contracts::build_all()?;
    let model = fetch_model()?;
    step("inspect");
    for contract in &built {
        let wasm = std::fs::read(&contract.path)?;
        let summary = prepare(&wasm)?;
        println!(
            "{}: {} methods ({}), {} host functions",
            contract.package,
            summary.exports.len(),
            summary.exports.join(", "),
            summary.imports.len()
        );
    }
    let summary = GgufSummary::read(&model).context("reading the model")?;
    println!(
        "model: {} ({}), {} layers, {} tensors {:?}, {} parameters, context {}",
        summary.name.as_deref().unwrap_or("unnamed"),
        summary
            .architecture
            .as_deref()
            .unwrap_or("unknown architecture"),
        summary.block_count.unwrap_or(0),
        summary.tensor_count,
        summary.tensors_by_type,
        summary.parameter_count,
        summary.context_length.unwrap_or(0)
    );
    Ok(())
}
