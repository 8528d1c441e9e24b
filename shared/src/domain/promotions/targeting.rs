//! Which live banners a user sees (pure, no I/O).
//!
//! A banner is live when it is published and now is within its schedule (`start_date` and
//! `end_date` inclusive; a missing end is open). It matches a user when every criterion of its
//! targeting holds; a criterion left out (or an empty list) does not restrict:
//! `cluster_ids` contains the user's RFM cluster; `segment_ids` shares a segment with theirs;
//! `region` equals their country code or region (case-insensitive); lifetime spend is at least
//! `min_spend`; their latest order is at most `max_recency_days` days old.
//! Matching banners come by priority (10 first), then the most recently published.

use std::sync::Arc;

use super::audience::UserFacts;
use super::records::Banner;
use crate::money::Cents;

/// A published banner, with its schedule and thresholds parsed once (the cache holds these).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveBanner {
    pub banner: Arc<Banner>,
    /// Epoch seconds.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub min_spend_cents: Option<i64>,
    pub priority: u8,
}

fn epoch(s: &Option<String>) -> Option<i64> {
    s.as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
}

impl LiveBanner {
    /// `None` for a banner that is not published.
    pub fn of(banner: Banner) -> Option<Self> {
        if !banner.is_published {
            return None;
        }
        let min_spend_cents = banner
            .target_audience
            .as_ref()
            .and_then(|t| t.min_spend)
            .map(|v| Cents::at_least(v).0);
        Some(Self {
            start: epoch(&banner.start_date),
            end: epoch(&banner.end_date),
            min_spend_cents,
            priority: banner.priority.unwrap_or(5),
            banner: Arc::new(banner),
        })
    }

    /// Within its schedule at `now` (epoch seconds).
    pub fn is_live(&self, now: i64) -> bool {
        self.start.is_none_or(|s| s <= now) && self.end.is_none_or(|e| now <= e)
    }

    /// Whether its targeting matches `user` at `now`.
    pub fn matches(&self, user: &UserFacts, now: i64) -> bool {
        let Some(t) = &self.banner.target_audience else {
            return true;
        };
        if !t.cluster_ids.is_empty() && !user.cluster.is_some_and(|c| t.cluster_ids.contains(&c)) {
            return false;
        }
        if !t.segment_ids.is_empty() && !t.segment_ids.iter().any(|s| user.segment_ids.contains(s))
        {
            return false;
        }
        if let Some(region) = t.region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            let same =
                |v: &Option<String>| v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(region));
            if !same(&user.country) && !same(&user.region) {
                return false;
            }
        }
        if self
            .min_spend_cents
            .is_some_and(|m| user.monetary_cents < m)
        {
            return false;
        }
        if let Some(days) = t.max_recency_days {
            let recent = user
                .last_order_at
                .is_some_and(|at| now.saturating_sub(at) <= i64::from(days) * 86_400);
            if !recent {
                return false;
            }
        }
        true
    }
}

/// Sorts banners in serving order: priority (10 first), then the latest `published_at`, then id.
pub fn sort(banners: &mut [LiveBanner]) {
    banners.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| b.banner.published_at.cmp(&a.banner.published_at))
            .then_with(|| a.banner.id.cmp(&b.banner.id))
    });
}

/// The first `limit` banners of `sorted` (in serving order) that are live and match `user`.
pub fn select<'a>(
    sorted: &'a [LiveBanner],
    user: &UserFacts,
    now: i64,
    limit: usize,
) -> Vec<&'a LiveBanner> {
    sorted
        .iter()
        .filter(|b| b.is_live(now) && b.matches(user, now))
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::promotions::records::Targeting;

    fn banner(id: &str, priority: u8, published_at: &str, t: Targeting) -> LiveBanner {
        let b = Banner {
            id: id.into(),
            prompt: "p".into(),
            image_prompt: "p".into(),
            product_id: None,
            product_category: None,
            user_id: None,
            promotion_id: None,
            aspect_ratio: "16:9".into(),
            width: 768,
            height: 432,
            saved_path: format!("banners/{id}.png"),
            size: 1,
            model_backend: "local".into(),
            model_id: "local-banner-v1".into(),
            created_at: "2025-01-01T00:00:00Z".into(),
            created_by: "admin".into(),
            is_published: true,
            target_audience: Some(t),
            start_date: Some("2025-01-10T00:00:00Z".into()),
            end_date: Some("2025-01-20T23:59:59Z".into()),
            priority: Some(priority),
            published_at: Some(published_at.into()),
            published_by: Some("admin".into()),
            version: 1,
        };
        LiveBanner::of(b).unwrap_or_else(|| panic!("published"))
    }

    const NOW: i64 = 1_736_899_200; // 2025-01-15T00:00:00Z

    fn champion() -> UserFacts {
        UserFacts {
            user_id: "u1".into(),
            cluster: Some(0),
            segment_ids: vec!["vip".into()],
            country: Some("US".into()),
            region: Some("NY".into()),
            monetary_cents: 80_000,
            last_order_at: Some(NOW - 10 * 86_400),
            ..Default::default()
        }
    }

    #[test]
    fn the_schedule_is_inclusive_and_unpublished_banners_are_not_live() {
        let b = banner("a", 5, "t", Targeting::default());
        assert_eq!(b.start, Some(1_736_467_200));
        assert!(b.is_live(1_736_467_200));
        assert!(!b.is_live(1_736_467_199));
        assert!(b.is_live(1_737_417_599)); // 2025-01-20T23:59:59Z
        assert!(!b.is_live(1_737_417_600));
        let mut hidden = (*b.banner).clone();
        hidden.is_published = false;
        assert!(LiveBanner::of(hidden).is_none());
    }

    #[test]
    fn every_criterion_restricts_and_a_missing_one_does_not() {
        let user = champion();
        let all = |t: Targeting| banner("x", 5, "t", t).matches(&user, NOW);
        assert!(all(Targeting::default()));
        assert!(all(Targeting {
            cluster_ids: vec![0, 1],
            ..Default::default()
        }));
        assert!(!all(Targeting {
            cluster_ids: vec![3],
            ..Default::default()
        }));
        assert!(all(Targeting {
            segment_ids: vec!["other".into(), "vip".into()],
            ..Default::default()
        }));
        assert!(!all(Targeting {
            segment_ids: vec!["other".into()],
            ..Default::default()
        }));
        assert!(all(Targeting {
            region: Some("us".into()),
            ..Default::default()
        }));
        assert!(all(Targeting {
            region: Some("ny".into()),
            ..Default::default()
        }));
        assert!(!all(Targeting {
            region: Some("FR".into()),
            ..Default::default()
        }));
        assert!(all(Targeting {
            min_spend: Some(800.0),
            ..Default::default()
        }));
        assert!(!all(Targeting {
            min_spend: Some(800.01),
            ..Default::default()
        }));
        assert!(all(Targeting {
            max_recency_days: Some(10),
            ..Default::default()
        }));
        assert!(!all(Targeting {
            max_recency_days: Some(9),
            ..Default::default()
        }));
        // A user with no cluster and no orders matches only criteria that leave them out.
        let newcomer = UserFacts {
            user_id: "u2".into(),
            ..Default::default()
        };
        let b = banner(
            "y",
            5,
            "t",
            Targeting {
                cluster_ids: vec![0],
                ..Default::default()
            },
        );
        assert!(!b.matches(&newcomer, NOW));
        let b = banner(
            "z",
            5,
            "t",
            Targeting {
                max_recency_days: Some(365),
                ..Default::default()
            },
        );
        assert!(!b.matches(&newcomer, NOW));
        assert!(banner("w", 5, "t", Targeting::default()).matches(&newcomer, NOW));
    }

    #[test]
    fn banners_come_by_priority_then_recency() {
        let mut all = vec![
            banner("old-high", 8, "2025-01-11T00:00:00Z", Targeting::default()),
            banner("low", 2, "2025-01-14T00:00:00Z", Targeting::default()),
            banner("new-high", 8, "2025-01-12T00:00:00Z", Targeting::default()),
            banner(
                "top",
                10,
                "2025-01-01T00:00:00Z",
                Targeting {
                    cluster_ids: vec![4],
                    ..Default::default()
                },
            ),
        ];
        sort(&mut all);
        let ids: Vec<&str> = all.iter().map(|b| b.banner.id.as_str()).collect();
        assert_eq!(ids, ["top", "new-high", "old-high", "low"]);
        let picked: Vec<&str> = select(&all, &champion(), NOW, 2)
            .iter()
            .map(|b| b.banner.id.as_str())
            .collect();
        assert_eq!(picked, ["new-high", "old-high"]);
    }
}
