//! Hash and ed25519 host functions against known vectors, through a real contract.

mod common;

use common::chain_with;
use serde_json::json;

fn chain() -> wasm_host::chain::Chain {
    chain_with(&[("crypto.test", "test_crypto")])
}

fn view(
    chain: &wasm_host::chain::Chain,
    method: &str,
    args: serde_json::Value,
) -> serde_json::Value {
    chain
        .view("crypto.test", method, args.to_string())
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn hashes_match_known_vectors() {
    let chain = chain();
    let abc = json!({"data": "abc"});
    assert_eq!(
        view(&chain, "sha256", abc.clone()),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        view(&chain, "keccak256", abc.clone()),
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    );
    assert_eq!(
        view(&chain, "ripemd160", abc),
        "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    );
}

/// RFC 8032, section 7.1, tests 1 and 2.
#[test]
fn ed25519_verifies_rfc8032_vectors() {
    let chain = chain();
    let test1 = json!({
        "signature": "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        "message": "",
        "public_key": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    });
    assert_eq!(view(&chain, "ed25519_verify", test1), true);
    let test2 = json!({
        "signature": "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        "message": "72",
        "public_key": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    });
    assert_eq!(view(&chain, "ed25519_verify", test2), true);
    let tampered = json!({
        "signature": "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        "message": "73",
        "public_key": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    });
    assert_eq!(view(&chain, "ed25519_verify", tampered), false);
}
