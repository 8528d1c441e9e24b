//! Typed segment criteria, one shape per `segment_type` (spec 002 "User Segmentation
//! Management"), parsed by hand from JSON so every error names its field (`criteria.<name>`),
//! and the membership test of one user's features against them ([`Criteria::matches`]).
//!
//! - `rfm`: `monetary_amount` (currency units), `frequency_orders`, `recency_days`, each a
//!   `{"min", "max"}` range (either may be null: open).
//! - `behavioral`: `event_types` (`product_view`, `add_to_cart`, `purchase`, `like`, `save`,
//!   `share`, `video_view`, `search_click`, `rec_click`; empty: any), `device_type` (`mobile`,
//!   `tablet`, `desktop`; absent: any), `min_events` (1-1,000,000, default 1), `days_back`
//!   (1-365, default 30).
//! - `demographic`: `age` range (years, from `date_of_birth`), `country`, `region`, `gender`
//!   (each a string or a list of strings; case-insensitive).
//! - `interest`: `interests`, `categories` (lists of strings, case-insensitive), `match` `any`
//!   (default) or `all`.
//! - `manual`: no criteria (`{}`): members are added and removed by hand.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::error::FieldError;

use super::features::UserFeatures;

/// The five segment types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentType {
    Rfm,
    Behavioral,
    Demographic,
    Interest,
    Manual,
}

impl SegmentType {
    pub const ALL: [SegmentType; 5] = [
        SegmentType::Rfm,
        SegmentType::Behavioral,
        SegmentType::Demographic,
        SegmentType::Interest,
        SegmentType::Manual,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SegmentType::Rfm => "rfm",
            SegmentType::Behavioral => "behavioral",
            SegmentType::Demographic => "demographic",
            SegmentType::Interest => "interest",
            SegmentType::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }

    pub fn valid_names() -> String {
        Self::ALL.map(|t| t.name()).join(", ")
    }
}

/// An inclusive range; a missing end is open.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Range {
    pub fn contains(&self, x: f64) -> bool {
        self.min.is_none_or(|m| x >= m) && self.max.is_none_or(|m| x <= m)
    }
}

/// The event kinds of behavioral criteria (spec names) and the interaction kind each counts.
pub const EVENT_TYPES: [(&str, &str); 9] = [
    ("product_view", "view"),
    ("add_to_cart", "cart"),
    ("purchase", "purchase"),
    ("like", "like"),
    ("save", "save"),
    ("share", "share"),
    ("video_view", "video_view"),
    ("search_click", "search_click"),
    ("rec_click", "rec_click"),
];

pub const DEVICE_TYPES: [&str; 3] = ["mobile", "tablet", "desktop"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RfmCriteria {
    /// Lifetime spend, currency units (non-cancelled orders).
    pub monetary_amount: Option<Range>,
    pub frequency_orders: Option<Range>,
    pub recency_days: Option<Range>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BehavioralCriteria {
    /// Interaction kinds counted (log names); empty: every kind.
    pub kinds: Vec<&'static str>,
    pub device_type: Option<&'static str>,
    pub min_events: u64,
    pub days_back: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemographicCriteria {
    pub age: Option<Range>,
    pub country: Vec<String>,
    pub region: Vec<String>,
    pub gender: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterestCriteria {
    pub interests: Vec<String>,
    pub categories: Vec<String>,
    /// True: every listed value is needed; false: any one.
    pub all: bool,
}

/// Parsed criteria of a segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Criteria {
    Rfm(RfmCriteria),
    Behavioral(BehavioralCriteria),
    Demographic(DemographicCriteria),
    Interest(InterestCriteria),
    Manual,
}

const MAX_LIST: usize = 50;

fn field(name: &str) -> String {
    format!("criteria.{name}")
}

fn range(name: &str, v: &Value, errors: &mut Vec<FieldError>) -> Option<Range> {
    let Value::Object(m) = v else {
        errors.push(FieldError::new(
            field(name),
            "must be an object {\"min\": number|null, \"max\": number|null}",
        ));
        return None;
    };
    let mut out = Range::default();
    for (k, x) in m {
        let slot = match k.as_str() {
            "min" => &mut out.min,
            "max" => &mut out.max,
            _ => {
                errors.push(FieldError::new(
                    field(&format!("{name}.{k}")),
                    "unknown field; valid: min, max",
                ));
                continue;
            }
        };
        match x {
            Value::Null => {}
            Value::Number(n) => match n.as_f64().filter(|f| f.is_finite() && *f >= 0.0) {
                Some(f) => *slot = Some(f),
                None => errors.push(FieldError::new(
                    field(&format!("{name}.{k}")),
                    "must be a number >= 0",
                )),
            },
            _ => errors.push(FieldError::new(
                field(&format!("{name}.{k}")),
                "must be a number or null",
            )),
        }
    }
    if let (Some(lo), Some(hi)) = (out.min, out.max)
        && lo > hi
    {
        errors.push(FieldError::new(field(name), "min must not exceed max"));
        return None;
    }
    Some(out)
}

fn strings(name: &str, v: &Value, errors: &mut Vec<FieldError>) -> Vec<String> {
    let list: Vec<&Value> = match v {
        Value::String(_) => vec![v],
        Value::Array(a) => a.iter().collect(),
        _ => {
            errors.push(FieldError::new(
                field(name),
                "must be a string or a list of strings",
            ));
            return Vec::new();
        }
    };
    if list.len() > MAX_LIST {
        errors.push(FieldError::new(
            field(name),
            format!("at most {MAX_LIST} values"),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    for x in list {
        match x.as_str().map(str::trim) {
            Some(s) if !s.is_empty() && s.chars().count() <= 100 => out.push(s.to_lowercase()),
            _ => {
                errors.push(FieldError::new(
                    field(name),
                    "values must be non-empty strings of at most 100 characters",
                ));
                return Vec::new();
            }
        }
    }
    out
}

fn integer(name: &str, v: &Value, lo: u64, hi: u64, errors: &mut Vec<FieldError>) -> Option<u64> {
    match v.as_u64().filter(|n| (lo..=hi).contains(n)) {
        Some(n) => Some(n),
        None => {
            errors.push(FieldError::new(
                field(name),
                format!("must be an integer from {lo} to {hi}"),
            ));
            None
        }
    }
}

fn unknown(name: &str, valid: &[&str], errors: &mut Vec<FieldError>) {
    errors.push(FieldError::new(
        field(name),
        format!("unknown field; valid: {}", valid.join(", ")),
    ));
}

impl Criteria {
    /// Parses and validates `criteria` for `t`; errors name `criteria.<field>`.
    pub fn parse(t: SegmentType, criteria: &Value) -> Result<Criteria, Vec<FieldError>> {
        let empty = Map::new();
        let m = match criteria {
            Value::Null => &empty,
            Value::Object(m) => m,
            _ => {
                return Err(vec![FieldError::new("criteria", "must be an object")]);
            }
        };
        let mut errors = Vec::new();
        let parsed = match t {
            SegmentType::Rfm => {
                const VALID: [&str; 3] = ["monetary_amount", "frequency_orders", "recency_days"];
                let mut c = RfmCriteria::default();
                for (k, v) in m {
                    let slot = match k.as_str() {
                        "monetary_amount" => &mut c.monetary_amount,
                        "frequency_orders" => &mut c.frequency_orders,
                        "recency_days" => &mut c.recency_days,
                        _ => {
                            unknown(k, &VALID, &mut errors);
                            continue;
                        }
                    };
                    if !v.is_null() {
                        *slot = range(k, v, &mut errors);
                    }
                }
                if m.values().all(Value::is_null) {
                    errors.push(FieldError::new(
                        "criteria",
                        format!("an rfm segment needs at least one of {}", VALID.join(", ")),
                    ));
                }
                Criteria::Rfm(c)
            }
            SegmentType::Behavioral => {
                const VALID: [&str; 4] = ["event_types", "device_type", "min_events", "days_back"];
                let mut c = BehavioralCriteria {
                    kinds: Vec::new(),
                    device_type: None,
                    min_events: 1,
                    days_back: 30,
                };
                for (k, v) in m {
                    match k.as_str() {
                        "event_types" => {
                            for s in strings(k, v, &mut errors) {
                                match EVENT_TYPES.iter().find(|(name, _)| *name == s) {
                                    Some((_, kind)) => {
                                        if !c.kinds.contains(kind) {
                                            c.kinds.push(kind)
                                        }
                                    }
                                    None => errors.push(FieldError::new(
                                        field(k),
                                        format!(
                                            "unknown event type {s:?}; valid: {}",
                                            EVENT_TYPES.map(|e| e.0).join(", ")
                                        ),
                                    )),
                                }
                            }
                        }
                        "device_type" => match v
                            .as_str()
                            .and_then(|s| DEVICE_TYPES.into_iter().find(|d| *d == s))
                        {
                            Some(d) => c.device_type = Some(d),
                            None if v.is_null() => {}
                            None => errors.push(FieldError::new(
                                field(k),
                                format!("must be one of {}", DEVICE_TYPES.join(", ")),
                            )),
                        },
                        "min_events" => {
                            if let Some(n) = integer(k, v, 1, 1_000_000, &mut errors) {
                                c.min_events = n;
                            }
                        }
                        "days_back" => {
                            if let Some(n) = integer(k, v, 1, 365, &mut errors) {
                                c.days_back = n as u32;
                            }
                        }
                        _ => unknown(k, &VALID, &mut errors),
                    }
                }
                Criteria::Behavioral(c)
            }
            SegmentType::Demographic => {
                const VALID: [&str; 4] = ["age", "country", "region", "gender"];
                let mut c = DemographicCriteria::default();
                for (k, v) in m {
                    match k.as_str() {
                        "age" if !v.is_null() => c.age = range(k, v, &mut errors),
                        "country" => c.country = strings(k, v, &mut errors),
                        "region" => c.region = strings(k, v, &mut errors),
                        "gender" => c.gender = strings(k, v, &mut errors),
                        "age" => {}
                        _ => unknown(k, &VALID, &mut errors),
                    }
                }
                if c.age.is_none()
                    && c.country.is_empty()
                    && c.region.is_empty()
                    && c.gender.is_empty()
                    && errors.is_empty()
                {
                    errors.push(FieldError::new(
                        "criteria",
                        "a demographic segment needs at least one of age, country, region, gender",
                    ));
                }
                Criteria::Demographic(c)
            }
            SegmentType::Interest => {
                const VALID: [&str; 3] = ["interests", "categories", "match"];
                let mut c = InterestCriteria::default();
                for (k, v) in m {
                    match k.as_str() {
                        "interests" => c.interests = strings(k, v, &mut errors),
                        "categories" => c.categories = strings(k, v, &mut errors),
                        "match" => match v.as_str() {
                            Some("any") => c.all = false,
                            Some("all") => c.all = true,
                            _ => errors.push(FieldError::new(field(k), "must be any or all")),
                        },
                        _ => unknown(k, &VALID, &mut errors),
                    }
                }
                if c.interests.is_empty() && c.categories.is_empty() && errors.is_empty() {
                    errors.push(FieldError::new(
                        "criteria",
                        "an interest segment needs interests or categories",
                    ));
                }
                Criteria::Interest(c)
            }
            SegmentType::Manual => {
                for k in m.keys() {
                    unknown(k, &[], &mut errors);
                }
                Criteria::Manual
            }
        };
        if errors.is_empty() {
            Ok(parsed)
        } else {
            Err(errors)
        }
    }

    /// True when the criteria are computed (every type but manual).
    pub fn computed(&self) -> bool {
        !matches!(self, Criteria::Manual)
    }

    /// Whether a user with `f` belongs, on `today` (UTC) at epoch second `now`.
    pub fn matches(&self, f: &UserFeatures, today: NaiveDate, now: i64) -> bool {
        match self {
            Criteria::Manual => false,
            Criteria::Rfm(c) => {
                if f.order_count <= 0 {
                    return false;
                }
                let monetary = f.monetary_cents as f64 / 100.0;
                let recency = f
                    .last_order_at
                    .map(|t| (now.saturating_sub(t)).max(0) as f64 / 86_400.0);
                c.monetary_amount.is_none_or(|r| r.contains(monetary))
                    && c.frequency_orders
                        .is_none_or(|r| r.contains(f.order_count as f64))
                    && c.recency_days
                        .is_none_or(|r| recency.is_some_and(|d| r.contains(d.floor())))
            }
            Criteria::Behavioral(c) => {
                let from = today - chrono::Days::new(u64::from(c.days_back.saturating_sub(1)));
                let total: i64 = f
                    .days
                    .iter()
                    .filter(|d| d.day >= from && d.day <= today)
                    .flat_map(|d| d.counts.iter())
                    .filter(|(kind, device, _)| {
                        (c.kinds.is_empty() || c.kinds.contains(&kind.as_str()))
                            && c.device_type.is_none_or(|want| want == device)
                    })
                    .map(|(_, _, n)| *n)
                    .sum();
                total >= 0 && total as u64 >= c.min_events
            }
            Criteria::Demographic(c) => {
                let p = &f.profile;
                let any = |want: &[String], have: &Option<String>| {
                    want.is_empty()
                        || have
                            .as_deref()
                            .is_some_and(|h| want.iter().any(|w| w.eq_ignore_ascii_case(h)))
                };
                c.age.is_none_or(|r| {
                    p.date_of_birth
                        .and_then(|dob| today.years_since(dob))
                        .is_some_and(|age| r.contains(f64::from(age)))
                }) && any(&c.country, &p.country)
                    && any(&c.region, &p.region)
                    && any(&c.gender, &p.gender)
            }
            Criteria::Interest(c) => {
                let p = &f.profile;
                let has =
                    |list: &[String], v: &String| list.iter().any(|x| x.eq_ignore_ascii_case(v));
                let mut wanted = c
                    .interests
                    .iter()
                    .map(|w| has(&p.interests, w))
                    .chain(c.categories.iter().map(|w| has(&p.categories, w)));
                if c.all {
                    wanted.all(|b| b)
                } else {
                    wanted.any(|b| b)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::super::features::{DayEvents, ProfileFacts};
    use super::*;

    fn fields(e: Vec<FieldError>) -> Vec<String> {
        e.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn the_spec_examples_parse() {
        let rfm = json!({"monetary_amount": {"min": 500, "max": null},
            "frequency_orders": {"min": 3, "max": null}, "recency_days": {"min": 0, "max": 90}});
        assert!(Criteria::parse(SegmentType::Rfm, &rfm).is_ok());
        let beh = json!({"event_types": ["product_view", "add_to_cart"], "device_type": "mobile",
            "min_events": 5, "days_back": 30});
        let Criteria::Behavioral(b) = Criteria::parse(SegmentType::Behavioral, &beh).unwrap()
        else {
            panic!()
        };
        assert_eq!(b.kinds, vec!["view", "cart"]);
        assert_eq!(
            (b.min_events, b.days_back, b.device_type),
            (5, 30, Some("mobile"))
        );
        assert!(Criteria::parse(SegmentType::Behavioral, &json!({"min_events": 10})).is_ok());
    }

    #[test]
    fn bad_criteria_name_their_field() {
        let e = Criteria::parse(SegmentType::Rfm, &json!({"monetary": {"min": 1}})).unwrap_err();
        assert!(fields(e).contains(&"criteria.monetary".to_string()));
        let e = Criteria::parse(
            SegmentType::Rfm,
            &json!({"recency_days": {"min": 9, "max": 3}}),
        )
        .unwrap_err();
        assert_eq!(fields(e), vec!["criteria.recency_days"]);
        let e =
            Criteria::parse(SegmentType::Behavioral, &json!({"device_type": "watch"})).unwrap_err();
        assert_eq!(fields(e), vec!["criteria.device_type"]);
        let e = Criteria::parse(SegmentType::Behavioral, &json!({"days_back": 0})).unwrap_err();
        assert_eq!(fields(e), vec!["criteria.days_back"]);
        let e = Criteria::parse(SegmentType::Manual, &json!({"x": 1})).unwrap_err();
        assert_eq!(fields(e), vec!["criteria.x"]);
        let e = Criteria::parse(
            SegmentType::Demographic,
            &json!({"age": {"min": 40, "max": 30}}),
        )
        .unwrap_err();
        assert_eq!(fields(e), vec!["criteria.age"]);
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn membership_by_type() {
        let today = day("2026-12-06");
        let now = today.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp();
        let mut f = UserFeatures {
            user_id: "u".into(),
            order_count: 3,
            monetary_cents: 60_000,
            last_order_at: Some(now - 10 * 86_400),
            ..Default::default()
        };
        let rfm = Criteria::parse(
            SegmentType::Rfm,
            &json!({"monetary_amount": {"min": 500}, "frequency_orders": {"min": 3},
                "recency_days": {"min": 0, "max": 90}}),
        )
        .unwrap();
        assert!(rfm.matches(&f, today, now));
        f.monetary_cents = 49_999;
        assert!(!rfm.matches(&f, today, now), "499.99 < 500");
        // Mobile users: 5 views/cart adds on mobile in 30 days; an older day does not count.
        f.days = vec![
            DayEvents {
                day: day("2026-12-01"),
                counts: vec![
                    ("view".into(), "mobile".into(), 3),
                    ("cart".into(), "desktop".into(), 9),
                ],
            },
            DayEvents {
                day: day("2026-11-07"),
                counts: vec![("cart".into(), "mobile".into(), 2)],
            },
            DayEvents {
                day: day("2026-11-06"),
                counts: vec![("cart".into(), "mobile".into(), 50)],
            },
        ];
        let mobile = Criteria::parse(
            SegmentType::Behavioral,
            &json!({"event_types": ["product_view", "add_to_cart"], "device_type": "mobile",
                "min_events": 5, "days_back": 30}),
        )
        .unwrap();
        assert!(mobile.matches(&f, today, now), "3 + 2 within 30 days");
        f.days.remove(1);
        assert!(!mobile.matches(&f, today, now), "the 50 are 31 days old");
        f.profile = ProfileFacts {
            date_of_birth: Some(day("1990-12-07")),
            country: Some("FR".into()),
            interests: vec!["running".into(), "tech".into()],
            ..Default::default()
        };
        let demo = Criteria::parse(
            SegmentType::Demographic,
            &json!({"age": {"min": 25, "max": 35}, "country": ["fr", "de"]}),
        )
        .unwrap();
        assert!(
            demo.matches(&f, today, now),
            "35 the day before the birthday"
        );
        let older =
            Criteria::parse(SegmentType::Demographic, &json!({"age": {"min": 36}})).unwrap();
        assert!(!older.matches(&f, today, now));
        let any = Criteria::parse(
            SegmentType::Interest,
            &json!({"interests": ["Tech", "golf"]}),
        )
        .unwrap();
        assert!(any.matches(&f, today, now));
        let all = Criteria::parse(
            SegmentType::Interest,
            &json!({"interests": ["tech", "golf"], "match": "all"}),
        )
        .unwrap();
        assert!(!all.matches(&f, today, now));
    }
}
