//! Reading an import file row by row (CSV with a header row, or JSON lines), and the field
//! readers every kind uses, each giving a row-numbered [`FieldError`] (`rows[<n>].<column>`, rows
//! numbered from 1, a CSV header not counted) rather than failing the file at the first problem.
//!
//! Rows are read from a reader one at a time, so a file of any size goes through in constant
//! memory (the CLI streams it; the HTTP route reads from its body).

use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use crate::{error::FieldError, money::Cents};

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row (empty cells are absent values).
    Csv,
    /// One JSON object per line (`application/x-ndjson`); blank lines are skipped.
    JsonLines,
}

impl Format {
    /// The format of a `Content-Type` media type (without parameters), if one of ours.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            "text/csv" => Some(Format::Csv),
            "application/x-ndjson"
            | "application/jsonl"
            | "application/json-lines"
            | "application/x-jsonlines" => Some(Format::JsonLines),
            _ => None,
        }
    }

    /// The format of a file name's extension (`.csv`; `.ndjson`, `.jsonl`, `.json`).
    pub fn from_file_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" | "json" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

/// One row: its number and its fields by column name.
pub type Row = (usize, Map<String, Value>);

/// The rows of a file, in order; an unreadable row is an error naming it.
pub struct Rows {
    inner: Inner,
    row: usize,
}

enum Inner {
    Csv {
        headers: Vec<String>,
        records: csv::StringRecordsIntoIter<Box<dyn Read + Send>>,
    },
    Json(std::io::Lines<BufReader<Box<dyn Read + Send>>>),
    /// A CSV file whose header could not be read: one error, then nothing.
    Failed(Option<FieldError>),
}

impl Rows {
    pub fn new(reader: Box<dyn Read + Send>, format: Format) -> Self {
        let inner = match format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .trim(csv::Trim::All)
                    .flexible(false)
                    .from_reader(reader);
                match reader.headers() {
                    Ok(h) => Inner::Csv {
                        headers: h.iter().map(str::to_string).collect(),
                        records: reader.into_records(),
                    },
                    Err(e) => Inner::Failed(Some(FieldError::new(
                        "header",
                        format!("unreadable CSV header: {e}"),
                    ))),
                }
            }
            Format::JsonLines => Inner::Json(BufReader::new(reader).lines()),
        };
        Rows { inner, row: 0 }
    }
}

impl Iterator for Rows {
    type Item = Result<Row, FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Failed(e) => e.take().map(Err),
            Inner::Csv { headers, records } => {
                let rec = records.next()?;
                self.row += 1;
                let row = self.row;
                Some(match rec {
                    Ok(rec) => {
                        let map = headers
                            .iter()
                            .zip(rec.iter())
                            .filter(|(_, v)| !v.is_empty())
                            .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
                            .collect();
                        Ok((row, map))
                    }
                    Err(e) => Err(FieldError::new(
                        format!("rows[{row}]"),
                        format!("unreadable CSV row: {e}"),
                    )),
                })
            }
            Inner::Json(lines) => loop {
                let line = lines.next()?;
                let line = match line {
                    Ok(l) => l,
                    Err(e) => {
                        self.row += 1;
                        return Some(Err(FieldError::new(
                            format!("rows[{}]", self.row),
                            format!("unreadable line: {e}"),
                        )));
                    }
                };
                // A byte-order mark (spreadsheet exports) is not part of the first object.
                let line = if self.row == 0 {
                    line.trim_start_matches('\u{feff}').to_string()
                } else {
                    line
                };
                if line.trim().is_empty() {
                    continue;
                }
                self.row += 1;
                let row = self.row;
                return Some(match serde_json::from_str::<Value>(&line) {
                    Ok(Value::Object(m)) => Ok((row, m)),
                    Ok(_) => Err(FieldError::new(
                        format!("rows[{row}]"),
                        "each line must be a JSON object",
                    )),
                    Err(e) => Err(FieldError::new(
                        format!("rows[{row}]"),
                        format!("malformed JSON: {e}"),
                    )),
                });
            },
        }
    }
}

/// Field readers for one row, collecting every problem.
pub struct Fields<'a> {
    pub row: usize,
    rec: &'a Map<String, Value>,
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(row: usize, rec: &'a Map<String, Value>) -> Self {
        Fields {
            row,
            rec,
            errors: Vec::new(),
        }
    }

    /// Records a problem with `column`.
    pub fn error(&mut self, column: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(
            format!("rows[{}].{column}", self.row),
            message,
        ));
    }

    fn get(&self, column: &str) -> Option<&'a Value> {
        self.rec.get(column).filter(|v| !v.is_null())
    }

    /// True when `column` has a value.
    pub fn has(&self, column: &str) -> bool {
        self.get(column).is_some()
    }

    /// Optional text, trimmed, at most `max` characters (empty text is absent).
    pub fn opt_text(&mut self, column: &str, max: usize) -> Option<String> {
        let v = self.get(column)?;
        let s = match v {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                self.error(column, "must be text");
                return None;
            }
        };
        if s.is_empty() {
            None
        } else if s.chars().count() > max {
            self.error(column, format!("must be at most {max} characters"));
            None
        } else {
            Some(s)
        }
    }

    /// Required text, trimmed, 1 to `max` characters.
    pub fn text(&mut self, column: &str, max: usize) -> Option<String> {
        let had = self.errors.len();
        let v = self.opt_text(column, max);
        if v.is_none() && self.errors.len() == had {
            self.error(column, "is required");
        }
        v
    }

    /// An id from the source system: 1-64 letters, digits, `-`, `_`, `.`, `:` or `@` (it goes into
    /// store keys, where `#` separates parts).
    pub fn opt_id(&mut self, column: &str) -> Option<String> {
        let s = self.opt_text(column, 64)?;
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
        {
            Some(s)
        } else {
            self.error(
                column,
                "must be 1-64 letters, digits, '-', '_', '.', ':' or '@'",
            );
            None
        }
    }

    /// A required [`opt_id`](Self::opt_id).
    pub fn id(&mut self, column: &str) -> Option<String> {
        let had = self.errors.len();
        let v = self.opt_id(column);
        if v.is_none() && self.errors.len() == had {
            self.error(column, "is required");
        }
        v
    }

    /// An optional integer from `lo` to `hi`.
    pub fn opt_int(&mut self, column: &str, lo: i64, hi: i64) -> Option<i64> {
        let v = self.get(column)?;
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (lo..=hi).contains(&n) => Some(n),
            Some(n) if n < lo => {
                self.error(column, format!("must be >= {lo}"));
                None
            }
            Some(_) => {
                self.error(column, format!("must be <= {hi}"));
                None
            }
            None => {
                self.error(column, "must be an integer");
                None
            }
        }
    }

    /// An optional boolean (`true`/`false`, `1`/`0`, `yes`/`no`).
    pub fn opt_bool(&mut self, column: &str) -> Option<bool> {
        let v = self.get(column)?;
        let b = match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => n.as_i64().and_then(|n| match n {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            }),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if b.is_none() {
            self.error(column, "must be true or false");
        }
        b
    }

    /// An optional amount of money in the catalog's format (`19.99`: at most two decimals,
    /// not negative).
    pub fn opt_money(&mut self, column: &str) -> Option<Cents> {
        let v = self.get(column)?;
        let parsed = match v {
            Value::Number(n) => n.as_f64().map(Cents::from_decimal),
            Value::String(s) => Some(Cents::parse(s.trim())),
            _ => None,
        };
        match parsed {
            Some(Ok(c)) => Some(c),
            Some(Err(crate::money::MoneyError::Negative)) => {
                self.error(column, "must be >= 0");
                None
            }
            _ => {
                self.error(
                    column,
                    "must be an amount like 19.99 (at most two decimals)",
                );
                None
            }
        }
    }

    /// An optional time: ISO 8601 / RFC 3339 (`2024-03-01T10:00:00Z`), a date (`2024-03-01`,
    /// midnight UTC), or epoch seconds. Not after now (plus a minute of clock skew), not before 1970.
    pub fn opt_time(&mut self, column: &str) -> Option<DateTime<Utc>> {
        let v = self.get(column)?;
        let parsed = match v {
            Value::Number(n) => n.as_i64().and_then(|s| Utc.timestamp_opt(s, 0).single()),
            Value::String(s) => parse_time(s.trim()),
            _ => None,
        };
        match parsed {
            Some(t) if t.timestamp() >= 0 && t <= Utc::now() + chrono::Duration::minutes(1) => {
                Some(t)
            }
            Some(_) => {
                self.error(column, "must be between 1970 and now");
                None
            }
            None => {
                self.error(
                    column,
                    "must be an ISO 8601 time (2024-03-01T10:00:00Z), a date or epoch seconds",
                );
                None
            }
        }
    }

    /// The problems found, or `value` when there were none.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.errors),
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|n| Utc.timestamp_opt(n, 0).single());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The time as stored (`2024-03-01T10:00:00.000Z`).
pub fn stored_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rows(text: &str, format: Format) -> Vec<Result<Row, FieldError>> {
        Rows::new(Box::new(std::io::Cursor::new(text.to_string())), format).collect()
    }

    #[test]
    fn csv_rows_are_numbered_from_one_and_empty_cells_are_absent() {
        let got = rows("a,b\n1,\n, 2 \n", Format::Csv);
        let (n, m) = got[0].as_ref().unwrap();
        assert_eq!((*n, m.len(), m["a"].as_str()), (1, 1, Some("1")));
        let (n, m) = got[1].as_ref().unwrap();
        assert_eq!((*n, m["b"].as_str()), (2, Some("2")));
        let bad = rows("a,b\n1,2,3\n", Format::Csv);
        assert_eq!(bad[0].as_ref().unwrap_err().field, "rows[1]");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column_or_object() {
        let got = rows("\u{feff}id,b\n1,2\n", Format::Csv);
        assert_eq!(got[0].as_ref().unwrap().1["id"].as_str(), Some("1"));
        let got = rows("\u{feff}{\"id\":1}\n", Format::JsonLines);
        assert_eq!(got[0].as_ref().unwrap().1["id"], 1);
    }

    #[test]
    fn json_lines_skip_blank_lines_and_name_bad_ones() {
        let got = rows("{\"a\":1}\n\n[1]\nnope\n", Format::JsonLines);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().0, 1);
        assert_eq!(got[1].as_ref().unwrap_err().field, "rows[2]");
        assert!(
            got[2]
                .as_ref()
                .unwrap_err()
                .message
                .starts_with("malformed JSON")
        );
    }

    #[test]
    fn field_readers_number_their_errors() {
        let rec: Map<String, Value> = serde_json::from_str(
            r#"{"price":"-1","n":"x","t":"2024-03-01","e":"1700000000","id":"a#b","ok":"yes"}"#,
        )
        .unwrap();
        let mut f = Fields::new(3, &rec);
        assert_eq!(f.opt_money("price"), None);
        assert_eq!(f.opt_int("n", 0, 5), None);
        assert_eq!(
            f.opt_time("t").unwrap().to_rfc3339(),
            "2024-03-01T00:00:00+00:00"
        );
        assert_eq!(f.opt_time("e").unwrap().timestamp(), 1_700_000_000);
        assert_eq!(f.opt_id("id"), None);
        assert_eq!(f.opt_bool("ok"), Some(true));
        assert_eq!(f.text("missing", 10), None);
        let msgs: Vec<String> = f
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        assert_eq!(msgs[0], "rows[3].price: must be >= 0");
        assert_eq!(msgs[1], "rows[3].n: must be an integer");
        assert!(msgs[2].starts_with("rows[3].id: must be 1-64"));
        assert_eq!(msgs[3], "rows[3].missing: is required");
    }

    #[test]
    fn formats_from_media_types_and_file_names() {
        assert_eq!(Format::from_media_type("text/csv"), Some(Format::Csv));
        assert_eq!(
            Format::from_media_type("application/x-ndjson"),
            Some(Format::JsonLines)
        );
        assert_eq!(Format::from_media_type("application/json"), None);
        assert_eq!(Format::from_file_name("a/b.CSV"), Some(Format::Csv));
        assert_eq!(Format::from_file_name("x.jsonl"), Some(Format::JsonLines));
        assert_eq!(Format::from_file_name("noext"), None);
    }
}
