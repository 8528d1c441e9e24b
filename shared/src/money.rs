//! Money: stored records hold integer cents ([`Cents`]); the HTTP JSON shows decimal dollars
//! (`"price": 19.99`) as the spec does. Conversions happen here and only at the API boundary, so
//! sums, tax and shipping are exact integer arithmetic.
//!
//! Hand-written rather than a decimal crate: every amount has exactly two fraction digits, so an
//! `i64` of cents is the whole model, and the one conversion that needs care (a JSON number, which
//! serde gives as an `f64`, to cents) goes through Rust's shortest round-trip decimal form of the
//! `f64`, which is the text the client sent for any amount below 2^53 cents.

use std::{fmt, iter::Sum, ops::Add};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest amount accepted (10^15 cents, 10 trillion dollars): below 2^53, so every amount
/// converts to an `f64` and back without losing a cent.
pub const MAX_CENTS: i64 = 1_000_000_000_000_000;

/// An amount of money in integer cents (stored as a plain integer).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

/// Why a decimal amount is not a number of cents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a finite number")]
    NotFinite,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most 2 decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
    #[error("is not a decimal number")]
    Malformed,
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// Exact conversion of a decimal amount (a JSON number) with at most two fraction digits.
    pub fn from_decimal(v: f64) -> Result<Self, MoneyError> {
        if !v.is_finite() {
            return Err(MoneyError::NotFinite);
        }
        if v < 0.0 {
            return Err(MoneyError::Negative);
        }
        // `Display` of an f64 is the shortest text that reads back as the same f64, never in
        // exponent form: `19.99` -> "19.99", `1e-7` -> "0.0000001".
        match Self::parse(&v.to_string()) {
            // Arithmetic on binary floats lands next to the cent it means: `29 * 0.01` is
            // 0.29000000000000004, `0.1 + 0.2` is 0.30000000000000004 (what JSON Schema's
            // `multipleOf: 0.01` accepts too). Within a millionth of a cent, it is that cent.
            Err(MoneyError::TooPrecise) => {
                let cents = v * 100.0;
                let whole = cents.round();
                if (cents - whole).abs() < 1e-6 && whole >= 1.0 {
                    Self::parse(&format!("{}", whole / 100.0)).or(Ok(Cents(whole as i64)))
                } else {
                    Err(MoneyError::TooPrecise)
                }
            }
            other => other,
        }
    }

    /// Parses `"19.99"`, `"20"`, `"0.5"`: digits, an optional point and at most two digits.
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if s.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) {
            return Err(MoneyError::Malformed);
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
        let frac: i64 = format!("{frac:0<2}")
            .parse()
            .map_err(|_| MoneyError::Malformed)?;
        let cents = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .filter(|c| *c <= MAX_CENTS)
            .ok_or(MoneyError::TooLarge)?;
        Ok(Cents(cents))
    }

    /// The nearest cent to a decimal amount (records written before money was kept in cents,
    /// demo data, test fixtures). Saturates outside `i64`; `NaN` gives 0.
    pub fn round_from(v: f64) -> Self {
        Cents((v * 100.0).round() as i64)
    }

    /// The smallest amount of cents at or above `v` dollars (a `min_price` bound), read as
    /// the decimal the client wrote: `0.29` is 29 cents, not 29.000000000000004.
    pub fn at_least(v: f64) -> Self {
        Cents(snap(v * 100.0).unwrap_or_else(|| (v * 100.0).ceil()) as i64)
    }

    /// The largest amount of cents at or below `v` dollars (a `max_price` bound).
    pub fn at_most(v: f64) -> Self {
        Cents(snap(v * 100.0).unwrap_or_else(|| (v * 100.0).floor()) as i64)
    }

    /// Dollars for a JSON response: the f64 nearest to the decimal (`1999` -> `19.99`, the
    /// same f64 as the literal `19.99`, since the division is correctly rounded).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// This amount times a quantity.
    pub fn times(self, quantity: i64) -> Self {
        Cents(self.0.saturating_mul(quantity))
    }

    /// `percent`% of this amount, truncated to the cent (the spec's tax: 8% of 1999.98 is 159.99).
    pub fn percent_floor(self, percent: i64) -> Self {
        Cents(self.0.saturating_mul(percent).div_euclid(100))
    }
}

/// `x` as a whole number when it is within float noise of one.
fn snap(x: f64) -> Option<f64> {
    let r = x.round();
    ((x - r).abs() < 1e-6).then_some(r)
}

impl Add for Cents {
    type Output = Cents;
    fn add(self, rhs: Cents) -> Cents {
        Cents(self.0.saturating_add(rhs.0))
    }
}

impl Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents::ZERO, Add::add)
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// A `validator` rule for decimal amounts in request bodies (finite, not negative, at most two
/// fraction digits, at most [`MAX_CENTS`]): failures are the usual 422 field errors.
pub fn validate_amount(v: f64) -> Result<(), validator::ValidationError> {
    Cents::from_decimal(v)
        .map(|_| ())
        .map_err(|e| validator::ValidationError::new("amount").with_message(e.to_string().into()))
}

/// Reads records written before money was kept in cents: for each `field`, when the item has no
/// `{field}_cents` attribute but a decimal `field`, the decimal becomes `{field}_cents` (rounded to
/// the cent). Old items are rewritten in the new form by their next full write.
pub fn upgrade_legacy(item: &mut serde_json::Map<String, Value>, fields: &[&str]) {
    for field in fields {
        let new = format!("{field}_cents");
        if item.contains_key(&new) {
            continue;
        }
        match item.remove(*field) {
            Some(Value::Number(n)) => {
                let cents = n.as_f64().map_or(0, |v| Cents::round_from(v).0);
                item.insert(new, Value::from(cents));
            }
            Some(Value::Null) => {
                item.insert(new, Value::Null);
            }
            Some(other) => {
                item.insert((*field).to_string(), other);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_with_two_places_convert_exactly() {
        assert_eq!(Cents::from_decimal(19.99), Ok(Cents(1999)));
        assert_eq!(Cents::from_decimal(0.29), Ok(Cents(29)));
        assert_eq!(Cents::from_decimal(20.0), Ok(Cents(2000)));
        assert_eq!(Cents::from_decimal(0.5), Ok(Cents(50)));
        assert_eq!(Cents::from_decimal(0.0), Ok(Cents(0)));
        assert_eq!(Cents::from_decimal(1999.98), Ok(Cents(199_998)));
        assert_eq!(Cents::from_decimal(10_000_000.0), Ok(Cents(1_000_000_000)));
        // Round trip: cents -> JSON f64 -> cents, and the f64 is the literal's.
        for c in [1, 29, 1999, 199_998, 123_456_789, MAX_CENTS] {
            assert_eq!(Cents::from_decimal(Cents(c).to_f64()), Ok(Cents(c)));
        }
        assert_eq!(Cents(1999).to_f64(), 19.99);
        assert_eq!(Cents(1999).to_string(), "19.99");
        assert_eq!(Cents(5).to_string(), "0.05");
    }

    #[test]
    fn sums_are_exact_where_floats_are_not() {
        assert_ne!(0.1 + 0.2, 0.3);
        let sum: Cents = [0.1, 0.2]
            .into_iter()
            .map(|v| Cents::from_decimal(v).unwrap())
            .sum();
        assert_eq!((sum, sum.to_f64()), (Cents(30), 0.3));
    }

    #[test]
    fn imprecise_or_impossible_amounts_are_refused() {
        assert_eq!(Cents::from_decimal(19.999), Err(MoneyError::TooPrecise));
        // Float arithmetic next to a cent is that cent; a tiny non-zero amount is not 0.
        assert_eq!(Cents::from_decimal(29.0 * 0.01), Ok(Cents(29)));
        assert_eq!(Cents::from_decimal(0.1 + 0.2), Ok(Cents(30)));
        assert_eq!(Cents::from_decimal(5e-324), Err(MoneyError::TooPrecise));
        assert_eq!(Cents::from_decimal(0.001), Err(MoneyError::TooPrecise));
        assert_eq!(Cents::from_decimal(1e-7), Err(MoneyError::TooPrecise));
        assert_eq!(Cents::from_decimal(f64::NAN), Err(MoneyError::NotFinite));
        assert_eq!(
            Cents::from_decimal(f64::INFINITY),
            Err(MoneyError::NotFinite)
        );
        // What serde_json makes of `1e400`.
        let parsed: f64 = "1e400".parse().unwrap();
        assert_eq!(Cents::from_decimal(parsed), Err(MoneyError::NotFinite));
        assert_eq!(Cents::from_decimal(1e300), Err(MoneyError::TooLarge));
        assert_eq!(Cents::from_decimal(-1.0), Err(MoneyError::Negative));
        assert_eq!(Cents::parse("1.2.3"), Err(MoneyError::Malformed));
        assert_eq!(Cents::parse(".5"), Err(MoneyError::Malformed));
        assert_eq!(Cents::parse("1.50"), Ok(Cents(150)));
        assert!(validate_amount(19.999).is_err());
        assert!(validate_amount(19.99).is_ok());
    }

    #[test]
    fn bounds_and_percentages() {
        assert_eq!(Cents::at_least(0.29), Cents(29));
        assert_eq!(Cents::at_most(0.29), Cents(29));
        assert_eq!(Cents::at_least(10.005), Cents(1001));
        assert_eq!(Cents::at_most(10.005), Cents(1000));
        assert_eq!(Cents::at_most(1e300), Cents(i64::MAX));
        assert_eq!(Cents(199_998).percent_floor(8), Cents(15_999));
        assert_eq!(Cents(1999).times(3), Cents(5997));
    }

    #[test]
    fn legacy_decimal_attributes_become_cents() {
        let mut item = serde_json::json!({"price": 19.99, "compare_price": null, "x": 1})
            .as_object()
            .unwrap()
            .clone();
        upgrade_legacy(&mut item, &["price", "compare_price", "absent"]);
        assert_eq!(
            Value::Object(item),
            serde_json::json!({"price_cents": 1999, "compare_price_cents": null, "x": 1})
        );
        // The new attribute wins when both are there.
        let mut both = serde_json::json!({"price": 1.0, "price_cents": 250})
            .as_object()
            .unwrap()
            .clone();
        upgrade_legacy(&mut both, &["price"]);
        assert_eq!(both["price_cents"], 250);
    }
}
