//! Function calls per second and gas burnt for a fixed set of contract calls on the in-process
//! chain. Run after `cargo xtask build-contracts`:
//! `cargo run --release -p wasm-host --example bench`.

use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wasm_host::abi::Action;
use wasm_host::chain::{Chain, FinalStatus, ONE_NEAR, TGAS};

/// Gas NEAR charges for a plain NEAR transfer between two named accounts, as NEAR's
/// documentation states it, rounded to two digits ("Transfer: 0.45 TGas", docs.near.org).
const NEAR_TRANSFER_GAS: u64 = 450_000_000_000;
const ROUNDS: u32 = 200;

fn contract(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/contracts")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask build-contracts` first",
            path.display()
        )
    })
}

fn main() {
    let mut chain = Chain::new();
    chain
        .create_account("alice.test", 1_000_000 * ONE_NEAR)
        .unwrap();
    chain.create_account("bob.test", ONE_NEAR).unwrap();
    for (account, name) in [
        ("status.test", "test_status"),
        ("cross.test", "test_cross"),
        ("crypto.test", "test_crypto"),
    ] {
        chain.create_account(account, 100 * ONE_NEAR).unwrap();
        chain.deploy(account, contract(name)).unwrap();
        chain
            .call(account, account, "new", "{}", 0, 100 * TGAS)
            .unwrap();
    }
    println!(
        "{:<34} {:>10} {:>14} {:>10}",
        "call", "calls/s", "gas burnt", "vs NEAR"
    );
    let message = json!({"message": "hello"}).to_string();
    bench(
        &mut chain,
        "set_status (storage write, event)",
        None,
        |chain| {
            chain.call(
                "alice.test",
                "status.test",
                "set_status",
                message.clone(),
                0,
                30 * TGAS,
            )
        },
    );
    let echo = json!({"target": "status.test", "value": "x"}).to_string();
    bench(
        &mut chain,
        "echo_via (cross-contract + callback)",
        None,
        |chain| {
            chain.call(
                "alice.test",
                "cross.test",
                "echo_via",
                echo.clone(),
                0,
                100 * TGAS,
            )
        },
    );
    let sha = json!({"data": "abc"}).to_string();
    bench(&mut chain, "sha256 (function call)", None, |chain| {
        chain.call(
            "alice.test",
            "crypto.test",
            "sha256",
            sha.clone(),
            0,
            30 * TGAS,
        )
    });
    bench(
        &mut chain,
        "transfer (no contract)",
        Some(NEAR_TRANSFER_GAS),
        |chain| {
            let transfer = Action::Transfer { deposit: 1 };
            chain.execute("alice.test", "bob.test", vec![transfer])
        },
    );
    let account = json!({"account_id": "alice.test"}).to_string();
    let start = Instant::now();
    for _ in 0..ROUNDS {
        chain
            .view("status.test", "get_status", account.clone())
            .unwrap();
    }
    let rate = f64::from(ROUNDS) / start.elapsed().as_secs_f64();
    println!(
        "{:<34} {:>10.0} {:>14} {:>10}",
        "get_status (view)", rate, "-", "-"
    );
}

/// Runs `call` ROUNDS times; prints calls per second and the gas one call burns in total.
fn bench(
    chain: &mut Chain,
    name: &str,
    near_gas: Option<u64>,
    mut call: impl FnMut(&mut Chain) -> Result<wasm_host::chain::TxResult, wasm_host::chain::ChainError>,
) {
    let start = Instant::now();
    let mut gas = 0;
    for _ in 0..ROUNDS {
        let result = call(chain).expect("call accepted");
        assert!(
            matches!(result.status, FinalStatus::SuccessValue(_)),
            "{name}: {:?}",
            result.status
        );
        gas = result.total_gas_burnt();
    }
    let rate = f64::from(ROUNDS) / start.elapsed().as_secs_f64();
    let ratio = near_gas.map_or("-".to_string(), |near| {
        format!("{:.3}", gas as f64 / near as f64)
    });
    println!("{name:<34} {rate:>10.0} {gas:>14} {ratio:>10}");
}
