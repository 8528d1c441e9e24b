//! A per-instance memo of the engagement rollups of closed days.
//!
//! The rollups of a day that has ended (UTC) no longer change on the request path: live
//! signals are recorded on the day they happen. Only a bulk import with past times
//! (`interactions::record_bulk`) still adds to them, and the memo's TTL ([`CLOSED_TTL`]) bounds
//! how long such an addition stays unseen on one instance. So a window of `days` is read as
//! the memo of its closed days plus today's partitions from the store: an uncached segment
//! recommendation reads one day of rollups instead of seven (its 155 ms of CPU on the demo
//! data set was the decoding of every content row of the segment's seven days).
//!
//! A memo entry is the summed figures of a run of closed days (`first..=last`), keyed with the
//! segment or content it is about; at most [`MAX_ENTRIES`] entries of each kind are held (all
//! are dropped when that is reached: entries are rebuilt from the store on the next read).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::rollups;
use crate::{reco::personalization::Engagement, store::ItemStore, store::StoreResult};

/// How long a closed-days entry is used.
pub const CLOSED_TTL: Duration = Duration::from_secs(600);
/// Entries of each kind held at most.
pub const MAX_ENTRIES: usize = 20_000;

type Span = (NaiveDate, NaiveDate);

/// A TTL map of shared values, emptied when full.
struct Memo<K, V> {
    entries: Mutex<HashMap<K, (Instant, Arc<V>)>>,
}

impl<K: std::hash::Hash + Eq, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq, V> Memo<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, Arc<V>)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<Arc<V>> {
        let entries = self.lock();
        let (at, v) = entries.get(key)?;
        (at.elapsed() < ttl).then(|| v.clone())
    }

    fn put(&self, key: K, value: Arc<V>) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }
}

/// The memo (one per instance, next to the [`super::cache::MemoryCache`]).
pub struct ClosedDays {
    ttl: Duration,
    segments: Memo<(String, Span), HashMap<String, Engagement>>,
    contents: Memo<(String, Span), HashMap<String, Engagement>>,
    totals: Memo<Span, HashMap<String, i64>>,
}

impl Default for ClosedDays {
    fn default() -> Self {
        Self::new(CLOSED_TTL)
    }
}

/// `days` (oldest first) split into the closed ones as a span, and the open ones (today or
/// later).
fn split(days: &[NaiveDate], today: NaiveDate) -> (Option<Span>, Vec<NaiveDate>) {
    let closed: Vec<NaiveDate> = days.iter().copied().filter(|d| *d < today).collect();
    let open = days.iter().copied().filter(|d| *d >= today).collect();
    let span = match (closed.first(), closed.last()) {
        // A span stands for every day in it: only a run of consecutive days is memoised.
        (Some(&a), Some(&b)) if (b - a).num_days() + 1 == closed.len() as i64 => Some((a, b)),
        _ => None,
    };
    match span {
        Some(s) => (Some(s), open),
        None => (None, days.to_vec()),
    }
}

fn days_of((first, last): Span) -> Vec<NaiveDate> {
    first.iter_days().take_while(|d| *d <= last).collect()
}

impl ClosedDays {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            segments: Memo::default(),
            contents: Memo::default(),
            totals: Memo::default(),
        }
    }

    /// [`rollups::segment_engagement`] over `days`, closed days from the memo.
    pub async fn segment_engagement(
        &self,
        store: &dyn ItemStore,
        segment_id: &str,
        days: &[NaiveDate],
        today: NaiveDate,
    ) -> StoreResult<HashMap<String, Engagement>> {
        let (span, open) = split(days, today);
        let mut out = match span {
            None => HashMap::new(),
            Some(span) => {
                let key = (segment_id.to_string(), span);
                let closed = match self.segments.get(&key, self.ttl) {
                    Some(m) => m,
                    None => {
                        let m = Arc::new(
                            rollups::segment_engagement(store, segment_id, &days_of(span)).await?,
                        );
                        self.segments.put(key, m.clone());
                        m
                    }
                };
                (*closed).clone()
            }
        };
        if !open.is_empty() {
            for (content, e) in rollups::segment_engagement(store, segment_id, &open).await? {
                out.entry(content).or_default().add(e);
            }
        }
        Ok(out)
    }

    /// [`rollups::content_engagement`] of `contents` over `days`, closed days from the memo
    /// (one batch read of the closed days of the contents not memoised).
    pub async fn content_engagement(
        &self,
        store: &dyn ItemStore,
        contents: &[String],
        days: &[NaiveDate],
        today: NaiveDate,
    ) -> StoreResult<HashMap<String, HashMap<String, Engagement>>> {
        let (span, open) = split(days, today);
        let mut out: HashMap<String, HashMap<String, Engagement>> = HashMap::new();
        if let Some(span) = span {
            let mut missing = Vec::new();
            for c in contents {
                match self.contents.get(&(c.clone(), span), self.ttl) {
                    Some(m) => {
                        if !m.is_empty() {
                            out.insert(c.clone(), (*m).clone());
                        }
                    }
                    None => missing.push(c.clone()),
                }
            }
            if !missing.is_empty() {
                let mut read = rollups::content_engagement(store, &missing, &days_of(span)).await?;
                for c in missing {
                    // A content without engagement is memoised too (as empty).
                    let m = read.remove(&c).unwrap_or_default();
                    self.contents.put((c.clone(), span), Arc::new(m.clone()));
                    if !m.is_empty() {
                        out.insert(c, m);
                    }
                }
            }
        }
        if !open.is_empty() {
            for (content, per) in rollups::content_engagement(store, contents, &open).await? {
                let into = out.entry(content).or_default();
                for (segment, e) in per {
                    into.entry(segment).or_default().add(e);
                }
            }
        }
        Ok(out)
    }

    /// [`rollups::totals`] over `days`, closed days from the memo.
    pub async fn totals(
        &self,
        store: &dyn ItemStore,
        days: &[NaiveDate],
        today: NaiveDate,
    ) -> StoreResult<HashMap<String, i64>> {
        let (span, open) = split(days, today);
        let mut out = match span {
            None => HashMap::new(),
            Some(span) => {
                let closed = match self.totals.get(&span, self.ttl) {
                    Some(m) => m,
                    None => {
                        let m = Arc::new(rollups::totals(store, &days_of(span)).await?);
                        self.totals.put(span, m.clone());
                        m
                    }
                };
                (*closed).clone()
            }
        };
        if !open.is_empty() {
            for (segment, n) in rollups::totals(store, &open).await? {
                *out.entry(segment).or_default() += n;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration as Days, Utc};

    use super::*;
    use crate::domain::interactions::{Actor, InteractionKind, Signal};
    use crate::domain::personalization::rollups::ALL;
    use crate::store::local::LocalStore;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_window_splits_into_a_run_of_closed_days_and_today() {
        let days = [d("2026-12-04"), d("2026-12-05"), d("2026-12-06")];
        assert_eq!(
            split(&days, d("2026-12-06")),
            (
                Some((d("2026-12-04"), d("2026-12-05"))),
                vec![d("2026-12-06")]
            )
        );
        assert_eq!(
            split(&days[2..], d("2026-12-06")),
            (None, vec![d("2026-12-06")])
        );
        // Not a run of consecutive days: nothing memoised.
        let gap = [d("2026-12-01"), d("2026-12-05")];
        assert_eq!(split(&gap, d("2026-12-06")), (None, gap.to_vec()));
        assert_eq!(
            days_of((d("2026-11-30"), d("2026-12-02"))),
            [d("2026-11-30"), d("2026-12-01"), d("2026-12-02")]
        );
    }

    /// Views of `product` by guests, `at` a time.
    fn views(product: &str, n: usize, at: chrono::DateTime<Utc>) -> Vec<Signal> {
        (0..n)
            .map(|i| {
                Signal::new(
                    Actor::Guest(format!("g{i}")),
                    product,
                    InteractionKind::View,
                )
                .at(at)
            })
            .collect()
    }

    #[tokio::test]
    async fn closed_days_come_from_the_memo_and_today_from_the_store() {
        let store = LocalStore::in_memory().expect("store");
        let now = Utc::now();
        let today = now.date_naive();
        let days = rollups::period(today, 3);
        rollups::record(&store, &views("p1", 2, now - Days::days(1)))
            .await
            .expect("r");
        rollups::record(&store, &views("p1", 1, now))
            .await
            .expect("r");
        let memo = ClosedDays::default();
        let direct = rollups::content_engagement(&store, &["p1".into()], &days)
            .await
            .expect("direct");
        let first = memo
            .content_engagement(&store, &["p1".into(), "p2".into()], &days, today)
            .await
            .expect("memo");
        assert_eq!(first, direct);
        assert_eq!(first["p1"][ALL].views, 3);
        assert_eq!(memo.totals(&store, &days, today).await.expect("t")[ALL], 3);
        assert_eq!(
            memo.segment_engagement(&store, ALL, &days, today)
                .await
                .expect("s"),
            HashMap::new(),
            "guests count in no segment partition"
        );
        // Today's views are seen at once; a late write to yesterday only once the memo expires.
        rollups::record(&store, &views("p1", 4, now))
            .await
            .expect("r");
        rollups::record(&store, &views("p1", 10, now - Days::days(1)))
            .await
            .expect("r");
        rollups::record(&store, &views("p2", 5, now - Days::days(2)))
            .await
            .expect("r");
        let second = memo
            .content_engagement(&store, &["p1".into(), "p2".into()], &days, today)
            .await
            .expect("memo");
        assert_eq!(second["p1"][ALL].views, 7);
        assert!(
            !second.contains_key("p2"),
            "p2's closed days are memoised as empty"
        );
        assert_eq!(memo.totals(&store, &days, today).await.expect("t")[ALL], 7);
        let expired = ClosedDays::new(std::time::Duration::ZERO);
        let third = expired
            .content_engagement(&store, &["p1".into(), "p2".into()], &days, today)
            .await
            .expect("memo");
        assert_eq!((third["p1"][ALL].views, third["p2"][ALL].views), (17, 5));
        assert_eq!(
            expired.totals(&store, &days, today).await.expect("t")[ALL],
            22
        );
    }

    #[tokio::test]
    async fn a_segments_closed_days_are_memoised_with_its_today_added() {
        let store = LocalStore::in_memory().expect("store");
        let now = Utc::now();
        let today = now.date_naive();
        let days = rollups::period(today, 7);
        let users = |n: usize, at| -> Vec<Signal> {
            (0..n)
                .map(|i| {
                    Signal::new(Actor::User(format!("u{i}")), "p1", InteractionKind::Cart).at(at)
                })
                .collect()
        };
        // Users unknown to the store have no spec 000 segments: their signals are written under
        // one segment with the rollups' own writes.
        let st = &store;
        let seg = |n: usize, at| {
            let signals = users(n, at);
            async move {
                for s in &signals {
                    for (key, update) in rollups::writes(s, 2, &["power_user".to_string()]) {
                        st.update(&key, update, None).await.expect("w");
                    }
                }
            }
        };
        seg(3, now - Days::days(6)).await;
        seg(2, now).await;
        let memo = ClosedDays::default();
        let first = memo
            .segment_engagement(&store, "power_user", &days, today)
            .await
            .expect("memo");
        assert_eq!(
            first,
            rollups::segment_engagement(&store, "power_user", &days)
                .await
                .expect("direct")
        );
        assert_eq!(first["p1"].add_to_carts, 5);
        seg(1, now).await;
        seg(4, now - Days::days(3)).await;
        let second = memo
            .segment_engagement(&store, "power_user", &days, today)
            .await
            .expect("memo");
        assert_eq!(
            second["p1"].add_to_carts, 6,
            "today's cart counts, the late one does not yet"
        );
    }
}
