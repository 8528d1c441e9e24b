//! The pure rules of the spec 000 personalization engine: the spec's user segments, how well a
//! content performs in a segment against everyone, and the 40/30/20/10 blend.
//!
//! **Segments** (spec 000 ids):
//! - age group from the date of birth, in whole years on the given day: `under_18`, `18_24`,
//!   `25_34`, `35_44`, `45_plus` (none without a date of birth);
//! - activity level from the number of interactions `n` of the user's interaction-log pairs
//!   active in the last [`ACTIVITY_WINDOW_DAYS`] days (the per-kind counts of views, cart adds,
//!   purchases, likes, saves, shares, video views and clicks, withdrawn ones subtracted):
//!   `new_user` n < 5, `casual_user` 5 <= n < 25, `active_user` 25 <= n < 100, `power_user`
//!   n >= 100 ([`ACTIVITY_THRESHOLDS`]);
//! - `multi_interest`: at least [`MULTI_INTEREST_MIN`] distinct interests and preferred
//!   categories in the user's preferences (case-insensitive).
//!
//! **Segment affinity** ("content that performs best in the segment against the overall rate").
//! Engagement is weighted: view 1, click 2, add-to-cart 3, purchase 5 ([`engagement`]). For a
//! content `c`, a segment's engagement `E_s(c)` out of the segment's total `T_s`, and everyone's
//! `E(c)` out of `T`, the expected engagement of `c` in the segment if the segment behaved like
//! everyone is `T_s * E(c) / T`; the lift, smoothed towards 1 by [`AFFINITY_PRIOR`] pseudo-events
//! so that a content seen twice does not top the list, is
//! `lift = (E_s(c) + a) / (T_s * E(c) / T + a)`, and `score = lift / (1 + lift)`: 0.5 is "as
//! everyone", above is "more in this segment". Ranked by score, then by `E_s(c)`, then by id.
//! A relative-lift rule rather than a model: it is what the spec's "performs best in segment"
//! asks, reads only the counters kept on write, and is checked by hand below.
//!
//! **Blend** (spec 000, "Content Recommendations"): each source's scores are divided by its best
//! score (so each lies in `[0, 1]`), then `score = sum_s w_s * s_norm`, with the default weights
//! segment-based 0.4, history-based 0.3, collaborative 0.2, trending 0.1 ([`BlendWeights`]).
//! Every item keeps each source's weighted contribution, so the response says why it is there.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

/// The age-group segment ids.
pub const AGE_GROUPS: [&str; 5] = ["under_18", "18_24", "25_34", "35_44", "45_plus"];
/// The activity-level segment ids, lowest first.
pub const ACTIVITY_LEVELS: [&str; 4] = ["new_user", "casual_user", "active_user", "power_user"];
/// Lowest interaction count of `casual_user`, `active_user`, `power_user`.
pub const ACTIVITY_THRESHOLDS: [i64; 3] = [5, 25, 100];
/// Interactions older than this (by the pair's latest interaction) do not count for activity.
pub const ACTIVITY_WINDOW_DAYS: i64 = 90;
pub const MULTI_INTEREST: &str = "multi_interest";
/// Distinct interests and categories that make `multi_interest`.
pub const MULTI_INTEREST_MIN: usize = 3;
/// Pseudo-events pulling a segment's lift towards 1.
pub const AFFINITY_PRIOR: f64 = 5.0;

/// Every spec 000 segment id (the ones computed here).
pub fn spec_segment_ids() -> impl Iterator<Item = &'static str> {
    AGE_GROUPS
        .into_iter()
        .chain(ACTIVITY_LEVELS)
        .chain([MULTI_INTEREST])
}

/// Age in whole years on `today` (`None` when born after `today`).
pub fn age_on(born: NaiveDate, today: NaiveDate) -> Option<u32> {
    let mut age = today.year() - born.year();
    if (today.month(), today.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    u32::try_from(age).ok()
}

/// The age-group segment of a `YYYY-MM-DD` date of birth (`None`: unknown or unreadable).
pub fn age_group(date_of_birth: Option<&str>, today: NaiveDate) -> Option<&'static str> {
    let born = NaiveDate::parse_from_str(date_of_birth?.trim(), "%Y-%m-%d").ok()?;
    let age = age_on(born, today)?;
    Some(match age {
        0..=17 => "under_18",
        18..=24 => "18_24",
        25..=34 => "25_34",
        35..=44 => "35_44",
        _ => "45_plus",
    })
}

/// The activity-level segment of `n` interactions.
pub fn activity_level(n: i64) -> &'static str {
    let level = ACTIVITY_THRESHOLDS.iter().filter(|&&t| n >= t).count();
    ACTIVITY_LEVELS
        .get(level)
        .copied()
        .unwrap_or(ACTIVITY_LEVELS[0])
}

/// Whether interests and categories (together, case-insensitive, blanks ignored) make
/// `multi_interest`.
pub fn multi_interest<'a>(topics: impl IntoIterator<Item = &'a str>) -> bool {
    let mut seen: Vec<String> = topics
        .into_iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    seen.sort();
    seen.dedup();
    seen.len() >= MULTI_INTEREST_MIN
}

/// Engagement counters of one content (in a segment, or for everyone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Engagement {
    pub views: i64,
    pub clicks: i64,
    pub add_to_carts: i64,
    pub purchases: i64,
}

impl Engagement {
    pub fn add(&mut self, o: Engagement) {
        self.views += o.views;
        self.clicks += o.clicks;
        self.add_to_carts += o.add_to_carts;
        self.purchases += o.purchases;
    }

    /// The weighted engagement: views 1, clicks 2, add-to-carts 3, purchases 5 (never negative).
    pub fn weighted(&self) -> i64 {
        engagement(*self)
    }

    /// `x / views` rounded to 4 places (0 without views).
    pub fn rate(&self, x: i64) -> f64 {
        if self.views <= 0 {
            return 0.0;
        }
        ((x as f64 / self.views as f64) * 10_000.0).round() / 10_000.0
    }
}

/// [`Engagement::weighted`].
pub fn engagement(e: Engagement) -> i64 {
    (e.views + 2 * e.clicks + 3 * e.add_to_carts + 5 * e.purchases).max(0)
}

/// One content's affinity with a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Affinity {
    pub content_id: String,
    /// `lift / (1 + lift)`, in `(0, 1)`.
    pub score: f64,
    pub lift: f64,
    /// The content's weighted engagement in the segment.
    pub segment_engagement: i64,
}

/// The contents of a segment by affinity (see the module docs): `segment` maps the candidate
/// content ids to their weighted engagement in the segment, `segment_total` is the segment's
/// total over every content (`T_s`), `overall` maps ids to everyone's engagement and
/// `overall_total` is everyone's total (`T`). Contents without positive engagement in the
/// segment are left out.
pub fn segment_affinity(
    segment: &HashMap<String, i64>,
    segment_total: i64,
    overall: &HashMap<String, i64>,
    overall_total: i64,
) -> Vec<Affinity> {
    // At least the contents given (the segment's total may lag a content's own figure).
    let segment_total = segment_total.max(segment.values().filter(|&&e| e > 0).sum());
    let mut out: Vec<Affinity> = segment
        .iter()
        .filter(|&(_, &e)| e > 0)
        .map(|(id, &e)| {
            let everyone = overall.get(id).copied().unwrap_or(0).max(e) as f64;
            let total = (overall_total as f64).max(segment_total as f64).max(1.0);
            let expected = segment_total as f64 * everyone / total;
            let lift = (e as f64 + AFFINITY_PRIOR) / (expected + AFFINITY_PRIOR);
            Affinity {
                content_id: id.clone(),
                score: lift / (1.0 + lift),
                lift,
                segment_engagement: e,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.segment_engagement.cmp(&a.segment_engagement))
            .then(a.content_id.cmp(&b.content_id))
    });
    out
}

/// The four sources of the blend, in the spec's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Segment,
    History,
    Collaborative,
    Trending,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Segment,
        Source::History,
        Source::Collaborative,
        Source::Trending,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::Segment => "segment",
            Source::History => "history",
            Source::Collaborative => "collaborative",
            Source::Trending => "trending",
        }
    }

    fn index(self) -> usize {
        match self {
            Source::Segment => 0,
            Source::History => 1,
            Source::Collaborative => 2,
            Source::Trending => 3,
        }
    }
}

/// The blend's weights (spec 000: 0.4 / 0.3 / 0.2 / 0.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlendWeights(pub [f32; 4]);

impl Default for BlendWeights {
    fn default() -> Self {
        Self([0.4, 0.3, 0.2, 0.1])
    }
}

impl BlendWeights {
    pub fn of(&self, s: Source) -> f32 {
        self.0.get(s.index()).copied().unwrap_or(0.0)
    }

    /// Parses `segment=0.4,history=0.3,collaborative=0.2,trending=0.1` (any subset; the others
    /// keep their defaults). Every value must be a finite number >= 0, and the sum positive.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut w = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not name=weight"))?;
            let source = Source::ALL
                .into_iter()
                .find(|s| s.name() == name.trim())
                .ok_or_else(|| {
                    format!("unknown source `{name}` (segment, history, collaborative, trending)")
                })?;
            let v: f32 = value
                .trim()
                .parse()
                .map_err(|_| format!("`{value}` is not a number"))?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("weight of {name} must be a number >= 0"));
            }
            if let Some(slot) = w.0.get_mut(source.index()) {
                *slot = v;
            }
        }
        if w.0.iter().sum::<f32>() <= 0.0 {
            return Err("the weights sum to 0".into());
        }
        Ok(w)
    }
}

/// One blended item.
#[derive(Debug, Clone, PartialEq)]
pub struct Blended {
    pub id: String,
    pub score: f32,
    /// Each source's weighted contribution, in [`Source::ALL`] order (they sum to `score`).
    pub contributions: [f32; 4],
}

/// The blend of the module docs. `sources` are `(source, [(id, raw score)])`; non-finite and
/// non-positive scores are ignored. Sorted by score, then id.
pub fn blend(weights: BlendWeights, sources: &[(Source, Vec<(String, f32)>)]) -> Vec<Blended> {
    let mut by_id: HashMap<&str, [f32; 4]> = HashMap::new();
    for (source, items) in sources {
        let max = items
            .iter()
            .map(|x| x.1)
            .filter(|s| s.is_finite() && *s > 0.0)
            .fold(0.0f32, f32::max);
        if max <= 0.0 {
            continue;
        }
        let w = weights.of(*source);
        for (id, s) in items {
            if !(s.is_finite() && *s > 0.0) {
                continue;
            }
            let c = by_id.entry(id.as_str()).or_insert([0.0; 4]);
            if let Some(slot) = c.get_mut(source.index()) {
                // A source listing an id twice: its best score counts.
                *slot = slot.max(w * s / max);
            }
        }
    }
    let mut out: Vec<Blended> = by_id
        .into_iter()
        .map(|(id, contributions)| Blended {
            id: id.to_string(),
            score: contributions.iter().sum(),
            contributions,
        })
        .filter(|b| b.score > 0.0)
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn age_groups_at_their_edges() {
        let today = day("2026-12-06");
        let g = |dob: &str| age_group(Some(dob), today);
        assert_eq!(g("2008-12-07"), Some("under_18")); // 17, birthday tomorrow
        assert_eq!(g("2008-12-06"), Some("18_24")); // 18 today
        assert_eq!(g("2001-12-07"), Some("18_24")); // 24
        assert_eq!(g("2001-12-06"), Some("25_34"));
        assert_eq!(g("1991-12-06"), Some("35_44"));
        assert_eq!(g("1982-01-01"), Some("35_44")); // 44
        assert_eq!(g("1981-12-06"), Some("45_plus"));
        assert_eq!(g("2027-01-01"), None); // not born yet
        assert_eq!(g("not a date"), None);
        assert_eq!(age_group(None, today), None);
    }

    #[test]
    fn activity_levels_at_their_thresholds() {
        let l: Vec<&str> = [0, 4, 5, 24, 25, 99, 100, 5000, -3]
            .into_iter()
            .map(activity_level)
            .collect();
        assert_eq!(
            l,
            [
                "new_user",
                "new_user",
                "casual_user",
                "casual_user",
                "active_user",
                "active_user",
                "power_user",
                "power_user",
                "new_user"
            ]
        );
    }

    #[test]
    fn multi_interest_counts_distinct_topics() {
        assert!(!multi_interest(["Tech", "tech ", "", "Books"]));
        assert!(multi_interest(["Tech", "books", "Garden"]));
    }

    #[test]
    fn affinity_by_hand() {
        // Everyone: a 100, b 100, c 10 (total 1000). The segment: a 40, b 10, c 0 (total 50).
        // a: expected 50 * 100 / 1000 = 5, lift (40 + 5) / (5 + 5) = 4.5, score 4.5 / 5.5.
        // b: expected 5, lift (10 + 5) / 10 = 1.5, score 0.6. c: no engagement, left out.
        let seg: HashMap<String, i64> = [("a", 40), ("b", 10), ("c", 0)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        let all: HashMap<String, i64> = [("a", 100), ("b", 100), ("c", 10)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        let out = segment_affinity(&seg, 50, &all, 1000);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].content_id, "a");
        assert!((out[0].lift - 4.5).abs() < 1e-9);
        assert!((out[0].score - 4.5 / 5.5).abs() < 1e-9);
        assert_eq!(out[1].content_id, "b");
        assert!((out[1].score - 0.6).abs() < 1e-9);
        // A content as common in the segment as everywhere scores 0.5.
        let same = segment_affinity(
            &[("x".to_string(), 10)].into(),
            10,
            &[("x".to_string(), 100)].into(),
            100,
        );
        assert!((same[0].score - 0.5).abs() < 1e-9);
        // The segment's total is its whole engagement, not only the contents given: with a
        // segment total of 500 (a's 40 among it), a is expected 500 * 100 / 1000 = 50, so its
        // lift is (40 + 5) / (50 + 5) = 9/11 and it scores below an even 0.5.
        let whole = segment_affinity(&seg, 500, &all, 1000);
        assert!((whole[0].lift - 45.0 / 55.0).abs() < 1e-9);
        assert!(whole[0].score < 0.5);
    }

    #[test]
    fn engagement_weights_and_rates() {
        let e = Engagement {
            views: 10,
            clicks: 2,
            add_to_carts: 1,
            purchases: 1,
        };
        assert_eq!(e.weighted(), 10 + 4 + 3 + 5);
        assert_eq!(e.rate(e.clicks), 0.2);
        assert_eq!(Engagement::default().rate(3), 0.0);
    }

    #[test]
    fn blend_by_hand() {
        // segment: a 0.8, b 0.4 -> a 1.0, b 0.5 (x0.4: a 0.4, b 0.2)
        // history: b 2, c 1 -> b 1.0, c 0.5 (x0.3: b 0.3, c 0.15)
        // collaborative: a 5 -> a 1.0 (x0.2: a 0.2)
        // trending: c 3, d 1 -> c 1.0, d 1/3 (x0.1: c 0.1, d 0.0333)
        let s = |v: &[(&str, f32)]| -> Vec<(String, f32)> {
            v.iter().map(|(k, x)| (k.to_string(), *x)).collect()
        };
        let out = blend(
            BlendWeights::default(),
            &[
                (Source::Segment, s(&[("a", 0.8), ("b", 0.4)])),
                (Source::History, s(&[("b", 2.0), ("c", 1.0), ("e", -1.0)])),
                (Source::Collaborative, s(&[("a", 5.0)])),
                (Source::Trending, s(&[("c", 3.0), ("d", 1.0)])),
            ],
        );
        let ids: Vec<&str> = out.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        let close = |x: f32, y: f32| (x - y).abs() < 1e-6;
        assert!(close(out[0].score, 0.6));
        for (got, want) in out[0].contributions.iter().zip([0.4, 0.0, 0.2, 0.0]) {
            assert!(close(*got, want), "{:?}", out[0].contributions);
        }
        assert!(close(out[1].score, 0.5));
        assert!(close(out[1].contributions[0], 0.2) && close(out[1].contributions[1], 0.3));
        assert!(close(out[2].score, 0.25));
        assert!(close(out[3].score, 0.1 / 3.0));
    }

    #[test]
    fn weights_parse() {
        assert_eq!(BlendWeights::parse("").unwrap(), BlendWeights::default());
        let w = BlendWeights::parse("segment=1, trending=0").unwrap();
        assert_eq!(w.0, [1.0, 0.3, 0.2, 0.0]);
        assert!(BlendWeights::parse("segmnt=1").is_err());
        assert!(BlendWeights::parse("history=-1").is_err());
        assert!(BlendWeights::parse("segment=0,history=0,collaborative=0,trending=0").is_err());
    }
}
