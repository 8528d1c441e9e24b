//! Behaviour data imports: CSV (with a header row) or JSON lines, validated as a whole.
//!
//! Columns / fields: `user_id` (positive integer, required, unique in the file), `anciennete`
//! (years, 0-60, required), `degre` (1 or 2, required), `academie` (required), `niveaux_enseignes`
//! (optional; in CSV, values separated by `|`), and the activity counts of
//! [`FEATURES`](shared::domain::teachers::FEATURES) (optional, default 0, non-negative
//! integers). Rows are numbered from 1 (the first data row; a CSV header is not counted). Any
//! invalid row rejects the whole file, listing up to [`MAX_REPORTED`] problems with their row
//! numbers, and nothing is written.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};
use shared::{
    domain::teachers::{Activity, FEATURES, Teacher},
    error::FieldError,
};

/// Largest number of rows in one import (a request body is at most 1 MB anyway).
pub const MAX_ROWS: usize = 20_000;
/// Problems listed in a rejection.
pub const MAX_REPORTED: usize = 50;

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

/// The rows, or every problem found (field `rows[<n>].<column>`).
pub fn parse(body: &str, format: Format) -> Result<Vec<Teacher>, Vec<FieldError>> {
    let records = match format {
        Format::Csv => csv_records(body)?,
        Format::JsonLines => json_records(body)?,
    };
    if records.is_empty() {
        return Err(vec![FieldError::new("body", "no rows to import")]);
    }
    if records.len() > MAX_ROWS {
        return Err(vec![FieldError::new(
            "body",
            format!("at most {MAX_ROWS} rows per import"),
        )]);
    }
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let row = i + 1;
        match teacher(rec, row) {
            Ok(t) => {
                if !seen.insert(t.user_id) {
                    errors.push(FieldError::new(
                        format!("rows[{row}].user_id"),
                        format!("duplicate user_id {} in this import", t.user_id),
                    ));
                }
                out.push(t);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.truncate(MAX_REPORTED);
        Err(errors)
    }
}

fn csv_records(body: &str) -> Result<Vec<Map<String, Value>>, Vec<FieldError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| vec![FieldError::new("header", format!("unreadable header: {e}"))])?
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| {
            vec![FieldError::new(
                format!("rows[{}]", i + 1),
                format!("unreadable CSV row: {e}"),
            )]
        })?;
        let mut map = Map::new();
        for (h, v) in headers.iter().zip(rec.iter()) {
            if v.is_empty() {
                continue;
            }
            let value = if h == "niveaux_enseignes" {
                Value::Array(
                    v.split('|')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                )
            } else if h == "academie" {
                Value::String(v.to_string())
            } else {
                // Numbers stay strings here and are checked below, so "-3" and "x" get
                // row-numbered messages rather than a parse failure.
                Value::String(v.to_string())
            };
            map.insert(h.clone(), value);
        }
        out.push(map);
    }
    Ok(out)
}

fn json_records(body: &str) -> Result<Vec<Map<String, Value>>, Vec<FieldError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in body.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => out.push(m),
            Ok(_) => errors.push(FieldError::new(
                format!("rows[{}]", i + 1),
                "each line must be a JSON object",
            )),
            Err(e) => errors.push(FieldError::new(
                format!("rows[{}]", i + 1),
                format!("malformed JSON: {e}"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.truncate(MAX_REPORTED);
        Err(errors)
    }
}

/// An integer from a JSON number or a numeric string.
fn integer(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
}

fn teacher(rec: &Map<String, Value>, row: usize) -> Result<Teacher, Vec<FieldError>> {
    let mut errors = Vec::new();
    let field = |name: &str| format!("rows[{row}].{name}");
    let mut int_in = |name: &str, lo: i128, hi: i128, required: bool| -> Option<i128> {
        match rec.get(name) {
            None | Some(Value::Null) => {
                if required {
                    errors.push(FieldError::new(field(name), "is required"));
                }
                None
            }
            Some(v) => match integer(v) {
                Some(n) if (lo..=hi).contains(&n) => Some(n),
                Some(n) if n < 0 && lo >= 0 => {
                    errors.push(FieldError::new(field(name), "must not be negative"));
                    None
                }
                _ => {
                    errors.push(FieldError::new(
                        field(name),
                        format!("must be an integer from {lo} to {hi}"),
                    ));
                    None
                }
            },
        }
    };
    let user_id = int_in("user_id", 1, i128::from(i64::MAX), true);
    let anciennete = int_in("anciennete", 0, 60, true);
    let degre = int_in("degre", 1, 2, true);
    let mut counts = [0u64; 8];
    for (c, name) in counts.iter_mut().zip(FEATURES) {
        if let Some(n) = int_in(name, 0, 1_000_000_000, false) {
            *c = u64::try_from(n).unwrap_or(0);
        }
    }
    let academie = match rec.get("academie") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 100 => {
            Some(s.trim().to_string())
        }
        None | Some(Value::Null) => {
            errors.push(FieldError::new(field("academie"), "is required"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                field("academie"),
                "must be a non-empty string of at most 100 characters",
            ));
            None
        }
    };
    let niveaux = match rec.get("niveaux_enseignes") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let levels: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(|s| s.trim().to_string()))
                .collect();
            if levels.is_none() {
                errors.push(FieldError::new(
                    field("niveaux_enseignes"),
                    "must be a list of strings",
                ));
            }
            levels
        }
        Some(_) => {
            errors.push(FieldError::new(
                field("niveaux_enseignes"),
                "must be a list of strings",
            ));
            None
        }
    };
    match (user_id, anciennete, degre, academie, niveaux) {
        (Some(id), Some(anc), Some(deg), Some(academie), Some(niveaux)) if errors.is_empty() => {
            Ok(Teacher {
                user_id: u64::try_from(id).unwrap_or(0),
                anciennete: u32::try_from(anc).unwrap_or(0),
                degre: u8::try_from(deg).unwrap_or(0),
                academie,
                niveaux_enseignes: niveaux,
                activity: Activity::from_values(counts),
            })
        }
        _ => Err(errors),
    }
}

/// The counts of `activity` by name.
pub fn activity_map(activity: &Activity) -> BTreeMap<String, u64> {
    FEATURES
        .iter()
        .zip(activity.values())
        .map(|(f, v)| (f.to_string(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_with_levels_and_defaults() {
        let body = "user_id,anciennete,degre,academie,niveaux_enseignes,nb_sessions\n\
                    12345,15,2,Paris,college|lycee,7\n\
                    7,0,1,Lyon,,\n";
        let rows = parse(body, Format::Csv).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].niveaux_enseignes, vec!["college", "lycee"]);
        assert_eq!(rows[0].activity.nb_sessions, 7);
        assert_eq!(rows[1].activity, Activity::default());
    }

    #[test]
    fn every_bad_row_is_reported_with_its_number() {
        let body = "user_id,anciennete,degre,academie,nb_sessions\n\
                    1,3,2,Paris,4\n\
                    ,3,2,Paris,4\n\
                    3,3,2,Paris,-2\n\
                    4,3,5,Paris,1\n\
                    1,3,2,Paris,1\n";
        let errors = parse(body, Format::Csv).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "rows[2].user_id",
                "rows[3].nb_sessions",
                "rows[4].degre",
                "rows[5].user_id"
            ]
        );
        assert_eq!(errors[1].message, "must not be negative");
    }

    #[test]
    fn json_lines() {
        let body = "{\"user_id\": 1, \"anciennete\": 4, \"degre\": 1, \"academie\": \"Lille\", \"niveaux_enseignes\": [\"primaire\"], \"nb_emails_ouverts\": 12}\n\
                    \n\
                    {\"user_id\": 2, \"anciennete\": 4, \"degre\": 2, \"academie\": \"Nantes\"}\n";
        let rows = parse(body, Format::JsonLines).unwrap();
        assert_eq!(rows[0].activity.nb_emails_ouverts, 12);
        let bad = parse("{\"user_id\": 1}\n[1]\n", Format::JsonLines).unwrap_err();
        assert_eq!(bad[0].field, "rows[2]");
        let bad = parse(
            "{\"user_id\": -4, \"anciennete\": 1, \"degre\": 1, \"academie\": \"X\"}",
            Format::JsonLines,
        )
        .unwrap_err();
        assert_eq!(bad[0].field, "rows[1].user_id");
        assert!(parse("", Format::JsonLines).is_err());
    }
}
