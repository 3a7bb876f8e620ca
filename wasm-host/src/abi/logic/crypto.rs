//! Hash and signature host functions.

use super::Logic;
use crate::abi::{External, HostError, MemoryLike};
use crate::fees::Ext;
use sha2::Digest;

impl<E: External> Logic<E> {
    /// SHA-256 of the input, into a register.
    pub fn sha256(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.hash::<sha2::Sha256>(mem, value_len, value_ptr, register_id, HASH_SHA256)
    }

    /// Keccak-256 of the input, into a register.
    pub fn keccak256(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.hash::<sha3::Keccak256>(mem, value_len, value_ptr, register_id, HASH_KECCAK256)
    }

    /// Keccak-512 of the input, into a register.
    pub fn keccak512(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.hash::<sha3::Keccak512>(mem, value_len, value_ptr, register_id, HASH_KECCAK512)
    }

    /// SHA3-256 of the input, into a register.
    pub fn sha3_256(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.hash::<sha3::Sha3_256>(mem, value_len, value_ptr, register_id, HASH_SHA3_256)
    }

    /// SHA3-384 of the input, into a register.
    pub fn sha3_384(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.hash::<sha3::Sha3_384>(mem, value_len, value_ptr, register_id, HASH_SHA3_384)
    }

    /// SHA3-512 of the input, into a register.
    pub fn sha3_512(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.hash::<sha3::Sha3_512>(mem, value_len, value_ptr, register_id, HASH_SHA3_512)
    }

    /// RIPEMD-160 of the input, into a register; charged per 64-byte block.
    pub fn ripemd160(
        &mut self,
        mem: &mut dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
    ) -> Result<(), HostError> {
        self.charge(Ext::ripemd160_base)?;
        let value = self.memory_or_register(mem, value_ptr, value_len)?;
        let blocks = (value.len() as u64 + 8) / 64 + 1;
        self.charge_n(Ext::ripemd160_block, blocks)?;
        let digest = ripemd::Ripemd160::digest(&value);
        self.set_register(register_id, &digest)
    }

    /// Verifies an ed25519 signature (64 bytes) of a message by a public key (32 bytes): 1 if
    /// valid, 0 if not.
    #[allow(clippy::too_many_arguments)]
    pub fn ed25519_verify(
        &mut self,
        mem: &mut dyn MemoryLike,
        signature_len: u64,
        signature_ptr: u64,
        message_len: u64,
        message_ptr: u64,
        public_key_len: u64,
        public_key_ptr: u64,
    ) -> Result<u64, HostError> {
        use ed25519_dalek::Verifier;
        self.charge(Ext::ed25519_verify_base)?;
        let signature = self.memory_or_register(mem, signature_ptr, signature_len)?;
        let signature: [u8; 64] = signature
            .try_into()
            .map_err(|_| HostError::Ed25519VerifyInvalidInput("invalid signature length"))?;
        // NEAR keeps the high-bits check ed25519-dalek 1 made, so that costs stay the same.
        if signature[63] & 0b1110_0000 != 0 {
            return Ok(0);
        }
        let signature = ed25519_dalek::Signature::from_bytes(&signature);
        let message = self.memory_or_register(mem, message_ptr, message_len)?;
        self.charge_n(Ext::ed25519_verify_byte, message.len() as u64)?;
        let public_key = self.memory_or_register(mem, public_key_ptr, public_key_len)?;
        let public_key: [u8; 32] = public_key
            .try_into()
            .map_err(|_| HostError::Ed25519VerifyInvalidInput("invalid public key length"))?;
        let Ok(public_key) = ed25519_dalek::VerifyingKey::from_bytes(&public_key) else {
            return Ok(0);
        };
        Ok(u64::from(public_key.verify(&message, &signature).is_ok()))
    }

    fn hash<D: Digest>(
        &mut self,
        mem: &dyn MemoryLike,
        value_len: u64,
        value_ptr: u64,
        register_id: u64,
        (base_cost, per_byte): (Ext, Ext),
    ) -> Result<(), HostError> {
        self.charge(base_cost)?;
        let value = self.memory_or_register(mem, value_ptr, value_len)?;
        self.charge_n(per_byte, value.len() as u64)?;
        let digest = D::digest(&value);
        self.set_register(register_id, &digest)
    }
}

const HASH_SHA256: (Ext, Ext) = (Ext::sha256_base, Ext::sha256_byte);
const HASH_KECCAK256: (Ext, Ext) = (Ext::keccak256_base, Ext::keccak256_byte);
const HASH_KECCAK512: (Ext, Ext) = (Ext::keccak512_base, Ext::keccak512_byte);
const HASH_SHA3_256: (Ext, Ext) = (Ext::sha3_256_base, Ext::sha3_256_byte);
const HASH_SHA3_384: (Ext, Ext) = (Ext::sha3_384_base, Ext::sha3_384_byte);
const HASH_SHA3_512: (Ext, Ext) = (Ext::sha3_512_base, Ext::sha3_512_byte);
