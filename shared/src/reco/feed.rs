//! The shoppable-video feed's scoring (spec 004), as pure functions: build an interest profile
//! from weighted signals, score a candidate with the spec's formula, rank.
//!
//! ```text
//! score = category (+2.0 on a preferred category)
//!       + tags (+1.5 per preferred tag)
//!       + engagement (0.01 x views + 1.0 x likes + 1.2 x shares)
//!       + trend (4.0 x trend_score)
//!       + random (0 <= r < 0.5, from the feed session's seed and the video id)
//! ```
//!
//! Tags are compared as given: callers store them normalised ([`normalize_tag`]).

use std::collections::{HashMap, HashSet};

pub const CATEGORY_MATCH: f64 = 2.0;
pub const TAG_MATCH: f64 = 1.5;
pub const VIEW_WEIGHT: f64 = 0.01;
pub const LIKE_WEIGHT: f64 = 1.0;
pub const SHARE_WEIGHT: f64 = 1.2;
pub const TREND_WEIGHT: f64 = 4.0;
/// The random term is in `[0, RANDOM_MAX)`.
pub const RANDOM_MAX: f64 = 0.5;

/// Weight of each kind of signal in the profile: an explicit save says the most, a product view
/// (implicit) the least.
pub const SAVE_SIGNAL: f64 = 3.0;
pub const LIKE_SIGNAL: f64 = 2.0;
pub const PRODUCT_VIEW_SIGNAL: f64 = 1.0;

/// How many categories and tags a profile keeps (the strongest ones).
pub const PROFILE_CATEGORIES: usize = 3;
pub const PROFILE_TAGS: usize = 10;

/// A tag as stored and compared: trimmed, lowercase.
pub fn normalize_tag(tag: &str) -> String {
    tag.trim().to_lowercase()
}

/// One thing the user did that says something about their interests.
#[derive(Debug, Clone, Copy)]
pub struct Signal<'a> {
    pub category_id: Option<&'a str>,
    pub tags: &'a [String],
    pub weight: f64,
}

/// Preferred categories and tags, strongest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InterestProfile {
    pub categories: Vec<String>,
    pub tags: Vec<String>,
}

impl InterestProfile {
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty() && self.tags.is_empty()
    }
}

/// Sums the signals' weights per category and per tag, and keeps the `max_categories` and
/// `max_tags` heaviest (ties by name, so the result does not depend on signal order).
pub fn build_profile<'a>(
    signals: impl IntoIterator<Item = Signal<'a>>,
    max_categories: usize,
    max_tags: usize,
) -> InterestProfile {
    let mut categories: HashMap<&str, f64> = HashMap::new();
    let mut tags: HashMap<&str, f64> = HashMap::new();
    for s in signals {
        if let Some(c) = s.category_id.filter(|c| !c.is_empty()) {
            *categories.entry(c).or_default() += s.weight;
        }
        for t in s.tags.iter().filter(|t| !t.is_empty()) {
            *tags.entry(t.as_str()).or_default() += s.weight;
        }
    }
    InterestProfile {
        categories: heaviest(categories, max_categories),
        tags: heaviest(tags, max_tags),
    }
}

fn heaviest(weights: HashMap<&str, f64>, n: usize) -> Vec<String> {
    let mut v: Vec<(&str, f64)> = weights.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter().take(n).map(|(k, _)| k.to_string()).collect()
}

/// The profile as sets, for scoring many candidates.
#[derive(Debug, Default)]
pub struct ProfileSets<'a> {
    categories: HashSet<&'a str>,
    tags: HashSet<&'a str>,
}

impl<'a> ProfileSets<'a> {
    pub fn new(profile: &'a InterestProfile) -> Self {
        Self {
            categories: profile.categories.iter().map(String::as_str).collect(),
            tags: profile.tags.iter().map(String::as_str).collect(),
        }
    }
}

/// What scoring needs to know about a video.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub category_id: &'a str,
    pub tags: &'a [String],
    pub views: u64,
    pub likes: u64,
    pub shares: u64,
    pub trend_score: f64,
}

/// The terms of one score, for explanations and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub category: f64,
    pub tags: f64,
    pub engagement: f64,
    pub trend: f64,
    pub random: f64,
}

impl Score {
    pub fn total(&self) -> f64 {
        self.category + self.tags + self.engagement + self.trend + self.random
    }
}

/// The spec's score of `c` for a user with `profile`; `random` is the session's random term for
/// this video ([`random_term`]).
pub fn score(c: &Candidate<'_>, profile: &ProfileSets<'_>, random: f64) -> Score {
    let category = if profile.categories.contains(c.category_id) {
        CATEGORY_MATCH
    } else {
        0.0
    };
    // Each distinct tag counts once, even if a video lists it twice (a video has a few tags:
    // looking back is cheaper than a set per candidate).
    let matching = c
        .tags
        .iter()
        .enumerate()
        .filter(|(i, t)| profile.tags.contains(t.as_str()) && !c.tags[..*i].contains(t))
        .count();
    Score {
        category,
        tags: TAG_MATCH * matching as f64,
        engagement: VIEW_WEIGHT * c.views as f64
            + LIKE_WEIGHT * c.likes as f64
            + SHARE_WEIGHT * c.shares as f64,
        trend: TREND_WEIGHT * c.trend_score,
        random,
    }
}

/// The random term of a video in a feed session: uniform in `[0, RANDOM_MAX)`, a pure function
/// of the session seed and the video id, so every page of a session (and every replay of a
/// `seed`) scores a video the same.
pub fn random_term(seed: u64, video_id: &str) -> f64 {
    let h = splitmix64(seed ^ fnv1a(video_id.as_bytes()));
    // The top 53 bits make an exact f64 in [0, 1).
    (h >> 11) as f64 / (1u64 << 53) as f64 * RANDOM_MAX
}

/// FNV-1a, 64 bit: a stable hash of the id (std's hashers are randomly keyed per process or
/// deprecated; this must give the same value on every Lambda instance).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64's finaliser: spreads similar inputs over the whole range.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stable 32-bit fingerprint of a video id (feed cursors remember served videos by it).
pub fn fingerprint(video_id: &str) -> u32 {
    let h = fnv1a(video_id.as_bytes());
    (h ^ (h >> 32)) as u32
}

/// One scored candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked<T> {
    pub item: T,
    pub score: f64,
    /// The user has watched it to completion before: it ranks after every unwatched video.
    pub watched: bool,
}

/// Sorts by unwatched first, then score descending; ties by `tie` (the id) so the order is total.
pub fn rank<T, K: Ord>(items: &mut [Ranked<T>], tie: impl Fn(&T) -> K) {
    items.sort_by(|a, b| {
        a.watched
            .cmp(&b.watched)
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| tie(&a.item).cmp(&tie(&b.item)))
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn profile_keeps_the_heaviest_categories_and_tags() {
        let (a, b, c) = (tags(&["tech", "audio"]), tags(&["tech"]), tags(&["garden"]));
        let signals = [
            Signal {
                category_id: Some("electronics"),
                tags: &a,
                weight: LIKE_SIGNAL,
            },
            Signal {
                category_id: Some("electronics"),
                tags: &b,
                weight: SAVE_SIGNAL,
            },
            Signal {
                category_id: Some("home"),
                tags: &c,
                weight: PRODUCT_VIEW_SIGNAL,
            },
            Signal {
                category_id: None,
                tags: &[],
                weight: 100.0,
            },
        ];
        let p = build_profile(signals, 1, 2);
        assert_eq!(p.categories, ["electronics"]);
        // tech 5, audio 2, garden 1
        assert_eq!(p.tags, ["tech", "audio"]);
        let all = build_profile(signals, 5, 5);
        assert_eq!(all.categories, ["electronics", "home"]);
        assert_eq!(all.tags, ["tech", "audio", "garden"]);
        assert!(build_profile([], 3, 3).is_empty());
    }

    #[test]
    fn score_follows_the_spec_formula() {
        let profile = InterestProfile {
            categories: vec!["electronics".into()],
            tags: tags(&["tech", "gadgets"]),
        };
        let sets = ProfileSets::new(&profile);
        let t = tags(&["tech", "gadgets", "tech", "other"]);
        let c = Candidate {
            id: "v1",
            category_id: "electronics",
            tags: &t,
            views: 1205,
            likes: 150,
            shares: 45,
            trend_score: 0.85,
        };
        let s = score(&c, &sets, 0.25);
        assert_eq!(s.category, 2.0);
        assert_eq!(s.tags, 3.0);
        assert!((s.engagement - (12.05 + 150.0 + 54.0)).abs() < 1e-9);
        assert!((s.trend - 3.4).abs() < 1e-9);
        assert!((s.total() - (2.0 + 3.0 + 216.05 + 3.4 + 0.25)).abs() < 1e-9);

        let other = Candidate {
            category_id: "home",
            tags: &[],
            ..c
        };
        let s = score(&other, &sets, 0.0);
        assert_eq!((s.category, s.tags), (0.0, 0.0));
        let anonymous = ProfileSets::default();
        assert_eq!(score(&c, &anonymous, 0.0).category, 0.0);
    }

    #[test]
    fn random_term_is_in_range_reproducible_and_varies() {
        let mut values = Vec::new();
        for i in 0..1000 {
            let id = format!("video-{i}");
            let r = random_term(42, &id);
            assert!((0.0..RANDOM_MAX).contains(&r));
            assert_eq!(r, random_term(42, &id));
            values.push(r);
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((mean - 0.25).abs() < 0.03, "mean {mean}");
        assert_ne!(random_term(1, "video-1"), random_term(2, "video-1"));
    }

    #[test]
    fn rank_puts_watched_videos_last_then_by_score() {
        let mut v = vec![
            Ranked {
                item: "a",
                score: 9.0,
                watched: true,
            },
            Ranked {
                item: "b",
                score: 1.0,
                watched: false,
            },
            Ranked {
                item: "c",
                score: 5.0,
                watched: false,
            },
            Ranked {
                item: "d",
                score: 5.0,
                watched: false,
            },
        ];
        rank(&mut v, |s| *s);
        let order: Vec<&str> = v.iter().map(|r| r.item).collect();
        assert_eq!(order, ["c", "d", "b", "a"]);
    }
}
