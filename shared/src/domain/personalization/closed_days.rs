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

/// A segment's closed days: the summed engagement per content, and the contents of positive
/// weighted engagement ranked (best first, ties by id), sorted once per memo entry.
#[derive(Debug, Default)]
pub struct SegmentDays {
    engagement: HashMap<String, Engagement>,
    ranked: Vec<(String, i64)>,
}

impl SegmentDays {
    fn new(engagement: HashMap<String, Engagement>) -> Self {
        let mut ranked: Vec<(String, i64)> = engagement
            .iter()
            .map(|(id, e)| (id.clone(), e.weighted()))
            .filter(|(_, w)| *w > 0)
            .collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Self { engagement, ranked }
    }
}

/// A segment's engagement over a window: its closed days (shared with the memo, never copied)
/// and its open days.
#[derive(Debug)]
pub struct SegmentWindow {
    closed: Arc<SegmentDays>,
    open: HashMap<String, Engagement>,
}

impl SegmentWindow {
    /// No engagement recorded for the segment in the window.
    pub fn is_empty(&self) -> bool {
        self.closed.engagement.is_empty() && self.open.is_empty()
    }

    /// A content's engagement over the window.
    pub fn get(&self, content: &str) -> Engagement {
        let mut e = self
            .closed
            .engagement
            .get(content)
            .copied()
            .unwrap_or_default();
        if let Some(o) = self.open.get(content) {
            e.add(*o);
        }
        e
    }

    /// The `k` contents of highest positive weighted engagement over the window among those
    /// `keep` accepts, best first (ties by id); `keep` is asked about `k` + (contents with
    /// open-day engagement) contents at most, not about every content of the segment.
    ///
    /// Exact: a content without open-day engagement has its closed figure. Every kept content
    /// without open-day engagement ranked above it among the closed days also ranks above it
    /// over the window, so if it is among the window's best `k`, it is among the first `k` kept
    /// contents of the closed ranking that have no open-day engagement. Those, and every
    /// content with open-day engagement (whose figure may have risen, or fallen with a
    /// withdrawal), are the pool that is ranked.
    pub fn top(&self, k: usize, keep: impl Fn(&str) -> bool) -> Vec<(String, i64)> {
        let mut pool: Vec<(String, i64)> = Vec::with_capacity(k + self.open.len());
        for (id, w) in &self.closed.ranked {
            if pool.len() == k {
                break;
            }
            if !self.open.contains_key(id) && keep(id) {
                pool.push((id.clone(), *w));
            }
        }
        for id in self.open.keys() {
            let w = self.get(id).weighted();
            if w > 0 && keep(id) {
                pool.push((id.clone(), w));
            }
        }
        pool.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        pool.truncate(k);
        pool
    }

    /// Every content's engagement over the window (tests).
    #[cfg(test)]
    fn to_map(&self) -> HashMap<String, Engagement> {
        let mut out = self.closed.engagement.clone();
        for (id, e) in &self.open {
            out.entry(id.clone()).or_default().add(*e);
        }
        out
    }
}

/// The memo (one per instance, next to the [`super::cache::MemoryCache`]).
pub struct ClosedDays {
    ttl: Duration,
    segments: Memo<(String, Span), SegmentDays>,
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

    /// [`rollups::segment_engagement`] over `days`: closed days from the memo (summed and
    /// ranked once per memo entry), open days from the store.
    pub async fn segment_engagement(
        &self,
        store: &dyn ItemStore,
        segment_id: &str,
        days: &[NaiveDate],
        today: NaiveDate,
    ) -> StoreResult<SegmentWindow> {
        let (span, open) = split(days, today);
        let closed = match span {
            None => Arc::new(SegmentDays::default()),
            Some(span) => {
                let key = (segment_id.to_string(), span);
                match self.segments.get(&key, self.ttl) {
                    Some(m) => m,
                    None => {
                        let m = Arc::new(SegmentDays::new(
                            rollups::segment_engagement(store, segment_id, &days_of(span)).await?,
                        ));
                        self.segments.put(key, m.clone());
                        m
                    }
                }
            }
        };
        let open = if open.is_empty() {
            HashMap::new()
        } else {
            rollups::segment_engagement(store, segment_id, &open).await?
        };
        Ok(SegmentWindow { closed, open })
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

    fn engagement(views: i64, purchases: i64) -> Engagement {
        Engagement {
            views,
            purchases,
            ..Engagement::default()
        }
    }

    #[test]
    fn a_windows_top_is_the_brute_force_ranking() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..200 {
            let id = |i: usize| format!("c{i:02}");
            let closed: HashMap<String, Engagement> = (0..rng.random_range(0..40))
                .map(|_| {
                    let i = rng.random_range(0..50);
                    (
                        id(i),
                        engagement(rng.random_range(0..6), rng.random_range(0..2)),
                    )
                })
                .collect();
            // Open days add, and sometimes withdraw (a negative purchase).
            let open: HashMap<String, Engagement> = (0..rng.random_range(0..8))
                .map(|_| {
                    let i = rng.random_range(0..50);
                    (
                        id(i),
                        engagement(rng.random_range(0..4), rng.random_range(-2..2)),
                    )
                })
                .collect();
            let w = SegmentWindow {
                closed: Arc::new(SegmentDays::new(closed)),
                open,
            };
            let k = rng.random_range(1..12);
            let keep = |c: &str| !c.ends_with('3');
            let mut expected: Vec<(String, i64)> = w
                .to_map()
                .into_iter()
                .map(|(c, e)| (c, e.weighted()))
                .filter(|(c, x)| *x > 0 && keep(c))
                .collect();
            expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            expected.truncate(k);
            assert_eq!(w.top(k, keep), expected, "round {round}");
        }
        // By hand: closed a 5, b 4, c 3; open withdraws a purchase of a (-5), adds d 1.
        let w = SegmentWindow {
            closed: Arc::new(SegmentDays::new(
                [("a", 5), ("b", 4), ("c", 3)]
                    .map(|(c, v)| (c.to_string(), engagement(v, 0)))
                    .into(),
            )),
            open: [("a", engagement(0, -1)), ("d", engagement(1, 0))]
                .map(|(c, e)| (c.to_string(), e))
                .into(),
        };
        assert_eq!(
            w.top(2, |_| true),
            [("b".to_string(), 4), ("c".to_string(), 3)]
        );
        assert_eq!(w.get("a").weighted(), 0);
        assert!(!w.is_empty());
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
                .expect("s")
                .to_map(),
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
            .expect("memo")
            .to_map();
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
            .expect("memo")
            .to_map();
        assert_eq!(
            second["p1"].add_to_carts, 6,
            "today's cart counts, the late one does not yet"
        );
    }
}
