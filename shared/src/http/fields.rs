//! Checks of loosely typed JSON body fields. Bodies that must name each bad field in a 422
//! take such fields as `Option<serde_json::Value>` (a wrong type then reaches the handler
//! instead of failing deserialisation); these turn one into its typed value, pushing a
//! [`FieldError`] naming the field when it is not acceptable.

use serde_json::Value;

use crate::error::FieldError;

/// A string of at most `max` characters, trimmed; `None` when absent or null (or invalid, with
/// an error pushed).
pub fn opt_string(
    field: &str,
    value: &Option<Value>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= max => Some(s.trim().to_string()),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(field, format!("at most {max} characters")));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            None
        }
    }
}

/// [`opt_string`] that must be present and not blank ("Field required" otherwise).
pub fn required_string(
    field: &str,
    value: &Option<Value>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let before = errors.len();
    let s = opt_string(field, value, max, errors).filter(|s| !s.is_empty());
    if s.is_none() && errors.len() == before {
        errors.push(FieldError::new(field, "Field required"));
    }
    s
}

/// A boolean; `None` when absent or null (or invalid, with an error pushed).
pub fn opt_bool(field: &str, value: &Option<Value>, errors: &mut Vec<FieldError>) -> Option<bool> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.push(FieldError::new(field, "must be true or false"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_are_trimmed_bounded_and_typed() {
        let mut e = Vec::new();
        assert_eq!(
            opt_string("n", &Some(json!(" ab ")), 4, &mut e),
            Some("ab".into())
        );
        assert_eq!(opt_string("n", &None, 4, &mut e), None);
        assert_eq!(opt_string("n", &Some(Value::Null), 4, &mut e), None);
        assert!(e.is_empty());
        assert_eq!(opt_string("n", &Some(json!("abcde")), 4, &mut e), None);
        assert_eq!(opt_string("m", &Some(json!(3)), 4, &mut e), None);
        assert_eq!(
            e,
            [
                FieldError::new("n", "at most 4 characters"),
                FieldError::new("m", "must be a string")
            ]
        );
    }

    #[test]
    fn a_required_string_is_present_and_not_blank_with_one_error_each() {
        let mut e = Vec::new();
        assert_eq!(
            required_string("n", &Some(json!("x")), 4, &mut e),
            Some("x".into())
        );
        assert_eq!(required_string("a", &None, 4, &mut e), None);
        assert_eq!(required_string("b", &Some(json!("   ")), 4, &mut e), None);
        assert_eq!(required_string("c", &Some(json!("abcde")), 4, &mut e), None);
        assert_eq!(
            e,
            [
                FieldError::new("a", "Field required"),
                FieldError::new("b", "Field required"),
                FieldError::new("c", "at most 4 characters")
            ]
        );
    }

    #[test]
    fn booleans_are_typed() {
        let mut e = Vec::new();
        assert_eq!(opt_bool("b", &Some(json!(true)), &mut e), Some(true));
        assert_eq!(opt_bool("b", &None, &mut e), None);
        assert_eq!(opt_bool("b", &Some(json!("yes")), &mut e), None);
        assert_eq!(e, [FieldError::new("b", "must be true or false")]);
    }
}
