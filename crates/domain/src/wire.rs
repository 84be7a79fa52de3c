//! Reading the integers of requests as JSON Schema (and so the OpenAPI document) defines them: a
//! JSON number without a fractional part, whether it is written `19` or `19.0`. Generated
//! clients and JavaScript's number formatting send both; refusing `19.0` would refuse a request
//! the published schema allows.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// An integer read from any JSON number that has no fractional part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Whole(pub i64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WholeVisitor)
    }
}

struct WholeVisitor;

impl Visitor<'_> for WholeVisitor {
    type Value = Whole;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Whole, E> {
        Ok(Whole(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Whole, E> {
        i64::try_from(value)
            .map(Whole)
            .map_err(|_| E::custom(format!("{value} is too large")))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Whole, E> {
        // 2^63 is exactly representable; anything at or beyond it does not fit an i64.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if value.is_finite() && value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
            Ok(Whole(value as i64))
        } else {
            Err(E::custom(format!("{value} is not an integer")))
        }
    }
}

/// The smallest and largest id: core's ids are positive 32-bit integers.
pub const ID_MIN: i64 = 1;
pub const ID_MAX: i64 = i32::MAX as i64;

/// Reads a positive 32-bit id (a user, organization, game mode or skill group id).
pub fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let Whole(value) = Whole::deserialize(deserializer)?;
    checked_id(value).map_err(de::Error::custom)
}

/// Reads an optional id (absent or `null` is `None`).
pub fn optional_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i32>, D::Error> {
    Option::<Whole>::deserialize(deserializer)?
        .map(|Whole(value)| checked_id(value).map_err(de::Error::custom))
        .transpose()
}

fn checked_id(value: i64) -> Result<i32, String> {
    if (ID_MIN..=ID_MAX).contains(&value) {
        Ok(value as i32)
    } else {
        Err(format!(
            "an id is an integer from {ID_MIN} to {ID_MAX}, not {value}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Ids {
        #[serde(deserialize_with = "id")]
        id: i32,
        #[serde(default, deserialize_with = "optional_id")]
        other: Option<i32>,
    }

    fn ids(json: &str) -> Result<Ids, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn whole_numbers_parse_with_or_without_a_fraction() {
        assert_eq!(ids(r#"{"id": 19}"#).expect("19").id, 19);
        assert_eq!(ids(r#"{"id": 19.0}"#).expect("19.0").id, 19);
        assert_eq!(ids(r#"{"id": 1e1}"#).expect("1e1").id, 10);
        assert_eq!(
            ids(r#"{"id": 1, "other": 2.0}"#).expect("other").other,
            Some(2)
        );
        assert_eq!(
            ids(r#"{"id": 1, "other": null}"#).expect("null").other,
            None
        );
    }

    #[test]
    fn fractions_strings_and_out_of_range_ids_are_refused() {
        for bad in [
            r#"{"id": 19.5}"#,
            r#"{"id": "19"}"#,
            r#"{"id": 0}"#,
            r#"{"id": -4}"#,
            r#"{"id": 2147483648}"#,
            r#"{"id": 1e300}"#,
            r#"{"id": 1, "other": 0.0}"#,
        ] {
            assert!(ids(bad).is_err(), "accepted {bad}");
        }
    }
}
