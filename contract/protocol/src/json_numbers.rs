//! Large integers as decimal JSON strings, as NEAR does (`"1000000"`): JSON readers such as
//! JavaScript lose precision above 2^53, so u64 seeds and u128 yoctoNEAR amounts travel as text.

/// `u64` as a decimal string.
pub mod u64_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `u128` as a decimal string.
pub mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Amounts {
        #[serde(with = "super::u64_string")]
        seed: u64,
        #[serde(with = "super::u128_string")]
        fee: u128,
    }

    #[test]
    fn big_numbers_are_strings() {
        let value = Amounts {
            seed: u64::MAX,
            fee: u128::MAX,
        };
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"seed":"{}","fee":"{}"}}"#, u64::MAX, u128::MAX)
        );
        assert_eq!(serde_json::from_str::<Amounts>(&json).unwrap(), value);
        assert!(serde_json::from_str::<Amounts>(r#"{"seed":1,"fee":"1"}"#).is_err());
        assert!(serde_json::from_str::<Amounts>(r#"{"seed":"-1","fee":"1"}"#).is_err());
    }
}
