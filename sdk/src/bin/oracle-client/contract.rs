//! `call` and `view`: any contract's methods from the command line (the dApp, the vault, the
//! oracle's own), so the devnet can be driven without another NEAR tool.

use anyhow::{anyhow, bail, Context, Result};
use sdk::rpc::{NearRpc, TxOutcome};
use sdk::signer::Signer;
use serde_json::Value;

const ONE_NEAR: u128 = 10u128.pow(24);
const TGAS: u64 = 10u64.pow(12);
/// The most gas one function call may attach on NEAR.
const MAX_TGAS: u64 = 300;

/// A decimal NEAR amount (`2`, `0.5`, `0.000000000000000000000001`) as yoctoNEAR, exactly.
pub fn parse_near(text: &str) -> Result<u128, String> {
    let bad = || format!("`{text}` is not a NEAR amount (a decimal such as 2 or 0.25)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    if fraction.len() > 24 {
        return Err(format!(
            "`{text}` has more than 24 decimals (1 yoctoNEAR = 0.000000000000000000000001 NEAR)"
        ));
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let fraction: u128 = format!("{fraction:0<24}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(ONE_NEAR)
        .and_then(|yocto| yocto.checked_add(fraction))
        .ok_or_else(|| format!("`{text}` NEAR is more than a u128 of yoctoNEAR"))
}

/// Gas in TGas, at most what a function call may attach.
pub fn parse_tgas(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(tgas) if (1..=MAX_TGAS).contains(&tgas) => Ok(tgas),
        _ => Err(format!("`{text}`: give the gas in TGas, 1 to {MAX_TGAS}")),
    }
}

/// The JSON arguments as given on the command line.
fn arguments(args: &str) -> Result<Value> {
    serde_json::from_str(args).with_context(|| format!("the arguments `{args}` are not JSON"))
}

/// Calls view method `method` of `contract` and prints its result.
pub async fn view(rpc: &NearRpc, contract: &str, method: &str, args: &str) -> Result<()> {
    let bytes = rpc
        .view_function(contract, method, &arguments(args)?)
        .await?;
    println!("{}", shown(&bytes));
    Ok(())
}

/// Calls `method` of `contract` as `signer` and prints what the transaction did: its NEP-297
/// events, gas, and the final return value (or the error it failed with).
pub async fn call(
    signer: &Signer,
    contract: &str,
    method: &str,
    args: &str,
    deposit: u128,
    tgas: u64,
) -> Result<()> {
    let outcome: TxOutcome = signer
        .call(contract, method, &arguments(args)?, tgas * TGAS, deposit)
        .await?;
    println!(
        "tx {}  gas burnt {:.2} TGas",
        outcome.tx_hash,
        outcome.gas_burnt as f64 / TGAS as f64
    );
    for event in outcome.events() {
        println!("event {} {}", event.event, event.data);
    }
    match outcome.value() {
        Ok(bytes) => {
            println!("{}", shown(bytes));
            Ok(())
        }
        Err(error) => bail!(anyhow!(error).context(format!("{contract}.{method} failed"))),
    }
}

/// A return value as pretty JSON, else as text, else as hex.
fn shown(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(no return value)".into();
    }
    if let Ok(json) = serde_json::from_slice::<Value>(bytes) {
        return serde_json::to_string_pretty(&json).expect("JSON prints");
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_amounts_are_exact() {
        assert_eq!(parse_near("2"), Ok(2 * ONE_NEAR));
        assert_eq!(parse_near("0.5"), Ok(ONE_NEAR / 2));
        assert_eq!(parse_near(".25"), Ok(ONE_NEAR / 4));
        assert_eq!(parse_near("1."), Ok(ONE_NEAR));
        assert_eq!(parse_near("0.000000000000000000000001"), Ok(1));
        assert_eq!(parse_near("0"), Ok(0));
        for bad in ["", ".", "-1", "1e3", "1,5", "0x10", " 1"] {
            assert!(parse_near(bad).is_err(), "{bad}");
        }
        assert!(parse_near("0.0000000000000000000000001")
            .unwrap_err()
            .contains("more than 24 decimals"));
        assert!(parse_near("340282366920939").unwrap_err().contains("u128"));
    }

    #[test]
    fn gas_is_bounded() {
        assert_eq!(parse_tgas("300"), Ok(300));
        assert!(parse_tgas("301").is_err());
        assert!(parse_tgas("0").is_err());
    }

    #[test]
    fn return_values_are_shown_readably() {
        assert_eq!(shown(b""), "(no return value)");
        assert_eq!(shown(b"\"paid\""), "\"paid\"");
        assert_eq!(shown(b"{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(shown(&[0xff, 0x01]), "ff01");
    }
}
